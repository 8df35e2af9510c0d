"""Rank-0 logging: a text log ``<name>_training_log.log`` and a per-epoch CSV ``<name>_metrics.csv``."""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path
from typing import Any

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup_run_logger(name: str, log_file: Path | None, *, is_main: bool, append: bool) -> logging.Logger:
    """Logger ``oceane2e.run.<name>``: on rank 0 to ``log_file`` and stderr; elsewhere warnings only.

    Args:
        append: keep an existing log (resumed run) instead of starting it anew.
    """
    logger = logging.getLogger(f"oceane2e.run.{name}")
    logger.setLevel(logging.INFO if is_main else logging.WARNING)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(stream)
    if is_main and log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, mode="a" if append else "w")
        fh.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(fh)
    return logger


def close_run_logger(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


class MetricsCSV:
    """Append one row per epoch; the columns are fixed by the first row written to a new file."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not append and path.exists():
            path.unlink()
        self._columns: list[str] | None = None
        if append and path.exists() and path.stat().st_size > 0:
            with path.open(newline="") as f:
                self._columns = next(csv.reader(f), None)

    def write(self, row: dict[str, Any]) -> None:
        new = self._columns is None
        if new:
            self._columns = list(row)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """Rows of a metrics CSV as dicts of strings (for tests and reports)."""
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))
