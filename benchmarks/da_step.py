"""Where a training step of the learned analysis goes: loading, forward (by part) and backward, wall clock.

    python benchmarks/da_step.py [--config configs/config_da.yaml] [--steps 15] [--warmup 2] [--threads 1]
                                 [--end-to-end] [--profile]

Run in the folder of a finished main command (it needs the data folder, the observations, the real-time OI of the
training windows and the trained hybrid ``forecaster`` of the config). A fresh analysis network (``train.seed``) is
trained for ``--warmup`` + ``--steps`` steps of the offline stage (``--end-to-end``: of the end-to-end stage, with its
batch size and forecast days) on shuffled training windows, with AdamW at the config's learning rate, exactly the
loss of ``train_assim.py`` (:class:`oceane2e.stage_da.AssimStepper`) on the layout the engine uses
(:func:`oceane2e.engine.trainer.fast_layout`). Printed: the median seconds per step of loading a batch, of the loss'
forward and of backward + the optimiser, and the mean seconds per step of each part of the forward (the hybrid's
one-day backgrounds, the analysis' features, prior, gate and U-Net, the augmentation). ``--profile`` adds
``torch.profiler``'s table of three more steps by operator and input shape. Nothing is written.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any


def _timed(obj: Any, name: str, key: str, totals: dict[str, float]) -> None:
    """Replace ``obj.name`` by a wrapper that adds its wall time to ``totals[key]``."""
    inner: Callable[..., Any] = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - t0

    setattr(obj, name, wrapper)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/config_da.yaml")
    parser.add_argument("--steps", type=int, default=15, help="timed steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the pipeline's second lane: 1)")
    parser.add_argument("--end-to-end", action="store_true", help="time the end-to-end stage's step instead")
    parser.add_argument("--profile", action="store_true", help="also print torch.profiler's table of 3 steps")
    args = parser.parse_args(argv)

    from oceane2e.cpu_isa import pin_cpu_vector_paths

    pin_cpu_vector_paths()  # the entry points' vector paths, before numpy and torch load
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    import oceane2e.stage_da as sd
    from oceane2e.data.normalization import ensure_stats
    from oceane2e.engine.trainer import fast_layout

    torch.set_num_threads(args.threads)
    cfg = sd.load_assim_config(args.config)
    stats = ensure_stats(cfg.data, progress=False)
    loaded = sd._forecaster(cfg)
    n_fc = cfg.end_to_end.forecast_days if args.end_to_end else 0
    dataset = sd.AssimWindowDataset(cfg, cfg.window_years(), cfg.end_to_end.forecast_days, cfg.windows.stride)
    grid = loaded.info.with_stats({**loaded.info.norm_stats, **stats})
    system, _ = sd.build_system(cfg, grid, loaded.model)
    system = fast_layout(system, "cpu")
    stepper = sd.AssimStepper(system, cfg, n_fc)
    batch_size = cfg.end_to_end.batch_size if args.end_to_end else cfg.train.batch_size
    torch.manual_seed(cfg.train.seed)
    batches = iter(DataLoader(dataset, batch_size=batch_size, shuffle=True))
    params = [p for p in system.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=cfg.end_to_end.lr if args.end_to_end else cfg.train.lr)

    class Context:  # what AssimStepper reads of the engine's StepContext
        training = True
        grad_checkpoint = False

    parts: dict[str, float] = defaultdict(float)
    _timed(system, "background", "backgrounds (hybrid, 1 day)", parts)
    for name in ("features", "prior", "gate", "unet"):
        _timed(system.analysis, name, f"analysis.{name}", parts)
    _timed(sd, "swap_obs_masks", "mask swap (augmentation)", parts)

    def step() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        batch = next(batches)
        t1 = time.perf_counter()
        out = stepper.compute_loss(system, batch, Context())  # type: ignore[arg-type]
        t2 = time.perf_counter()
        out.loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        return t1 - t0, t2 - t1, time.perf_counter() - t2

    needed = args.warmup + args.steps + (3 if args.profile else 0)
    if needed * batch_size > len(dataset):
        raise SystemExit(f"{args.config}: {len(dataset)} training windows hold fewer than the {needed} steps of "
                         f"{batch_size} asked; lower --steps")
    for _ in range(args.warmup):
        step()
    parts.clear()
    times = np.array([step() for _ in range(args.steps)])
    load, forward, backward = np.median(times, axis=0)
    stage = "end-to-end" if args.end_to_end else "offline"
    print(f"{stage} step, batch {batch_size}, {args.threads} thread(s), median of {args.steps}: "
          f"loading {load:.3f} s, forward {forward:.3f} s, backward + optimiser {backward:.3f} s, "
          f"total {load + forward + backward:.3f} s")
    for key, total in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {key:32s} {total / args.steps:.4f} s per step (mean)")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(3):
                step()
        print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
