"""``oceane2e prepare-data``: convert downloaded products into a data folder of the contract.

Inputs (paths or globs; see docs/data.md for the exact products and download commands):

* SST (required): NOAA OISST v2.1 (``sst``, degC) or GHRSST/OSTIA L4 (``analysed_sst``, K).
* altimetry (optional): CMEMS/DUACS L4 (``ugos``, ``vgos``, ``adt`` or ``sla``) -> u_g, v_g, zos.
* ERA5 (optional): single levels ``u10``, ``v10``, ``t2m``, hourly or daily -> daily means.

Outputs in ``out_dir``: ``geo_YYYY.nc`` (only with altimetry), ``mhw_YYYY.nc`` (the channels whose
source was given, in contract order), ``mask.npy``, ``clim.nc`` and ``contents.json`` (which
channels are present/absent, sources, grid, units).

SST is handled in kelvin throughout: ``clim.nc`` holds the Hobday day-of-year climatology of SST
in K (``variable = "sst"``) over the baseline years, computed with
:func:`oceane2e.mhw.climatology.compute_climatology` (the code the MHW detection uses), and the
``ssta`` channel is ``SST - seas(doy)`` in K.

Steps (each day is read, regridded and written to a float32 memory-mapped cache, so memory
stays at about one output year: ~2.1 GB for a year of the paper's 480 x 600 box):

1. index every source file (grid, dates), stop on gaps listing the missing dates;
2. SST of every year needed (output years and baseline years; years in between are skipped) -> cache;
3. climatology over the baseline, in blocks of grid rows -> ``clim.nc``;
4. per output year: SSTA, zos, u10, v10, t2m, u_g, v_g -> cache;
5. land mask = union of NaN over every written field and day (and the climatology) -> ``mask.npy``;
6. ``write_year`` for every year and kind (land set to NaN), ``contents.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from oceane2e.config import ConfigError, StrictModel, parse_override, set_dotted, validate_config
from oceane2e.data.contract import (
    CLIM_FILE,
    CONTENTS_FILE,
    GEO_CHANNELS,
    MHW_CHANNELS,
    DataContractError,
    GridCoords,
    days_in_year,
    leap_doy_index,
    write_clim,
    write_mask,
    write_year,
    year_dates,
    year_path,
)
from oceane2e.data.converters.regrid import METHODS, Regridder, regular_grid
from oceane2e.data.converters.sources import DailySource, Quantity, format_dates

SST_UNITS = "K"
_CLIM_BLOCK_BYTES = 512 * 2**20  # working memory of one block of rows in the climatology step

# ------------------------------------------------------------------------------------------------
# configuration


class SSTSource(StrictModel):
    files: list[str] = Field(
        ..., min_length=1, description="paths or globs of OISST / OSTIA / GHRSST L4 files"
    )
    variable: str | None = Field(None, description="SST variable; default: analysed_sst, sst")
    units: str | None = Field(
        None, description="override of the SST units (degC or K) for files lacking them"
    )


class EquatorialBandConfig(StrictModel):
    """Treatment of the geostrophic currents near the equator (:mod:`oceane2e.data.geostrophy`)."""

    method: Literal["mask", "none"] = Field("mask", description="mask: u_g, v_g -> 0 within the band; none: as given")
    half_width_deg: float = Field(5.0, ge=0, description="the band is |lat| <= this (deg)")
    taper_deg: float = Field(2.0, ge=0, description="the currents ramp back to full strength over this (deg)")


class AltimetrySource(StrictModel):
    files: list[str] = Field(..., min_length=1, description="paths or globs of CMEMS/DUACS L4 files")
    zos_variable: Literal["adt", "sla"] = Field(
        "adt", description="adt = height above geoid (zos); sla = anomaly to the 1993-2012 mean"
    )
    equatorial_band: EquatorialBandConfig = Field(
        default_factory=EquatorialBandConfig,
        description="currents within a few degrees of the equator (1/f of geostrophy); no effect beyond it",
    )


class ERA5Source(StrictModel):
    files: list[str] = Field(..., min_length=1, description="paths or globs of ERA5 single-level files")


class Sources(StrictModel):
    sst: SSTSource
    altimetry: AltimetrySource | None = None
    era5: ERA5Source | None = None


class ClimatologyOptions(StrictModel):
    baseline: tuple[int, int] = Field(..., description="first and last year (inclusive) of the baseline")
    window_half_width: int = Field(5, ge=0)
    smooth_width: int = Field(31, ge=0)
    percentile: float = Field(90.0, ge=0, le=100)


class PrepareConfig(StrictModel):
    """Config of ``oceane2e prepare-data`` (see configs/prepare_example.yaml)."""

    out_dir: Path = Field(Path("data/GS"), description="the data folder to write")
    lat_bounds: tuple[float, float] | None = Field(
        None, description="south and north edges of the region (deg N); null (with lon_bounds and resolution "
        "null): the SST files' own grid, every cell of it")
    lon_bounds: tuple[float, float] | None = Field(None, description="west and east edges (deg E, -180..180)")
    resolution: float | None = Field(
        None, gt=0, description="target grid spacing in degrees (1/12 = 0.083333...); null with null bounds")
    years: list[int] = Field(..., min_length=1, description="years to write")
    climatology: ClimatologyOptions
    sources: Sources
    regrid: Literal["auto", "bilinear", "area"] = "auto"
    zlib: bool = False
    cache_dir: Path | None = Field(None, description="scratch folder (default: <out_dir>/.prepare_cache)")
    keep_cache: bool = False

    @model_validator(mode="after")
    def _check(self) -> PrepareConfig:
        given = [self.lat_bounds is not None, self.lon_bounds is not None, self.resolution is not None]
        if any(given) and not all(given):
            raise ValueError("give lat_bounds, lon_bounds and resolution together (a target grid), or none of "
                             "them (the SST files' own grid)")
        if len(set(self.years)) != len(self.years):
            raise ValueError(f"years lists a year twice: {self.years}")
        b0, b1 = self.climatology.baseline
        if b0 > b1:
            raise ValueError(f"climatology.baseline {b0}..{b1} must be (first, last) with first <= last")
        return self


@dataclass
class PrepareReport:
    """What :func:`prepare_data` wrote."""

    out_dir: Path
    grid: GridCoords
    years: list[int]
    mhw_channels: tuple[str, ...]
    geo_channels: tuple[str, ...]
    absent_channels: tuple[str, ...]
    ocean_cells: int
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# helpers


def _sst_quantity(cfg: SSTSource) -> Quantity:
    names = (cfg.variable,) if cfg.variable else ("analysed_sst", "sst")
    where = "(prepare config; --{} of prepare-data; data.{} of a pipeline config)"
    return Quantity("sst", names, "temperature", cfg.units,
                    f"sources.sst.variable {where.format('sst-variable', 'sst_variable')}",
                    f"sources.sst.units {where.format('sst-units', 'sst_units')}")


def _altimetry_quantities(cfg: AltimetrySource) -> list[Quantity]:
    return [
        Quantity("u_g", ("ugos",), "speed"),
        Quantity("v_g", ("vgos",), "speed"),
        Quantity("zos", (cfg.zos_variable,), "length"),
    ]


def _era5_quantities() -> list[Quantity]:
    return [
        Quantity("u10", ("u10", "10m_u_component_of_wind"), "speed"),
        Quantity("v10", ("v10", "10m_v_component_of_wind"), "speed"),
        Quantity("t2m", ("t2m", "2m_temperature"), "temperature"),
    ]


def _require_dates(source: DailySource, dates: np.ndarray, why: str) -> None:
    missing = source.missing_dates(dates)
    if missing:
        files = ", ".join(str(p) for p in source.files[:3]) + (" ..." if len(source.files) > 3 else "")
        raise DataContractError(
            f"{source.product}: {len(missing)} day(s) needed for {why} are missing or incomplete "
            f"(fewer than {source.steps_per_day} time steps) in the files given ({files}): "
            f"{format_dates(missing)}. Gaps are never filled: download those days (or drop those years)."
        )
    dup = source.duplicated_dates()
    if dup:
        raise DataContractError(
            f"{source.product}: {len(dup)} day(s) appear in more than one file: {format_dates(dup)}; "
            f"remove the duplicate files"
        )


def _progress(iterable, desc: str, total: int | None, enabled: bool):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="day")


def _convert_days(
    source: DailySource,
    regridder: Regridder,
    dates: np.ndarray,
    targets: dict[str, tuple[np.ndarray, int]],
    desc: str,
    progress: bool,
) -> None:
    """Read, regrid and store every day: ``targets[name] = (array (T, C, H, W) or (T, H, W), channel)``."""
    with source.handle_cache() as handles:
        for t, date in enumerate(_progress(dates, desc, len(dates), progress)):
            fields = source.read_day(date, handles)
            for name, (array, channel) in targets.items():
                out = regridder(fields[name])
                if array.ndim == 4:
                    array[t, channel] = out
                else:
                    array[t] = out


def _mask_equatorial_band(geo: np.ndarray, grid: GridCoords, cfg: EquatorialBandConfig) -> None:
    """Apply the equatorial band to the cached currents (T, 2, H, W) in place; rows where the weight
    is 1 (every row of a grid clear of the band) are not touched."""
    from oceane2e.data.geostrophy import EquatorialBand, equatorial_weight

    weight = equatorial_weight(grid.lat, EquatorialBand(cfg.method, cfg.half_width_deg, cfg.taper_deg))
    for i in np.flatnonzero(weight < 1.0):
        geo[:, :, i, :] *= np.float32(weight[i])


def _grid_edges(centres: np.ndarray) -> tuple[float, float]:
    """Outer edges (deg) of an axis of cell centres: half a cell beyond the first and the last centre."""
    half = 0.5 * float(centres[1] - centres[0])
    return float(centres[0]) - half, float(centres[-1]) + half


def _memmap(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    from oceane2e.outputs import create_npy

    return create_npy(path, shape)  # a full disk: an error naming the file, not a SIGBUS later


def climatology_block_rows(n_days: int, width: int, block_bytes: int = _CLIM_BLOCK_BYTES) -> int:
    """Grid rows per climatology block so that one block's working memory stays near ``block_bytes``.

    Per grid cell: the float32 record and its transposed copy (``2 * 4 * n_days`` bytes), plus the
    (366,) float64 outputs and the smoothing's temporaries (about six such arrays).
    """
    per_cell = n_days * 4 * 2 + 366 * 8 * 6
    return max(1, int(block_bytes // (per_cell * width)))


def climatology_by_blocks(
    sst_years: dict[int, np.ndarray],
    baseline: tuple[int, int],
    *,
    window_half_width: int,
    smooth_width: int,
    percentile: float,
    block_bytes: int = _CLIM_BLOCK_BYTES,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Hobday climatology of SST held per year (each (T_year, H, W), consecutive years), by row blocks.

    Returns ``(seas, thresh)``, (366, H, W) float32 in the units of the input (K here).
    Every row block is an independent call of :func:`oceane2e.mhw.climatology.compute_climatology`
    on all the years given (the record), with ``baseline`` selecting the baseline years.
    """
    from oceane2e.mhw.climatology import compute_climatology

    years = sorted(sst_years)
    if years != list(range(years[0], years[-1] + 1)):
        raise DataContractError(f"SST years {years} are not consecutive; convert the years in between too")
    dates = np.concatenate([year_dates(y) for y in years])
    h, w = sst_years[years[0]].shape[1:]
    rows = min(h, climatology_block_rows(dates.size, w, block_bytes))
    seas = np.empty((366, h, w), np.float32)
    thresh = np.empty((366, h, w), np.float32)
    starts = range(0, h, rows)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="climatology (row blocks)", unit="block")
    for r0 in starts:
        block = np.concatenate([np.asarray(sst_years[y][:, r0 : r0 + rows]) for y in years], axis=0)
        s, th = compute_climatology(
            block,
            dates,
            baseline=baseline,
            window_half_width=window_half_width,
            smooth_width=smooth_width,
            percentile=percentile,
        )
        seas[:, r0 : r0 + rows] = s
        thresh[:, r0 : r0 + rows] = th
    return seas, thresh


