"""Windowed datasets over a contract data folder (DESIGN.md §3, docs/dev/INTERFACES.md).

* :class:`DataFolder` validates the grid, channels and day counts of every yearly file once,
  holds the land mask, and reads any run of days (also across a year boundary) lazily from files
  that are opened once per process: the open handles live in a dict keyed by the process id, so a
  DataLoader worker (fork or spawn) opens its own handles on first use and pickling the dataset
  never pickles a handle.
* :class:`VelocityWindowDataset` (stage 1) and :class:`SSTAWindowDataset` (stage 2 and baselines)
  cut windows of days out of the years of one split. A window belongs to a split when every day
  it touches lies in that split's years; windows may cross from one year into the next when both
  are in the split.

Samples are dicts of float32 tensors in physical units (K, m s-1) with land set to 0.0 and the
ocean mask given explicitly (``mask``, (H, W) bool, True over the ocean); ``time0`` is the date of
the initial state (the last observed day) as int64 days since 1970-01-01, and lead k is the day
``time0 + k``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from oceane2e.data.config import DataConfig
from oceane2e.data.contract import (
    ATMOS_CHANNELS,
    CONTENTS_FILE,
    GEO_CHANNELS,
    KIND_CHANNELS,
    DataContractError,
    GridCoords,
    YearFile,
    days_in_year,
    declared_absent,
    find_years,
    read_mask,
    year_path,
)
from oceane2e.data.forecast_files import ForecastFile
from oceane2e.data.info import DataInfo, NormStats, stage2_channels

SPLITS = ("train", "val", "test")
VELOCITY_CHANNELS: tuple[str, ...] = GEO_CHANNELS


def split_years(data_cfg: DataConfig, split: str) -> list[int]:
    """The sorted years of ``split`` (``"train"``, ``"val"`` or ``"test"``)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return sorted(getattr(data_cfg, f"{split}_years"))


def year_runs(years: Sequence[int]) -> list[tuple[int, int]]:
    """Runs of consecutive years as (first, last) pairs: [2001, 2002, 2005] -> [(2001, 2002), (2005, 2005)]."""
    runs: list[tuple[int, int]] = []
    for y in sorted(set(int(y) for y in years)):
        if runs and y == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], y)
        else:
            runs.append((y, y))
    return runs


def window_starts(years: Sequence[int], n_before: int, n_after: int, stride: int = 1) -> np.ndarray:
    """All ``time0`` (datetime64[D]) whose window ``time0 - n_before .. time0 + n_after`` lies in ``years``.

    Windows step by ``stride`` days from the first valid ``time0`` of each run of consecutive years.
    """
    if n_before < 0 or n_after < 0 or stride < 1:
        raise ValueError(f"need n_before >= 0, n_after >= 0, stride >= 1 (got {n_before}, {n_after}, {stride})")
    starts = []
    for first, last in year_runs(years):
        d0 = np.datetime64(f"{first:04d}-01-01", "D") + n_before
        d1 = np.datetime64(f"{last:04d}-12-31", "D") - n_after
        if d1 >= d0:
            starts.append(np.arange(d0, d1 + 1, stride))
    return np.concatenate(starts) if starts else np.array([], dtype="datetime64[D]")


