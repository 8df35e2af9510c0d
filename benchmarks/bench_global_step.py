"""One training step of the hybrid at the global 0.5° scale (360 × 720), CPU or GPU.

The model of ``global_low/config.yaml`` (its network sizes and kernel), batch 1, a one-day rollout
(forward, MSE against a target, backward, optimizer step), on the currents and grid of
``benchmarks/bench_global.py``. Median of ``--repeats`` steps after one warm-up.

    python benchmarks/bench_global_step.py [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_global import global_case  # noqa: E402

from model_baselines.registry import build_model  # noqa: E402
from oceane2e.data.info import DataInfo  # noqa: E402
from oceane2e.stage2 import load_stage2_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_stage2_config(REPO / "global_low" / "config.yaml")
    grid, c, u, v = global_case()
    mask = grid.mask.numpy()
    names = ("ssta", "u_g", "v_g", "u10", "v10", "t2m")
    info = DataInfo(
        lat=grid.lat.numpy().astype(np.float64), lon=grid.lon.numpy().astype(np.float64), mask=mask,
        channels={"state": ("ssta",), "velocity": ("u_g", "v_g"), "atmos": ("u10", "v10", "t2m")},
        norm_stats={n: {"mean": 0.0, "std": 1.0} for n in names},
    )
    model = build_model(cfg.model, info).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    t = 2
    m = torch.as_tensor(mask, device=device)
    batch = {
        "ssta": c.expand(t, -1, -1)[None].to(device),
        "velocity": torch.stack([u, v], 1).expand(t, -1, -1, -1)[None].to(device),
        "atmos": torch.randn(1, t, 3, *mask.shape, device=device) * m,
        "mask": m[None],
    }

    def step() -> None:
        opt.zero_grad()
        out = model(batch, 1)
        loss = ((out - batch["ssta"][:, 1:]) ** 2 * m).mean()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    n_par = sum(p.numel() for p in model.parameters())
    print(f"hybrid of global_low/config.yaml ({n_par / 1e6:.2f} M parameters), 360x720, batch 1, 1-day rollout, "
          f"{args.device}, {args.threads} thread(s): {statistics.median(times):.2f} s per training step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
