"""PNG figures of the evaluation: skill vs lead for every model, and maps of one MHW case.

Colours: cmocean ``balance`` (diverging, centred on 0) for SSTA and errors, the Hobday et al.
(2018) category colours for MHW maps; land is drawn grey from the mask; axes are the data's
latitude and longitude. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

METRIC_LABELS: dict[str, str] = {
    "rmse": "RMSE (K)",
    "bias": "bias (K)",
    "acc": "ACC",
    "pod": "MHW POD",
    "far": "MHW FAR",
    "csi": "MHW CSI",
    "hss": "MHW HSS",
    "sedi": "MHW SEDI",
    "pod_strong": "POD (>= Strong)",
    "far_strong": "FAR (>= Strong)",
    "csi_strong": "CSI (>= Strong)",
    "hss_strong": "HSS (>= Strong)",
    "sedi_strong": "SEDI (>= Strong)",
}
# none, Moderate, Strong, Severe, Extreme (colours of the Hobday et al. 2018 category maps)
CATEGORY_COLORS: tuple[str, ...] = ("#ffffff", "#ffd966", "#f4a742", "#d9531e", "#7f1d0e")
CATEGORY_LABELS: tuple[str, ...] = ("none", "Moderate", "Strong", "Severe", "Extreme")
REFERENCE_STYLE = {"Persistence": "--", "DampedPersistence": "-.", "Climatology": ":"}


def metric_label(metric: str) -> str:
    """The panel title of ``metric``; ``<metric>_cal`` (lead-calibrated MHW detection) says so."""
    if metric.endswith("_cal") and metric[:-4] in METRIC_LABELS:
        return METRIC_LABELS[metric[:-4]] + ", lead-calibrated"
    return METRIC_LABELS.get(metric, metric)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _cmocean():
    """cmocean, imported without the deprecation warnings its colormap registration raises
    under recent matplotlib (harmless; not ours to fix)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import cmocean
    return cmocean


def plot_skill_vs_lead(skill, path: str | Path, metrics: Sequence[str] | None = None, *, ncols: int = 4,
                       sharey: bool | str = False) -> Path:
    """One panel per metric, skill against lead day, one line per model (references dashed).

    Args:
        skill: pandas DataFrame with columns model, lead, metric, value (``skill.csv``).
        path: PNG to write (its folder is created).
        metrics: metrics to draw (default: every metric in ``skill``, in ``METRIC_LABELS`` order).
        ncols: panels per row (at most); sharey: as in ``matplotlib.pyplot.subplots`` (e.g. "col").
    """
    plt = _pyplot()
    present = list(dict.fromkeys(skill.metric))
    if metrics is None:  # the lead-calibrated MHW scores have their own figure (plot_calibrated_mhw)
        present = [m for m in present if not m.endswith("_cal")]
        metrics = [m for m in METRIC_LABELS if m in present] + [m for m in present if m not in METRIC_LABELS]
    metrics = [m for m in metrics if m in set(skill.metric)]
    models = list(dict.fromkeys(skill.model))
    ncols = min(ncols, len(metrics))
    nrows = int(np.ceil(len(metrics) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.0 * nrows), squeeze=False, sharex=True,
                             sharey=sharey)
    colors = plt.get_cmap("tab10")
    for ax, metric in zip(axes.flat, metrics, strict=False):
        sub = skill[skill.metric == metric]
        for i, model in enumerate(models):
            line = sub[sub.model == model].sort_values("lead")
            if line.empty or line.value.isna().all():
                continue
            ax.plot(line.lead, line.value, REFERENCE_STYLE.get(model, "-"), color=colors(i % 10), label=model, lw=1.5)
        ax.set_title(metric_label(metric), fontsize=10)
        ax.tick_params(labelbottom=True)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[max(0, len(metrics) - ncols) : len(metrics)]:
        ax.set_xlabel("lead (days)")
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False)
    # fixed margins: tight_layout costs seconds on a loaded machine and changes nothing here
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.35 / (3.0 * nrows), bottom=0.9 / (3.0 * nrows),
                        hspace=0.45, wspace=0.25)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_calibrated_mhw(skill, path: str | Path) -> Path | None:
    """MHW CSI, SEDI and CSI >= Strong against lead, with the observed threshold (top) and lead-calibrated
    (bottom, :mod:`oceane2e.evaluation.calibration`); None when ``skill`` has no calibrated scores."""
    if "csi_cal" not in set(skill.metric):
        return None
    metrics = ["csi", "sedi", "csi_strong", "csi_cal", "sedi_cal", "csi_strong_cal"]
    calibrated = skill[skill.model.isin(set(skill[skill.metric == "csi_cal"].model))]
    return plot_skill_vs_lead(calibrated, path, metrics, ncols=3, sharey="col")


def case_leads(n_lead: int, wanted: Sequence[int] = (1, 5, 10, 20, 40)) -> list[int]:
    """The leads of ``wanted`` that exist (1..n_lead); at least the last lead."""
    leads = [lead for lead in wanted if lead <= n_lead]
    return leads or [n_lead]


