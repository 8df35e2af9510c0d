"""Ensemble forecast files and the analysis-uncertainty hook (issue 17).

``results/<Model>-ens_members.nc``: the forecast layout of :mod:`oceane2e.data.forecast_files`
(``forecast_reference_time``, ``lead``, ``time``, ``lat``, ``lon``, ``mask``, CF-1.8, land NaN) with a
``member`` dimension: variable ``ssta`` (sample, member, lead, lat, lon) in K, chunked one
(sample, member, lead) per chunk. Global attributes say the model, the number of members and the
perturbations. Written block by block with :class:`EnsembleWriter`, read lazily with :class:`EnsembleFile`.

The analysis-uncertainty hook: an assimilation method may write ``results/<Method>_analysis.nc`` with
a variable ``ssta_error_std`` (K), either (lat, lon) for every day or (time, lat, lon) with a CF
``time`` coordinate; :func:`read_analysis_error_std` returns it for given start dates and the grid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from oceane2e.data.contract import DataContractError, GridCoords, NetCDFHandle
from oceane2e.data.forecast_files import _read_grid, _read_time0, _SampleWriter, as_dates

MEMBERS_VARIABLE = "ssta"
ANALYSIS_STD_VARIABLE = "ssta_error_std"


class EnsembleWriter(_SampleWriter):
    """Write ``(sample, member, lead, lat, lon)`` SSTA members block by block (temp file, renamed on close):
    the forecast layout with a ``member`` dimension.

    Args:
        path: output file; time0: (S,) strictly increasing start dates; n_members, n_lead: sizes;
        coords, mask: grid and (H, W) ocean mask (land written as NaN); title, attrs: global attributes.
    """

    def __init__(self, path: str | Path, time0: Sequence | np.ndarray, n_members: int, n_lead: int,
                 coords: GridCoords, mask: np.ndarray, *, title: str = "Ocean-E2E ensemble forecast",
                 attrs: Mapping[str, object] | None = None) -> None:
        variables = {MEMBERS_VARIABLE: ("forecast sea surface temperature anomaly, one field per member", "K")}
        super().__init__(path, time0, n_lead, coords, mask, variables, channels=None, title=title, attrs=attrs,
                         members=n_members)
        self.shape = self.sample_shape

    def write(self, start: int, members: np.ndarray) -> None:
        """Samples ``start .. start + n - 1``: ``members`` (n, N, L, H, W) K."""
        self._write(start, {MEMBERS_VARIABLE: members})


class EnsembleFile(NetCDFHandle):
    """An ensemble file opened once and read lazily by sample.

    Attributes:
        time0: (S,) datetime64[D]; lead: (L,) days; n_members: N; coords, mask: grid and (H, W) bool mask;
        attrs: global attributes (``model``: the forecaster, ``base_model``: its deterministic run).
    """

    def __init__(self, path: str | Path) -> None:
        import netCDF4

        self.path = Path(path)
        if not self.path.exists():
            raise DataContractError(f"{self.path}: missing; run the ensemble inference (inference_ens.py) first")
        try:
            self._ds = netCDF4.Dataset(self.path, "r")
        except Exception as err:  # noqa: BLE001
            raise DataContractError(f"{self.path}: unreadable NetCDF ({err}); re-run the ensemble inference") from err
        self._pid = os.getpid()
        ds = self._ds
        if MEMBERS_VARIABLE not in ds.variables or ds[MEMBERS_VARIABLE].dimensions[:2] != ("sample", "member"):
            self.close()
            raise DataContractError(f"{self.path}: no '{MEMBERS_VARIABLE}' (sample, member, lead, lat, lon); "
                                    f"not an ensemble file")
        self._var = ds[MEMBERS_VARIABLE]
        self._var.set_auto_maskandscale(False)
        self.time0 = _read_time0(self.path, ds)
        self.n_members = int(self._var.shape[1])
        self.n_lead = int(self._var.shape[2])
        self.lead = np.asarray(ds["lead"][:]).astype(np.int64)
        self.coords, self.mask = _read_grid(self.path, ds)
        self.attrs = {k: ds.getncattr(k) for k in ds.ncattrs()}

    def read(self, first: int, stop: int) -> np.ndarray:
        """Samples ``first .. stop - 1`` -> (n, N, L, H, W) float32 K, NaN on land."""
        return np.asarray(self._var[first:stop], dtype=np.float32)


def read_analysis_error_std(path: str | Path, time0: np.ndarray, coords: GridCoords) -> np.ndarray:
    """The analysis-error standard deviation of SSTA (K) on each start date -> (S, H, W) float32.

    Args:
        path: ``<Method>_analysis.nc`` holding ``ssta_error_std`` (lat, lon) or (time, lat, lon).
        time0: (S,) start dates; coords: the forecast grid (the file's must match).

    Raises:
        DataContractError naming the file: variable missing, other grid, a start date not in the file,
        or a negative / non-finite value over the ocean.
    """
    import netCDF4

    path = Path(path)
    if not path.exists():
        raise DataContractError(f"{path}: missing; write it with the assimilation, or set ensemble.initial.analysis: null")
    with netCDF4.Dataset(path) as ds:
        if ANALYSIS_STD_VARIABLE not in ds.variables:
            raise DataContractError(f"{path}: variable '{ANALYSIS_STD_VARIABLE}' missing (K, (lat, lon) or (time, lat, lon))")
        grid, _ = _read_grid(path, ds)
        if not grid.allclose(coords):
            raise DataContractError(f"{path}: grid {grid.shape} differs from the forecasts' {coords.shape}")
        var = ds[ANALYSIS_STD_VARIABLE]
        var.set_auto_mask(False)
        dates = as_dates(time0)
        if var.ndim == 2:
            out = np.repeat(np.asarray(var[:], dtype=np.float32)[None], dates.size, axis=0)
        elif var.ndim == 3 and "time" in ds.variables:
            times = netCDF4.num2date(ds["time"][:], ds["time"].units, getattr(ds["time"], "calendar", "standard"),
                                     only_use_cftime_datetimes=False, only_use_python_datetimes=True)
            days = np.array([np.datetime64(t.date(), "D") for t in np.atleast_1d(times)])
            index = {d: i for i, d in enumerate(days)}
            missing = [d for d in dates if d not in index]
            if missing:
                raise DataContractError(f"{path}: no analysis error for {len(missing)} start date(s), first {missing[0]}")
            out = np.stack([np.asarray(var[index[d]], dtype=np.float32) for d in dates])
        else:
            raise DataContractError(f"{path}: '{ANALYSIS_STD_VARIABLE}' must be (lat, lon) or (time, lat, lon) with a time coordinate")
    return out


__all__ = ["ANALYSIS_STD_VARIABLE", "MEMBERS_VARIABLE", "EnsembleFile", "EnsembleWriter", "read_analysis_error_std"]
