"""Command-line arguments shared by every ``train_*.py`` / ``inference*.py`` entry point."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oceane2e.config import parse_override


def build_parser(description: str, default_config: str | Path) -> argparse.ArgumentParser:
    """``--config``, ``--resume``/``--fresh``/``--allow-config-change`` (training), ``--overwrite``
    (inference), ``--debug``, ``--local-rank``/``--local_rank`` (deprecated launcher), ``-o key=value``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, default=Path(default_config), help="YAML config file")
    parser.add_argument("--resume", action="store_true",
                        help="training: continue from the last checkpoint (or the best one if the last is gone)")
    parser.add_argument("--fresh", action="store_true",
                        help="training: start over; an earlier run's checkpoints and logs are moved to previous/")
    parser.add_argument("--allow-config-change", action="store_true",
                        help="training: --resume even though the config changed in keys that should not (warns)")
    parser.add_argument("--overwrite", action="store_true",
                        help="inference: replace earlier result files (same as -o inference.overwrite=true)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument("--local-rank", "--local_rank", dest="local_rank", type=int, default=None,
                        help="set by the deprecated torch.distributed.launch; torchrun uses LOCAL_RANK")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. -o train.epochs=2 (repeatable; value parsed as YAML)")
    return parser


def parse_args(argv: Sequence[str] | None, description: str, default_config: str | Path) -> argparse.Namespace:
    """Parse the common arguments; ``args.overrides`` is the dict of ``-o`` overrides."""
    args = build_parser(description, default_config).parse_args(argv)
    overrides: dict[str, Any] = {}
    for text in args.override:
        key, value = parse_override(text)
        overrides[key] = value
    args.overrides = overrides
    return args
