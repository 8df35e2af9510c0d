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

import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from model_baselines import ConvLSTMConfig, SimVPConfig, build_model_from_config, rollout
from model_baselines.hybrid import HybridConfig
from oceane2e.config import ConfigError, StrictModel, load_config, validate_config
from oceane2e.data.config import DataConfig
from oceane2e.engine.config import TrainConfig
from oceane2e.engine.distributed import DistInfo, barrier, current_dist_info
from oceane2e.engine.trainer import StepContext, StepOutput, Trainer, TrainResult

Stage2Model = Annotated[HybridConfig | SimVPConfig | ConvLSTMConfig, Field(discriminator="name")]


class WindowsConfig(StrictModel):
    """Training and validation windows of stage 2."""

    velocity: Literal["observed", "forecast"] = Field(
        "observed",
        description="currents that drive training: observed u_g (the paper) or M_θ's forecasts "
        "(needs stage-1 inference over the train and val splits)",
    )
    stride: int = Field(1, ge=1, description="days between training start dates")
    val_stride: int = Field(3, ge=1, description="days between validation start dates")


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
    model: Stage2Model = Field(..., description="the network: name Oceane2e | SimVP | ConvLSTM, plus its sizes")
    train: TrainConfig
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    inference: Stage2InferenceConfig = Field(default_factory=Stage2InferenceConfig)

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
def build_forecaster(cfg: Stage2Config, norm_stats: dict, lat: np.ndarray, lon: np.ndarray,
                     mask: np.ndarray) -> nn.Module:
    """The configured stage-2 network; the data decides statistics and (for the hybrid) the grid."""
    kwargs: dict[str, Any] = {"norm_stats": norm_stats}
    if cfg.model.name == "Oceane2e":
        kwargs |= {"lat": lat, "lon": lon, "mask": mask}
    return build_model_from_config(cfg.model, **kwargs)


