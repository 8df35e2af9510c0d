"""Forecast files: ONE format for every forecast the system writes.

Stage-1 velocity forecasts (``MultiConv_data.nc``) and SSTA forecasts (``results/<Model>_forecast.nc``)
are the same CF NetCDF layout: variables ``outputs`` (the forecast) and optionally ``targets`` (the
truth on the same days), dims (sample, lead, channel, lat, lon), a ``channel`` coordinate with the
channel NAMES (``u_g, v_g`` or ``ssta``), a ``forecast_reference_time`` coordinate per sample (the
date of the initial state, "time0") and a ``lead`` coordinate in days (1-based: lead k is valid on
time0 + k days). Land is NaN (the fill value) and the ``mask`` variable (1 ocean, 0 land) is stored
beside the data. Arrays are chunked one (sample, lead) per chunk so that a training window reads only
what it needs. ``outputs``/``targets`` are the reference release's variable names of
``MultiConv_data.nc``, kept.

Write with :class:`ForecastWriter` (block by block) or :func:`write_forecast` (whole arrays); read
lazily with :class:`ForecastFile` or whole with :func:`read_forecast`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oceane2e.data.contract import (
    CHANNEL_LONG_NAMES,
    CHANNEL_UNITS,
    GEO_CHANNELS,
    DataContractError,
    GridCoords,
    NetCDFHandle,
    read_channel_names,
    write_channel_names,
    write_grid_coords,
)

REFERENCE_TIME_UNITS = "days since 1970-01-01 00:00:00"


def as_dates(time0: Sequence | np.ndarray) -> np.ndarray:
    """Start dates as ``datetime64[D]``; int input is days since 1970-01-01."""
    arr = np.asarray(time0)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[D]")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype("int64").astype("datetime64[D]")
    raise DataContractError(f"time0 must be datetime64 or int days since 1970-01-01, got dtype {arr.dtype}")


def _days_since_epoch(dates: np.ndarray) -> np.ndarray:
    return as_dates(dates).astype("int64")


def _write_common(ds, time0: np.ndarray, n_lead: int, coords: GridCoords, mask: np.ndarray | None) -> None:
    """Dimensions and coordinates shared by both kinds of forecast file."""
    ds.createDimension("sample", time0.size)
    ds.createDimension("lead", n_lead)
    ds.createDimension("lat", coords.shape[0])
    ds.createDimension("lon", coords.shape[1])
    frt = ds.createVariable("forecast_reference_time", "f8", ("sample",))
    frt.units, frt.calendar = REFERENCE_TIME_UNITS, "standard"
    frt.standard_name, frt.long_name = "forecast_reference_time", "date of the initial state (time0)"
    frt[:] = _days_since_epoch(time0).astype(np.float64)
    lead = ds.createVariable("lead", "i4", ("lead",))
    lead.units, lead.standard_name = "days", "forecast_period"
    lead.long_name = "lead time: lead k is valid on forecast_reference_time + k days"
    lead[:] = np.arange(1, n_lead + 1, dtype=np.int32)
    time = ds.createVariable("time", "f8", ("sample", "lead"))
    time.units, time.calendar, time.standard_name = REFERENCE_TIME_UNITS, "standard", "time"
    time.long_name = "valid time"
    time[:] = _days_since_epoch(time0)[:, None].astype(np.float64) + np.arange(1, n_lead + 1)[None, :]
    write_grid_coords(ds, coords)
    if mask is not None:
        m = ds.createVariable("mask", "i1", ("lat", "lon"))
        m.long_name = "ocean mask (1 ocean, 0 land)"
        m[:] = np.asarray(mask, dtype=np.int8)
    ds.Conventions = "CF-1.8"


def _check_mask(path: Path, mask: np.ndarray | None, coords: GridCoords) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != coords.shape:
        raise DataContractError(f"{path}: mask shape {mask.shape} != grid {coords.shape}")
    return mask


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp{os.getpid()}")


class _SampleWriter:  # the block writer behind ForecastWriter
    """Writes a forecast file block of samples by block of samples (bounded memory).

    The file is written under a temporary name and renamed into place by :meth:`close` once
    every sample has been written; leaving the ``with`` block on an exception removes it.
    """

    def __init__(
        self,
        path: str | Path,
        time0: Sequence | np.ndarray,
        n_lead: int,
        coords: GridCoords,
        mask: np.ndarray | None,
        variables: dict[str, tuple[str, str]],
        *,
        channels: Sequence[str] | None,
        title: str,
        attrs: Mapping[str, object] | None,
        members: int | None = None,
    ) -> None:
        import netCDF4

        self.path = Path(path)
        self.time0 = as_dates(time0)
        if self.time0.ndim != 1 or self.time0.size == 0:
            raise DataContractError(f"{self.path}: time0 must be a non-empty 1-D array of start dates")
        if self.time0.size > 1 and not np.all(np.diff(self.time0).astype(int) > 0):
            raise DataContractError(f"{self.path}: time0 must be strictly increasing (sort the samples by date)")
        if n_lead < 1:
            raise DataContractError(f"{self.path}: n_lead must be >= 1, got {n_lead}")
        self.n_lead = int(n_lead)
        self.coords = coords
        self.mask = _check_mask(self.path, mask, coords)
        self._land = None if self.mask is None else ~self.mask
        self.channels = None if channels is None else tuple(channels)
        if members is not None and members < 1:
            raise DataContractError(f"{self.path}: members must be >= 1, got {members}")
        self.members = None if members is None else int(members)
        self.sample_shape = (*((self.members,) if self.members else ()), self.n_lead,
                             *((len(self.channels),) if self.channels else ()), *coords.shape)
        self._written = np.zeros(self.time0.size, dtype=bool)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _tmp_name(self.path)
        self._ds = None
        try:
            self._ds = netCDF4.Dataset(self._tmp, "w", format="NETCDF4")
            ds = self._ds
            _write_common(ds, self.time0, self.n_lead, coords, self.mask)
            dims: tuple[str, ...] = ("sample", "lead", "lat", "lon")
            chunks: tuple[int, ...] = (1, 1, *coords.shape)
            if self.channels:
                ds.createDimension("channel", len(self.channels))
                write_channel_names(ds, self.channels)
                dims = ("sample", "lead", "channel", "lat", "lon")
                chunks = (1, 1, len(self.channels), *coords.shape)
            if self.members:  # an ensemble: one field per member, (sample, member, lead, ...)
                ds.createDimension("member", self.members)
                member = ds.createVariable("member", "i4", ("member",))
                member.long_name, member.standard_name = "ensemble member", "realization"
                member[:] = np.arange(self.members, dtype=np.int32)
                dims = (dims[0], "member", *dims[1:])
                chunks = (1, 1, *chunks[1:])
            self._vars = {}
            for name, (long_name, units) in variables.items():
                var = ds.createVariable(name, "f4", dims, chunksizes=chunks, fill_value=np.float32(np.nan))
                var.units, var.long_name = units, long_name
                var.coordinates = "time forecast_reference_time lead" + (" member" if self.members else "")
                if self.channels:
                    var.channel_names = ",".join(self.channels)
                var.set_auto_maskandscale(False)
                self._vars[name] = var
            ds.title = title
            for key, value in (attrs or {}).items():
                ds.setncattr(key, value if not isinstance(value, bool) else int(value))
        except Exception as err:  # e.g. a full disk: HDF5 may then refuse to create the file at all
            from oceane2e.outputs import drop_failed

            drop_failed(self.path, err, self.abort)
            raise

    def _write(self, start: int, arrays: dict[str, np.ndarray | None]) -> None:
        blocks = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
        extra = [k for k in blocks if k not in self._vars]
        if extra:
            raise DataContractError(f"{self.path}: {extra} given but the writer was created without them")
        missing = [k for k in self._vars if k not in blocks]
        if missing:
            raise DataContractError(f"{self.path}: no data given for {missing}")
        first = next(iter(blocks.values()))
        n = first.shape[0] if first.ndim else 0
        if start < 0 or start + n > self.time0.size:
            raise DataContractError(
                f"{self.path}: samples {start}..{start + n - 1} outside 0..{self.time0.size - 1}"
            )
        for name, block in blocks.items():
            if block.shape != (n, *self.sample_shape):
                raise DataContractError(
                    f"{self.path}: {name} block shape {block.shape} != {(n, *self.sample_shape)} "
                    f"(sample, lead, {'channel, ' if self.channels else ''}lat, lon)"
                )
            var = self._vars[name]
            for i in range(n):
                sample = block[i].astype(np.float32, copy=True)
                if self._land is not None:
                    sample[..., self._land] = np.nan
                var[start + i] = sample
        self._written[start : start + n] = True

    def close(self) -> Path:
        """Finish the file and move it into place; every sample must have been written."""
        if not self._ds.isopen():
            return self.path
        if not self._written.all():
            todo = np.flatnonzero(~self._written)
            self.abort()
            raise DataContractError(
                f"{self.path}: {todo.size} sample(s) never written (first index {todo[0]}, "
                f"start date {self.time0[todo[0]]}); nothing was saved"
            )
        self._ds.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the unfinished file (also when closing it fails, e.g. on a full disk)."""
        try:
            if self._ds is not None and self._ds.isopen():
                self._ds.close()
        except Exception:  # noqa: BLE001 - the file is dropped anyway; the error that led here is the one to report
            pass
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc: BaseException | None, tb: object) -> None:
        from oceane2e.outputs import drop_failed

        if exc is not None:
            drop_failed(self.path, exc, self.abort)  # then the block's error goes on
            return
        try:
            self.close()
        except Exception as err:  # e.g. the last blocks find the disk full
            drop_failed(self.path, err, self.abort)
            raise


