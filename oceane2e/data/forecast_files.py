"""Forecast files: stage-1 velocity forecasts (``MultiConv_data.nc``) and SSTA forecasts.

Both are CF NetCDF with a ``forecast_reference_time`` coordinate per sample (the date of the
initial state, "time0") and a ``lead`` coordinate in days (1-based: lead k is valid on
time0 + k days). Land is NaN (the fill value) and the ``mask`` variable (1 ocean, 0 land) is
stored beside the data. Arrays are chunked one (sample, lead) per chunk so that a training
window reads only what it needs.
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
    read_channel_names,
    write_channel_names,
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
    la = ds.createVariable("lat", "f8", ("lat",))
    la.units, la.standard_name = "degrees_north", "latitude"
    la[:] = coords.lat
    lo = ds.createVariable("lon", "f8", ("lon",))
    lo.units, lo.standard_name = "degrees_east", "longitude"
    lo[:] = coords.lon
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


def _write_sample_major(var, data: np.ndarray, land: np.ndarray | None) -> None:
    """Write ``data`` (S, L, ...) sample by sample, land set to NaN."""
    for s in range(data.shape[0]):
        block = np.asarray(data[s], dtype=np.float32)
        if land is not None:
            block = np.where(land, np.float32(np.nan), block)
        var[s] = block


# --------------------------------------------------------------------------------------------
# stage-1 velocity forecasts


def write_velocity_forecast(
    path: str | Path,
    outputs: np.ndarray,
    time0: Sequence | np.ndarray,
    coords: GridCoords,
    mask: np.ndarray | None,
    targets: np.ndarray | None = None,
    *,
    channels: Sequence[str] = GEO_CHANNELS,
    attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write ``MultiConv_data.nc``.

    Args:
        path: output file (written to a temporary name, then renamed).
        outputs: (S, L, C, H, W) forecast velocities in m s-1, lead 1..L.
        time0: (S,) start dates (datetime64 or int days since 1970-01-01), strictly increasing.
        coords: grid (degrees).
        mask: (H, W), True/1 over the ocean; land is written as NaN.
        targets: optional (S, L, C, H, W) observed velocities on the same days.
        channels: channel names of axis 2 (default ``("u_g", "v_g")``).
        attrs: extra global attributes (e.g. ``model``, ``checkpoint``).
    """
    import netCDF4

    path = Path(path)
    outputs = np.asarray(outputs)
    dates = as_dates(time0)
    names = tuple(channels)
    n_lead = int(outputs.shape[1]) if outputs.ndim == 5 else -1
    expected = (dates.size, n_lead, len(names), *coords.shape)
    if outputs.shape != expected:
        raise DataContractError(
            f"{path}: outputs shape {outputs.shape} != (sample, lead, channel, lat, lon) = {expected}"
        )
    if targets is not None and np.shape(targets) != outputs.shape:
        raise DataContractError(f"{path}: targets shape {np.shape(targets)} != outputs shape {outputs.shape}")
    if dates.size > 1 and not np.all(np.diff(dates).astype(int) > 0):
        raise DataContractError(f"{path}: time0 must be strictly increasing (sort the samples by date)")
    mask = _check_mask(path, mask, coords)
    land = None if mask is None else ~mask
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        _write_common(ds, dates, n_lead, coords, mask)
        ds.createDimension("channel", len(names))
        write_channel_names(ds, names)
        dims = ("sample", "lead", "channel", "lat", "lon")
        chunks = (1, 1, len(names), *coords.shape)
        for var_name, data, long_name in (
            ("outputs", outputs, "forecast surface geostrophic velocity"),
            ("targets", targets, "observed surface geostrophic velocity"),
        ):
            if data is None:
                continue
            var = ds.createVariable(var_name, "f4", dims, chunksizes=chunks, fill_value=np.float32(np.nan))
            var.units = "; ".join(CHANNEL_UNITS.get(n, "1") for n in names)
            var.long_name = long_name + " (" + "; ".join(CHANNEL_LONG_NAMES.get(n, n) for n in names) + ")"
            var.channel_names = ",".join(names)
            var.set_auto_maskandscale(False)
            _write_sample_major(var, data, land)
        ds.title = "Ocean-E2E stage-1 velocity forecasts"
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value if not isinstance(value, bool) else int(value))
    tmp.replace(path)
    return path


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


