"""``oceane2e evaluate`` / ``evaluate.py``: score every model in ``results/`` beside the references.

For every ``<Model>_outputs.npy`` (forecast SSTA, (sample, lead, lat, lon), K) with its
``<Model>_forecast.nc`` (start dates, leads, grid) in the results folder, and for persistence,
damped persistence and climatology built from the observed SSTA of the data folder for the same
start dates, this computes per lead day (DESIGN.md §7):

* cos-latitude-weighted, ocean-only RMSE and bias, and the ACC (:mod:`oceane2e.evaluation.metrics`);
* MHW flags of every forecast with the observed threshold of ``clim.nc`` and the observed days
  before each start date prepended (:func:`oceane2e.mhw.forecast.forecast_mhw`), scored against
  the flags of the observed SSTA: POD, FAR, CSI, HSS, SEDI, and the same for category >= Strong.

The observed SSTA of the data folder is the truth for every model (``<Model>_inputs.npy``, when
present, must agree with it). Work streams over chunks of start dates; model outputs are memory
mapped. Outputs: ``skill.csv`` (model, lead, metric, value), ``report.md`` and PNG figures in
``figures/``; the RMSE table is printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from oceane2e.errors import UserError, pop_debug_flag, report_user_errors
from oceane2e.evaluation import metrics as M
from oceane2e.evaluation.calibration import CALIBRATED_SUFFIX
from oceane2e.evaluation.references import REFERENCE_NAMES, fit_tau_from_data, reference_forecasts
from oceane2e.mhw.categories import CATEGORY_NAMES, STRONG
from oceane2e.threads import cpu_budget

if TYPE_CHECKING:
    import pandas as pd

OUTPUTS_SUFFIX = "_outputs.npy"
INPUTS_SUFFIX = "_inputs.npy"
FORECAST_SUFFIX = "_forecast.nc"
TABLE_LEADS: tuple[int, ...] = (1, 5, 10, 20, 30, 40)
REPORT_METRICS: tuple[tuple[str, str], ...] = (
    ("rmse", "SSTA RMSE (K, lower is better)"),
    ("bias", "SSTA bias, forecast − observed (K, closest to 0 is best)"),
    ("acc", "SSTA anomaly correlation (higher is better)"),
    ("csi", "MHW critical success index (higher is better)"),
    ("sedi", "MHW symmetric extremal dependence index (higher is better)"),
    ("csi_strong", "MHW category >= Strong: critical success index (higher is better)"),
)
#: metric suffix of the scores of category >= each category from Strong on (Hobday et al. 2018 codes 2..4);
#: category >= Moderate is every MHW (no suffix)
CATEGORY_SUFFIXES: dict[int, str] = {STRONG + i: "_" + name.lower() for i, name in enumerate(CATEGORY_NAMES[1:])}
TRUTH_TOLERANCE_K = 1e-3
_CHUNK_ELEMENTS = 8_000_000
# Observed days put before each forecast for MHW detection. Hobday's rules look back at most
# min_duration - 1 + max_gap = 6 days from the first lead (a 5-day run ending 2 days before it),
# so 10 days give the same flags as the whole record (tested) at a third of the cost of 30.
HISTORY_DAYS = 10
#: forecasts scored at once (threads; at most the CPU count): each holds its detections of one chunk in memory
SCORING_THREADS = 2


class EvaluationError(UserError, ValueError):
    """The results or data cannot be evaluated together; the message names the file and the fix."""


# --------------------------------------------------------------------------------------------
# inputs


@dataclass
class ModelResult:
    """One model's forecasts in ``results/``.

    Attributes:
        name: model name (file prefix).
        outputs: (S, L, H, W) forecast SSTA in K, memory mapped.
        inputs: (S, L, H, W) truth written by the model's inference, or None.
        time0: (S,) datetime64[D] start dates; lead: (L,) days.
        lat, lon: (H,), (W,) degrees; mask: (H, W) bool or None.
    """

    name: str
    outputs: np.ndarray
    inputs: np.ndarray | None
    time0: np.ndarray
    lead: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    mask: np.ndarray | None
    outputs_path: Path
    forecast_path: Path
    attrs: dict = field(default_factory=dict)


def discover_models(results_dir: str | Path) -> list[str]:
    """Names of the models with a ``<Model>_outputs.npy`` in ``results_dir``, sorted."""
    return sorted(p.name[: -len(OUTPUTS_SUFFIX)] for p in Path(results_dir).glob(f"*{OUTPUTS_SUFFIX}"))


def _forecast_meta(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, dict]:
    """(time0 datetime64[D], lead, lat, lon, mask, global attributes) of a ``<Model>_forecast.nc``."""
    from oceane2e.data.contract import DataContractError
    from oceane2e.data.forecast_files import ForecastFile

    try:
        with ForecastFile(path) as f:
            return f.time0, f.lead, np.asarray(f.coords.lat), np.asarray(f.coords.lon), f.mask, dict(f.attrs)
    except DataContractError as err:
        raise EvaluationError(f"{err} (re-run that model's inference)") from err


def load_model(results_dir: str | Path, name: str) -> ModelResult:
    """Open ``<name>_outputs.npy`` (memory mapped), ``<name>_inputs.npy`` and ``<name>_forecast.nc``."""
    results_dir = Path(results_dir)
    outputs_path = results_dir / f"{name}{OUTPUTS_SUFFIX}"
    forecast_path = results_dir / f"{name}{FORECAST_SUFFIX}"
    inputs_path = results_dir / f"{name}{INPUTS_SUFFIX}"
    if not forecast_path.exists():
        raise EvaluationError(
            f"{forecast_path}: missing; {outputs_path.name} needs it for its start dates and grid "
            f"(re-run that model's inference, which writes both)"
        )
    try:
        outputs = np.load(outputs_path, mmap_mode="r")
    except Exception as err:  # noqa: BLE001
        raise EvaluationError(f"{outputs_path}: unreadable ({err}); re-run that model's inference") from err
    if outputs.ndim != 4:
        raise EvaluationError(f"{outputs_path}: shape {outputs.shape}, expected (sample, lead, lat, lon)")
    inputs = None
    if inputs_path.exists():
        inputs = np.load(inputs_path, mmap_mode="r")
        if inputs.shape != outputs.shape:
            raise EvaluationError(
                f"{inputs_path}: shape {inputs.shape} != {outputs_path.name} shape {outputs.shape}; "
                f"re-run that model's inference"
            )
    time0, lead, lat, lon, mask, attrs = _forecast_meta(forecast_path)
    s, n_lead, h, w = outputs.shape
    if (time0.size, lead.size, lat.size, lon.size) != (s, n_lead, h, w):
        raise EvaluationError(
            f"{outputs_path}: shape {outputs.shape} does not match {forecast_path.name} "
            f"(sample={time0.size}, lead={lead.size}, lat={lat.size}, lon={lon.size}); "
            f"the two files come from different runs, re-run that model's inference"
        )
    return ModelResult(name, outputs, inputs, time0, lead, lat, lon, mask, outputs_path, forecast_path, attrs)


def check_alignment(models: Sequence[ModelResult], lat: np.ndarray, lon: np.ndarray, mask: np.ndarray) -> None:
    """Every model must share the start dates and leads of the others and the grid of the data.

    The start dates and leads shared by most models are the reference (so one stale file is the
    one reported, whatever its name); ties go to the first model in name order.

    Raises:
        EvaluationError listing every file that does not line up and how.
    """
    signatures = [(m.time0.astype("int64").tobytes(), m.lead.tobytes()) for m in models]
    first = models[max(range(len(models)), key=lambda i: (signatures.count(signatures[i]), -i))]
    problems = []
    for m in models:
        why = []
        if m.time0.shape != first.time0.shape or np.any(m.time0 != first.time0):
            why.append(
                f"start dates ({m.time0.size}, {m.time0[0] if m.time0.size else '-'}..) differ from "
                f"{first.forecast_path.name} ({first.time0.size}, {first.time0[0]}..)"
            )
        if not np.array_equal(m.lead, first.lead):
            why.append(f"leads 1..{m.lead.size} differ from {first.forecast_path.name} (1..{first.lead.size})")
        elif not np.array_equal(m.lead, np.arange(1, m.lead.size + 1)):
            why.append(f"leads {m.lead[:3]}... are not 1..L")
        if m.lat.shape != lat.shape or m.lon.shape != lon.shape or not (
            np.allclose(m.lat, lat, atol=1e-6) and np.allclose(m.lon, lon, atol=1e-6)
        ):
            why.append(f"grid {m.lat.size}x{m.lon.size} differs from the data folder's {lat.size}x{lon.size}")
        elif m.mask is not None and not np.array_equal(m.mask, mask):
            why.append("land mask differs from the data folder's mask.npy")
        if m.time0.size > 1 and not np.all(np.diff(m.time0).astype(int) > 0):
            why.append("start dates are not strictly increasing")
        if why:
            problems.append(f"{m.forecast_path}: " + "; ".join(why))
    if problems:
        raise EvaluationError(
            "these results do not line up with the others (same start dates, leads and grid are needed); "
            "re-run their inference on the same config or remove them:\n  " + "\n  ".join(problems)
        )


class ObservedSSTA:
    """Observed SSTA of a data folder by date, read through :class:`oceane2e.data.datasets.DataFolder`.

    Days of years that are not in the folder read as NaN before ``required_from`` (the observed
    history before the first year); from that date on they are an error naming the missing file.
    """

    def __init__(self, root: str | Path, data_cfg: Any = None) -> None:
        from oceane2e.data.contract import find_years
        from oceane2e.data.datasets import DataFolder

        self.root = Path(root)
        years = find_years(self.root, "mhw")
        bounds = {} if data_cfg is None else {"lat_bounds": data_cfg.lat_bounds, "lon_bounds": data_cfg.lon_bounds}
        self.folder = DataFolder(self.root, years, kinds=("mhw",), channels={"mhw": ("ssta",)}, **bounds) if years else None
        self.years = set(years)

    def read(
        self, first: np.datetime64, last: np.datetime64, grid: tuple[int, int], *, required_from: np.datetime64
    ) -> np.ndarray:
        """SSTA of the days ``first..last`` (inclusive) -> (T, H, W) float32, NaN on land."""
        from oceane2e.data.contract import year_path
        from oceane2e.dates import date_to_year_day

        first, last = np.datetime64(first, "D"), np.datetime64(last, "D")
        n = int((last - first).astype(int)) + 1
        out = np.full((n, *grid), np.nan, dtype=np.float32)
        day = first
        while day <= last:
            year, _ = date_to_year_day(day)
            stop_date = min(last, np.datetime64(f"{year + 1:04d}-01-01", "D") - 1)
            count = int((stop_date - day).astype(int)) + 1
            offset = int((day - first).astype(int))
            if year in self.years:
                out[offset : offset + count] = self.folder.read("mhw", day, count, ("ssta",), fill_land=False)[:, 0]
            elif stop_date >= np.datetime64(required_from, "D"):
                raise EvaluationError(
                    f"{year_path(self.root, 'mhw', year)}: missing, but the forecasts are scored on its days; "
                    f"evaluate against the data folder the models were run on"
                )
            day = stop_date + 1
        return out

    def windows(self, time0: np.ndarray, history_days: int, n_lead: int, mask: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """For each start date, the observed SSTA of the ``history_days`` days up to it and of the
        ``n_lead`` days after it -> (history (S, P, H, W), truth (S, L, H, W)), NaN on land (and before
        the folder's first year)."""
        time0 = np.asarray(time0, dtype="datetime64[D]")
        span = self.read(time0[0] - history_days + 1, time0[-1] + n_lead, mask.shape, required_from=time0[0])
        index = (time0 - time0[0]).astype(int)[:, None] + np.arange(history_days + n_lead)[None, :]
        window = span[index]
        window[:, :, ~mask] = np.nan
        return window[:, :history_days], window[:, history_days:]

    def close(self) -> None:
        if self.folder is not None:
            self.folder.close()


def load_data_config(config_path: str | Path):
    """The ``data:`` section of a stage config as :class:`oceane2e.data.config.DataConfig`."""
    from oceane2e.data.config import load_data_section

    return load_data_section(config_path, what="the evaluation")


# --------------------------------------------------------------------------------------------
# the evaluation


@dataclass
class CaseMaps:
    """One forecast case for the maps: (L, H, W) arrays of the case start date.

    ``forecasts`` and ``categories`` hold, in order, the product (the hybrid) and the best other
    forecast (lowest mean RMSE over the leads among the other models and the references).
    """

    time0: np.datetime64
    truth: np.ndarray
    truth_category: np.ndarray
    forecasts: dict[str, np.ndarray]
    categories: dict[str, np.ndarray]
    mhw_area_days: float = 0.0
    strong_area_days: float = 0.0

    @property
    def model(self) -> str:
        """The first (product) forecast's name."""
        return next(iter(self.forecasts))


@dataclass
class Evaluation:
    """What :func:`run_evaluation` computed and wrote."""

    skill: pd.DataFrame  # columns model, lead, metric, value
    models: list[str]
    references: list[str]
    time0: np.ndarray
    n_lead: int
    tau_days: float
    test_years: list[int]
    train_years: list[int]
    synthetic: bool
    case: CaseMaps | None
    history_days: int = HISTORY_DAYS
    product: str | None = None
    forcing: dict[str, dict] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    ensemble_sections: list[str] = field(default_factory=list)  # Markdown, one per ensemble (probabilistic)
    calibration: dict[str, Any] = field(default_factory=dict)  # MHW threshold scales per source (calibration.py)


def _is_synthetic(root: Path, year: int) -> bool:
    import netCDF4

    from oceane2e.data.contract import year_path

    path = year_path(root, "mhw", year)
    if not path.exists():
        return False
    with netCDF4.Dataset(path) as ds:
        value = ds.getncattr("synthetic") if "synthetic" in ds.ncattrs() else 0
    return str(value).lower() in ("1", "true", "yes")


def _chunk_size(n_lead: int, n_hist: int, grid: tuple[int, int], n_forecasts: int) -> int:
    per_sample = (n_lead + n_hist) * grid[0] * grid[1] * max(n_forecasts, 1)
    return max(1, _CHUNK_ELEMENTS // per_sample)


def run_evaluation(
    results_dir: str | Path = "results",
    data_root: str | Path | None = None,
    config_path: str | Path = "configs/config.yaml",
    *,
    history_days: int = HISTORY_DAYS,
    tau_max_lag: int = 10,
    figures: bool = True,
    progress: bool = True,
    product: str | None = None,
    hindcasts: str | Path | None = "auto",
    calibration_file: str | Path | None = None,
) -> Evaluation:
    """Score every model in ``results_dir`` and the references; write skill.csv, report.md, figures.

    Args:
        results_dir: folder with ``<Model>_outputs.npy`` / ``_forecast.nc`` (and ``_inputs.npy``).
        data_root: the data folder the models were run on (default: ``data.root`` of the config).
        config_path: a stage config; its ``data`` section gives the training years (for the
            damped-persistence fit) and the test years (reported).
        history_days: observed days before each start date (the start date included) prepended for
            MHW detection; 7 or more give exact flags.
        tau_max_lag: lags 1..K (days) of the damped-persistence fit.
        figures: also draw the PNG figures.
        progress: tqdm progress bars.
        product: the model whose forecast the case maps show beside the best other forecast and the
            truth (default: the config's ``model.name`` when it is among the results, else the model
            with the lowest mean RMSE).
        hindcasts: folder of the models' forecasts of the validation years (``inference.split: val``)
            from which the lead-calibrated MHW detection is fitted (:mod:`oceane2e.evaluation.calibration`;
            metrics ``<metric>_cal``); "auto": ``<results_dir>/hindcast`` when it holds any, None: no
            calibrated scores.
        calibration_file: a ``mhw_calibration.csv`` fitted before (:func:`fit_mhw_calibration`, the
            pipeline's ``calibrate`` step) to use instead of fitting from ``hindcasts``.
    """
    import pandas as pd
    from tqdm import tqdm

    from oceane2e.data.contract import CLIM_FILE, GridCoords, read_clim, read_mask
    from oceane2e.mhw.forecast import forecast_mhw

    results_dir = Path(results_dir)
    if history_days < 7:
        raise EvaluationError(f"history_days={history_days}: at least 7 observed days are needed by the 5-day/2-day rules")
    data_cfg = load_data_config(config_path)
    root = Path(data_root) if data_root is not None else Path(data_cfg.root)
    names = discover_models(results_dir)
    if not names:
        raise EvaluationError(
            f"{results_dir}: no <Model>{OUTPUTS_SUFFIX} found; run inference.py or inference_baseline.py first"
        )
    mask = read_mask(root)
    clim = read_clim(root / CLIM_FILE)
    coords: GridCoords = clim.coords
    if mask.shape != coords.shape:
        raise EvaluationError(f"{root / 'mask.npy'}: shape {mask.shape} != clim.nc grid {coords.shape}")
    models = [load_model(results_dir, n) for n in names]
    check_alignment(models, coords.lat, coords.lon, mask)
    time0 = models[0].time0
    n_lead = int(models[0].lead.size)
    grid = coords.shape
    weights = M.area_weights(coords.lat, mask)

    tau = fit_tau_from_data(root, data_cfg.train_years, max_lag=tau_max_lag, progress=progress)
    sources = [m.name for m in models] + list(REFERENCE_NAMES)
    moments: dict[str, dict | None] = {s: None for s in sources}
    counts = {s: np.zeros((n_lead, 4)) for s in sources}
    counts_cat = {suffix: {s: np.zeros((n_lead, 4)) for s in sources} for suffix in CATEGORY_SUFFIXES.values()}
    area_days = np.zeros(time0.size)
    strong_days = np.zeros(time0.size)
    chunk = _chunk_size(n_lead, history_days, grid, len(sources) + 1)
    observed = ObservedSSTA(root, data_cfg)
    # numpy releases the GIL in the detection's array work: the forecasts of a chunk are scored side by side
    pool = ThreadPoolExecutor(max_workers=max(1, min(SCORING_THREADS, cpu_budget())))
    ensembles_job = None
    try:
        # the ensembles' scores (<Name>_members.nc) need nothing of the deterministic ones: with a second core they
        # are computed in a second process meanwhile (docs/benchmarks.md, "The MHW calibration and the ensembles'
        # scores")
        ensembles_job = _EnsembleScoring(results_dir, root, data_cfg, mask, weights, history_days=history_days,
                                         figures=figures, progress=progress)
        calibration = _calibration(hindcasts, calibration_file, results_dir, observed, clim, mask, weights, time0,
                                   n_lead, tau, sources, history_days)
        counts_cal = {s: np.zeros((n_lead, 4)) for s in calibration}
        counts_cat_cal = {suffix: {s: np.zeros((n_lead, 4)) for s in counts_cal}
                          for suffix in CATEGORY_SUFFIXES.values()}
        bar = tqdm(total=time0.size, desc="evaluate", unit="start", disable=not progress)
        for s0 in range(0, time0.size, chunk):
            s1 = min(s0 + chunk, time0.size)
            t0 = time0[s0:s1]
            # history may reach before the first year in the folder (NaN: no exceedance there)
            history, truth = observed.windows(t0, history_days, n_lead, mask)
            initial = history[:, -1]
            obs = forecast_mhw(truth, history, t0, clim.seas, clim.thresh, mask=mask)
            area_days[s0:s1] = np.einsum("slhw,hw->s", obs.flags, weights, dtype=np.float64)
            strong_days[s0:s1] = np.einsum("slhw,hw->s", obs.category >= STRONG, weights, dtype=np.float64)
            obs_cat = {cat: obs.category >= cat for cat in CATEGORY_SUFFIXES}

            forecasts = {}
            for m in models:
                fc = np.array(m.outputs[s0:s1], dtype=np.float32)
                fc[:, :, ~mask] = np.nan
                if m.inputs is not None:
                    _check_truth(m, np.asarray(m.inputs[s0:s1], dtype=np.float32), truth, mask, s0)
                forecasts[m.name] = fc
            forecasts.update(reference_forecasts(initial, n_lead, tau))

            def score(name: str, fc: np.ndarray, truth: np.ndarray = truth, history: np.ndarray = history,
                      t0: np.ndarray = t0, obs: Any = obs, obs_cat: dict[int, np.ndarray] = obs_cat) -> None:
                """Add one forecast's sums of this chunk (its own entries only: the forecasts run in threads)."""
                moments[name] = M.add_sums(moments[name], M.moment_sums(fc, truth, weights))
                det = forecast_mhw(fc, history, t0, clim.seas, clim.thresh, mask=mask)
                counts[name] += M.contingency_counts(det.flags, obs.flags, weights)
                for cat, suffix in CATEGORY_SUFFIXES.items():
                    counts_cat[suffix][name] += M.contingency_counts(det.category >= cat, obs_cat[cat], weights)
                if name in counts_cal:  # the same forecast judged against its own amplitude at each lead
                    c = calibration[name]
                    det = forecast_mhw(fc / c.scale[None, :n_lead, None, None].astype(np.float32), history, t0,
                                       clim.seas, clim.thresh, mask=mask)
                    counts_cal[name] += M.contingency_counts(det.flags, obs.flags, weights)
                    # the categories >= Strong with the scale chosen for them (the same detection where it is k)
                    if not np.array_equal(c.scale_strong, c.scale):
                        det = forecast_mhw(fc / c.scale_strong[None, :n_lead, None, None].astype(np.float32),
                                           history, t0, clim.seas, clim.thresh, mask=mask)
                    for cat, suffix in CATEGORY_SUFFIXES.items():
                        counts_cat_cal[suffix][name] += M.contingency_counts(det.category >= cat, obs_cat[cat], weights)

            # every forecast's sums grow chunk by chunk in the same order as in one thread: the same bits
            list(pool.map(score, forecasts, forecasts.values()))
            bar.update(s1 - s0)
        bar.close()

        rows = []
        for name in sources:
            scores = M.continuous_scores(moments[name])
            scores.update(M.categorical_scores(counts[name]))
            for suffix, counts_of in counts_cat.items():
                scores.update({f"{k}{suffix}": v for k, v in M.categorical_scores(counts_of[name]).items()})
            if name in counts_cal:
                scores.update({f"{k}{CALIBRATED_SUFFIX}": v for k, v in M.categorical_scores(counts_cal[name]).items()})
                for suffix, counts_of in counts_cat_cal.items():
                    scores.update({f"{k}{suffix}{CALIBRATED_SUFFIX}": v
                                   for k, v in M.categorical_scores(counts_of[name]).items()})
            for metric, values in scores.items():
                rows += [(name, lead, metric, float(v)) for lead, v in zip(range(1, n_lead + 1), values, strict=True)]
        skill = pd.DataFrame(rows, columns=["model", "lead", "metric", "value"])

        names_ = [m.name for m in models]
        product = product or _config_model_name(config_path)
        if product not in names_:
            product = best_model(skill, names_)
        others = [n for n in names_ + list(REFERENCE_NAMES) if n != product]
        best = best_model(skill, others) if others else None
        # the strongest test heatwave: the start date with the largest observed area of category >= Strong
        # over the leads (ties, e.g. none anywhere: the largest MHW area)
        case_index = int(np.lexsort((area_days, strong_days))[-1])
        case = _case_maps(models, [product] + ([best] if best else []), case_index, observed, clim, mask,
                          history_days, n_lead, grid, tau)
        case.mhw_area_days = float(area_days[case_index])
        case.strong_area_days = float(strong_days[case_index])
        # ensembles: probabilistic scores appended to skill.csv, a report section each
        ensembles = ensembles_job.result(observed, clim)
    finally:
        pool.shutdown()
        observed.close()
        if ensembles_job is not None:
            ensembles_job.close()

    test_years = sorted(int(y) for y in data_cfg.test_years)
    synthetic = _is_synthetic(root, test_years[0]) or _is_synthetic(root, int(str(time0[0])[:4]))
    result = Evaluation(
        skill=skill,
        models=[m.name for m in models],
        references=list(REFERENCE_NAMES),
        time0=time0,
        n_lead=n_lead,
        tau_days=tau,
        test_years=test_years,
        train_years=sorted(int(y) for y in data_cfg.train_years),
        synthetic=synthetic,
        case=case,
        history_days=history_days,
        product=product,
        forcing={m.name: {k: m.attrs[k] for k in FORCING_ATTRS if k in m.attrs} for m in models},
        calibration=calibration,
    )
    result.ensemble_sections = [section for _, section in ensembles]
    for ens, _ in ensembles:
        result.paths.update({f"{ens.name}_{k}": v for k, v in ens.paths.items()})
    results_dir.mkdir(parents=True, exist_ok=True)
    skill_path = results_dir / "skill.csv"
    result.skill = pd.concat([skill, *(ens.skill for ens, _ in ensembles)], ignore_index=True)
    result.skill.to_csv(skill_path, index=False, float_format="%.6g")
    result.paths["skill"] = skill_path
    if figures:
        from oceane2e.evaluation.figures import plot_calibrated_mhw, plot_case_maps, plot_skill_vs_lead

        fig_dir = results_dir / "figures"
        result.paths["skill_figure"] = plot_skill_vs_lead(skill, fig_dir / "skill_vs_lead.png")
        calibrated = plot_calibrated_mhw(skill, fig_dir / "mhw_calibrated_vs_lead.png")
        if calibrated is not None:
            result.paths["calibrated_figure"] = calibrated
        result.paths["case_figure"] = plot_case_maps(case, coords.lat, coords.lon, mask, fig_dir / "mhw_case_maps.png")
    from oceane2e.evaluation.report import write_report

    result.paths["report"] = write_report(result, results_dir / "report.md", data_root=root)
    return result


def _score_ensembles(results_dir: Path, root: Path, data_cfg: Any, mask: np.ndarray, weights: np.ndarray,
                     history_days: int, figures: bool, progress: bool, observed: Any = None,
                     clim: Any = None) -> list[Any]:
    """:func:`oceane2e.evaluation.probabilistic.evaluate_ensembles` of ``results_dir``; reads the observed SSTA and
    the climatology of ``root`` itself unless given (the entry point of the second process)."""
    from oceane2e.data.contract import CLIM_FILE, read_clim
    from oceane2e.evaluation.probabilistic import evaluate_ensembles

    own = observed is None
    if own:
        observed = ObservedSSTA(root, data_cfg)
    try:
        clim = read_clim(root / CLIM_FILE) if clim is None else clim
        return evaluate_ensembles(results_dir, observed, clim, mask, weights, data_cfg.train_years,
                                  history_days=history_days, figures=figures, progress=progress)
    finally:
        if own:
            observed.close()


#: the second process of :class:`_EnsembleScoring`: a fresh interpreter (nothing of this process' threads or of a
#: user's ``__main__`` script is copied or run again), the same package as this one's first on its path
_ENSEMBLE_WORKER = ("import sys; sys.path.insert(0, sys.argv[1]); "
                    "from oceane2e.evaluation.evaluate import _ensemble_worker; "
                    "sys.exit(_ensemble_worker(sys.argv[2], sys.argv[3]))")


def _ensemble_worker(job: str, out: str) -> int:
    """Entry of the ensembles' second process: the scores of the arguments pickled in ``job``, pickled to ``out``.
    It ends with its parent (``die_with_parent``), and SIGTERM ends it cleanly (files being written are dropped)."""
    import pickle

    from oceane2e.memory import keep_freed_memory
    from oceane2e.processes import die_with_parent, sigterm_raises_exit

    die_with_parent()
    keep_freed_memory()
    with sigterm_raises_exit():
        result = _score_ensembles(*pickle.loads(Path(job).read_bytes()), False)  # no progress bars of its own
    Path(out).write_bytes(pickle.dumps(result))
    return 0


#: what the second process may need at most, in float32 values held at once: its chunks of members, history and
#: truth (``probabilistic._CHUNK_ELEMENTS``, or one start date when larger) and ~10 arrays of that size
_ENSEMBLE_COPIES = 10


def _memory_available() -> int | None:
    """Bytes of memory the system can still give (Linux ``MemAvailable``), None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class _EnsembleScoring:
    """The ensembles' scores, computed in a second process meanwhile when the results hold an ensemble, this process
    may use two cores (:func:`oceane2e.threads.cpu_budget`) and the memory left holds twice what the second process
    may need (the first one's scoring runs beside it); else in :meth:`result`. Both ways run the same code on the same
    files: the same numbers. Should the second process fail, :meth:`result` scores the ensembles here (so an error in
    them is reported as any other)."""

    def __init__(self, results_dir: Path, root: Path, data_cfg: Any, mask: np.ndarray, weights: np.ndarray, *,
                 history_days: int, figures: bool, progress: bool) -> None:
        from oceane2e.evaluation.probabilistic import discover_ensembles

        self.args = (results_dir, root, data_cfg, mask, weights, history_days, figures)
        self.results_dir = Path(results_dir)
        self.progress, self.proc, self.tmp = progress, None, None
        names = discover_ensembles(results_dir)
        if not names or cpu_budget() < 2 or not self._fits(names, mask, history_days):
            return
        import pickle
        import subprocess
        import tempfile

        import oceane2e

        try:
            job = pickle.dumps(self.args)
        except Exception as err:  # noqa: BLE001 - e.g. a config object that does not pickle: scored here
            print(f"evaluate: the ensembles are scored in this process ({type(err).__name__}: {err})", file=sys.stderr)
            return
        self.tmp = tempfile.TemporaryDirectory(prefix="oceane2e-ensembles-")
        folder = Path(self.tmp.name)
        (folder / "job.pkl").write_bytes(job)
        package_dir = str(Path(oceane2e.__file__).resolve().parents[1])  # this process' package, installed or not
        with open(folder / "stderr.txt", "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-c", _ENSEMBLE_WORKER, package_dir, str(folder / "job.pkl"),
                                          str(folder / "scores.pkl")], stdout=err, stderr=err)

    def _fits(self, names: list[str], mask: np.ndarray, history_days: int) -> bool:
        from oceane2e.data.ensemble_files import EnsembleFile
        from oceane2e.evaluation.probabilistic import _CHUNK_ELEMENTS, MEMBERS_SUFFIX

        available = _memory_available()
        if available is None:
            return False
        need = 0
        for name in names:
            with EnsembleFile(self.results_dir / f"{name}{MEMBERS_SUFFIX}") as f:
                per_start = (f.n_members + 2) * (f.n_lead + history_days) * mask.size
            need = max(need, _ENSEMBLE_COPIES * 4 * max(_CHUNK_ELEMENTS, per_start))
        return available > 2 * need

    def result(self, observed: Any, clim: Any) -> list[Any]:
        """[(scores, report section)] per ensemble."""
        if self.proc is not None:
            import pickle

            if self.progress and self.proc.poll() is None:
                print("evaluate: waiting for the ensembles' scores (second process) ...", file=sys.stderr, flush=True)
            folder = Path(self.tmp.name)  # type: ignore[union-attr]
            status = self.proc.wait()
            said = (folder / "stderr.txt").read_text(errors="replace").strip()
            if status == 0:
                if said:  # its warnings, as they would have been shown here
                    print(said, file=sys.stderr)
                return pickle.loads((folder / "scores.pkl").read_bytes())
            why = said.splitlines()[-1] if said else f"exit status {status}"
            print(f"evaluate: the ensembles' second process failed ({why}); scoring them here", file=sys.stderr)
        return _score_ensembles(*self.args, self.progress, observed=observed, clim=clim)

    def close(self) -> None:
        """Stop a second process still running (an error before :meth:`result`): SIGTERM, so that it drops what it
        was writing; killed after 10 s, and its unfinished files removed."""
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                for unfinished in self.results_dir.glob(f"*.tmp{self.proc.pid}"):
                    unfinished.unlink(missing_ok=True)
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


def _calibration(hindcasts: str | Path | None, calibration_file: str | Path | None, results_dir: Path,
                 observed: ObservedSSTA, clim: Any, mask: np.ndarray, weights: np.ndarray, time0: np.ndarray,
                 n_lead: int, tau: float, sources: Sequence[str], history_days: int = HISTORY_DAYS) -> dict[str, Any]:
    """The MHW threshold scales of every source that can be calibrated ({} without hindcasts), fitted now (and
    written to ``<results_dir>/mhw_calibration.csv``) or read from ``calibration_file``."""
    from oceane2e.evaluation.calibration import (
        CALIBRATION_FILE,
        HINDCAST_DIR,
        CalibrationError,
        fit_calibration,
        read_calibration,
        scales_for,
        write_calibration,
    )

    scored = {int(y) for y in np.concatenate([time0, time0 + n_lead]).astype("datetime64[Y]").astype(int) + 1970}
    try:
        if calibration_file is not None:
            fitted = read_calibration(calibration_file)
            for name, c in fitted.items():
                overlap = scored & set(range(c.years[0], c.years[1] + 1))
                if overlap:
                    raise CalibrationError(f"{calibration_file}: {name} was fitted on {c.years[0]}–{c.years[1]}, "
                                           f"which includes the scored years {sorted(overlap)}; fit it on validation years")
            where = Path(calibration_file)
        else:
            if hindcasts is None:
                return {}
            folder = results_dir / HINDCAST_DIR if str(hindcasts) == "auto" else Path(hindcasts)
            if not discover_models(folder):
                if str(hindcasts) == "auto":
                    return {}
                raise EvaluationError(f"{folder}: no <Model>{OUTPUTS_SUFFIX} hindcasts to calibrate the MHW detection "
                                      "with; run the models' inference with -o inference.split=val first")
            fitted = fit_calibration(folder, observed, clim, mask, weights, tau, history_days=history_days,
                                     scored_years=scored, only=set(sources))
            where = folder
    except CalibrationError as err:
        raise EvaluationError(str(err)) from None
    for name, c in fitted.items():
        if c.scale.size < n_lead and any(scales_for(source, {name: c}) is not None for source in sources):
            raise EvaluationError(f"{where}: the calibration of {name} has {c.scale.size} leads, but {n_lead} are "
                                  "scored; hindcast with the same inference.lead_days")
    chosen = {name: c for name in sources if (c := scales_for(name, fitted)) is not None}
    if chosen and calibration_file is None:
        write_calibration(results_dir / CALIBRATION_FILE, fitted)
    return chosen


def fit_mhw_calibration(results_dir: str | Path, data_root: str | Path | None = None,
                        config_path: str | Path = "configs/config.yaml", *, tau_max_lag: int = 10) -> Path | None:
    """Fit the lead-calibrated MHW thresholds on ``<results_dir>/hindcast`` alone and write
    ``<results_dir>/mhw_calibration.csv`` (None when there is nothing to fit), so that the evaluation can
    read them (``run_evaluation(calibration_file=...)``): the pipeline runs this beside the last forecasts."""
    from oceane2e.data.contract import CLIM_FILE, read_clim, read_mask
    from oceane2e.evaluation.calibration import (
        CALIBRATION_FILE,
        HINDCAST_DIR,
        CalibrationError,
        fit_calibration,
        write_calibration,
    )

    results_dir = Path(results_dir)
    data_cfg = load_data_config(config_path)
    root = Path(data_root) if data_root is not None else Path(data_cfg.root)
    stale = results_dir / CALIBRATION_FILE
    stale.unlink(missing_ok=True)  # never leave the scales of earlier hindcasts behind
    if not discover_models(results_dir / HINDCAST_DIR):
        return None
    scored = discover_models(results_dir)
    mask = read_mask(root)
    clim = read_clim(root / CLIM_FILE)
    weights = M.area_weights(clim.coords.lat, mask)
    tau = fit_tau_from_data(root, data_cfg.train_years, max_lag=tau_max_lag, progress=False)
    observed = ObservedSSTA(root, data_cfg)
    try:
        fitted = fit_calibration(results_dir / HINDCAST_DIR, observed, clim, mask, weights, tau,
                                 history_days=HISTORY_DAYS, scored_years={int(y) for y in data_cfg.test_years},
                                 only=set(scored) or None)
    except CalibrationError as err:
        raise EvaluationError(str(err)) from None
    finally:
        observed.close()
    return write_calibration(results_dir / CALIBRATION_FILE, fitted) if fitted else None


def _check_truth(model: ModelResult, inputs: np.ndarray, truth: np.ndarray, mask: np.ndarray, s0: int) -> None:
    """``<Model>_inputs.npy`` must hold the observed SSTA of the data folder (ocean cells)."""
    diff = np.abs(inputs[:, :, mask] - truth[:, :, mask])
    worst = float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0
    if worst > TRUTH_TOLERANCE_K or np.isnan(inputs[:, :, mask]).any():
        s = s0 + int(np.unravel_index(np.nanargmax(np.nan_to_num(diff, nan=np.inf)), diff.shape)[0])
        raise EvaluationError(
            f"{model.outputs_path.with_name(model.name + INPUTS_SUFFIX)}: truth of the start date "
            f"{model.time0[s]} differs from the observed SSTA of the data folder by up to {worst:.3g} K; "
            f"the model was run on other data (evaluate with its data folder, or re-run its inference)"
        )


#: forecast-file attributes that say what drove a forecast (written by stage-2 inference)
FORCING_ATTRS: tuple[str, ...] = ("velocity", "atmosphere", "atmosphere_observed_days", "atmosphere_tau_days",
                                   "initial_state", "initial_currents")


def _config_model_name(config_path: str | Path) -> str | None:
    """``model.name`` of a stage config (None when it has none or cannot be read)."""
    import yaml

    try:
        raw = yaml.safe_load(Path(config_path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    model = raw.get("model") if isinstance(raw, dict) else None
    return str(model.get("name")) if isinstance(model, dict) and model.get("name") else None


def best_model(skill: pd.DataFrame, model_names: Sequence[str]) -> str:
    """The forecast among ``model_names`` with the lowest RMSE averaged over the leads."""
    rmse = skill[(skill.metric == "rmse") & skill.model.isin(list(model_names))]
    return str(rmse.groupby("model")["value"].mean().idxmin())


def _case_maps(models, names, index, observed, clim, mask, history_days, n_lead, grid, tau) -> CaseMaps:
    """Truth and the forecasts and MHW categories of ``names`` (models or references) for start date ``index``."""
    from oceane2e.mhw.forecast import forecast_mhw

    t0 = models[0].time0[index : index + 1]
    span = observed.read(t0[0] - history_days + 1, t0[0] + n_lead, grid, required_from=t0[0])
    hist, truth = span[None, :history_days], span[None, history_days:]
    for arr in (hist, truth):
        arr[:, :, ~mask] = np.nan
    refs = reference_forecasts(hist[:, -1], n_lead, tau)
    by_name = {m.name: m for m in models}
    obs = forecast_mhw(truth, hist, t0, clim.seas, clim.thresh, mask=mask)
    forecasts, categories = {}, {}
    for name in names:
        fc = np.array(by_name[name].outputs[index : index + 1] if name in by_name else refs[name], dtype=np.float32)
        fc[:, :, ~mask] = np.nan
        forecasts[name] = fc[0]
        categories[name] = forecast_mhw(fc, hist, t0, clim.seas, clim.thresh, mask=mask).category[0]
    return CaseMaps(t0[0], truth[0], obs.category[0], forecasts, categories)


# --------------------------------------------------------------------------------------------
# command line


def rmse_table(skill: pd.DataFrame, leads: Sequence[int] = TABLE_LEADS, metric: str = "rmse") -> str:
    """Plain-text table of ``metric`` by model (rows) and lead (columns)."""
    sub = skill[skill.metric == metric]
    leads = [lead for lead in leads if lead in set(sub.lead)]
    table = sub[sub.lead.isin(leads)].pivot(index="model", columns="lead", values="value")
    order = [m for m in dict.fromkeys(sub.model)]
    table = table.reindex(order)
    width = max(len(m) for m in order)
    lines = [f"{metric.upper():<{width}}  " + "  ".join(f"{'lead ' + str(c):>8}" for c in leads)]
    for model, row in table.iterrows():
        lines.append(f"{model:<{width}}  " + "  ".join(f"{v:8.4f}" for v in row.to_numpy()))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oceane2e evaluate",
        description="Score every <Model>_outputs.npy in the results folder beside persistence, damped "
        "persistence and climatology; write skill.csv, report.md and figures.",
    )
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    p.add_argument("--data", type=Path, default=None, help="data folder (default: data.root of --config)")
    p.add_argument(
        "--config", type=Path, default=Path("configs/config.yaml"),
        help="stage config whose data section gives the training and test years (default: configs/config.yaml)",
    )
    p.add_argument(
        "--history-days", type=int, default=HISTORY_DAYS,
        help=f"observed days prepended for MHW detection (default {HISTORY_DAYS}; at least 7 needed)",
    )
    p.add_argument("--product", default=None,
                   help="model shown in the case maps beside the best other forecast (default: model.name of --config)")
    cal = p.add_mutually_exclusive_group()
    cal.add_argument("--hindcasts", type=Path, default=None,
                     help="forecasts of the validation years (inference.split: val) that calibrate the MHW detection "
                     "per lead (metrics <metric>_cal; default: <results>/hindcast when it exists)")
    cal.add_argument("--calibration", type=Path, default=None,
                     help="a mhw_calibration.csv fitted before, used instead of fitting from the hindcasts")
    cal.add_argument("--no-calibration", action="store_true", help="no lead-calibrated MHW scores")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``oceane2e evaluate`` and ``evaluate.py``; returns the exit status.

    A user error (bad results, data or config) is one line on stderr and status 2; ``--debug``
    shows the traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, debug = pop_debug_flag(argv)

    def body() -> int:
        args = build_parser().parse_args(argv)
        result = run_evaluation(
            args.results,
            args.data,
            args.config,
            history_days=args.history_days,
            figures=not args.no_figures,
            progress=not args.no_progress,
            product=args.product,
            hindcasts=None if args.no_calibration else (args.hindcasts or "auto"),
            calibration_file=None if args.no_calibration else args.calibration,
        )
        print(rmse_table(result.skill))
        print(f"\nreport: {result.paths['report']}")
        return 0

    return report_user_errors("evaluate", body, debug=debug)

if __name__ == "__main__":
    sys.exit(main())
