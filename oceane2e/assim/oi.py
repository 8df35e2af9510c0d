"""``oceane2e oi``: optimal interpolation, the classical analysis of SSTA and of the currents.

    python -m oceane2e oi --config configs/oi.yaml            # analyses of the test years + scores
    python -m oceane2e oi --config configs/oi.yaml --tune     # tune on the training years first

For each day of ``years`` (default: the test years) and each variable:

* SSTA: the ``ssta`` records of days d - ``window_days`` .. d + ``window_days`` (with ``realtime``: .. d,
  the analysis a forecast started on day d could have had) update a background
  (zero anomaly, or a forecast file) by local OI (:mod:`oceane2e.assim.oi_core`) at every ocean
  cell, analysis time = noon of day d;
* sea level: the ``sla`` records give a gridded SLA the same way; adding the mean dynamic topography
  (the time-mean ``zos`` of the training years, as the observing system removed it) gives the sea
  level η and :func:`oceane2e.assim.grid.geostrophic_currents` the currents (land-aware).

The covariance parameters (length km, time days, background std) of each variable are tuned with
``--tune`` by cross-validation: on ``tune.days`` days drawn from the TRAINING years a random
``holdout_fraction`` of the records is withheld, analysed from the others, and the parameters with
the lowest RMSE against the withheld values win; they are written to a tuned YAML (never from test
years: the command refuses tune days outside ``data.train_years``).

Writes ``results/<method>_analysis.nc`` (``ssta``, ``ssta_error_std`` K, ``sla`` m, ``u_g``,
``v_g`` m s-1 on (time, lat, lon), land NaN, CF; background currents as 2-D variables), then scores
it (:mod:`oceane2e.assim.scores`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from oceane2e.config import ConfigError, StrictModel, load_config, parse_override
from oceane2e.data.config import DataConfig
from oceane2e.data.contract import GridCoords
from oceane2e.data.observations import OBS_DIR, ObsRecords
from oceane2e.dates import days_in_year
from oceane2e.outputs import written

from .grid import geostrophic_currents, inside_grid, nearest_cell, xyz_km
from .oi_core import Blocks, Covariance, grid_blocks, local_oi

_NOON = np.timedelta64(12 * 3600, "s")


class OIVariableConfig(StrictModel):
    """Covariance and locality of the OI of one variable."""

    length_km: float = Field(100.0, gt=0.0, description="Gaussian length scale L (km): exp(-r²/2L²)")
    time_days: float = Field(2.0, gt=0.0, description="Gaussian time scale T (days): exp(-Δt²/2T²)")
    background_std: float = Field(1.0, gt=0.0, description="background error std σb (K or m)")
    window_days: int = Field(3, ge=0, description="records of days d-window .. d+window analyse day d")
    max_obs: int = Field(100, ge=1, description="observations per block (nearest in the scaled space)")
    block_cells: int = Field(6, ge=1, description="block size (cells per side) sharing one set of observations")


class TuneGrid(StrictModel):
    """Candidate values of one variable's parameters (every combination is tried)."""

    length_km: list[float] = Field(..., min_length=1)
    time_days: list[float] = Field(..., min_length=1)
    background_std: list[float] = Field(..., min_length=1)
    holdout: Literal["records", "passes"] = Field(
        "records", description="withhold single records, or whole passes (records of a day less than a minute "
        "apart: an along-track pass), which tests the analysis away from the tracks")


class TuneConfig(StrictModel):
    """Cross-validation on withheld observations of the training years."""

    days: int = Field(30, ge=1, description="days drawn at random from the training years")
    holdout_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="fraction of each day's records withheld")
    seed: int = 0
    ssta: TuneGrid = Field(default_factory=lambda: TuneGrid(
        length_km=[30.0, 45.0, 60.0, 90.0, 130.0], time_days=[1.0, 2.0, 4.0], background_std=[0.4, 0.6, 0.9, 1.2]))
    sla: TuneGrid = Field(default_factory=lambda: TuneGrid(
        length_km=[40.0, 60.0, 90.0, 130.0], time_days=[2.0, 4.0, 8.0, 12.0], background_std=[0.03, 0.05, 0.1, 0.2],
        holdout="passes"))
    output: Path | None = Field(None, description="tuned YAML written by --tune; null: <config stem>_tuned.yaml")


