"""Stage 2 and the baselines: one-step SSTA forecasters trained by rollout, and 40-day inference.

Every stage-2 model — the Ocean-E2E hybrid (``Oceane2e``), ``SimVP``, ``ConvLSTM`` — is a
:class:`model_baselines.base.OneStepForecaster`, so one config schema, one stepper, one training
engine and one inference path serve them all; the config's ``model.name`` selects the network.

    train(cfg) : rollout training (length from ``train.rollout_schedule``, e.g. 1 -> 5 -> 10 days)
                 of the masked SSTA MSE, driven by observed currents (as in the paper) or by M_θ's
                 forecasts (``windows.velocity: forecast``), gradient checkpointing per day on request;
                 the best checkpoint is chosen on the validation years.
    infer(cfg) : a ``inference.lead_days`` forecast from every test start date, driven by M_θ's
                 forecast currents (``MultiConv_data.nc``) and the observed atmosphere; writes
                 ``results/<Model>_inputs.npy`` (truth), ``results/<Model>_outputs.npy`` (forecast),
                 both (sample, lead, lat, lon) in K, and ``results/<Model>_forecast.nc`` (CF).

Entry points: ``train_online.py`` / ``inference.py`` (the hybrid) and ``train_baseline.py`` /
``inference_baseline.py`` (the baselines) only parse arguments and call these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, SerializeAsAny, field_validator, model_validator
from torch import Tensor, nn

from model_baselines.base import rollout
from model_baselines.registry import build_model, parse_model_config
from oceane2e.config import StrictModel, load_config
from oceane2e.data.config import DataConfig
from oceane2e.data.info import DataInfo, stage2_channels
from oceane2e.engine.config import TrainConfig
from oceane2e.engine.distributed import DistInfo, barrier, current_dist_info
from oceane2e.engine.trainer import StepContext, StepOutput, Trainer, TrainResult
from oceane2e.stages import (
    LoadedModel,
    checkpoint_extras,
    load_model_checkpoint,
    masked_mse,
    run_forecasts,
    setup_threads,
    write_forecast_file,
)

STAGE = "stage2"


class WindowsConfig(StrictModel):
    """Training and validation windows of stage 2."""

    velocity: Literal["observed", "forecast"] = Field(
        "observed",
        description="currents that drive training: observed u_g (the paper) or M_θ's forecasts "
        "(needs stage-1 inference over the train and val splits)",
    )
    stride: int = Field(1, ge=1, description="days between training start dates")
    val_stride: int = Field(3, ge=1, description="days between validation start dates")
    history_days: int = Field(
        0, ge=0, description="observed SSTA days before each start date that the model sees (training, validation "
        "and inference; DataInfo.n_in = history_days + 1): the SST-only source's history (ssta_prev, ssta_mean); "
        "0: none, the model sees day 0 only (the paper)")


class Stage2InferenceConfig(StrictModel):
    """The forecasts scored by the evaluation."""

    lead_days: int = Field(40, ge=1, description="forecast leads 1..lead_days (days)")
    velocity: Literal["forecast", "observed"] = Field(
        "forecast", description="currents that drive the forecast: M_θ's (operational) or observed (oracle)"
    )
    forecast_path: Path | None = Field(None, description="stage-1 file (default <data.root>/MultiConv_data.nc)")
    stride: int = Field(
        1, ge=1, description="days between start dates with observed currents; with forecast currents the "
        "start dates are those of the stage-1 file"
    )
    results_dir: Path = Field(Path("results"), description="where <Model>_outputs.npy etc. are written")
    checkpoint: Path | None = Field(None, description="weights (default: the best checkpoint of train)")
    batch_size: int = Field(4, ge=1, description="start dates per forward pass (per process)")
    overwrite: bool = Field(False, description="replace earlier result files (else refuse; CLI --overwrite)")


class Stage2Config(StrictModel):
    """``configs/config.yaml`` (hybrid) and ``configs/config_baseline.yaml`` (baselines)."""

    data: DataConfig
    model: SerializeAsAny[StrictModel] = Field(
        ..., description="the network: a registered model of kind 'ssta' (Oceane2e, SimVP, ConvLSTM, ...) and its sizes")
    train: TrainConfig
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    inference: Stage2InferenceConfig = Field(default_factory=Stage2InferenceConfig)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> StrictModel:
        return parse_model_config(value, source="model", kind="ssta")

    @model_validator(mode="after")
    def _names(self) -> Stage2Config:
        if self.train.name != self.model.name:
            raise ValueError(
                f"train.name ({self.train.name!r}) must equal model.name ({self.model.name!r}): it names the "
                "checkpoints, logs and results files of this model"
            )
        return self


def load_stage2_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Stage2Config:
    """Read and validate a stage-2 YAML config (unknown keys fail, naming the key)."""
    return load_config(Stage2Config, path, overrides)


# ------------------------------------------------------------------------------------------- model
def masked_mse_per_day(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over ocean cells: pred/target (B, L, H, W) K, mask (B, H, W) -> (B, L) K²."""
    return masked_mse(pred, target, mask)


