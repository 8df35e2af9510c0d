"""Result files are never overwritten silently.

:func:`claim_outputs` is called by every inference before it computes anything: when one of its
result files exists already, it refuses (:class:`~oceane2e.errors.OutputExistsError`, naming the
files and the flag) unless overwriting was asked for (``--overwrite`` or ``inference.overwrite:
true``), and then it says which files will be replaced.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from oceane2e.errors import OutputExistsError

#: the sub-folder of a results folder that holds the models' hindcasts of the validation years
#: (``inference.split: val``), from which the evaluation fits its lead-calibrated MHW thresholds
HINDCAST_DIR = "hindcast"


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