class DataFolder:
    """The yearly files of some years in a data folder, validated once and read lazily.

    Args:
        root: the data folder (``geo_YYYY.nc``, ``mhw_YYYY.nc``, ``mask.npy``).
        years: years to use; every one must have a file of each of ``kinds``.
        lat_bounds, lon_bounds: region edges (degrees) for files without coordinates
            (reference-release layout); when given, files with coordinates must match them.
        kinds: which file kinds to open (``"geo"``, ``"mhw"``).
        channels: kind -> channels that must be present (default: all of the kind).

    Attributes:
        coords: the grid shared by every file; mask: (H, W) bool, True over the ocean.
    """

    def __init__(
        self,
        root: str | Path,
        years: Sequence[int],
        *,
        lat_bounds: Sequence[float] | None = None,
        lon_bounds: Sequence[float] | None = None,
        kinds: Sequence[str] = ("geo", "mhw"),
        channels: dict[str, Sequence[str]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.years = sorted(int(y) for y in years)
        self.kinds = tuple(kinds)
        if not self.years:
            raise DataContractError(f"{self.root}: no years given")
        if not self.root.is_dir():
            raise DataContractError(f"{self.root}: data folder not found; generate it (`oceane2e synth`) or fix data.root")
        self.mask = read_mask(self.root)
        bounds_grid = None
        if lat_bounds is not None and lon_bounds is not None:
            bounds_grid = GridCoords.from_bounds(lat_bounds, lon_bounds, self.mask.shape)
        self._open: dict[int, dict[tuple[str, int], YearFile]] = {}
        self._bounds_grid = bounds_grid
        required = {k: tuple((channels or {}).get(k, KIND_CHANNELS[k])) for k in self.kinds}
        grid = bounds_grid
        for kind in self.kinds:
            for year in self.years:
                yf = self._open_file(kind, year, grid)
                if grid is None:
                    grid = yf.coords
                if yf.n_days != days_in_year(year):
                    raise DataContractError(
                        f"{yf.path}: {yf.n_days} days, but {year} has {days_in_year(year)}; "
                        f"write one step per calendar day (run `oceane2e check {self.root}`)"
                    )
                for name in required[kind]:
                    yf.index(name)
        assert grid is not None
        self.coords: GridCoords = grid
        if self.mask.shape != self.coords.shape:
            raise DataContractError(
                f"{self.root / 'mask.npy'}: mask shape {self.mask.shape} != data grid {self.coords.shape}; "
                f"write the mask on the data grid"
            )

    @classmethod
    def from_config(
        cls,
        data_cfg: DataConfig,
        years: Sequence[int] | None = None,
        kinds: Sequence[str] = ("geo", "mhw"),
        channels: dict[str, Sequence[str]] | None = None,
    ) -> DataFolder:
        """A folder over ``years`` (default: all years of the config) of ``data_cfg.root``;
        ``channels``: kind -> the channels that must be present (default: all of the kind)."""
        return cls(
            data_cfg.root,
            data_cfg.all_years if years is None else years,
            lat_bounds=data_cfg.lat_bounds,
            lon_bounds=data_cfg.lon_bounds,
            kinds=kinds,
            channels=channels,
        )

    # ---- per-process handle cache -------------------------------------------------------

    def _handles(self) -> dict[tuple[str, int], YearFile]:
        return self._open.setdefault(os.getpid(), {})

    def _open_file(self, kind: str, year: int, grid: GridCoords | None) -> YearFile:
        handles = self._handles()
        key = (kind, year)
        if key not in handles:
            handles[key] = YearFile(year_path(self.root, kind, year), kind, coords=grid)
        return handles[key]

    def file(self, kind: str, year: int) -> YearFile:
        """The open :class:`YearFile` of ``kind``/``year`` in this process (opened on first use)."""
        if kind not in self.kinds or year not in self.years:
            raise DataContractError(
                f"{year_path(self.root, kind, year)}: not among the files of this DataFolder "
                f"(kinds {list(self.kinds)}, years {self.years[0]}..{self.years[-1]})"
            )
        return self._open_file(kind, year, self.coords)

    def close(self) -> None:
        """Close the handles this process opened."""
        for yf in self._open.pop(os.getpid(), {}).values():
            yf.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_open"] = {}  # handles never travel; each process opens its own
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # ---- reading ------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        return self.coords.shape

    def read(
        self, kind: str, first: np.datetime64, n_days: int, channels: Sequence[str], *, fill_land: bool = True
    ) -> np.ndarray:
        """Days ``first .. first + n_days - 1`` of ``channels`` -> (n_days, C, H, W) float32.

        The days may span several years. With ``fill_land`` land cells are set to 0.0 and a
        NaN/inf over the ocean raises :class:`DataContractError` naming the file and the date.
        """
        first = np.datetime64(first, "D")
        out = np.empty((n_days, len(channels), *self.shape), dtype=np.float32)
        done = 0
        while done < n_days:
            day = first + done
            year = int(day.astype("datetime64[Y]").astype(int)) + 1970
            start = int((day - np.datetime64(f"{year:04d}-01-01", "D")).astype(int))
            take = min(n_days - done, days_in_year(year) - start)
            yf = self.file(kind, year)
            block = yf.read(start, start + take, channels)
            if fill_land:
                ocean = block[:, :, self.mask]
                if not np.all(np.isfinite(ocean)):
                    bad = int(np.flatnonzero(~np.isfinite(ocean).all(axis=(1, 2)))[0])
                    raise DataContractError(
                        f"{yf.path}: NaN/inf over the ocean on {day + bad}; "
                        f"run `oceane2e check {self.root}` and fix the data or the mask"
                    )
                block[:, :, ~self.mask] = 0.0
            out[done : done + take] = block
            done += take
        return out


def _mask_tensor(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(mask, dtype=bool))


class _FolderWindows(Dataset):
    """Windows of days of one :class:`DataFolder`, one per start date in ``self.time0s``."""

    folder: DataFolder
    time0s: np.ndarray

    @property
    def coords(self) -> GridCoords:
        return self.folder.coords

    @property
    def mask(self) -> np.ndarray:
        return self.folder.mask

    def __len__(self) -> int:
        return int(self.time0s.size)

    def data_info(self, norm_stats: NormStats, *, n_out: int = 1) -> DataInfo:
        """What a model built for these windows needs to know (grid, channel names, statistics).

        ``n_out``: days one model call produces (stage 1's M_θ; 1 for one-step models).
        """
        return DataInfo(self.coords.lat, self.coords.lon, self.mask, self.channel_roles(), norm_stats,
                        n_in=self.history_days, n_out=n_out, level_days=self.level_days)

    def channel_roles(self) -> dict[str, tuple[str, ...]]:  # pragma: no cover - each dataset defines its own
        raise NotImplementedError

    history_days: int = 1
    level_days: int = 0


class VelocityWindowDataset(_FolderWindows):
    """Stage 1: ``n_in`` observed days of geostrophic velocity -> the next ``n_out`` days.

    Args:
        data_cfg: the ``data`` config section.
        split: ``"train"``, ``"val"`` or ``"test"``.
        n_in: input days, ending on ``time0``.
        n_out: target days ``time0 + 1 .. time0 + n_out``.
        stride: days between consecutive ``time0`` of a run of consecutive years.

    Items: ``{"inputs": (n_in, 2, H, W), "targets": (n_out, 2, H, W)`` float32 m s-1 (land 0.0),
    ``"mask": (H, W) bool, "time0": int64}``; channels in the order of :attr:`channels`.
    """

    channels: tuple[str, ...] = VELOCITY_CHANNELS

    def __init__(self, data_cfg: DataConfig, split: str, n_in: int, n_out: int, stride: int = 1) -> None:
        if n_in < 1 or n_out < 1:
            raise ValueError(f"n_in and n_out must be >= 1 (got {n_in}, {n_out})")
        self.split, self.n_in, self.n_out, self.stride = split, int(n_in), int(n_out), int(stride)
        self.history_days = self.n_in
        self.years = split_years(data_cfg, split)
        self.folder = DataFolder.from_config(data_cfg, self.years, kinds=("geo",))
        self.time0s = window_starts(self.years, self.n_in - 1, self.n_out, self.stride)
        if self.time0s.size == 0:
            raise ValueError(
                f"no {split} window of {self.n_in}+{self.n_out} days fits in the years {self.years}; "
                f"use shorter windows or more consecutive years"
            )

    def channel_roles(self) -> dict[str, tuple[str, ...]]:
        """Stage 1 forecasts the currents themselves: ``{"state": ("u_g", "v_g")}``."""
        return {"state": self.channels}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        time0 = self.time0s[index]
        block = self.folder.read("geo", time0 - (self.n_in - 1), self.n_in + self.n_out, self.channels)
        return {
            "inputs": torch.from_numpy(block[: self.n_in]),
            "targets": torch.from_numpy(block[self.n_in :]),
            "mask": _mask_tensor(self.folder.mask),
            "time0": torch.tensor(int(time0.astype("int64")), dtype=torch.int64),
        }


class SSTAWindowDataset(_FolderWindows):
    """Stage 2 and baselines: the SSTA trajectory from ``time0`` with the forcing the folder has.

    Args:
        data_cfg: the ``data`` config section.
        split: ``"train"``, ``"val"`` or ``"test"``.
        n_lead: number of forecast days; a window covers ``time0 .. time0 + n_lead``.
        velocity: ``"observed"`` (geostrophic velocity of the geo files) or ``"forecast"``
            (index 0 observed, indices 1.. the stage-1 forecast started on ``time0``).
        forecast_path: ``MultiConv_data.nc`` (default: ``<root>/MultiConv_data.nc``).
        stride: days between consecutive ``time0``.
        missing_forecast: ``"error"`` (default) stops when a window's start date has no
            stage-1 forecast; ``"skip"`` drops such windows.
        history_days: also give the SSTA of the days before ``time0`` (``"ssta_history"``). The
            observed past is known at forecast time, so these days are read from whichever year
            of the folder holds them (also outside the split); days before the folder's first
            day repeat that day. The start dates do not depend on it.
        velocity_history: observed days of velocity BEFORE ``time0`` also given (item
            ``"velocity_history"``, oldest first), e.g. ``n_in - 1`` for M_θ to forecast the currents
            on the fly; windows then start ``velocity_history`` days into the split.
        level_days: also give the mean SSTA of the ``level_days`` days ending on ``time0`` (item
            ``"ssta_level"``), the level a model with ``DataInfo.level_days`` forecasts about. Like the
            history it is read from whichever year holds the days; only the days on file count (the
            first year's start dates average fewer days). The start dates do not depend on it.

    Items (index 0 is day ``time0``, index k is lead k), float32, land 0.0:
    ``{"ssta": (n_lead+1, H, W) K, "velocity": (n_lead+1, C_v, H, W) m s-1,
    "atmos": (n_lead+1, C_a, H, W) (u10, v10 m s-1; t2m K), "mask": (H, W) bool, "time0": int64}``,
    with ``history_days`` > 0 ``"ssta_history": (history_days, H, W)`` K (oldest first), with
    ``velocity_history`` > 0 ``"velocity_history": (velocity_history, C_v, H, W)`` m s-1, and with
    ``level_days`` > 0 ``"ssta_level": (H, W)`` K.

    Channels a converted folder declares absent (``contents.json``, :func:`declared_absent`) are
    not read: an SST-only folder gives ``C_v = C_a = 0`` (``velocity``/``atmos`` of shape
    (n_lead+1, 0, H, W)) and needs no ``geo_YYYY.nc``; :meth:`channel_roles` names what is there.
    """

    atmos_channels: tuple[str, ...] = ATMOS_CHANNELS
    velocity_channels: tuple[str, ...] = VELOCITY_CHANNELS

    def __init__(
        self,
        data_cfg: DataConfig,
        split: str,
        n_lead: int,
        velocity: str = "observed",
        forecast_path: str | Path | None = None,
        stride: int = 1,
        missing_forecast: str = "error",
        history_days: int = 0,
        velocity_history: int = 0,
        level_days: int = 0,
    ) -> None:
        if level_days < 0:
            raise ValueError(f"level_days must be >= 0 (got {level_days})")
        if velocity_history < 0:
            raise ValueError(f"velocity_history must be >= 0 (got {velocity_history})")
        if n_lead < 1:
            raise ValueError(f"n_lead must be >= 1 (got {n_lead})")
        if history_days < 0:
            raise ValueError(f"history_days must be >= 0 (got {history_days})")
        if velocity not in ("observed", "forecast"):
            raise ValueError(f"velocity must be 'observed' or 'forecast', got {velocity!r}")
        if missing_forecast not in ("error", "skip"):
            raise ValueError(f"missing_forecast must be 'error' or 'skip', got {missing_forecast!r}")
        self.split, self.n_lead, self.velocity, self.stride = split, int(n_lead), velocity, int(stride)
        self.history_days = int(history_days) + 1  # SSTA days one model call may see (DataInfo.n_in)
        self.years = split_years(data_cfg, split)
        # only the channels read here must exist (a converted folder may lack zos: docs/global.md), and
        # channels the folder declares absent are not read (an SST-only folder: no geo files at all)
        absent = declared_absent(data_cfg.root)
        self.velocity_channels = tuple(c for c in VELOCITY_CHANNELS if c not in absent)
        self.atmos_channels = tuple(c for c in ATMOS_CHANNELS if c not in absent)
        if velocity == "forecast" and not self.velocity_channels:
            raise DataContractError(
                f"{data_cfg.root}: the folder has no currents (declared absent in {CONTENTS_FILE}), so there are no "
                "stage-1 forecasts of them; set windows.velocity and inference.velocity to 'observed' (SST-only mode)"
            )
        kinds = ("geo", "mhw") if self.velocity_channels else ("mhw",)
        self.folder = DataFolder.from_config(
            data_cfg, self.years, kinds=kinds,
            channels={"geo": self.velocity_channels, "mhw": ("ssta", *self.atmos_channels)},
        )
        self.level_days = int(level_days)
        self._levels: dict[np.datetime64, np.ndarray] = {}
        self._past: DataFolder | None = None
        if history_days > 0 or level_days > 0:
            past_years = [y for y in find_years(data_cfg.root, "mhw") if y <= self.years[-1]]
            self._past = DataFolder.from_config(data_cfg, sorted({*past_years, *self.years}), kinds=("mhw",),
                                                channels={"mhw": ("ssta",)})
        self.velocity_history = int(velocity_history)
        self.time0s = window_starts(self.years, self.velocity_history, self.n_lead, self.stride)
        self.forecast_path: Path | None = None
        self._forecast: dict[int, ForecastFile] = {}
        if velocity == "forecast":
            self.forecast_path = Path(forecast_path) if forecast_path else Path(data_cfg.root) / "MultiConv_data.nc"
            self._validate_forecast(missing_forecast)
        if self.time0s.size == 0:
            raise ValueError(
                f"no {split} window of {self.n_lead + 1} days fits in the years {self.years}"
                + (" with a stage-1 forecast" if velocity == "forecast" else "")
            )

    def _forecast_file(self) -> ForecastFile:
        pid = os.getpid()
        if pid not in self._forecast:
            self._forecast[pid] = ForecastFile(self.forecast_path)
        return self._forecast[pid]

    def _validate_forecast(self, missing_forecast: str) -> None:
        f = self._forecast_file()
        if f.n_lead < self.n_lead:
            raise DataContractError(
                f"{f.path}: holds {f.n_lead} leads but {self.n_lead} are needed; "
                f"re-run inference_vel.py with at least {self.n_lead} output days"
            )
        for name in self.velocity_channels:
            if name not in f.channels:
                raise DataContractError(f"{f.path}: channel {name!r} missing (file has {list(f.channels)})")
        if not f.coords.allclose(self.folder.coords):
            raise DataContractError(
                f"{f.path}: its grid {f.coords.shape} (lat {f.coords.lat[0]:.4f}.., lon {f.coords.lon[0]:.4f}..) "
                f"differs from the data folder's {self.folder.coords.shape}; re-run inference_vel.py on this data"
            )
        if f.mask is not None and not np.array_equal(f.mask, self.folder.mask):
            raise DataContractError(f"{f.path}: its land mask differs from {self.folder.root / 'mask.npy'}")
        available = np.isin(self.time0s, f.time0)
        if not available.all():
            missing = self.time0s[~available]
            if missing_forecast == "error":
                raise DataContractError(
                    f"{f.path}: no stage-1 forecast for {missing.size} of the {self.time0s.size} {self.split} start "
                    f"dates (first {missing[0]}, last {missing[-1]}); re-run inference_vel.py over the "
                    f"{self.split} years {self.years}, or pass missing_forecast='skip'"
                )
            self.time0s = self.time0s[available]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_forecast"] = {}
        return state

    def channel_roles(self) -> dict[str, tuple[str, ...]]:
        """``state`` (ssta), ``velocity`` and ``atmos``, in the order of the batches' channel axes."""
        return stage2_channels(("ssta",), self.velocity_channels, self.atmos_channels)

    def _history(self, time0: np.datetime64) -> np.ndarray:
        """SSTA of the days before ``time0`` (``history_days - 1`` of them: the attribute counts ``time0``
        too, as ``DataInfo.n_in`` does) -> (n, H, W) K, land 0, oldest first.

        Days before the first year on file repeat its first day; a missing year in between is an error.
        """
        assert self._past is not None
        n = self.history_days - 1
        first_on_file = np.datetime64(f"{self._past.years[0]:04d}-01-01", "D")
        days = np.maximum(time0 - np.arange(n, 0, -1), first_on_file)
        block = self._past.read("mhw", days[0], int((days[-1] - days[0]).astype(int)) + 1, ("ssta",))[:, 0]
        return block[(days - days[0]).astype(int)]

    def _level(self, time0: np.datetime64) -> np.ndarray:
        """Mean SSTA of the ``level_days`` days ending on ``time0`` that are on file -> (H, W) K, land 0
        (kept per start date: every epoch revisits the same ones)."""
        assert self._past is not None
        if time0 not in self._levels:
            first_on_file = np.datetime64(f"{self._past.years[0]:04d}-01-01", "D")
            start = max(time0 - (self.level_days - 1), first_on_file)
            n = int((time0 - start).astype(int)) + 1
            block = self._past.read("mhw", start, n, ("ssta",))[:, 0]
            self._levels[time0] = block.mean(axis=0, dtype=np.float64).astype(np.float32)
        return self._levels[time0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        time0 = self.time0s[index]
        n = self.n_lead + 1
        mhw = self.folder.read("mhw", time0, n, ("ssta", *self.atmos_channels))
        if not self.velocity_channels:
            vel = np.zeros((n, 0, *self.folder.shape), dtype=np.float32)
        elif self.velocity == "observed":
            vel = self.folder.read("geo", time0, n, self.velocity_channels)
        else:
            vel = np.empty((n, len(self.velocity_channels), *self.folder.shape), dtype=np.float32)
            vel[:1] = self.folder.read("geo", time0, 1, self.velocity_channels)
            f = self._forecast_file()
            lead = f.read(time0, self.n_lead)
            idx = [f.channels.index(c) for c in self.velocity_channels]
            lead = lead[:, idx]
            if not np.all(np.isfinite(lead[:, :, self.folder.mask])):
                raise DataContractError(f"{f.path}: NaN/inf over the ocean in the forecast started on {time0}")
            lead[:, :, ~self.folder.mask] = 0.0
            vel[1:] = lead
        item = {
            "ssta": torch.from_numpy(np.ascontiguousarray(mhw[:, 0])),
            "velocity": torch.from_numpy(vel),
            "atmos": torch.from_numpy(np.ascontiguousarray(mhw[:, 1:])),
            "mask": _mask_tensor(self.folder.mask),
            "time0": torch.tensor(int(time0.astype("int64")), dtype=torch.int64),
        }
        if self.history_days > 1:
            item["ssta_history"] = torch.from_numpy(np.ascontiguousarray(self._history(time0)))
        if self.level_days:
            item["ssta_level"] = torch.from_numpy(self._level(time0).copy())
        if self.velocity_history:
            k = self.velocity_history
            if self.velocity_channels:
                past = self.folder.read("geo", time0 - k, k, self.velocity_channels)
            else:  # an SST-only folder: no currents to give (the windows still start k days in)
                past = np.zeros((k, 0, *self.folder.shape), dtype=np.float32)
            item["velocity_history"] = torch.from_numpy(past)
        return item
