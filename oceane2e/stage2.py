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
from oceane2e.config import ConfigError, StrictModel, load_config
from oceane2e.data.config import DataConfig
from oceane2e.data.forcing import AtmosphereMode
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


DEFAULT_VELOCITY_MODEL = Path("checkpoints/pretrained/MultiConv_best_model.pth")


class WindowsConfig(StrictModel):
    """Training and validation windows of stage 2."""

    velocity: Literal["observed", "forecast", "model"] = Field(
        "observed",
        description="currents that drive training: observed u_g (the paper), M_θ's forecasts read from the "
        "stage-1 file (needs stage-1 inference over the train and val splits), or M_θ's forecasts made on the "
        "fly from inference.velocity_model ('model': the same numbers, no file over the training years)",
    )
    stride: int = Field(1, ge=1, description="days between training start dates")
    val_stride: int = Field(3, ge=1, description="days between validation start dates")
    history_days: int = Field(
        0, ge=0, description="observed SSTA days before each start date that the model sees (training, validation "
        "and inference; DataInfo.n_in = history_days + 1): the SST-only source's history (ssta_prev, ssta_mean); "
        "0: none, the model sees day 0 only (the paper)")
    level_days: int = Field(
        0, ge=0, description="0, or forecast about a level: the mean observed SSTA of the level_days days up to each "
        "start date is taken from the state and its history before the model sees them and added back to every "
        "forecast day (training, validation and inference; DataInfo.level_days), so the slow part of the anomaly "
        "(a warming trend, a warm year) persists instead of relaxing away; 365 for real SST (docs/real_data.md)")


class Stage2InferenceConfig(StrictModel):
    """The forecasts scored by the evaluation."""

    lead_days: int = Field(40, ge=1, description="forecast leads 1..lead_days (days)")
    velocity: Literal["forecast", "observed", "model"] = Field(
        "forecast", description="currents that drive the forecast: M_θ's from the stage-1 file (operational), "
        "observed (oracle), or M_θ's made on the fly from velocity_model ('model')"
    )
    forecast_path: Path | None = Field(None, description="stage-1 file (default <data.root>/MultiConv_data.nc)")
    velocity_model: Path = Field(
        DEFAULT_VELOCITY_MODEL, description="stage-1 checkpoint (M_θ) for velocity 'model' (training and inference)"
    )
    atmosphere: AtmosphereMode = Field(
        "observed",
        description="atmosphere after lead atmosphere_observed_days: observed (the oracle of the reference "
        "release, default for reproducibility), climatology of the training years, persistence or "
        "damped_persistence of the last known anomaly (operational; oceane2e.data.forcing)",
    )
    atmosphere_observed_days: int = Field(
        0, ge=0, description="leads (days) that still see the observed atmosphere when atmosphere is not "
        "'observed' (0: only the start date; a few days stand for a weather forecast)",
    )
    atmosphere_tau_days: float = Field(5.0, gt=0, description="e-folding time (days) of damped_persistence")
    min_history_days: int = Field(
        0, ge=0, description="observed days needed before each start date with velocity 'observed' or 'model' "
        "(3 with stride 3 gives the start dates of a stage-1 file of M_θ with n_in 4, so oracle and on-the-fly "
        "forecasts line up with the others); velocity 'model' needs at least n_in - 1",
    )
    stride: int = Field(
        1, ge=1, description="days between start dates with observed currents; with forecast currents the "
        "start dates are those of the stage-1 file"
    )
    results_dir: Path = Field(Path("results"), description="where <Model>_outputs.npy etc. are written")
    split: Literal["test", "val"] = Field(
        "test", description="whose start dates to forecast: test (scored), or val: hindcasts of the validation "
        "years every hindcast_stride days, written to <results_dir>/hindcast, from which the evaluation fits the "
        "lead-calibrated MHW thresholds (oceane2e.evaluation.calibration); velocity 'forecast' then runs M_θ on "
        "the fly ('model': the currents the stage-1 file would hold), so stage 1 need not forecast those years")
    hindcast_stride: int = Field(6, ge=1, description="days between the start dates of the hindcasts (split val)")
    checkpoint: Path | None = Field(None, description="weights (default: the best checkpoint of train)")
    batch_size: int = Field(4, ge=1, description="start dates per forward pass (per process)")
    overwrite: bool = Field(False, description="replace earlier result files (else refuse; CLI --overwrite)")


