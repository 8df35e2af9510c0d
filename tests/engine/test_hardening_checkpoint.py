"""Issue 15 item 1: no code runs from a checkpoint; numpy extras still come back as numpy arrays."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import oceane2e.engine.checkpoint as ckpt
from oceane2e.engine.checkpoint import CheckpointError, clean_orphan_temps, load_checkpoint, save_checkpoint
from oceane2e.errors import UserError


class _Evil:
    """Unpickling this calls ``os.system`` (what a crafted .pth does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _crafted(path: Path, marker: Path) -> Path:
    """A file with a VALID oceane2e header whose payload pickle runs a command."""
    buf = io.BytesIO()
    torch.save({"model": {}, "extras": _Evil(marker)}, buf, pickle_module=pickle)
    body = buf.getvalue()
    import hashlib

    header = ckpt.MAGIC + b" " + hashlib.sha256(body).hexdigest().encode() + b" " + str(len(body)).encode() + b"\n"
    path.write_bytes(header + body)
    return path


def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = _crafted(tmp_path / "evil.pth", marker)
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused to load: .*could run code") as info:
        load_checkpoint(evil)
    assert isinstance(info.value, UserError)
    assert not marker.exists(), "the crafted pickle ran code"


def test_numpy_extras_round_trip_as_numpy(tmp_path: Path) -> None:
    grid = {"lat": np.linspace(30, 40, 5), "lon": np.linspace(-70, -60, 4), "mask": np.ones((5, 4), bool)}
    payload = {"model": {"w": torch.ones(2)}, "extras": {"grid": grid, "channels": ("u_g", "v_g"),
                                                          "norm_stats": {"u_g": {"mean": np.float64(0.5)}}},
               "rng": {"numpy": np.random.get_state()}}
    back = load_checkpoint(save_checkpoint(tmp_path / "m.pth", payload))
    g = back["extras"]["grid"]
    assert isinstance(g["lat"], np.ndarray) and g["lat"].dtype == np.float64
    np.testing.assert_array_equal(g["lat"], grid["lat"])
    assert g["mask"].dtype == bool and g["mask"].shape == (5, 4)
    assert back["extras"]["channels"] == ("u_g", "v_g")
    assert back["extras"]["norm_stats"]["u_g"]["mean"] == 0.5
    np.random.set_state(back["rng"]["numpy"])  # a valid numpy RNG state again


def test_orphan_temp_files_are_cleaned(tmp_path: Path) -> None:
    target = tmp_path / "Fake_last.pth"
    orphan = tmp_path / ".Fake_last.pth.abc123.tmp"
    orphan.write_bytes(b"half a checkpoint")
    other = tmp_path / ".Other_last.pth.x.tmp"
    other.write_bytes(b"x")
    assert clean_orphan_temps(target) == [orphan]
    assert not orphan.exists() and other.exists()


def test_corrupt_checkpoint_advice_names_existing_checkpoints(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "A_best_model.pth", {"x": 1})
    bad = tmp_path / "A_last.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"A_best_model\.pth") as info:
        load_checkpoint(bad)
    assert "previous checkpoint" not in str(info.value)
    lonely = tmp_path / "solo"
    lonely.mkdir()
    (lonely / "B.pth").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="no other checkpoint"):
        load_checkpoint(lonely / "B.pth")
