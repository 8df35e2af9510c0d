"""The learned-assimilation targets of issue 13 from a results folder (docs/benchmarks.md "Learned assimilation").

    python benchmarks/da_targets.py --results results --data data/GS [--method NeuralDA] [--forecaster Oceane2e]

Reads ``analysis_skill.csv`` (analysis RMSE over ocean and unobserved cells), ``skill.csv`` (forecast RMSE
per lead of ``<forecaster>``, ``<forecaster>+OI``, ``<forecaster>+<method>``) and the analysis files
(cycling stability: RMSE over the first and the last quarter of the analysed days, and for information per
half-year of each year and over the first ten days, which tell the season and a slow spin-up from drift; MHW CSI of the
analyses: daily MHW-condition flags, SSTA > thresh − seas of clim.nc, against the truth's, pooled over
ocean cells and days, cos-latitude weighted) and prints every target, met or missed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

REALTIME = "OI-realtime"  # configs/oi_realtime.yaml


def _analysis_stats(path: Path, root: Path) -> dict[str, float]:
    import netCDF4

    from oceane2e.data.contract import CLIM_FILE, read_clim
    from oceane2e.data.datasets import DataFolder

    with netCDF4.Dataset(path) as ds:
        ssta = np.asarray(ds["ssta"][:].filled(np.nan), np.float32)
        days = np.datetime64("1970-01-01", "D") + np.round(np.asarray(ds["time"][:])).astype(np.int64)
    years = sorted({int(str(d)[:4]) for d in days})
    folder = DataFolder(root, years, kinds=("mhw",), channels={"mhw": ["ssta"]})
    truth = folder.read("mhw", days[0], days.size, ["ssta"], fill_land=False)[:, 0]
    mask = folder.mask
    seas, thresh = read_clim(root / CLIM_FILE).for_dates(days)
    w = np.broadcast_to(np.cos(np.deg2rad(folder.coords.lat))[:, None], mask.shape)[mask]
    err2 = ((ssta - truth)[:, mask] ** 2 * w).sum(axis=1) / w.sum()
    q = days.size // 4
    obs_flag, true_flag = (ssta > thresh - seas)[:, mask], (truth > thresh - seas)[:, mask]
    hits = float((w * (obs_flag & true_flag)).sum())
    misses = float((w * (~obs_flag & true_flag)).sum())
    false = float((w * (obs_flag & ~true_flag)).sum())
    out = {"rmse_first_quarter": float(np.sqrt(err2[:q].mean())), "rmse_last_quarter": float(np.sqrt(err2[-q:].mean())),
           "rmse_first_10_days": float(np.sqrt(err2[:10].mean())), "csi": hits / max(hits + misses + false, 1e-12)}
    # the quarters of a two-year cycle are different seasons: the same half-year of each year tells drift from season
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    for y in np.unique(year):
        for half, sel in (("Jan-Jun", month < 6), ("Jul-Dec", month >= 6)):
            k = (year == y) & sel
            if k.any():
                out[f"rmse {half} {y}"] = float(np.sqrt(err2[k].mean()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--data", type=Path, default=Path("data/GS"))
    parser.add_argument("--method", default="NeuralDA")
    parser.add_argument("--forecaster", default="Oceane2e")
    parser.add_argument("--smoother", default="NeuralDA-smoother",
                        help="the learned smoother (configs/config_da_smoother.yaml), compared with the OI smoother "
                        "like for like when its analysis is in --results")
    args = parser.parse_args(argv)
    m, f = args.method, args.forecaster
    from oceane2e.assim.scores import read_skill

    a = read_skill(args.results / "analysis_skill.csv").pivot(index="method", columns="metric", values="value")
    rows = []

    def row(name: str, value: float, target: str, met: bool) -> None:
        rows.append((name, value, target, "met" if met else "MISSED"))

    for metric, bound in (("rmse", 0.75), ("rmse_unobserved", 0.8)):
        ratio = a.loc[m, metric] / a.loc["OI", metric]
        row(f"{metric}: {m} {a.loc[m, metric]:.3f} / OI {a.loc['OI', metric]:.3f}", ratio, f"<= {bound}", ratio <= bound)
    if REALTIME in a.index:  # the OI a forecast could start from (past records only): beside the target, not it
        for metric in ("rmse", "rmse_unobserved"):
            print(f"{metric}: {m} {a.loc[m, metric]:.3f} / {REALTIME} {a.loc[REALTIME, metric]:.3f} = "
                  f"{a.loc[m, metric] / a.loc[REALTIME, metric]:.3f} (for information; the targets use OI)")
    if args.smoother in a.index:  # like for like: both smoothers (d-3 .. d+3); the targets' learned analysis is m
        for metric in ("rmse", "rmse_unobserved"):
            print(f"{metric}: {args.smoother} {a.loc[args.smoother, metric]:.3f} / OI {a.loc['OI', metric]:.3f} = "
                  f"{a.loc[args.smoother, metric] / a.loc['OI', metric]:.3f} (for information: both smoothers)")
    skill_path = args.results / "skill.csv"
    if skill_path.exists():
        s = pd.read_csv(skill_path)
        r = s[s.metric == "rmse"].pivot(index="model", columns="lead", values="value")
        learned, oi, truth = f"{f}+{m}", f"{f}+OI", f
        if {learned, oi, truth} <= set(r.index):
            ratio = (r.loc[learned, 1:10] / r.loc[oi, 1:10])
            row(f"forecast RMSE {learned} / {oi}, leads 1-10 (worst lead)", float(ratio.max()), "<= 0.85",
                bool((ratio <= 0.85).all()))
            gap = float(((r.loc[oi, 1:5] - r.loc[learned, 1:5]) / (r.loc[oi, 1:5] - r.loc[truth, 1:5])).mean())
            row(f"gap {oi} -> {truth} closed by {learned}, leads 1-5", gap, ">= 0.5", gap >= 0.5)
            for lead in (1, 5, 10):
                print(f"lead {lead:2d}: RMSE {truth} {r.loc[truth, lead]:.3f}  {oi} {r.loc[oi, lead]:.3f}  "
                      f"{learned} {r.loc[learned, lead]:.3f}")
    names = [k for k in (m, "OI", REALTIME, args.smoother) if (args.results / f"{k}_analysis.nc").exists()]
    stats = {k: _analysis_stats(args.results / f"{k}_analysis.nc", args.data) for k in names}
    q = stats[m]
    drift = q["rmse_last_quarter"] / q["rmse_first_quarter"] - 1
    o = stats["OI"]
    row(f"cycling: RMSE last quarter {q['rmse_last_quarter']:.3f} vs first {q['rmse_first_quarter']:.3f} (OI, not "
        f"cycled: {o['rmse_last_quarter']:.3f} vs {o['rmse_first_quarter']:.3f})", drift, "|change| <= 0.10",
        abs(drift) <= 0.10)
    row(f"MHW CSI of the analyses: {m} {q['csi']:.3f} vs OI {stats['OI']['csi']:.3f}", q["csi"] - stats["OI"]["csi"],
        ">= 0", q["csi"] >= stats["OI"]["csi"])
    for other in (REALTIME, args.smoother):
        if other in stats:
            print(f"MHW CSI of the analyses: {other} {stats[other]['csi']:.3f} (for information)")
    halves = [k for k in q if k.startswith("rmse J")]
    print("analysis RMSE by half-year (same season a year apart: drift; between halves: the season):")
    for k in sorted(halves, key=lambda h: (h[-4:], h)):
        print(f"  {k[5:]}: " + "  ".join(f"{name} {st[k]:.3f}" for name, st in stats.items() if k in st))
    print("analysis RMSE over the first 10 analysed days: "
          + "  ".join(f"{name} {st['rmse_first_10_days']:.3f}" for name, st in stats.items()))
    print()
    for name, value, target, verdict in rows:
        print(f"{verdict:6s}  {name}: {value:.3f} (target {target})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