class LossConfig(StrictModel):
    """The stage-2 training loss: mean over the rollout days of the masked SSTA MSE (K²), plus options."""

    bias_weight: float = Field(
        0.0, ge=0, description="weight of the squared area-mean error of each sample and day (K²) added to the "
        "MSE: penalises a drift of the domain mean, which the MSE alone weighs only by its square (a 0.1 K "
        "drift is ~2 % of a 20-day MSE); 0 = the plain MSE",
    )


class Stage2Config(StrictModel):
    """``configs/config.yaml`` (hybrid) and ``configs/config_baseline.yaml`` (baselines)."""

    data: DataConfig
    model: SerializeAsAny[StrictModel] = Field(
        ..., description="the network: a registered model of kind 'ssta' (Oceane2e, SimVP, ConvLSTM, ...) and its sizes")
    train: TrainConfig
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    inference: Stage2InferenceConfig = Field(default_factory=Stage2InferenceConfig)
    loss: LossConfig = Field(default_factory=LossConfig)

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

    def __init__(self, model: nn.Module, max_days: int, currents: ModelCurrents | None = None,
                 bias_weight: float = 0.0) -> None:
        self.model = model
        self.max_days = max_days
        self.currents = currents
        self.bias_weight = bias_weight

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor], ctx: StepContext) -> StepOutput:
        days = ctx.rollout_length if ctx.training else self.max_days
        if self.currents is not None:
            batch = self.currents(batch, days)
        pred = rollout(model, batch, days, grad_checkpoint=ctx.grad_checkpoint and ctx.training)
        target = batch["ssta"][:, 1 : days + 1]
        per_day = masked_mse_per_day(pred, target, batch["mask"])
        loss = per_day.mean()
        metrics: dict[str, Tensor | float] = {}
        if self.bias_weight > 0:
            mean_error = area_mean_error(pred, target, batch["mask"])  # (B, days) K
            loss = loss + self.bias_weight * mean_error.pow(2).mean()
        if not ctx.training:
            persistence = batch["ssta"][:, :1].expand_as(target)
            metrics["persistence"] = masked_mse_per_day(persistence, target, batch["mask"]).mean()
            metrics["day1_mse"] = per_day[:, 0].mean()
        return StepOutput(loss, int(pred.shape[0]), metrics)


def area_mean_error(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean of pred − target over the ocean cells: (B, L, H, W) K, mask (B, H, W) -> (B, L) K."""
    m = mask.to(torch.float32)[:, None]
    return ((pred.float() - target.float()) * m).sum(dim=(2, 3)) / m.sum(dim=(2, 3)).clamp_min(1.0)


class ModelCurrents:
    """M_θ's forecast currents for stage-2 batches, made on the fly ("train as you forecast", cheaply).

    Replaces ``batch["velocity"][:, 1:]`` by M_θ's forecast from the observed currents of the
    ``n_in`` days ending on the start date (``batch["velocity_history"]`` and ``batch["velocity"][:, 0]``),
    exactly what stage-1 inference writes into ``MultiConv_data.nc`` for that start date (tested), so
    training on M_θ's currents needs no stage-1 file over the training years (~1 GB per 40 leads and
    year at the demo grid) and costs one small network rollout per batch.

    Args:
        path: the stage-1 checkpoint (``checkpoints/pretrained/MultiConv_best_model.pth``).
        device: where the batches are.
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu") -> None:
        from oceane2e.stage1 import STAGE as STAGE1
        from oceane2e.stage1 import Stage1Config, _legacy_info

        self.path = Path(path)
        self.loaded = load_model_checkpoint(self.path, stage=STAGE1, config_class=Stage1Config,
                                            legacy_info=_legacy_info, map_location=device)
        self.model = self.loaded.model
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.history_days = int(self.model.n_in) - 1

    def check_data(self, ds: Any, root: str | Path) -> None:
        """Refuse data on another grid or land mask than M_θ was trained on (names the checkpoint)."""
        self.loaded.check_data(ds.folder.coords, ds.folder.mask, root)

    def __call__(self, batch: dict[str, Tensor], n_days: int | None = None) -> dict[str, Tensor]:
        """The batch with M_θ's currents at leads 1..n_days (the start date keeps the observed ones).

        ``n_days``: leads to forecast (default: every lead of the batch); the velocity of the returned
        batch then covers days 0..n_days only (a rollout of n_days needs no more), so a short training
        rollout pays for a short M_θ forecast.
        """
        vel = batch["velocity"]
        if n_days is not None:
            vel = vel[:, : n_days + 1]
        if self.history_days:
            if "velocity_history" not in batch:
                raise KeyError("ModelCurrents: the batch has no 'velocity_history'; build the dataset with "
                               f"velocity_history={self.history_days}")
            inputs = torch.cat([batch["velocity_history"].to(vel.dtype), vel[:, :1]], dim=1)
        else:
            inputs = vel[:, :1]
        mask = batch["mask"].bool()
        if mask.ndim == 2:
            mask = mask.expand(vel.shape[0], *mask.shape)
        with torch.no_grad():
            fc = self.model.forecast(inputs, mask, vel.shape[1] - 1)
        out = dict(batch)
        out["velocity"] = torch.cat([vel[:, :1], fc.to(vel.dtype)], dim=1)
        return out


