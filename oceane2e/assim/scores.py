"""Scores of the analyses against the truth: ``results/analysis_skill.csv``, a figure, a report section.

Generic over the analysis methods: every ``results/<Method>_analysis.nc`` (``ssta``, and ``u_g``,
``v_g`` when present, (time, lat, lon)) is scored, and so is its background (``ssta_background`` or
zero anomaly; ``u_g_background``/``v_g_background`` (lat, lon) when present) under the method name
``Background`` (``Background(<Method>)`` when several files carry one).

Metrics (cos-latitude weighted, ocean cells, every analysed day pooled), in K or m s-1:
``rmse``/``bias`` of the SSTA (all ocean cells; the names ``skill.csv`` gives the SSTA scores),
``..._unobserved`` (cells with no SSTA record that day), ``..._mhw`` (cells where the true SSTA
exceeds thresh - seas of ``clim.nc``: MHW conditions),
``u_g_rmse``, ``v_g_rmse`` and ``current_rmse`` (vector: sqrt(mean(Δu² + Δv²))); bias = analysis -
truth. Also ``unobserved_fraction`` and ``mhw_fraction`` of the scored cells.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from oceane2e.data.observations import find_obs_years, read_obs_year

SKILL_FILE = "analysis_skill.csv"
_CHUNK = 32


def _read_analysis(path: Path) -> dict:
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        days = np.datetime64("1970-01-01", "D") + np.round(ds["time"][:]).astype(np.int64)
        out = {"dates": days, "attrs": {k: ds.getncattr(k) for k in ds.ncattrs()},
               "lat": np.asarray(ds["lat"][:]), "lon": np.asarray(ds["lon"][:])}
        for name in ("ssta", "u_g", "v_g", "ssta_background", "u_g_background", "v_g_background"):
            if name in ds.variables:
                out[name] = np.asarray(ds[name][:], dtype=np.float32)
    return out


def _observed_cells(obs_root: Path, dates: np.ndarray, coords, shape) -> np.ndarray:
    """(T, H, W) bool: cells holding at least one SSTA record on each day (nearest cell)."""
    from .grid import inside_grid, nearest_cell

    seen = np.zeros((dates.size, *shape), bool)
    have = set(find_obs_years(obs_root)) if obs_root.is_dir() else set()
    for year in sorted({int(str(d)[:4]) for d in dates} & have):
        rec = read_obs_year(obs_root, year).of(variable="ssta")
        rec = rec.select(inside_grid(coords, rec.lat, rec.lon))
        k = (rec.day - dates[0]).astype(np.int64)
        ok = (k >= 0) & (k < dates.size)
        i, j = nearest_cell(coords, rec.lat[ok], rec.lon[ok])
        seen[k[ok], i, j] = True
    return seen


class _Acc:
    """Weighted sums of errors per (method, metric group)."""

    def __init__(self) -> None:
        self.s: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(3))  # Σw, Σw e, Σw e²

    def add(self, method: str, group: str, err: np.ndarray, w: np.ndarray) -> None:
        acc = self.s[(method, group)]
        acc += (w.sum(), (w * err).sum(), (w * err * err).sum())

    def rows(self) -> list[tuple[str, str, float]]:
        rows = []
        for (method, group), (sw, se, se2) in self.s.items():
            if sw <= 0:
                continue
            if group.startswith("ssta"):
                rows.append((method, group.replace("ssta", "rmse"), float(np.sqrt(se2 / sw))))
                rows.append((method, group.replace("ssta", "bias"), float(se / sw)))
            else:
                rows.append((method, f"{group}_rmse", float(np.sqrt(se2 / sw))))
        return rows


def score_file(path: Path, data_root: Path, obs_root: Path, *, background_name: str = "Background",
               lat_bounds=None, lon_bounds=None) -> tuple[list[tuple[str, str, float]], dict]:
    """Rows (method, metric, value) of one analysis file and of its background; also what the
    figure needs (the day with the most MHW cells and its fields)."""
    from oceane2e.data.contract import CLIM_FILE, read_clim
    from oceane2e.data.datasets import DataFolder

    a = _read_analysis(path)
    method = str(a["attrs"].get("method", path.name.removesuffix("_analysis.nc")))
    dates = a["dates"]
    years = sorted({int(str(d)[:4]) for d in dates})
    folder = DataFolder(data_root, years, lat_bounds=lat_bounds, lon_bounds=lon_bounds)
    coords, mask = folder.coords, folder.mask
    if a["ssta"].shape[1:] != coords.shape or not np.allclose(a["lat"], coords.lat):
        raise ValueError(f"{path}: grid {a['ssta'].shape[1:]} differs from the data grid {coords.shape}")
    clim = read_clim(Path(data_root) / CLIM_FILE)
    seen = _observed_cells(Path(obs_root), dates, coords, coords.shape)
    w2 = np.broadcast_to(np.cos(np.deg2rad(coords.lat))[:, None], coords.shape)
    acc = _Acc()
    counts = np.zeros(3)  # scored, unobserved, mhw
    best = (-1, 0)
    has_currents = "u_g" in a and "v_g" in a
    for c0 in range(0, dates.size, _CHUNK):
        d = dates[c0 : c0 + _CHUNK]
        truth = folder.read("mhw", d[0], d.size, ["ssta"], fill_land=True)[:, 0]
        seas, thresh = clim.for_dates(d)
        mhw = (truth > (thresh - seas)) & mask
        unobs = ~seen[c0 : c0 + d.size] & mask
        ocean = np.broadcast_to(mask, truth.shape)
        w = np.broadcast_to(w2, truth.shape)
        an = a["ssta"][c0 : c0 + d.size]
        bg = a["ssta_background"][c0 : c0 + d.size] if "ssta_background" in a else np.zeros_like(an)
        for name, field in ((method, an), (background_name, bg)):
            err = field - truth
            for group, sel in (("ssta", ocean), ("ssta_unobserved", unobs), ("ssta_mhw", mhw)):
                acc.add(name, group, err[sel], w[sel])
        counts += (ocean.sum(), unobs.sum(), mhw.sum())
        n_mhw = mhw.sum(axis=(1, 2))
        if n_mhw.max() > best[0]:
            best = (int(n_mhw.max()), c0 + int(n_mhw.argmax()))
        if has_currents:
            vel = folder.read("geo", d[0], d.size, ["u_g", "v_g"], fill_land=True)
            fields = [(method, a["u_g"][c0 : c0 + d.size], a["v_g"][c0 : c0 + d.size])]
            if "u_g_background" in a:
                fields.append((background_name, np.broadcast_to(a["u_g_background"], vel[:, 0].shape),
                               np.broadcast_to(a["v_g_background"], vel[:, 1].shape)))
            for name, u, v in fields:
                du, dv = (u - vel[:, 0])[ocean], (v - vel[:, 1])[ocean]
                acc.add(name, "u_g", du, w[ocean])
                acc.add(name, "v_g", dv, w[ocean])
                acc.add(name, "current", np.sqrt(du * du + dv * dv), w[ocean])
    rows = acc.rows()
    for name in (method, background_name):
        rows += [(name, "unobserved_fraction", float(counts[1] / counts[0])),
                 (name, "mhw_fraction", float(counts[2] / counts[0]))]
    k = best[1]
    day_truth = folder.read("mhw", dates[k], 1, ["ssta"], fill_land=False)[0, 0]
    folder.close()
    case = {"method": method, "day": dates[k], "truth": day_truth, "analysis": a["ssta"][k], "coords": coords,
            "mask": mask}
    return rows, case


def score_analyses(results_dir: str | Path, data_root: str | Path, obs_root: str | Path, *, lat_bounds=None,
                   lon_bounds=None, figure: bool = True):
    """Score every ``<results>/<Method>_analysis.nc``; write ``analysis_skill.csv`` (method, metric,
    value) and, with ``figure``, ``figures/analysis_<Method>.png``. Returns the table (DataFrame)."""
    import pandas as pd

    results_dir = Path(results_dir)
    files = sorted(results_dir.glob("*_analysis.nc"))
    if not files:
        raise FileNotFoundError(f"{results_dir}: no <Method>_analysis.nc to score; run `oceane2e oi` first")
    rows = []
    for path in files:
        name = "Background" if len(files) == 1 else f"Background({path.name.removesuffix('_analysis.nc')})"
        r, case = score_file(path, Path(data_root), Path(obs_root), background_name=name,
                             lat_bounds=lat_bounds, lon_bounds=lon_bounds)
        rows += r
        if figure:
            plot_case(case, Path(obs_root), results_dir / "figures" / f"analysis_{case['method']}.png")
    table = pd.DataFrame(rows, columns=["method", "metric", "value"]).drop_duplicates(["method", "metric"])
    out = results_dir / SKILL_FILE
    from oceane2e.outputs import written

    with written(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return table


def plot_case(case: dict, obs_root: Path, path: Path) -> Path:
    """Truth, observations, analysis and error of one day (four maps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coords, mask, day = case["coords"], case["mask"], case["day"]
    truth = np.where(mask, case["truth"], np.nan)
    analysis = np.where(mask, case["analysis"], np.nan)
    rec = read_obs_year(obs_root, int(str(day)[:4])).of(variable="ssta") if obs_root.is_dir() else None
    if rec is not None:
        rec = rec.select(rec.day == np.datetime64(day, "D"))
    vmax = float(np.nanpercentile(np.abs(truth), 99)) or 1.0
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=(12, 7), constrained_layout=True, sharex=True, sharey=True)
    panels = [(axes[0, 0], truth, "truth SSTA"), (axes[0, 1], None, "observations (SSTA records of the day)"),
              (axes[1, 0], analysis, f"{case['method']} analysis"),
              (axes[1, 1], analysis - truth, f"error ({case['method']} - truth)")]
    for ax, field, title in panels:
        ax.set_facecolor("0.8")
        ax.set_title(f"{title}, {day}")
        if field is not None:
            im = ax.pcolormesh(coords.lon, coords.lat, field, cmap="RdBu_r", vmin=-vmax, vmax=vmax, shading="nearest")
        else:
            ax.pcolormesh(coords.lon, coords.lat, np.where(mask, 0.0, np.nan), cmap="Greys", vmin=-1, vmax=1,
                          shading="nearest")
            if rec is not None and len(rec):
                im = ax.scatter(rec.lon, rec.lat, c=rec.value, cmap="RdBu_r", vmin=-vmax, vmax=vmax, s=8, marker="s")
        fig.colorbar(im, ax=ax, label="K")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