class SSTAStepper:
    """Stage-2 loss: mean over the rollout days of the masked SSTA MSE (K²).

    Training rolls out ``ctx.rollout_length`` days; validation always the longest length of the
    schedule (comparable across epochs) and also reports persistence under the same loss.
    """

    def __init__(self, model: nn.Module, max_days: int) -> None:
        self.model = model
        self.max_days = max_days

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor], ctx: StepContext) -> StepOutput:
        days = ctx.rollout_length if ctx.training else self.max_days
        pred = rollout(model, batch, days, grad_checkpoint=ctx.grad_checkpoint and ctx.training)
        target = batch["ssta"][:, 1 : days + 1]
        per_day = masked_mse_per_day(pred, target, batch["mask"])
        metrics: dict[str, Tensor | float] = {}
        if not ctx.training:
            persistence = batch["ssta"][:, :1].expand_as(target)
            metrics["persistence"] = masked_mse_per_day(persistence, target, batch["mask"]).mean()
            metrics["day1_mse"] = per_day[:, 0].mean()
        return StepOutput(per_day.mean(), int(pred.shape[0]), metrics)


def _datasets(cfg: Stage2Config, days: int) -> tuple[Any, Any]:
    from oceane2e.data.datasets import SSTAWindowDataset

    w = cfg.windows
    common = {"velocity": w.velocity, "forecast_path": cfg.inference.forecast_path, "history_days": w.history_days}
    if w.velocity == "forecast":
        common["missing_forecast"] = "skip"
    train_ds = SSTAWindowDataset(cfg.data, "train", days, stride=w.stride, **common)
    val_ds = SSTAWindowDataset(cfg.data, "val", days, stride=w.val_stride, **common)
    return train_ds, val_ds


def train(cfg: Stage2Config, *, resume: bool = False, dist_info: DistInfo | None = None,
          show_progress: bool = True) -> TrainResult:
    """Train the configured model; writes ``<checkpoint_dir>/<name>_best_model.pth`` and the logs."""
    from oceane2e.data.normalization import ensure_stats

    info = dist_info or current_dist_info()
    setup_threads(cfg.train.num_threads)
    if info.is_main:
        ensure_stats(cfg.data, progress=show_progress, cache_dir=cfg.train.checkpoint_dir)
    barrier(info)
    stats = ensure_stats(cfg.data, progress=False, cache_dir=cfg.train.checkpoint_dir)
    days = cfg.train.max_rollout_length
    train_ds, val_ds = _datasets(cfg, days)
    data = train_ds.data_info(stats)
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank and every run
    model = build_model(cfg.model, data)
    extras = checkpoint_extras(STAGE, cfg, data)
    trainer = Trainer(cfg.train, SSTAStepper(model, days), train_ds, val_ds, dist_info=info, extras=extras,
                      num_workers=cfg.data.num_workers, show_progress=show_progress)
    return trainer.train(resume=resume)


# --------------------------------------------------------------------------------------- inference
def _legacy_info(cfg: Stage2Config, extras: dict[str, Any]) -> DataInfo:
    """DataInfo of a stage-2 checkpoint written before it was stored (grid + statistics in extras)."""
    grid = extras["grid"]
    return DataInfo(grid["lat"], grid["lon"], grid["mask"], stage2_channels(), extras["norm_stats"])


def load_forecaster(path: str | Path, map_location: str | torch.device = "cpu",
                    expected_model: str | None = None) -> LoadedModel:
    """Rebuild a stage-2 model from its self-contained checkpoint (model in eval mode, config, data info)."""
    return load_model_checkpoint(path, stage=STAGE, config_class=Stage2Config, expected_model=expected_model,
                                 legacy_info=_legacy_info, map_location=map_location)


def scoring_dataset(cfg: Stage2Config) -> Any:
    """The test windows every stage-2 model and reference is scored on (same start dates for all)."""
    from oceane2e.data.datasets import SSTAWindowDataset

    inf = cfg.inference
    history = cfg.windows.history_days
    if inf.velocity == "forecast":
        return SSTAWindowDataset(cfg.data, "test", inf.lead_days, velocity="forecast",
                                 forecast_path=inf.forecast_path, stride=1, missing_forecast="skip",
                                 history_days=history)
    return SSTAWindowDataset(cfg.data, "test", inf.lead_days, velocity="observed", stride=inf.stride,
                             history_days=history)