def masked_mse_per_day(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over ocean cells: pred/target (B, L, H, W) K, mask (B, H, W) -> (B, L) K²."""
    m = mask.to(torch.float32)[:, None]
    se = ((pred.float() - target.float()) ** 2 * m).sum(dim=(2, 3))
    return se / m.sum(dim=(2, 3)).clamp_min(1.0)


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
    common = {"velocity": w.velocity, "forecast_path": cfg.inference.forecast_path}
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
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    if info.is_main:
        ensure_stats(cfg.data, progress=show_progress, cache_dir=cfg.train.checkpoint_dir)
    barrier(info)
    stats = ensure_stats(cfg.data, progress=False, cache_dir=cfg.train.checkpoint_dir)
    days = cfg.train.max_rollout_length
    train_ds, val_ds = _datasets(cfg, days)
    coords, mask = train_ds.folder.coords, train_ds.folder.mask
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank and every run
    model = build_forecaster(cfg, stats, coords.lat, coords.lon, mask)
    extras = {
        "config": cfg.model_dump(mode="json"),
        "norm_stats": stats,
        "grid": {"lat": np.asarray(coords.lat), "lon": np.asarray(coords.lon), "mask": np.asarray(mask, bool)},
        "stage": "stage2",
    }
    trainer = Trainer(cfg.train, SSTAStepper(model, days), train_ds, val_ds, dist_info=info, extras=extras,
                      num_workers=cfg.data.num_workers, show_progress=show_progress)
    return trainer.train(resume=resume)


# --------------------------------------------------------------------------------------- inference
def load_forecaster(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild a stage-2 model from its self-contained checkpoint; returns (model in eval mode, checkpoint)."""
    from oceane2e.engine.checkpoint import load_checkpoint

    state = load_checkpoint(path, map_location="cpu")
    extras = state.get("extras", {})
    if extras.get("stage") != "stage2":
        raise ConfigError(f"{path}: not a stage-2 checkpoint (no stage-2 config inside); check inference.checkpoint")
    ckpt_cfg = validate_config(Stage2Config, extras["config"], source=f"{path} (stored config)")
    grid = extras["grid"]
    model = build_forecaster(ckpt_cfg, extras["norm_stats"], grid["lat"], grid["lon"], grid["mask"])
    model.load_state_dict(state["model"])
    return model.to(map_location).eval(), state


def _check_grid(path: Path, grid: dict, coords: Any, mask: np.ndarray) -> None:
    same = (np.shape(grid["lat"]) == coords.lat.shape and np.shape(grid["lon"]) == coords.lon.shape
            and np.allclose(grid["lat"], coords.lat, atol=1e-6) and np.allclose(grid["lon"], coords.lon, atol=1e-6))
    if not same:
        raise ConfigError(
            f"{path}: the checkpoint's grid ({np.size(grid['lat'])}x{np.size(grid['lon'])}) differs from the data "
            f"grid ({coords.lat.size}x{coords.lon.size}); use the checkpoint trained on this data.root")
    if not np.array_equal(np.asarray(grid["mask"], bool), np.asarray(mask, bool)):
        raise ConfigError(f"{path}: the land mask differs from the data's mask.npy; retrain on this data")


def scoring_dataset(cfg: Stage2Config) -> Any:
    """The test windows every stage-2 model and reference is scored on (same start dates for all)."""
    from oceane2e.data.datasets import SSTAWindowDataset

    inf = cfg.inference
    if inf.velocity == "forecast":
        return SSTAWindowDataset(cfg.data, "test", inf.lead_days, velocity="forecast",
                                 forecast_path=inf.forecast_path, stride=1, missing_forecast="skip")
    return SSTAWindowDataset(cfg.data, "test", inf.lead_days, velocity="observed", stride=inf.stride)


def result_paths(results_dir: str | Path, name: str) -> dict[str, Path]:
    """The result files of model ``name`` (the reference release's names plus the CF NetCDF)."""
    root = Path(results_dir)
    return {"inputs": root / f"{name}_inputs.npy", "outputs": root / f"{name}_outputs.npy",
            "forecast": root / f"{name}_forecast.nc"}


def infer(cfg: Stage2Config, *, dist_info: DistInfo | None = None, checkpoint: str | Path | None = None,
          show_progress: bool = True, overwrite: bool | None = None) -> dict[str, Path]:
    """Forecast ``inference.lead_days`` days from every test start date and write the result files.

    Start dates are split across ranks and gathered in date order (:func:`sharded_rows`), so N
    processes write the same files as one.
    """
    from oceane2e.data.forecast_files import write_forecast
    from oceane2e.engine.outputs import claim_outputs
    from oceane2e.engine.sharded import sharded_rows

    info = dist_info or current_dist_info()
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    path = Path(checkpoint or cfg.inference.checkpoint or cfg.train.best_checkpoint)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint; train first (train_online.py / train_baseline.py)")
    model, state = load_forecaster(path, map_location=info.device)
    ds = scoring_dataset(cfg)
    coords, mask = ds.folder.coords, ds.folder.mask
    _check_grid(path, state["extras"]["grid"], coords, mask)
    lead = cfg.inference.lead_days
    name = cfg.model.name
    out = result_paths(cfg.inference.results_dir, name)
    claim_outputs(out.values(), overwrite=cfg.inference.overwrite if overwrite is None else overwrite,
                  what=f"{name} inference", announce=info.is_main)
    parts = out["outputs"].with_name(f".{name}_parts")

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        items = [ds[k] for k in idx]
        batch = {key: torch.stack([it[key] for it in items]).to(info.device)
                 for key in ("ssta", "velocity", "atmos", "mask")}
        with torch.no_grad():
            pred = rollout(model, batch, lead)
        return {"outputs": pred.float().cpu().numpy(), "inputs": batch["ssta"][:, 1:].float().cpu().numpy()}

    h, w = coords.shape
    paths = sharded_rows(len(ds), {"outputs": (lead, h, w), "inputs": (lead, h, w)}, compute, parts, info,
                         batch_size=cfg.inference.batch_size, desc=f"{name} inference", show_progress=show_progress)
    if info.is_main:
        out["outputs"].parent.mkdir(parents=True, exist_ok=True)
        forecast = np.load(paths["outputs"], mmap_mode="r")
        truth = np.load(paths["inputs"], mmap_mode="r")
        write_forecast(out["forecast"], forecast, ds.time0s, coords, mask, name, truth=truth,
                       attrs={"checkpoint": str(path), "velocity": cfg.inference.velocity,
                              "test_years": ",".join(map(str, cfg.data.test_years))})
        del forecast, truth
        paths["outputs"].replace(out["outputs"])
        paths["inputs"].replace(out["inputs"])
        shutil.rmtree(parts, ignore_errors=True)
    barrier(info)
    return out


__all__ = [
    "SSTAStepper", "Stage2Config", "Stage2InferenceConfig", "WindowsConfig", "build_forecaster", "infer",
    "load_forecaster", "load_stage2_config", "masked_mse_per_day", "result_paths", "scoring_dataset", "train",
]
