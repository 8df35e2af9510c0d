"""Probabilistic scores of ensemble forecasts per lead day (issue 17), with the ``scores`` package.

For every ``<Name>_members.nc`` in the results folder (written by :mod:`oceane2e.ensemble.generate`), against
the observed SSTA of the data folder:

* ``crps`` — CRPS of the SSTA ensemble (K), the empirical-CDF form of ``scores.probability.crps_for_ensemble``
  (the score of the N-member forecast as issued; one member gives the absolute error);
* ``crps_clim`` / ``crpss`` — the CRPS of the climatological distribution and the skill score
  ``1 − CRPS / CRPS_clim``. The climatology is a Gaussian N(μ, σ) per cell and day of year, μ and σ the
  mean and std of the training years' SSTA within ±15 days of that day of year; its CRPS is the closed form
  ``σ [z (2Φ(z) − 1) + 2φ(z) − 1/√π]``, z = (o − μ)/σ (Gneiting & Raftery 2007) — the continuous
  distribution, so it is not handicapped by a finite sample as the ensemble is;
* ``spread``, ``rmse_mean``, ``spread_skill`` — the ensemble spread sqrt(mean unbiased member variance),
  the RMSE of the ensemble mean, and their ratio times sqrt((N+1)/N), which is 1 for a reliable N-member
  ensemble (Fortin et al. 2014); ``rmse_control`` — the RMSE of the unperturbed forecast on the same dates;
* ``brier_mhw``, ``bss_mhw``, ``brier_strong``, ``bss_strong`` — Brier score (``scores.probability.brier_score``)
  of the member fraction in an MHW (Hobday rules per member with the observed history, as the deterministic
  scores) and in category ≥ Strong, and the skill score against the climatological probability: the
  fraction of days of the training years on which that cell was in an MHW (≥ Strong);
* a rank histogram (``scores.probability.rank_histogram``) and reliability tables of the MHW probabilities,
  pooled over leads, for the figures and the report.

Every score is pooled over start dates and ocean cells (cos-latitude weights) from additive sums, so the
work streams over chunks of start dates. The daily MHW probabilities are written as
``<Name>_probability.nc`` (the one forecast format, channels ``p_mhw``, ``p_strong``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oceane2e.mhw.categories import STRONG

MEMBERS_SUFFIX = "_members.nc"
CONTROL_SUFFIX = "_control.npy"
PROBABILITY_SUFFIX = "_probability.nc"
PROBABILISTIC_METRICS: tuple[str, ...] = (
    "crps", "crps_clim", "crpss", "spread", "rmse_mean", "rmse_control", "spread_skill",
    "brier_mhw", "brier_mhw_clim", "bss_mhw", "brier_strong", "brier_strong_clim", "bss_strong",
)
#: reliability bins hold at least this fraction of the cases to be judged (issue 17)
RELIABILITY_MIN_FRACTION = 0.01
CLIM_HALF_WIDTH_DAYS = 15
_CHUNK_ELEMENTS = 20_000_000


# --------------------------------------------------------------------------------------------
# scores of arrays (numpy in, numpy out; ``scores`` underneath)


def _xr(x: np.ndarray, dims: Sequence[str]) -> Any:
    import xarray as xr

    return xr.DataArray(np.asarray(x), dims=tuple(dims))


def crps_ensemble(members: np.ndarray, obs: np.ndarray, member_axis: int = 0) -> np.ndarray:
    """CRPS per point of an ensemble (empirical CDF of the members), same units as the data.

    Args:
        members: (..., N, ...) with the members on ``member_axis``; obs: the other axes.

    Returns:
        The shape of ``obs``; NaN where the observation or a member is NaN.
    """
    from scores.probability import crps_for_ensemble

    fc = np.moveaxis(np.asarray(members, dtype=np.float64), member_axis, 0)
    ob = np.asarray(obs, dtype=np.float64)
    if fc.shape[1:] != ob.shape:
        raise ValueError(f"members {np.shape(members)} (member axis {member_axis}) do not match obs {ob.shape}")
    dims = [f"d{i}" for i in range(ob.ndim)]
    out = crps_for_ensemble(_xr(fc, ["member", *dims]), _xr(ob, dims), "member", method="ecdf",
                            preserve_dims="all")
    return np.asarray(out.transpose(*dims).values)


def gaussian_crps(mean: np.ndarray, std: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """CRPS of N(mean, std²) for ``obs`` (closed form; std 0 gives the absolute error)."""
    from scipy.stats import norm

    std = np.asarray(std, dtype=np.float64)
    diff = np.asarray(obs, dtype=np.float64) - mean
    safe = np.where(std > 0, std, 1.0)
    z = diff / safe
    value = safe * (z * (2.0 * norm.cdf(z) - 1.0) + 2.0 * norm.pdf(z) - 1.0 / np.sqrt(np.pi))
    return np.where(std > 0, value, np.abs(diff))


def brier_points(prob: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Brier score per point ``(p − o)²`` of probabilities in [0, 1] and 0/1 outcomes (``scores``)."""
    from scores.probability import brier_score

    p = np.asarray(prob, dtype=np.float64)
    dims = [f"d{i}" for i in range(p.ndim)]
    return np.asarray(brier_score(_xr(p, dims), _xr(np.asarray(observed, dtype=np.float64), dims),
                                  preserve_dims="all").values)


