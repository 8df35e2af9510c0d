"""``oceane2e prepare-obs``: real observation files -> the observation contract (``obs_YYYY.nc``).

Inputs are globs per product (see docs/data.md, "Real observations"): GHRSST L2P/L3 SST, along-track
altimetry (GDR, Sentinel-6, CMEMS L3), Argo profiles/trajectories, IMOS ship SST, GDP drifters. The
target data folder gives the grid, the land mask (``mask.npy``) and the SST climatology
(``clim.nc``) from which SSTA is computed. Output: one ``obs_YYYY.nc`` per year in ``out_dir``
(default ``<data_root>/obs``), checked with :func:`oceane2e.data.observations.check_obs_folder`,
and a table of what each product gave: files read, records kept, records dropped off the grid,
for quality, over land, and outside the requested years.
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from oceane2e.config import ConfigError, StrictModel, parse_override, set_dotted, validate_config
from oceane2e.data.contract import DataContractError
from oceane2e.data.converters.observations import (
    ALTIMETRY_REJECT_FLAGS,
    Converted,
    DropCounts,
    TargetGrid,
    read_along_track,
    read_argo,
    read_drifters,
    read_ghrsst,
    read_ship_sst,
)
from oceane2e.data.observations import (
    OBS_DIR,
    PLATFORMS,
    ObservationError,
    ObsRecords,
    check_obs_folder,
    write_obs_year,
)

Platform = Literal[PLATFORMS]  # type: ignore[valid-type]

# ------------------------------------------------------------------------------------------------
# configuration


class GHRSSTInput(StrictModel):
    """GHRSST GDS2 L2P swaths and L3 grids (SST in K)."""

    files: list[str] = Field(default_factory=list, description="paths or globs of L2P / L3 files")
    min_quality_level: int = Field(4, ge=0, le=5, description="keep quality_level >= this (4 acceptable, 5 best)")
    reject_flags: list[Literal["microwave", "land", "ice", "lake", "river"]] = Field(
        default_factory=lambda: ["land", "ice"], description="l2p_flags bits (GDS2 common bits) that reject a pixel")
    superob: bool = Field(True, description="average the kept pixels of each target cell and pass into one record")
    superob_error_floor_k: float = Field(0.1, ge=0.0, description="lowest error of a super-observation (K)")


class AltimetryInput(StrictModel):
    """Along-track altimetry: GDR (root ``ssha``), Sentinel-6 (``data_01/ku/ssha``), CMEMS L3."""

    files: list[str] = Field(default_factory=list, description="paths or globs of along-track files")
    error_std_m: float = Field(0.03, gt=0.0, description="error standard deviation of one SLA record (m)")
    cmems_variable: Literal["sla_filtered", "sla_unfiltered"] = Field("sla_filtered", description="CMEMS L3 SLA")
    reject_flags: list[str] = Field(default_factory=lambda: list(ALTIMETRY_REJECT_FLAGS),
                                    description="flag variables; a non-zero value rejects the record")
    max_abs_sla_m: float = Field(2.0, gt=0.0, description="|SLA| above this is bad quality (m)")


class ArgoInput(StrictModel):
    """Argo profile (``*_prof.nc``, single profiles) and trajectory (``*_traj.nc``) files."""

    files: list[str] = Field(default_factory=list, description="paths or globs of Argo files")
    max_pressure_dbar: float = Field(10.0, gt=0.0, description="deepest level accepted as the surface (dbar ~ m)")
    good_qc: list[str] = Field(default_factory=lambda: ["1", "2"], description="Argo QC flags kept")
    error_std_k: float = Field(0.05, gt=0.0, description="error of one surface temperature (K)")


class ShipInput(StrictModel):
    """IMOS ship-of-opportunity SST tracks."""

    files: list[str] = Field(default_factory=list, description="paths or globs of IMOS SOOP-SST files")
    good_qc: list[str] = Field(default_factory=lambda: ["Z"], description="IMOS QC flags kept (Z: passed all tests)")
    error_std_k: float = Field(0.2, gt=0.0, description="error of one ship SST (K)")
    platform: Platform = Field("drifter", description="contract platform of ship SST (in situ surface point)")


class DrifterInput(StrictModel):
    """Surface drifters in the GDP ragged-array layout."""

    files: list[str] = Field(default_factory=list, description="paths or globs of GDP drifter files")
    min_flag: int = Field(4, ge=0, le=5, description="keep flg_sst >= this (5 best)")
    error_std_k: float = Field(0.1, gt=0.0, description="error where the file gives no err_sst (K)")


class PrepareObsConfig(StrictModel):
    """Config of ``oceane2e prepare-obs`` (configs/prepare_obs.yaml)."""

    data_root: str = Field(..., description="target data folder (clim.nc, mask.npy)")
    out_dir: str | None = Field(None, description="observation folder (default <data_root>/obs)")
    years: list[int] | None = Field(None, description="years written (default: every year with records)")
    sst_as: Literal["ssta", "sst"] = Field("ssta", description="SST records as anomalies from clim.nc, or SST")
    ghrsst: GHRSSTInput = Field(default_factory=GHRSSTInput)
    altimetry: AltimetryInput = Field(default_factory=AltimetryInput)
    argo: ArgoInput = Field(default_factory=ArgoInput)
    ship: ShipInput = Field(default_factory=ShipInput)
    drifter: DrifterInput = Field(default_factory=DrifterInput)

    @model_validator(mode="after")
    def _some_input(self) -> PrepareObsConfig:
        if not any(getattr(self, p).files for p in PRODUCTS):
            raise ValueError(f"no input files: give files for at least one of {list(PRODUCTS)}")
        return self

    def output_dir(self) -> Path:
        """The observation folder written."""
        return Path(self.out_dir) if self.out_dir else Path(self.data_root) / OBS_DIR


PRODUCTS: tuple[str, ...] = ("ghrsst", "altimetry", "argo", "ship", "drifter")

# ------------------------------------------------------------------------------------------------
# driver


@dataclass
class ProductReport(DropCounts):
    """:class:`DropCounts` of one product plus the records outside the requested years."""

    other_years: int = 0


@dataclass
class ObsReport:
    """What :func:`prepare_obs` did."""

    out_dir: Path
    years: list[int]
    products: dict[str, ProductReport] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The summary table, one row per product given."""
        cols = ("files", "empty_files", "candidates", "kept", "off_grid", "quality", "land", "other_years")
        heads = ("files", "empty", "source records", "kept", "off-grid", "quality", "land", "other years")
        widths = [max(len(h), 7) for h in heads]
        lines = ["product    " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))]
        for name, rep in self.products.items():
            lines.append(f"{name:<10} " + "  ".join(f"{getattr(rep, c):>{w}}" for c, w in zip(cols, widths, strict=True)))
        return "\n".join(lines)


