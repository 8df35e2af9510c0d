"""Self-checking, atomic checkpoint files.

File layout: a header line ``OCEANE2E-CKPT v1 <sha256 hex> <payload bytes>\\n`` followed by the
``torch.save`` payload. :func:`load_checkpoint` verifies the magic, the length and the SHA-256, so a
truncated or corrupted file stops with a message naming it instead of loading garbage.

:func:`save_checkpoint` writes to a temporary file in the same folder, flushes and fsyncs it, reads
it back to verify, and only then ``os.replace``-s it over the target: a crash, a full disk or a kill
during the write leaves the previous good file untouched.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

MAGIC = b"OCEANE2E-CKPT v1"
_HEADER_MAX = 128


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or corrupt; the message names the file and what to do."""


def _encode(payload: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(payload, buf)
    body = buf.getvalue()
    header = MAGIC + b" " + hashlib.sha256(body).hexdigest().encode() + b" " + str(len(body)).encode() + b"\n"
    return header + body


def _decode(path: Path, data: bytes) -> bytes:
    """Verify the header of ``data`` (the bytes of ``path``) and return the payload bytes."""
    newline = data.find(b"\n", 0, _HEADER_MAX)
    if newline < 0 or not data.startswith(MAGIC + b" "):
        raise CheckpointError(
            f"{path}: not an oceane2e checkpoint (header missing or damaged); the file is corrupt or was "
            "written by another program - delete it and resume from another checkpoint or retrain"
        )
    parts = data[:newline].split(b" ")
    try:
        digest, length = parts[-2].decode(), int(parts[-1])
    except (IndexError, ValueError):
        raise CheckpointError(f"{path}: checkpoint header is damaged; delete the file") from None
    body = data[newline + 1 :]
    if len(body) != length:
        raise CheckpointError(
            f"{path}: checkpoint is truncated or padded ({len(body)} payload bytes, header says {length}); "
            "it was not written completely - delete it and resume from the previous checkpoint"
        )
    if hashlib.sha256(body).hexdigest() != digest:
        raise CheckpointError(
            f"{path}: checkpoint checksum mismatch (the file is corrupt); delete it and resume from the "
            "previous checkpoint"
        )
    return body


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` (any ``torch.save``-able dict) to ``path``; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _encode(payload)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _decode(tmp, tmp.read_bytes())  # verify what reached the disk before it replaces anything
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt or not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found (train first, or check train.checkpoint_dir/name)")
    body = _decode(path, path.read_bytes())
    try:
        return torch.load(io.BytesIO(body), map_location=map_location, weights_only=False)
    except Exception as err:  # the checksum matched, so this is a version/pickle problem
        raise CheckpointError(f"{path}: checksum is valid but torch.load failed: {err}") from err


def capture_rng_state() -> dict[str, Any]:
    """RNG states of python, numpy, torch (CPU) and every CUDA device of this process."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