# --------------------------------------------------------------------------------------------
# the one forecast layout


class ForecastWriter(_SampleWriter):
    """Write a forecast file block by block (inference over many start dates, bounded memory).

    Args:
        path: output file (written to a temporary name, renamed into place on close).
        time0: (S,) all start dates, strictly increasing (datetime64 or int days since 1970-01-01).
        n_lead: number of leads L (lead k is valid on time0 + k days).
        coords, mask: grid (degrees) and (H, W) ocean mask; land is written as NaN.
        channels: channel names of axis 2 (``("u_g", "v_g")`` for M_θ, ``("ssta",)`` for SSTA).
        with_targets: also store ``targets`` (the truth on the same days).
        title: the file's title; attrs: extra global attributes (e.g. ``model``, ``checkpoint``).

    Use: ``with ForecastWriter(...) as w: w.write(start, outputs, targets)`` with ``outputs``
    (n, L, C, H, W) in the channels' units for samples ``start .. start + n - 1``.
    """

    def __init__(
        self,
        path: str | Path,
        time0: Sequence | np.ndarray,
        n_lead: int,
        coords: GridCoords,
        mask: np.ndarray | None,
        *,
        channels: Sequence[str],
        with_targets: bool = False,
        title: str = "Ocean-E2E forecasts",
        attrs: Mapping[str, object] | None = None,
    ) -> None:
        names = tuple(channels)
        if not names:
            raise DataContractError(f"{path}: give at least one channel name")
        units = "; ".join(CHANNEL_UNITS.get(n, "1") for n in names)
        what = "; ".join(CHANNEL_LONG_NAMES.get(n, n) for n in names)
        variables = {"outputs": (f"forecast {what}", units)}
        if with_targets:
            variables["targets"] = (f"observed {what}", units)
        super().__init__(path, time0, n_lead, coords, mask, variables, channels=names, title=title, attrs=attrs)

    def write(self, start: int, outputs: np.ndarray, targets: np.ndarray | None = None) -> None:
        """Samples ``start .. start + n - 1``: ``outputs`` (and ``targets``) (n, L, C, H, W)."""
        self._write(start, {"outputs": outputs, "targets": targets})


