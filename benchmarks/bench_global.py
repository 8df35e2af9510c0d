"""Cost of the dynamic kernel on the global 0.5° grid (360 × 720, periodic, polar rows capped at 80°).

Measures, for one simulated day of a batch of one: the wall time of the no-grad (inference) path
and of forward + backward (training), with the library's default scheme and with the hybrid
configs' (SSP-RK2, Courant 0.9, advective form); median of ``--repeats`` rounds after a warm-up.
The currents: an eastward circumpolar jet (1 m s⁻¹ at 50°S), a westward equatorial-like flow masked
within ±5° (as the converters leave it), smooth eddies (0.3 m s⁻¹), everything zero over land.
The land: the two rows next to the poles and two meridional continents, one across the seam; the
ocean reaches 89.25°, so the polar cap (80°) matters: a third case runs without it.

    python benchmarks/bench_global.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oceane2e.dates import SECONDS_PER_DAY  # noqa: E402
from oceane2e.physics import KernelOptions, SphericalGrid, advect, courant_number  # noqa: E402


def global_case(res: float = 0.5) -> tuple[SphericalGrid, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid, SSTA (1, H, W) K and currents (1, H, W) m s⁻¹ of the benchmark."""
    lat = -90.0 + res * (np.arange(round(180 / res)) + 0.5)
    lon = -180.0 + res * (np.arange(round(360 / res)) + 0.5)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    land = (np.abs(la) > 89.0) | ((np.abs(lo + 70.0) < 8.0) & (la > -55.0)) | ((np.abs(lo) > 172.0) & (np.abs(la) < 30.0))
    rng = np.random.default_rng(0)
    k = rng.normal(size=(6, 2))
    psi = sum(np.sin(a * np.radians(lo) * 6 + b) * np.cos(np.radians(la) * 5 * (i + 1)) for i, (a, b) in enumerate(k))
    u = 1.0 * np.exp(-(((la + 50.0) / 4.0) ** 2)) - 0.3 * np.exp(-((la / 3.0) ** 2))
    u = u + 0.3 * np.gradient(psi, axis=0)
    v = 0.3 * np.gradient(psi, axis=1)
    band = np.clip((np.abs(la) - 5.0) / 2.0, 0.0, 1.0)
    u, v = u * band, v * band
    c = np.exp(-(((la + 40.0) / 10.0) ** 2)) * np.cos(np.radians(lo) * 3)
    t = lambda a: torch.as_tensor(np.where(land, 0.0, a), dtype=torch.float32)[None]  # noqa: E731
    return SphericalGrid.from_coords(lat, lon, ~land, dtype=torch.float32), t(c), t(u), t(v)


def _time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    grid, c, u, v = global_case()
    print(f"grid {grid.shape}, periodic {grid.periodic}, ocean cells {int(grid.mask.sum())}; "
          f"{platform.processor() or platform.machine()}, {args.threads} thread(s), torch {torch.__version__}")
    print(f"Courant number of one day: {float(courant_number(u, v, grid, SECONDS_PER_DAY, 80.0)[0]):.2f} (cap 80°), "
          f"{float(courant_number(u, v, grid, SECONDS_PER_DAY)[0]):.2f} (no cap)")
    print("| options | sub-steps | no-grad s/day | forward+backward s/day |")
    print("|---|---|---|---|")
    for name, opts in {
        "default (MUSCL van Leer, SSP-RK3, Courant 0.5)": KernelOptions(polar_cap_deg=80.0),
        "hybrid configs (SSP-RK2, Courant 0.9, advective)": KernelOptions(
            time_stepper="ssp_rk2", max_courant=0.9, form="advective", polar_cap_deg=80.0
        ),
        "hybrid configs without the polar cap": KernelOptions(time_stepper="ssp_rk2", max_courant=0.9, form="advective"),
    }.items():
        courant = float(courant_number(u, v, grid, SECONDS_PER_DAY, opts.polar_cap_deg)[0])
        n_sub = int(np.ceil(courant / opts.max_courant - 1e-9))

        def no_grad(opts: KernelOptions = opts) -> None:
            with torch.no_grad():
                advect(c, u, v, grid, SECONDS_PER_DAY, opts)

        def train(opts: KernelOptions = opts) -> None:
            cc = c.clone().requires_grad_(True)
            advect(cc, u, v, grid, SECONDS_PER_DAY, opts).square().sum().backward()

        print(f"| {name} | {n_sub} | {_time(no_grad, args.repeats):.3f} | {_time(train, args.repeats):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
