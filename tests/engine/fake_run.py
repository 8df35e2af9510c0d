"""A tiny fake model, dataset and stepper for engine tests; also a script for torchrun/subprocess tests.

    python tests/engine/fake_run.py OUT_DIR [--epochs E] [--resume] [--sleep S] [--dropout P]

writes ``OUT_DIR/ckpt/Fake_*.pth``, ``OUT_DIR/logs/Fake_metrics.csv`` and, on rank 0,
``OUT_DIR/weights_rank0.pt`` (final weights) so a test can compare runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from oceane2e.engine.config import TrainConfig
from oceane2e.engine.distributed import distributed_context
from oceane2e.engine.runfiles import RunStart
from oceane2e.engine.trainer import StepContext, StepOutput, Trainer, TrainResult


class FakeData(Dataset):
    """``n`` samples ``{"x": (4,), "y": (1,)}`` of a noisy linear map, fixed by ``seed``."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(n, 1, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


class FakeStepper:
    """MSE of a small MLP; optionally sleeps per step (signal tests) or stops the trainer after N steps."""

    def __init__(self, dropout: float = 0.0, sleep: float = 0.0) -> None:
        torch.manual_seed(123)
        self.model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 1))
        self.sleep = sleep
        self.stop_after: int | None = None
        self.trainer: Trainer | None = None

    def compute_loss(self, model: nn.Module, batch: Any, ctx: StepContext) -> StepOutput:
        pred = model(batch["x"])
        loss = ((pred - batch["y"]) ** 2).mean()
        if ctx.training:
            if self.sleep:
                time.sleep(self.sleep)
            if self.stop_after is not None and ctx.global_step + 1 == self.stop_after and self.trainer:
                self.trainer.request_stop()
        return StepOutput(loss, len(batch["x"]), {"abs_err": (pred - batch["y"]).abs().mean()})


def fake_config(out: Path, **kw: Any) -> TrainConfig:
    base = dict(name="Fake", seed=7, epochs=4, batch_size=8, lr=0.1, log_every=1,
                checkpoint_dir=out / "ckpt", log_dir=out / "logs", scheduler={"name": "cosine", "warmup_epochs": 1})
    return TrainConfig.model_validate(base | kw)


def run_fake(out: Path, *, epochs: int = 4, resume: bool | RunStart = False, dropout: float = 0.0,
             sleep: float = 0.0, stop_after: int | None = None, n_train: int = 32,
             stepper: FakeStepper | None = None, **cfg_kw: Any) -> tuple[TrainResult, FakeStepper]:
    """Train the fake model in this process (joins a torchrun process group if there is one).

    ``cfg_kw`` are further ``train:`` keys (e.g. ``lr=0.2``); ``stepper`` replaces the default one.
    """
    stepper = stepper or FakeStepper(dropout, sleep)
    stepper.stop_after = stop_after
    trainer = Trainer(fake_config(out, epochs=epochs, **cfg_kw), stepper, FakeData(n_train, 1), FakeData(12, 2),
                      extras={"note": "fake"}, show_progress=False)
    stepper.trainer = trainer
    return trainer.train(resume=resume), stepper


def run_subprocess(cmd: list[str], *, timeout: float, **kw: Any) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own session; on timeout kill the whole group (torchrun's workers too)."""
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{cmd} timed out after {timeout} s:\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--stop-after", type=int, default=None, help="request a stop after this optimiser step")
    p.add_argument("--local-rank", "--local_rank", dest="local_rank", type=int, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    with distributed_context(args.local_rank, device="cpu") as info:
        result, stepper = run_fake(args.out, epochs=args.epochs, resume=args.resume, dropout=args.dropout,
                                   sleep=args.sleep, stop_after=args.stop_after)
        if info.is_main:
            torch.save(stepper.model.state_dict(), args.out / "weights_rank0.pt")
            (args.out / "stopped.txt").write_text(str(result.stopped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