class VelocityForecastFile:
    """``MultiConv_data.nc`` opened once (per process) and read lazily by sample.

    Attributes:
        time0: (S,) ``datetime64[D]`` start dates.
        n_lead: number of leads L.
        channels: channel names of axis 2.
        coords, mask: grid and (H, W) bool mask (None when the file has no mask).
        has_targets: whether ``targets`` is stored.
    """

    def __init__(self, path: str | Path) -> None:
        import netCDF4

        self.path = Path(path)
        if not self.path.exists():
            raise DataContractError(
                f"{self.path}: missing; run stage-1 inference (inference_vel.py) to write the velocity forecasts"
            )
        try:
            self._ds = netCDF4.Dataset(self.path, "r")
        except Exception as err:  # noqa: BLE001
            raise DataContractError(f"{self.path}: unreadable or corrupt NetCDF ({err}); re-run inference_vel.py") from err
        ds = self._ds
        if "outputs" not in ds.variables:
            self.close()
            raise DataContractError(f"{self.path}: variable 'outputs' missing; is this a MultiConv_data.nc file?")
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
        if "channel" in ds.variables:
            self.channels = read_channel_names(ds["channel"])
        else:
            self.channels = GEO_CHANNELS[: int(self._outputs.shape[2])]
        self.coords, self.mask = _read_grid(self.path, ds)
        self.attrs = {k: ds.getncattr(k) for k in ds.ncattrs()}
        self._index = {int(d): i for i, d in enumerate(self.time0.astype("int64"))}

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
                f"re-run inference_vel.py over the years used here"
            ) from None

    def read(self, time0: np.datetime64 | int, n_lead: int | None = None, *, targets: bool = False) -> np.ndarray:
        """Leads 1..``n_lead`` of the sample starting on ``time0`` -> (n_lead, C, H, W) float32 (NaN on land)."""
        n_lead = self.n_lead if n_lead is None else int(n_lead)
        if n_lead > self.n_lead:
            raise DataContractError(
                f"{self.path}: {n_lead} leads requested but the file holds {self.n_lead}; "
                f"re-run inference_vel.py with at least {n_lead} output days"
            )
        var = self._targets if targets else self._outputs
        if var is None:
            raise DataContractError(f"{self.path}: no 'targets' stored")
        return np.asarray(var[self.sample_index(time0), :n_lead], dtype=np.float32)

    def close(self) -> None:
        ds = getattr(self, "_ds", None)
        if ds is not None and ds.isopen():
            ds.close()

    def __enter__(self) -> VelocityForecastFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        raise TypeError("VelocityForecastFile holds an open NetCDF handle; open it inside the worker instead")


@dataclass
class VelocityForecast:
    """``MultiConv_data.nc`` in memory. Arrays: (S, L, C, H, W) m s-1, NaN on land."""

    outputs: np.ndarray
    targets: np.ndarray | None
    time0: np.ndarray  # (S,) datetime64[D]
    lead: np.ndarray  # (L,) int, days
    channels: tuple[str, ...]
    coords: GridCoords
    mask: np.ndarray | None
    attrs: dict = field(default_factory=dict)


def read_velocity_forecast(path: str | Path) -> VelocityForecast:
    """Read a whole ``MultiConv_data.nc`` into memory (use :class:`VelocityForecastFile` for lazy reads)."""
    with VelocityForecastFile(path) as f:
        outputs = np.asarray(f._outputs[:], dtype=np.float32)
        targets = None if f._targets is None else np.asarray(f._targets[:], dtype=np.float32)
        lead = np.asarray(f._ds["lead"][:]) if "lead" in f._ds.variables else np.arange(1, f.n_lead + 1)
        return VelocityForecast(
            outputs=outputs,
            targets=targets,
            time0=f.time0,
            lead=lead.astype(np.int64),
            channels=f.channels,
            coords=f.coords,
            mask=f.mask,
            attrs=f.attrs,
        )


# --------------------------------------------------------------------------------------------
# SSTA forecasts (results/<Model>_forecast.nc)


