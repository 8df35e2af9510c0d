"""Process-group setup for plain ``python``, ``torchrun`` (also multi-node) and ``torch.distributed.launch``.

* ``python script.py``: one process, no process group.
* ``torchrun --nproc_per_node=N [--nnodes M --rdzv-backend c10d ...] script.py``: env:// rendezvous
  from ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; ``LOCAL_RANK`` picks the GPU.
* ``python -m torch.distributed.launch ...`` (deprecated): the same environment, and the local rank
  also as ``--local-rank``/``--local_rank`` on the command line.

``RANK``/``WORLD_SIZE`` shard the data and choose who writes (rank 0); ``LOCAL_RANK`` only picks the
device on a node. gloo on CPU, nccl on GPU.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: global ``rank`` of ``world_size``, ``local_rank`` on its node, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 of all nodes: the only process that writes files and logs."""
        return self.rank == 0


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"environment variable {name}={value!r} is not an integer") from None


def setup_distributed(local_rank: int | None = None, *, device: str | None = None) -> DistInfo:
    """Join the process group if launched by torchrun/launch, else run as one process.

    Args:
        local_rank: ``--local-rank`` from the deprecated launcher; ``LOCAL_RANK`` otherwise.
        device: force ``"cpu"`` or ``"cuda"``; default CUDA when available.

    Returns:
        :class:`DistInfo`; ``initialized_here`` tells :func:`cleanup_distributed` to destroy the group.
    """
    world_size = _env_int("WORLD_SIZE") or 1
    rank = _env_int("RANK") or 0
    env_local = _env_int("LOCAL_RANK")
    local = local_rank if local_rank is not None else (env_local if env_local is not None else 0)
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda:
        dev = torch.device("cuda", local % max(torch.cuda.device_count(), 1))
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world_size == 1:
        return DistInfo(0, 1, local, dev, False)
    if not 0 <= rank < world_size:
        raise RuntimeError(f"RANK={rank} is outside 0..WORLD_SIZE-1={world_size - 1}")
    if dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), local, dev, False)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"backend": backend, "init_method": "env://", "rank": rank, "world_size": world_size}
    if dev.type == "cuda":
        kwargs["device_id"] = dev
    dist.init_process_group(**kwargs)
    return DistInfo(rank, world_size, local, dev, True)


def cleanup_distributed(info: DistInfo, *, clean_exit: bool = True) -> None:
    """Destroy the process group if :func:`setup_distributed` created it.

    On a clean exit every rank first waits for the others (a rank that tears its gloo connections
    down while a peer still finishes its last collective or file can abort that peer) and frees
    unreachable DDP wrappers: their reducers hold the group, which would otherwise outlive
    ``destroy_process_group`` and be torn down during interpreter shutdown (a SIGABRT,
    "terminate called without an active exception", seen once in CI on gloo).
    """
    if info.initialized_here and dist.is_initialized():
        gc.collect()
        if clean_exit:
            dist.barrier()
        dist.destroy_process_group()
        gc.collect()


@contextmanager
def distributed_context(local_rank: int | None = None, *, device: str | None = None) -> Iterator[DistInfo]:
    """``with distributed_context(args.local_rank) as info: ...``; the group is destroyed in ``finally``."""
    info = setup_distributed(local_rank, device=device)
    clean = False
    try:
        yield info
        clean = True
    finally:
        cleanup_distributed(info, clean_exit=clean)  # no barrier after an error: the peers may never reach it


def current_dist_info() -> DistInfo:
    """The :class:`DistInfo` of an already initialised process group (or a single CPU/GPU process)."""
    dev = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK") or 0, dev, False)
    return DistInfo(0, 1, 0, dev, False)


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a float64 tensor over ranks (no-op on one process); returns a new tensor."""
    out = values.detach().to(device=info.device, dtype=torch.float64).clone()
    if info.is_distributed:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.cpu()


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when ``flag`` is True on at least one (a stop request reaches all ranks)."""
    if not info.is_distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.is_distributed:
        dist.barrier()


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Gather one picklable object per rank, in rank order (``[obj]`` on one process)."""
    if not info.is_distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, info: DistInfo, src: int = 0) -> Any:
    """Rank ``src``'s object on every rank."""
    if not info.is_distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
