"""Files written by ``oceane2e detect`` besides the events: climatology, annual statistics, trends.

A series gets CSV tables, a grid NetCDF files on its (lat, lon) grid:

* climatology: series ``date,seas,thresh`` (one row per day of the record, as the reference's
  ``clim`` output); grid ``seas``/``thresh`` (doy, lat, lon).
* annual (block) statistics: series one row per block (:meth:`BlockStats.to_frame`); grid one
  variable per statistic (year, lat, lon), ``year`` the first year of the block.
* trends: series one row per statistic (:meth:`TrendStats.to_frame`); grid variables ``mean``,
  ``trend_per_decade``, ... (statistic, lat, lon).

Every file is written to a temporary name beside the target and moved into place, so a failed
write never leaves a truncated file under the final name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from oceane2e.mhw.annual import BlockStats, TrendStats, stat_units
from oceane2e.mhw.climatology import doy_index
from oceane2e.mhw.detect import MHWResult

_LONG_NAMES = {
    "count": "number of events starting in the block",
    "duration": "mean event duration",
    "intensity_max_max": "strongest event peak intensity",
    "total_days": "event days in the block",
    "total_icum": "total cumulative intensity of the events ending in the block",
    "temp_mean": "mean temperature",
    "temp_max": "maximum temperature",
    "temp_min": "minimum temperature",
    "rate_onset": "mean event onset rate",
    "rate_decline": "mean event decline rate",
}


def _long_name(name: str) -> str:
    if name in _LONG_NAMES:
        return _LONG_NAMES[name]
    if name.endswith("_days"):
        return f"event days of category {name.removesuffix('_days')}"
    return "mean event " + name.replace("_", " ")


def _replace_into(tmp: Path, path: Path) -> Path:
    tmp.replace(path)
    return path


def write_table_csv(path: Path, table: pd.DataFrame) -> Path:
    """A small table as CSV (floats at full precision, NaN and missing counts as empty fields)."""
    tmp = path.with_name(path.name + ".tmp")
    table.to_csv(tmp, index=False)
    return _replace_into(tmp, path)


def clim_table(result: MHWResult) -> pd.DataFrame:
    """The climatology on every day of a series' record: ``date, seas, thresh``."""
    if result.grid_shape:
        raise ValueError("clim_table is for a single series; grids keep seas/thresh by day of year")
    doy = doy_index(result.dates)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(result.dates).strftime("%Y-%m-%d"),
            "seas": result.seas[doy],
            "thresh": result.thresh[doy],
        }
    )


def _lat_lon(lat: np.ndarray, lon: np.ndarray) -> dict:
    import xarray as xr

    return {
        "lat": xr.Variable("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": xr.Variable("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }


def _to_netcdf(ds, path: Path) -> Path:
    encoding = {name: {"zlib": True, "complevel": 1} for name in ds.data_vars if ds[name].dtype.kind != "U"}
    tmp = path.with_name(path.name + ".tmp")
    ds.to_netcdf(tmp, encoding=encoding)
    return _replace_into(tmp, path)


def climatology_variables(result: MHWResult, units: str) -> dict:
    """``seas`` and ``thresh`` (doy, lat, lon) as xarray variables, float32."""
    import xarray as xr

    pct = "low" if result.cold_spells else "high"
    return {
        "seas": xr.Variable(
            ("doy", "lat", "lon"),
            result.seas.astype(np.float32),
            {"long_name": "seasonal climatology", "units": units},
        ),
        "thresh": xr.Variable(
            ("doy", "lat", "lon"),
            result.thresh.astype(np.float32),
            {"long_name": f"seasonal percentile threshold ({pct})", "units": units},
        ),
    }


def write_clim_netcdf(path: Path, result: MHWResult, lat: np.ndarray, lon: np.ndarray, attrs: dict) -> Path:
    """The climatology of a grid alone: ``seas``, ``thresh`` (doy, lat, lon)."""
    import xarray as xr

    doy = xr.Variable(
        "doy", np.arange(1, 367, dtype=np.int16), {"long_name": "day of year (366-day calendar)"}
    )
    ds = xr.Dataset(
        climatology_variables(result, attrs.get("units", "")),
        coords={"doy": doy, **_lat_lon(lat, lon)},
        attrs=attrs,
    )
    return _to_netcdf(ds, path)


def write_annual_netcdf(path: Path, block: BlockStats, lat: np.ndarray, lon: np.ndarray, attrs: dict) -> Path:
    """Block statistics of a grid: one variable per statistic, (year, lat, lon), float64."""
    import xarray as xr

    units = attrs.get("units", "")
    data = {
        name: xr.Variable(
            ("year", "lat", "lon"), values, {"long_name": _long_name(name), "units": stat_units(name, units)}
        )
        for name, values in block.stats.items()
    }
    data["year_end"] = xr.Variable("year", block.years_end, {"long_name": "last year of the block"})
    year = xr.Variable("year", block.years_start, {"long_name": "first year of the block"})
    ds = xr.Dataset(
        data,
        coords={"year": year, **_lat_lon(lat, lon)},
        attrs={**attrs, "block_years": block.block_years},
    )
    return _to_netcdf(ds, path)


def write_trends_netcdf(
    path: Path, trends: TrendStats, lat: np.ndarray, lon: np.ndarray, attrs: dict
) -> Path:
    """Mean and trend of every block statistic of a grid: (statistic, lat, lon) variables."""
    import xarray as xr

    descriptions = {
        "n_blocks": ("blocks with a value", "1"),
        "mean": ("value of the fitted line at the centre of the record", "units of the statistic"),
        "trend_per_decade": ("least-squares slope", "units of the statistic per decade"),
        "stderr_per_decade": ("standard error of the slope", "units of the statistic per decade"),
        "dtrend_per_decade": (
            f"half-width of the {100 * (1 - trends.alpha):g}% confidence interval of the slope",
            "units of the statistic per decade",
        ),
        "p_value": ("two-sided p-value of a zero slope (Student t)", "1"),
    }
    data = {
        name: xr.Variable(
            ("statistic", "lat", "lon"), getattr(trends, name), {"long_name": long, "units": unit}
        )
        for name, (long, unit) in descriptions.items()
    }
    statistic = xr.Variable(
        "statistic", np.asarray(trends.statistics, dtype=str), {"long_name": "block statistic"}
    )
    ds = xr.Dataset(
        data,
        coords={"statistic": statistic, **_lat_lon(lat, lon)},
        attrs={**attrs, "alpha": trends.alpha},
    )
    return _to_netcdf(ds, path)
