"""Self-checking, atomic checkpoint files.

File layout: a header line ``OCEANE2E-CKPT v1 <sha256 hex> <payload bytes>\\n`` followed by the
``torch.save`` payload. :func:`load_checkpoint` verifies the magic, the length and the SHA-256, so a
truncated or corrupted file stops with a message naming it instead of loading garbage.

:func:`save_checkpoint` writes to a temporary file in the same folder, flushes and fsyncs it, reads
it back to verify, and only then ``os.replace``-s it over the target: a crash, a full disk or a kill
during the write leaves the previous good file untouched.

Loading never runs code from the file: the payload is read with ``torch.load(weights_only=True)``,
which accepts tensors, numbers, strings and containers only. The SHA-256 header proves integrity,
not origin, so a crafted ``.pth`` whose pickle would call a function is refused with
:class:`CheckpointError`. Numpy arrays in a payload (grid, RNG state) are stored as tensors under a
marker and given back as numpy arrays by :func:`load_checkpoint`, so callers see what they saved.
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

from oceane2e.errors import UserError

MAGIC = b"OCEANE2E-CKPT v1"
_HEADER_MAX = 128


class CheckpointError(UserError, RuntimeError):
    """A checkpoint file is missing, truncated, corrupt or unsafe; the message names the file and what to do."""


_NDARRAY = "__oceane2e_ndarray__"  # marker of a numpy array stored as a tensor


def to_plain(obj: Any) -> Any:
    """``obj`` with numpy arrays and scalars replaced by what ``weights_only`` loading accepts.

    Arrays become ``{marker: tensor}`` (dtype and shape kept; :func:`from_plain` restores them),
    numpy scalars become Python numbers; dicts, lists and tuples are converted recursively.
    """
    if isinstance(obj, np.ndarray):
        return {_NDARRAY: torch.from_numpy(np.array(obj, copy=True))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain`: marked tensors become numpy arrays again."""
    if isinstance(obj, dict):
        if len(obj) == 1 and _NDARRAY in obj:
            return obj[_NDARRAY].cpu().numpy()
        return {k: from_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_plain(v) for v in obj)
    return obj


def _advice(path: Path) -> str:
    """What to do about a bad checkpoint: name the other checkpoints that exist beside it."""
    others = sorted(p.name for p in path.parent.glob("*.pth") if p.resolve() != path.resolve()) \
        if path.parent.is_dir() else []
    if others:
        return f"move it aside and use another checkpoint in {path.parent} ({', '.join(others)}) or retrain"
    return f"move it aside and retrain (there is no other checkpoint in {path.parent})"


def _encode(payload: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(to_plain(payload), buf)
    body = buf.getvalue()
    header = MAGIC + b" " + hashlib.sha256(body).hexdigest().encode() + b" " + str(len(body)).encode() + b"\n"
    return header + body


def _decode(path: Path, data: bytes) -> bytes:
    """Verify the header of ``data`` (the bytes of ``path``) and return the payload bytes."""
    newline = data.find(b"\n", 0, _HEADER_MAX)
    if newline < 0 or not data.startswith(MAGIC + b" "):
        raise CheckpointError(
            f"{path}: not an oceane2e checkpoint (header missing or damaged); the file is corrupt or was "
            f"written by another program - {_advice(path)}"
        )
    parts = data[:newline].split(b" ")
    try:
        digest, length = parts[-2].decode(), int(parts[-1])
    except (IndexError, ValueError):
        raise CheckpointError(f"{path}: checkpoint header is damaged; {_advice(path)}") from None
    body = data[newline + 1 :]
    if len(body) != length:
        raise CheckpointError(
            f"{path}: checkpoint is truncated or padded ({len(body)} payload bytes, header says {length}); "
            f"it was not written completely - {_advice(path)}"
        )
    if hashlib.sha256(body).hexdigest() != digest:
        raise CheckpointError(f"{path}: checkpoint checksum mismatch (the file is corrupt); {_advice(path)}")
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
        payload = torch.load(io.BytesIO(body), map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - the checksum matched: unsafe content or a version problem
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: refused to load: the payload holds objects other than tensors, numbers, strings and "
            f"containers ({first[:200]}); loading it could run code - use a checkpoint written by this "
            "version of oceane2e, or retrain"
        ) from err
    return from_plain(payload)


def clean_orphan_temps(path: str | Path) -> list[Path]:
    """Remove temporary files a killed :func:`save_checkpoint` of ``path`` left behind; returns them."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    orphans = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    for tmp in orphans:
        tmp.unlink(missing_ok=True)
    return orphans


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
