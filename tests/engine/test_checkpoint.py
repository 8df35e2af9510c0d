"""Checkpoint files: round trip, truncation/corruption detected, a failed write never replaces a good file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fake_run import run_fake

import oceane2e.engine.checkpoint as ckpt
from oceane2e.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _payload(v: float) -> dict:
    return {"model": {"w": torch.full((64, 64), v)}, "epoch": int(v)}


def test_round_trip(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "a" / "m.pth", _payload(3.0))
    back = load_checkpoint(path)
    assert back["epoch"] == 3 and torch.equal(back["model"]["w"], torch.full((64, 64), 3.0))
    assert [p.name for p in path.parent.iterdir()] == ["m.pth"]  # no temp file left behind


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "empty"])
def test_damaged_file_is_detected_with_clear_message(tmp_path: Path, damage: str) -> None:
    path = save_checkpoint(tmp_path / "m.pth", _payload(1.0))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "header":
        data[:5] = b"XXXXX"
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"m\.pth: .*(truncated|checksum|not an oceane2e)"):
        load_checkpoint(path)


def test_failed_write_keeps_last_good_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_checkpoint(tmp_path / "m.pth", _payload(1.0))

    real = ckpt._encode

    def half_written(payload: dict) -> bytes:  # a write that produces a partial file, as a kill would
        good = real(payload)
        return good[: len(good) // 3]

    monkeypatch.setattr(ckpt, "_encode", half_written)
    with pytest.raises(CheckpointError, match="truncated"):
        save_checkpoint(path, _payload(2.0))
    monkeypatch.setattr(ckpt, "_encode", real)
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.pth"]


def test_resume_from_corrupt_last_checkpoint_fails_clearly(tmp_path: Path) -> None:
    run_fake(tmp_path, epochs=2)
    last = tmp_path / "ckpt" / "Fake_last.pth"
    best = tmp_path / "ckpt" / "Fake_best_model.pth"
    best_bytes = best.read_bytes()
    last.write_bytes(last.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="Fake_last.pth: checkpoint is truncated"):
        run_fake(tmp_path, epochs=3, resume=True)
    assert best.read_bytes() == best_bytes
