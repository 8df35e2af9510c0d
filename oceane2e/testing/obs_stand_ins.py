"""Observation files in outside layouts for which no real file ships here, and small target folders.

* :func:`write_cmems_l3_along_track`: the CMEMS L3 along-track sea-level layout
  (SEALEVEL_GLO_PHY_L3 products: ``time`` in days since 1950-01-01, scaled-integer ``longitude``
  (0..360) and ``latitude``, ``sla_filtered``/``sla_unfiltered`` and the corrections, ``cycle``,
  ``track``).
* :func:`write_gdp_drifters`: the GDP (Global Drifter Program) ragged-array layout (``traj`` and
  ``obs`` dimensions, ``rowsize``, ``ID``, ``time``, ``lat``, ``lon``, ``sst`` in K, ``err_sst``,
  ``flg_sst``), as distributed by NOAA AOML and ERDDAP.

Both are STAND-INS: the values are whatever the caller gives (synthetic), every file says so in its
global attributes (``stand_in = 1``, ``comment``), and they exist only so that the readers of those
layouts are tested. :func:`write_target_folder` writes the part of a data folder the observation
converters need (``clim.nc``, ``mask.npy``) around any region of the globe.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oceane2e.data.contract import CLIM_FILE, GridCoords, write_clim, write_mask

STAND_IN_COMMENT = ("STAND-IN: synthetic values written by oceane2e.testing.obs_stand_ins in the layout of "
                    "{product}; not observations. Exists only to test the reader of that layout.")


def write_target_folder(
    root: str | Path,
    lat_bounds: tuple[float, float],
    lon_bounds: tuple[float, float],
    shape: Sequence[int],
    *,
    ocean: np.ndarray | None = None,
    seas: float | np.ndarray = 288.0,
) -> GridCoords:
    """Write ``clim.nc`` and ``mask.npy`` of a regular grid filling the given edges.

    Args:
        lat_bounds, lon_bounds: region edges in degrees (longitudes in either convention).
        shape: (H, W) cells.
        ocean: (H, W) bool, True over the ocean (default: all ocean).
        seas: the SST climatology, a constant or a (366, H, W) array, in K or in °C (the converters
            recognise the unit from the values; ``clim.nc`` is always labelled K by ``write_clim``).

    Returns:
        The grid's cell centres.
    """
    root = Path(root)
    h, w = int(shape[0]), int(shape[1])
    coords = GridCoords.from_bounds(lat_bounds, lon_bounds, (h, w))
    mask = np.ones((h, w), bool) if ocean is None else np.asarray(ocean, bool)
    s = np.broadcast_to(np.asarray(seas, dtype=np.float64), (366, h, w)).copy()
    write_clim(root / CLIM_FILE, s, s + 1.5, coords, variable="sst", baseline=(2000, 2001), window_half_width=5,
               smooth_width=31, percentile=90.0, mask=mask, attrs={"stand_in": 1})
    write_mask(root, mask)
    return coords


def write_cmems_l3_along_track(
    path: str | Path,
    time: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    sla_filtered: np.ndarray,
    sla_unfiltered: np.ndarray | None = None,
    *,
    platform: str = "Jason-3",
) -> Path:
    """Write a stand-in of a CMEMS L3 along-track SLA file.

    Args:
        time: (N,) datetime64; lat: (N,) degrees north; lon: (N,) degrees east (any convention,
            written as 0..360 like the product); sla_filtered, sla_unfiltered: (N,) m, NaN = missing.
    """
    import netCDF4

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(time)
    days = (np.asarray(time, "datetime64[ms]") - np.datetime64("1950-01-01", "ms")).astype(np.float64) / 86400e3
    unf = sla_filtered if sla_unfiltered is None else sla_unfiltered
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.createDimension("time", None)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.standard_name, t.long_name, t.calendar, t.axis = (
            "days since 1950-01-01 00:00:00", "time", "Time of measurement", "gregorian", "T")
        t[:] = days
        for name, values, units, std in (("longitude", np.mod(lon, 360.0), "degrees_east", "longitude"),
                                         ("latitude", lat, "degrees_north", "latitude")):
            v = ds.createVariable(name, "i4", ("time",), fill_value=np.int32(2147483647))
            v.scale_factor, v.add_offset = 1e-6, 0.0
            v.units, v.standard_name, v.long_name = units, std, f"{std.capitalize()} of measurement"
            v[:] = np.asarray(values, np.float64)
        for name, values, long_name in (
            ("sla_filtered", sla_filtered, "Sea level anomaly filtered not-subsampled with dac, ocean_tide and "
             "lwe correction applied"),
            ("sla_unfiltered", unf, "Sea level anomaly not-filtered not-subsampled with dac, ocean_tide and "
             "lwe correction applied"),
            ("dac", np.zeros(n), "Dynamic Atmospheric Correction"),
            ("ocean_tide", np.zeros(n), "Ocean tide model"),
            ("internal_tide", np.zeros(n), "Internal tide correction"),
            ("lwe", np.zeros(n), "Long wavelength error"),
            ("mdt", np.zeros(n), "Mean dynamic topography"),
        ):
            v = ds.createVariable(name, "i2", ("time",), fill_value=np.int16(32767))
            v.scale_factor, v.add_offset = 0.001, 0.0
            v.units, v.long_name = "m", long_name
            if name.startswith("sla"):
                v.standard_name = "sea_surface_height_above_sea_level"
            arr = np.asarray(values, np.float64)
            bad = ~np.isfinite(arr)
            v[:] = np.ma.masked_array(np.where(bad, 0.0, arr), mask=bad)
        for name in ("cycle", "track"):
            v = ds.createVariable(name, "i2", ("time",))
            v.long_name = f"{name} number"
            v[:] = np.ones(n, np.int16)
        ds.Conventions = "CF-1.6"
        ds.featureType = "trajectory"
        ds.title = "stand-in: SEALEVEL_GLO_PHY_L3 along-track sea level anomalies"
        ds.platform = platform
        ds.institution = "stand-in (Ocean-E2E tests), not CLS/CMEMS"
        ds.stand_in = np.int8(1)
        ds.comment = STAND_IN_COMMENT.format(product="CMEMS L3 along-track SLA (SEALEVEL_GLO_PHY_L3)")
    return path


def write_gdp_drifters(
    path: str | Path,
    ids: Sequence[int],
    rowsize: Sequence[int],
    time: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    sst_k: np.ndarray,
    *,
    err_sst: np.ndarray | None = None,
    flg_sst: np.ndarray | None = None,
) -> Path:
    """Write a stand-in of a GDP ragged-array drifter file (records of each drifter contiguous).

    Args:
        ids, rowsize: (T,) drifter identifiers and their numbers of records (sum = N).
        time: (N,) datetime64; lat, lon: (N,) degrees; sst_k: (N,) K, NaN = missing;
        err_sst: (N,) K; flg_sst: (N,) int 0..5 (5 best).
    """
    import netCDF4

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(time)
    if int(np.sum(rowsize)) != n:
        raise ValueError(f"rowsize sums to {int(np.sum(rowsize))}, but there are {n} records")
    secs = (np.asarray(time, "datetime64[s]") - np.datetime64("1970-01-01", "s")).astype(np.float64)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.createDimension("traj", len(ids))
        ds.createDimension("obs", n)
        v = ds.createVariable("ID", "i8", ("traj",))
        v.long_name, v.cf_role = "Global Drifter Program Buoy ID", "trajectory_id"
        v[:] = np.asarray(ids, np.int64)
        v = ds.createVariable("rowsize", "i4", ("traj",))
        v.long_name, v.sample_dimension = "Number of observations per trajectory", "obs"
        v[:] = np.asarray(rowsize, np.int32)
        v = ds.createVariable("time", "f8", ("obs",))
        v.units, v.standard_name, v.long_name = "seconds since 1970-01-01 00:00:00", "time", "Time"
        v[:] = secs
        for name, values, units, std in (("lat", lat, "degrees_north", "latitude"),
                                         ("lon", lon, "degrees_east", "longitude")):
            v = ds.createVariable(name, "f4", ("obs",), fill_value=np.float32(np.nan))
            v.units, v.standard_name = units, std
            v[:] = np.asarray(values, np.float32)
        v = ds.createVariable("sst", "f4", ("obs",), fill_value=np.float32(np.nan))
        v.units, v.standard_name, v.long_name = "Kelvin", "sea_water_temperature", "Fitted sea water temperature"
        v[:] = np.asarray(sst_k, np.float32)
        v = ds.createVariable("err_sst", "f4", ("obs",), fill_value=np.float32(np.nan))
        v.units, v.long_name = "Kelvin", "Standard uncertainty of fitted sea water temperature"
        v[:] = np.full(n, np.nan, np.float32) if err_sst is None else np.asarray(err_sst, np.float32)
        v = ds.createVariable("flg_sst", "i1", ("obs",), fill_value=np.int8(-1))
        v.long_name = "Fitted sea water temperature quality flag"
        v.flag_values = np.arange(6, dtype=np.int8)
        v.flag_meanings = ("no_estimate no_quality_control bad_estimate probably_bad_estimate "
                           "probably_good_estimate good_estimate")
        v[:] = np.full(n, 5, np.int8) if flg_sst is None else np.asarray(flg_sst, np.int8)
        ds.Conventions = "CF-1.6"
        ds.featureType = "trajectory"
        ds.title = "stand-in: Global Drifter Program hourly drifter data (ragged array)"
        ds.stand_in = np.int8(1)
        ds.comment = STAND_IN_COMMENT.format(product="the GDP ragged-array drifter files (NOAA AOML / ERDDAP)")
    return path


__all__ = ["STAND_IN_COMMENT", "write_cmems_l3_along_track", "write_gdp_drifters", "write_target_folder"]
