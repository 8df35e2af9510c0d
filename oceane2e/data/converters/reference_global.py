"""Readers for the reference release's GLOBAL layout (its ``global_low/``) and their conversion.

The reference release's global experiment reads, per year ``YYYY`` under one data folder:

* ``ERA5/025res_YYYY.nc``: ``mhws_variables`` (time, 5, lat, lon); channels 2, 3, 4 are u10, v10
  (m s-1) and t2m (K);
* ``highres/CMEMS_YYYY_norm.nc``: ``ssta_highres`` (time, lat, lon), the SST anomaly;
* ``low/SSH_low_processed_YYYY.nc``: ``ugos``, ``vgos`` (time, lat, lon), surface geostrophic
  currents (m s-1);

and a global ``mask.npy`` (360, 720) at 0.5°, **0 over the ocean and NaN over land**, rows from
south to north (89.75°S first) and columns from 180°W (179.75°W first). Its scripts subsample the
0.25° files with ``[0:-1:2]`` and declare the data north to south from 89.875°N with longitudes
0.125..359.875°E, then multiply the kernel's tendency by that mask, so the tendency is 0 (ocean)
or NaN (land, later filled by 0): the kernel contributes nothing, and the mask's rows run the other
way from the data's.

Here the files are read once per day with their own orientation: a file's ``lat``/``lon``
(``latitude``/``longitude``) variables when present; else the layout the reference's scripts
declare (north to south, 0°E first, centres half a spacing from the pole and the meridian). They
are coarsened to the mask's grid by block means (2×2 from 0.25° to 0.5°: the block centres fall
exactly on the mask's centres, which ``[0:-1:2]`` misses by 0.125°), flipped to south-to-north,
rolled to 180°W-first, and written as a data folder of the contract:
``geo_YYYY.nc`` (u_g, v_g; the equatorial band masked, :mod:`oceane2e.data.geostrophy`),
``mhw_YYYY.nc`` (ssta, u10, v10, t2m; the layout has no sea level, so ``zos`` is absent),
``mask.npy`` (1 ocean: the reference's finite cells that have data in every file on every day),
``clim.nc`` (the day-of-year climatology of the SSTA over the baseline years, ``variable="ssta"``)
and ``contents.json``.

    python -m oceane2e.data.converters.reference_global --config global_low/prepare_reference.yaml
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from oceane2e.config import ConfigError, StrictModel, load_config
from oceane2e.data.contract import (
    CLIM_FILE,
    GEO_CHANNELS,
    DataContractError,
    GridCoords,
    days_in_year,
    write_clim,
    write_mask,
    year_path,
)
from oceane2e.data.geostrophy import EquatorialBand, mask_equatorial_band
from oceane2e.outputs import create_npy

ERA5_PATTERN = "ERA5/025res_{year}.nc"
SSTA_PATTERN = "highres/CMEMS_{year}_norm.nc"
CURRENTS_PATTERN = "low/SSH_low_processed_{year}.nc"
ERA5_VARIABLE = "mhws_variables"
SSTA_VARIABLE = "ssta_highres"
CURRENT_VARIABLES = ("ugos", "vgos")
MHW_OUT_CHANNELS: tuple[str, ...] = ("ssta", "u10", "v10", "t2m")
_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "longitude")


# ------------------------------------------------------------------------------------------------
# the mask and the grids


def reference_mask_grid(shape: tuple[int, int]) -> GridCoords:
    """Cell centres of the reference's global mask of ``shape`` (H, W): south to north, 180°W first."""
    h, w = shape
    return GridCoords(lat=-90.0 + 180.0 / h * (np.arange(h) + 0.5), lon=-180.0 + 360.0 / w * (np.arange(w) + 0.5))


