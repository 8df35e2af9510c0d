"""Lead-calibrated MHW detection: a decision threshold per forecast and lead, fitted on validation years.

A forecast trained on the mean squared error damps what it cannot predict: its anomalies shrink with
the lead (to ~40 % of the observed amplitude at 40 days on real OISST), so judged with the observed
MHW threshold it rarely forecasts an event at long leads, and its MHW scores fall below persistence's
although its RMSE and correlation are better. Operational MHW forecasts therefore define forecast
events against lead-dependent forecast thresholds fitted on hindcasts (Jacox et al. 2022, Nature 604,
486-490, use the forecast's own climatology and 90th percentile at each lead). Here each forecast gets,
for each lead L, one scale ``k(L)`` of the observed threshold:

    a forecast day is an exceedance when  forecast / k(L) > thresh - seas

(the Hobday duration rules unchanged). ``k(L)`` is the value of a grid (0.1 .. 1.2, then refined by
steps of 0.05 for the whole vector, since an event is a run of days across leads) that gives the highest
MHW CSI on the forecast's **hindcasts of the validation years**, scored against the observed events
there; ties go to the value nearest 1 (the observed threshold). The categories >= Strong (Hobday et al.
2018: twice the threshold's distance from the climatology and more) get their own scale ``k_strong(L)``,
fitted the same way for the CSI of category >= Strong: the scale that best finds every MHW day is not the
one that best singles out the strong ones, and a forecast of "a strong heatwave" is what users act on.
Strong events are rare, though, and a year or two of hindcasts holds few of them, so ``k_strong`` is used
only when it beats ``k`` out of sample *within* the validation years (two halves in time, each scored
with the scales fitted on the other: :func:`cross_validate_strong`); otherwise the categories keep ``k``.
Nothing of the scored (test) years enters the fit. Every forecast is treated alike: the models from their
hindcasts (written by their inference with ``inference.split: val`` into ``<results>/hindcast``; the pipeline's ``hindcast`` steps), persistence
and damped persistence from the observed SSTA of the same validation start dates. A model without its
own hindcast but named ``<Base>+<suffix>`` (``Oceane2e+OI``: the same network started from another
initial state) uses ``<Base>``'s scales. Climatology (zero) forecasts no event at any scale and is not
calibrated. The RMSE, bias and ACC do not change; only the forecasts' MHW flags do, reported as the
metrics ``<metric>_cal`` beside the ones with the observed threshold.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oceane2e.errors import UserError
from oceane2e.outputs import HINDCAST_DIR
from oceane2e.threads import cpu_budget

#: suffix of the metrics scored with the lead-calibrated detection (``csi_cal``, ``csi_strong_cal``, ...)
CALIBRATED_SUFFIX = "_cal"
CALIBRATION_FILE = "mhw_calibration.csv"
__all__ = ["CALIBRATED_SUFFIX", "CALIBRATION_FILE", "HINDCAST_DIR", "OBJECTIVES", "Calibration", "CalibrationError",
           "cross_validate_strong", "fit_calibration", "fit_scales", "folds_in_time", "has_current_format", "read_calibration", "scales_for",
           "write_calibration"]
#: the coarse grid of threshold scales, refined by half a step around each lead's best value
SCALE_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.1, 1.21, 0.1), 2))
REFINE_SWEEPS = 2
_CHUNK_ELEMENTS = 20_000_000  # (lead, lat, lon) values of a few start dates detected at once


class CalibrationError(UserError, ValueError):
    """Hindcasts that cannot calibrate; the message names the file and the fix."""


@dataclass
class Calibration:
    """The fitted threshold scales per lead of one forecast (for all MHW days, and for the days of category
    >= Strong), and their validation CSI with and without them."""

    scale: np.ndarray  # (L,) for MHW days
    csi_raw: np.ndarray  # (L,) validation MHW CSI with the observed threshold
    csi_cal: np.ndarray  # (L,) validation MHW CSI with the scaled threshold
    source: str
    years: tuple[int, int]  # first and last year the hindcasts touch
    scale_strong: np.ndarray  # (L,) for the categories >= Strong
    csi_strong_raw: np.ndarray  # (L,) validation CSI of category >= Strong with the observed threshold
    csi_strong_cal: np.ndarray  # (L,) ... with scale_strong
    strong_from: str = "own"  # "own": scale_strong fitted for >= Strong; "mhw": the MHW scale (cross-validation)
    cv_csi_strong: tuple[float, float] = (float("nan"), float("nan"))  # out-of-sample >= Strong CSI: own, mhw


#: what a threshold scale is fitted for: all MHW days, and the days of category >= Strong (Hobday et al. 2018)
OBJECTIVES: tuple[str, ...] = ("mhw", "strong")


def fit_scales(forecast: np.ndarray, history: np.ndarray, observed: dict[str, np.ndarray], time0: np.ndarray,
               seas: np.ndarray, thresh: np.ndarray, mask: np.ndarray, weights: np.ndarray,
               grid: tuple[float, ...] = SCALE_GRID) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per objective, the per-lead threshold scale with the highest CSI
    -> {objective: (scale (L,), CSI at scale 1 (L,), CSI at the scale (L,))}.

    Args:
        forecast: (S, L, H, W) forecast SSTA (K) of the validation start dates.
        history: (S, P, H, W) observed SSTA up to each start date.
        observed: {objective: (S, L, H, W) bool} the observed days of each objective to fit (of
            :data:`OBJECTIVES`: ``mhw`` the MHW days, ``strong`` those of category >= Strong); the forecast's
            days are its MHW flags, resp. its category >= Strong, detected with the scaled threshold.
        time0, seas, thresh, mask, weights: as in :func:`oceane2e.mhw.forecast.forecast_mhw` and the metrics.
    """
    from oceane2e.evaluation import metrics as M

    unknown = set(observed) - set(OBJECTIVES)
    if unknown:
        raise ValueError(f"fit_scales: unknown objectives {sorted(unknown)}; known: {list(OBJECTIVES)}")
    n_lead = forecast.shape[1]

    def csi_of(scale: np.ndarray) -> dict[str, np.ndarray]:
        counts = _detection_counts(forecast, history, observed, time0, scale, seas, thresh, mask, weights)
        # a lead without any observed or forecast event has no CSI: a tie with 0, so scale 1 keeps it silent
        return {key: np.nan_to_num(M.critical_success_index(c), nan=0.0) for key, c in counts.items()}

    fitted = {}
    with ThreadPoolExecutor(max_workers=max(1, min(4, cpu_budget()))) as pool:  # numpy frees the GIL
        # one detection per candidate scores every objective
        tried = dict(zip((float(k) for k in grid), pool.map(lambda k: csi_of(np.full(n_lead, k)), grid), strict=True))
        raw = tried[1.0] if 1.0 in tried else csi_of(np.ones(n_lead))
        best = {key: _pick({k: v[key] for k, v in tried.items()}, n_lead) for key in observed}
        # the leads interact (an event is a run of days across leads), so refine the whole vector: each sweep
        # tries every lead's scale moved by a half and a whole grid step, keeping per lead what the vector gains
        step = (grid[1] - grid[0]) / 2 if len(grid) > 1 else 0.0
        for _ in range(REFINE_SWEEPS if step > 0 else 0):
            jobs = [(key, k if d == 0 else np.round(np.clip(k + d, step, None), 4))
                    for key, (k, _) in best.items() for d in (0, -2 * step, -step, step, 2 * step)]
            scores = list(pool.map(lambda job: csi_of(job[1])[job[0]], jobs))
            for key in best:
                mine = [(scale, score) for (job_key, scale), score in zip(jobs, scores, strict=True) if job_key == key]
                (new_k, new_csi), *moved = mine  # the vector itself first: what it scores as a whole
                new_k = new_k.copy()
                for scale, score in moved:
                    better = (score > new_csi) | ((score == new_csi) & (np.abs(scale - 1) < np.abs(new_k - 1)))
                    new_k, new_csi = np.where(better, scale, new_k), np.where(better, score, new_csi)
                best[key] = (new_k, new_csi)
        finals = list(pool.map(csi_of, [k for k, _ in best.values()]))
    for (key, (k, _)), final in zip(best.items(), finals, strict=True):
        fitted[key] = (k, raw[key], final[key])
    return fitted


