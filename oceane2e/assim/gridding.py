"""Observation records onto the model grid: per platform and day, value + count + inverse error variance.

The learned analysis (DESIGN.md §10) sees the observations as images, one set of channels per
platform and day, in the way DINCAE and 4DVarNet feed theirs: for every cell and platform

* ``value``: the inverse-variance weighted mean of the records of the day whose nearest cell it
  is, Σ(yᵢ/σᵢ²) / Σ(1/σᵢ²), in the variable's unit (K for ``ssta``, m for ``sla``); 0 where none;
* ``count``: the number of those records;
* ``inv_var``: Σ 1/σᵢ², the precision of that mean (K⁻² or m⁻²); 0 where none.

Records are binned to the nearest cell centre (:func:`oceane2e.assim.grid.nearest_cell`); records
on land cells or outside the grid are dropped (``oceane2e check`` reports those). Only ``numpy``:
the same arrays serve the training datasets, the cycling and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from oceane2e.data.contract import GridCoords
from oceane2e.data.observations import ObsRecords

from .grid import inside_grid, nearest_cell

#: the channels of one platform's gridded observations, in this order
OBS_FIELDS: tuple[str, ...] = ("value", "count", "inv_var")
#: the variable each platform observes (the learned analysis uses these)
PLATFORM_VARIABLES: dict[str, str] = {"sst_l3": "ssta", "drifter": "ssta", "argo": "ssta", "altimetry": "sla"}
#: errors below this floor (in the variable's unit) are raised to it, so one record cannot dominate
MIN_ERROR_STD = 1e-3


def _binned(records: ObsRecords, coords: GridCoords, mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """(flat cell, weight 1/σ², weight × value, day) of the records that fall on ocean cells."""
    inside = inside_grid(coords, records.lat, records.lon)
    i, j = nearest_cell(coords, records.lat[inside], records.lon[inside])
    ocean = np.asarray(mask, bool)[i, j]
    err = np.maximum(records.error_std[inside][ocean].astype(np.float64), MIN_ERROR_STD)
    w = 1.0 / err**2
    flat = i[ocean] * coords.shape[1] + j[ocean]
    day = records.day[inside][ocean].astype(np.int64)
    return flat, w, w * records.value[inside][ocean].astype(np.float64), day


def _to_grid(flat: np.ndarray, w: np.ndarray, wy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    n = shape[0] * shape[1]
    out = np.zeros((len(OBS_FIELDS), n), np.float32)
    if flat.size:
        sw = np.bincount(flat, weights=w, minlength=n)
        swy = np.bincount(flat, weights=wy, minlength=n)
        count = np.bincount(flat, minlength=n)
        seen = count > 0
        out[0, seen] = swy[seen] / sw[seen]
        out[1] = count
        out[2] = sw
    return out.reshape(len(OBS_FIELDS), *shape)


def grid_records(records: ObsRecords, coords: GridCoords, mask: np.ndarray) -> np.ndarray:
    """Bin ``records`` (one platform, one variable) to the grid.

    Args:
        records: the records to bin (their days are not looked at).
        coords: the grid; mask: (H, W) bool, True over the ocean.

    Returns:
        (3, H, W) float32: value (unit of the records), count, inverse variance (unit⁻²); 0 where
        no record falls and over land.
    """
    if len(records) == 0:
        return np.zeros((len(OBS_FIELDS), *coords.shape), np.float32)
    flat, w, wy, _ = _binned(records, coords, mask)
    return _to_grid(flat, w, wy, coords.shape)


class DailyObsGrid:
    """The records of a period, gridded per platform and day on demand.

    Args:
        records: every record of the period (any platforms and variables).
        coords, mask: the grid and its ocean (H, W).
        platforms: the platforms, in the order of the channel axis; each is gridded with the
            records of its variable in :data:`PLATFORM_VARIABLES`.

    ``grid(day)`` -> (P, 3, H, W); ``window(day, n_days)`` -> (n_days, P, 3, H, W) for the days
    ``day, day - 1, ..., day - n_days + 1`` (today first): past days only, so a cycled analysis never
    sees the future; ``future_days`` > 0 appends the days after (a smoother's, never a forecast's start).
    Days without records give zeros. The cells of the records are found once, so a
    day costs three ``bincount`` per platform; gridded days are kept (up to ``cache_bytes``, then
    gridded each time), since windows overlap: a training window of 3 analysis days with 7 days of
    records each reads 21 days, and the cycle reads each day ``n_days`` times.
    """

    def __init__(self, records: ObsRecords, coords: GridCoords, mask: np.ndarray,
                 platforms: Sequence[str] = tuple(PLATFORM_VARIABLES), cache_bytes: int = 256 * 2**20) -> None:
        unknown = [p for p in platforms if p not in PLATFORM_VARIABLES]
        if unknown:
            raise ValueError(f"unknown platforms {unknown}; choose from {list(PLATFORM_VARIABLES)}")
        self.coords, self.mask, self.platforms = coords, np.asarray(mask, bool), tuple(platforms)
        self._by_platform: list[tuple[np.ndarray, ...]] = []
        for p in self.platforms:
            flat, w, wy, day = _binned(records.of(platform=p, variable=PLATFORM_VARIABLES[p]), coords, self.mask)
            order = np.argsort(day, kind="stable")
            self._by_platform.append((day[order], flat[order], w[order], wy[order]))
        self._cache: dict[int, np.ndarray] = {}
        self._cache_days = max(0, int(cache_bytes) // (4 * int(np.prod(self.shape))))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(P, 3, H, W) of one day."""
        return (len(self.platforms), len(OBS_FIELDS), *self.coords.shape)

    def grid(self, day: np.datetime64) -> np.ndarray:
        """(P, 3, H, W) float32 of ``day`` (see the module docstring); the caller's own array."""
        return self._day(int(np.datetime64(day, "D").astype(np.int64))).copy()

    def _day(self, d: int) -> np.ndarray:
        """The gridded day ``d`` (days since 1970-01-01), from the cache when there; not to be written to."""
        out = self._cache.get(d)
        if out is not None:
            return out
        out = np.zeros(self.shape, np.float32)
        for k, (days, flat, w, wy) in enumerate(self._by_platform):
            lo, hi = np.searchsorted(days, d), np.searchsorted(days, d + 1)
            if hi > lo:
                out[k] = _to_grid(flat[lo:hi], w[lo:hi], wy[lo:hi], self.coords.shape)
        if len(self._cache) < self._cache_days:
            self._cache[d] = out
        return out

    def window(self, day: np.datetime64, n_days: int, future_days: int = 0) -> np.ndarray:
        """(n_days + future_days, P, 3, H, W): the days ``day, day - 1, …, day - n_days + 1`` (today first), then
        ``day + 1, …, day + future_days`` (a smoother's; 0 for an analysis a forecast may start from)."""
        d = np.datetime64(day, "D")
        return np.stack([self.grid(d - k) for k in range(n_days)] + [self.grid(d + k) for k in range(1, future_days + 1)])


__all__ = ["MIN_ERROR_STD", "OBS_FIELDS", "PLATFORM_VARIABLES", "DailyObsGrid", "grid_records"]