#: the keys of a stage-2 batch that :func:`rollout` reads (the optional ones only when the items have them)
BATCH_KEYS: tuple[str, ...] = ("ssta", "velocity", "atmos", "mask", "time0", "ssta_history")


def stack_batch(items: list[dict[str, Tensor]], device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Dataset items -> a rollout batch on ``device`` (every key of :data:`BATCH_KEYS` the items have)."""
    return {key: torch.stack([it[key] for it in items]).to(device) for key in BATCH_KEYS if key in items[0]}


def result_paths(results_dir: str | Path, name: str) -> dict[str, Path]:
    """The result files of model ``name`` (the reference release's names plus the CF NetCDF)."""
    root = Path(results_dir)
    return {"inputs": root / f"{name}_inputs.npy", "outputs": root / f"{name}_outputs.npy",
            "forecast": root / f"{name}_forecast.nc"}


def infer(cfg: Stage2Config, *, dist_info: DistInfo | None = None, checkpoint: str | Path | None = None,
          show_progress: bool = True, overwrite: bool | None = None,
          initial: Callable[[np.ndarray], dict[str, Tensor]] | None = None, suffix: str = "",
          results_dir: str | Path | None = None, attrs: dict[str, str] | None = None) -> dict[str, Path]:
    """Forecast ``inference.lead_days`` days from every test start date and write the result files.

    Start dates are split across ranks and gathered in date order (:func:`sharded_rows`), so N
    processes write the same files as one. ``initial`` (start dates (n,) datetime64[D] -> name ->
    (n, H, W)) replaces the initial state (``rollout(initial=...)``: an analysis, altimetry currents);
    the results are then those of model ``<name><suffix>`` (e.g. ``Oceane2e+OI``) in ``results_dir``.
    """
    from oceane2e.outputs import claim_outputs

    info = dist_info or current_dist_info()
    setup_threads(cfg.train.num_threads)
    path = Path(checkpoint or cfg.inference.checkpoint or cfg.train.best_checkpoint)
    loaded = load_forecaster(path, map_location=info.device, expected_model=cfg.model.name)
    model = loaded.model
    ds = scoring_dataset(cfg)
    coords, mask = ds.folder.coords, ds.folder.mask
    loaded.check_data(coords, mask, cfg.data.root)
    lead = cfg.inference.lead_days
    name = cfg.model.name + suffix
    out = result_paths(results_dir or cfg.inference.results_dir, name)
    claim_outputs(out.values(), overwrite=cfg.inference.overwrite if overwrite is None else overwrite,
                  what=f"{name} inference", announce=info.is_main)

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        batch = stack_batch([ds[k] for k in idx], info.device)
        init = None if initial is None else {k: v.to(info.device) for k, v in initial(ds.time0s[idx]).items()}
        pred = rollout(model, batch, lead, initial=init)
        return {"outputs": pred.float().cpu().numpy(), "targets": batch["ssta"][:, 1:].float().cpu().numpy()}

    def write(outputs: np.ndarray, targets: np.ndarray) -> None:
        out["outputs"].parent.mkdir(parents=True, exist_ok=True)
        write_forecast_file(out["forecast"], outputs, targets, ds.time0s, coords, mask, channels=("ssta",),
                            title=f"Ocean-E2E SSTA forecast of {name}",
                            attrs={"model": name, "checkpoint": str(path), "velocity": cfg.inference.velocity,
                                   "test_years": ",".join(map(str, cfg.data.test_years)), **(attrs or {})})
        # the reference release's files: the gathered rows themselves, (sample, lead, lat, lon) K
        Path(outputs.filename).replace(out["outputs"])
        Path(targets.filename).replace(out["inputs"])

    h, w = coords.shape
    run_forecasts(len(ds), (lead, h, w), compute, out["outputs"].with_name(f".{name}_parts"), info, write,
                  bf16=cfg.train.bf16, batch_size=cfg.inference.batch_size, desc=f"{name} inference",
                  show_progress=show_progress)
    return out


__all__ = [
    "BATCH_KEYS", "SSTAStepper", "Stage2Config", "Stage2InferenceConfig", "WindowsConfig", "infer", "stack_batch",
    "load_forecaster", "load_stage2_config", "masked_mse_per_day", "result_paths", "scoring_dataset", "train",
]
