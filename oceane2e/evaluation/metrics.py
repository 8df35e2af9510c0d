"""Forecast skill per lead day: RMSE, bias, ACC and MHW contingency scores (DESIGN.md §7).

Every score is computed from additive *sufficient statistics* (weighted sums per lead), so the
evaluation can stream over chunks of start dates and never hold all forecasts in memory:
:func:`moment_sums` and :func:`contingency_counts` give the sums of one chunk, the sums of all
chunks are added, and :func:`continuous_scores` / :func:`categorical_scores` turn them into scores.
The convenience functions :func:`rmse`, :func:`bias`, :func:`acc` and :func:`mhw_scores` do the
three steps for arrays in memory.

Conventions (all arrays are numpy):

* forecast / truth: (S, L, H, W) SSTA in K, S start dates, L leads; NaN (land, missing) is ignored.
* weights: (H, W) cell weights, ``cos(lat)`` on the ocean and 0 on land (:func:`area_weights`),
  normalised to mean 1 over the ocean so that weighted counts read like cell counts.
* Scores are pooled over start dates and ocean cells, separately for each lead.
* ACC: for each lead the anomalies of forecast and truth are centred by their weighted mean over
  all start dates and ocean cells of that lead, then
  ``ACC = sum w f'o' / sqrt(sum w f'^2 * sum w o'^2)``. A forecast without variance (the
  climatology forecast, zero everywhere) has no defined ACC: NaN.
* Contingency table per lead (weighted counts): a hits, b false alarms, c misses, d correct
  negatives; POD = a/(a+c), FAR = b/(a+b), CSI = a/(a+b+c),
  HSS = 2(ad - bc) / ((a+c)(c+d) + (a+b)(b+d)), and SEDI (Ferro & Stephenson 2011)
  ``(ln F - ln H - ln(1-F) + ln(1-H)) / (ln F + ln H + ln(1-F) + ln(1-H))`` with hit rate H = POD
  and false-alarm rate F = b/(b+d). SEDI is undefined for rates of exactly 0 or 1; as is usual
  for finite samples the rates are moved half a count inside, H in [0.5/(a+c), 1 - 0.5/(a+c)] and
  F in [0.5/(b+d), 1 - 0.5/(b+d)], so a perfect forecast scores close to (not exactly) 1 and a
  forecast that never hits close to -1; a forecast that never (or always) says yes is on the
  no-skill line H = F and scores 0. A score whose denominator is 0 (e.g. POD without observed
  events) is NaN. The five scores are computed by the ``scores`` package (Bureau of Meteorology)
  from the weighted table; these two conventions are applied around it (:func:`categorical_scores`),
  and a test checks the numbers equal the formulas above.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

CONTINUOUS_METRICS: tuple[str, ...] = ("rmse", "bias", "acc")
CATEGORICAL_METRICS: tuple[str, ...] = ("pod", "far", "csi", "hss", "sedi")
MOMENT_KEYS: tuple[str, ...] = ("w", "f", "o", "ff", "oo", "fo")


def area_weights(lat_deg: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) cos-latitude weights on the ocean, 0 on land, mean 1 over the ocean cells.

    Args:
        lat_deg: (H,) cell-centre latitudes in degrees.
        mask: (H, W) bool, True over the ocean.
    """
    mask = np.asarray(mask, dtype=bool)
    lat_deg = np.asarray(lat_deg, dtype=np.float64)
    if mask.ndim != 2 or lat_deg.shape != (mask.shape[0],):
        raise ValueError(f"lat {lat_deg.shape} and mask {mask.shape} do not form a (H,) / (H, W) pair")
    if not mask.any():
        raise ValueError("the mask has no ocean cell; nothing to score")
    w = np.cos(np.deg2rad(lat_deg))[:, None] * mask
    return w / w[mask].mean()