def _pick(tried: dict[float, np.ndarray], n_lead: int) -> tuple[np.ndarray, np.ndarray]:
    """Per lead, the scale with the highest CSI; ties to the scale nearest 1."""
    order = sorted(tried, key=lambda k: abs(k - 1.0))
    table = np.stack([tried[k] for k in order])  # (K, L)
    index = np.argmax(table, axis=0)  # the first maximum: the one nearest 1
    return np.asarray(order)[index], table[index, np.arange(n_lead)]


def _detection_counts(forecast: np.ndarray, history: np.ndarray, observed: dict[str, np.ndarray],
                      time0: np.ndarray, scale: np.ndarray, seas: np.ndarray, thresh: np.ndarray, mask: np.ndarray,
                      weights: np.ndarray) -> dict[str, np.ndarray]:
    """{objective: (L, 4) contingency counts} of ``forecast / scale`` against the observed days of each objective
    (``mhw``: the MHW flags, ``strong``: category >= Strong); a few start dates at a time, which bounds each
    thread's temporaries."""
    from oceane2e.evaluation import metrics as M
    from oceane2e.mhw.categories import STRONG
    from oceane2e.mhw.forecast import forecast_mhw

    counts = {key: np.zeros((forecast.shape[1], 4)) for key in observed}
    chunk = max(1, _CHUNK_ELEMENTS // int(np.prod(forecast.shape[1:])))
    factor = scale[None, :, None, None].astype(np.float32)
    for s0 in range(0, forecast.shape[0], chunk):
        part = slice(s0, s0 + chunk)
        det = forecast_mhw(forecast[part] / factor, history[part], time0[part], seas, thresh, mask=mask)
        for key, obs in observed.items():
            counts[key] += M.contingency_counts(det.flags if key == "mhw" else det.category >= STRONG, obs[part],
                                                weights)
    return counts


def folds_in_time(days: np.ndarray, n_lead: int) -> list[tuple[slice, slice]] | None:
    """The two folds of an out-of-sample check on start dates ``days`` (integer days, sorted): each half in time
    fits, and the other half is scored without the start dates whose ``n_lead`` forecast days reach into the fitting
    half (a heatwave spans neighbouring start dates) -> [(fit, scored), (fit, scored)] slices; None when a half or a
    scored part has fewer than two start dates."""
    n = days.size
    half = n // 2
    if half < 2:
        return None
    test_first = slice(0, int(np.sum(days[:half] + n_lead < days[half])))
    test_second = slice(n - int(np.sum(days[half:] > days[half - 1] + n_lead)), n)
    if min(test_first.stop - test_first.start, test_second.stop - test_second.start) < 2:
        return None
    return [(slice(0, half), test_second), (slice(half, n), test_first)]


def cross_validate_strong(forecast: np.ndarray, history: np.ndarray, observed: dict[str, np.ndarray],
                          time0: np.ndarray, seas: np.ndarray, thresh: np.ndarray, mask: np.ndarray,
                          weights: np.ndarray) -> tuple[float, float]:
    """Out-of-sample CSI of category >= Strong (pooled over the leads and the two folds) of the scale fitted for
    it and of the MHW scale -> (own, mhw).

    The start dates (sorted here) are cut in two halves in time; each half is scored with the scales fitted
    on the other, leaving out the start dates whose forecast days overlap the other half's (a heatwave spans
    neighbouring start dates, so without that gap both halves would hold the same events). Strong events are
    rare, and a scale fitted for them on a year or two of hindcasts can fit that sample's few events rather
    than the forecast: the evaluation keeps the MHW scale for the categories unless the own one does better
    out of sample. NaN when a scored part has fewer than two start dates, or when no strong day was observed
    or forecast in them (then the MHW scale is kept too).
    """
    from oceane2e.evaluation import metrics as M

    days = np.asarray(time0, dtype="datetime64[D]").astype(np.int64)
    if np.any(np.diff(days) < 0):  # hindcast files are written in date order; anything else is sorted (a copy)
        order = np.argsort(days, kind="stable")
        forecast, history, time0, days = forecast[order], history[order], np.asarray(time0)[order], days[order]
        observed = {k: v[order] for k, v in observed.items()}
    n_lead = forecast.shape[1]
    folds = folds_in_time(days, n_lead)
    if folds is None:
        return float("nan"), float("nan")
    counts = {"strong": np.zeros((n_lead, 4)), "mhw": np.zeros((n_lead, 4))}
    for fit_part, test_part in folds:
        fit = fit_scales(forecast[fit_part], history[fit_part], {k: v[fit_part] for k, v in observed.items()},
                         time0[fit_part], seas, thresh, mask, weights)
        for key in counts:
            counts[key] += _detection_counts(forecast[test_part], history[test_part],
                                             {"strong": observed["strong"][test_part]}, time0[test_part],
                                             fit[key][0], seas, thresh, mask, weights)["strong"]
    own, mhw = (float(M.categorical_scores(counts[key].sum(axis=0, keepdims=True))["csi"][0]) for key in counts)
    return own, mhw


def fit_calibration(hindcast_dir: str | Path, observed: Any, clim: Any, mask: np.ndarray, weights: np.ndarray,
                    tau_days: float, *, history_days: int, scored_years: set[int] | None = None,
                    only: set[str] | None = None) -> dict[str, Calibration]:
    """Threshold scales per lead of every model with hindcasts in ``hindcast_dir``, and of persistence and
    damped persistence on the same start dates -> {name: :class:`Calibration`}.

    A model whose start dates saw no MHW is left out (with a warning); so is every model that is not in
    ``only`` (when given: the models being scored) nor the base network of one (``<Base>+<suffix>``).
    The observed windows and events are read once per set of start dates.

    Args:
        hindcast_dir: folder of ``<Model>_outputs.npy`` / ``_forecast.nc`` of the validation years.
        observed: :class:`oceane2e.evaluation.evaluate.ObservedSSTA` of the data folder.
        clim: the data folder's climatology (``seas``, ``thresh``); mask, weights: (H, W).
        tau_days: damped persistence's e-folding time (fitted on the training years).
        scored_years: the years being scored; hindcasts that reach into them are refused.
        only: the names of the scored forecasts (None: every hindcast in the folder).
        history_days: observed days put before each hindcast for the Hobday rules (as in the evaluation).
    """
    from oceane2e.evaluation import metrics as M
    from oceane2e.evaluation.evaluate import discover_models, load_model
    from oceane2e.evaluation.references import reference_forecasts
    from oceane2e.mhw.categories import STRONG
    from oceane2e.mhw.forecast import forecast_mhw

    hindcast_dir = Path(hindcast_dir)
    wanted = None if only is None else set(only) | {name.split("+", 1)[0] for name in only}
    fitted: dict[str, Calibration] = {}
    reference_starts: np.ndarray | None = None
    observed_by_starts: dict[tuple[bytes, int], tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for name in discover_models(hindcast_dir):
        if wanted is not None and name not in wanted:
            continue  # a hindcast of a model that is not scored
        m = load_model(hindcast_dir, name)
        n_lead = int(m.lead.size)
        years = {int(str(t)[:4]) for t in np.concatenate([m.time0, m.time0 + n_lead])}
        if scored_years and years & scored_years:
            raise CalibrationError(
                f"{m.forecast_path}: these hindcasts start or end in the scored years {sorted(years & scored_years)}; "
                "the MHW calibration is fitted on other (validation) years only. Re-run the hindcast with "
                "inference.split: val, or move the folder away")
        if m.mask is not None and not np.array_equal(m.mask, mask):
            raise CalibrationError(f"{m.forecast_path}: land mask differs from the data folder's; re-run the hindcast")
        t0 = m.time0
        key = (t0.astype("int64").tobytes(), n_lead)
        if key not in observed_by_starts:  # the models' hindcasts usually share their start dates
            history, truth = observed.windows(t0, history_days, n_lead, mask)
            events = forecast_mhw(truth, history, t0, clim.seas, clim.thresh, mask=mask)
            observed_by_starts[key] = history, {"mhw": events.flags, "strong": events.category >= STRONG}
        history, obs = observed_by_starts[key]
        if not obs["mhw"].any():
            warnings.warn(f"{m.forecast_path}: no MHW was observed over its start dates, so no threshold scale can "
                          "be fitted for it (hindcast more validation years)", stacklevel=2)
            continue
        forecasts = {name: np.array(m.outputs, dtype=np.float32)}
        if reference_starts is None:  # the references on the first fitted model's start dates
            refs = reference_forecasts(history[:, -1], n_lead, tau_days)
            forecasts.update({k: v for k, v in refs.items() if k != "Climatology"})
            reference_starts = t0
        elif not np.array_equal(t0, reference_starts):
            warnings.warn(f"{m.forecast_path}: its start dates differ from the other hindcasts' (inference."
                          "hindcast_stride or the velocity history differ); its scales are fitted on its own start "
                          "dates, the references' on the others'", stacklevel=2)
        for key, fc in forecasts.items():
            fc[:, :, ~mask] = np.nan
            fit = fit_scales(fc, history, obs, t0, clim.seas, clim.thresh, mask, weights)
            cv = cross_validate_strong(fc, history, obs, t0, clim.seas, clim.thresh, mask, weights)
            strong_from = "own" if cv[0] > cv[1] else "mhw"  # a tie or NaN (nothing to tell): the MHW scale
            if strong_from == "own":
                strong = fit["strong"]
            else:
                k = fit["mhw"][0]
                counts = _detection_counts(fc, history, {"strong": obs["strong"]}, t0, k, clim.seas, clim.thresh,
                                           mask, weights)["strong"]
                strong = (k.copy(), fit["strong"][1], np.nan_to_num(M.categorical_scores(counts)["csi"], nan=0.0))
            fitted[key] = Calibration(*fit["mhw"], str(hindcast_dir), (min(years), max(years)), *strong,
                                      strong_from, cv)
    return fitted


def scales_for(name: str, fitted: dict[str, Calibration]) -> Calibration | None:
    """The calibration of ``name``, or of its base network for ``<Base>+<suffix>``; None when it has none."""
    if name in fitted:
        return fitted[name]
    return fitted.get(name.split("+", 1)[0]) if "+" in name else None


COLUMNS: tuple[str, ...] = ("model", "lead", "threshold_scale", "val_csi_observed_threshold", "val_csi_calibrated",
                            "threshold_scale_strong", "val_csi_strong_observed_threshold",
                            "val_csi_strong_calibrated", "strong_scale_from", "cv_csi_strong_own", "cv_csi_strong_mhw",
                            "hindcasts", "first_year", "last_year")


def write_calibration(path: str | Path, fitted: dict[str, Calibration]) -> Path:
    """``mhw_calibration.csv``: model, lead, threshold_scale, the validation MHW CSI with the observed threshold
    and with the scale, the same three for the categories >= Strong, which scale they use (``own``/``mhw``) with
    the two cross-validated >= Strong CSIs behind that choice, and the hindcasts it was fitted on (folder, first
    and last year)."""
    import pandas as pd

    rows = [(name, lead, float(c.scale[i]), float(c.csi_raw[i]), float(c.csi_cal[i]), float(c.scale_strong[i]),
             float(c.csi_strong_raw[i]), float(c.csi_strong_cal[i]), c.strong_from, *c.cv_csi_strong, c.source,
             *c.years)
            for name, c in fitted.items() for i, lead in enumerate(range(1, c.scale.size + 1))]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from oceane2e.outputs import written

    with written(path) as tmp:
        pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(tmp, index=False, float_format="%.6g")
    return path


def has_current_format(path: str | Path) -> bool:
    """Whether ``path`` exists with every column this version writes (an older file must be fitted again)."""
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
    except OSError:
        return False
    return set(COLUMNS) <= set(header)


def read_calibration(path: str | Path) -> dict[str, Calibration]:
    """The scales of a ``mhw_calibration.csv`` (:func:`write_calibration`) -> {model: :class:`Calibration`}."""
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise CalibrationError(f"{path}: cannot be read as a MHW calibration ({err}); fit it again "
                               "(the pipeline's calibrate step, or evaluate without --calibration)") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise CalibrationError(f"{path}: columns {missing} missing; it was not written by this version, fit it again")
    fitted = {}
    for name, rows in table.groupby("model", sort=False):
        rows = rows.sort_values("lead")
        if (not np.array_equal(rows.lead.to_numpy(), np.arange(1, len(rows) + 1))
                or not ((rows.threshold_scale > 0) & (rows.threshold_scale_strong > 0)).all()):
            raise CalibrationError(f"{path}: model {name}: leads must be 1..L with positive threshold_scale and "
                                   "threshold_scale_strong")
        first = rows.iloc[0]
        if not (np.isfinite(first.first_year) and np.isfinite(first.last_year)):
            raise CalibrationError(f"{path}: model {name}: first_year/last_year missing; fit it again")
        if first.strong_scale_from not in ("own", "mhw"):
            raise CalibrationError(f"{path}: model {name}: strong_scale_from must be 'own' or 'mhw', got "
                                   f"{first.strong_scale_from!r}; fit it again")
        fitted[str(name)] = Calibration(rows.threshold_scale.to_numpy(float), rows.val_csi_observed_threshold.to_numpy(float),
                                        rows.val_csi_calibrated.to_numpy(float), str(first.hindcasts),
                                        (int(first.first_year), int(first.last_year)),
                                        rows.threshold_scale_strong.to_numpy(float),
                                        rows.val_csi_strong_observed_threshold.to_numpy(float),
                                        rows.val_csi_strong_calibrated.to_numpy(float), str(first.strong_scale_from),
                                        (float(first.cv_csi_strong_own), float(first.cv_csi_strong_mhw)))
    return fitted
