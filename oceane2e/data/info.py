"""``DataInfo``: everything a model needs to know about the data, made by the datasets.

One object travels from the data to every model builder and into every checkpoint: the grid
(``lat``, ``lon`` from the files, ``mask``), the channel NAMES of each role of a sample
(``state`` — what is forecast —, ``velocity``, ``atmos``), the normalisation statistics of the
training years, the time step, and the window of one model call (days in, days out). A model
never guesses a channel position or a coordinate: it asks this object, and a checkpoint restored
on other data is rejected by :meth:`DataInfo.check_grid` with a message naming the mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oceane2e.data.contract import ATMOS_CHANNELS, GEO_CHANNELS, DataContractError, GridCoords
from oceane2e.dates import SECONDS_PER_DAY

NormStats = Mapping[str, Mapping[str, float]]
_FORMAT = 1


@dataclass(frozen=True)
class DataInfo:
    """What the data tells a model.

    Attributes:
        lat, lon: (H,), (W,) cell-centre coordinates in degrees (from the data files).
        mask: (H, W) bool, True over the ocean.
        channels: role -> channel names, e.g. ``{"state": ("ssta",), "velocity": ("u_g", "v_g"),
            "atmos": ("u10", "v10", "t2m")}`` (stage 2) or ``{"state": ("u_g", "v_g")}`` (stage 1).
            The order is the order of the channel axis of the batches the datasets make.
        norm_stats: ``{name: {"mean", "std"}}`` of the training years, physical units.
        dt_s: the time step of one model step, seconds (one day).
        n_in, n_out: days of history one model call sees and days it produces (1, 1 for the
            one-step stage-2 models; the window of M_θ for stage 1).
        level_days: 0, or the days whose mean SSTA (ending on the start date) is the level a stage-2
            forecast is made about: the state and its history enter the model less that level, and
            every forecast day gets it back (:func:`model_baselines.base.rollout`). It keeps the
            slow, year-to-year part of the anomaly (a warming trend, a warm year) in the forecast,
            which a network trained to relax towards zero anomaly would lose.
    """

    lat: np.ndarray
    lon: np.ndarray
    mask: np.ndarray
    channels: Mapping[str, tuple[str, ...]]
    norm_stats: NormStats = field(default_factory=dict)
    dt_s: float = SECONDS_PER_DAY
    n_in: int = 1
    n_out: int = 1
    level_days: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lat", np.asarray(self.lat, dtype=np.float64))
        object.__setattr__(self, "lon", np.asarray(self.lon, dtype=np.float64))
        object.__setattr__(self, "mask", np.asarray(self.mask).astype(bool))
        object.__setattr__(self, "channels", {str(k): tuple(v) for k, v in self.channels.items()})
        stats = {str(k): {"mean": float(v["mean"]), "std": float(v["std"])} for k, v in self.norm_stats.items()}
        object.__setattr__(self, "norm_stats", stats)
        if self.lat.ndim != 1 or self.lon.ndim != 1 or self.mask.shape != (self.lat.size, self.lon.size):
            raise DataContractError(
                f"DataInfo: lat {self.lat.shape}, lon {self.lon.shape} and mask {self.mask.shape} do not form a grid")
        if self.level_days < 0:
            raise DataContractError(f"DataInfo: level_days must be >= 0, got {self.level_days}")
        if "state" not in self.channels:
            raise DataContractError(f"DataInfo: channels need a 'state' role, got {sorted(self.channels)}")

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.lat.size), int(self.lon.size)

    @property
    def coords(self) -> GridCoords:
        return GridCoords(lat=self.lat, lon=self.lon)

    def names(self, role: str) -> tuple[str, ...]:
        """The channel names of ``role`` (empty when the data has no such role)."""
        return tuple(self.channels.get(role, ()))

    def with_stats(self, norm_stats: NormStats) -> DataInfo:
        """The same information with other normalisation statistics."""
        return DataInfo(self.lat, self.lon, self.mask, self.channels, norm_stats, self.dt_s, self.n_in, self.n_out,
                        self.level_days)

    # ---- checkpoints --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only (lists, floats, strings): safe to store in any checkpoint."""
        return {
            "format": _FORMAT, "lat": self.lat.tolist(), "lon": self.lon.tolist(),
            "mask": self.mask.astype(int).tolist(), "channels": {k: list(v) for k, v in self.channels.items()},
            "norm_stats": self.norm_stats, "dt_s": float(self.dt_s), "n_in": int(self.n_in), "n_out": int(self.n_out),
            "level_days": int(self.level_days),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataInfo:
        """Inverse of :meth:`to_dict`."""
        return cls(
            lat=np.asarray(data["lat"], dtype=np.float64), lon=np.asarray(data["lon"], dtype=np.float64),
            mask=np.asarray(data["mask"]).astype(bool), channels=data["channels"], norm_stats=data["norm_stats"],
            dt_s=float(data.get("dt_s", SECONDS_PER_DAY)), n_in=int(data.get("n_in", 1)),
            n_out=int(data.get("n_out", 1)), level_days=int(data.get("level_days", 0)),
        )

    # ---- the one grid check -------------------------------------------------------------

    def check_grid(self, coords: GridCoords, mask: np.ndarray, *, source: str | Path, data: str | Path) -> None:
        """Raise :class:`DataContractError` naming ``source`` (a checkpoint) and ``data`` when the grid or
        the land mask of this information differs from the data's ``coords``/``mask``."""
        same = (self.lat.shape == coords.lat.shape and self.lon.shape == coords.lon.shape
                and np.allclose(self.lat, coords.lat, atol=1e-6) and np.allclose(self.lon, coords.lon, atol=1e-6))
        if not same:
            raise DataContractError(
                f"{source}: trained on a {self.lat.size}x{self.lon.size} grid (lat {self.lat[0]:.3f}..{self.lat[-1]:.3f}, "
                f"lon {self.lon[0]:.3f}..{self.lon[-1]:.3f}) but {data} has a {coords.lat.size}x{coords.lon.size} grid "
                f"(lat {coords.lat[0]:.3f}..{coords.lat[-1]:.3f}, lon {coords.lon[0]:.3f}..{coords.lon[-1]:.3f}); "
                f"use the checkpoint trained on this data, or retrain")
        mask = np.asarray(mask).astype(bool)
        if not np.array_equal(self.mask, mask):
            n = int(np.sum(self.mask != mask))
            raise DataContractError(
                f"{source}: its land mask differs from {data}'s mask.npy in {n} cells; retrain on this data")


def stage2_channels(state: Sequence[str] = ("ssta",), velocity: Sequence[str] = GEO_CHANNELS,
                    atmos: Sequence[str] = ATMOS_CHANNELS) -> dict[str, tuple[str, ...]]:
    """The channel roles of a stage-2 sample (the SSTA state, its currents and its atmosphere)."""
    return {"state": tuple(state), "velocity": tuple(velocity), "atmos": tuple(atmos)}


__all__ = ["DataInfo", "NormStats", "stage2_channels"]
