"""Timing of ``oceane2e detect`` on a synthetic SST grid (docs/benchmarks.md, "MHW detection").

``python benchmarks/bench_mhw.py --size 32 --years 35 --repeats 3`` writes a synthetic grid
(seasonal cycle + AR(1) anomalies with a 20-day memory, 0.5 K standard deviation, a land corner)
to a temporary folder, runs the detect command on it several times and prints the median wall
time of each stage and of the whole command.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_synthetic_grid(path: Path, size: int = 32, years: int = 35, seed: int = 0) -> Path:
    """Synthetic daily SST (°C) on a ``size`` x ``size`` grid from 1982 for ``years`` years -> NetCDF."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    dates = np.arange(np.datetime64("1982-01-01"), np.datetime64(f"{1982 + years}-01-01"))
    t = np.arange(dates.size)
    seas = 18.0 + 3.0 * np.cos(2 * np.pi * (t - 40) / 365.25)
    phi = np.exp(-1.0 / 20.0)
    noise = rng.normal(0.0, 0.5 * np.sqrt(1 - phi**2), (dates.size, size, size)).astype(np.float32)
    anomaly = np.empty_like(noise)
    anomaly[0] = noise[0] / np.sqrt(1 - phi**2)
    for i in range(1, dates.size):
        anomaly[i] = phi * anomaly[i - 1] + noise[i]
    sst = (seas[:, None, None] + anomaly).astype(np.float32)
    sst[:, : size // 8, : size // 5] = np.nan  # land corner
    lat = -40.0 + 0.25 * np.arange(size)
    lon = 110.0 + 0.25 * np.arange(size)
    ds = xr.Dataset(
        {"sst": (("time", "lat", "lon"), sst, {"units": "degC"})},
        coords={"time": dates.astype("datetime64[ns]"), "lat": lat, "lon": lon},
    )
    ds.to_netcdf(path)
    return path


def time_stages(path: Path, baseline: tuple[int, int]) -> dict[str, float]:
    """Seconds of each stage of the detect command on ``path`` (one run)."""
    from oceane2e.mhw import cli
    from oceane2e.mhw.climatology import compute_climatology
    from oceane2e.mhw.detect import detect

    out = path.parent
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    dates, temp, lat, lon, _, _ = cli.read_netcdf_grid(path, "sst")
    t1 = time.perf_counter()
    clim = compute_climatology(temp, dates, baseline=baseline)
    t2 = time.perf_counter()
    result = detect(temp, dates, clim=clim)
    t3 = time.perf_counter()
    cli.write_events_csv(out / "events.csv", cli.events_table(result, lat, lon))
    cli.write_grid_netcdf(out / "mhw.nc", result, lat, lon, {"percentile": 90.0})
    t4 = time.perf_counter()
    times.update(read=t1 - t0, climatology=t2 - t1, detection=t3 - t2, write=t4 - t3, total=t4 - t0)
    times["events"] = float(len(result.events))
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--years", type=int, default=35)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    from oceane2e.mhw.cli import main as detect_main

    with tempfile.TemporaryDirectory() as tmp:
        src = write_synthetic_grid(Path(tmp) / "grid.nc", args.size, args.years)
        baseline = (1983, min(2012, 1982 + args.years - 1))
        cmd = [
            str(src),
            "--baseline",
            *map(str, baseline),
            "-o",
            f"{tmp}/ev.csv",
            "--netcdf",
            f"{tmp}/mhw.nc",
        ]
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            detect_main([*cmd, "--no-progress"])
            runs.append(time.perf_counter() - t0)
        stages = [time_stages(src, baseline) for _ in range(args.repeats)]
    print(f"grid {args.size}x{args.size}, {args.years} years, {int(stages[0]['events'])} events")
    print(
        f"detect command: median {statistics.median(runs):.2f} s over {args.repeats} runs {[round(r, 2) for r in runs]}"
    )
    for key in ("read", "climatology", "detection", "write", "total"):
        print(f"  {key:<12s} {statistics.median(s[key] for s in stages):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