def write_forecast(
    path: str | Path,
    outputs: np.ndarray,
    time0: Sequence | np.ndarray,
    coords: GridCoords,
    mask: np.ndarray | None,
    targets: np.ndarray | None = None,
    *,
    channels: Sequence[str] = GEO_CHANNELS,
    title: str = "Ocean-E2E forecasts",
    attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write a forecast file from whole arrays (see :class:`ForecastWriter` for blocks).

    Args:
        outputs: (S, L, C, H, W) forecast, lead 1..L, in the channels' units (K, m s-1).
        time0: (S,) start dates (datetime64 or int days since 1970-01-01), strictly increasing.
        coords: grid (degrees); mask: (H, W), True/1 over the ocean; land is written as NaN.
        targets: optional (S, L, C, H, W) truth on the same days.
        channels: channel names of axis 2.
    """
    outputs = np.asarray(outputs)
    n_lead = outputs.shape[1] if outputs.ndim == 5 else -1
    expected = (np.size(time0), n_lead, len(tuple(channels)), *coords.shape)
    if outputs.shape != expected:
        raise DataContractError(
            f"{path}: outputs shape {outputs.shape} != (sample, lead, channel, lat, lon) = {expected}"
        )
    if targets is not None and np.shape(targets) != outputs.shape:
        raise DataContractError(f"{path}: targets shape {np.shape(targets)} != outputs shape {outputs.shape}")
    with ForecastWriter(path, time0, outputs.shape[1], coords, mask, channels=channels,
                        with_targets=targets is not None, title=title, attrs=attrs) as writer:
        writer.write(0, outputs, targets)
    return writer.path


def _read_grid(path: Path, ds) -> tuple[GridCoords, np.ndarray | None]:
    try:
        coords = GridCoords(lat=np.asarray(ds["lat"][:]), lon=np.asarray(ds["lon"][:]))
    except (IndexError, KeyError) as err:
        raise DataContractError(f"{path}: lat/lon coordinates missing; rewrite the file") from err
    mask = np.asarray(ds["mask"][:]).astype(bool) if "mask" in ds.variables else None
    return coords, mask


def _read_time0(path: Path, ds) -> np.ndarray:
    import netCDF4

    if "forecast_reference_time" not in ds.variables:
        raise DataContractError(f"{path}: forecast_reference_time missing; rewrite the file")
    var = ds["forecast_reference_time"]
    values = np.asarray(var[:], dtype=np.float64)
    units = getattr(var, "units", REFERENCE_TIME_UNITS)
    if units == REFERENCE_TIME_UNITS:
        return np.round(values).astype("int64").astype("datetime64[D]")
    dates = netCDF4.num2date(values, units, calendar=getattr(var, "calendar", "standard"))
    return np.array([np.datetime64(f"{d.year:04d}-{d.month:02d}-{d.day:02d}", "D") for d in dates])


class ForecastFile(NetCDFHandle):
    """A forecast file opened once (per process) and read lazily by sample.

    Attributes:
        time0: (S,) ``datetime64[D]`` start dates; lead: (L,) int days; n_lead: L.
        channels: channel names of axis 2.
        coords, mask: grid and (H, W) bool mask (None when the file has no mask).
        has_targets: whether ``targets`` is stored; attrs: the global attributes.
    """

    def __init__(self, path: str | Path) -> None:
        import netCDF4

        self.path = Path(path)
        if not self.path.exists():
            raise DataContractError(
                f"{self.path}: missing; run the inference that writes it (inference_vel.py for MultiConv_data.nc, "
                f"inference.py / inference_baseline.py for results/<Model>_forecast.nc)"
            )
        try:
            self._ds = netCDF4.Dataset(self.path, "r")
        except Exception as err:  # noqa: BLE001
            raise DataContractError(f"{self.path}: unreadable or corrupt NetCDF ({err}); re-run its inference") from err
        ds = self._ds
        if "outputs" not in ds.variables:
            self.close()
            raise DataContractError(f"{self.path}: variable 'outputs' missing; is this a forecast file?")
        self._outputs = ds["outputs"]
        self._outputs.set_auto_maskandscale(False)
        if self._outputs.ndim != 5:
            self.close()
            raise DataContractError(
                f"{self.path}: outputs has dims {self._outputs.dimensions}, expected (sample, lead, channel, lat, lon)"
            )
        self._targets = ds["targets"] if "targets" in ds.variables else None
        if self._targets is not None:
            self._targets.set_auto_maskandscale(False)
        self.has_targets = self._targets is not None
        self.time0 = _read_time0(self.path, ds)
        self.n_lead = int(self._outputs.shape[1])
        self.lead = (np.asarray(ds["lead"][:]).astype(np.int64) if "lead" in ds.variables
                     else np.arange(1, self.n_lead + 1, dtype=np.int64))
        if "channel" in ds.variables:
            self.channels = read_channel_names(ds["channel"])
        else:  # the reference release's MultiConv_data.nc: (u_g, v_g) without names
            self.channels = GEO_CHANNELS[: int(self._outputs.shape[2])]
        self.coords, self.mask = _read_grid(self.path, ds)
        self.attrs = {k: ds.getncattr(k) for k in ds.ncattrs()}
        self._index = {int(d): i for i, d in enumerate(self.time0.astype("int64"))}
        self._pid = os.getpid()

    def sample_index(self, time0: np.datetime64 | int) -> int:
        """Index of the sample starting on ``time0``; a clear error when there is none."""
        key = int(np.datetime64(time0, "D").astype("int64")) if not isinstance(time0, (int, np.integer)) else int(time0)
        try:
            return self._index[key]
        except KeyError:
            date = np.datetime64(key, "D")
            span = f"{self.time0[0]}..{self.time0[-1]}" if self.time0.size else "none"
            raise DataContractError(
                f"{self.path}: no forecast starting on {date} (the file has {self.time0.size} start dates, {span}); "
                f"re-run its inference over the years used here"
            ) from None

    def read(self, time0: np.datetime64 | int, n_lead: int | None = None, *, targets: bool = False) -> np.ndarray:
        """Leads 1..``n_lead`` of the sample starting on ``time0`` -> (n_lead, C, H, W) float32 (NaN on land)."""
        n_lead = self.n_lead if n_lead is None else int(n_lead)
        if n_lead > self.n_lead:
            raise DataContractError(
                f"{self.path}: {n_lead} leads requested but the file holds {self.n_lead}; "
                f"re-run its inference with at least {n_lead} output days"
            )
        var = self._targets if targets else self._outputs
        if var is None:
            raise DataContractError(f"{self.path}: no 'targets' stored")
        return np.asarray(var[self.sample_index(time0), :n_lead], dtype=np.float32)

    def read_all(self, *, targets: bool = False) -> np.ndarray:
        """Every sample -> (S, L, C, H, W) float32 (NaN on land)."""
        var = self._targets if targets else self._outputs
        if var is None:
            raise DataContractError(f"{self.path}: no 'targets' stored")
        return np.asarray(var[:], dtype=np.float32)


@dataclass
class Forecast:
    """A forecast file in memory. Arrays: (S, L, C, H, W) in the channels' units, NaN on land."""

    outputs: np.ndarray
    targets: np.ndarray | None
    time0: np.ndarray  # (S,) datetime64[D]
    lead: np.ndarray  # (L,) int, days
    channels: tuple[str, ...]
    coords: GridCoords
    mask: np.ndarray | None
    attrs: dict = field(default_factory=dict)

    def channel(self, name: str, *, targets: bool = False) -> np.ndarray:
        """(S, L, H, W) of channel ``name`` (of ``targets`` when asked)."""
        if name not in self.channels:
            raise DataContractError(f"forecast has no channel {name!r} (channels {list(self.channels)})")
        source = self.targets if targets else self.outputs
        if source is None:
            raise DataContractError("forecast has no targets stored")
        return source[:, :, self.channels.index(name)]


def read_forecast(path: str | Path) -> Forecast:
    """Read a whole forecast file into memory (use :class:`ForecastFile` for lazy reads)."""
    with ForecastFile(path) as f:
        return Forecast(
            outputs=f.read_all(), targets=f.read_all(targets=True) if f.has_targets else None,
            time0=f.time0, lead=f.lead, channels=f.channels, coords=f.coords, mask=f.mask, attrs=f.attrs,
        )
