"""Inference split across ranks, gathered into one date-ordered result.

Rank r takes items r, r + world, r + 2·world, ... of a date-sorted list, writes its rows into shared
on-disk ``.npy`` arrays (``numpy`` memory maps, so memory stays bounded at paper scale), and after a
barrier every array holds all rows in item order: N processes produce exactly the rows of a
one-process run. Used by stage-1 and stage-2 inference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from oceane2e.engine.distributed import DistInfo, barrier, broadcast_object
from oceane2e.errors import UserError
from oceane2e.outputs import create_npy


def sharded_rows(
    n_items: int,
    row_shapes: Mapping[str, Sequence[int]],
    compute: Callable[[list[int]], Mapping[str, np.ndarray]],
    parts_dir: str | Path,
    info: DistInfo,
    *,
    batch_size: int = 8,
    desc: str = "inference",
    show_progress: bool = True,
) -> dict[str, Path]:
    """Fill one ``(n_items, *row_shape)`` float32 ``.npy`` per name, rows split across ranks.

    Args:
        n_items: number of rows (e.g. forecast start dates, sorted by date).
        row_shapes: name -> shape of one row, e.g. ``{"outputs": (L, H, W)}``.
        compute: given a list of row indices, returns name -> array (len(indices), *row_shape).
        parts_dir: folder for the arrays (created by rank 0).
        info: the process group (one process when not distributed).
        batch_size: rows per ``compute`` call.

    Returns:
        name -> path of the complete ``.npy`` (valid on every rank after the final barrier).
    """
    parts = Path(parts_dir)
    paths = {name: parts / f"{name}.npy" for name in row_shapes}
    failed: Exception | None = None
    if info.is_main:
        try:
            parts.mkdir(parents=True, exist_ok=True)
            for name, shape in row_shapes.items():
                create_npy(paths[name], (n_items, *shape)).flush()  # a full disk: an error naming the file
        except Exception as err:  # noqa: BLE001 - raised below, after every rank has heard of it
            failed = err
    # every rank learns of rank 0's failure (instead of waiting at the barrier until the collective's timeout)
    why = broadcast_object(None if failed is None else " ".join(str(failed).split()), info)
    if failed is not None:
        raise failed
    if why is not None:
        raise UserError(f"rank 0 could not make the output arrays in {parts}: {why}")
    barrier(info)
    arrays = {name: np.load(path, mmap_mode="r+") for name, path in paths.items()}
    mine = list(range(info.rank, n_items, info.world_size))
    for start in tqdm(range(0, len(mine), batch_size), desc=desc, disable=not (info.is_main and show_progress)):
        idx = mine[start : start + batch_size]
        rows = compute(idx)
        for name, arr in arrays.items():
            arr[idx] = np.asarray(rows[name], dtype=np.float32)
    for arr in arrays.values():
        arr.flush()
    del arrays
    barrier(info)
    return paths