def expand(patterns: Sequence[str], product: str) -> list[Path]:
    """Files matching the globs (sorted, without duplicates); a glob matching nothing is an error."""
    out: dict[Path, None] = {}
    for pattern in patterns:
        hits = sorted(glob.glob(pattern))
        if not hits:
            raise ObservationError(f"{pattern}: no file matches ({product} input); fix the path or glob")
        out.update((Path(h), None) for h in hits)
    return list(out)


def _reader(cfg: PrepareObsConfig, product: str) -> Callable[[Path, TargetGrid], Converted]:
    sst_as = cfg.sst_as
    if product == "ghrsst":
        c = cfg.ghrsst
        return lambda p, g: read_ghrsst(p, g, min_quality_level=c.min_quality_level, reject_flags=c.reject_flags,
                                        superob_floor=c.superob_error_floor_k if c.superob else None, sst_as=sst_as)
    if product == "altimetry":
        a = cfg.altimetry
        return lambda p, g: read_along_track(p, g, error_std_m=a.error_std_m, cmems_variable=a.cmems_variable,
                                             reject_flags=a.reject_flags, max_abs_sla_m=a.max_abs_sla_m)
    if product == "argo":
        r = cfg.argo
        return lambda p, g: read_argo(p, g, max_pressure_dbar=r.max_pressure_dbar, good_qc=r.good_qc,
                                      error_std_k=r.error_std_k, sst_as=sst_as)
    if product == "ship":
        s = cfg.ship
        return lambda p, g: read_ship_sst(p, g, good_qc=s.good_qc, error_std_k=s.error_std_k, sst_as=sst_as,
                                          platform=s.platform)
    d = cfg.drifter
    return lambda p, g: read_drifters(p, g, min_flag=d.min_flag, error_std_k=d.error_std_k, sst_as=sst_as)