def read_reference_mask(path: str | Path) -> tuple[np.ndarray, GridCoords]:
    """The reference's global ``mask.npy`` as an ocean mask of the contract, with its grid.

    The file is (H, W) float with 0 (or any finite value) over the ocean and NaN over land, rows from
    south to north and columns from 180°W. A file of 0/1 values without NaN is refused, since
    there 0 would mean land: it is not this layout.

    Returns:
        ``(ocean (H, W) bool, GridCoords)`` in that same (south-to-north, 180°W-first) order.
    """
    path = Path(path)
    try:
        raw = np.load(path)
    except (OSError, ValueError) as err:
        raise DataContractError(f"{path}: not a readable .npy file ({err})") from err
    if raw.ndim != 2 or raw.shape[1] != 2 * raw.shape[0]:
        raise DataContractError(f"{path}: a global mask is (H, 2H) (e.g. 360 x 720 at 0.5 deg), got {raw.shape}")
    if raw.dtype.kind != "f" or not np.isnan(raw).any():
        raise DataContractError(
            f"{path}: the reference's global mask marks land with NaN (0 = ocean), but this file has no NaN; "
            "for a 1 ocean / 0 land mask use the data folder's mask.npy convention instead"
        )
    ocean = np.isfinite(raw)
    return ocean, reference_mask_grid(raw.shape)


