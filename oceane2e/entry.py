"""The body shared by every ``train_*.py`` / ``inference*.py`` entry point.

Parse the common arguments (``--config``, ``--resume``, ``--local-rank``/``--local_rank``,
``-o key=value``), load and validate the config (errors name the key and exit with status 2), set
up the process group from the torchrun environment (or one process), run the action, tear down.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from oceane2e.config import ConfigError
from oceane2e.engine.cli import parse_args
from oceane2e.engine.distributed import DistInfo, distributed_context


def run_entry(
    argv: Sequence[str] | None,
    description: str,
    default_config: str | Path,
    load: Callable[[Path, dict[str, Any]], Any],
    action: Callable[[Any, argparse.Namespace, DistInfo], None],
) -> int:
    """Run ``action(cfg, args, dist_info)`` with the config ``load(args.config, overrides)``."""
    args = parse_args(argv, description, default_config)
    try:
        cfg = load(args.config, args.overrides)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    with distributed_context(args.local_rank) as info:
        action(cfg, args, info)
    return 0
