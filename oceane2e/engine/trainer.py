"""The one training engine: a generic :class:`Trainer` behind a small :class:`Stepper` protocol.

The trainer owns everything that is not specific to a model: optimiser and learning-rate schedule,
DDP wrapping, data sharding (``DistributedSampler`` + ``set_epoch``), bf16 autocast on GPU, gradient
clipping, metric all-reduction, rank-0 logging and CSV, atomic self-checking checkpoints, exact
resume (also from the middle of an epoch), SIGTERM/SIGINT handling and the choice of the best
checkpoint on the validation split. A stage supplies a :class:`Stepper` that turns ``(model, batch)``
into a loss; the trainer never looks at which model it trains.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

from oceane2e.engine.checkpoint import (
    CheckpointError,
    capture_rng_state,
    clean_orphan_temps,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from oceane2e.engine.config import TrainConfig
from oceane2e.engine.distributed import (
    DistInfo,
    all_gather_objects,
    all_reduce_sum,
    any_rank,
    barrier,
    current_dist_info,
)
from oceane2e.engine.logs import MetricsCSV, close_run_logger, setup_run_logger
from oceane2e.engine.runfiles import RunStart, check_resume_config, move_run_aside, refuse_to_clobber
from oceane2e.errors import TrainingDivergedError


class _StopNow(BaseException):
    """Raised by the signal handler inside a step of a one-process run: abandon the step, save, exit."""


@dataclass
class StepContext:
    """What a stepper may need besides the model and the batch.

    Attributes:
        epoch: 0-based epoch; ``global_step``: optimiser steps done so far.
        rollout_length: from ``train.rollout_schedule`` for this epoch.
        grad_checkpoint: ``train.grad_checkpoint`` (checkpoint each rollout day).
        training: False during validation (the model is in eval mode, no gradients).
        device: the device the batch is on.
    """

    epoch: int
    global_step: int
    rollout_length: int
    grad_checkpoint: bool
    training: bool
    device: torch.device


@dataclass
class StepOutput:
    """Result of one stepper call on a local batch.

    Attributes:
        loss: 0-d tensor, the mean loss over the ``n`` local samples (back-propagated in training).
        n: number of samples in the local batch (the weight of this batch in epoch means).
        metrics: extra per-batch means (0-d tensors or floats) averaged over the epoch like the loss.
    """

    loss: Tensor
    n: int
    metrics: dict[str, Tensor | float] = field(default_factory=dict)


class Stepper(Protocol):
    """What a stage gives the engine: a model and a loss on one batch.

    ``model`` is the bare ``nn.Module`` (the trainer moves it to the device, wraps it in DDP and saves
    its ``state_dict``). ``compute_loss`` receives the model to call (the DDP wrapper in training, the
    bare module in validation) and a batch already on ``ctx.device``; it runs inside the trainer's
    autocast context (bf16 on GPU when configured), so float32-only parts (e.g. the physics kernel)
    must disable autocast themselves.
    """

    model: nn.Module

    def compute_loss(self, model: nn.Module, batch: Any, ctx: StepContext) -> StepOutput: ...


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.train`.

    ``history`` holds one dict per finished epoch (the CSV row); ``stopped`` is True when a signal or
    :meth:`Trainer.request_stop` ended the run early (a checkpoint was written).
    """

    history: list[dict[str, float]]
    best_val: float
    best_epoch: int
    stopped: bool
    global_step: int