def _write_masked_year(
    out: Path,
    kind: str,
    year: int,
    data: np.ndarray,
    grid: GridCoords,
    ocean: np.ndarray,
    channels: tuple[str, ...],
    attrs: dict,
    zlib: bool,
) -> Path:
    """``write_year`` of a cached (T, C, H, W) memmap with land set to NaN day by day.

    ``write_year(mask=...)`` would build a masked copy of the whole year (2.1 GB at the paper's
    size); here the cache is masked in place and the ``mask`` variable is added afterwards, in
    the same form ``write_year`` writes it.
    """
    import netCDF4

    land = ~ocean
    for t in range(data.shape[0]):
        data[t][:, land] = np.nan
    path = write_year(
        year_path(out, kind, year), kind, year, data, grid, channels=channels, attrs=attrs, zlib=zlib
    )
    with netCDF4.Dataset(path, "a") as ds:
        m = ds.createVariable("mask", "i1", ("lat", "lon"))
        m.long_name = "ocean mask (1 ocean, 0 land)"
        m[:] = ocean.astype(np.int8)
    return path


# ------------------------------------------------------------------------------------------------
# the conversion


def prepare_data(cfg: PrepareConfig, *, progress: bool = True) -> PrepareReport:
    """Convert the sources of ``cfg`` into the data folder ``cfg.out_dir``.

    Raises:
        DataContractError: an input is unreadable, lacks a variable, has unknown units, does not
            cover the region, or misses days; the message names the file (or product) and the fix.
    """
    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cfg.cache_dir) if cfg.cache_dir is not None else out / ".prepare_cache"
    cache.mkdir(parents=True, exist_ok=True)
    years = sorted(cfg.years)
    b0, b1 = cfg.climatology.baseline
    sst_years = sorted(set(years) | set(range(b0, b1 + 1)))

    # 1. index the sources; the grid is the configured one, or the SST files' own (every cell of them)
    src = cfg.sources
    if cfg.lat_bounds is not None and cfg.lon_bounds is not None and cfg.resolution is not None:
        grid = regular_grid(cfg.lat_bounds, cfg.lon_bounds, cfg.resolution)
        lat_range = (cfg.lat_bounds[0], cfg.lat_bounds[1])
        sst_src = DailySource(src.sst.files, "sst", [_sst_quantity(src.sst)], lat_range)
    else:
        sst_src = DailySource(src.sst.files, "sst", [_sst_quantity(src.sst)], (-90.0, 90.0))
        grid = sst_src.source_grid()
        lat_range = _grid_edges(grid.lat)
    alt_src = (
        DailySource(src.altimetry.files, "altimetry", _altimetry_quantities(src.altimetry), lat_range)
        if src.altimetry
        else None
    )
    era_src = DailySource(src.era5.files, "era5", _era5_quantities(), lat_range) if src.era5 else None
    out_dates = np.concatenate([year_dates(y) for y in years])
    _require_dates(
        sst_src,
        np.concatenate([year_dates(y) for y in sst_years]),
        f"the output and baseline years {sst_years}",
    )
    for s in (alt_src, era_src):
        if s is not None:
            _require_dates(s, out_dates, f"the output years {years}")
    regridders = {}
    for s in (sst_src, alt_src, era_src):
        if s is None:
            continue
        try:
            regridders[s.product] = Regridder.build(s.lat, s.lon, grid, cfg.regrid)
        except DataContractError as err:
            raise DataContractError(f"{s.product} ({s.files[0]}): {err}") from err
    seconds["index"] = time.perf_counter() - t_start

    mhw_channels = tuple(
        c
        for c in MHW_CHANNELS
        if c == "ssta"
        or (c == "zos" and alt_src is not None)
        or (c in ("u10", "v10", "t2m") and era_src is not None)
    )
    geo_channels = GEO_CHANNELS if alt_src is not None else ()
    absent = tuple(c for c in (*GEO_CHANNELS, *MHW_CHANNELS) if c not in (*mhw_channels, *geo_channels))

    # 2. SST of every year of the record -> cache (K)
    t0 = time.perf_counter()
    sst_cache: dict[int, np.ndarray] = {}
    for y in sst_years:
        arr = _memmap(cache / f"sst_{y}.npy", (days_in_year(y), *grid.shape))
        _convert_days(sst_src, regridders["sst"], year_dates(y), {"sst": (arr, 0)}, f"SST {y}", progress)
        arr.flush()
        sst_cache[y] = arr
    seconds["sst"] = time.perf_counter() - t0

    # 3. climatology over the baseline
    t0 = time.perf_counter()
    clim_opts = cfg.climatology
    # the record: the consecutive run of converted years around the baseline (so the Hobday window
    # reaches into the neighbouring years, as the MHW detection on a full record does)
    record = list(range(b0, b1 + 1))
    while record[0] - 1 in sst_cache:
        record.insert(0, record[0] - 1)
    while record[-1] + 1 in sst_cache:
        record.append(record[-1] + 1)
    seas, thresh = climatology_by_blocks(
        {y: sst_cache[y] for y in record},
        (b0, b1),
        window_half_width=clim_opts.window_half_width,
        smooth_width=clim_opts.smooth_width,
        percentile=clim_opts.percentile,
        progress=progress,
    )
    seconds["climatology"] = time.perf_counter() - t0

    # 4. the output years -> cache
    t0 = time.perf_counter()
    land = ~np.all(np.isfinite(seas), axis=0) | ~np.all(np.isfinite(thresh), axis=0)
    mhw_cache: dict[int, np.ndarray] = {}
    geo_cache: dict[int, np.ndarray] = {}
    for y in years:
        dates = year_dates(y)
        mhw = _memmap(cache / f"mhw_{y}.npy", (dates.size, len(mhw_channels), *grid.shape))
        doy = leap_doy_index(dates)
        for t in range(dates.size):
            mhw[t, 0] = sst_cache[y][t] - seas[doy[t]]
        if alt_src is not None:
            geo = _memmap(cache / f"geo_{y}.npy", (dates.size, len(geo_channels), *grid.shape))
            targets = {"u_g": (geo, 0), "v_g": (geo, 1), "zos": (mhw, mhw_channels.index("zos"))}
            _convert_days(alt_src, regridders["altimetry"], dates, targets, f"altimetry {y}", progress)
            _mask_equatorial_band(geo, grid, src.altimetry.equatorial_band)
            geo.flush()
            geo_cache[y] = geo
        if era_src is not None:
            targets = {c: (mhw, mhw_channels.index(c)) for c in ("u10", "v10", "t2m")}
            _convert_days(era_src, regridders["era5"], dates, targets, f"ERA5 {y}", progress)
        mhw.flush()
        mhw_cache[y] = mhw
        # 5. land = union of NaN over every field and day
        for arr in [mhw] + ([geo_cache[y]] if y in geo_cache else []):
            for t in range(0, arr.shape[0], 32):
                land |= ~np.all(np.isfinite(arr[t : t + 32]), axis=(0, 1))
    seconds["convert"] = time.perf_counter() - t0
    ocean = ~land
    if not ocean.any():
        raise DataContractError(
            f"{out}: no grid cell has data in every source on every day; check that the sources cover "
            f"the region {_grid_edges(grid.lat)} x {_grid_edges(grid.lon)}"
        )

    # 6. write the folder
    t0 = time.perf_counter()
    written: list[Path] = []
    attrs = {
        "source": "converted by oceane2e prepare-data",
        "synthetic": 0,
        "sst_units": SST_UNITS,
        "absent_channels": ",".join(absent),
        "sources_sst": ";".join(src.sst.files),
        "regrid_method": ";".join(f"{k}:{r.method}" for k, r in regridders.items()),
    }
    written.append(write_mask(out, ocean))
    written.append(
        write_clim(
            out / CLIM_FILE,
            seas,
            thresh,
            grid,
            variable="sst",
            baseline=(b0, b1),
            window_half_width=clim_opts.window_half_width,
            smooth_width=clim_opts.smooth_width,
            percentile=clim_opts.percentile,
            mask=ocean,
            attrs={"units_note": "SST climatology in K; ssta = SST - seas(doy)", "source": attrs["source"]},
        )
    )
    write_iter = _progress(years, "write", len(years), progress)
    for y in write_iter:
        for kind, cache_y, channels in (("mhw", mhw_cache, mhw_channels), ("geo", geo_cache, geo_channels)):
            if y in cache_y:
                written.append(
                    _write_masked_year(out, kind, y, cache_y[y], grid, ocean, channels, attrs, cfg.zlib)
                )
    contents = {
        "years": years,
        "channels": {"geo": list(geo_channels), "mhw": list(mhw_channels)},
        "absent_channels": list(absent),
        "sst_units": SST_UNITS,
        "climatology": {"variable": "sst", "baseline": [b0, b1], "file": CLIM_FILE},
        "grid": {
            "lat_bounds": list(cfg.lat_bounds or _grid_edges(grid.lat)),
            "lon_bounds": list(cfg.lon_bounds or _grid_edges(grid.lon)),
            "resolution_deg": cfg.resolution,
            "from": "config" if cfg.resolution is not None else "the SST files' own grid",
            "shape": list(grid.shape),
        },
        "ocean_cells": int(ocean.sum()),
        "regrid": {k: r.method for k, r in regridders.items()},
        "sources": {
            name: {"files": list(getattr(src, name).files), "n_files": len(s.files)}
            for name, s in (("sst", sst_src), ("altimetry", alt_src), ("era5", era_src))
            if s is not None
        },
    }
    (out / CONTENTS_FILE).write_text(json.dumps(contents, indent=2) + "\n")
    written.append(out / CONTENTS_FILE)
    seconds["write"] = time.perf_counter() - t0

    del sst_cache, mhw_cache, geo_cache
    if not cfg.keep_cache:
        shutil.rmtree(cache, ignore_errors=True)
    seconds["total"] = time.perf_counter() - t_start
    return PrepareReport(
        out_dir=out,
        grid=grid,
        years=years,
        mhw_channels=mhw_channels,
        geo_channels=geo_channels,
        absent_channels=absent,
        ocean_cells=int(ocean.sum()),
        seconds=seconds,
        files=written,
    )