@dataclass(frozen=True)
class SourceGrid:
    """How one product's (lat, lon) array maps onto the mask's grid.

    Attributes:
        lat, lon: the file's cell centres (degrees) in file order.
        factor: cells per mask cell along each axis (block means of factor x factor).
        flip_lat: the file runs north to south.
        roll: columns to roll (after coarsening) so that the first is the mask's first (180°W).
        from_file: the coordinates came from the file (else from the reference's declared layout).
    """

    lat: np.ndarray
    lon: np.ndarray
    factor: int
    flip_lat: bool
    roll: int
    from_file: bool

    def to_mask_grid(self, a: np.ndarray) -> np.ndarray:
        """(..., h, w) in file order -> (..., H, W) on the mask's grid (block NaN-mean, flip, roll)."""
        f = self.factor
        if f > 1:
            *lead, h, w = a.shape
            blocks = a.reshape(*lead, h // f, f, w // f, f)
            with np.errstate(invalid="ignore"), _quiet_nanmean():
                a = np.nanmean(blocks, axis=(-3, -1))
        if self.flip_lat:
            a = a[..., ::-1, :]
        return np.ascontiguousarray(np.roll(a, self.roll, axis=-1))


class _quiet_nanmean:  # noqa: N801 - a context manager used like np.errstate
    """Silence numpy's 'Mean of empty slice' (all-NaN land blocks stay NaN, as intended)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def declared_layout(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The layout the reference's scripts declare for (h, w) global files: north to south from
    90 - Δ/2, longitudes from Δ/2 eastward (0.25°: 89.875°N..89.875°S, 0.125..359.875°E)."""
    h, w = shape
    return 90.0 - 180.0 / h * (np.arange(h) + 0.5), 360.0 / w * (np.arange(w) + 0.5)


def source_grid(ds, path: Path, shape: tuple[int, int], mask_grid: GridCoords) -> SourceGrid:
    """Match a product file's grid (its coordinates, or the declared layout) to the mask's grid."""
    lat = lon = None
    for name in _LAT_NAMES:
        if name in ds.variables and ds.variables[name].ndim == 1:
            lat = np.asarray(ds.variables[name][:], dtype=np.float64)
    for name in _LON_NAMES:
        if name in ds.variables and ds.variables[name].ndim == 1:
            lon = np.asarray(ds.variables[name][:], dtype=np.float64)
    from_file = lat is not None and lon is not None
    if not from_file:
        lat, lon = declared_layout(shape)
    if (lat.size, lon.size) != shape:
        raise DataContractError(f"{path}: coordinates ({lat.size}, {lon.size}) do not match the data {shape}")
    h, w = mask_grid.shape
    if shape[0] % h or shape[1] % w or shape[0] // h != shape[1] // w:
        raise DataContractError(
            f"{path}: grid {shape} is not a whole multiple of the mask's {(h, w)} in both directions; "
            "the global layout is 0.25 deg (720 x 1440) or 0.5 deg (360 x 720) with a 0.5 deg mask"
        )
    factor = shape[0] // h
    flip = bool(lat[0] > lat[-1])
    lat_c = lat.reshape(h, factor).mean(axis=1)
    lon_c = lon.reshape(w, factor).mean(axis=1)
    if flip:
        lat_c = lat_c[::-1]
    wrapped = (lon_c + 180.0) % 360.0 - 180.0
    roll = int((-np.argmin(wrapped)) % w)
    lon_c = np.roll(wrapped, roll)
    tol = 0.01 * 180.0 / h
    if not (np.allclose(lat_c, mask_grid.lat, atol=tol) and np.allclose(lon_c, mask_grid.lon, atol=tol)):
        raise DataContractError(
            f"{path}: its cell centres (coarsened by {factor}) {lat_c[0]:.3f}..{lat_c[-1]:.3f} N, "
            f"{lon_c[0]:.3f}..{lon_c[-1]:.3f} E do not fall on the mask's {mask_grid.lat[0]:.3f}..{mask_grid.lat[-1]:.3f} N, "
            f"{mask_grid.lon[0]:.3f}..{mask_grid.lon[-1]:.3f} E"
        )
    return SourceGrid(lat=lat, lon=lon, factor=factor, flip_lat=flip, roll=roll, from_file=from_file)


# ------------------------------------------------------------------------------------------------
# reading one year


class ReferenceGlobalYear:
    """The three products of one year, opened once; :meth:`read_day` gives the fields on the mask's grid.

    Args:
        root: the reference's data folder (holding ``ERA5/``, ``highres/``, ``low/``).
        year: the calendar year.
        mask_grid: the grid of the global mask (:func:`read_reference_mask`).
        era5_channels: positions of u10, v10, t2m in ``mhws_variables`` (the reference: 2, 3, 4).
        ssta_scale, ssta_offset: SSTA in K = value * scale + offset (``_norm`` files that hold a
            normalised anomaly need the statistics they were normalised with).
    """

    def __init__(
        self,
        root: str | Path,
        year: int,
        mask_grid: GridCoords,
        era5_channels: dict[str, int] | None = None,
        ssta_scale: float = 1.0,
        ssta_offset: float = 0.0,
    ) -> None:
        import netCDF4

        self.year = year
        self.era5_channels = era5_channels or {"u10": 2, "v10": 3, "t2m": 4}
        self.ssta_scale, self.ssta_offset = ssta_scale, ssta_offset
        root = Path(root)
        self.paths = {
            "era5": root / ERA5_PATTERN.format(year=year),
            "ssta": root / SSTA_PATTERN.format(year=year),
            "currents": root / CURRENTS_PATTERN.format(year=year),
        }
        self._ds = {}
        self.grids: dict[str, SourceGrid] = {}
        n_days = days_in_year(year)
        try:
            for key, path in self.paths.items():
                if not path.exists():
                    raise DataContractError(f"{path}: missing; the reference's global layout needs it for {year}")
                ds = netCDF4.Dataset(path)
                self._ds[key] = ds
                names = {"era5": (ERA5_VARIABLE,), "ssta": (SSTA_VARIABLE,), "currents": CURRENT_VARIABLES}[key]
                for name in names:
                    if name not in ds.variables:
                        raise DataContractError(f"{path}: no variable {name!r} (file has {sorted(ds.variables)})")
                var = ds.variables[names[0]]
                if var.shape[0] != n_days:
                    raise DataContractError(f"{path}: {var.shape[0]} days, {year} has {n_days}")
                if key == "era5" and var.ndim == 4 and var.shape[1] <= max(self.era5_channels.values()):
                    raise DataContractError(f"{path}: {ERA5_VARIABLE} has {var.shape[1]} channels; u10, v10, t2m are 2, 3, 4")
                self.grids[key] = source_grid(ds, path, tuple(var.shape[-2:]), mask_grid)
        except Exception:
            self.close()
            raise

    def read_day(self, t: int) -> dict[str, np.ndarray]:
        """Day ``t`` (0-based) of the year: ``ssta``, ``u10``, ``v10``, ``t2m``, ``u_g``, ``v_g``,
        each (H, W) float32 on the mask's grid in the contract's units; NaN where a file has no data."""
        out: dict[str, np.ndarray] = {}
        era = np.ma.filled(self._ds["era5"].variables[ERA5_VARIABLE][t].astype(np.float64), np.nan)
        for name, channel in self.era5_channels.items():
            out[name] = self.grids["era5"].to_mask_grid(era[channel])
        ssta = np.ma.filled(self._ds["ssta"].variables[SSTA_VARIABLE][t].astype(np.float64), np.nan)
        out["ssta"] = self.grids["ssta"].to_mask_grid(ssta) * self.ssta_scale + self.ssta_offset
        for name, var in zip(GEO_CHANNELS, CURRENT_VARIABLES, strict=True):
            field = np.ma.filled(self._ds["currents"].variables[var][t].astype(np.float64), np.nan)
            out[name] = self.grids["currents"].to_mask_grid(field)
        return {k: v.astype(np.float32) for k, v in out.items()}

    def close(self) -> None:
        """Close the files."""
        for ds in self._ds.values():
            ds.close()
        self._ds = {}

    def __enter__(self) -> ReferenceGlobalYear:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------
# the conversion


class BandConfig(StrictModel):
    """The equatorial band of the currents (see :mod:`oceane2e.data.geostrophy`)."""

    method: Literal["mask", "none"] = Field(
        "mask", description="mask: currents -> 0 within half_width_deg (the layout has no sea level for a beta-plane)"
    )
    half_width_deg: float = Field(5.0, ge=0, description="band |lat| <= this (deg); the reference masks +-5 deg")
    taper_deg: float = Field(2.0, ge=0, description="smooth ramp to full currents beyond the band (deg)")


class ReferenceGlobalConfig(StrictModel):
    """Config of the conversion of the reference's global layout (global_low/prepare_reference.yaml)."""

    source_root: Path = Field(..., description="the reference's data folder (ERA5/, highres/, low/)")
    mask: Path = Field(..., description="the reference's global mask.npy (0 ocean, NaN land)")
    out_dir: Path = Field(Path("data/global"), description="the data folder to write")
    years: list[int] = Field(..., min_length=1, description="years to convert")
    baseline: tuple[int, int] = Field(..., description="first and last year of the SSTA climatology baseline")
    era5_channels: dict[str, int] = Field(
        default_factory=lambda: {"u10": 2, "v10": 3, "t2m": 4}, description="channel of each ERA5 variable"
    )
    ssta_scale: float = Field(1.0, description="SSTA (K) = value * ssta_scale + ssta_offset")
    ssta_offset: float = Field(0.0, description="see ssta_scale")
    equatorial_band: BandConfig = Field(default_factory=BandConfig)
    window_half_width: int = Field(5, ge=0, description="Hobday window of the climatology (days)")
    smooth_width: int = Field(31, ge=0, description="smoothing of the climatology (days)")
    percentile: float = Field(90.0, ge=0, le=100)

    @model_validator(mode="after")
    def _check(self) -> ReferenceGlobalConfig:
        b0, b1 = self.baseline
        if not (b0 <= b1 and set(range(b0, b1 + 1)) <= set(self.years)):
            raise ValueError(f"baseline {self.baseline} must be (first, last) years among years {self.years}")
        if set(self.era5_channels) != {"u10", "v10", "t2m"}:
            raise ValueError(f"era5_channels must name u10, v10 and t2m, got {sorted(self.era5_channels)}")
        return self


@dataclass
class ConversionReport:
    """What :func:`convert_reference_global` wrote."""

    out_dir: Path
    grid: GridCoords
    years: list[int]
    ocean_cells: int
    reference_ocean_cells: int
    files: list[Path]


def convert_reference_global(cfg: ReferenceGlobalConfig, *, progress: bool = False) -> ConversionReport:
    """Convert the reference's global files of ``cfg.years`` into a data folder of the contract.

    Every day is read once into a float32 memory-mapped cache (one year of 4 + 2 channels at
    360 x 720 is ~1.1 GB on disk, never in memory at once).
    """
    from oceane2e.data.contract import write_year
    from oceane2e.data.converters.prepare import climatology_by_blocks

    ref_ocean, grid = read_reference_mask(cfg.mask)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".reference_cache"
    cache.mkdir(exist_ok=True)
    band = EquatorialBand(cfg.equatorial_band.method, cfg.equatorial_band.half_width_deg, cfg.equatorial_band.taper_deg)
    years = sorted(cfg.years)
    mhw: dict[int, np.ndarray] = {}
    geo: dict[int, np.ndarray] = {}
    ocean = ref_ocean.copy()
    for year in years:
        n = days_in_year(year)
        mhw[year] = create_npy(cache / f"mhw_{year}.npy", (n, 4, *grid.shape))
        geo[year] = create_npy(cache / f"geo_{year}.npy", (n, 2, *grid.shape))
        with ReferenceGlobalYear(
            cfg.source_root, year, grid, cfg.era5_channels, cfg.ssta_scale, cfg.ssta_offset
        ) as files:
            days = range(n)
            if progress:
                from tqdm.auto import tqdm

                days = tqdm(days, desc=f"reference global {year}", unit="day")
            for t in days:
                f = files.read_day(t)
                u, v = mask_equatorial_band(f["u_g"], f["v_g"], grid.lat, band)
                mhw[year][t] = np.stack([f[c] for c in MHW_OUT_CHANNELS])
                geo[year][t] = np.stack([u, v])
                ocean &= np.isfinite(mhw[year][t]).all(axis=0) & np.isfinite(geo[year][t]).all(axis=0)
    if not ocean.any():
        raise DataContractError(f"{cfg.source_root}: no ocean cell of the mask has data in every file on every day")
    b0, b1 = cfg.baseline
    record = {y: mhw[y][:, 0] for y in years}
    seas, thresh = climatology_by_blocks(
        record, (b0, b1), window_half_width=cfg.window_half_width, smooth_width=cfg.smooth_width,
        percentile=cfg.percentile,
    )
    attrs = {
        "source": "the reference release's global layout, converted by oceane2e.data.converters.reference_global",
        "synthetic": 0,
        "absent_channels": "zos",
        "equatorial_band": f"{band.method} |lat| <= {band.half_width_deg} deg, taper {band.taper_deg} deg",
    }
    files = [write_mask(out, ocean)]
    files.append(
        write_clim(
            out / CLIM_FILE, seas, thresh, grid, variable="ssta", baseline=(b0, b1),
            window_half_width=cfg.window_half_width, smooth_width=cfg.smooth_width, percentile=cfg.percentile,
            mask=ocean, attrs={"source": attrs["source"]},
        )
    )
    for year in years:
        files.append(write_year(year_path(out, "mhw", year), "mhw", year, mhw[year], grid, channels=MHW_OUT_CHANNELS,
                                mask=ocean, attrs=attrs))
        files.append(write_year(year_path(out, "geo", year), "geo", year, geo[year], grid, mask=ocean, attrs=attrs))
    contents = {
        "years": years,
        "channels": {"geo": list(GEO_CHANNELS), "mhw": list(MHW_OUT_CHANNELS)},
        "absent_channels": ["zos"],
        "climatology": {"variable": "ssta", "baseline": [b0, b1], "file": CLIM_FILE},
        "grid": {"lat_first": float(grid.lat[0]), "lon_first": float(grid.lon[0]), "shape": list(grid.shape),
                 "periodic_in_longitude": True},
        "ocean_cells": int(ocean.sum()),
        "reference_mask_ocean_cells": int(ref_ocean.sum()),
        "equatorial_band": attrs["equatorial_band"],
        "source_root": str(cfg.source_root),
    }
    (out / "contents.json").write_text(json.dumps(contents, indent=2) + "\n")
    files.append(out / "contents.json")
    del mhw, geo, record
    shutil.rmtree(cache, ignore_errors=True)
    return ConversionReport(out, grid, years, int(ocean.sum()), int(ref_ocean.sum()), files)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m oceane2e.data.converters.reference_global --config global_low/prepare_reference.yaml``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(ReferenceGlobalConfig, args.config)
        report = convert_reference_global(cfg, progress=not args.no_progress)
    except (ConfigError, DataContractError) as err:
        print(f"reference_global: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {report.out_dir}: {report.grid.shape[0]}x{report.grid.shape[1]}, years {report.years[0]}-"
        f"{report.years[-1]}, {report.ocean_cells} ocean cells ({report.reference_ocean_cells} in the reference mask)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
