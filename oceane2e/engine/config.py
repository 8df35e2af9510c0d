"""The ``train:`` section shared by every stage: optimiser, schedule, checkpoints, logging, DDP knobs.

Every model of the project (stage 1, the hybrid, the baselines) is trained by one engine
(:class:`oceane2e.engine.trainer.Trainer`) configured by :class:`TrainConfig`. Unknown or mistyped
keys fail with their dotted name (``StrictModel``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from oceane2e.config import StrictModel


class OptimConfig(StrictModel):
    """Optimiser (AdamW by default; learning rate and weight decay live in :class:`TrainConfig`)."""

    name: Literal["adamw", "adam", "sgd"] = Field("adamw", description="torch.optim optimiser")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam(W) moment decay rates")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (ignored by Adam/AdamW)")


class SchedulerConfig(StrictModel):
    """Learning-rate schedule, stepped once per optimiser step.

    * ``cosine``: linear warm-up over ``warmup_epochs`` then cosine decay to ``lr * min_lr_ratio``.
    * ``onecycle``: torch's OneCycleLR with peak ``lr`` (``pct_start`` of the steps rising).
    * ``none``: constant ``lr``.
    """

    name: Literal["cosine", "onecycle", "none"] = Field("cosine", description="schedule kind")
    warmup_epochs: float = Field(0.0, ge=0, description="cosine: epochs of linear warm-up from 0")
    min_lr_ratio: float = Field(0.01, ge=0, le=1, description="cosine: final lr as a fraction of lr")
    pct_start: float = Field(0.3, gt=0, lt=1, description="onecycle: fraction of steps spent rising")


class RolloutStage(StrictModel):
    """From epoch ``from_epoch`` (0-based) on, train on autoregressive rollouts of ``length`` steps."""

    from_epoch: int = Field(..., ge=0, description="first epoch (0-based) of this stage")
    length: int = Field(..., ge=1, description="rollout steps (model calls) in the loss")


class TrainConfig(StrictModel):
    """How to train one model; the engine knows nothing of which model it trains.

    Paths are relative to the working directory. Outputs (rank 0 only):
    ``<checkpoint_dir>/<name>_best_model.pth`` (lowest validation loss),
    ``<checkpoint_dir>/<name>_last.pth`` (resume point),
    ``<log_dir>/<name>_training_log.log`` and ``<log_dir>/<name>_metrics.csv``.
    """

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="run / model name used in file names, e.g. MultiConv")
    seed: int = Field(0, description="seed of python, numpy and torch (weights, shuffling)")
    epochs: int = Field(10, ge=1, description="number of passes over the training windows")
    batch_size: int = Field(8, ge=1, description="GLOBAL batch size: split evenly across ranks")
    val_batch_size: int | None = Field(None, ge=1, description="global validation batch size (default batch_size)")
    lr: float = Field(1e-3, gt=0, description="peak learning rate")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (AdamW) / L2 (others)")
    optimizer: OptimConfig = Field(default_factory=OptimConfig, description="optimiser kind and moments")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="learning-rate schedule")
    grad_clip: float | None = Field(1.0, gt=0, description="max global gradient norm; null = no clipping")
    on_nonfinite: Literal["stop", "skip"] = Field(
        "stop", description="a non-finite loss or gradient: stop with a message naming the step, or skip the step")
    max_skipped_steps: int = Field(
        10, ge=1, description="on_nonfinite=skip: stop anyway after this many non-finite steps in a row")
    log_every: int = Field(50, ge=1, description="optimiser steps between log lines")
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap on optimiser steps per epoch (quick runs)")
    checkpoint_dir: Path = Field(Path("checkpoints"), description="where checkpoints are written")
    log_dir: Path = Field(Path("logs"), description="where the training log and metrics CSV are written")
    rollout_schedule: list[RolloutStage] = Field(
        default_factory=lambda: [RolloutStage(from_epoch=0, length=1)],
        description="rollout-length curriculum; the stepper reads the length of the current epoch",
    )
    bf16: bool = Field(False, description="bf16 autocast of the networks on GPU (ignored on CPU)")
    grad_checkpoint: bool = Field(False, description="passed to the stepper: checkpoint each rollout day")
    num_threads: int | None = Field(None, ge=1, description="torch intra-op threads per process (default torch's)")
    val_from_epoch: Annotated[int, Field(ge=0)] | Literal["longest_rollout"] = Field(
        0, description="first epoch (0-based) scored on the validation split, i.e. a candidate for the best "
        "checkpoint; earlier epochs are trained and checkpointed (last) but not validated. 'longest_rollout': the first "
        "epoch of the schedule's longest rollout (stage 1 and 2 validate rollouts of that length, so epochs trained "
        "on shorter ones are not scored). The last epoch is always validated")

    @model_validator(mode="after")
    def _check_schedule(self) -> TrainConfig:
        starts = [s.from_epoch for s in self.rollout_schedule]
        if not starts or starts[0] != 0:
            raise ValueError("rollout_schedule: the first stage must have from_epoch: 0")
        if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
            raise ValueError(f"rollout_schedule: from_epoch must increase strictly, got {starts}")
        return self

    def rollout_length(self, epoch: int) -> int:
        """Rollout length of 0-based ``epoch`` from :attr:`rollout_schedule`."""
        length = self.rollout_schedule[0].length
        for stage in self.rollout_schedule:
            if epoch >= stage.from_epoch:
                length = stage.length
        return length

    @property
    def max_rollout_length(self) -> int:
        """The longest rollout of the schedule (datasets must provide that many target days)."""
        return max(s.length for s in self.rollout_schedule)

    @property
    def first_validated_epoch(self) -> int:
        """The first 0-based epoch that :attr:`val_from_epoch` validates (never after the last epoch)."""
        if self.val_from_epoch == "longest_rollout":
            first = next(s.from_epoch for s in self.rollout_schedule if s.length == self.max_rollout_length)
        else:
            first = self.val_from_epoch
        return min(first, self.epochs - 1)

    def validates(self, epoch: int) -> bool:
        """Whether 0-based ``epoch`` is scored on the validation split (see :attr:`val_from_epoch`)."""
        return epoch >= self.first_validated_epoch

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoint_dir / f"{self.name}_best_model.pth"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoint_dir / f"{self.name}_last.pth"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}_training_log.log"

    @property
    def metrics_file(self) -> Path:
        return self.log_dir / f"{self.name}_metrics.csv"