def _check_pair(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> None:
    if forecast.shape != truth.shape or forecast.ndim != 4:
        raise ValueError(f"forecast {forecast.shape} and truth {truth.shape} must both be (S, L, H, W)")
    if weights.shape != forecast.shape[2:]:
        raise ValueError(f"weights {weights.shape} do not match the grid {forecast.shape[2:]}")


def moment_sums(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted sums per lead of one chunk of forecasts -> {key: (L,) float64}.

    Keys: ``w`` sum of weights, ``f``/``o`` weighted sums of forecast/truth, ``ff``/``oo``/``fo``
    weighted sums of their squares and product. Cells where either value is NaN are left out.

    Args:
        forecast, truth: (S, L, H, W) in K.
        weights: (H, W), see :func:`area_weights`.
    """
    forecast = np.asarray(forecast)
    truth = np.asarray(truth)
    weights = np.asarray(weights, dtype=np.float64)
    _check_pair(forecast, truth, weights)
    # element-wise work in the inputs' precision, every sum in float64: sum over start dates
    # first (float64 accumulator, no float64 copy of the arrays), then over cells with the weights
    dtype = np.result_type(forecast.dtype, truth.dtype, np.float32)
    valid = np.isfinite(forecast) & np.isfinite(truth)
    f = np.where(valid, forecast, 0).astype(dtype, copy=False)
    o = np.where(valid, truth, 0).astype(dtype, copy=False)
    n_lead = forecast.shape[1]
    flat_w = weights.reshape(-1)

    def weighted(x: np.ndarray) -> np.ndarray:
        per_cell = np.add.reduce(x, axis=0, dtype=np.float64).reshape(n_lead, -1)  # (L, H*W)
        return per_cell @ flat_w

    return {
        "w": weighted(valid),
        "f": weighted(f),
        "o": weighted(o),
        "ff": weighted(f * f),
        "oo": weighted(o * o),
        "fo": weighted(f * o),
    }


def add_sums(total: dict[str, np.ndarray] | None, part: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``total + part`` key by key (``total`` None starts a new sum)."""
    if total is None:
        return {k: np.array(v, dtype=np.float64, copy=True) for k, v in part.items()}
    return {k: total[k] + part[k] for k in total}


def continuous_scores(sums: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """RMSE (K), bias (K, forecast minus truth) and ACC per lead from :func:`moment_sums` -> {name: (L,)}."""
    w, f, o = sums["w"], sums["f"], sums["o"]
    ff, oo, fo = sums["ff"], sums["oo"], sums["fo"]
    with np.errstate(invalid="ignore", divide="ignore"):
        mse = (ff - 2.0 * fo + oo) / w
        rmse = np.sqrt(np.maximum(mse, 0.0))
        bias = (f - o) / w
        cov = fo - f * o / w
        var_f = ff - f * f / w
        var_o = oo - o * o / w
        # variances below round-off of the raw sums are zero: no defined correlation
        tiny_f = var_f <= 1e-12 * np.maximum(ff, 1e-300)
        tiny_o = var_o <= 1e-12 * np.maximum(oo, 1e-300)
        acc = cov / np.sqrt(var_f * var_o)
    acc = np.where(tiny_f | tiny_o | (w <= 0), np.nan, np.clip(acc, -1.0, 1.0))
    return {"rmse": np.where(w > 0, rmse, np.nan), "bias": np.where(w > 0, bias, np.nan), "acc": acc}


def contingency_counts(
    forecast_flags: np.ndarray, observed_flags: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Weighted 2x2 contingency table per lead -> (L, 4) float64 columns (a, b, c, d).

    a hits (forecast yes, observed yes), b false alarms, c misses, d correct negatives.

    Args:
        forecast_flags, observed_flags: (S, L, H, W) bool.
        weights: (H, W) cell weights (0 on land, which is then left out); None counts every cell once.
    """
    fc = np.asarray(forecast_flags, dtype=bool)
    ob = np.asarray(observed_flags, dtype=bool)
    if fc.shape != ob.shape or fc.ndim != 4:
        raise ValueError(f"forecast flags {fc.shape} and observed flags {ob.shape} must both be (S, L, H, W)")
    if weights is None:
        weights = np.ones(fc.shape[2:])
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != fc.shape[2:]:
        raise ValueError(f"weights {weights.shape} do not match the grid {fc.shape[2:]}")

    def wsum(sel: np.ndarray) -> np.ndarray:
        # (S, L, H, W) bool -> (L,) weighted count, without materialising a float copy
        return np.einsum("slhw,hw->l", sel, weights, dtype=np.float64)

    a = wsum(fc & ob)
    b = wsum(fc & ~ob)
    c = wsum(~fc & ob)
    total = np.full(fc.shape[1], fc.shape[0] * weights.sum())
    d = total - a - b - c
    return np.stack([a, b, c, np.maximum(d, 0.0)], axis=-1)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def contingency_manager(counts: np.ndarray) -> Any:
    """A ``scores.categorical.BasicContingencyManager`` of (L, 4) weighted counts (a, b, c, d), dim ``lead``."""
    import xarray as xr
    from scores.categorical import BasicContingencyManager

    counts = np.asarray(counts, dtype=np.float64)
    a, b, c, d = (xr.DataArray(counts[..., i], dims=("lead",)[: counts.ndim - 1]) for i in range(4))
    return BasicContingencyManager({"tp_count": a, "fp_count": b, "fn_count": c, "tn_count": d,
                                    "total_count": a + b + c + d})


def categorical_scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """POD, FAR, CSI, HSS and SEDI per lead from a (L, 4) table of (a, b, c, d) -> {name: (L,)}.

    The scores come from the ``scores`` package (``BasicContingencyManager``: probability_of_detection,
    false_alarm_ratio, critical_success_index, heidke_skill_score, symmetric_extremal_dependence_index).
    Two conventions of this module are kept around it (module docstring): a score whose denominator is
    0 is NaN (``scores`` divides and may give inf), and SEDI is computed on the table whose hit and
    false-alarm rates are moved half a count inside (0, 1), with 0 for a forecast that never (or
    always) says yes; ``scores``' SEDI of the raw table is undefined (log 0) for such tables.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape[-1] != 4:
        raise ValueError(f"counts must end in the 4 columns (a, b, c, d), got shape {counts.shape}")
    a, b, c, d = (counts[..., i] for i in range(4))
    n_yes, n_no = a + c, b + d
    with np.errstate(invalid="ignore", divide="ignore"):
        table = contingency_manager(counts)
        pod = _defined(table.probability_of_detection(), n_yes)
        far = _defined(table.false_alarm_ratio(), a + b)
        csi = _defined(table.critical_success_index(), a + b + c)
        hss = _defined(table.heidke_skill_score(), n_yes * (c + d) + (a + b) * n_no)
        # SEDI of the table with the rates moved half a count inside (0, 1)
        h_lo, f_lo = np.minimum(0.5 / n_yes, 0.5), np.minimum(0.5 / n_no, 0.5)
        h = np.clip(pod, h_lo, 1.0 - h_lo)
        f_rate = np.clip(_safe_ratio(b, n_no), f_lo, 1.0 - f_lo)
        adjusted = np.stack([h * n_yes, f_rate * n_no, (1.0 - h) * n_yes, (1.0 - f_rate) * n_no], axis=-1)
        score = np.asarray(contingency_manager(adjusted).symmetric_extremal_dependence_index().values)
    # a forecast that never (or always) says yes lies on the no-skill line H = F, where SEDI is 0;
    # the half-count correction alone would give it an arbitrary sign
    score = np.where((a + b <= 0) | (c + d <= 0), 0.0, score)
    score = np.where((n_yes > 0) & (n_no > 0), score, np.nan)
    return {"pod": pod, "far": far, "csi": csi, "hss": hss, "sedi": score}


def critical_success_index(counts: np.ndarray) -> np.ndarray:
    """The CSI of :func:`categorical_scores` alone, per lead of a (L, 4) table of (a, b, c, d) -> (L,); the same
    numbers (``scores``' critical_success_index, NaN where a + b + c is 0) at a fifteenth of the cost, for the MHW
    calibration's ~500 candidate tables."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape[-1] != 4:
        raise ValueError(f"counts must end in the 4 columns (a, b, c, d), got shape {counts.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        csi = contingency_manager(counts).critical_success_index()
    return _defined(csi, counts[..., 0] + counts[..., 1] + counts[..., 2])


def _defined(score: Any, denominator: np.ndarray) -> np.ndarray:
    """A ``scores`` result as numpy, NaN where this module's denominator is 0."""
    return np.where(np.asarray(denominator) > 0, np.asarray(score.values, dtype=np.float64), np.nan)


# --------------------------------------------------------------------------------------------
# convenience functions for arrays in memory


def rmse(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted RMSE per lead (K) of (S, L, H, W) arrays -> (L,)."""
    return continuous_scores(moment_sums(forecast, truth, weights))["rmse"]


def bias(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean error (forecast - truth, K) per lead -> (L,)."""
    return continuous_scores(moment_sums(forecast, truth, weights))["bias"]


def acc(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Anomaly correlation per lead, centred per lead over start dates and ocean cells -> (L,)."""
    return continuous_scores(moment_sums(forecast, truth, weights))["acc"]


def mhw_scores(
    forecast_flags: np.ndarray, observed_flags: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """POD, FAR, CSI, HSS, SEDI per lead of (S, L, H, W) bool flags -> {name: (L,)}."""
    return categorical_scores(contingency_counts(forecast_flags, observed_flags, weights))
