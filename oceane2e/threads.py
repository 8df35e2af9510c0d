"""CPU threads that do not collapse when the machine is busy (docs/benchmarks.md, "Threads").

With the OpenMP default wait policy, torch's intra-op threads spin while waiting for each other; on
a 2-core machine with one other CPU-bound process, a spinning thread shares its core with that
process and a training step slowed from ~0.3 s to 12-28 s (issue 15.10; 3-8 s measured here).
``OMP_WAIT_POLICY=PASSIVE`` makes waiting threads sleep: measured, a busy machine then costs
1.3-2x, while the thread count (and so the speed on an idle machine) is kept. The variable is read
when torch loads OpenMP, so :func:`prefer_passive_openmp` must run before ``import torch``; the
entry points (:mod:`oceane2e.entry`, ``python -m oceane2e``) call it first. A value the user set
wins; ``train.num_threads`` still sets the thread count.
"""

from __future__ import annotations

import os


def prefer_passive_openmp() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the environment already says otherwise."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cpu_budget() -> int:
    """Cores this process may keep busy with its own worker threads: ``OMP_NUM_THREADS`` when set to a positive
    integer (the pipeline's second process has 1: the other core is the main process'), else the CPU count.

    The thread pools of the numpy work (the evaluation's scoring, the MHW calibration's candidate scales) size
    themselves by it: two threads in a process meant to use one core took the other process' core."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1