METRIC_ORDER = ("rmse", "bias", "rmse_unobserved", "bias_unobserved", "rmse_mhw", "bias_mhw", "u_g_rmse", "v_g_rmse",
                "current_rmse")


def skill_table(table) -> str:
    """The scores as a fixed-width text table (methods as rows)."""
    wide = table.pivot(index="method", columns="metric", values="value")
    cols = [c for c in METRIC_ORDER if c in wide.columns]
    return wide[cols].to_string(float_format=lambda x: f"{x:.4f}")


def print_scores(table) -> None:
    """Print the analysis scores (K for SSTA, m s-1 for currents)."""
    print("\nAnalysis scores (K, m s-1), ocean cells, cos-latitude weighted:\n")
    print(skill_table(table))


LEGACY_METRICS = {"ssta_rmse": "rmse", "ssta_bias": "bias", "ssta_rmse_unobserved": "rmse_unobserved",
                  "ssta_bias_unobserved": "bias_unobserved", "ssta_rmse_mhw": "rmse_mhw", "ssta_bias_mhw": "bias_mhw"}


def read_skill(csv_path: str | Path):
    """``analysis_skill.csv`` as a DataFrame (method, metric, value); the SSTA metrics of files written before
    2026-12-01 (``ssta_rmse`` ...) get today's names."""
    import pandas as pd

    table = pd.read_csv(csv_path)
    table["metric"] = table["metric"].replace(LEGACY_METRICS)
    return table


