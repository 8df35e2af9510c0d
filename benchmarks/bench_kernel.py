"""Benchmark of the dynamic kernel: ours (MUSCL + SSP-RK, CFL sub-steps) vs the reference scheme.

For each grid (the demo grid, 48×96 cells at 1/4° over 32–44N 76–52W, and the paper's 480×600 at
1/12° over 20–60N 80–30W) and each scheme it measures, for one simulated day:

* wall time (median of ``--repeats`` rounds after one warm-up round; in each round every scheme
  runs once, so changes of load on a shared machine hit all schemes alike) of the forward pass
  without autograd, and of forward + backward (training);
* peak resident memory above the pre-run level (VmHWM after resetting it), one fresh subprocess per
  case;
* throughput as cell-days per second (cells advanced one simulated day per second) and as
  cell-updates per second (cells × sub-steps per second);
* accuracy: the area-weighted relative L2 error against the exact solution of solid-body rotation
  (a tapered rotation so speeds stay realistic, ≤ 1.25 m s⁻¹; a Gaussian blob of 6 cells' radius,
  a quarter revolution = 14.5 days in daily calls) and the fraction of the blob's peak kept.

The timing velocity is a meandering jet (1.5 m s⁻¹ peak speed) with four rings, non-divergent,
the same field for every scheme. Schemes marked "compiled" use ``KernelOptions(compile=True)``
(TorchInductor-fused sub-steps, forward only); their first call (compilation) is timed and
reported separately, not in the medians. Run: ``python benchmarks/bench_kernel.py`` (prints a markdown
table; ``--grids demo`` for a quick run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oceane2e.dates import SECONDS_PER_DAY  # noqa: E402
from oceane2e.physics import KernelOptions, SphericalGrid, advect, courant_number, reference_advect  # noqa: E402
from oceane2e.physics.analytic import gaussian_blob, rotated_blob_centre, solid_body_velocity  # noqa: E402
from oceane2e.physics.grid import EARTH_RADIUS_M  # noqa: E402

DAY = SECONDS_PER_DAY
DEG = math.pi / 180.0

GRIDS: dict[str, dict[str, float]] = {
    # name: south, north, west, east (degrees), resolution (degrees)
    "demo": {"south": 32.0, "north": 44.0, "west": -76.0, "east": -52.0, "res": 0.25},
    "480x600": {"south": 20.0, "north": 60.0, "west": -80.0, "east": -30.0, "res": 1.0 / 12.0},
}

RELEASED = "released"  # the reference scheme with the release's conv2d filter (timing only)
REF = "reference (Euler + centred + 1-2-1, 48×1800 s)"
SCHEMES: dict[str, KernelOptions | str] = {
    REF: KernelOptions(scheme="reference"),
    "reference, filter by conv2d as released": RELEASED,
    "ours: MUSCL van Leer, SSP-RK3, Courant 0.5 (default)": KernelOptions(),
    "ours: MUSCL van Leer, SSP-RK2, Courant 0.5": KernelOptions(time_stepper="ssp_rk2"),
    "ours: MUSCL van Leer, SSP-RK2, Courant 1.0": KernelOptions(time_stepper="ssp_rk2", max_courant=1.0),
    "ours: first-order upwind, forward Euler, Courant 1.0": KernelOptions(
        limiter="none", time_stepper="ssp_rk1", max_courant=1.0
    ),
    "ours: MUSCL van Leer, SSP-RK3, Courant 0.5, compiled": KernelOptions(compile=True),
    "ours: MUSCL van Leer, SSP-RK2, Courant 1.0, compiled": KernelOptions(
        time_stepper="ssp_rk2", max_courant=1.0, compile=True
    ),
}
TRAIN_SCHEMES: dict[str, KernelOptions | str] = {
    REF: KernelOptions(scheme="reference"),
    "ours: MUSCL van Leer, SSP-RK3, Courant 0.5, checkpoint=False": KernelOptions(checkpoint=False),
    "ours: same, checkpoint=True": KernelOptions(checkpoint=True),
    "ours: MUSCL van Leer, SSP-RK2, Courant 1.0, checkpoint=False": KernelOptions(
        time_stepper="ssp_rk2", max_courant=1.0, checkpoint=False
    ),
}


def grid_coords(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes and longitudes (degrees) of a benchmark grid."""
    g = GRIDS[name]
    n_lat = round((g["north"] - g["south"]) / g["res"])
    n_lon = round((g["east"] - g["west"]) / g["res"])
    lat = g["south"] + g["res"] * (np.arange(n_lat) + 0.5)
    lon = g["west"] + g["res"] * (np.arange(n_lon) + 0.5)
    return lat, lon