def plot_case_maps(
    case,
    lat: np.ndarray,
    lon: np.ndarray,
    mask: np.ndarray,
    path: str | Path,
    leads: Sequence[int] | None = None,
) -> Path:
    """Maps of one case: rows are leads; columns the observed SSTA, each forecast of the case (the
    product first, then the best other forecast), then the observed and forecast MHW categories.

    Args:
        case: :class:`oceane2e.evaluation.evaluate.CaseMaps` ((L, H, W) arrays in K and category codes).
        lat, lon: (H,), (W,) cell centres in degrees.
        mask: (H, W) bool, True over the ocean; land is drawn grey.
        path: PNG to write.
        leads: leads to show (default 1, 5, 10, 20, 40 where they exist).
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    plt = _pyplot()
    cmocean = _cmocean()
    n_lead = case.truth.shape[0]
    leads = case_leads(n_lead) if leads is None else list(leads)
    ocean = np.asarray(mask, dtype=bool)
    sel = np.array(leads) - 1
    names = list(case.forecasts)
    finite = np.concatenate([case.truth[sel][:, ocean].ravel()] + [case.forecasts[n][sel][:, ocean].ravel() for n in names])
    finite = finite[np.isfinite(finite)]
    amp = max(float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0, 1e-3)
    cat_cmap = ListedColormap(CATEGORY_COLORS)
    cat_norm = BoundaryNorm(np.arange(-0.5, 5.5, 1.0), cat_cmap.N)
    land = np.where(ocean, np.nan, 1.0)
    land_cmap = ListedColormap(["#b0b0b0"])
    rmse = {n: [float(np.sqrt(np.nanmean((case.forecasts[n][i] - case.truth[i])[ocean] ** 2))) for i in sel]
            for n in names}

    columns = ["observed SSTA (K)"] + [f"{n} (K)" for n in names] + ["observed MHW category"] + \
        [f"{n} MHW category" for n in names]
    n_cols = len(columns)
    cos_lat = np.cos(np.deg2rad(float(np.mean(lat))))
    span_lat = float(lat[-1] - lat[0]) or 1.0
    span_lon = float(lon[-1] - lon[0]) or 1.0
    panel_w = 3.0
    panel_h = float(np.clip(panel_w * span_lat / (span_lon * cos_lat), 1.2, 4.5))
    fig, axes = plt.subplots(
        len(leads), n_cols, figsize=(n_cols * panel_w + 1.0, len(leads) * (panel_h + 0.35) + 1.4), squeeze=False,
        sharex=True, sharey=True, layout="constrained",
    )
    meshes = [None] * n_cols
    for r, lead in enumerate(leads):
        i = lead - 1
        fields = [(case.truth[i], cmocean.cm.balance, dict(vmin=-amp, vmax=amp), "")]
        fields += [(case.forecasts[n][i], cmocean.cm.balance, dict(vmin=-amp, vmax=amp), f"RMSE {rmse[n][r]:.2f} K")
                   for n in names]
        fields += [(case.truth_category[i], cat_cmap, dict(norm=cat_norm), "")]
        fields += [(case.categories[n][i], cat_cmap, dict(norm=cat_norm), "") for n in names]
        for c, (values, cmap, kw, note) in enumerate(fields):
            ax = axes[r, c]
            values = np.where(ocean, values, np.nan)
            meshes[c] = ax.pcolormesh(lon, lat, values, cmap=cmap, shading="nearest", **kw)
            ax.pcolormesh(lon, lat, land, cmap=land_cmap, shading="nearest", vmin=0, vmax=1)
            ax.set_aspect(1.0 / cos_lat)
            if note:
                ax.text(0.02, 0.03, note, transform=ax.transAxes, fontsize=7,
                        bbox=dict(facecolor="white", alpha=0.7, lw=0))
            if r == 0:
                ax.set_title(columns[c], fontsize=10)
            if c == 0:
                ax.set_ylabel(f"lead {lead} d\nlatitude (°N)")
            if r == len(leads) - 1:
                ax.set_xlabel("longitude (°E)")
    n_ssta = 1 + len(names)
    bar = fig.colorbar(meshes[0], ax=axes[:, :n_ssta].ravel().tolist(), orientation="horizontal", shrink=0.6, aspect=40)
    bar.set_label("SSTA (K)")
    bar = fig.colorbar(meshes[n_ssta], ax=axes[:, n_ssta:].ravel().tolist(), orientation="horizontal", shrink=0.6,
                       aspect=40)
    bar.set_ticks(range(5))
    bar.set_ticklabels(CATEGORY_LABELS, fontsize=7)
    fig.suptitle(
        f"Strongest test MHW case: forecasts from {case.time0} (largest observed area of category >= Strong "
        f"over the leads): {' vs '.join(names)}",
        fontsize=12,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
