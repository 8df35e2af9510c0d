"""Freed memory kept for reuse by the process, not handed back to the OS after every tensor (glibc's malloc).

torch allocates every CPU tensor with the C library's ``malloc``. glibc serves large blocks with ``mmap`` and
gives freed memory at the top of its heap back with ``brk`` once it exceeds a small threshold (128 KiB at the
start). A forecast or a training step makes and frees thousands of tensors of a few MiB each, so the same
memory went back to the OS and came again, and every 4 KiB page of it was zeroed by the kernel on its first
touch: measured on the 2-core Intel Xeon box (a Firecracker VM, where a page fault is dear), the hybrid's test
inference spent 9 % of its samples in the kernel's page-fault path, and took 62 s instead of 57 s (median of
two runs each, alternating; the same output bit for bit) with the thresholds below (docs/benchmarks.md,
"Freed memory kept").

:func:`keep_freed_memory` sets them with ``mallopt`` (glibc only; elsewhere it does nothing):
blocks up to 32 MiB (glibc's largest mmap threshold) come from the heap, and the heap is never trimmed, so
after the first step its pages are reused. The resident memory then stays at the step's peak rather than
falling back between steps; the peak itself does not change. ``OCEANE2E_MALLOC=default`` leaves glibc's
behaviour alone; a ``GLIBC_TUNABLES`` setting of the malloc thresholds wins too. Allocation addresses do not
enter any result: torch aligns every tensor to 64 bytes either way, and the outputs are the same bit for bit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

SWITCH = "OCEANE2E_MALLOC"
CHOICES = ("keep", "default")
#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
#: glibc's largest mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX): larger blocks stay mmapped
MMAP_THRESHOLD = 32 * 1024**2
#: never trim the heap (glibc: -1 disables trimming)
TRIM_THRESHOLD = -1
#: heap growth per brk beyond the request
TOP_PAD = 64 * 1024**2
#: the settings keep_freed_memory makes, by mallopt parameter
SETTINGS = {M_MMAP_THRESHOLD: MMAP_THRESHOLD, M_TRIM_THRESHOLD: TRIM_THRESHOLD, M_TOP_PAD: TOP_PAD}


def _glibc() -> ctypes.CDLL | None:
    """The running process' C library if it is glibc (it has ``gnu_get_libc_version``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def keep_freed_memory(environ: dict[str, str] | None = None, libc: object | None = None) -> dict[int, int]:
    """Set glibc's malloc thresholds so that freed tensors' memory is reused (see the module); return what was set.

    Does nothing (returns ``{}``) without glibc, under ``OCEANE2E_MALLOC=default``, or when ``GLIBC_TUNABLES``
    already sets a malloc threshold (the user's choice wins). ``libc``: for tests, an object with ``mallopt``.
    """
    env = os.environ if environ is None else environ
    choice = env.get(SWITCH, "keep").strip().lower()
    if choice not in CHOICES:
        sys.exit(f"error: {SWITCH}={env[SWITCH]!r}: expected 'keep' (the default: freed memory stays with the process "
                 f"for reuse) or 'default' (glibc's own thresholds). Fix or unset it.")
    tunables = env.get("GLIBC_TUNABLES", "")
    if choice == "default" or "malloc.mmap_threshold" in tunables or "malloc.trim_threshold" in tunables:
        return {}
    lib = _glibc() if libc is None else libc
    if lib is None:
        return {}
    done = {}
    for param, value in SETTINGS.items():
        if lib.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1:  # mallopt returns 1 on success
            done[param] = value
    return done
