"""The body shared by every ``train_*.py`` / ``inference*.py`` entry point.

Parse the common arguments (``--config``, ``--resume``/``--fresh``/``--allow-config-change``,
``--overwrite``, ``--debug``, ``--local-rank``/``--local_rank``, ``-o key=value``), load and validate
the config, set up the process group from the torchrun environment (or one process), run the action,
tear down. Every user error (:class:`oceane2e.errors.UserError`, and the OS errors a user causes)
ends as one line on stderr and exit status 2; ``--debug`` shows the traceback instead.

The entry points import this module first, so it chooses the OpenMP wait policy before torch is
imported (:mod:`oceane2e.threads`: a busy machine must not slow training 40-fold) and applies the choice of CPU
vector paths (:mod:`oceane2e.cpu_isa`: the libraries' own, or with ``OCEANE2E_CPU_ISA=avx2`` AVX2 on every x86 CPU).
"""

from __future__ import annotations

from oceane2e.cpu_isa import pin_cpu_vector_paths
from oceane2e.threads import prefer_passive_openmp

prefer_passive_openmp()  # before anything imports torch
pin_cpu_vector_paths()  # before numpy and torch: the vector paths asked for (oceane2e.cpu_isa)

import argparse  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from oceane2e.engine.cli import parse_args  # noqa: E402
from oceane2e.engine.distributed import DistInfo, distributed_context  # noqa: E402
from oceane2e.engine.runfiles import RunStart  # noqa: E402
from oceane2e.errors import report_user_errors  # noqa: E402
from oceane2e.memory import keep_freed_memory  # noqa: E402


def run_entry(
    argv: Sequence[str] | None,
    description: str,
    default_config: str | Path,
    load: Callable[[Path, dict[str, Any]], Any],
    action: Callable[[Any, argparse.Namespace, DistInfo], None],
) -> int:
    """Run ``action(cfg, args, dist_info)`` with the config ``load(args.config, overrides)``.

    ``args.resume`` is a :class:`~oceane2e.engine.runfiles.RunStart` (truthy when ``--resume``),
    which the stages pass on to the trainer unchanged; ``--overwrite`` sets ``inference.overwrite``
    where the config has it and stays in ``args.overwrite`` for the other commands (cycling, ensembles).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    keep_freed_memory()  # before the first tensor: freed memory stays for reuse (oceane2e.memory)

    def body() -> int:
        args = parse_args(argv, description, default_config)
        args.resume = RunStart(resume=args.resume, fresh=args.fresh, allow_config_change=args.allow_config_change)
        cfg = load(args.config, args.overrides)
        inference = getattr(cfg, "inference", None)
        if args.overwrite and inference is not None and "overwrite" in type(inference).model_fields:
            cfg = cfg.model_copy(update={"inference": inference.model_copy(update={"overwrite": True})})
        with distributed_context(args.local_rank) as info:
            action(cfg, args, info)
        return 0

    return report_user_errors(Path(sys.argv[0]).name or "oceane2e", body, debug="--debug" in argv)