def _read_one(read: Callable[[Path, TargetGrid], Converted], path: Path, grid: TargetGrid, product: str) -> Converted:
    try:
        return read(path, grid)
    except (ObservationError, DataContractError):
        raise
    except (OSError, RuntimeError, KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
        raise ObservationError(f"{path}: could not be read as a {product} file ({type(err).__name__}: {err}); "
                               f"check that it is listed under the right product, or re-download it") from None


def _year_of(t: np.ndarray) -> np.ndarray:
    return t.astype("datetime64[Y]").astype(np.int64) + 1970


def prepare_obs(cfg: PrepareObsConfig, *, progress: bool = True) -> ObsReport:
    """Convert every input file, write ``obs_YYYY.nc`` per year and check the folder.

    Raises:
        ObservationError, DataContractError: bad input (the message names the file and the fix).
    """
    from tqdm import tqdm

    grid = TargetGrid.from_folder(cfg.data_root, need_clim=cfg.sst_as == "ssta")
    out = cfg.output_dir()
    report = ObsReport(out_dir=out, years=[], notes=list(grid.notes))
    per_product: dict[str, ObsRecords] = {}
    for product in PRODUCTS:
        patterns = getattr(cfg, product).files
        if not patterns:
            continue
        read = _reader(cfg, product)
        rep = ProductReport()
        parts = []
        for path in tqdm(expand(patterns, product), desc=f"prepare-obs {product}", unit="file", disable=not progress):
            conv = _read_one(read, path, grid, product)
            rep.add(conv.counts)
            parts.append(conv.records)
        per_product[product] = ObsRecords.concat(parts)
        report.products[product] = rep
    all_years = sorted({int(y) for r in per_product.values() for y in _year_of(r.time)})
    years = sorted(set(cfg.years)) if cfg.years else all_years
    if not years:
        raise ObservationError(f"no record was kept from the inputs (see the counts); nothing to write to {out}. "
                               f"Check that the inputs cover the grid of {cfg.data_root}\n{report.table()}")
    report.years = years
    kept = []
    for product, rec in per_product.items():
        inside = np.isin(_year_of(rec.time), years)
        rep = report.products[product]
        rep.other_years = int((~inside).sum())
        rep.kept -= rep.other_years
        kept.append(rec.select(inside))
    records = ObsRecords.concat(kept).sorted_by_time()
    attrs = {"source": "oceane2e prepare-obs: converted real observations", "data_root": str(cfg.data_root),
             "products": " ".join(per_product)}
    for year in tqdm(years, desc="prepare-obs write", unit="year", disable=not progress):
        start = np.datetime64(f"{year:04d}-01-01", "s")
        end = np.datetime64(f"{year + 1:04d}-01-01", "s")
        report.files.append(write_obs_year(out, year, records.between(start, end), attrs=attrs))
    problems = check_obs_folder(out, years, grid.coords.lat, grid.coords.lon)
    if problems:  # the converters place every record on the grid; anything here is a bug
        raise ObservationError("written observations break the contract:\n  " + "\n  ".join(problems))
    return report


# ------------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oceane2e prepare-obs",
        description="Convert real observation files (GHRSST L2P/L3, along-track altimetry, Argo, ship SST, "
        "drifters) into the observation contract (obs_YYYY.nc) on the grid of a data folder.",
    )
    p.add_argument("--config", type=Path, help="YAML config (see configs/prepare_obs.yaml)")
    p.add_argument("--data-root", help="target data folder (clim.nc, mask.npy)")
    p.add_argument("--out", help="observation folder (default <data-root>/obs)")
    p.add_argument("--years", type=int, nargs="+", help="years to write (default: every year with records)")
    p.add_argument("--sst-as", choices=("ssta", "sst"))
    for product in PRODUCTS:
        p.add_argument(f"--{product}", nargs="+", metavar="GLOB", help=f"{product} files or globs")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--no-progress", action="store_true")
    return p


def config_from_args(args: argparse.Namespace) -> PrepareObsConfig:
    """Merge ``--config`` with the flags (flags win) into a validated :class:`PrepareObsConfig`."""
    import yaml

    data: dict = {}
    source = "<command line>"
    if args.config is not None:
        if not args.config.exists():
            raise ConfigError(f"{args.config}: config file not found")
        try:
            data = yaml.safe_load(args.config.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{args.config}: not valid YAML ({err})") from None
        source = str(args.config)
    flat = {"data_root": args.data_root, "out_dir": args.out, "years": args.years, "sst_as": args.sst_as}
    flat.update({f"{p}.files": getattr(args, p) for p in PRODUCTS})
    for key, value in flat.items():
        if value is not None:
            set_dotted(data, key, value)
    for text in args.set:
        set_dotted(data, *parse_override(text))
    return validate_config(PrepareObsConfig, data, source=source)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``oceane2e prepare-obs``; returns 0 (ok), 1 (bad input) or 2 (usage)."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        cfg = config_from_args(args)
        report = prepare_obs(cfg, progress=not args.no_progress)
    except (ConfigError, ObservationError, DataContractError) as err:
        print(f"prepare-obs: {err}", file=sys.stderr)
        return 1
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {report.out_dir}: {len(report.files)} files, years {', '.join(map(str, report.years))}")
    print(report.table())
    return 0


__all__ = ["ObsReport", "PrepareObsConfig", "ProductReport", "expand", "main", "prepare_obs"]
