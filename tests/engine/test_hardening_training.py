"""Issue 15 items 5, 6, 7: training never destroys history, refuses silent config changes on resume,
stops (or skips) clearly on non-finite numbers, and a signal inside a long step still saves."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from fake_run import FakeStepper, run_fake, run_subprocess

from oceane2e.engine.checkpoint import load_checkpoint
from oceane2e.engine.logs import read_metrics
from oceane2e.engine.runfiles import RunStart
from oceane2e.engine.trainer import StepContext, StepOutput
from oceane2e.errors import ResumeConfigError, RunExistsError, TrainingDivergedError

SCRIPT = Path(__file__).with_name("fake_run.py")
REPO = Path(__file__).resolve().parents[2]


def _files(out: Path) -> dict[str, bytes]:
    names = ["ckpt/Fake_last.pth", "ckpt/Fake_best_model.pth", "logs/Fake_metrics.csv", "logs/Fake_training_log.log"]
    return {n: (out / n).read_bytes() for n in names}


def _epochs(out: Path) -> list[int]:
    return [int(r["epoch"]) for r in read_metrics(out / "logs" / "Fake_metrics.csv")]


def _weights(stepper: FakeStepper) -> list[torch.Tensor]:
    return [p.detach().clone() for p in stepper.model.parameters()]


# ------------------------------------------------------------------------------------- history (6)
def test_rerun_without_resume_refuses_and_keeps_everything(tmp_path: Path) -> None:
    run_fake(tmp_path, epochs=2)
    before = _files(tmp_path)
    with pytest.raises(RunExistsError, match=r"Fake_last\.pth.*--resume.*--fresh"):
        run_fake(tmp_path, epochs=2)
    assert _files(tmp_path) == before


def test_fresh_moves_the_old_run_aside(tmp_path: Path) -> None:
    run_fake(tmp_path, epochs=2)
    before = _files(tmp_path)
    run_fake(tmp_path, epochs=1, resume=RunStart(fresh=True))
    assert _epochs(tmp_path) == [1]
    kept = {p.name: p.read_bytes() for p in tmp_path.rglob("previous/Fake-*/*")}
    assert kept == {Path(n).name: b for n, b in before.items()}


def test_resume_from_best_when_last_is_missing_keeps_history(tmp_path: Path) -> None:
    run_fake(tmp_path, epochs=3)
    best = load_checkpoint(tmp_path / "ckpt" / "Fake_best_model.pth")
    log_before = (tmp_path / "logs" / "Fake_training_log.log").read_text()
    (tmp_path / "ckpt" / "Fake_last.pth").unlink()
    result, _ = run_fake(tmp_path, epochs=4, resume=True)
    log = (tmp_path / "logs" / "Fake_training_log.log").read_text()
    assert log.startswith(log_before) and "resuming from" in log  # append-only
    assert result.global_step == 16 and not result.stopped
    assert result.best_val <= best["best_val"]
    assert load_checkpoint(tmp_path / "ckpt" / "Fake_best_model.pth")["best_val"] <= best["best_val"]
    assert _epochs(tmp_path) == list(range(1, 5))
    # both checkpoints gone: --resume starts from scratch, the earlier rows move aside (no duplicate epochs)
    for name in ("Fake_last.pth", "Fake_best_model.pth"):
        (tmp_path / "ckpt" / name).unlink()
    run_fake(tmp_path, epochs=2, resume=True)
    assert _epochs(tmp_path) == [1, 2]
    superseded = read_metrics(tmp_path / "logs" / "Fake_metrics_superseded.csv")
    assert [int(r["epoch"]) for r in superseded[-4:]] == [1, 2, 3, 4]


def test_csv_has_no_duplicate_or_missing_row_after_a_kill(tmp_path: Path) -> None:
    # a row written for epoch 3 before the kill (the old order: row, then checkpoint)
    run_fake(tmp_path, epochs=4, stop_after=10)  # stops inside epoch 3 (4 steps per epoch)
    csv = tmp_path / "logs" / "Fake_metrics.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join([*rows, rows[-1].replace("2,", "3,", 1)]) + "\n")
    run_fake(tmp_path, epochs=4, resume=True)
    assert _epochs(tmp_path) == [1, 2, 3, 4]
    assert [int(r["epoch"]) for r in read_metrics(tmp_path / "logs" / "Fake_metrics_superseded.csv")] == [3]
    # a kill after the checkpoint but before its row (the new order): the row comes back from the checkpoint
    out2 = tmp_path / "b"
    run_fake(out2, epochs=2)
    csv2 = out2 / "logs" / "Fake_metrics.csv"
    csv2.write_text("\n".join(csv2.read_text().splitlines()[:-1]) + "\n")
    run_fake(out2, epochs=3, resume=True)
    assert _epochs(out2) == [1, 2, 3]


# ---------------------------------------------------------------------------------- config diff (7)
def test_resume_with_changed_config_refuses_with_the_diff(tmp_path: Path) -> None:
    run_fake(tmp_path, epochs=2)
    before = _files(tmp_path)
    with pytest.raises(ResumeConfigError, match=r"train\.lr: 0\.1 -> 0\.2.*--allow-config-change"):
        run_fake(tmp_path, epochs=3, resume=True, lr=0.2)
    with pytest.raises(ResumeConfigError, match=r"train\.batch_size: 8 -> 4"):
        run_fake(tmp_path, epochs=3, resume=True, batch_size=4)
    assert _files(tmp_path) == before
    run_fake(tmp_path, epochs=3, resume=True)  # a longer run is a permitted change
    run_fake(tmp_path, epochs=4, resume=RunStart(resume=True, allow_config_change=True), lr=0.2)
    log = (tmp_path / "logs" / "Fake_training_log.log").read_text()
    assert "config changed since the checkpoint: train.lr: 0.1 -> 0.2" in log
    assert _epochs(tmp_path) == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------- non-finite (5)
class _Poisoned(FakeStepper):
    """Gives a NaN loss (or fails like the kernel on NaN velocity) at chosen training calls (0-based)."""

    def __init__(self, bad_calls: set[int], mode: str = "loss") -> None:
        super().__init__()
        self.bad_calls, self.mode, self.calls = bad_calls, mode, 0

    def compute_loss(self, model: torch.nn.Module, batch: Any, ctx: StepContext) -> StepOutput:
        out = super().compute_loss(model, batch, ctx)
        if ctx.training:
            self.calls += 1
        if ctx.training and self.calls - 1 in self.bad_calls:
            if self.mode == "loss":
                return StepOutput(out.loss * math.nan, out.n, out.metrics)
            batch["x"][0, 0] = math.nan
            int(float("nan"))  # what the kernel's sub-step count did with a NaN velocity
        return out


def test_nonfinite_loss_stops_naming_the_step(tmp_path: Path) -> None:
    with pytest.raises(TrainingDivergedError, match=r"non-finite loss at epoch 2, optimiser step 6;.*train\.lr"):
        run_fake(tmp_path, epochs=3, stepper=_Poisoned({5}))


def test_nonfinite_loss_can_skip_the_step(tmp_path: Path) -> None:
    result, _ = run_fake(tmp_path, epochs=3, stepper=_Poisoned({5}), on_nonfinite="skip")
    assert result.global_step == 11 and not result.stopped  # 12 batches, one skipped
    assert "non-finite loss, step skipped" in (tmp_path / "logs" / "Fake_training_log.log").read_text()
    with pytest.raises(TrainingDivergedError, match="non-finite loss"):
        run_fake(tmp_path / "b", epochs=3, stepper=_Poisoned(set(range(3, 40))), on_nonfinite="skip",
                 max_skipped_steps=3)


def test_nan_input_is_named_instead_of_a_cryptic_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingDivergedError, match=r"input.*batch\['x'\] holds NaN"):
        run_fake(tmp_path, epochs=2, stepper=_Poisoned({2}, mode="input"))


def test_diverging_weights_stop_training(tmp_path: Path) -> None:
    with pytest.raises(TrainingDivergedError, match="non-finite (gradient|weights|loss)"):
        run_fake(tmp_path, epochs=3, lr=1e30, grad_clip=None, optimizer={"name": "sgd", "momentum": 0.0},
                 scheduler={"name": "none"})


# ------------------------------------------------------------------------------ SIGTERM in a long step
class _SlowStep(FakeStepper):
    """Optimiser step ``slow`` takes ``seconds`` in Python-level work (like the kernel's sub-steps)."""

    def __init__(self, slow: int, seconds: float, dropout: float) -> None:
        super().__init__(dropout)
        self.slow, self.seconds = slow, seconds

    def compute_loss(self, model: torch.nn.Module, batch: Any, ctx: StepContext) -> StepOutput:
        out = super().compute_loss(model, batch, ctx)
        if ctx.training and ctx.global_step == self.slow:
            end = time.monotonic() + self.seconds
            while time.monotonic() < end:
                time.sleep(0.01)
        return out


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_sigterm_inside_a_long_step_saves_and_resume_is_exact(tmp_path: Path) -> None:
    _, full = run_fake(tmp_path / "full", epochs=3, dropout=0.2)
    part = tmp_path / "part"
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    t0 = time.monotonic()
    first, _ = run_fake(part, epochs=3, stepper=_SlowStep(5, 60.0, 0.2))
    timer.cancel()
    assert first.stopped and time.monotonic() - t0 < 20
    state = load_checkpoint(part / "ckpt" / "Fake_last.pth")
    assert state["global_step"] == 5 and state["batch_in_epoch"] == 1
    _, resumed = run_fake(part, epochs=3, dropout=0.2, resume=True)
    for a, b in zip(_weights(full), _weights(resumed), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# ----------------------------------------------------------------------- DDP: all-reduced train loss
def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


@pytest.mark.slow
def test_ddp_resumed_csv_train_loss_is_all_reduced(tmp_path: Path) -> None:
    def torchrun(out: Path, *extra: str) -> None:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(SCRIPT), str(out), "--epochs", "2", *extra]
        proc = run_subprocess(cmd, env=_env(), timeout=120, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]

    torchrun(tmp_path / "full")
    torchrun(tmp_path / "part", "--stop-after", "2")  # mid-epoch 1 (4 steps per epoch)
    torchrun(tmp_path / "part", "--resume")
    full = read_metrics(tmp_path / "full" / "logs" / "Fake_metrics.csv")
    part = read_metrics(tmp_path / "part" / "logs" / "Fake_metrics.csv")
    assert [float(r["train_loss"]) for r in part] == pytest.approx([float(r["train_loss"]) for r in full], rel=1e-6)