def rank_histogram(members: np.ndarray, obs: np.ndarray, member_axis: int = 0,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """Relative frequency of the observation's rank among the members (ties shared), (N+1,) summing to 1.

    Args:
        members: (..., N, ...) ensemble; obs: the other axes; weights: broadcastable to obs (None: 1).
    """
    from scores.probability import rank_histogram as rank_hist

    fc = np.moveaxis(np.asarray(members, dtype=np.float64), member_axis, -1)
    ob = np.asarray(obs, dtype=np.float64)
    valid = np.isfinite(ob) & np.all(np.isfinite(fc), axis=-1)
    wt = np.ones(ob.shape) if weights is None else np.broadcast_to(np.asarray(weights, dtype=np.float64), ob.shape)
    out = rank_hist(_xr(fc[valid], ["case", "member"]), _xr(ob[valid], ["case"]), "member",
                    weights=_xr(wt[valid], ["case"]))
    return np.asarray(out.values)


def spread_skill_ratio(members: np.ndarray, obs: np.ndarray, member_axis: int = 0,
                       weights: np.ndarray | None = None) -> float:
    """sqrt((N+1)/N) · spread / RMSE of the ensemble mean, pooled over all points (1: reliable)."""
    fc = np.moveaxis(np.asarray(members, dtype=np.float64), member_axis, 0)
    n = fc.shape[0]
    wt = np.ones(np.shape(obs)) if weights is None else np.broadcast_to(weights, np.shape(obs))
    var = np.sum(wt * fc.var(axis=0, ddof=1)) / np.sum(wt)
    mse = np.sum(wt * (fc.mean(axis=0) - obs) ** 2) / np.sum(wt)
    return float(np.sqrt((n + 1) / n) * np.sqrt(var / mse))


# --------------------------------------------------------------------------------------------
# climatological references


@dataclass
class ClimatologicalReference:
    """What a forecaster knows without a forecast, from the training years.

    Attributes:
        mean, std: (366, H, W) K, the SSTA distribution per day of year (±15-day window).
        p_mhw, p_strong: (H, W) fraction of training days in an MHW / in category ≥ Strong.
    """

    mean: np.ndarray
    std: np.ndarray
    p_mhw: np.ndarray
    p_strong: np.ndarray


def climatological_reference(observed: Any, years: Sequence[int], clim: Any, mask: np.ndarray,
                             grid: tuple[int, int]) -> ClimatologicalReference:
    """:class:`ClimatologicalReference` of the (contiguous or not) training ``years`` read from ``observed``."""
    from oceane2e.data.climate_stats import DoyMoments
    from oceane2e.mhw.forecast import forecast_mhw

    moments = None
    n_days = 0
    mhw_days = np.zeros(grid)
    strong_days = np.zeros(grid)
    for year in sorted(int(y) for y in years):
        first, last = np.datetime64(f"{year:04d}-01-01", "D"), np.datetime64(f"{year:04d}-12-31", "D")
        span = observed.read(first - 10, last, grid, required_from=first)
        series = span[10:]
        series[:, ~mask] = np.nan
        dates = first + np.arange(series.shape[0])
        part = DoyMoments.from_series(series, dates, mask)
        moments = part if moments is None else moments + part
        det = forecast_mhw(series[None], span[None, :10], np.array([first - 1]), clim.seas, clim.thresh, mask=mask)
        mhw_days += det.flags[0].sum(axis=0)
        strong_days += (det.category[0] >= STRONG).sum(axis=0)
        n_days += series.shape[0]
    assert moments is not None
    mean, std = moments.windowed(CLIM_HALF_WIDTH_DAYS)
    return ClimatologicalReference(mean, std, mhw_days / n_days, strong_days / n_days)


# --------------------------------------------------------------------------------------------
# streaming evaluation of one ensemble file


@dataclass
class EnsembleScores:
    """Scores of one ensemble.

    Attributes:
        name: file prefix (``Oceane2e-ens``); base_model: its deterministic model; members: N.
        skill: DataFrame (model, lead, metric, value) with :data:`PROBABILISTIC_METRICS`.
        rank_hist: (N+1,) relative frequencies pooled over leads.
        reliability: {"mhw"|"strong": (L, N+1, 2) weighted (cases, observed events) per lead and p = k/N}.
        case: the strongest observed heatwave's start date and its (L, H, W) maps (p_mhw, p_strong,
            observed category), or None.
    """

    name: str
    base_model: str
    members: int
    time0: np.ndarray
    skill: Any
    rank_hist: np.ndarray
    reliability: dict[str, np.ndarray]
    case: dict[str, Any] | None = None
    paths: dict[str, Path] = field(default_factory=dict)

    def reliability_curve(self, kind: str, leads: slice = slice(None)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(p, observed frequency, fraction of cases) per probability bin, pooled over ``leads``."""
        table = self.reliability[kind][leads].sum(axis=0)
        cases, events = table[:, 0], table[:, 1]
        p = np.arange(self.members + 1) / self.members
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = np.where(cases > 0, events / np.where(cases > 0, cases, 1.0), np.nan)
        return p, freq, cases / max(cases.sum(), 1e-300)

    def reliability_deviation(self, kind: str, leads: slice = slice(None)) -> float:
        """Largest |observed frequency − p| over bins with ≥ 1 % of the cases."""
        p, freq, frac = self.reliability_curve(kind, leads)
        ok = frac >= RELIABILITY_MIN_FRACTION
        return float(np.nanmax(np.abs(freq[ok] - p[ok]))) if ok.any() else float("nan")


def discover_ensembles(results_dir: str | Path) -> list[str]:
    """Names of the ensembles with a ``<Name>_members.nc`` in ``results_dir``, sorted."""
    return sorted(p.name[: -len(MEMBERS_SUFFIX)] for p in Path(results_dir).glob(f"*{MEMBERS_SUFFIX}"))


def score_ensemble(results_dir: str | Path, name: str, observed: Any, clim: Any, mask: np.ndarray,
                   weights: np.ndarray, reference: ClimatologicalReference, *, history_days: int,
                   write_probability: bool = True, progress: bool = False) -> EnsembleScores:
    """Scores of ``<name>_members.nc`` per lead (see the module docstring)."""
    import pandas as pd
    from tqdm import tqdm

    from oceane2e.data.ensemble_files import EnsembleFile
    from oceane2e.data.forecast_files import ForecastWriter
    from oceane2e.dates import leap_doy_index
    from oceane2e.evaluation import metrics as M
    from oceane2e.mhw.forecast import forecast_mhw

    results_dir = Path(results_dir)
    path = results_dir / f"{name}{MEMBERS_SUFFIX}"
    control_path = results_dir / f"{name}{CONTROL_SUFFIX}"
    with EnsembleFile(path) as f:
        time0, n_mem, n_lead = f.time0, f.n_members, f.n_lead
        base = str(f.attrs.get("base_model", name))
        grid = mask.shape
        control = np.load(control_path, mmap_mode="r") if control_path.exists() else None
        if control is not None and control.shape != (time0.size, n_lead, *grid):
            control = None
        ocean = np.asarray(mask, dtype=bool)
        w_ocean = weights[ocean]  # (n_ocean,)
        sums = {k: np.zeros(n_lead) for k in ("w", "crps", "crps_clim", "var", "bs_mhw", "bs_mhw_clim",
                                              "bs_strong", "bs_strong_clim")}
        mean_moments = control_moments = None
        rank = np.zeros(n_mem + 1)
        reliability = {k: np.zeros((n_lead, n_mem + 1, 2)) for k in ("mhw", "strong")}
        best_area, case = -1.0, None
        prob_writer = None
        if write_probability:
            prob_writer = ForecastWriter(results_dir / f"{name}{PROBABILITY_SUFFIX}", time0, n_lead, f.coords, mask,
                                         channels=("p_mhw", "p_strong"),
                                         title=f"Daily MHW probabilities of the ensemble {name}",
                                         attrs={"model": name, "members": n_mem})
        chunk = max(1, _CHUNK_ELEMENTS // ((n_mem + 2) * (n_lead + history_days) * ocean.size))
        try:
            for s0 in tqdm(range(0, time0.size, chunk), desc=f"{name} scores", disable=not progress):
                s1 = min(s0 + chunk, time0.size)
                t0 = time0[s0:s1]
                s = t0.size
                members = f.read(s0, s1)  # (s, N, L, H, W)
                history, truth = observed.windows(t0, history_days, n_lead, ocean)
                members[..., ~ocean] = np.nan

                # SSTA: CRPS, spread, rank histogram, mean and control
                fc_o = members[..., ocean]  # (s, N, L, n_ocean)
                ob_o = truth[..., ocean]  # (s, L, n_ocean)
                valid_dates = t0[:, None] + np.arange(1, n_lead + 1)[None]
                doy = leap_doy_index(valid_dates.ravel()).reshape(valid_dates.shape)  # (s, L)
                mu = reference.mean[doy][..., ocean]
                sd = reference.std[doy][..., ocean]

                def wsum(x: np.ndarray) -> np.ndarray:  # (s, L, n_ocean) -> (L,)
                    return np.nansum(x, axis=0) @ w_ocean

                sums["w"] += wsum(np.isfinite(ob_o).astype(np.float64))
                sums["crps"] += wsum(crps_ensemble(fc_o, ob_o, member_axis=1))
                sums["crps_clim"] += wsum(gaussian_crps(mu, sd, ob_o))
                if n_mem > 1:
                    sums["var"] += wsum(fc_o.var(axis=1, ddof=1))
                rank += rank_histogram(fc_o, ob_o, member_axis=1, weights=w_ocean) * float(np.sum(w_ocean) * s * n_lead)
                mean = members.mean(axis=1)
                mean_moments = M.add_sums(mean_moments, M.moment_sums(mean, truth, weights))
                if control is not None:
                    ctl = np.array(control[s0:s1], dtype=np.float32)
                    ctl[..., ~ocean] = np.nan
                    control_moments = M.add_sums(control_moments, M.moment_sums(ctl, truth, weights))

                # MHWs: per-member flags with the observed history, probabilities, Brier scores
                obs = forecast_mhw(truth, history, t0, clim.seas, clim.thresh, mask=mask)
                det = forecast_mhw(members.reshape(s * n_mem, n_lead, *grid), np.repeat(history, n_mem, axis=0),
                                   np.repeat(t0, n_mem), clim.seas, clim.thresh, mask=mask)
                p_mhw = det.flags.reshape(s, n_mem, n_lead, *grid).mean(axis=1)
                p_strong = (det.category >= STRONG).reshape(s, n_mem, n_lead, *grid).mean(axis=1)
                o_mhw, o_strong = obs.flags, obs.category >= STRONG
                for key, p, o, p_ref in (("mhw", p_mhw, o_mhw, reference.p_mhw),
                                         ("strong", p_strong, o_strong, reference.p_strong)):
                    p_o, o_o = p[..., ocean], o[..., ocean].astype(np.float64)
                    sums[f"bs_{key}"] += wsum(brier_points(p_o, o_o))
                    sums[f"bs_{key}_clim"] += wsum(brier_points(np.broadcast_to(p_ref[ocean], p_o.shape), o_o))
                    k = np.rint(p_o * n_mem).astype(np.int64)  # (s, L, n_ocean) bin index
                    for b in range(n_mem + 1):
                        sel = k == b
                        reliability[key][:, b, 0] += wsum(sel.astype(np.float64))
                        reliability[key][:, b, 1] += wsum((sel & (o_o > 0)).astype(np.float64))
                if prob_writer is not None:
                    prob_writer.write(s0, np.stack([p_mhw, p_strong], axis=2))
                area = np.einsum("slhw,hw->s", o_mhw, weights, dtype=np.float64)
                j = int(np.argmax(area))
                if area[j] > best_area:
                    best_area = float(area[j])
                    case = {"time0": t0[j], "p_mhw": p_mhw[j], "p_strong": p_strong[j],
                            "observed_category": obs.category[j], "area_days": best_area}
            if prob_writer is not None:
                prob_writer.close()
        except BaseException:
            if prob_writer is not None:
                prob_writer.abort()
            raise

    w = sums["w"]
    with np.errstate(invalid="ignore", divide="ignore"):
        crps, crps_clim = sums["crps"] / w, sums["crps_clim"] / w
        spread = np.sqrt(sums["var"] / w) if n_mem > 1 else np.full(n_lead, np.nan)
        rmse_mean = M.continuous_scores(mean_moments)["rmse"]
        values = {
            "crps": crps, "crps_clim": crps_clim, "crpss": 1.0 - crps / crps_clim, "spread": spread,
            "rmse_mean": rmse_mean,
            "rmse_control": (M.continuous_scores(control_moments)["rmse"] if control_moments is not None
                             else np.full(n_lead, np.nan)),
            "spread_skill": np.sqrt((n_mem + 1) / n_mem) * spread / rmse_mean,
        }
        for key in ("mhw", "strong"):
            bs, ref = sums[f"bs_{key}"] / w, sums[f"bs_{key}_clim"] / w
            values[f"brier_{key}"], values[f"brier_{key}_clim"] = bs, ref
            values[f"bss_{key}"] = 1.0 - bs / ref
    rows = [(name, lead, metric, float(v)) for metric in PROBABILISTIC_METRICS
            for lead, v in zip(range(1, n_lead + 1), values[metric], strict=True)]
    skill = pd.DataFrame(rows, columns=["model", "lead", "metric", "value"])
    result = EnsembleScores(name, base, n_mem, time0, skill, rank / max(rank.sum(), 1e-300), reliability, case)
    if write_probability:
        result.paths["probability"] = results_dir / f"{name}{PROBABILITY_SUFFIX}"
    return result


# --------------------------------------------------------------------------------------------
# report


def _targets(ens: EnsembleScores) -> list[tuple[str, str, bool]]:
    """(target, measured, met) of issue 17."""
    sk = ens.skill.pivot(index="lead", columns="metric", values="value")
    leads = sk.index.to_numpy()
    out = []
    ss = sk.loc[(leads >= 5) & (leads <= 40), "spread_skill"]
    if ss.size:
        out.append(("spread–skill 0.8–1.2 at leads 5–40", f"{ss.min():.2f}–{ss.max():.2f}",
                    bool(((ss >= 0.8) & (ss <= 1.2)).all())))
    if sk["rmse_control"].notna().any():
        late = sk.loc[leads >= 10]
        diff = (late["rmse_mean"] - late["rmse_control"]).max()
        out.append(("ensemble-mean RMSE ≤ deterministic (control) at every lead ≥ 10",
                    f"worst difference {diff:+.4f} K", bool(diff <= 0)))
    out.append(("CRPSS ≥ 0 at every lead", f"min {sk['crpss'].min():.3f}", bool((sk["crpss"] >= 0).all())))
    out.append(("BSS (MHW) > 0 to 40 days", f"min {sk['bss_mhw'].min():.3f}", bool((sk["bss_mhw"] > 0).all())))
    out.append(("BSS (≥ Strong) > 0 to 40 days", f"min {sk['bss_strong'].min():.3f}",
                bool((sk["bss_strong"] > 0).all())))
    for kind, label in (("mhw", "MHW"), ("strong", "≥ Strong")):
        dev = ens.reliability_deviation(kind)
        out.append((f"reliability ({label}, all leads) within ±0.1 where bins hold ≥ 1 % of cases",
                    f"max deviation {dev:.3f}", bool(dev <= 0.1)))
    return out


def report_section(ens: EnsembleScores, figures: dict[str, Path], report_dir: Path,
                   leads: Sequence[int] = (1, 5, 10, 20, 30, 40)) -> str:
    """Markdown section of one ensemble for ``report.md``."""
    sk = ens.skill.pivot(index="metric", columns="lead", values="value")
    leads = [lead for lead in leads if lead in sk.columns]
    rows = [("crps", "CRPS (K)"), ("crpss", "CRPS skill vs climatology"), ("spread", "spread (K)"),
            ("rmse_mean", "ensemble-mean RMSE (K)"), ("rmse_control", "control (deterministic) RMSE (K)"),
            ("spread_skill", "spread–skill ratio"), ("brier_mhw", "Brier score, MHW"), ("bss_mhw", "BSS, MHW"),
            ("brier_strong", "Brier score, ≥ Strong"), ("bss_strong", "BSS, ≥ Strong")]
    lines = [f"## Ensemble {ens.name}: {ens.members} members of {ens.base_model}", "",
             f"{ens.time0.size} start dates ({ens.time0[0]} .. {ens.time0[-1]}). CRPS of the members' empirical "
             "distribution; CRPSS against a Gaussian climatology per cell and day of year (training years, "
             "±15 days); spread–skill = sqrt((N+1)/N)·spread/RMSE of the mean (1 = reliable); Brier skill "
             "against each cell's MHW (≥ Strong) frequency in the training years. Scores by "
             "the `scores` package, pooled with cos-latitude weights.", "",
             "| metric | " + " | ".join(f"lead {lead}" for lead in leads) + " |",
             "|---|" + "---:|" * len(leads)]
    for metric, label in rows:
        if metric in sk.index:
            lines.append(f"| {label} | " + " | ".join(f"{sk.loc[metric, lead]:.3f}" for lead in leads) + " |")
    lines += ["", "Targets (issue 17):", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'no'} |" for t, m, ok in _targets(ens)]
    lines.append("")
    for key, caption in (("reliability_figure", "Reliability of the MHW probabilities (all leads)"),
                         ("rank_figure", "Rank histogram of the SSTA members"),
                         ("probability_figure", "Probability maps of the strongest test heatwave")):
        if key in figures:
            p = Path(figures[key])
            rel = p.relative_to(report_dir) if p.is_relative_to(report_dir) else p
            lines += [f"{caption}:", "", f"![{caption}]({rel})", ""]
    return "\n".join(lines)


def evaluate_ensembles(results_dir: str | Path, observed: Any, clim: Any, mask: np.ndarray, weights: np.ndarray,
                       train_years: Sequence[int], *, history_days: int, figures: bool = True,
                       progress: bool = False) -> list[tuple[EnsembleScores, str]]:
    """Score every ensemble of ``results_dir``; returns (scores, report section) per ensemble."""
    names = discover_ensembles(results_dir)
    if not names:
        return []
    reference = climatological_reference(observed, train_years, clim, mask, mask.shape)
    out = []
    for name in names:
        ens = score_ensemble(results_dir, name, observed, clim, mask, weights, reference,
                             history_days=history_days, progress=progress)
        figs: dict[str, Path] = {}
        if figures:
            from oceane2e.evaluation.ensemble_figures import (
                plot_probability_case,
                plot_rank_histogram,
                plot_reliability,
            )

            fig_dir = Path(results_dir) / "figures"
            figs["reliability_figure"] = plot_reliability(ens, fig_dir / f"{name}_reliability.png")
            figs["rank_figure"] = plot_rank_histogram(ens, fig_dir / f"{name}_rank_histogram.png")
            if ens.case is not None:
                figs["probability_figure"] = plot_probability_case(
                    ens, clim.coords.lat, clim.coords.lon, mask, fig_dir / f"{name}_probability_case.png")
        ens.paths.update(figs)
        out.append((ens, report_section(ens, figs, Path(results_dir))))
    return out


__all__ = [
    "ClimatologicalReference", "EnsembleScores", "PROBABILISTIC_METRICS", "brier_points", "climatological_reference",
    "crps_ensemble", "discover_ensembles", "evaluate_ensembles", "gaussian_crps", "rank_histogram",
    "report_section", "score_ensemble", "spread_skill_ratio",
]
