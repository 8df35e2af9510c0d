"""The training engine on a fake model: resume, best checkpoint, DDP equivalence, signals, config errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fake_run import fake_config, run_fake, run_subprocess

from oceane2e.config import ConfigError, validate_config
from oceane2e.engine.checkpoint import load_checkpoint
from oceane2e.engine.config import TrainConfig
from oceane2e.engine.logs import read_metrics

SCRIPT = Path(__file__).with_name("fake_run.py")
REPO = Path(__file__).resolve().parents[2]


def _weights(stepper) -> list[torch.Tensor]:
    return [p.detach().clone() for p in stepper.model.parameters()]


def _losses(out: Path) -> list[tuple[float, float]]:
    return [(float(r["train_loss"]), float(r["val_loss"])) for r in read_metrics(out / "logs" / "Fake_metrics.csv")]


def test_training_reduces_loss_and_writes_outputs(tmp_path: Path) -> None:
    result, _ = run_fake(tmp_path, epochs=4)
    rows = read_metrics(tmp_path / "logs" / "Fake_metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert float(rows[-1]["val_loss"]) < 0.5 * float(rows[0]["val_loss"])
    assert {"lr", "epoch_time_s", "train_abs_err", "val_abs_err"} <= set(rows[0])
    # best = lowest validation loss, and the best file holds that epoch
    best = load_checkpoint(tmp_path / "ckpt" / "Fake_best_model.pth")
    val = [float(r["val_loss"]) for r in rows]
    assert best["best_epoch"] == val.index(min(val)) == result.best_epoch
    assert best["extras"] == {"note": "fake"} and best["train_config"]["name"] == "Fake"
    assert "training Fake" in (tmp_path / "logs" / "Fake_training_log.log").read_text()


@pytest.mark.parametrize("stop_after", [8, 6])  # end of epoch 2, and mid-epoch 2 (4 steps per epoch)
def test_resume_reproduces_uninterrupted_run(tmp_path: Path, stop_after: int) -> None:
    """Interrupted then resumed = uninterrupted, bit for bit (weights, dropout RNG, schedule, CSV)."""
    _, full = run_fake(tmp_path / "full", epochs=4, dropout=0.2)
    part = tmp_path / "part"
    first, _ = run_fake(part, epochs=4, dropout=0.2, stop_after=stop_after)
    assert first.stopped and first.global_step == stop_after
    second, resumed = run_fake(part, epochs=4, dropout=0.2, resume=True)
    assert not second.stopped and second.global_step == 16
    for a, b in zip(_weights(full), _weights(resumed), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert _losses(tmp_path / "full") == _losses(part)


def test_resume_of_finished_run_is_a_no_op(tmp_path: Path) -> None:
    run_fake(tmp_path, epochs=2)
    again, _ = run_fake(tmp_path, epochs=2, resume=True)
    assert again.global_step == 8 and len(again.history) == 2 and not again.stopped


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    good = fake_config(tmp_path).model_dump()
    with pytest.raises(ConfigError, match=r"train: lrr: unknown key"):
        validate_config(TrainConfig, good | {"lrr": 1e-3}, source="train")
    with pytest.raises(ConfigError, match=r"train: batch_size: .*integer"):
        validate_config(TrainConfig, good | {"batch_size": "eight"}, source="train")
    with pytest.raises(ConfigError, match=r"train: scheduler.name"):
        validate_config(TrainConfig, good | {"scheduler": {"name": "cosin"}}, source="train")
    with pytest.raises(ConfigError, match=r"from_epoch: 0"):
        validate_config(TrainConfig, good | {"rollout_schedule": [{"from_epoch": 2, "length": 3}]}, source="train")
    cfg = validate_config(TrainConfig, good | {"rollout_schedule": [{"from_epoch": 0, "length": 1},
                                                                    {"from_epoch": 3, "length": 4}]})
    assert [cfg.rollout_length(e) for e in range(5)] == [1, 1, 1, 4, 4] and cfg.max_rollout_length == 4

    with pytest.raises(ConfigError, match=r"train: val_from_epoch"):
        validate_config(TrainConfig, good | {"val_from_epoch": "last"}, source="train")
    with pytest.raises(ConfigError, match=r"train: val_from_epoch"):
        validate_config(TrainConfig, good | {"val_from_epoch": -1}, source="train")


def test_val_from_epoch_skips_early_validation_and_changes_no_weight(tmp_path: Path) -> None:
    """Epochs before ``val_from_epoch`` are not scored and never best; the training itself (weights, dropout RNG)
    is that of the run validating every epoch; the first validated epoch's metrics get their columns."""
    _, every = run_fake(tmp_path / "every", epochs=4, dropout=0.2)
    result, late = run_fake(tmp_path / "late", epochs=4, dropout=0.2, val_from_epoch=2)
    for a, b in zip(_weights(every), _weights(late), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    full = read_metrics(tmp_path / "every" / "logs" / "Fake_metrics.csv")
    rows = read_metrics(tmp_path / "late" / "logs" / "Fake_metrics.csv")
    assert [r["val_loss"] for r in rows[:2]] == ["nan", "nan"] and [r["val_abs_err"] for r in rows[:2]] == ["", ""]
    assert [r["is_best"] for r in rows[:2]] == ["0", "0"]
    for got, want in zip(rows[2:], full[2:], strict=True):  # the same epochs scored alike
        assert (got["train_loss"], got["val_loss"], got["val_abs_err"]) == (
            want["train_loss"], want["val_loss"], want["val_abs_err"])
    val = [float(r["val_loss"]) for r in rows[2:]]
    best = load_checkpoint(tmp_path / "late" / "ckpt" / "Fake_best_model.pth")
    assert best["best_epoch"] == result.best_epoch == 2 + val.index(min(val))
    log = (tmp_path / "late" / "logs" / "Fake_training_log.log").read_text()
    assert "epoch 1/4: train" in log and "not validated (train.val_from_epoch: epochs 3 on)" in log


def test_val_from_epoch_longest_rollout_and_the_last_epoch() -> None:
    cfg = TrainConfig(name="a", epochs=6, val_from_epoch="longest_rollout", rollout_schedule=[
        {"from_epoch": 0, "length": 1}, {"from_epoch": 2, "length": 20}, {"from_epoch": 4, "length": 5}])
    assert [cfg.validates(e) for e in range(6)] == [False, False, True, True, True, True]  # 20 days from epoch 2
    # a schedule (or a val_from_epoch) beyond the last epoch still validates the last one: there is a best checkpoint
    short = cfg.model_copy(update={"epochs": 2})
    assert [short.validates(e) for e in range(2)] == [False, True]
    assert TrainConfig(name="a", epochs=3, val_from_epoch=7).first_validated_epoch == 2
    assert TrainConfig(name="a", epochs=3).first_validated_epoch == 0


def test_resume_with_val_from_epoch_reproduces_the_csv(tmp_path: Path) -> None:
    run_fake(tmp_path / "full", epochs=4, dropout=0.2, val_from_epoch=2)
    part = tmp_path / "part"
    run_fake(part, epochs=4, dropout=0.2, stop_after=4, val_from_epoch=2)  # stopped after epoch 1 (not validated)
    run_fake(part, epochs=4, dropout=0.2, resume=True, val_from_epoch=2)
    read = lambda out: read_metrics(out / "logs" / "Fake_metrics.csv")  # noqa: E731
    keys = ("epoch", "train_loss", "val_loss", "val_abs_err", "is_best")
    assert [[r[k] for k in keys] for r in read(tmp_path / "full")] == [[r[k] for k in keys] for r in read(part)]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def test_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    """torchrun --nproc_per_node=2 (gloo, env://) on the same global batch = the 1-process run."""
    _, single = run_fake(tmp_path / "one", epochs=3)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(SCRIPT), str(tmp_path / "two"), "--epochs", "3"]
    proc = run_subprocess(cmd, env=_env(), timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = torch.load(tmp_path / "two" / "weights_rank0.pt")
    for a, b in zip(single.model.state_dict().values(), ddp.values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one) == len(two) == 3
    for (t1, v1), (t2, v2) in zip(one, two, strict=True):
        assert t1 == pytest.approx(t2, rel=1e-5) and v1 == pytest.approx(v2, rel=1e-5)
    # rank 0 alone wrote the log: every epoch line appears exactly once
    assert (tmp_path / "two" / "logs" / "Fake_training_log.log").read_text().count("epoch 3/3") == 1


def test_sigterm_saves_checkpoint_and_exits_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, str(SCRIPT), str(out), "--epochs", "50", "--sleep", "0.05"]
    proc = subprocess.Popen(cmd, env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "logs" / "Fake_training_log.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and "step 3 " in log.read_text()):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert (out / "stopped.txt").read_text() == "True"
    state = load_checkpoint(out / "ckpt" / "Fake_last.pth")
    assert 3 <= state["global_step"] < 200
    assert "signal 15 received" in log.read_text()