def jet_velocity(lat: np.ndarray, lon: np.ndarray, peak_speed: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """A meandering zonal jet along 38N with four rings, from a streamfunction; (H, W) m/s each."""
    phi, lam = lat[:, None] * DEG, lon[None, :] * DEG
    y = EARTH_RADIUS_M * (phi - 38.0 * DEG)
    x = EARTH_RADIUS_M * math.cos(38.0 * DEG) * (lam + 64.0 * DEG)
    width, amp, wavelength = 40e3, 100e3, 900e3
    psi = -width * np.tanh((y - amp * np.sin(2 * np.pi * x / wavelength)) / width)
    for k, (rx, ry, sign) in enumerate([(-600e3, 250e3, 1), (-200e3, -250e3, -1), (300e3, 220e3, 1), (700e3, -230e3, -1)]):
        r2 = (x - rx) ** 2 + (y - ry) ** 2
        psi = psi + sign * (0.35 + 0.05 * k) * 60e3 * np.exp(-r2 / (2 * 60e3**2))
    # u = −∂ψ/∂y, v = ∂ψ/∂x with local metric distances
    dy = EARTH_RADIUS_M * np.gradient(phi[:, 0])[:, None]
    dx = EARTH_RADIUS_M * np.cos(phi) * np.gradient(lam[0, :])[None, :]
    u = -np.gradient(psi, axis=0) / dy
    v = np.gradient(psi, axis=1) / dx
    scale = peak_speed / np.sqrt(u**2 + v**2).max()
    return u * scale, v * scale


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ≥ 4.0: ``5`` into ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident memory since the last reset (VmHWM), else since the process started."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build_inputs(grid_name: str, dtype: torch.dtype) -> tuple[SphericalGrid, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The grid (all ocean), the jet velocity (1, H, W) m/s and a smooth anomaly (1, H, W) K."""
    lat, lon = grid_coords(grid_name)
    grid = SphericalGrid.from_coords(lat, lon, np.ones((lat.size, lon.size)), dtype=dtype)
    u_np, v_np = jet_velocity(lat, lon)
    u = torch.as_tensor(u_np, dtype=dtype)[None]
    v = torch.as_tensor(v_np, dtype=dtype)[None]
    c = torch.as_tensor(gaussian_blob(lat[:, None], lon[None, :], 38.0, -64.0, 300e3), dtype=dtype)[None]
    return grid, u, v, c


def one_day(inputs: tuple, options: KernelOptions | str, train: bool) -> float:
    """Seconds for one simulated day (forward, or forward + backward when ``train``)."""
    grid, u, v, c = inputs
    if options == RELEASED:
        def fn(c: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return reference_advect(c, u, v, grid, DAY, use_conv2d=True)
    else:
        def fn(c: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return advect(c, u, v, grid, DAY, options)
    if train:
        cc, uu, vv = (t.clone().requires_grad_(True) for t in (c, u, v))
        t0 = time.perf_counter()
        fn(cc, uu, vv).square().sum().backward()
        return time.perf_counter() - t0
    with torch.no_grad():
        t0 = time.perf_counter()
        fn(c, u, v)
        return time.perf_counter() - t0


def is_compiled(options: KernelOptions | str) -> bool:
    return isinstance(options, KernelOptions) and options.compile


def first_call_seconds(grid_name: str, schemes: dict, dtype: torch.dtype) -> dict[str, float]:
    """Seconds of the first forward day of each compiled scheme (torch.compile + one day), before any timing."""
    inputs = build_inputs(grid_name, dtype)
    return {name: one_day(inputs, opts, False) for name, opts in schemes.items() if is_compiled(opts)}


def interleaved_timings(grid_name: str, schemes: dict, train: bool, repeats: int, dtype: torch.dtype) -> dict:
    """Median seconds per scheme; the schemes take turns in every round so load changes hit all alike.

    Compiled schemes must have been compiled before (:func:`first_call_seconds`); round 0 warms up.
    """
    inputs = build_inputs(grid_name, dtype)
    times: dict[str, list[float]] = {name: [] for name in schemes}
    for rnd in tqdm(range(repeats + 1), desc=f"{grid_name} {'fwd+bwd' if train else 'forward'}", unit="round"):
        for name, opts in schemes.items():
            elapsed = one_day(inputs, opts, train)
            if rnd > 0:  # round 0 warms up
                times[name].append(elapsed)
    return {name: statistics.median(t) for name, t in times.items()}


def worker(spec: str) -> None:
    """Subprocess entry: peak resident memory above the start of one simulated day, printed as JSON."""
    args = json.loads(spec)
    torch.set_num_threads(args["threads"])
    options = RELEASED if args["options"] == RELEASED else KernelOptions(**args["options"])
    inputs = build_inputs(args["grid"], getattr(torch, args["dtype"]))
    if is_compiled(options):  # compile first: the compiler's own memory is not the kernel's
        one_day(inputs, options, args["train"])
    rss0 = current_rss_bytes()
    reset_peak_rss()
    one_day(inputs, options, args["train"])
    peak = peak_rss_bytes()
    print(json.dumps({"peak_extra_bytes": max(0, peak - rss0)}))


def peak_memory_in_subprocess(grid: str, options: KernelOptions | str, train: bool, threads: int, dtype: str) -> int:
    opts = options if options == RELEASED else asdict(options)
    spec = json.dumps({"grid": grid, "options": opts, "train": train, "threads": threads, "dtype": dtype})
    proc = subprocess.run([sys.executable, __file__, "--worker", spec], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed for {grid} {options}:\n{proc.stderr}")
    return int(json.loads(proc.stdout.strip().splitlines()[-1])["peak_extra_bytes"])


def substeps_per_day(grid_name: str, options: KernelOptions) -> int:
    lat, lon = grid_coords(grid_name)
    grid = SphericalGrid.from_coords(lat, lon, np.ones((lat.size, lon.size)))
    u, v = (torch.as_tensor(a)[None] for a in jet_velocity(lat, lon))
    if options.scheme == "reference":
        return math.ceil(DAY / options.reference_substep_s)
    return max(1, math.ceil(courant_number(u, v, grid, DAY).item() / options.max_courant - 1e-9))


def rotation_error(grid_name: str, options: KernelOptions, dtype: torch.dtype) -> tuple[float, float]:
    """Relative L2 error and kept peak fraction after a quarter revolution of a tapered rotation."""
    lat, lon = grid_coords(grid_name)
    grid = SphericalGrid.from_coords(lat, lon, np.ones((lat.size, lon.size)), dtype=dtype)
    pole_lat, pole_lon = float(lat.mean()), float(lon.mean())
    omega = 1.25e-6  # rad/s: 1.25 m/s at 1000 km; rigid inside 1000 km, tapered outside
    u, v = solid_body_velocity(lat[:, None], lon[None, :], pole_lat, pole_lon, omega, taper_start_m=1000e3)
    sigma = 6 * EARTH_RADIUS_M * (lat[1] - lat[0]) * DEG
    blob_lon = pole_lon + 350e3 / (EARTH_RADIUS_M * math.cos(pole_lat * DEG)) / DEG
    c0 = gaussian_blob(lat[:, None], lon[None, :], pole_lat, blob_lon, sigma)
    quarter = 0.5 * math.pi / omega
    days = round(quarter / DAY)
    c = torch.as_tensor(c0, dtype=dtype)[None]
    ut, vt = (torch.as_tensor(a, dtype=dtype)[None] for a in (u, v))
    with torch.no_grad():
        for _ in range(days):
            c = advect(c, ut, vt, grid, quarter / days, options)
    clat, clon = rotated_blob_centre(pole_lat, blob_lon, pole_lat, pole_lon, 0.5 * math.pi)
    exact = gaussian_blob(lat[:, None], lon[None, :], clat, clon, sigma)
    area = grid.area.double().numpy()
    out = c[0].double().numpy()
    err = float(np.sqrt(((out - exact) ** 2 * area).sum() / (exact**2 * area).sum()))
    return err, float(out.max() / exact.max())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grids", default="demo,480x600", help="comma-separated subset of: " + ", ".join(GRIDS))
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds of forward runs (median reported)")
    parser.add_argument("--train-repeats", type=int, default=3, help="timed rounds of forward+backward runs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: stable on a shared machine)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--no-train", action="store_true", help="skip the forward+backward timings")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the rotation accuracy runs")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return
    grids = [g.strip() for g in args.grids.split(",") if g.strip()]
    for g in grids:
        if g not in GRIDS:
            parser.error(f"unknown grid {g!r}; choose from {', '.join(GRIDS)}")
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)

    compile_s = {g: first_call_seconds(g, SCHEMES, dtype) for g in grids}
    fwd = {g: interleaved_timings(g, SCHEMES, False, args.repeats, dtype) for g in grids}
    bwd = {} if args.no_train else {g: interleaved_timings(g, TRAIN_SCHEMES, True, args.train_repeats, dtype) for g in grids}
    memory: dict[tuple[str, str, bool], int] = {}
    if not args.no_memory:
        cases = [(g, n, o, False) for g in grids for n, o in SCHEMES.items()]
        if not args.no_train:
            cases += [(g, n, o, True) for g in grids for n, o in TRAIN_SCHEMES.items()]
        for g, name, opts, train in tqdm(cases, desc="peak memory", unit="case"):
            memory[(g, name, train)] = peak_memory_in_subprocess(g, opts, train, args.threads, args.dtype)
    accuracy: dict[tuple[str, str], tuple[float, float]] = {}
    if not args.no_accuracy:
        acc_cases = [(g, n) for g in grids for n, o in SCHEMES.items() if o != RELEASED]
        for g, name in tqdm(acc_cases, desc="rotation accuracy", unit="case"):
            accuracy[(g, name)] = rotation_error(g, SCHEMES[name], dtype)

    def mib(key: tuple[str, str, bool]) -> str:
        return f"{memory[key] / 2**20:.0f}" if key in memory else "–"

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} thread(s), {args.dtype}, batch 1; median of {args.repeats} interleaved rounds\n")
    print("| grid | scheme | sub-steps/day | forward s/day | time vs reference | cell-days/s | cell-updates/s | "
          "peak extra MiB | rotation rel. L2 error | peak kept |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for g in grids:
        lat, lon = grid_coords(g)
        cells = lat.size * lon.size
        for name, opts in SCHEMES.items():
            seconds = fwd[g][name]
            if opts == RELEASED:
                n_sub, stages = 48, 48
            else:
                n_sub = substeps_per_day(g, opts)
                per_step = {"ssp_rk1": 1, "ssp_rk2": 2, "ssp_rk3": 3}[opts.time_stepper]
                stages = n_sub * (1 if opts.scheme == "reference" else per_step)
            err, kept = accuracy.get((g, name), (float("nan"), float("nan")))
            acc = "= reference | = reference" if opts == RELEASED else f"{err:.3f} | {kept:.2f}"
            print(f"| {lat.size}×{lon.size} | {name} | {n_sub} ({stages} stages) | {seconds:.4f} | "
                  f"{seconds / fwd[g][REF]:.2f} | {cells / seconds:.3g} | {cells * n_sub / seconds:.3g} | "
                  f"{mib((g, name, False))} | {acc} |")
    print("\nFirst call of the compiled schemes (torch.compile + one simulated day; once per process and "
          "configuration; TorchInductor's disk cache, if warm, shortens it):\n")
    print("| grid | scheme | first call s | of which compile s (≈ first − median) |")
    print("|---|---|---:|---:|")
    for g in grids:
        lat, lon = grid_coords(g)
        for name, first in compile_s[g].items():
            print(f"| {lat.size}×{lon.size} | {name} | {first:.1f} | {first - fwd[g][name]:.1f} |")
    if bwd:
        print("\nForward + backward (training) of one simulated day, batch 1:\n")
        print("| grid | scheme | fwd+bwd s/day | time vs reference | peak extra MiB |")
        print("|---|---|---:|---:|---:|")
        for g in grids:
            lat, lon = grid_coords(g)
            for name in TRAIN_SCHEMES:
                seconds = bwd[g][name]
                print(f"| {lat.size}×{lon.size} | {name} | {seconds:.4f} | {seconds / bwd[g][REF]:.2f} | "
                      f"{mib((g, name, True))} |")


if __name__ == "__main__":
    main()
