"""How a training run starts: fresh, continued, or refused — without ever destroying history.

A run ``<name>`` owns four files: ``<name>_last.pth`` and ``<name>_best_model.pth`` (checkpoint
folder), ``<name>_training_log.log`` and ``<name>_metrics.csv`` (log folder). The rules:

* a new run refuses to start on top of an earlier one's checkpoints or metrics
  (:class:`~oceane2e.errors.RunExistsError`): continue it with ``--resume`` or start over with
  ``--fresh``, which MOVES the old files to ``<folder>/previous/<name>-<time>/`` (nothing deleted);
* ``--resume`` continues from ``_last.pth``, or from ``_best_model.pth`` when the last one is gone
  (both hold the full training state);
* ``--resume`` compares the stored config with the current one and refuses keys that must not
  change (:class:`~oceane2e.errors.ResumeConfigError`, with the diff) unless
  ``--allow-config-change``; :data:`RESUME_MAY_CHANGE` lists what may change (docs/errors.md);
* the log is append-only; the metrics CSV is made consistent with the checkpoint's history
  (rows after the resumed epoch move to ``<name>_metrics_superseded.csv``).
"""

from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oceane2e.engine.config import TrainConfig
from oceane2e.errors import ResumeConfigError, RunExistsError

#: dotted config keys that may differ between a checkpoint and ``--resume`` (glob patterns)
RESUME_MAY_CHANGE: tuple[str, ...] = (
    "train.epochs",  # extend or shorten the run (the cosine schedule is re-spread over the new total)
    "train.log_every",
    "train.num_threads",
    "train.val_batch_size",  # the validation mean is over all windows, whatever the batch
    "train.val_from_epoch",  # which epochs are scored (candidates for the best checkpoint); training unchanged
    "train.grad_checkpoint",  # memory only, same numbers
    "train.checkpoint_dir",  # the run was moved
    "train.log_dir",
    "train.on_nonfinite",
    "data.num_workers",
    "inference.*",  # inference settings do not touch training
)


@dataclass(frozen=True)
class RunStart:
    """How :meth:`Trainer.train` starts: ``--resume``, ``--fresh``, ``--allow-config-change``.

    Truthy exactly when ``resume`` is set, so it can be passed wherever a ``resume: bool`` is expected.
    """

    resume: bool = False
    fresh: bool = False
    allow_config_change: bool = False

    def __post_init__(self) -> None:
        if self.resume and self.fresh:
            raise ResumeConfigError("--resume and --fresh exclude each other: continue the run, or start over")

    def __bool__(self) -> bool:
        return self.resume

    @classmethod
    def of(cls, value: bool | RunStart) -> RunStart:
        return value if isinstance(value, RunStart) else cls(resume=bool(value))


def run_files(cfg: TrainConfig) -> list[Path]:
    """The files of run ``cfg.name``: last and best checkpoints, metrics CSV, text log."""
    return [cfg.last_checkpoint, cfg.best_checkpoint, cfg.metrics_file, cfg.log_file]


def refuse_to_clobber(cfg: TrainConfig) -> None:
    """A new run must not start on top of an earlier run's checkpoints or metrics."""
    found = [p for p in (cfg.last_checkpoint, cfg.best_checkpoint, cfg.metrics_file) if p.exists()]
    if found:
        raise RunExistsError(
            f"{', '.join(map(str, found))}: an earlier run of {cfg.name} exists; continue it with --resume, "
            f"or start over with --fresh (moves its files to {cfg.checkpoint_dir / 'previous'} and "
            f"{cfg.log_dir / 'previous'}; nothing is deleted)")


def move_run_aside(cfg: TrainConfig) -> list[tuple[Path, Path]]:
    """Move the run's files to ``<folder>/previous/<name>-<YYYYmmdd-HHMMSS>/``; returns (old, new) pairs."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for path in run_files(cfg):
        if not path.exists():
            continue
        dest_dir = path.parent / "previous" / f"{cfg.name}-{stamp}"
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / path.name
        os.replace(path, dest)
        moved.append((path, dest))
    return moved


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists are compared as whole values."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out |= flatten(v, f"{prefix}{k}.")
        return out
    return {prefix[:-1]: data}


def config_changes(stored: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Differences ``key: old -> new`` between two config dicts, split into (forbidden, allowed)."""
    old, new = flatten(stored), flatten(current)
    forbidden, allowed = [], []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if a == b:
            continue
        line = f"{key}: {a!r} -> {b!r}"
        (allowed if any(fnmatch.fnmatchcase(key, pat) for pat in RESUME_MAY_CHANGE) else forbidden).append(line)
    return forbidden, allowed


def check_resume_config(path: Path, state: dict[str, Any], train_config: dict[str, Any],
                        full_config: dict[str, Any] | None, *, allow: bool) -> list[str]:
    """Compare the checkpoint's config with the current one; returns the diff lines to warn about.

    Raises:
        ResumeConfigError: keys outside :data:`RESUME_MAY_CHANGE` changed and ``allow`` is False.
    """
    stored_full = (state.get("extras") or {}).get("config")
    if full_config is not None and isinstance(stored_full, dict):
        forbidden, allowed = config_changes(stored_full, full_config)
    else:
        forbidden, allowed = config_changes({"train": state.get("train_config", {})}, {"train": train_config})
    if forbidden and not allow:
        raise ResumeConfigError(
            f"{path}: --resume with a changed config ({'; '.join(forbidden)}); the run would continue "
            "with settings it was not started with - restore them, start over with --fresh, or pass "
            "--allow-config-change to continue anyway")
    return forbidden + allowed
