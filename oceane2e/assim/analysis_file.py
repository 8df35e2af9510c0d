"""Reading analysis files (``results/<Method>_analysis.nc``, written by :func:`oceane2e.assim.oi.write_analysis`).

:class:`AnalysisFile` opens the file once per process and reads runs of days of any of its
(time, lat, lon) variables lazily, land set to 0 (the datasets' convention), so the cycled learned
analysis, its training and the forecasts from analyses read the altimetry currents (``u_g``,
``v_g``) and the SSTA analyses day by day at any grid size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from oceane2e.data.contract import DataContractError

# the two kinds of the files' ``windows`` attribute (the text after them gives the days)
PAST_ONLY, CENTRED = "past only", "centred"


class AnalysisFile:
    """One analysis file: ``dates`` (T,) datetime64[D], ``lat``, ``lon``, ``mask`` (H, W) bool, ``method``,
    ``windows`` (the file's attribute: "past only ..." or "centred ..."; "" when it does not say).

    Args:
        path: the NetCDF file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataContractError(
                f"{self.path}: no analysis file; make it first: `python -m oceane2e oi --config configs/oi_realtime.yaml` "
                "(the real-time OI), `... --config configs/oi.yaml` (the smoother) or `python assimilate.py` (NeuralDA)")
        self._handles: dict[int, Any] = {}
        ds = self._ds()
        self.dates = np.datetime64("1970-01-01", "D") + np.round(np.asarray(ds["time"][:])).astype(np.int64)
        self.lat, self.lon = np.asarray(ds["lat"][:], np.float64), np.asarray(ds["lon"][:], np.float64)
        self.mask = np.asarray(ds["mask"][:]).astype(bool)
        self.variables = tuple(n for n, v in ds.variables.items() if v.dimensions == ("time", "lat", "lon"))
        self.method = str(getattr(ds, "method", self.path.name.removesuffix("_analysis.nc")))
        self.windows = str(getattr(ds, "windows", ""))
        self._first = int(self.dates[0].astype(np.int64)) if self.dates.size else 0
        if self.dates.size and np.any(np.diff(self.dates.astype(np.int64)) != 1):
            raise DataContractError(f"{self.path}: its days are not consecutive")

    def require_past_only(self, what: str) -> None:
        """Refuse a smoother (records of days after each analysed day) as ``what`` — a forecast's start or
        the currents of a cycle, which must not have seen the days after their day."""
        if self.windows.startswith(CENTRED):
            raise DataContractError(
                f"{self.path}: a smoother ({self.windows}): each of its days saw later records, so it cannot be {what} "
                "without the forecasts seeing their own lead days; use a real-time analysis (`python -m oceane2e oi "
                "--config configs/oi_realtime.yaml` -> results/OI-realtime_analysis.nc)")

    def _ds(self) -> Any:
        import netCDF4

        pid = os.getpid()
        if pid not in self._handles:
            ds = netCDF4.Dataset(self.path)
            ds.set_auto_mask(False)
            self._handles[pid] = ds
        return self._handles[pid]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def covers(self, first: np.datetime64, n_days: int) -> bool:
        """True when the days ``first .. first + n_days - 1`` are all in the file."""
        k = int(np.datetime64(first, "D").astype(np.int64)) - self._first
        return self.dates.size > 0 and k >= 0 and k + n_days <= self.dates.size

    def read(self, name: str, first: np.datetime64, n_days: int) -> np.ndarray:
        """(n_days, H, W) float32 of variable ``name`` from day ``first``; land (and NaN) 0."""
        if name not in self.variables:
            raise DataContractError(f"{self.path}: no variable {name!r} (has {list(self.variables)})")
        if not self.covers(first, n_days):
            raise DataContractError(f"{self.path}: holds {self.dates[0]}..{self.dates[-1]}, not "
                                    f"{np.datetime64(first, 'D')} + {n_days} days; analyse those days first")
        k = int(np.datetime64(first, "D").astype(np.int64)) - self._first
        out = np.asarray(self._ds()[name][k : k + n_days], np.float32)
        return np.where(np.isfinite(out) & self.mask, out, np.float32(0.0))

    def close(self) -> None:
        """Close the handle of this process."""
        ds = self._handles.pop(os.getpid(), None)
        if ds is not None:
            ds.close()


__all__ = ["AnalysisFile"]