class BackgroundConfig(StrictModel):
    """The SSTA background: zero anomaly, or a forecast file with ``ssta`` (time, lat, lon) K."""

    kind: Literal["zero", "forecast"] = "zero"
    path: Path | None = None

    @model_validator(mode="after")
    def _path_given(self) -> BackgroundConfig:
        if self.kind == "forecast" and self.path is None:
            raise ValueError("background.kind 'forecast' needs background.path")
        return self


class OIConfig(StrictModel):
    """``configs/oi.yaml``."""

    data: DataConfig
    obs_dir: Path | None = Field(None, description="observation folder; null: <data.root>/obs")
    years: list[int] | None = Field(None, description="analysed years; null: data.test_years")
    results_dir: Path = Field(Path("results"), description="where <method>_analysis.nc and the scores go")
    method: str = Field("OI", description="name of the method in file names and scores")
    realtime: bool = Field(False, description="analyse day d from the records of days up to d only (the past half of "
                           "each variable's window), as a forecast started on day d must be; false: the centred "
                           "window d-window .. d+window, a smoother that also sees the next days")
    background: BackgroundConfig = Field(default_factory=BackgroundConfig)
    ssta: OIVariableConfig = Field(default_factory=OIVariableConfig)
    sla: OIVariableConfig = Field(default_factory=lambda: OIVariableConfig(
        length_km=60.0, time_days=8.0, background_std=0.05, window_days=7))
    tune: TuneConfig = Field(default_factory=TuneConfig)
    tuned_by: str | None = Field(None, description="provenance of the parameters (the tuning command and its scores)")
    score: bool = Field(True, description="score the analysis against the truth after writing it")

    @property
    def obs_root(self) -> Path:
        return self.obs_dir if self.obs_dir is not None else self.data.root / OBS_DIR

    @property
    def analysed_years(self) -> list[int]:
        return sorted(self.years or self.data.test_years)


# ---------------------------------------------------------------------------------------------
# one variable on a grid


def _days_since(t: np.ndarray, origin: np.datetime64) -> np.ndarray:
    return (np.asarray(t, "datetime64[s]") - np.datetime64(origin, "s")).astype(np.float64) / 86400.0


