"""Child processes that end with their parent, and SIGTERM as a clean exit (the pipeline's second lane, the
evaluation's ensemble scoring)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["die_with_parent", "sigterm_raises_exit"]


def die_with_parent() -> None:
    """Linux: have the kernel send this process SIGTERM when its parent dies, however it dies (``kill -9`` too).

    Without it the side lane of a killed pipeline ran on, orphaned, through all its remaining steps (measured:
    still training after the main process was gone) and raced the next run for the same checkpoints. Elsewhere a
    no-op; the side lane then also checks its parent before each step.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no libc prctl: the check before each step remains
        pass


@contextmanager
def sigterm_raises_exit() -> Iterator[None]:
    """Within it, SIGTERM raises ``SystemExit(143)`` in the main thread, so ``finally`` blocks run (the side process
    is stopped) instead of the process vanishing; the previous handler comes back after."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