@dataclass
class Forecast:
    """An SSTA forecast file in memory. Arrays: (S, L, H, W) in K, NaN on land."""

    forecast: np.ndarray
    truth: np.ndarray | None
    time0: np.ndarray  # (S,) datetime64[D]
    lead: np.ndarray  # (L,) int, days
    coords: GridCoords
    mask: np.ndarray | None
    model: str
    attrs: dict = field(default_factory=dict)


def write_forecast(
    path: str | Path,
    forecast: np.ndarray,
    time0: Sequence | np.ndarray,
    coords: GridCoords,
    mask: np.ndarray | None,
    model: str,
    truth: np.ndarray | None = None,
    *,
    attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write an SSTA forecast as CF NetCDF (``results/<Model>_forecast.nc``).

    Args:
        forecast: (S, L, H, W) SSTA in K; lead k is valid on time0 + k days.
        time0: (S,) start dates (datetime64 or int days since 1970-01-01), strictly increasing.
        coords, mask: grid and (H, W) ocean mask; land is written as NaN.
        model: model name, stored in the ``model`` global attribute.
        truth: optional (S, L, H, W) observed SSTA on the same days (variable ``ssta_true``).
    """
    import netCDF4

    path = Path(path)
    forecast = np.asarray(forecast)
    dates = as_dates(time0)
    if forecast.ndim != 4 or forecast.shape[0] != dates.size or forecast.shape[2:] != coords.shape:
        raise DataContractError(
            f"{path}: forecast shape {forecast.shape} != (sample={dates.size}, lead, lat, lon={coords.shape})"
        )
    if truth is not None and np.shape(truth) != forecast.shape:
        raise DataContractError(f"{path}: truth shape {np.shape(truth)} != forecast shape {forecast.shape}")
    if dates.size > 1 and not np.all(np.diff(dates).astype(int) > 0):
        raise DataContractError(f"{path}: time0 must be strictly increasing (sort the samples by date)")
    mask = _check_mask(path, mask, coords)
    land = None if mask is None else ~mask
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    n_lead = forecast.shape[1]
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        _write_common(ds, dates, n_lead, coords, mask)
        dims = ("sample", "lead", "lat", "lon")
        for var_name, data, long_name in (
            ("ssta", forecast, f"sea surface temperature anomaly forecast by {model}"),
            ("ssta_true", truth, "observed sea surface temperature anomaly"),
        ):
            if data is None:
                continue
            var = ds.createVariable(
                var_name, "f4", dims, chunksizes=(1, 1, *coords.shape), fill_value=np.float32(np.nan)
            )
            var.units, var.long_name = "K", long_name
            var.coordinates = "time forecast_reference_time lead"
            var.set_auto_maskandscale(False)
            _write_sample_major(var, data, land)
        ds.title = f"Ocean-E2E SSTA forecast of {model}"
        ds.model = model
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value if not isinstance(value, bool) else int(value))
    tmp.replace(path)
    return path


def read_forecast(path: str | Path) -> Forecast:
    """Read a file written by :func:`write_forecast`."""
    import netCDF4

    path = Path(path)
    if not path.exists():
        raise DataContractError(f"{path}: missing; run the inference of that model first")
    try:
        ds = netCDF4.Dataset(path, "r")
    except Exception as err:  # noqa: BLE001
        raise DataContractError(f"{path}: unreadable or corrupt NetCDF ({err}); re-run the inference") from err
    with ds:
        if "ssta" not in ds.variables:
            raise DataContractError(f"{path}: variable 'ssta' missing; is this a forecast file?")
        ds.set_auto_mask(False)
        forecast = np.asarray(ds["ssta"][:], dtype=np.float32)
        truth = np.asarray(ds["ssta_true"][:], dtype=np.float32) if "ssta_true" in ds.variables else None
        coords, mask = _read_grid(path, ds)
        attrs = {k: ds.getncattr(k) for k in ds.ncattrs()}
        return Forecast(
            forecast=forecast,
            truth=truth,
            time0=_read_time0(path, ds),
            lead=np.asarray(ds["lead"][:]).astype(np.int64),
            coords=coords,
            mask=mask,
            model=str(attrs.get("model", "")),
            attrs=attrs,
        )