def _currents(cfg: Stage2Config, source: str, device: str | torch.device) -> ModelCurrents | None:
    return ModelCurrents(cfg.inference.velocity_model, device) if source == "model" else None


def _datasets(cfg: Stage2Config, days: int, history: int = 0) -> tuple[Any, Any]:
    from oceane2e.data.datasets import SSTAWindowDataset

    w = cfg.windows
    velocity = "observed" if w.velocity == "model" else w.velocity
    common: dict[str, Any] = {"velocity": velocity, "forecast_path": cfg.inference.forecast_path,
                              "history_days": w.history_days, "velocity_history": history,
                              "level_days": w.level_days}
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
    currents = _currents(cfg, cfg.windows.velocity, info.device)
    train_ds, val_ds = _datasets(cfg, days, currents.history_days if currents else 0)
    if currents is not None:
        currents.check_data(train_ds, cfg.data.root)
    data = train_ds.data_info(stats)
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank and every run
    model = build_model(cfg.model, data)
    extras = checkpoint_extras(STAGE, cfg, data)
    stepper = SSTAStepper(model, days, currents, bias_weight=cfg.loss.bias_weight)
    trainer = Trainer(cfg.train, stepper, train_ds, val_ds, dist_info=info, extras=extras,
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


def check_level(cfg: Stage2Config, info: DataInfo, checkpoint: str | Path) -> None:
    """Refuse a config whose ``windows.level_days`` differs from the checkpoint's: the batches would carry
    another level than the one the model was trained to forecast about (naming both and the fix)."""
    if int(cfg.windows.level_days) != int(info.level_days):
        raise ConfigError(
            f"{checkpoint}: trained to forecast about the mean SSTA of the last {info.level_days} days "
            f"(DataInfo.level_days), but the config sets windows.level_days: {cfg.windows.level_days}; set "
            f"windows.level_days: {info.level_days}, or retrain with the new value")


def scoring_dataset(cfg: Stage2Config, history: int = 0) -> Any:
    """The test windows every stage-2 model and reference is scored on (same start dates for all); those
    of the validation years with ``inference.split: val`` (hindcasts).

    ``history``: observed velocity days before each start date that the batches must carry (M_θ on the fly).
    """
    from oceane2e.data.datasets import SSTAWindowDataset

    inf = cfg.inference
    ssta_history = cfg.windows.history_days
    if inf.velocity == "forecast":
        return SSTAWindowDataset(cfg.data, inf.split, inf.lead_days, velocity="forecast",
                                 forecast_path=inf.forecast_path, stride=1, missing_forecast="skip",
                                 history_days=ssta_history, level_days=cfg.windows.level_days)
    ds = SSTAWindowDataset(cfg.data, inf.split, inf.lead_days, velocity="observed", stride=inf.stride,
                           history_days=ssta_history, velocity_history=max(history, inf.min_history_days),
                           level_days=cfg.windows.level_days)
    if ds.velocity_history > history:  # start dates from min_history_days; the batches need no extra days
        ds.velocity_history = history
    return ds


#: the keys of a stage-2 batch that :func:`rollout` and the stage read (the optional ones only when the items
#: have them)
BATCH_KEYS: tuple[str, ...] = ("ssta", "velocity", "atmos", "mask", "time0", "ssta_history", "velocity_history",
                                "ssta_level")


def stack_batch(items: list[dict[str, Tensor]], device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Dataset items -> a rollout batch on ``device`` (every key of :data:`BATCH_KEYS` the items have)."""
    return {key: torch.stack([it[key] for it in items]).to(device) for key in BATCH_KEYS if key in items[0]}


def result_paths(results_dir: str | Path, name: str) -> dict[str, Path]:
    """The result files of model ``name`` (the reference release's names plus the CF NetCDF)."""
    root = Path(results_dir)
    return {"inputs": root / f"{name}_inputs.npy", "outputs": root / f"{name}_outputs.npy",
            "forecast": root / f"{name}_forecast.nc"}


def forcing_attrs(info: DataInfo, inf: Stage2InferenceConfig) -> dict[str, Any]:
    """What drove a forecast, for its file: the currents (``velocity``) and the atmosphere a model could read.

    A role the data lacks (SST only: no currents, no atmosphere; ``DataInfo.channels``) is ``"none"``, whatever
    ``inference.velocity`` / ``inference.atmosphere`` say: nothing of it was observed, forecast or used, and the
    report must not call it an oracle.
    """
    attrs: dict[str, Any] = {"velocity": inf.velocity if info.channels.get("velocity") else "none"}
    if info.channels.get("atmos"):
        attrs.update(atmosphere=inf.atmosphere, atmosphere_observed_days=inf.atmosphere_observed_days,
                     atmosphere_tau_days=inf.atmosphere_tau_days)
    else:
        attrs["atmosphere"] = "none"
    return attrs


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
    check_level(cfg, loaded.info, path)
    model = loaded.model
    inf = cfg.inference
    if inf.split == "val":  # hindcasts: M_θ on the fly instead of a stage-1 file of the test years
        inf = inf.model_copy(update={"stride": inf.hindcast_stride,
                                     "velocity": "model" if inf.velocity == "forecast" else inf.velocity})
        cfg = cfg.model_copy(update={"inference": inf})
    currents = _currents(cfg, inf.velocity, info.device)
    ds = scoring_dataset(cfg, currents.history_days if currents else 0)
    coords, mask = ds.folder.coords, ds.folder.mask
    loaded.check_data(coords, mask, cfg.data.root)
    if currents is not None:
        currents.check_data(ds, cfg.data.root)
    climatology = None
    if inf.atmosphere != "observed":
        from oceane2e.data.forcing import atmosphere_climatology

        climatology = atmosphere_climatology(cfg.data, channels=ds.atmos_channels)
    lead = cfg.inference.lead_days
    name = cfg.model.name + suffix
    if results_dir is None and inf.split == "val":
        from oceane2e.outputs import HINDCAST_DIR

        results_dir = Path(inf.results_dir) / HINDCAST_DIR
    out = result_paths(results_dir or cfg.inference.results_dir, name)
    claim_outputs(out.values(), overwrite=cfg.inference.overwrite if overwrite is None else overwrite,
                  what=f"{name} inference", announce=info.is_main)

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        from oceane2e.data.forcing import apply_atmosphere_mode

        batch = stack_batch([ds[k] for k in idx])
        if not ds.velocity_history:
            batch.pop("velocity_history", None)
        if inf.atmosphere != "observed":
            batch["atmos"] = torch.from_numpy(apply_atmosphere_mode(
                batch["atmos"].numpy(), batch["time0"].numpy(), inf.atmosphere, climatology,
                inf.atmosphere_observed_days, inf.atmosphere_tau_days))
        batch = {key: value.to(info.device) for key, value in batch.items()}
        if currents is not None:
            batch = currents(batch)
        init = None if initial is None else {k: v.to(info.device) for k, v in initial(ds.time0s[idx]).items()}
        pred = rollout(model, batch, lead, initial=init)
        return {"outputs": pred.float().cpu().numpy(), "targets": batch["ssta"][:, 1:].float().cpu().numpy()}

    def write(outputs: np.ndarray, targets: np.ndarray) -> None:
        out["outputs"].parent.mkdir(parents=True, exist_ok=True)
        write_forecast_file(out["forecast"], outputs, targets, ds.time0s, coords, mask, channels=("ssta",),
                            title=f"Ocean-E2E SSTA forecast of {name}",
                            attrs={"model": name, "checkpoint": str(path), **forcing_attrs(loaded.info, inf),
                                   "split": inf.split, "years": ",".join(map(str, ds.years)),
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
    "BATCH_KEYS", "ModelCurrents", "SSTAStepper", "Stage2Config", "Stage2InferenceConfig", "WindowsConfig", "infer",
    "stack_batch", "check_level",
    "load_forecaster", "load_stage2_config", "masked_mse_per_day", "result_paths", "scoring_dataset", "train",
]
