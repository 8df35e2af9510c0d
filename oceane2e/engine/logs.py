"""Rank-0 logging: a text log ``<name>_training_log.log`` and a per-epoch CSV ``<name>_metrics.csv``.

Both are append-only: nothing here truncates or deletes them. A resumed run makes the CSV agree
with its checkpoint (:meth:`MetricsCSV.reconcile`), moving rows of epochs it will redo aside.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
from pathlib import Path
from typing import Any

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup_run_logger(name: str, log_file: Path | None, *, is_main: bool) -> logging.Logger:
    """Logger ``oceane2e.run.<name>``: on rank 0 appended to ``log_file`` and stderr; elsewhere warnings only."""
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
        fh = logging.FileHandler(log_file, mode="a")
        fh.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(fh)
    return logger


def close_run_logger(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


class MetricsCSV:
    """Append one row per epoch; the columns are fixed by the first row written to a new file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._columns: list[str] | None = None
        if path.exists() and path.stat().st_size > 0:
            with path.open(newline="") as f:
                self._columns = next(csv.reader(f), None)

    @property
    def superseded_path(self) -> Path:
        return self.path.with_name(self.path.stem + "_superseded.csv")

    def reconcile(self, history: list[dict[str, Any]]) -> int:
        """Make the file hold exactly ``history`` (the resumed checkpoint's rows, all-reduced values).

        Rows of later epochs (written after that checkpoint: a kill between the row and the next
        checkpoint, or a resume from the best checkpoint) are appended to :attr:`superseded_path`
        instead of being lost; rows the checkpoint has but the file lacks are added. Returns the
        number of rows moved aside.
        """
        old = read_metrics(self.path) if self.path.exists() and self.path.stat().st_size > 0 else []
        upto = max((int(r["epoch"]) for r in history), default=0)
        dropped = [r for r in old if int(float(r["epoch"])) > upto]
        if dropped:
            columns = list(dropped[0])
            new_file = not self.superseded_path.exists()
            with self.superseded_path.open("a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                if new_file:
                    writer.writeheader()
                writer.writerows(dropped)
        columns = _joined(self._columns, history) if history else self._columns
        self._rewrite(columns, history)
        return len(dropped)

    def write(self, row: dict[str, Any]) -> None:
        """Append ``row``; a key no earlier row had (the validation metrics of the first validated epoch after
        epochs without validation, ``train.val_from_epoch``) adds a column, the earlier rows left empty there."""
        if self._columns is not None and not set(row) <= set(self._columns):
            old = read_metrics(self.path) if self.path.exists() and self.path.stat().st_size > 0 else []
            self._rewrite(_joined(self._columns, [row]), old)
        new = self._columns is None
        if new:
            self._columns = list(row)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _rewrite(self, columns: list[str] | None, rows: list[dict[str, Any]]) -> None:
        """Replace the file (atomically) by ``rows`` under ``columns``."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("w", newline="") as f:
            if columns:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        os.replace(tmp, self.path)
        self._columns = columns


def _joined(columns: list[str] | None, rows: list[dict[str, Any]]) -> list[str]:
    """``columns`` followed by the keys of ``rows`` not among them, in the order they first appear."""
    out = list(columns or [])
    for row in rows:
        out += [k for k in row if k not in out]
    return out


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """Rows of a metrics CSV as dicts of strings (for tests and reports)."""
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))
