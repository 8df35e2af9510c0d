"""Result files are never overwritten silently.

:func:`claim_outputs` is called by every inference before it computes anything: when one of its
result files exists already, it refuses (:class:`~oceane2e.errors.OutputExistsError`, naming the
files and the flag) unless overwriting was asked for (``--overwrite`` or ``inference.overwrite:
true``), and then it says which files will be replaced.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oceane2e.errors import OutputExistsError, UserError

#: the sub-folder of a results folder that holds the models' hindcasts of the validation years
#: (``inference.split: val``), from which the evaluation fits its lead-calibrated MHW thresholds
HINDCAST_DIR = "hindcast"


class DiskSpaceError(UserError, OSError):
    """An output file does not fit on its disk; the message names the file, the size and the space left."""


def _reserve(fd: int, size: int) -> bool:
    """Reserve the first ``size`` bytes of the open file ``fd`` on its disk with Linux ``fallocate(2)`` -> True;
    False where that cannot be done (another system, or a file system without it: unlike ``posix_fallocate`` this
    never falls back to writing every block, which takes minutes for gigabytes on a network disk). A disk without room
    raises ``OSError`` (ENOSPC, EDQUOT or EFBIG)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fallocate = getattr(libc, "fallocate64", None) or libc.fallocate
    except (OSError, AttributeError):
        return False
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
    fallocate.restype = ctypes.c_int
    if fallocate(fd, 0, 0, size) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        raise OSError(code, os.strerror(code))
    return False


def create_npy(path: str | Path, shape: Sequence[int], dtype: Any = "float32") -> Any:
    """A new ``.npy`` file of ``shape`` opened as a writable memory map (``np.lib.format.open_memmap``, mode
    ``w+``), with its disk blocks reserved at once (:func:`_reserve`).

    Without the reservation the file is sparse: a disk without room for it fails only when a page of the map is
    first written, and then the process is killed by SIGBUS with no word of which file. With it, such a disk is a
    :class:`DiskSpaceError` here, naming the file, its size and the space left, and the file is removed. Where blocks
    cannot be reserved (other systems, some file systems) the map is made as before.
    """
    import numpy as np

    path = Path(path)
    try:
        array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(int(n) for n in shape))
    except Exception as err:  # its header or last byte found no room
        drop_failed(path, err, lambda: path.unlink(missing_ok=True))
        raise
    size = path.stat().st_size
    fd = os.open(path, os.O_RDWR)
    try:
        _reserve(fd, size)
    except OSError as err:
        del array
        path.unlink(missing_ok=True)
        import shutil

        free = shutil.disk_usage(path.parent).free
        raise DiskSpaceError(f"{path}: {size / 2**20:,.0f} MiB do not fit on its disk ({free / 2**20:,.0f} MiB free, "
                             f"{os.strerror(err.errno)}); free space there or write the outputs to another disk "
                             f"(results_dir, inference.results_dir, data folder)") from None
    finally:
        os.close(fd)
    return array


#: below this much free space on its disk, a failed write counts as one that found the disk full: HDF5 (NetCDF-4)
#: reports a full disk only as "NetCDF: HDF error", and numpy's ``save`` as "N requested and M written"
NEARLY_FULL_BYTES = 64 * 2**20


def disk_space_error(path: str | Path, err: BaseException) -> DiskSpaceError | None:
    """A :class:`DiskSpaceError` naming ``path`` when the failure ``err`` of writing it came from a full disk (an
    ENOSPC / EDQUOT error, or any error but a user error with less than :data:`NEARLY_FULL_BYTES` left on the disk),
    else None."""
    import shutil

    if isinstance(err, UserError) or not isinstance(err, Exception):  # a user error names its own cause
        return None
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= NEARLY_FULL_BYTES and not (isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)):
        return None
    return DiskSpaceError(f"{path}: could not be written with {free / 2**20:,.1f} MiB free on its disk "
                          f"({type(err).__name__}: {' '.join(str(err).split())}); free space there or write the outputs "
                          f"to another disk (results_dir, inference.results_dir, data folder)")


def drop_failed(path: str | Path, err: BaseException, drop: Callable[[], object]) -> None:
    """After writing ``path`` failed with ``err``: ``drop()`` what was written, and raise a :class:`DiskSpaceError`
    naming ``path`` when the disk was full (judged before the drop frees its space); else return, and the caller lets
    ``err`` go on."""
    full = disk_space_error(path, err)
    drop()
    if full is not None:
        raise full from err


@contextmanager
def written(path: str | Path) -> Iterator[Path]:
    """Write a file under a temporary name next to ``path`` (the name yielded), moved into place when the block ends.

    When the block raises, the temporary file is removed (nothing half-written is left, nothing earlier replaced),
    and a failure on a full disk becomes a :class:`DiskSpaceError` naming ``path`` (:func:`disk_space_error`)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp")  # fixed: what an interrupted run leaves, the next one replaces
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        drop_failed(path, err, lambda: tmp.unlink(missing_ok=True))
        raise


def save_npy(path: str | Path, array: Any) -> Path:
    """``np.save`` through :func:`written`: a full disk is a :class:`DiskSpaceError`, never a partial file."""
    import numpy as np

    with written(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)
    return Path(path)


def claim_outputs(paths: Iterable[str | Path], *, overwrite: bool, what: str, announce: bool = True) -> list[Path]:
    """Check that writing ``paths`` replaces nothing, or that replacing was asked for.

    Args:
        paths: the files the command is about to write.
        overwrite: replacing existing files was asked for (``--overwrite`` / ``inference.overwrite``).
        what: what writes them, for the messages (e.g. ``"Oceane2e inference"``).
        announce: print which files will be replaced (rank 0 only under DDP).

    Returns:
        The existing files that will be replaced (empty when none exists).

    Raises:
        OutputExistsError: a file exists and ``overwrite`` is False.
    """
    existing = [Path(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        names = ", ".join(str(p) for p in existing)
        raise OutputExistsError(
            f"{names}: already exist{'s' if len(existing) == 1 else ''}; {what} would replace "
            f"{'it' if len(existing) == 1 else 'them'} - pass --overwrite (or set inference.overwrite: true), "
            "or move the earlier results aside first")
    if existing and announce:
        print(f"{what}: replacing {', '.join(str(p) for p in existing)} (--overwrite)", file=sys.stderr, flush=True)
    return existing
