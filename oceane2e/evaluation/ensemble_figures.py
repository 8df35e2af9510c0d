"""Figures of ensemble forecasts (matplotlib Agg): reliability diagram, rank histogram, probability maps.

Each function takes an :class:`oceane2e.evaluation.probabilistic.EnsembleScores` and writes one PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oceane2e.evaluation.figures import CATEGORY_COLORS, CATEGORY_LABELS, _pyplot, case_leads


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def plot_reliability(ens, path: str | Path) -> Path:
    """Reliability diagram of the MHW and ≥ Strong probabilities, all leads and leads 1–10 / 11–40.

    Bins are the member fractions k/N; bins with < 1 % of the cases are drawn hollow; the grey band is
    the ±0.1 tolerance of issue 17; the lower panels give the share of cases per bin (log scale).
    """
    from oceane2e.evaluation.probabilistic import RELIABILITY_MIN_FRACTION

    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.5), height_ratios=(3, 1), layout="constrained")
    groups = (("all leads", slice(None), "k"), ("leads 1–10", slice(0, 10), "tab:blue"),
              ("leads 11–40", slice(10, None), "tab:red"))
    for c, (kind, title) in enumerate((("mhw", "MHW"), ("strong", "category ≥ Strong"))):
        ax, hx = axes[0, c], axes[1, c]
        ax.fill_between([0, 1], [-0.1, 0.9], [0.1, 1.1], color="0.9", label="±0.1")
        ax.plot([0, 1], [0, 1], color="0.5", lw=1)
        for label, leads, color in groups:
            p, freq, frac = ens.reliability_curve(kind, leads)
            ok = frac >= RELIABILITY_MIN_FRACTION
            ax.plot(p[ok], freq[ok], "o-", color=color, label=label, ms=5)
            ax.plot(p[~ok], freq[~ok], "o", mfc="none", color=color, ms=5)
            hx.semilogy(p, np.maximum(frac, 1e-6), "o-", color=color, ms=3)
        dev = ens.reliability_deviation(kind)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="forecast probability",
               ylabel="observed frequency", title=f"{title}: max |dev.| {dev:.2f}")
        ax.legend(fontsize=8, loc="upper left")
        hx.axhline(RELIABILITY_MIN_FRACTION, color="0.5", ls=":", lw=1)
        hx.set(xlabel="forecast probability", ylabel="share of cases", xlim=(-0.02, 1.02))
    fig.suptitle(f"Reliability of {ens.name} ({ens.members} members, {ens.time0.size} start dates); "
                 "hollow: bins with < 1 % of the cases")
    return _save(fig, path)


def plot_rank_histogram(ens, path: str | Path) -> Path:
    """Rank histogram of the observed SSTA among the members, pooled over leads and ocean cells."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    ranks = np.arange(1, ens.rank_hist.size + 1)
    ax.bar(ranks, ens.rank_hist, color="tab:blue", alpha=0.8)
    ax.axhline(1.0 / ens.rank_hist.size, color="k", ls="--", lw=1, label="flat (reliable)")
    ax.set(xlabel="rank of the observation among the members", ylabel="relative frequency",
           title=f"Rank histogram of {ens.name} (all leads)", xticks=ranks)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_probability_case(ens, lat: np.ndarray, lon: np.ndarray, mask: np.ndarray, path: str | Path,
                          leads: Sequence[int] | None = None) -> Path:
    """Maps of the strongest test heatwave (largest observed MHW area over the leads): per lead, the
    observed MHW category, P(MHW) and P(≥ Strong) of the ensemble."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    plt = _pyplot()
    case = ens.case
    n_lead = case["p_mhw"].shape[0]
    leads = case_leads(n_lead, (5, 10, 20, 30, 40)) if leads is None else list(leads)
    ocean = np.asarray(mask, dtype=bool)
    land = np.where(ocean, np.nan, 1.0)
    cos_lat = np.cos(np.deg2rad(float(np.mean(lat))))
    cat_cmap = ListedColormap(CATEGORY_COLORS)
    cat_norm = BoundaryNorm(np.arange(-0.5, 5.5, 1.0), cat_cmap.N)
    fig, axes = plt.subplots(3, len(leads), figsize=(3.0 * len(leads) + 1, 6.8), squeeze=False, sharex=True,
                             sharey=True, layout="constrained")
    meshes = [None] * 3
    for c, lead in enumerate(leads):
        i = lead - 1
        rows = ((case["observed_category"][i], dict(cmap=cat_cmap, norm=cat_norm), "observed MHW category"),
                (case["p_mhw"][i], dict(cmap="Reds", vmin=0, vmax=1), "P(MHW)"),
                (case["p_strong"][i], dict(cmap="Purples", vmin=0, vmax=1), "P(≥ Strong)"))
        for r, (values, kw, label) in enumerate(rows):
            ax = axes[r, c]
            meshes[r] = ax.pcolormesh(lon, lat, np.where(ocean, values, np.nan), shading="nearest", **kw)
            ax.pcolormesh(lon, lat, land, cmap=ListedColormap(["#b0b0b0"]), shading="nearest", vmin=0, vmax=1)
            ax.set_aspect(1.0 / cos_lat)
            if r == 0:
                ax.set_title(f"lead {lead} d")
            if c == 0:
                ax.set_ylabel(f"{label}\nlatitude (°N)")
    for r, mesh in enumerate(meshes):
        bar = fig.colorbar(mesh, ax=axes[r, :].tolist(), shrink=0.9)
        if r == 0:
            bar.set_ticks(range(5))
            bar.set_ticklabels(CATEGORY_LABELS, fontsize=7)
    fig.suptitle(f"Strongest observed heatwave (largest MHW area over the leads): forecast from {case['time0']}, "
                 f"{ens.name} ({ens.members} members)")
    return _save(fig, path)


__all__ = ["plot_probability_case", "plot_rank_histogram", "plot_reliability"]