def fast_layout(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Store the 4-D (convolution) weights of ``model`` channels-last on a CPU, in place.

    oneDNN then runs every convolution in its native layout instead of reordering the weights and
    activations at each call: 1.5× faster forward + backward for the demo's SimVP cores on 2 cores
    (46 → 30 ms per call, docs/benchmarks.md). Same arithmetic up to summation order (round-off);
    other devices keep their layout (not measured there).
    """
    if torch.device(device).type == "cpu":
        model.to(memory_format=torch.channels_last)
    return model


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) dict/list/tuple batch to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


class _ResumableSampler(Sampler[int]):
    """A ``DistributedSampler`` whose first ``skip_batches`` local batches can be skipped once (resume)."""

    def __init__(self, base: DistributedSampler, local_batch: int) -> None:
        self.base, self.local_batch, self.skip_batches = base, local_batch, 0

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        indices = list(self.base)[self.skip_batches * self.local_batch :]
        self.skip_batches = 0
        return iter(indices)

    def __len__(self) -> int:
        return max(len(self.base) - self.skip_batches * self.local_batch, 0)


class _ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...`` without padding: every validation sample counted once."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.indices = list(range(rank, n, world))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class _Meter:
    """Sums of ``value * n`` and of ``n`` per metric name; all-reduced across ranks for the epoch mean."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0.0

    def add(self, out: StepOutput) -> None:
        values = {"loss": out.loss, **out.metrics}
        for k, v in values.items():
            fv = float(v.detach().float().item()) if isinstance(v, Tensor) else float(v)
            self.sums[k] = self.sums.get(k, 0.0) + fv * out.n
        self.count += out.n

    def state(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}

    def load(self, state: dict[str, Any]) -> None:
        self.sums, self.count = dict(state["sums"]), float(state["count"])

    def reduce(self, info: DistInfo) -> dict[str, float]:
        """Epoch means over all ranks (sum of sums / sum of counts)."""
        keys = sorted(self.sums)
        keys = sorted(set().union(*all_gather_objects(keys, info)))
        vec = torch.tensor([self.sums.get(k, 0.0) for k in keys] + [self.count], dtype=torch.float64)
        tot = all_reduce_sum(vec, info)
        count = float(tot[-1])
        return {k: float(tot[i]) / count if count > 0 else math.nan for i, k in enumerate(keys)}


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.optimizer.betas)
    if cfg.optimizer.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.optimizer.betas)
    return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=cfg.optimizer.momentum)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step schedule over ``cfg.epochs * steps_per_epoch`` optimiser steps."""
    total = max(cfg.epochs * steps_per_epoch, 1)
    sch = cfg.scheduler
    if sch.name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total,
                                                   pct_start=sch.pct_start)
    if sch.name == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    warm = int(round(sch.warmup_epochs * steps_per_epoch))

    def cosine(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        frac = min((step - warm) / max(total - warm, 1), 1.0)
        return sch.min_lr_ratio + (1 - sch.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)


class Trainer:
    """Train ``stepper.model`` on ``train_data``, choose the best checkpoint on ``val_data`` (scored after each epoch
    from ``train.val_from_epoch`` on).

    Args:
        config: the ``train:`` section.
        stepper: model + loss (see :class:`Stepper`).
        train_data, val_data: map-style datasets of the training and validation splits (never test).
        dist_info: from :func:`oceane2e.engine.distributed.setup_distributed`; default: the current
            process group, or one process.
        extras: stored in every checkpoint under ``"extras"`` (resolved full config, normalisation
            statistics, grid lat/lon/mask, ...), so a checkpoint is self-contained.
        collate_fn, num_workers: passed to the DataLoaders.
        show_progress: tqdm bars on rank 0.
    """

    def __init__(
        self, config: TrainConfig, stepper: Stepper, train_data: Dataset, val_data: Dataset, *,
        dist_info: DistInfo | None = None, extras: dict[str, Any] | None = None,
        collate_fn: Callable[[Sequence[Any]], Any] | None = None, num_workers: int = 0, show_progress: bool = True,
    ) -> None:
        self.cfg = config
        self.stepper = stepper
        self.info = dist_info or current_dist_info()
        self.extras = dict(extras or {})
        self.show_progress = show_progress
        world = self.info.world_size
        if config.batch_size % world:
            raise ValueError(
                f"train.batch_size={config.batch_size} (global) is not divisible by the {world} processes; "
                f"choose a multiple of {world}"
            )
        val_bs = config.val_batch_size or config.batch_size
        self.local_batch = config.batch_size // world
        if len(train_data) < config.batch_size:  # type: ignore[arg-type]
            raise ValueError(
                f"the training split has {len(train_data)} windows, fewer than train.batch_size="  # type: ignore[arg-type]
                f"{config.batch_size}; add training years or lower the batch size"
            )
        if len(val_data) == 0:  # type: ignore[arg-type]
            raise ValueError("the validation split has no windows; check data.val_years and the window lengths")
        # the loaders draw their worker seeds from their own generators, never from the global RNG,
        # so the model's random numbers (dropout) do not depend on how often a loader was iterated
        self.train_sampler = _ResumableSampler(
            DistributedSampler(train_data, num_replicas=world, rank=self.info.rank, shuffle=True,
                               seed=config.seed, drop_last=False),
            self.local_batch,
        )
        self.train_loader = DataLoader(train_data, batch_size=self.local_batch, sampler=self.train_sampler,
                                       collate_fn=collate_fn, num_workers=num_workers, drop_last=False,
                                       generator=torch.Generator().manual_seed(config.seed))
        self.val_loader = DataLoader(val_data, batch_size=max(val_bs // world, 1),
                                     sampler=_ShardSampler(len(val_data), self.info.rank, world),  # type: ignore[arg-type]
                                     collate_fn=collate_fn, num_workers=num_workers,
                                     generator=torch.Generator().manual_seed(config.seed))
        n_batches = math.ceil(len(self.train_sampler.base) / self.local_batch)
        self.steps_per_epoch = min(n_batches, config.max_steps_per_epoch or n_batches)
        self._stop = False
        self._interruptible = False

    # ----------------------------------------------------------------------------------- control
    def request_stop(self) -> None:
        """Ask the run to save a checkpoint and return after the current optimiser step."""
        self._stop = True

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop:  # second signal: give up at once
            raise KeyboardInterrupt(f"signal {signum} received twice")
        self._stop = True
        self.logger.warning("signal %d received: saving a checkpoint, then exiting", signum)
        if self._interruptible:  # one process, inside forward/backward: abandon the step now
            raise _StopNow

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.cfg.bf16 and self.info.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    # ------------------------------------------------------------------------------- checkpoints
    def _payload(self, *, epoch: int, batch_in_epoch: int, global_step: int, meter: _Meter,
                 best_val: float, best_epoch: int, history: list[dict[str, float]]) -> dict[str, Any]:
        return {
            "model": self.stepper.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "global_step": global_step,
            # every rank's running sums: the resumed epoch mean is the all-reduced one, not rank 0's
            "train_meter": all_gather_objects(meter.state(), self.info),
            "best_val": best_val,
            "best_epoch": best_epoch,
            "history": history,
            "rng": all_gather_objects(capture_rng_state(), self.info),
            "world_size": self.info.world_size,
            "train_config": self.cfg.model_dump(mode="json"),
            "extras": self.extras,
        }

    def _save(self, path: Any, payload: dict[str, Any]) -> None:
        if self.info.is_main:
            save_checkpoint(path, payload)
        barrier(self.info)

    def _load_meter(self, meter: _Meter, saved: Any) -> None:
        """Restore this rank's running sums (all of them on rank 0 when the world size changed)."""
        if isinstance(saved, dict):  # one rank's state (older checkpoints)
            meter.load(saved)
        elif len(saved) == self.info.world_size:
            meter.load(saved[self.info.rank])
        elif self.info.rank == 0:
            for part in saved:
                for k, v in part["sums"].items():
                    meter.sums[k] = meter.sums.get(k, 0.0) + v
                meter.count += part["count"]

    def _prepare_start(self, start: RunStart) -> tuple[dict[str, Any] | None, Path | None, list[str]]:
        """Fresh / resume / refuse (see :mod:`oceane2e.engine.runfiles`); returns (state, its path, notes)."""
        cfg, info = self.cfg, self.info
        notes: list[str] = []
        if info.is_main:
            for orphan in clean_orphan_temps(cfg.last_checkpoint) + clean_orphan_temps(cfg.best_checkpoint):
                notes.append(f"removed {orphan} (left by a killed save)")
            if start.fresh:
                notes += [f"--fresh: moved {a} to {b}" for a, b in move_run_aside(cfg)]
        barrier(info)
        source = None
        if start.resume:
            if cfg.last_checkpoint.exists():
                source = cfg.last_checkpoint
            elif cfg.best_checkpoint.exists():
                source = cfg.best_checkpoint
                notes.append(f"{cfg.last_checkpoint} is missing: resuming from {cfg.best_checkpoint}")
        elif not start.fresh:
            refuse_to_clobber(cfg)
        if source is None:
            if start.resume:
                notes.append(f"--resume: no checkpoint at {cfg.last_checkpoint} or {cfg.best_checkpoint}: "
                             "starting from scratch")
            return None, None, notes
        state = load_checkpoint(source, map_location=info.device)
        changes = check_resume_config(source, state, self.cfg.model_dump(mode="json"),
                                      self.extras.get("config"), allow=start.allow_config_change)
        notes += [f"config changed since the checkpoint: {line}" for line in changes]
        return state, source, notes

    def _nonfinite_inputs(self, batch: Any, prefix: str = "batch") -> list[str]:
        """Names of the batch tensors holding NaN/inf (diagnosis of a failed step)."""
        if isinstance(batch, Tensor):
            return [prefix] if batch.is_floating_point() and not bool(torch.isfinite(batch).all()) else []
        if isinstance(batch, Mapping):
            return [n for k, v in batch.items() for n in self._nonfinite_inputs(v, f"{prefix}[{k!r}]")]
        if isinstance(batch, (list, tuple)):
            return [n for i, v in enumerate(batch) for n in self._nonfinite_inputs(v, f"{prefix}[{i}]")]
        return []

    def _weights_finite(self) -> bool:
        params = [p.detach() for p in self.stepper.model.parameters()]
        return not params or bool(torch.isfinite(torch.stack([p.float().sum() for p in params]).sum()))

    def _diverged(self, what: str, epoch: int, global_step: int, batch: Any) -> TrainingDivergedError:
        bad = self._nonfinite_inputs(batch)
        cause = (f"the input {', '.join(bad)} holds NaN/inf - run `oceane2e check` on the data" if bad else
                 "the model diverged - lower train.lr, set train.grad_clip, or set train.on_nonfinite: skip")
        return TrainingDivergedError(
            f"{self.cfg.name}: non-finite {what} at epoch {epoch + 1}, optimiser step {global_step + 1}; {cause} "
            f"(the last good state is in {self.cfg.last_checkpoint} if an epoch finished)")

    # ------------------------------------------------------------------------------------- train
    def train(self, resume: bool | RunStart = False) -> TrainResult:
        """Run, continue (``resume``) or start over (``RunStart(fresh=True)``); see :mod:`.runfiles`."""
        cfg, info = self.cfg, self.info
        start = RunStart.of(resume)
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        seed_everything(cfg.seed)
        model = fast_layout(self.stepper.model.to(info.device), info.device)
        self.optimizer = build_optimizer(model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        state, source, notes = self._prepare_start(start)
        self.logger = setup_run_logger(cfg.name, cfg.log_file, is_main=info.is_main)
        for note in notes:
            self.logger.warning(note)
        csv_log = MetricsCSV(cfg.metrics_file) if info.is_main else None
        meter = _Meter()
        start_epoch, skip, global_step = 0, 0, 0
        best_val, best_epoch, history = math.inf, -1, []
        if state is not None:
            model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            start_epoch, skip, global_step = state["epoch"], state["batch_in_epoch"], state["global_step"]
            best_val, best_epoch, history = state["best_val"], state["best_epoch"], list(state["history"])
            self._load_meter(meter, state["train_meter"])
            rng = state["rng"]
            restore_rng_state(rng[info.rank] if len(rng) == info.world_size else rng[0])
            if csv_log is not None:
                moved = csv_log.reconcile(history)
                if moved:
                    self.logger.warning("%d metrics row(s) of epochs after %d moved to %s", moved, start_epoch,
                                        csv_log.superseded_path)
            self.logger.info("resumed from %s at epoch %d, batch %d (step %d)", source, start_epoch + 1, skip,
                             global_step)
        elif csv_log is not None and cfg.metrics_file.exists():  # --resume without any checkpoint left
            moved = csv_log.reconcile([])
            self.logger.warning("no checkpoint to resume: %d metrics row(s) moved to %s", moved,
                                csv_log.superseded_path)
        if not state:
            n_params = sum(p.numel() for p in model.parameters())
            self.logger.info("training %s: %d parameters, %d processes, global batch %d, %d steps/epoch on %s",
                             cfg.name, n_params, info.world_size, cfg.batch_size, self.steps_per_epoch,
                             info.device)
        train_model: nn.Module = model
        if info.is_distributed:
            train_model = DistributedDataParallel(
                model, device_ids=[info.device.index] if info.device.type == "cuda" else None)

        handlers: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                handlers[sig] = signal.signal(sig, self._on_signal)
        stopped = False
        single = info.world_size == 1  # only then may a signal abandon a step half-way (no collective pending)
        skipped_in_a_row = 0
        try:
            for epoch in range(start_epoch, cfg.epochs):
                ctx_len = cfg.rollout_length(epoch)
                t0 = time.perf_counter()
                self.train_sampler.set_epoch(epoch)
                self.train_sampler.skip_batches = skip
                train_model.train()
                bar = tqdm(total=self.steps_per_epoch, initial=skip, desc=f"{cfg.name} epoch {epoch + 1}/{cfg.epochs}",
                           disable=not (info.is_main and self.show_progress), leave=False, dynamic_ncols=True)
                batch_idx = skip
                for batch in self.train_loader:
                    if batch_idx >= self.steps_per_epoch:
                        break
                    batch = move_to_device(batch, info.device)
                    ctx = StepContext(epoch, global_step, ctx_len, cfg.grad_checkpoint, True, info.device)
                    self.optimizer.zero_grad(set_to_none=True)
                    rng_before = capture_rng_state() if single else None
                    try:
                        self._interruptible = single
                        if self._stop and single:
                            raise _StopNow
                        try:
                            with self._autocast():
                                out = self.stepper.compute_loss(train_model, batch, ctx)
                        except (ValueError, RuntimeError, FloatingPointError) as err:
                            if self._nonfinite_inputs(batch) or not self._weights_finite():
                                raise self._diverged("input or weights", epoch, global_step, batch) from err
                            raise
                        bad = any_rank(not bool(torch.isfinite(out.loss.detach())), info)
                        if not bad:
                            out.loss.backward()
                    except _StopNow:
                        self._interruptible = False
                        self.optimizer.zero_grad(set_to_none=True)
                        if rng_before is not None:
                            restore_rng_state(rng_before)
                        bar.close()
                        self._save(cfg.last_checkpoint, self._payload(
                            epoch=epoch, batch_in_epoch=batch_idx, global_step=global_step, meter=meter,
                            best_val=best_val, best_epoch=best_epoch, history=history))
                        self.logger.warning("stopped during epoch %d batch %d (the step was abandoned); checkpoint "
                                            "%s (continue with --resume)", epoch + 1, batch_idx, cfg.last_checkpoint)
                        stopped = True
                        break
                    finally:
                        self._interruptible = False
                    if not bad:
                        norm = torch.nn.utils.clip_grad_norm_(
                            model.parameters(), cfg.grad_clip if cfg.grad_clip is not None else math.inf)
                        bad = not bool(torch.isfinite(norm))  # gradients are all-reduced: equal on every rank
                        what = "gradient"
                    else:
                        what = "loss"
                    if bad:
                        if cfg.on_nonfinite == "stop" or skipped_in_a_row + 1 >= cfg.max_skipped_steps:
                            raise self._diverged(what, epoch, global_step, batch)
                        skipped_in_a_row += 1
                        self.optimizer.zero_grad(set_to_none=True)
                        self.logger.warning("epoch %d step %d: non-finite %s, step skipped (%d in a row)",
                                            epoch + 1, global_step + 1, what, skipped_in_a_row)
                    else:
                        skipped_in_a_row = 0
                        self.optimizer.step()
                        self.scheduler.step()
                        if not self._weights_finite():
                            raise self._diverged("weights after the update", epoch, global_step, batch)
                        meter.add(out)
                        global_step += 1
                    batch_idx += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{out.loss.item():.4g}")
                    if global_step % cfg.log_every == 0 and not bad:
                        self.logger.info("epoch %d step %d loss %.6g lr %.3g", epoch + 1, global_step,
                                         out.loss.item(), self.scheduler.get_last_lr()[0])
                    if any_rank(self._stop, info):
                        bar.close()
                        self._save(cfg.last_checkpoint, self._payload(
                            epoch=epoch, batch_in_epoch=batch_idx, global_step=global_step, meter=meter,
                            best_val=best_val, best_epoch=best_epoch, history=history))
                        self.logger.warning("stopped at epoch %d batch %d; checkpoint %s (continue with --resume)",
                                            epoch + 1, batch_idx, cfg.last_checkpoint)
                        stopped = True
                        break
                bar.close()
                if stopped:
                    break
                train_means = meter.reduce(info)
                # epochs before train.val_from_epoch are not scored: no candidates for the best checkpoint
                validated = cfg.validates(epoch)
                val_means = self.validate(epoch, global_step) if validated else {"loss": math.nan}
                skip, meter = 0, _Meter()
                is_best = validated and val_means["loss"] < best_val
                if is_best:
                    best_val, best_epoch = val_means["loss"], epoch
                row = {"epoch": epoch + 1, "global_step": global_step, "train_loss": train_means.get("loss", math.nan),
                       "val_loss": val_means["loss"], "lr": self.scheduler.get_last_lr()[0],
                       "epoch_time_s": time.perf_counter() - t0, "is_best": int(is_best)}
                row |= {f"train_{k}": v for k, v in train_means.items() if k != "loss"}
                row |= {f"val_{k}": v for k, v in val_means.items() if k != "loss"}
                history.append(row)
                if validated:
                    self.logger.info("epoch %d/%d: train %.6g val %.6g%s (%.1f s)", epoch + 1, cfg.epochs,
                                     row["train_loss"], row["val_loss"], " best" if is_best else "", row["epoch_time_s"])
                else:
                    self.logger.info("epoch %d/%d: train %.6g, not validated (train.val_from_epoch: epochs %d on) "
                                     "(%.1f s)", epoch + 1, cfg.epochs, row["train_loss"], cfg.first_validated_epoch + 1,
                                     row["epoch_time_s"])
                payload = self._payload(epoch=epoch + 1, batch_in_epoch=0, global_step=global_step, meter=meter,
                                        best_val=best_val, best_epoch=best_epoch, history=history)
                # checkpoint first, then the CSV row: a kill in between loses no row (a resume adds it
                # back from the checkpoint's history) and duplicates none
                if is_best:
                    self._save(cfg.best_checkpoint, payload)
                self._save(cfg.last_checkpoint, payload)
                if csv_log is not None:
                    csv_log.write(row)
                if any_rank(self._stop, info):
                    stopped = True
                    self.logger.warning("stopped after epoch %d (continue with --resume)", epoch + 1)
                    break
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            close_run_logger(self.logger)
            del train_model  # the DDP wrapper holds the process group; it must not outlive its destruction
        return TrainResult(history, best_val, best_epoch, stopped, global_step)

    @torch.no_grad()
    def validate(self, epoch: int, global_step: int) -> dict[str, float]:
        """Mean validation loss (and metrics) over the whole validation split, all ranks together."""
        model = self.stepper.model
        was_training = model.training
        model.eval()
        meter = _Meter()
        ctx = StepContext(epoch, global_step, self.cfg.rollout_length(epoch), False, False, self.info.device)
        for batch in self.val_loader:
            with self._autocast():
                meter.add(self.stepper.compute_loss(model, move_to_device(batch, self.info.device), ctx))
        model.train(was_training)
        return meter.reduce(self.info)


def load_model_weights(model: nn.Module, path: Any, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint's weights into ``model``; returns the checkpoint (``extras`` holds config/stats/grid)."""
    state = load_checkpoint(path, map_location=map_location)
    if "model" not in state:
        raise CheckpointError(f"{path}: checkpoint has no 'model' entry")
    model.load_state_dict(state["model"])
    return state
