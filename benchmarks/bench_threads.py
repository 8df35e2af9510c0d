"""Training-step time under background CPU load, per thread setting (docs/benchmarks.md, "Threads").

    python benchmarks/bench_threads.py --steps 4 --rounds 3

For each setting (intra-op threads, OpenMP wait policy) a fresh process times ``--steps`` optimiser
steps (forward + backward + AdamW) of stage 1's MultiConv (configs/config_vel.yaml sizes, batch 8,
n_in 4) on the demo grid (48 x 96), once on its own and once beside one CPU-bound process
(``python -c "while True: pass"``). The settings are interleaved over ``--rounds`` rounds (the
machine's other load drifts); prints the median over rounds of each median step time and the
slow-down ratio.
The settings are applied through the environment before torch is imported, as the entry points do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: name -> environment of the measured process
SETTINGS: dict[str, dict[str, str]] = {
    "2 threads, OpenMP default wait": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": ""},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": ""},
    "2 threads, via oceane2e.entry (default)": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "",
                                                "BENCH_VIA_ENTRY": "1"},
}


def time_steps(steps: int, shape: tuple[int, int] = (48, 96), batch: int = 8) -> list[float]:
    """Seconds of each of ``steps`` optimiser steps (after one warm-up step)."""
    import torch
    import yaml

    from model_baselines import MultiConvConfig, build_model_from_config

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    cfg = MultiConvConfig.model_validate(yaml.safe_load((REPO / "configs/config_vel.yaml").read_text())["model"])
    net = build_model_from_config(cfg, channels=2, n_in=4, n_out=1)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 4, 2, *shape)
    y = torch.randn(batch, 1, 2, *shape)
    mask = torch.ones(batch, *shape, dtype=torch.bool)
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = ((net(x, mask) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    return times


def measure(setting: dict[str, str], steps: int, load: bool, timeout: float) -> float | None:
    """Median step time of a fresh process with ``setting`` (None when it ran past ``timeout``)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), **{k: v for k, v in setting.items() if v})
    for k, v in setting.items():
        if not v:
            env.pop(k, None)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load else None
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", str(steps)], env=env, capture_output=True,
                              text=True, timeout=timeout, cwd=REPO)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        return statistics.median(json.loads(proc.stdout.strip().splitlines()[-1]))
    except subprocess.TimeoutExpired:
        return None
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of every measurement")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per measured process")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        if os.environ.get("BENCH_VIA_ENTRY"):
            import oceane2e.entry  # noqa: F401 - what every entry script imports first
        print(json.dumps(time_steps(args.child)))
        return 0
    results: dict[tuple[str, bool], list[float | None]] = {}
    for _ in range(args.rounds):
        for name, setting in SETTINGS.items():
            for load in (False, True):
                results.setdefault((name, load), []).append(measure(setting, args.steps, load, args.timeout))

    def med(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else statistics.median(values)  # type: ignore[type-var]

    def fmt(v: float | None) -> str:
        return f"{v:.3f}" if v is not None else f">{args.timeout:.0f} s"

    print(f"{'setting':<40} {'alone s/step':>12} {'+1 busy s/step':>14} {'ratio':>6}")
    for name in SETTINGS:
        alone, busy = med(results[(name, False)]), med(results[(name, True)])
        ratio = f"{busy / alone:.1f}" if alone and busy else "-"
        print(f"{name:<40} {fmt(alone):>12} {fmt(busy):>14} {ratio:>6}   rounds: "
              f"{[fmt(v) for v in results[(name, False)]]} / {[fmt(v) for v in results[(name, True)]]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
