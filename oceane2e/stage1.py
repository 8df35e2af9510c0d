"""Stage 1: the velocity model M_θ (MultiConv) — config, training, autoregressive inference, scores.

    train(cfg)  : fit M_θ on the geostrophic velocity of the training years (``geo_YYYY.nc``) with a
                  next-day and, by config, multi-day autoregressive masked MSE in normalised units;
                  the best checkpoint is chosen on the validation years.
    infer(cfg)  : roll M_θ from every start date of the inference splits (default: test years) to
                  ``inference.lead_days`` leads; N processes split the dates and write ONE file
                  (``data/GS/MultiConv_data.nc``), identical to a one-process run.
    score_velocity_forecast(...) : RMSE per lead (ocean, cos-latitude weighted) of M_θ and of
                  persistence of the last observed day.

The entry points ``train_vel.py`` and ``inference_vel.py`` only parse arguments and call these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, SerializeAsAny, field_validator, model_validator
from torch import Tensor, nn

from model_baselines.multiconv import VelocityForecaster
from model_baselines.registry import build_model, parse_model_config
from oceane2e.config import StrictModel, load_config
from oceane2e.data.config import DataConfig
from oceane2e.data.contract import GEO_CHANNELS
from oceane2e.data.info import DataInfo
from oceane2e.engine.config import TrainConfig
from oceane2e.engine.distributed import DistInfo, barrier, current_dist_info
from oceane2e.engine.trainer import StepContext, StepOutput, Trainer, TrainResult
from oceane2e.stages import (
    checkpoint_extras,
    load_model_checkpoint,
    masked_mse,
    run_forecasts,
    setup_threads,
    write_forecast_file,
)

STAGE = "stage1"


# ------------------------------------------------------------------------------------------ config
class WindowConfig(StrictModel):
    """Training windows of stage 1."""

    n_in: int = Field(4, ge=1, description="observed input days (ending on the start date)")
    n_out: int = Field(1, ge=1, description="days M_θ predicts per call")
    val_stride: int = Field(1, ge=1, description="days between validation start dates (>1: faster epochs)")
    rollout_weights: list[float] | None = Field(
        None, description="loss weight of each autoregressive call (>= train's longest rollout); default equal")

    @model_validator(mode="after")
    def _weights(self) -> WindowConfig:
        if self.rollout_weights is not None and (min(self.rollout_weights) < 0 or sum(self.rollout_weights) <= 0):
            raise ValueError("rollout_weights must be >= 0 with a positive sum")
        return self


class InferenceConfig(StrictModel):
    """Autoregressive forecasts written to ``MultiConv_data.nc``."""

    lead_days: int = Field(40, ge=1, description="forecast leads 1..lead_days (days)")
    stride: int = Field(1, ge=1, description="days between start dates")
    splits: list[Literal["train", "val", "test"]] = Field(
        ["test"], min_length=1, description="whose start dates to forecast (stage 2 may need train/val too)")
    output: Path = Field(Path("data/GS/MultiConv_data.nc"), description="output NetCDF file")
    checkpoint: Path | None = Field(None, description="weights to use (default: the best checkpoint of train)")
    batch_size: int = Field(8, ge=1, description="start dates per forward pass (per process)")
    overwrite: bool = Field(False, description="replace an earlier output file (else refuse; CLI --overwrite)")


class Stage1Config(StrictModel):
    """``configs/config_vel.yaml``: data + model sizes + training + windows + inference."""

    data: DataConfig
    model: SerializeAsAny[StrictModel] = Field(
        default_factory=lambda: parse_model_config("MultiConv", kind="velocity"),
        description="the velocity model (a registered model of kind 'velocity': MultiConv) and its sizes")
    train: TrainConfig
    window: WindowConfig = Field(default_factory=WindowConfig)
    inference: InferenceConfig = Field(default_factory=InferenceConfig)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> StrictModel:
        return parse_model_config(value, source="model", kind="velocity")

    @model_validator(mode="after")
    def _cross(self) -> Stage1Config:
        w = self.window.rollout_weights
        if w is not None and len(w) < self.train.max_rollout_length:
            raise ValueError(
                f"window.rollout_weights has {len(w)} entries but train.rollout_schedule reaches "
                f"{self.train.max_rollout_length} calls; give one weight per call")
        return self


def load_stage1_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Stage1Config:
    """Read and validate a stage-1 YAML config (unknown keys fail, naming the key)."""
    return load_config(Stage1Config, path, overrides)


# ------------------------------------------------------------------------------------------- model
def data_info(ds: Any, cfg: Stage1Config, norm_stats: dict[str, dict[str, float]]) -> DataInfo:
    """The stage-1 data information: the velocity windows' grid and channels, M_θ's days in and out."""
    return ds.data_info(norm_stats, n_out=cfg.window.n_out)


class VelocityStepper:
    """Stage-1 loss: weighted masked MSE of each autoregressive call in normalised units.

    Validation always uses the longest rollout of the schedule (comparable across epochs) and also
    reports ``persistence`` (the last observed day held fixed) under the same loss.
    """

    def __init__(self, model: VelocityForecaster, cfg: Stage1Config) -> None:
        self.model = model
        self.n_out = cfg.window.n_out
        self.max_calls = cfg.train.max_rollout_length
        weights = cfg.window.rollout_weights or [1.0] * self.max_calls
        self.weights = torch.tensor(weights[: self.max_calls], dtype=torch.float32)

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor], ctx: StepContext) -> StepOutput:
        calls = ctx.rollout_length if ctx.training else self.max_calls
        n_days = calls * self.n_out
        mask = batch["mask"]
        pred = model(batch["inputs"], mask, n_days, ctx.grad_checkpoint)
        norm = self.model.normalizer
        m5 = mask.to(torch.float32)[:, None, None]
        target = norm.normalize(batch["targets"][:, :n_days], dim=2) * m5
        w = self.weights[:calls].to(pred.device).repeat_interleave(self.n_out) / self.n_out
        w = w / w.sum()
        per_day = masked_mse(pred, target, mask)  # (B, n_days)
        loss = (per_day * w).sum(dim=1).mean()
        metrics: dict[str, Tensor | float] = {}
        if not ctx.training:
            last = norm.normalize(batch["inputs"][:, -1:], dim=2) * m5
            metrics["persistence"] = (masked_mse(last.expand_as(target), target, mask) * w).sum(dim=1).mean()
            metrics["day1_mse"] = per_day[:, 0].mean()
        return StepOutput(loss, int(pred.shape[0]), metrics)


# ------------------------------------------------------------------------------------------- train
def train(cfg: Stage1Config, *, resume: bool = False, dist_info: DistInfo | None = None,
          show_progress: bool = True) -> TrainResult:
    """Train M_θ; writes ``<train.checkpoint_dir>/<train.name>_best_model.pth`` and the logs."""
    from oceane2e.data.datasets import VelocityWindowDataset
    from oceane2e.data.normalization import ensure_stats

    info = dist_info or current_dist_info()
    setup_threads(cfg.train.num_threads)
    if info.is_main:  # statistics of the training years, computed once (rank 0) and reused
        ensure_stats(cfg.data, progress=show_progress, cache_dir=cfg.train.checkpoint_dir)
    barrier(info)
    stats = ensure_stats(cfg.data, progress=False, cache_dir=cfg.train.checkpoint_dir)
    days = cfg.train.max_rollout_length * cfg.window.n_out
    train_ds = VelocityWindowDataset(cfg.data, "train", cfg.window.n_in, days)
    val_ds = VelocityWindowDataset(cfg.data, "val", cfg.window.n_in, days, stride=cfg.window.val_stride)
    data = data_info(train_ds, cfg, stats)
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank and every run
    model = build_model(cfg.model, data)
    extras = checkpoint_extras(STAGE, cfg, data)
    trainer = Trainer(cfg.train, VelocityStepper(model, cfg), train_ds, val_ds, dist_info=info, extras=extras,
                      num_workers=cfg.data.num_workers, show_progress=show_progress)
    return trainer.train(resume=resume)


# --------------------------------------------------------------------------------------- inference
def _legacy_info(cfg: Stage1Config, extras: dict[str, Any]) -> DataInfo:
    """DataInfo of a stage-1 checkpoint written before it was stored (grid + statistics in extras)."""
    grid = extras["grid"]
    return DataInfo(grid["lat"], grid["lon"], grid["mask"], {"state": tuple(extras.get("channels", GEO_CHANNELS))},
                    extras["norm_stats"], n_in=cfg.window.n_in, n_out=cfg.window.n_out)


def load_forecaster(path: str | Path, map_location: str | torch.device = "cpu",
                    expected_model: str | None = None) -> tuple[VelocityForecaster, dict]:
    """Rebuild M_θ from a self-contained stage-1 checkpoint; returns the model and the checkpoint."""
    loaded = load_model_checkpoint(path, stage=STAGE, config_class=Stage1Config, expected_model=expected_model,
                                   legacy_info=_legacy_info, map_location=map_location)
    return loaded.model, loaded.state  # type: ignore[return-value]


class _Windows(torch.utils.data.Dataset):
    """Concatenation of the forecast windows of several splits, sorted by start date."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.items = sorted(((int(t.astype("int64")), d, i) for d in datasets for i, t in enumerate(d.time0s)),
                            key=lambda x: x[0])
        self.time0 = np.array([t for t, _, _ in self.items], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict[str, Tensor]:
        _, ds, i = self.items[k]
        return ds[i]


def infer(cfg: Stage1Config, *, dist_info: DistInfo | None = None, checkpoint: str | Path | None = None,
          show_progress: bool = True, overwrite: bool | None = None) -> Path:
    """Forecast ``inference.lead_days`` leads from every start date; rank 0 writes ``inference.output``.

    Start dates are split across ranks (:func:`oceane2e.engine.sharded.sharded_rows`: rank r takes
    every world-th date and writes its rows into shared on-disk arrays, so memory stays bounded at
    paper scale); rank 0 writes the NetCDF in date order, so N processes give the same file as one.
    Several nodes need a shared file system for the output folder.
    """
    from oceane2e.data.datasets import VelocityWindowDataset
    from oceane2e.outputs import claim_outputs

    info = dist_info or current_dist_info()
    setup_threads(cfg.train.num_threads)
    path = Path(checkpoint or cfg.inference.checkpoint or cfg.train.best_checkpoint)
    loaded = load_model_checkpoint(path, stage=STAGE, config_class=Stage1Config, expected_model=cfg.model.name,
                                   legacy_info=_legacy_info, map_location=info.device)
    model: VelocityForecaster = loaded.model  # type: ignore[assignment]
    claim_outputs([cfg.inference.output], overwrite=cfg.inference.overwrite if overwrite is None else overwrite,
                  what=f"{cfg.model.name} inference", announce=info.is_main)
    inf = cfg.inference
    splits = [VelocityWindowDataset(cfg.data, s, model.n_in, inf.lead_days, stride=inf.stride) for s in inf.splits]
    loaded.check_data(splits[0].coords, splits[0].mask, cfg.data.root)
    windows = _Windows(splits)
    h, w = splits[0].coords.shape
    out_path = Path(inf.output)

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        items = [windows[k] for k in idx]
        inputs = torch.stack([it["inputs"] for it in items]).to(info.device)
        mask = torch.stack([it["mask"] for it in items]).to(info.device)
        pred = model.forecast(inputs, mask, inf.lead_days)
        return {"outputs": pred.float().cpu().numpy(),
                "targets": torch.stack([it["targets"] for it in items]).numpy()}

    def write(outputs: np.ndarray, targets: np.ndarray) -> None:
        write_forecast_file(
            out_path, outputs, targets, windows.time0, splits[0].coords, splits[0].mask, channels=model.channels,
            title="Ocean-E2E stage-1 velocity forecasts",
            attrs={"model": cfg.model.name, "checkpoint": str(path), "splits": ",".join(inf.splits),
                   "n_in": model.n_in, "stride_days": inf.stride},
        )

    run_forecasts(len(windows), (inf.lead_days, len(model.channels), h, w), compute,
                  out_path.with_name(out_path.name + ".parts"), info, write, bf16=cfg.train.bf16,
                  batch_size=inf.batch_size, desc=f"{cfg.model.name} inference", show_progress=show_progress)
    return out_path


# ------------------------------------------------------------------------------------------ scores
def score_velocity_forecast(cfg: Stage1Config, path: str | Path | None = None,
                            leads: Sequence[int] = (1, 5, 10, 20, 40)) -> dict[str, dict[int, float]]:
    """RMSE (m s⁻¹, both components, ocean, cos-latitude weighted) per lead of M_θ and of persistence.

    Persistence holds the velocity of the start date (the last observed day) for every lead.
    Returns ``{"MultiConv": {lead: rmse}, "persistence": {lead: rmse}}``.
    """
    from oceane2e.data.datasets import DataFolder
    from oceane2e.data.forecast_files import ForecastFile

    path = Path(path or cfg.inference.output)
    with ForecastFile(path) as f:
        leads = [int(k) for k in leads if k <= f.n_lead]
        folder = DataFolder.from_config(cfg.data, kinds=("geo",))
        mask = folder.mask
        wlat = np.cos(np.deg2rad(np.asarray(f.coords.lat)))[:, None] * mask
        wsum = wlat.sum() * len(f.channels)
        se_m = np.zeros(len(leads))
        se_p = np.zeros(len(leads))
        li = np.asarray(leads) - 1
        for t0 in f.time0:
            out = np.nan_to_num(f.read(t0)[li])
            tgt = np.nan_to_num(f.read(t0, targets=True)[li])
            obs = folder.read("geo", t0, 1, f.channels)[0]
            se_m += ((out - tgt) ** 2 * wlat).sum(axis=(1, 2, 3)) / wsum
            se_p += ((obs[None] - tgt) ** 2 * wlat).sum(axis=(1, 2, 3)) / wsum
        n = max(f.time0.size, 1)
    return {"MultiConv": {k: math.sqrt(v / n) for k, v in zip(leads, se_m, strict=True)},
            "persistence": {k: math.sqrt(v / n) for k, v in zip(leads, se_p, strict=True)}}


def format_scores(scores: dict[str, dict[int, float]]) -> str:
    """A small table of :func:`score_velocity_forecast`'s result."""
    lines = ["lead  RMSE MultiConv  RMSE persistence  (m/s, ocean, cos-lat weighted)"]
    lines += [f"{k:>4}  {scores['MultiConv'][k]:14.4f}  {scores['persistence'][k]:16.4f}" for k in scores["MultiConv"]]
    return "\n".join(lines)


__all__ = [
    "InferenceConfig", "Stage1Config", "VelocityStepper", "WindowConfig", "data_info", "format_scores",
    "infer", "load_forecaster", "load_stage1_config", "score_velocity_forecast", "train",
]
