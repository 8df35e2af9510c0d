"""How much the last year's level tells about the SSTA a month ahead (docs/real_data.md, "Forecasting about the last
year"): the plain level — the mean SSTA of the N days up to the start date, per cell — as a forecast, against zero
anomaly (the climatology), pooled over the start dates of each range of years. No network is trained.

    python benchmarks/level_forecast.py --data data/oisst --baseline 1983 1999 --ranges 1984-2003 2004-2005 2000-2001

``--baseline``: the anomalies are taken about the Hobday day-of-year climatology of these years
(``oceane2e.mhw.climatology``), a climatology of earlier years as a held-out evaluation has it (default: the folder's own ``clim.nc``). Start dates
every 3rd day with N days before them on file and the longest lead inside the range; RMSE over ocean cells, cos-latitude
weighted. ``--fractions`` also scores a fraction of the level (a forecast that keeps part of it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from oceane2e.data.contract import find_years
from oceane2e.data.datasets import DataFolder
from oceane2e.mhw.climatology import compute_climatology, doy_index


def _anomalies(root: Path, baseline: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The folder's SSTA over ocean (T, N), its days (T,) and the cos-latitude weights (N,) summing to 1; with
    ``baseline`` the SSTA less its Hobday day-of-year climatology of those years (the project's one climatology)."""
    years = find_years(root, "mhw")
    folder = DataFolder(root, years, kinds=("mhw",), channels={"mhw": ["ssta"]})
    first = np.datetime64(f"{years[0]:04d}-01-01", "D")
    n = int((np.datetime64(f"{years[-1] + 1:04d}-01-01", "D") - first).astype(int))
    mask = folder.mask
    x = folder.read("mhw", first, n, ["ssta"])[:, 0][:, mask]
    days = first + np.arange(n)
    if baseline is not None:
        if not years[0] <= baseline[0] <= baseline[1] <= years[-1]:
            raise SystemExit(f"--baseline {baseline[0]} {baseline[1]}: not within the years of {root} "
                             f"({years[0]}-{years[-1]})")
        seas, _ = compute_climatology(x, days, baseline=baseline)
        x = x - seas[doy_index(days)]
    weights = np.cos(np.deg2rad(folder.coords.lat))[:, None].repeat(mask.shape[1], axis=1)[mask]
    return x.astype(np.float64), days, weights / weights.sum()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/oisst"), help="a prepared data folder (mhw_YYYY.nc)")
    ap.add_argument("--baseline", type=int, nargs=2, metavar=("FIRST", "LAST"), default=None)
    ap.add_argument("--ranges", nargs="+", default=["1984-2003", "2004-2005"], help="FIRST-LAST ranges of start years")
    ap.add_argument("--level-days", type=int, default=365)
    ap.add_argument("--leads", type=int, nargs="+", default=[10, 40])
    ap.add_argument("--fractions", type=float, nargs="*", default=[])
    args = ap.parse_args(argv)
    if args.level_days < 1:
        ap.error("--level-days must be >= 1")
    x, days, w = _anomalies(args.data, None if args.baseline is None else tuple(args.baseline))
    cs = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    n_level, longest = args.level_days, max(args.leads)
    year = days.astype("datetime64[Y]").astype(int) + 1970
    about = "clim.nc" if args.baseline is None else f"the climatology of {args.baseline[0]}-{args.baseline[1]}"
    print(f"{args.data}: anomalies about {about}; the level is the mean of the last {n_level} days")
    fractions = [0.0, *args.fractions, 1.0]
    print("years      lead  " + "  ".join(f"{'zero' if f == 0 else ('level' if f == 1 else f'{f:g} level'):>10}" for f in fractions))
    for text in args.ranges:
        a, _, b = text.partition("-")
        lo, hi = int(a), int(b or a)
        starts = np.flatnonzero((year >= lo) & (year <= hi))
        # the whole window inside the range (as the datasets' start dates): no truth from a year outside it
        starts = starts[(starts >= n_level - 1) & (starts + longest <= (starts[-1] if starts.size else 0))][::3]
        if starts.size == 0:
            print(f"{text}: no start date with {n_level} days before and {longest} after on file")
            continue
        level = (cs[starts + 1] - cs[starts + 1 - n_level]) / n_level
        for lead in args.leads:
            truth = x[starts + lead]
            rmse = [np.sqrt(np.mean(((truth - f * level) ** 2) @ w)) for f in fractions]
            print(f"{text:<10} {lead:>4}  " + "  ".join(f"{r:10.3f}" for r in rmse))


if __name__ == "__main__":
    main()