class GridOI:
    """Local OI of one variable onto the ocean cells of a grid (the targets' blocks built once).

    Args:
        coords, mask: the grid and its ocean (H, W) bool; params: the variable's parameters.
    """

    def __init__(self, coords: GridCoords, mask: np.ndarray, params: OIVariableConfig) -> None:
        self.coords, self.mask, self.params = coords, np.asarray(mask, bool), params
        self.cells, self.blocks = grid_blocks(self.mask, params.block_cells)
        lat2, lon2 = np.meshgrid(coords.lat, coords.lon, indexing="ij")
        self.xyz = xyz_km(lat2.ravel()[self.cells], lon2.ravel()[self.cells])
        self.cov = Covariance(params.length_km, params.time_days, params.background_std)

    def analyse(self, day: np.datetime64, obs: ObsRecords, background: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Analysis (H, W) and its error std (H, W) at noon of ``day`` from ``obs`` (already the
        records of the window and variable); ``background`` (H, W) or zero. Land NaN."""
        h, w = self.mask.shape
        bg = np.zeros((h, w)) if background is None else np.asarray(background, np.float64)
        t_ref = np.datetime64(day, "s") + _NOON
        if len(obs):
            i, j = nearest_cell(self.coords, obs.lat, obs.lon)
            innovation = obs.value.astype(np.float64) - bg[i, j]
        else:
            innovation = np.zeros(0)
        inc, var = local_oi(self.xyz, np.zeros(self.cells.size), self.blocks, xyz_km(obs.lat, obs.lon),
                            _days_since(obs.time, t_ref), innovation, obs.error_std.astype(np.float64) ** 2,
                            self.cov, self.params.max_obs)
        out = np.full(h * w, np.nan)
        err = np.full(h * w, np.nan)
        out[self.cells] = bg.ravel()[self.cells] + inc
        err[self.cells] = np.sqrt(var)
        return out.reshape(h, w), err.reshape(h, w)


def window(obs: ObsRecords, day: np.datetime64, window_days: int, *, realtime: bool = False) -> ObsRecords:
    """Records of days ``day - window_days`` .. ``day + window_days`` (.. ``day`` when ``realtime``)."""
    d = np.datetime64(day, "D")
    last = d if realtime else d + window_days
    return obs.between(np.datetime64(d - window_days, "s"), np.datetime64(last + 1, "s"))


def ssta_records(obs: ObsRecords) -> ObsRecords:
    """The SSTA records (every platform). SST records (absolute) are not used: convert them first."""
    return obs.of(variable="ssta")


# ---------------------------------------------------------------------------------------------
# cross-validation


@dataclass(frozen=True)
class TuneResult:
    """Best parameters of one variable and the CV RMSE of every candidate ((L, T, σb), rmse)."""

    best: tuple[float, float, float]
    rmse: float
    table: list[tuple[tuple[float, float, float], float]]
    n_withheld: int


def cross_validate(
    obs: ObsRecords, days: Sequence[np.datetime64], grid: TuneGrid, base: OIVariableConfig, coords: GridCoords,
    holdout_fraction: float, rng: np.random.Generator, *, realtime: bool = False,
) -> TuneResult:
    """RMSE against withheld records of every candidate of ``grid``; the lowest wins.

    On each of ``days`` a random ``holdout_fraction`` of that day's records (or passes, see
    :class:`TuneGrid`) is withheld; the OI of
    the other records of the window predicts them (targets at their own time and place, grouped
    into blocks of ``base.block_cells`` cells). The RMSE includes the withheld records' own noise,
    the same for every candidate. ``realtime``: the windows end on the day (past records only), as the
    analyses they tune.
    """
    cases = []
    nbj = -(-coords.lon.size // base.block_cells)
    for day in days:
        win = window(obs, day, base.window_days, realtime=realtime)
        today = win.day == np.datetime64(day, "D")
        if today.sum() < 5:
            continue
        if grid.holdout == "passes":
            order = np.argsort(win.time, kind="stable")
            gap = np.diff(win.time[order].astype(np.int64), prepend=-(10**12)) > 60
            unit = np.empty(len(win), np.int64)
            unit[order] = np.cumsum(gap)
        else:
            unit = np.arange(len(win))
        candidates = np.unique(unit[today])
        n_held = max(1, int(round(holdout_fraction * candidates.size)))
        held = today & np.isin(unit, rng.choice(candidates, n_held, replace=False))
        train, test = win.select(~held), win.select(held)
        i, j = nearest_cell(coords, test.lat, test.lon)
        blocks = Blocks.from_ids((i // base.block_cells) * nbj + j // base.block_cells)
        t_ref = np.datetime64(day, "s") + _NOON
        cases.append((xyz_km(train.lat, train.lon), _days_since(train.time, t_ref), train.value.astype(np.float64),
                      train.error_std.astype(np.float64) ** 2, xyz_km(test.lat, test.lon),
                      _days_since(test.time, t_ref), blocks, test.value.astype(np.float64)))
    if not cases:
        raise ConfigError("no tuning day has records to cross-validate on; observe the training years first "
                          "(`oceane2e observe -o years=null`)")
    table = []
    for length in grid.length_km:
        for tau in grid.time_days:
            for std in grid.background_std:
                cov = Covariance(length, tau, std)
                sq, n = 0.0, 0
                for oxyz, ot, ov, ovar, txyz, tt, blocks, tv in cases:
                    inc, _ = local_oi(txyz, tt, blocks, oxyz, ot, ov, ovar, cov, base.max_obs)
                    sq += float(np.sum((inc - tv) ** 2))
                    n += tv.size
                table.append(((length, tau, std), float(np.sqrt(sq / n))))
    best = min(table, key=lambda r: r[1])
    return TuneResult(best=best[0], rmse=best[1], table=table, n_withheld=sum(c[-1].size for c in cases))


def tune(cfg: OIConfig, config_path: Path, *, progress: bool = True) -> tuple[OIConfig, Path]:
    """Tune both variables on ``cfg.tune.days`` days of the training years; write the tuned YAML."""
    import yaml

    rng = np.random.default_rng(cfg.tune.seed)
    all_days = np.concatenate([np.datetime64(f"{y:04d}-01-01", "D") + np.arange(days_in_year(y))
                               for y in cfg.data.train_years])
    days = np.sort(rng.choice(all_days, size=min(cfg.tune.days, all_days.size), replace=False))
    years = sorted({int(str(d)[:4]) for d in days})
    assert set(years) <= set(cfg.data.train_years)  # never a test (or validation) year
    coords, folder = _grid(cfg)
    folder.close()
    pad = max(cfg.ssta.window_days, cfg.sla.window_days)
    obs = _read_available(cfg.obs_root, years, np.datetime64(days[0] - pad, "s"), np.datetime64(days[-1] + pad + 1, "s"))
    record_years = obs.time.astype("datetime64[Y]").astype(np.int64) + 1970
    obs = obs.select(np.isin(record_years, cfg.data.train_years))  # windows never reach into other splits
    new = cfg.model_copy(deep=True)
    lines = []
    for name, grid, base, records in (("ssta", cfg.tune.ssta, cfg.ssta, ssta_records(obs)),
                                      ("sla", cfg.tune.sla, cfg.sla, obs.of(variable="sla"))):
        t0 = time.perf_counter()
        res = cross_validate(records, days, grid, base, coords, cfg.tune.holdout_fraction, rng, realtime=cfg.realtime)
        length, tau, std = res.best
        setattr(new, name, base.model_copy(update={"length_km": length, "time_days": tau, "background_std": std}))
        line = (f"{name}: L={length:g} km, T={tau:g} d, sigma_b={std:g}; CV RMSE {res.rmse:.4f} on "
                f"{res.n_withheld} withheld records ({time.perf_counter() - t0:.0f} s)")
        lines.append(line)
        if progress:
            print(line, flush=True)
    new.tuned_by = (f"oceane2e oi --config {config_path} --tune: {cfg.tune.days} days of {years[0]}..{years[-1]} "
                    f"(training years), {cfg.tune.holdout_fraction:.0%} withheld"
                    + (", past-only windows" if cfg.realtime else "") + "; " + "; ".join(lines))
    out = cfg.tune.output or config_path.with_name(f"{config_path.stem}_tuned.yaml")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(f"# written by: oceane2e oi --config {config_path} --tune\n"
                   + yaml.safe_dump(new.model_dump(mode="json"), sort_keys=False))
    tmp.replace(out)
    return new, out


# ---------------------------------------------------------------------------------------------
# analyses of a period


def _grid(cfg: OIConfig, years: Sequence[int] | None = None):
    from oceane2e.data.datasets import DataFolder

    folder = DataFolder(cfg.data.root, years or cfg.data.train_years, lat_bounds=cfg.data.lat_bounds,
                        lon_bounds=cfg.data.lon_bounds, kinds=("mhw",), channels={"mhw": ["zos"]})
    return folder.coords, folder


def mean_dynamic_topography(cfg: OIConfig) -> tuple[np.ndarray, GridCoords, np.ndarray]:
    """Time-mean zos (H, W) m of the training years (land NaN), the grid and the mask."""
    from .observe import time_mean_zos

    coords, folder = _grid(cfg)
    mdt = time_mean_zos(folder, cfg.data.train_years)
    mask = folder.mask
    folder.close()
    return np.where(mask, mdt, np.nan), coords, mask


def _background_reader(cfg: OIConfig, coords: GridCoords):
    """A function day -> background SSTA (H, W) K (None for zero anomaly)."""
    if cfg.background.kind == "zero":
        return lambda day: None
    import netCDF4

    ds = netCDF4.Dataset(cfg.background.path)
    times = netCDF4.num2date(ds["time"][:], ds["time"].units, only_use_cftime_datetimes=False)
    index = {np.datetime64(f"{t.year:04d}-{t.month:02d}-{t.day:02d}", "D"): k for k, t in enumerate(times)}
    if ds["ssta"].shape[1:] != coords.shape:
        raise ConfigError(f"{cfg.background.path}: ssta grid {ds['ssta'].shape[1:]} != data grid {coords.shape}")

    def read(day: np.datetime64) -> np.ndarray:
        k = index.get(np.datetime64(day, "D"))
        if k is None:
            raise ConfigError(f"{cfg.background.path}: no background for {day}")
        return np.nan_to_num(np.asarray(ds["ssta"][k], dtype=np.float64))

    return read


@dataclass
class OIResult:
    """What :func:`run_oi` wrote."""

    path: Path
    n_days: int
    seconds: float
    seconds_per_day: float


def run_oi(cfg: OIConfig, *, progress: bool = True, overwrite: bool = False) -> OIResult:
    """Analyse every day of ``cfg.analysed_years`` and write ``<results>/<method>_analysis.nc``.

    An existing analysis file is replaced only with ``overwrite`` (``--overwrite``).
    """
    from oceane2e.outputs import claim_outputs

    claim_outputs([cfg.results_dir / f"{cfg.method}_analysis.nc"], overwrite=overwrite, what=f"{cfg.method} analysis")
    from tqdm import tqdm

    t0 = time.perf_counter()
    mdt, coords, mask = mean_dynamic_topography(cfg)
    u_mdt, v_mdt = geostrophic_currents(np.nan_to_num(mdt), coords, mask)
    years = cfg.analysed_years
    dates = np.concatenate([np.datetime64(f"{y:04d}-01-01", "D") + np.arange(days_in_year(y)) for y in years])
    pad = max(cfg.ssta.window_days, cfg.sla.window_days)
    obs = _read_available(cfg.obs_root, years, np.datetime64(dates[0] - pad, "s"), np.datetime64(dates[-1] + pad + 1, "s"))
    obs = obs.select(inside_grid(coords, obs.lat, obs.lon))  # `oceane2e check` reports the others
    sst_obs, sla_obs = ssta_records(obs), obs.of(variable="sla")
    oi_t, oi_h = GridOI(coords, mask, cfg.ssta), GridOI(coords, mask, cfg.sla)
    background = _background_reader(cfg, coords)
    shape = (dates.size, *coords.shape)
    out = {k: np.full(shape, np.nan, np.float32) for k in ("ssta", "ssta_error_std", "sla", "u_g", "v_g")}
    if cfg.background.kind == "forecast":
        out["ssta_background"] = np.full(shape, np.nan, np.float32)
    t_days = time.perf_counter()
    for k, day in enumerate(tqdm(dates, desc="oi", unit="day", disable=not progress)):
        bg = background(day)
        a, e = oi_t.analyse(day, window(sst_obs, day, cfg.ssta.window_days, realtime=cfg.realtime), bg)
        out["ssta"][k], out["ssta_error_std"][k] = a, e
        if bg is not None:
            out["ssta_background"][k] = np.where(mask, bg, np.nan)
        sla, _ = oi_h.analyse(day, window(sla_obs, day, cfg.sla.window_days, realtime=cfg.realtime))
        out["sla"][k] = sla
        u, v = geostrophic_currents(np.nan_to_num(mdt + sla), coords, mask)
        out["u_g"][k], out["v_g"][k] = u, v
    per_day = (time.perf_counter() - t_days) / dates.size
    path = cfg.results_dir / f"{cfg.method}_analysis.nc"
    from .analysis_file import CENTRED, PAST_ONLY

    t, h = cfg.ssta.window_days, cfg.sla.window_days
    windows = (f"{PAST_ONLY} (ssta: days d-{t} .. d, sla: d-{h} .. d)" if cfg.realtime
               else f"{CENTRED} (ssta: days d-{t} .. d+{t}, sla: d-{h} .. d+{h})")
    attrs = {"method": cfg.method, "background_kind": cfg.background.kind, "windows": windows,
             "observations": str(cfg.obs_root), "tuned_by": cfg.tuned_by or "not tuned (config values)",
             "ssta_params": cfg.ssta.model_dump_json(), "sla_params": cfg.sla.model_dump_json(),
             "mean_dynamic_topography": f"time-mean zos of {cfg.data.train_years[0]}..{cfg.data.train_years[-1]}"}
    write_analysis(path, dates, coords, mask, out, attrs, background_currents=(u_mdt, v_mdt))
    return OIResult(path, int(dates.size), time.perf_counter() - t0, per_day)


def _read_available(obs_root: Path, years: Sequence[int], start: np.datetime64, end: np.datetime64) -> ObsRecords:
    """Records of [start, end) from the observation files; every one of ``years`` must have a
    file, neighbouring years (reached by the time windows) are used when they have one."""
    from oceane2e.data.observations import find_obs_years, read_obs_year

    have = set(find_obs_years(obs_root))
    missing = [y for y in years if y not in have]
    if missing:
        raise ConfigError(f"{obs_root}: observations of {missing} missing; make them with "
                          f"`python -m oceane2e observe -o years={sorted(years)}`")
    y0, y1 = int(str(np.datetime64(start, "Y"))), int(str(np.datetime64(end - np.timedelta64(1, "s"), "Y")))
    parts = [read_obs_year(obs_root, y) for y in range(y0, y1 + 1) if y in have]
    return ObsRecords.concat(parts).between(np.datetime64(start, "s"), np.datetime64(end, "s"))


VARIABLE_ATTRS: dict[str, dict[str, str]] = {
    "ssta": {"units": "K", "long_name": "sea surface temperature anomaly analysis"},
    "ssta_error_std": {"units": "K", "long_name": "SSTA analysis error standard deviation (OI theory)"},
    "ssta_background": {"units": "K", "long_name": "SSTA background"},
    "sla": {"units": "m", "long_name": "sea level anomaly analysis", "standard_name": "sea_surface_height_above_mean_sea_level"},
    "u_g": {"units": "m s-1", "long_name": "eastward surface geostrophic current analysis",
            "standard_name": "surface_geostrophic_eastward_sea_water_velocity"},
    "v_g": {"units": "m s-1", "long_name": "northward surface geostrophic current analysis",
            "standard_name": "surface_geostrophic_northward_sea_water_velocity"},
}


def write_analysis(
    path: Path, dates: np.ndarray, coords: GridCoords, mask: np.ndarray, fields: dict[str, np.ndarray],
    attrs: dict[str, str], *, background_currents: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """Write an analysis file (atomically): ``fields`` name -> (T, H, W) on ``dates``, land NaN, CF.

    ``background_currents`` (u, v) (H, W) m s-1 are written as ``u_g_background``/``v_g_background``.
    """
    import netCDF4

    from oceane2e.data.contract import write_grid_coords

    path.parent.mkdir(parents=True, exist_ok=True)
    with written(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.Conventions = "CF-1.8"
        ds.title = f"Ocean-E2E {attrs.get('method', '')} analysis"
        for k, v in attrs.items():
            ds.setncattr(k, v)
        ds.createDimension("time", dates.size)
        ds.createDimension("lat", coords.lat.size)
        ds.createDimension("lon", coords.lon.size)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.standard_name, t.calendar = "days since 1970-01-01 00:00:00", "time", "standard"
        t[:] = np.asarray(dates, "datetime64[D]").astype(np.int64).astype(np.float64)
        write_grid_coords(ds, coords)
        m = ds.createVariable("mask", "i1", ("lat", "lon"))
        m.long_name, m.flag_values, m.flag_meanings = "land-sea mask", np.array([0, 1], np.int8), "land ocean"
        m[:] = mask.astype(np.int8)
        for name, data in fields.items():
            var = ds.createVariable(name, "f4", ("time", "lat", "lon"), fill_value=np.float32(np.nan),
                                    chunksizes=(1, *coords.shape))
            for key, value in VARIABLE_ATTRS.get(name, {}).items():
                var.setncattr(key, value)
            var[:] = np.where(mask[None], data, np.nan).astype(np.float32)
        if background_currents is not None:
            for name, data in zip(("u_g_background", "v_g_background"), background_currents, strict=True):
                var = ds.createVariable(name, "f4", ("lat", "lon"), fill_value=np.float32(np.nan))
                var.units = "m s-1"
                var.long_name = f"background {name[0]} current: geostrophy of the mean dynamic topography"
                var[:] = np.where(mask, data, np.nan).astype(np.float32)
    return path


def load_oi_config(path: str | Path, overrides: Sequence[str] = ()) -> OIConfig:
    """The OI config at ``path`` with ``key=value`` overrides (raises ConfigError)."""
    return load_config(OIConfig, path, dict(parse_override(o) for o in overrides))


def main(argv: list[str] | None = None) -> int:
    """``oceane2e oi --config configs/oi.yaml [--tune] [-o key=value ...] [--no-progress]``."""
    parser = argparse.ArgumentParser(prog="oceane2e oi", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/oi.yaml"))
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. -o results_dir=/tmp/r -o years=[2009]")
    parser.add_argument("--tune", action="store_true",
                        help="tune the parameters on the training years first (writes the tuned YAML)")
    parser.add_argument("--tune-only", action="store_true", help="tune, write the tuned YAML, and stop")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing <method>_analysis.nc")
    args = parser.parse_args(argv)
    try:
        cfg = load_oi_config(args.config, args.override)
        if args.tune or args.tune_only:
            cfg, out = tune(cfg, args.config, progress=not args.no_progress)
            print(f"tuned parameters written to {out}")
            if args.tune_only:
                return 0
        analyse_and_score(cfg, progress=not args.no_progress, overwrite=args.overwrite)
    except ConfigError as err:
        print(f"oceane2e oi: {err}", file=sys.stderr)
        return 2
    return 0


def analyse_and_score(cfg: OIConfig, *, progress: bool = True, overwrite: bool = False) -> OIResult:
    """:func:`run_oi`, then (with ``cfg.score``) score every analysis in the results and print the table."""
    result = run_oi(cfg, progress=progress, overwrite=overwrite)
    print(f"{result.path}: {result.n_days} days in {result.seconds:.1f} s ({result.seconds_per_day * 1000:.0f} ms/day)")
    if cfg.score:
        from .scores import print_scores, score_analyses

        table = score_analyses(cfg.results_dir, cfg.data.root, cfg.obs_root,
                               lat_bounds=cfg.data.lat_bounds, lon_bounds=cfg.data.lon_bounds)
        print_scores(table)
    return result


if __name__ == "__main__":
    sys.exit(main())
