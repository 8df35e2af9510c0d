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
from oceane2e.data.forecast_files import (
    _check_mask,
    _read_grid,
    _read_time0,
    _tmp_name,
    _write_common,
    as_dates,
)

MEMBERS_VARIABLE = "ssta"
ANALYSIS_STD_VARIABLE = "ssta_error_std"


class EnsembleWriter:
    """Write ``(sample, member, lead, lat, lon)`` SSTA members block by block (temp file, renamed on close).

    Args:
        path: output file; time0: (S,) strictly increasing start dates; n_members, n_lead: sizes;
        coords, mask: grid and (H, W) ocean mask (land written as NaN); title, attrs: global attributes.
    """

    def __init__(self, path: str | Path, time0: Sequence | np.ndarray, n_members: int, n_lead: int,
                 coords: GridCoords, mask: np.ndarray, *, title: str = "Ocean-E2E ensemble forecast",
                 attrs: Mapping[str, object] | None = None) -> None:
        import netCDF4

        self.path = Path(path)
        self.time0 = as_dates(time0)
        if self.time0.ndim != 1 or self.time0.size == 0:
            raise DataContractError(f"{self.path}: time0 must be a non-empty 1-D array of start dates")
        if self.time0.size > 1 and not np.all(np.diff(self.time0).astype(int) > 0):
            raise DataContractError(f"{self.path}: time0 must be strictly increasing (sort the samples by date)")
        if n_members < 1 or n_lead < 1:
            raise DataContractError(f"{self.path}: n_members and n_lead must be >= 1, got {n_members}, {n_lead}")
        self.shape = (int(n_members), int(n_lead), *coords.shape)
        self._land = ~_check_mask(self.path, mask, coords)
        self._written = np.zeros(self.time0.size, dtype=bool)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _tmp_name(self.path)
        self._ds = ds = netCDF4.Dataset(self._tmp, "w", format="NETCDF4")
        _write_common(ds, self.time0, int(n_lead), coords, mask)
        ds.createDimension("member", int(n_members))
        member = ds.createVariable("member", "i4", ("member",))
        member.long_name = "ensemble member"
        member.standard_name = "realization"
        member[:] = np.arange(int(n_members), dtype=np.int32)
        var = ds.createVariable(MEMBERS_VARIABLE, "f4", ("sample", "member", "lead", "lat", "lon"),
                                chunksizes=(1, 1, 1, *coords.shape), fill_value=np.float32(np.nan))
        var.units, var.long_name = "K", "forecast sea surface temperature anomaly, one field per member"
        var.coordinates = "time forecast_reference_time lead member"
        var.set_auto_maskandscale(False)
        self._var = var
        ds.title = title
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value if not isinstance(value, bool) else int(value))

    def write(self, start: int, members: np.ndarray) -> None:
        """Samples ``start .. start + n - 1``: ``members`` (n, N, L, H, W) K."""
        members = np.asarray(members)
        n = members.shape[0]
        if members.shape[1:] != self.shape:
            raise DataContractError(f"{self.path}: block shape {members.shape} != (n, *{self.shape})")
        if start < 0 or start + n > self.time0.size:
            raise DataContractError(f"{self.path}: samples {start}..{start + n - 1} outside 0..{self.time0.size - 1}")
        for i in range(n):
            sample = members[i].astype(np.float32, copy=True)
            sample[..., self._land] = np.nan
            self._var[start + i] = sample
        self._written[start : start + n] = True

    def close(self) -> Path:
        """Finish the file and move it into place; every sample must have been written."""
        if not self._ds.isopen():
            return self.path
        if not self._written.all():
            self.abort()
            raise DataContractError(f"{self.path}: {int((~self._written).sum())} sample(s) never written; nothing saved")
        self._ds.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the unfinished file."""
        if self._ds.isopen():
            self._ds.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> EnsembleWriter:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


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