def read_contents(root: str | Path) -> dict | None:
    """``contents.json`` of a prepared folder, or ``None`` for folders without one (synthetic, reference)."""
    path = Path(root) / CONTENTS_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oceane2e prepare-data",
        description="Convert CMEMS/DUACS altimetry, OISST/OSTIA SST and ERA5 files into a data folder "
        "of the Ocean-E2E contract (geo_YYYY.nc, mhw_YYYY.nc, mask.npy, clim.nc).",
    )
    p.add_argument("--config", type=Path, help="YAML config (see configs/prepare_example.yaml)")
    p.add_argument("--out", type=Path, help="output data folder")
    p.add_argument("--lat-bounds", type=float, nargs=2, metavar=("SOUTH", "NORTH"))
    p.add_argument("--lon-bounds", type=float, nargs=2, metavar=("WEST", "EAST"))
    p.add_argument("--resolution", type=float, help="grid spacing in degrees (e.g. 0.0833333333333 for 1/12)")
    p.add_argument("--years", type=int, nargs="+")
    p.add_argument("--baseline", type=int, nargs=2, metavar=("FIRST", "LAST"))
    p.add_argument("--sst", nargs="+", help="SST files or globs (OISST v2.1, OSTIA/GHRSST L4)")
    p.add_argument("--sst-variable")
    p.add_argument("--sst-units", help="override the SST units (degC or K)")
    p.add_argument("--altimetry", nargs="+", help="CMEMS/DUACS L4 files or globs")
    p.add_argument("--zos-variable", choices=("adt", "sla"))
    p.add_argument("--era5", nargs="+", help="ERA5 single-level files or globs (u10, v10, t2m)")
    p.add_argument("--regrid", choices=METHODS)
    p.add_argument("--zlib", action="store_true", default=None)
    p.add_argument("--keep-cache", action="store_true", default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--no-progress", action="store_true")
    return p


def config_from_args(args: argparse.Namespace) -> PrepareConfig:
    """Merge ``--config`` with the flags (flags win) into a validated :class:`PrepareConfig`."""
    import yaml

    data: dict = {}
    source = "<command line>"
    if args.config is not None:
        if not args.config.exists():
            raise ConfigError(f"{args.config}: config file not found")
        data = yaml.safe_load(args.config.read_text()) or {}
        source = str(args.config)
    flat = {
        "out_dir": args.out,
        "lat_bounds": args.lat_bounds,
        "lon_bounds": args.lon_bounds,
        "resolution": args.resolution,
        "years": args.years,
        "climatology.baseline": args.baseline,
        "sources.sst.files": args.sst,
        "sources.sst.variable": args.sst_variable,
        "sources.sst.units": args.sst_units,
        "sources.altimetry.files": args.altimetry,
        "sources.altimetry.zos_variable": args.zos_variable,
        "sources.era5.files": args.era5,
        "regrid": args.regrid,
        "zlib": args.zlib,
        "keep_cache": args.keep_cache,
    }
    for key, value in flat.items():
        if value is not None:
            set_dotted(data, key, str(value) if isinstance(value, Path) else value)
    for text in args.set:
        set_dotted(data, *parse_override(text))
    return validate_config(PrepareConfig, data, source=source)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``oceane2e prepare-data``; returns the exit status (0 ok, 1 bad input, 2 usage)."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        cfg = config_from_args(args)
        report = prepare_data(cfg, progress=not args.no_progress)
    except (ConfigError, DataContractError) as err:
        print(f"prepare-data: {err}", file=sys.stderr)
        return 1
    h, w = report.grid.shape
    print(
        f"wrote {report.out_dir}: years {report.years[0]}..{report.years[-1]}, grid {h}x{w}, "
        f"{report.ocean_cells} ocean cells; mhw channels {list(report.mhw_channels)}, "
        f"geo channels {list(report.geo_channels)}"
        + (f"; absent: {list(report.absent_channels)}" if report.absent_channels else "")
        + " ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
        + ")"
    )
    return 0


__all__ = ["PrepareConfig", "PrepareReport", "prepare_data", "main", "read_contents", "climatology_by_blocks"]