def analysis_markdown(csv_path: str | Path) -> str:
    """Markdown section of the analysis scores in ``csv_path`` (``results/analysis_skill.csv``)."""
    table = read_skill(csv_path)
    wide = table.pivot(index="method", columns="metric", values="value")
    cols = [c for c in METRIC_ORDER if c in wide.columns]
    lines = ["## Analyses: from observations to the initial state", "",
             "SSTA (K) and current (m s⁻¹) errors of each analysis against the truth, every analysed day, "
             "ocean cells weighted by cos(latitude); *unobserved*: cells with no SSTA record that day; "
             "*mhw*: cells above the MHW threshold (thresh − seas of `clim.nc`). `Background`: the analysis' "
             "background alone (zero anomaly; currents of the mean dynamic topography).", "",
             "| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for method, row in wide[cols].iterrows():
        lines.append(f"| {method} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    if "unobserved_fraction" in wide.columns:
        frac = float(wide["unobserved_fraction"].iloc[0])
        lines += ["", f"Unobserved cells: {frac:.0%} of the scored cell-days. All values in `{Path(csv_path).name}`."]
    windows = _windows_of(Path(csv_path).parent, [str(m) for m in wide.index])
    if windows:
        lines += ["", "Records each analysis used (a *centred* analysis is a smoother: it saw the days after its day, "
                  "so it is a reference for analyses and never a forecast's start):", ""]
        lines += [f"- {method}: {text}" for method, text in windows.items()]
    return "\n".join(lines) + "\n"


def _windows_of(results_dir: Path, methods: list[str]) -> dict[str, str]:
    """method -> the ``windows`` attribute of ``<results_dir>/<method>_analysis.nc`` (those that have one)."""
    import netCDF4

    out = {}
    for method in methods:
        path = results_dir / f"{method}_analysis.nc"
        if path.exists():
            with netCDF4.Dataset(path) as ds:
                if "windows" in ds.ncattrs():
                    out[method] = str(ds.getncattr("windows"))
    return out
