"""Cost of the local OI (``oceane2e.assim.oi``) at the demo grid and at the paper's 480×600.

A synthetic stand-in grid (1/12° over 20–60N 80–30W for 480×600, with a western coast), L3-like
SSTA records at a fraction ``--clear`` of the ocean cells on each day of the window (cell centres,
noise 0.3 K) plus 100 in-situ records a day, and along-track-like SLA records (3 satellites'
worth: ~300 a day at the demo grid's box, scaled with the box area). One analysis day = SSTA OI
+ SLA OI + geostrophic currents, parameters of ``configs/oi.yaml``. Reports the median wall time
per analysis day over ``--days`` days (after one warm-up day), the records in the window and the
number of blocks. Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_oi.py --grid paper``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oceane2e.assim.grid import geostrophic_currents  # noqa: E402
from oceane2e.assim.oi import GridOI, load_oi_config, window  # noqa: E402
from oceane2e.data.contract import GridCoords  # noqa: E402
from oceane2e.data.observations import ObsRecords  # noqa: E402

GRIDS = {"demo": ((32.0, 44.0), (-76.0, -52.0), 0.25), "paper": ((20.0, 60.0), (-80.0, -30.0), 1.0 / 12.0)}


def stand_in(grid: str) -> tuple[GridCoords, np.ndarray]:
    (s, n), (w, e), res = GRIDS[grid]
    shape = (int(round((n - s) / res)), int(round((e - w) / res)))
    coords = GridCoords.from_bounds((s, n), (w, e), shape)
    lat2, lon2 = np.meshgrid(coords.lat, coords.lon, indexing="ij")
    mask = lon2 > w + 0.15 * (e - w) * (lat2 - s) / (n - s) * 2  # land west of a slanted coast
    return coords, mask


def records(coords: GridCoords, mask: np.ndarray, first: np.datetime64, n_days: int, clear: float,
            rng: np.random.Generator) -> ObsRecords:
    parts = []
    area = mask.sum() * np.mean(np.diff(coords.lat)) * np.mean(np.diff(coords.lon)) / (12 * 24 * 0.8)
    for d in range(n_days):
        t0 = np.datetime64(first + d, "s")
        i, j = np.nonzero(mask & (rng.random(mask.shape) < clear))
        n_sla = int(300 * area)
        k = rng.integers(0, mask.sum(), 100 + n_sla)
        ii, jj = np.nonzero(mask)
        lat = np.concatenate([coords.lat[i], coords.lat[ii[k]]])
        lon = np.concatenate([coords.lon[j], coords.lon[jj[k]]])
        n = lat.size
        var = np.array(["ssta"] * (i.size + 100) + ["sla"] * n_sla)
        parts.append(ObsRecords(time=t0 + rng.integers(0, 86400, n).astype("timedelta64[s]"), lat=lat, lon=lon,
                                value=rng.normal(0, 1, n), error_std=np.where(var == "sla", 0.025, 0.3),
                                platform=np.where(var == "sla", "altimetry", "sst_l3"), variable=var))
    return ObsRecords.concat(parts).sorted_by_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=list(GRIDS), default="paper")
    parser.add_argument("--days", type=int, default=3, help="timed analysis days (after one warm-up)")
    parser.add_argument("--clear", type=float, default=0.3)
    parser.add_argument("--config", type=Path, default=Path("configs/oi.yaml"))
    args = parser.parse_args()
    cfg = load_oi_config(args.config)
    coords, mask = stand_in(args.grid)
    rng = np.random.default_rng(0)
    pad = max(cfg.ssta.window_days, cfg.sla.window_days)
    first = np.datetime64("2009-06-01", "D")
    t = time.perf_counter()
    obs = records(coords, mask, first - pad, args.days + 1 + 2 * pad, args.clear, rng)
    t_records = time.perf_counter() - t
    sst, sla = obs.of(variable="ssta"), obs.of(variable="sla")
    t = time.perf_counter()
    oi_t, oi_h = GridOI(coords, mask, cfg.ssta), GridOI(coords, mask, cfg.sla)
    t_setup = time.perf_counter() - t
    times, n_window = [], 0
    for d in range(args.days + 1):
        day = first + d
        t = time.perf_counter()
        win_t = window(sst, day, cfg.ssta.window_days)
        oi_t.analyse(day, win_t)
        h, _ = oi_h.analyse(day, window(sla, day, cfg.sla.window_days))
        geostrophic_currents(np.nan_to_num(h), coords, mask)
        if d:
            times.append(time.perf_counter() - t)
            n_window = len(win_t)
    print(json.dumps({
        "grid": args.grid, "shape": list(mask.shape), "ocean_cells": int(mask.sum()),
        "ssta_records_in_window": n_window, "ssta_blocks": int(oi_t.blocks.index.shape[0]),
        "max_obs": cfg.ssta.max_obs, "block_cells": cfg.ssta.block_cells,
        "seconds_per_day_median": float(np.median(times)), "seconds_per_day_all": [round(x, 2) for x in times],
        "setup_s": round(t_setup, 2), "records_s": round(t_records, 2),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
    }, indent=1))


if __name__ == "__main__":
    main()
