"""Source files in the products' own layouts, for tests and for timing the converter.

Two kinds:

* :func:`tile_real_file` copies a real product file (e.g. one day of CMEMS/DUACS or GHRSST from
  ``../shared/realdata``) into a file of many days: every variable with a time dimension is the
  real field plus a per-day offset, every attribute and packing is kept. Used to build a full
  year (or several) from a real day, for the end-to-end test and the climatology path.
* :func:`write_product_file` writes arrays in the layout of a product (``duacs``, ``oisst``,
  ``ghrsst``, ``era5_old``, ``era5_new``, ``era5_expver``), with that product's packing, time
  units, longitude convention and latitude order. Used for ERA5 (no real file is available here)
  and for the real-size stand-in that times a year of the paper's box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

LAYOUTS = ("duacs", "oisst", "ghrsst", "era5_old", "era5_new", "era5_expver")


def tile_real_file(
    src: str | Path,
    dst: str | Path,
    dates: np.ndarray,
    offsets: Mapping[str, np.ndarray] | None = None,
    *,
    time_name: str | None = None,
    isel: Mapping[str, slice] | None = None,
) -> Path:
    """Write ``dst``: the first time step of ``src`` repeated on ``dates`` (+ ``offsets[var][t]``).

    Args:
        src: a real product file with a time dimension (its first step is used).
        dates: (T,) datetime64[D] days to write.
        offsets: per variable, (T,) values added to the field of each day (source units).
        time_name: the time variable (default: ``time``).
        isel: optional index ranges per dimension (e.g. ``{"lat": slice(50, 120)}``) to copy only
            part of the grid (smaller test files).
    """
    import netCDF4

    dates = np.asarray(dates, dtype="datetime64[D]")
    offsets = dict(offsets or {})
    tname = time_name or "time"
    isel = dict(isel or {})
    dst = Path(dst)
    with netCDF4.Dataset(src) as s, netCDF4.Dataset(dst, "w", format="NETCDF4") as d:
        for name, dim in s.dimensions.items():
            size = len(range(len(dim))[isel[name]]) if name in isel else len(dim)
            d.createDimension(name, dates.size if name == tname else size)
        for name, var in s.variables.items():
            attrs = {k: var.getncattr(k) for k in var.ncattrs()}
            fill = attrs.pop("_FillValue", None)
            out = d.createVariable(name, var.dtype, var.dimensions, fill_value=fill)
            out.setncatts(attrs)
            sub = tuple(isel.get(dim, slice(None)) for dim in var.dimensions)
            if name == tname:
                t0 = netCDF4.num2date(0.0, var.units, getattr(var, "calendar", "standard"))
                step = (dates - np.datetime64(f"{t0.year:04d}-{t0.month:02d}-{t0.day:02d}", "D")).astype(
                    float
                )
                scale = (
                    86400.0
                    if var.units.startswith("seconds")
                    else 24.0
                    if var.units.startswith("hours")
                    else 1.0
                )
                out[:] = (step * scale).astype(var.dtype)
            elif tname in var.dimensions:
                axis = var.dimensions.index(tname)
                first = np.ma.take(var[sub], [0], axis=axis)  # unpacked (scale/offset applied)
                shape = [1] * var.ndim
                shape[axis] = dates.size
                shift = np.asarray(offsets.get(name, np.zeros(dates.size)), dtype=np.float64).reshape(shape)
                out[:] = first + shift  # broadcast along time; masked cells stay masked
            elif var.ndim:
                out[:] = var[sub]
        d.setncatts({k: s.getncattr(k) for k in s.ncattrs()})
    return dst


def _time_values(layout: str, dates: np.ndarray, hours: Sequence[int]) -> tuple[np.ndarray, str]:
    """Time values and units of a product for each date (and hour)."""
    stamps = (
        dates.astype("datetime64[h]")[:, None] + np.asarray(hours, dtype="timedelta64[h]")[None]
    ).ravel()
    if layout == "duacs":
        return (stamps - np.datetime64("1950-01-01T00", "h")).astype(
            float
        ) / 24.0, "days since 1950-01-01 00:00:00"
    if layout == "oisst":
        return (stamps - np.datetime64("1978-01-01T12", "h")).astype(
            float
        ) / 24.0, "days since 1978-01-01 12:00:00"
    if layout == "ghrsst":
        return (stamps - np.datetime64("1981-01-01T00", "h")).astype(
            float
        ) * 3600, "seconds since 1981-01-01 00:00:00"
    if layout == "era5_new":
        return (stamps - np.datetime64("1970-01-01T00", "h")).astype(float) * 3600, "seconds since 1970-01-01"
    return (stamps - np.datetime64("1900-01-01T00", "h")).astype(float), "hours since 1900-01-01 00:00:00.0"


def write_product_file(
    path: str | Path,
    layout: str,
    dates: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    data: Mapping[str, np.ndarray],
    *,
    hours: Sequence[int] = (0,),
    lon_0_360: bool = False,
    descending_lat: bool = False,
) -> Path:
    """Write ``data`` in the layout of a product.

    Args:
        layout: one of :data:`LAYOUTS`.
        dates: (T,) days; with ``hours`` (e.g. ``range(24)`` for hourly ERA5) there are
            ``T * len(hours)`` time steps.
        lat, lon: increasing cell centres (deg), longitudes -180..180.
        data: variable name -> (T * len(hours), H, W) float values in the product's units
            (NaN = land), e.g. ``{"sst": ...}`` in degC for ``oisst``.
        lon_0_360: store longitudes in 0..360 (OISST, global ERA5), columns rotated accordingly.
        descending_lat: store latitude north to south (ERA5).
    """
    import netCDF4

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    dates = np.asarray(dates, dtype="datetime64[D]")
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    order_lon = np.arange(lon.size)
    if lon_0_360:
        lon = lon % 360.0
        order_lon = np.argsort(lon)
        lon = lon[order_lon]
    order_lat = np.arange(lat.size)[::-1] if descending_lat else np.arange(lat.size)
    lat = lat[order_lat]
    tvals, tunits = _time_values(layout, dates, hours)
    era5 = layout.startswith("era5")
    lat_name, lon_name = ("lat", "lon") if layout in ("oisst", "ghrsst") else ("latitude", "longitude")
    time_name = "valid_time" if layout == "era5_new" else "time"
    path = Path(path)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.createDimension(time_name, tvals.size)
        ds.createDimension(lat_name, lat.size)
        ds.createDimension(lon_name, lon.size)
        dims: tuple[str, ...] = (time_name, lat_name, lon_name)
        if layout == "oisst":
            ds.createDimension("zlev", 1)
            z = ds.createVariable("zlev", "f4", ("zlev",))
            z.units = "meters"
            z[:] = 0.0
            dims = (time_name, "zlev", lat_name, lon_name)
        if layout == "era5_expver":
            ds.createDimension("expver", 2)
            e = ds.createVariable("expver", "i4", ("expver",))
            e[:] = [1, 5]
            dims = (time_name, "expver", lat_name, lon_name)
        t = ds.createVariable(time_name, "f8" if not era5 else "i8", (time_name,))
        t.units, t.calendar, t.standard_name = tunits, "gregorian", "time"
        t[:] = tvals
        la = ds.createVariable(lat_name, "f4", (lat_name,))
        la.units, la.standard_name = "degrees_north", "latitude"
        la[:] = lat
        lo = ds.createVariable(lon_name, "f4", (lon_name,))
        lo.units, lo.standard_name = "degrees_east", "longitude"
        lo[:] = lon
        if layout == "era5_new":
            n = ds.createVariable("number", "i8", ())
            n[...] = 0
            ev = ds.createVariable("expver", str, (time_name,))
            for i in range(tvals.size):
                ev[i] = "0001"
        for name, values in data.items():
            values = np.asarray(values, dtype=np.float64)[:, order_lat][:, :, order_lon]
            if layout == "duacs":
                var = ds.createVariable(name, "i4", dims, fill_value=np.int32(-2147483647))
                var.scale_factor, var.units = 1e-4, "m" if name in ("adt", "sla") else "m/s"
            elif layout == "oisst":
                var = ds.createVariable(name, "i2", dims, fill_value=np.int16(-999))
                var.scale_factor, var.add_offset, var.units = np.float32(0.01), np.float32(0.0), "Celsius"
                values = values[:, None]
            elif layout == "ghrsst":
                var = ds.createVariable(name, "i2", dims, fill_value=np.int16(-32768))
                var.scale_factor, var.add_offset, var.units = np.float32(0.01), np.float32(273.15), "kelvin"
            else:
                var = ds.createVariable(name, "f4", dims, fill_value=np.float32(np.nan))
                var.units = "K" if name == "t2m" else "m s**-1"
                if layout == "era5_expver":
                    # first half of the steps in ERA5 (expver 1), second half in ERA5T (expver 5)
                    both = np.full((values.shape[0], 2, *values.shape[1:]), np.nan)
                    half = values.shape[0] // 2
                    both[:half, 0] = values[:half]
                    both[half:, 1] = values[half:]
                    values = both
            nan = np.isnan(values)
            var[:] = np.ma.masked_array(np.where(nan, 0.0, values), mask=nan)
        ds.Conventions = "CF-1.6"
        ds.title = f"stand-in file in the {layout} layout (written by oceane2e tests/benchmarks)"
    return path


def time_paper_box(work_dir: str | Path, n_days: int = 6, baseline_years: int = 30) -> dict[str, float]:
    """Time the converter on real-size stand-ins of the paper's box (20-60 N, 80-30 W, 1/12 deg).

    Writes ``n_days`` of sources in the products' layouts -- DUACS 1/8 deg regional files (one per
    day), global OISST v2.1 1/4 deg files (one per day), one hourly ERA5 1/4 deg file -- converts
    them day by day exactly as :func:`oceane2e.data.converters.prepare.prepare_data` does, writes one full
    year of ``mhw``/``geo`` files, and runs one row block of the climatology over
    ``baseline_years`` years. Returns seconds and bytes, per day and extrapolated to a year.
    The caller reports them as extrapolations (no real year of the box is available here).
    """
    import time

    from oceane2e.data.contract import GEO_CHANNELS, MHW_CHANNELS, write_year
    from oceane2e.data.converters.prepare import _convert_days, climatology_block_rows
    from oceane2e.data.converters.regrid import Regridder, regular_grid
    from oceane2e.data.converters.sources import DailySource, Quantity
    from oceane2e.mhw.climatology import compute_climatology

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    grid = regular_grid((20.0, 60.0), (-80.0, -30.0), 1.0 / 12.0)
    dates = np.datetime64("2019-01-01") + np.arange(n_days)
    res: dict[str, float] = {"n_days": n_days}

    t0 = time.perf_counter()
    alat, alon = np.arange(20.0625, 60, 0.125), np.arange(-79.9375, -30, 0.125)
    olat, olon = np.arange(-89.875, 90, 0.25), np.arange(-179.875, 180, 0.25)
    elat, elon = np.arange(20.0, 60.01, 0.25), np.arange(-80.0, -29.99, 0.25)
    land_a = (alat[:, None] > 45) & (alon[None, :] < -65)
    land_o = (olat[:, None] > 45) & (olon[None, :] < -65) & (olon[None, :] > -100)
    for k, d in enumerate(dates):
        one = np.array([d])
        f = {v: rng.normal(0, 0.3, (1, alat.size, alon.size)) for v in ("ugos", "vgos", "adt")}
        for v in f.values():
            v[:, land_a] = np.nan
        stamp = str(d).replace("-", "")
        write_product_file(work / f"dt_global_allsat_phy_l4_{stamp}_20200101.nc", "duacs", one, alat, alon, f)
        sst = 15 + rng.normal(0, 1, (1, olat.size, olon.size))
        sst[:, land_o] = np.nan
        write_product_file(
            work / f"oisst-avhrr-v02r01.{stamp}.nc", "oisst", one, olat, olon, {"sst": sst}, lon_0_360=True
        )
        del k
    n_e = n_days * 24
    e = {v: rng.normal(0, 3, (n_e, elat.size, elon.size)).astype(np.float32) for v in ("u10", "v10")}
    e["t2m"] = 285 + rng.normal(0, 3, (n_e, elat.size, elon.size)).astype(np.float32)
    write_product_file(
        work / "era5_2019.nc", "era5_new", dates, elat, elon, e, hours=range(24), descending_lat=True
    )
    res["write_sources_s"] = time.perf_counter() - t0
    res["source_bytes_per_day"] = sum(p.stat().st_size for p in work.glob("*.nc")) / n_days

    products = {
        "sst": ("oisst-*.nc", [Quantity("sst", ("sst",), "temperature")]),
        "altimetry": (
            "dt_global_*.nc",
            [
                Quantity("u_g", ("ugos",), "speed"),
                Quantity("v_g", ("vgos",), "speed"),
                Quantity("zos", ("adt",), "length"),
            ],
        ),
        "era5": (
            "era5_*.nc",
            [Quantity(n, (n,), "speed" if n != "t2m" else "temperature") for n in ("u10", "v10", "t2m")],
        ),
    }
    for name, (pattern, quantities) in products.items():
        src = DailySource(str(work / pattern), name, quantities, (20.0, 60.0))
        regridder = Regridder.build(src.lat, src.lon, grid)
        arr = np.empty((n_days, len(quantities), *grid.shape), np.float32)
        t0 = time.perf_counter()
        _convert_days(
            src, regridder, dates, {q.name: (arr, i) for i, q in enumerate(quantities)}, name, False
        )
        res[f"{name}_s_per_day"] = (time.perf_counter() - t0) / n_days

    t0 = time.perf_counter()
    year = 2019
    for kind, channels in (("mhw", MHW_CHANNELS), ("geo", GEO_CHANNELS)):
        data = np.lib.format.open_memmap(
            work / f"{kind}.npy", "w+", np.float32, (365, len(channels), *grid.shape)
        )
        for t in range(365):
            data[t] = 0.1 * t
        path = write_year(work / f"{kind}_{year}.nc", kind, year, data, grid, channels=channels)
        res[f"{kind}_file_bytes"] = float(path.stat().st_size)
        del data
        (work / f"{kind}.npy").unlink()
    res["write_year_s"] = time.perf_counter() - t0

    n_t = 365 * baseline_years + baseline_years // 4
    rows = climatology_block_rows(n_t, grid.shape[1])
    dates_b = np.datetime64("1990-01-01") + np.arange(n_t)
    doy = (dates_b - dates_b.astype("datetime64[Y]")).astype(int)
    block = (15 + 5 * np.cos(2 * np.pi * doy / 365.25))[:, None, None] + rng.normal(
        0, 1, (n_t, rows, grid.shape[1])
    )
    block = block.astype(np.float32)
    t0 = time.perf_counter()
    compute_climatology(block, dates_b, baseline=(1990, 1990 + baseline_years - 1))
    per_block = time.perf_counter() - t0
    res["climatology_rows_per_block"] = rows
    res["climatology_s"] = per_block * int(np.ceil(grid.shape[0] / rows))
    per_day = res["sst_s_per_day"] + res["altimetry_s_per_day"] + res["era5_s_per_day"]
    res["one_year_s"] = 365 * per_day + res["write_year_s"]
    res["baseline_sst_s"] = 365 * baseline_years * res["sst_s_per_day"]
    import resource

    res["peak_rss_bytes"] = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    return res
