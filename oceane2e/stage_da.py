"""The learned assimilation: train the analysis network, cycle it, and forecast from analyses.

    train(cfg)    : two runs of the one engine (:class:`oceane2e.engine.trainer.Trainer`):
                    (a) offline — windows of the training years are cycled ``windows.cycle_days`` times:
                        background = a one-day forecast of the trained hybrid (frozen) from the previous
                        analysis (the first from the truth plus a smooth perturbation), analysis from the
                        background and the day's gridded observations, loss = masked MSE against the
                        truth (+ a gradient term, + a Gaussian likelihood of the predicted error std);
                        today's observation masks are swapped between the samples of a batch (values
                        re-drawn from the truth with each cell's error) as augmentation;
                    (b) end-to-end — the same cycle, then the hybrid forecasts ``end_to_end.forecast_days``
                        days from the last analysis (``rollout(..., initial={"ssta": analysis})``); the loss
                        is the forecast trajectory's MSE (+ ``analysis_weight`` × the analysis MSE), back-
                        propagated through the differentiable kernel into the analysis network (the hybrid
                        frozen, or fine-tuned jointly with ``end_to_end.joint``).
                    The best checkpoint of each run is chosen on the validation years.
    cycle(cfg)    : day by day over the test years: background = one-day hybrid forecast from the previous
                    analysis, analysis = network(background, observations of the day and the days before);
                    currents from the altimetry analysis (``cycle.currents_path``, the real-time OI: records up
                    to the day only), never the truth.
                    Writes ``results/<method>_analysis.nc`` and scores every analysis in
                    ``results/analysis_skill.csv``.
    forecast_from_analyses(cfg) : M_θ started from the altimetry currents, then the hybrid started from each
                    analysis file (``forecasts.methods``) on the start dates of the stage-2 scoring: writes
                    ``results/<Forecaster>+<method>_{inputs,outputs}.npy`` and ``_forecast.nc``.

Entry points: ``train_assim.py`` and ``assimilate.py`` (config ``configs/config_da.yaml``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, SerializeAsAny, field_validator, model_validator
from torch import Tensor, nn
from torch.utils.data import Dataset

from model_baselines.analysis import OBS_ROLE, OBS_VARIABLES_ROLE
from model_baselines.base import rollout
from model_baselines.registry import build_model, parse_model_config
from oceane2e.config import ConfigError, StrictModel, load_config, validate_config
from oceane2e.data.config import DataConfig
from oceane2e.data.info import DataInfo
from oceane2e.engine.config import TrainConfig
from oceane2e.engine.distributed import DistInfo, barrier, current_dist_info
from oceane2e.engine.trainer import StepContext, StepOutput, Trainer, TrainResult
from oceane2e.stages import masked_mse, setup_threads

STAGE = "assim"
OFFLINE_SUFFIX = "_offline"
#: a learned analysis that analysed its currents keeps their first guess as ``u_g<this>``, ``v_g<this>``; the
#: forecasts from an analysis file with ``u_g<this>`` start from its own currents
FIRST_GUESS_SUFFIX = "_first_guess"


# ------------------------------------------------------------------------------------------ config
class ObsConfig(StrictModel):
    """Which observations the analysis sees."""

    obs_dir: Path | None = Field(None, description="observation folder; null: <data.root>/obs")
    platforms: list[str] = Field(["sst_l3", "drifter", "argo", "altimetry"], min_length=1,
                                 description="platforms, one channel group each (oceane2e.assim.gridding)")
    window_days: int = Field(3, ge=1, description="days of observations per analysis: the day and the days before")
    future_days: int = Field(
        0, ge=0, description="days of observations after the analysed day: 0 for an analysis forecasts start from; "
        "> 0 makes a fixed-lag smoother (a reanalysis: its file says 'centred', and no forecast may start from it)")

    @property
    def n_days(self) -> int:
        """Days of observations one analysis sees (its network's ``n_in``)."""
        return self.window_days + self.future_days


class WindowsConfig(StrictModel):
    """Training windows: ``cycle_days`` analyses, then (end-to-end) the forecast days."""

    train_years: list[int] | None = Field(
        None, description="years whose windows train (a subset of data.train_years with observations); null: all")
    last_train_years: int | None = Field(
        None, ge=1, description="train on the last N of those years only (null: all): with currents: analysis, the "
        "years an OI must analyse first, so a run on other years needs no edit here")
    cycle_days: int = Field(4, ge=1, description="analyses cycled per window (the first from a perturbed truth)")
    stride: int = Field(2, ge=1, description="days between training windows")
    val_stride: int = Field(6, ge=1, description="days between validation windows")
    currents: str = Field("truth", pattern="^(truth|analysis)$",
                          description="currents of the backgrounds in training (and the first guess of a network "
                          "that analyses currents): the truth (a cheap proxy) or those of a real-time analysis file "
                          "(currents_path) covering the training windows' and validation years")
    currents_path: Path | None = Field(None, description="analysis file with u_g, v_g when currents: analysis (the "
                                       "pipeline writes it with its real-time OI config: step oi_windows)")
    init_noise_k: float = Field(1.0, ge=0, description="largest std (K) of the smooth perturbation of the first "
                                "state; each window draws its std uniformly in [0, init_noise_k], so the network "
                                "meets backgrounds from nearly perfect to as poor as a cold start")
    currents_noise: float = Field(0.1, ge=0, description="std (m s-1) of a smooth perturbation added to the training "
                                  "currents, held over the window: the altimetry analysis' currents are in error "
                                  "by ~0.15 m s-1 (docs/assimilation.md), the truth is not")
    init_smooth_cells: int = Field(5, ge=1, description="box size (cells) that smooths that perturbation")
    mask_swap_prob: float = Field(0.5, ge=0, le=1, description="probability that a sample gets another sample's "
                                  "observation pattern of the day (values re-drawn from its truth)")

    @model_validator(mode="after")
    def _path(self) -> WindowsConfig:
        if self.currents == "analysis" and self.currents_path is None:
            raise ValueError("windows.currents 'analysis' needs windows.currents_path")
        return self


class LossConfig(StrictModel):
    """Terms of the offline loss (besides the analysis MSE)."""

    gradient_weight: float = Field(0.0, ge=0, description="weight of the MSE of the zonal/meridional differences")
    nll_weight: float = Field(0.1, ge=0, description="weight of the Gaussian likelihood of the predicted std "
                              "(the mean is detached in it: the std never pulls the analysis)")
    currents_weight: float = Field(1.0, ge=0, description="weight of the currents' MSE (u_g, v_g in units of "
                                   "their std) beside the SSTA's (K²), for a network that analyses them "
                                   "(model.currents: true); also in the end-to-end stage's analysis term")


class EndToEndConfig(StrictModel):
    """Stage (b): the loss of the forecast started from the analysis, through the kernel."""

    epochs: int = Field(2, ge=0, description="0: no end-to-end stage (the offline network is the final one)")
    forecast_days: int = Field(5, ge=1, description="days of the forecast trajectory in the loss")
    analysis_weight: float = Field(0.5, ge=0, description="weight of the analysis MSE kept in the loss")
    joint: bool = Field(False, description="fine-tune the forecast model jointly (else it stays frozen)")
    lr: float = Field(5e-4, gt=0, description="peak learning rate")
    batch_size: int = Field(4, ge=1, description="global batch size")
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap on optimiser steps per epoch")


class CycleConfig(StrictModel):
    """The cycled analyses of ``assimilate.py``."""

    years: list[int] | None = Field(None, description="analysed years; null: data.test_years")
    currents_path: Path = Field(Path("results/OI-realtime_analysis.nc"),
                                description="altimetry analysis giving the currents (u_g, v_g) of every day; a "
                                "real-time one (past records only), since the forecasts start from the cycle")
    segment_days: int | None = Field(None, ge=1, description="split the period into independent cycles of this "
                                     "many days (each after its own spin-up), spread over the ranks; null: one cycle")
    spinup_days: int = Field(10, ge=0, description="days cycled (and discarded) before a segment's first day")
    checkpoint: Path | None = Field(None, description="weights (default: the final checkpoint of train)")
    clip_k: float | None = Field(10.0, gt=0, description="safety bound |analysis| <= clip_k (K) of the cycle, so one "
                                 "bad day cannot run away through the forecast model; null: none")
    background_currents: Literal["first_guess", "analysis"] = Field(
        "first_guess", description="currents of day d-1 that advect the background to day d: the first guess of "
        "d-1 (the altimetry analysis'), or, with a network that analyses the currents, its analysed currents of d-1 "
        "(the cycle's first day: the first guess). Training keeps the first guess (docs/assimilation.md)")


class ForecastsConfig(StrictModel):
    """Forecasts from analyses (``assimilate.py --forecasts``)."""

    stage1_config: Path = Field(Path("configs/config_vel.yaml"), description="M_θ: checkpoint and start dates")
    stage2_config: Path = Field(Path("configs/config.yaml"), description="the forecaster and the scoring windows")
    methods: dict[str, str] = Field(
        {"NeuralDA": "NeuralDA", "OI": "OI-realtime"},
        description="forecast name -> analysis it starts from: model Oceane2e+<name> starts from "
        "results/<analysis>_analysis.nc (a list [A, B] means {A: A, B: B}). Start only from analyses that use no "
        "record after their day (the cycled NeuralDA, configs/oi_realtime.yaml), or a forecast sees its own lead days")

    @field_validator("methods", mode="before")
    @classmethod
    def _methods(cls, value: Any) -> Any:
        return {str(m): str(m) for m in value} if isinstance(value, list) else value
    velocity_output: Path | None = Field(
        None, description="M_θ forecasts started from the altimetry currents; null: <data.root>/MultiConv_altimetry_data.nc")


class AssimConfig(StrictModel):
    """``configs/config_da.yaml``."""

    data: DataConfig
    model: SerializeAsAny[StrictModel] = Field(..., description="the analysis network (kind 'analysis')")
    forecaster: Path = Field(Path("checkpoints/Oceane2e_best_model.pth"), description="the trained hybrid (stage 2)")
    obs: ObsConfig = Field(default_factory=ObsConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig
    end_to_end: EndToEndConfig = Field(default_factory=EndToEndConfig)
    cycle: CycleConfig = Field(default_factory=CycleConfig)
    forecasts: ForecastsConfig = Field(default_factory=ForecastsConfig)
    results_dir: Path = Field(Path("results"), description="analysis files, scores and forecasts")

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> StrictModel:
        return parse_model_config(value, source="model", kind="analysis")

    @model_validator(mode="after")
    def _years(self) -> AssimConfig:
        extra = sorted(set(self.windows.train_years or []) - set(self.data.train_years))
        if extra:
            raise ValueError(f"windows.train_years {extra} are not training years (data.train_years)")
        if self.obs.future_days > 0 and self.forecasts.methods:
            raise ValueError(f"obs.future_days is {self.obs.future_days}: this analysis is a smoother, which saw the "
                             f"days after each of its days, and so may be its cycle's currents; forecasts.methods "
                             f"may not start {sorted(self.forecasts.methods)} from this config; set forecasts.methods: "
                             "{} (or obs.future_days: 0 for an analysis forecasts start from)")
        if self.cycle.background_currents == "analysis" and not getattr(self.model, "currents", False):
            raise ValueError("cycle.background_currents is 'analysis', but the network does not analyse the currents "
                             "(model.currents is not true); set cycle.background_currents: first_guess, or "
                             "model.currents: true")
        return self

    @property
    def method(self) -> str:
        """The name of the learned analysis in file names and scores (``train.name``)."""
        return self.train.name

    def window_years(self) -> list[int]:
        """The training years whose windows train (``windows.train_years``, else ``data.train_years``, the last
        ``windows.last_train_years`` of them)."""
        years = sorted(self.windows.train_years or self.data.train_years)
        n = self.windows.last_train_years
        return years[-n:] if n else years

    @property
    def obs_root(self) -> Path:
        from oceane2e.data.observations import OBS_DIR

        return self.obs.obs_dir if self.obs.obs_dir is not None else self.data.root / OBS_DIR

    def offline_train(self) -> TrainConfig:
        """The ``train:`` section of the offline run (``<name>_offline`` checkpoints and logs)."""
        return self.train.model_copy(update={"name": self.train.name + OFFLINE_SUFFIX})

    def end_to_end_train(self) -> TrainConfig:
        """The ``train:`` section of the end-to-end run (``<name>`` checkpoints and logs)."""
        e = self.end_to_end
        return self.train.model_copy(update={"epochs": max(e.epochs, 1), "lr": e.lr, "batch_size": e.batch_size,
                                             "max_steps_per_epoch": e.max_steps_per_epoch})

    @property
    def final_checkpoint(self) -> Path:
        """The weights ``assimilate.py`` uses: the end-to-end run's best, or the offline one without it."""
        if self.cycle.checkpoint is not None:
            return self.cycle.checkpoint
        return (self.train if self.end_to_end.epochs else self.offline_train()).best_checkpoint


def load_assim_config(path: str | Path, overrides: dict[str, Any] | None = None) -> AssimConfig:
    """Read and validate ``configs/config_da.yaml`` (unknown keys fail, naming the key)."""
    return load_config(AssimConfig, path, overrides)


# -------------------------------------------------------------------------------------------- data
def analysis_info(grid_info: DataInfo, platforms: Sequence[str], window_days: int) -> DataInfo:
    """The DataInfo of an analysis model: the grid and statistics of the data, the platforms and
    their variables, ``n_in`` = days of observations per analysis."""
    from oceane2e.assim.gridding import PLATFORM_VARIABLES

    channels = {"state": ("ssta",), OBS_ROLE: tuple(platforms),
                OBS_VARIABLES_ROLE: tuple(PLATFORM_VARIABLES[p] for p in platforms)}
    return DataInfo(grid_info.lat, grid_info.lon, grid_info.mask, channels, grid_info.norm_stats,
                    grid_info.dt_s, n_in=window_days, n_out=1)


def _obs_grid(cfg: AssimConfig, first: np.datetime64, last: np.datetime64, coords: Any, mask: np.ndarray) -> Any:
    """:class:`DailyObsGrid` of the records of days ``first .. last`` (years without a file give none)."""
    from oceane2e.assim.gridding import DailyObsGrid
    from oceane2e.data.observations import ObsRecords, find_obs_years, read_obs_year

    have = set(find_obs_years(cfg.obs_root)) if cfg.obs_root.is_dir() else set()
    y0, y1 = int(str(np.datetime64(first, "Y"))), int(str(np.datetime64(last, "Y")))
    parts = [read_obs_year(cfg.obs_root, y) for y in range(y0, y1 + 1) if y in have]
    records = ObsRecords.concat(parts).between(np.datetime64(first, "s"), np.datetime64(last + 1, "s"))
    return DailyObsGrid(records, coords, mask, cfg.obs.platforms)


def _require_obs(cfg: AssimConfig, years: Sequence[int], what: str) -> None:
    from oceane2e.data.observations import find_obs_years

    have = set(find_obs_years(cfg.obs_root)) if cfg.obs_root.is_dir() else set()
    missing = sorted(set(years) - have)
    if missing:
        raise ConfigError(f"{cfg.obs_root}: no observations of {missing} ({what}); make them with "
                          f"`python -m oceane2e observe -o years={sorted(set(years))}`")


class AssimWindowDataset(Dataset):
    """Windows for training the analysis: ``K = cycle_days`` analysis days, then ``n_forecast`` days.

    Item (float32, land 0), days ``t0 - K .. t0 + n_forecast`` with ``t0`` the last analysis day:
    ``ssta`` (K + n_forecast + 1, H, W) K — the truth —, ``velocity`` (…, 2, H, W) m s⁻¹ (truth or an
    analysis file's), ``velocity_true`` (…, 2, H, W) the true currents (only for a network that analyses them:
    their target), ``atmos`` (…, 3, H, W), ``obs`` (K, D + F, P, 3, H, W) the gridded observations of each
    analysis day ``t0 - K + 1 + k``, its D − 1 previous days and (a smoother's) its F next days
    (``obs.future_days``; windows end F days before the last day of the years, so those exist), ``mask`` (H, W)
    bool, ``time0`` int64 (t0).
    """

    def __init__(self, cfg: AssimConfig, years: Sequence[int], n_forecast: int, stride: int) -> None:
        from oceane2e.data.datasets import DataFolder, window_starts

        self.cfg, self.k, self.n_forecast = cfg, cfg.windows.cycle_days, int(n_forecast)
        self.d, self.f = cfg.obs.window_days, cfg.obs.future_days
        self.years = sorted(years)
        self.folder = DataFolder.from_config(cfg.data, self.years, kinds=("geo", "mhw"))
        self.time0s = window_starts(self.years, self.k + self.d - 1, max(self.n_forecast, self.f), stride)
        if self.time0s.size == 0:
            raise ValueError(f"no window of {self.k} analyses + {self.n_forecast} forecast days fits in {self.years}")
        self.obs = _obs_grid(cfg, np.datetime64(f"{self.years[0]:04d}-01-01", "D"),
                             np.datetime64(f"{self.years[-1]:04d}-12-31", "D"), self.folder.coords, self.folder.mask)
        self.currents = None
        #: the true currents in each item (``velocity_true``): the target of a network that analyses currents
        self.target_currents = bool(getattr(cfg.model, "currents", False))
        if cfg.windows.currents == "analysis":
            from oceane2e.assim.analysis_file import AnalysisFile

            self.currents = AnalysisFile(cfg.windows.currents_path)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return int(self.time0s.size)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        t0 = self.time0s[index]
        first, n = t0 - self.k, self.k + self.n_forecast + 1
        mhw = self.folder.read("mhw", first, n, ("ssta", "u10", "v10", "t2m"))
        true_vel = self.folder.read("geo", first, n, ("u_g", "v_g")) if self.currents is None or self.target_currents \
            else None
        if self.currents is None:
            vel = true_vel
        else:
            vel = np.stack([self.currents.read(c, first, n) for c in ("u_g", "v_g")], axis=1)
        obs = np.stack([self.obs.window(first + 1 + k, self.d, self.f) for k in range(self.k)])
        item = {"ssta": torch.from_numpy(np.ascontiguousarray(mhw[:, 0])), "velocity": torch.from_numpy(vel),
                "atmos": torch.from_numpy(np.ascontiguousarray(mhw[:, 1:])), "obs": torch.from_numpy(obs),
                "mask": torch.from_numpy(self.folder.mask.copy()),
                "time0": torch.tensor(int(t0.astype(np.int64)), dtype=torch.int64)}
        if self.target_currents:
            item["velocity_true"] = torch.from_numpy(true_vel)  # type: ignore[arg-type]
        return item


# ------------------------------------------------------------------------------------- the system
def _day_slice(batch: dict[str, Tensor], k: int, n: int) -> dict[str, Tensor]:
    """Days k .. k + n of a window batch as a stage-2 batch (rollout's layout)."""
    return {"ssta": batch["ssta"][:, k : k + n + 1], "velocity": batch["velocity"][:, k : k + n + 1],
            "atmos": batch["atmos"][:, k : k + n + 1], "mask": batch["mask"]}


class AssimSystem(nn.Module):
    """The analysis network and the forecast model, trained (and saved) together.

    ``forward(batch, initial, n_forecast, grad_from)`` cycles the K analysis days of a window batch
    from ``initial`` (B, H, W) and forecasts ``n_forecast`` days from the last analysis. Backgrounds
    are computed without gradient unless the forecaster is trained jointly; analyses before the cycle
    index ``grad_from`` without gradient (their inputs are detached anyway: truncated in time).

    Returns a dict: ``background``/``analysis``/``std`` (B, K, H, W) K (``std`` absent without
    uncertainty), ``currents`` (B, K, 2, H, W) m s⁻¹ (only when the network analyses the currents: first guess
    the window's ``velocity`` of the day) and ``forecast`` (B, n_forecast, H, W) K (absent when n_forecast is 0;
    started from the analysed currents when there are).
    """

    def __init__(self, analysis: nn.Module, forecaster: nn.Module, joint: bool = False) -> None:
        super().__init__()
        self.analysis, self.forecaster = analysis, forecaster
        #: "analysis": the background of day d is advected by the analysed currents of d−1 (when the network
        #: analyses them); "first_guess": by the first guess of d−1. The cycle sets it from
        #: ``cycle.background_currents``; training keeps the first guess.
        self.background_currents: Literal["first_guess", "analysis"] = "first_guess"
        self.set_joint(joint)

    def set_joint(self, joint: bool) -> None:
        """Train the forecaster too (True) or keep it frozen (False)."""
        self.joint = joint
        for p in self.forecaster.parameters():
            p.requires_grad_(joint)

    def background(self, state: Tensor, day_batch: dict[str, Tensor], currents: Tensor | None = None) -> Tensor:
        """(B, H, W) one-day forecast from ``state`` with the forcing of ``day_batch`` (2 days); ``currents``
        (B, 2, H, W) m s⁻¹, the analysed currents of the day before, replace that day's ones when the system
        advects its backgrounds with them (``background_currents: analysis``)."""
        initial = {"ssta": state}
        if currents is not None and self.advects_with_analysed_currents:
            initial.update(u_g=currents[:, 0].detach(), v_g=currents[:, 1].detach())
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.joint):
            return rollout(self.forecaster, day_batch, 1, initial=initial)[:, 0]

    def forward(self, batch: dict[str, Tensor], initial: Tensor, n_forecast: int = 0, grad_from: int = 0,
                grad_checkpoint: bool = False) -> dict[str, Tensor]:
        k_days = batch["obs"].shape[1]
        state = initial
        out: dict[str, list[Tensor]] = {"background": [], "analysis": [], "std": [], "currents": []}
        for k in range(k_days):
            bg = self.background(state.detach(), _day_slice(batch, k, 1),
                                 out["currents"][-1] if k and out["currents"] else None)
            with torch.set_grad_enabled(torch.is_grad_enabled() and k >= grad_from):
                a, std, *uv = self.analysis(bg, batch["obs"][:, k], batch["mask"], *self.first_guess(batch, k + 1))
            out["background"].append(bg)
            out["analysis"].append(a)
            if std is not None:
                out["std"].append(std)
            out["currents"] += uv
            state = a
        result = {key: torch.stack(v, dim=1) for key, v in out.items() if v}
        if n_forecast:
            initial = {"ssta": state}
            if "currents" in result:  # the forecast starts from the analysed currents: its loss trains them too
                initial.update(u_g=result["currents"][:, -1, 0], v_g=result["currents"][:, -1, 1])
            result["forecast"] = rollout(self.forecaster, _day_slice(batch, k_days, n_forecast), n_forecast,
                                         grad_checkpoint=grad_checkpoint, initial=initial)
        return result

    @property
    def advects_with_analysed_currents(self) -> bool:
        """True when a background is advected by the analysed currents of the day before (see ``__init__``)."""
        return self.background_currents == "analysis" and self.analyses_currents

    @property
    def analyses_currents(self) -> bool:
        """True when the analysis network also analyses the currents (``model.currents: true``)."""
        return bool(getattr(self.analysis, "analyses_currents", False))

    def first_guess(self, batch: dict[str, Tensor], day: int) -> tuple[Tensor, ...]:
        """The analysis network's extra input of window day ``day``: its first-guess currents (B, 2, H, W),
        or nothing when it does not analyse them."""
        return (batch["velocity"][:, day],) if self.analyses_currents else ()


def smooth_noise(shape: tuple[int, ...], std: float, cells: int, generator: torch.Generator | None = None) -> Tensor:
    """(B, H, W) Gaussian noise smoothed by a ``cells`` box, rescaled to ``std`` (K)."""
    noise = torch.randn(shape, generator=generator)
    if cells > 1:
        noise = F.avg_pool2d(noise[:, None], cells, 1, padding=cells // 2, count_include_pad=False)[:, 0]
        noise = noise[..., : shape[-2], : shape[-1]]
    return noise / noise.std().clamp_min(1e-6) * std


def swap_obs_masks(obs: Tensor, truth: Tensor, mask: Tensor, is_ssta: Sequence[bool], prob: float) -> Tensor:
    """Augmentation: today's observation pattern of sample b becomes sample (b+1)'s, with probability ``prob``.

    Args:
        obs: (B, K, D, P, 3, H, W) gridded observations; truth: (B, K, H, W) the truth of each analysis day.
        is_ssta: per platform, True when it observes SSTA (sea level is left as observed).

    The swapped cells' values are the sample's own truth plus Gaussian noise of the cell's error
    (1 / sqrt(inverse variance)); count and inverse variance move with the pattern.
    """
    b = obs.shape[0]
    if b < 2 or prob <= 0:
        return obs
    obs = obs.clone()
    pick = torch.rand(b) < prob
    donor = obs[torch.roll(torch.arange(b), 1), :, 0]  # (B, K, P, 3, H, W)
    for p, ssta in enumerate(is_ssta):
        if not ssta:
            continue
        count, ivar = donor[:, :, p, 1], donor[:, :, p, 2]
        seen = (count > 0) & mask.bool()[:, None]
        err = torch.where(seen, ivar.clamp_min(1e-12).rsqrt(), torch.zeros_like(ivar))
        value = torch.where(seen, truth + torch.randn_like(truth) * err, torch.zeros_like(truth))
        new = torch.stack([value, count * seen, ivar * seen], dim=2)
        obs[pick, :, 0, p] = new[pick]
    return obs


def _gradient_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """(B, K) MSE of the east and north differences (over pairs of ocean cells)."""
    m = mask.bool()[:, None]
    terms = []
    for dim in (-1, -2):
        both = (m.narrow(dim, 1, m.shape[dim] - 1) & m.narrow(dim, 0, m.shape[dim] - 1)).float()
        d = (pred - target).diff(dim=dim)
        terms.append((d**2 * both).sum(dim=(-2, -1)) / both.sum(dim=(-2, -1)).clamp_min(1.0))
    return 0.5 * (terms[0] + terms[1])


class AssimStepper:
    """Loss of the offline (``n_forecast == 0``) or the end-to-end stage (see the module docstring)."""

    def __init__(self, model: AssimSystem, cfg: AssimConfig, n_forecast: int) -> None:
        self.model, self.cfg, self.n_forecast = model, cfg, n_forecast
        from oceane2e.assim.gridding import PLATFORM_VARIABLES

        self.is_ssta = [PLATFORM_VARIABLES[p] == "ssta" for p in cfg.obs.platforms]

    def perturb(self, batch: dict[str, Tensor], training: bool) -> tuple[Tensor, dict[str, Tensor]]:
        """The state before the first cycle (the truth plus a smooth perturbation of a random size) and
        the batch with perturbed currents; drawn from the global RNG in training, fixed in validation."""
        w = self.cfg.windows
        truth0 = batch["ssta"][:, 0]
        ocean = batch["mask"].bool()
        gen = None if training else torch.Generator().manual_seed(int(batch["time0"].sum()))
        b = truth0.shape[0]
        size = torch.rand(b, 1, 1, generator=gen) * w.init_noise_k
        noise = torch.stack([smooth_noise((1, *truth0.shape[1:]), 1.0,
                                          w.init_smooth_cells, gen)[0] for _ in range(b)]) * size
        state = torch.where(ocean, truth0 + noise.to(truth0), torch.zeros_like(truth0))
        if w.currents_noise > 0:
            du = smooth_noise((2 * b, *truth0.shape[1:]), w.currents_noise, w.init_smooth_cells, gen)
            du = du.reshape(b, 1, 2, *truth0.shape[1:]).to(truth0) * ocean[:, None, None]
            batch = {**batch, "velocity": batch["velocity"] + du}
        return state, batch

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor], ctx: StepContext) -> StepOutput:
        k_days = batch["obs"].shape[1]
        truth = batch["ssta"][:, 1 : k_days + 1]
        mask = batch["mask"]
        if ctx.training and self.cfg.windows.mask_swap_prob > 0:
            batch = {**batch, "obs": swap_obs_masks(batch["obs"], truth, mask, self.is_ssta,
                                                    self.cfg.windows.mask_swap_prob)}
        grad_from = k_days - 1 if self.n_forecast else 0
        initial, batch = self.perturb(batch, ctx.training)
        out = model(batch, initial, self.n_forecast, grad_from, ctx.grad_checkpoint and ctx.training)
        analysis_mse = masked_mse(out["analysis"], truth, mask)  # (B, K)
        metrics: dict[str, Tensor | float] = {
            "analysis_mse_last": analysis_mse[:, -1].mean().detach(),
            "background_mse_last": masked_mse(out["background"], truth, mask)[:, -1].mean().detach()}
        if "currents" in out:  # (B, K): the MSE of u_g, v_g in units of their std, mean of the two
            scale = self.model.analysis.vel_scale[None, None, :, None, None]  # type: ignore[union-attr]
            true_uv = batch["velocity_true"][:, 1 : k_days + 1] / scale
            current_mse = masked_mse(out["currents"] / scale, true_uv, mask)
            first_mse = masked_mse(batch["velocity"][:, k_days : k_days + 1] / scale, true_uv[:, -1:], mask)
            metrics["currents_mse_last"] = current_mse[:, -1].mean().detach()
            metrics["first_guess_currents_mse"] = first_mse.mean().detach()
            analysis_mse = analysis_mse + self.cfg.loss.currents_weight * current_mse
        if self.n_forecast:
            fc_mse = masked_mse(out["forecast"], batch["ssta"][:, k_days + 1 : k_days + 1 + self.n_forecast], mask)
            loss = fc_mse.mean() + self.cfg.end_to_end.analysis_weight * analysis_mse[:, -1].mean()
            metrics["forecast_mse"] = fc_mse.mean().detach()
            metrics["forecast_mse_day1"] = fc_mse[:, 0].mean().detach()
            return StepOutput(loss, int(truth.shape[0]), metrics)
        loss = analysis_mse.mean()
        lc = self.cfg.loss
        if lc.gradient_weight:
            loss = loss + lc.gradient_weight * _gradient_mse(out["analysis"], truth, mask).mean()
        if "std" in out and lc.nll_weight:
            var = out["std"].float() ** 2
            m = mask.bool()[:, None].expand_as(var).float()
            nll = 0.5 * (torch.log(var.clamp_min(1e-8)) + (out["analysis"].detach() - truth) ** 2 / var.clamp_min(1e-8))
            nll = (nll * m).sum() / m.sum().clamp_min(1.0)
            loss = loss + lc.nll_weight * nll
            metrics["nll"] = nll.detach()
        return StepOutput(loss, int(truth.shape[0]), metrics)


# ------------------------------------------------------------------------------------------ train
def _forecaster(cfg: AssimConfig, map_location: str | torch.device = "cpu") -> Any:
    from oceane2e.stage2 import load_forecaster

    loaded = load_forecaster(cfg.forecaster, map_location=map_location)
    _refuse_observed_past(loaded.info.n_in, loaded.info.level_days, cfg.forecaster,
                          "the assimilation cycle gives its background forecast day 0 alone")
    return loaded


def _refuse_observed_past(n_in: int, level_days: int, path: str | Path, why: str) -> None:
    """A forecaster that reads the observed SSTA before day 0 (history, level) cannot start from analyses."""
    if n_in > 1 or level_days:
        raise ConfigError(
            f"{path}: this forecaster sees the SSTA of {n_in} days"
            + (f" and forecasts about the mean of the last {level_days}" if level_days else "")
            + f"; {why}. Use a forecaster trained with windows.history_days: 0 and windows.level_days: 0 (the "
            "synthetic ocean's, configs/config.yaml)")


def build_system(cfg: AssimConfig, grid_info: DataInfo, forecaster: nn.Module) -> tuple[AssimSystem, DataInfo]:
    """A fresh analysis network (seeded by ``train.seed``) beside ``forecaster``."""
    info = analysis_info(grid_info, cfg.obs.platforms, cfg.obs.n_days)
    torch.manual_seed(cfg.train.seed)
    return AssimSystem(build_model(cfg.model, info), forecaster), info  # type: ignore[arg-type]


def _extras(cfg: AssimConfig, info: DataInfo, loaded: Any) -> dict[str, Any]:
    return {"stage": STAGE, "model": cfg.model.name, "config": cfg.model_dump(mode="json"),  # type: ignore[attr-defined]
            "data_info": info.to_dict(), "forecaster": {"config": loaded.config.model_dump(mode="json"),
                                                        "data_info": loaded.info.to_dict(), "path": str(loaded.path)}}


def train(cfg: AssimConfig, *, resume: bool = False, dist_info: DistInfo | None = None, show_progress: bool = True,
          on_trainer: Callable[[Trainer], None] | None = None) -> list[TrainResult]:
    """The offline run, then the end-to-end run (each resumable; see the module docstring).

    ``on_trainer`` is called with each :class:`Trainer` before it runs (tests stop one mid-way).
    Returns the runs' results (the second is absent when the first was stopped or there is no
    end-to-end stage).
    """
    from oceane2e.data.normalization import ensure_stats

    info = dist_info or current_dist_info()
    setup_threads(cfg.train.num_threads)
    if info.is_main:
        ensure_stats(cfg.data, progress=show_progress)
    barrier(info)
    stats = ensure_stats(cfg.data, progress=False)
    years = cfg.window_years()
    _require_obs(cfg, [*years, *cfg.data.val_years], "training and validation years")
    loaded = _forecaster(cfg)
    n_fc = cfg.end_to_end.forecast_days if cfg.end_to_end.epochs else 0
    train_ds = AssimWindowDataset(cfg, years, n_fc, cfg.windows.stride)
    val_ds = AssimWindowDataset(cfg, cfg.data.val_years, n_fc, cfg.windows.val_stride)
    loaded.check_data(train_ds.folder.coords, train_ds.folder.mask, cfg.data.root)
    grid = loaded.info.with_stats({**loaded.info.norm_stats, **stats})
    system, ainfo = build_system(cfg, grid, loaded.model)
    extras = _extras(cfg, ainfo, loaded)
    results = []
    trainer = Trainer(cfg.offline_train(), AssimStepper(system, cfg, 0), train_ds, val_ds, dist_info=info,
                      extras=extras, num_workers=cfg.data.num_workers, show_progress=show_progress)
    if on_trainer is not None:
        on_trainer(trainer)
    results.append(trainer.train(resume=resume))
    if results[-1].stopped or not cfg.end_to_end.epochs:
        return results
    from oceane2e.engine.checkpoint import load_checkpoint

    best = load_checkpoint(cfg.offline_train().best_checkpoint, map_location="cpu")
    system.load_state_dict(best["model"])
    system.set_joint(cfg.end_to_end.joint)
    trainer = Trainer(cfg.end_to_end_train(), AssimStepper(system, cfg, n_fc), train_ds, val_ds, dist_info=info,
                      extras=extras, num_workers=cfg.data.num_workers, show_progress=show_progress)
    if on_trainer is not None:
        on_trainer(trainer)
    results.append(trainer.train(resume=resume))
    return results


def load_system(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[AssimSystem, AssimConfig, DataInfo]:
    """Rebuild the analysis network and its forecaster from a checkpoint of :func:`train` (eval mode)."""
    from oceane2e.engine.checkpoint import load_checkpoint
    from oceane2e.stage2 import Stage2Config

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint; run train_assim.py first (or fix cycle.checkpoint)")
    state = load_checkpoint(path, map_location="cpu")
    extras = state.get("extras", {})
    if extras.get("stage") != STAGE:
        raise ConfigError(f"{path}: a {extras.get('stage', 'unknown')} checkpoint, not one of train_assim.py")
    cfg = validate_config(AssimConfig, extras["config"], source=f"{path} (stored config)")
    info = DataInfo.from_dict(extras["data_info"])
    fc_cfg = validate_config(Stage2Config, extras["forecaster"]["config"], source=f"{path} (stored forecaster config)")
    forecaster = build_model(fc_cfg.model, DataInfo.from_dict(extras["forecaster"]["data_info"]))
    system = AssimSystem(build_model(cfg.model, info), forecaster)  # type: ignore[attr-defined]
    system.load_state_dict(state["model"])
    return system.to(map_location).eval(), cfg, info


# ------------------------------------------------------------------------------------------ cycle
@dataclasses.dataclass(frozen=True)
class Segment:
    """One independent cycle: days [start - spinup, stop) analysed, [start, stop) kept (indices of the period)."""

    start: int
    stop: int
    spinup: int


def segments(n_days: int, segment_days: int | None, spinup_days: int) -> list[Segment]:
    """The cycles of a period of ``n_days`` (one from day 0 when ``segment_days`` is None)."""
    if segment_days is None:
        return [Segment(0, n_days, 0)]
    return [Segment(s, min(s + segment_days, n_days), min(spinup_days, s)) for s in range(0, n_days, segment_days)]


class CycleInputs:
    """What one cycled day needs, read lazily: forcing of the day before and the day, observations."""

    def __init__(self, cfg: AssimConfig, dates: np.ndarray, currents: Any) -> None:
        from oceane2e.data.datasets import DataFolder

        self.dates, self.currents, self.window, self.future = dates, currents, cfg.obs.window_days, cfg.obs.future_days
        years = sorted({int(str(d)[:4]) for d in dates})
        self.folder = DataFolder.from_config(cfg.data, years, kinds=("mhw",))
        self.obs = _obs_grid(cfg, dates[0] - self.window, dates[-1] + self.future, self.folder.coords,
                             self.folder.mask)

        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def forcing(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(atmosphere (3, H, W), currents (2, H, W)) of day ``k`` (the last two days are cached)."""
        if k not in self._cache:
            d = self.dates[k]
            self._cache = {j: v for j, v in self._cache.items() if j >= k - 1}
            self._cache[k] = (self.folder.read("mhw", d, 1, ("u10", "v10", "t2m"))[0],
                              np.stack([self.currents.read(c, d, 1)[0] for c in ("u_g", "v_g")]))
        return self._cache[k]

    def day(self, k: int) -> dict[str, Tensor]:
        """A one-step batch (B=1) for analysis day ``k``: forcing of days k−1 (clamped at 0) and k, and
        the observation window ``obs`` (1, D, P, 3, H, W)."""
        (a0, v0), (a1, v1) = self.forcing(max(k - 1, 0)), self.forcing(k)
        atmos, vel = np.stack([a0, a1]), np.stack([v0, v1])
        h, w = self.folder.shape
        return {"ssta": torch.zeros(1, 2, h, w), "velocity": torch.from_numpy(vel)[None],
                "atmos": torch.from_numpy(atmos)[None], "mask": torch.from_numpy(self.folder.mask.copy())[None],
                "obs": torch.from_numpy(self.obs.window(self.dates[k], self.window, self.future))[None]}


def run_cycle(system: AssimSystem, inputs: CycleInputs, seg: Segment, state: Tensor | None = None,
              clip_k: float | None = None) -> dict[str, np.ndarray]:
    """Cycle the days of ``seg`` (analyses bounded by ``clip_k`` K when given); returns ``analysis``,
    ``background``, ``std`` (stop − start, H, W) K, and ``u_g``, ``v_g`` (m s⁻¹) when the network analyses the
    currents (first guess: the day's currents of ``inputs``)."""
    h, w = inputs.folder.shape
    x = torch.zeros(1, h, w) if state is None else state
    keep: dict[str, list[np.ndarray]] = {"analysis": [], "background": [], "std": []}
    if system.analyses_currents:
        keep.update(u_g=[], v_g=[])
    uv: list[Tensor] = []
    for k in range(seg.start - seg.spinup, seg.stop):
        day = inputs.day(k)
        bg = system.background(x, day, uv[0] if uv else None)
        x, std, *uv = system.analysis(bg, day["obs"], day["mask"], *system.first_guess(day, 1))
        if clip_k is not None:
            x = x.clamp(-clip_k, clip_k)
        if k >= seg.start:
            keep["analysis"].append(x[0].numpy())
            keep["background"].append(bg[0].numpy())
            keep["std"].append((std if std is not None else torch.full_like(x, np.nan))[0].numpy())
            if uv:
                keep["u_g"].append(uv[0][0, 0].numpy())
                keep["v_g"].append(uv[0][0, 1].numpy())
    return {k: np.stack(v) for k, v in keep.items()}


def cycle(cfg: AssimConfig, *, dist_info: DistInfo | None = None, checkpoint: str | Path | None = None,
          show_progress: bool = True, score: bool = True, overwrite: bool = False) -> Path:
    """Cycle the learned analysis over ``cycle.years`` and write ``<results>/<method>_analysis.nc``.

    Segments (``cycle.segment_days``) are split across ranks; each is cycled alone, so N processes
    write what one writes. The currents of the analysis file are those of ``cycle.currents_path``.
    """
    from oceane2e.assim.analysis_file import CENTRED, PAST_ONLY, AnalysisFile
    from oceane2e.assim.oi import write_analysis
    from oceane2e.dates import days_in_year
    from oceane2e.engine.sharded import sharded_rows
    from oceane2e.outputs import claim_outputs

    info = dist_info or current_dist_info()
    setup_threads(cfg.train.num_threads)
    claim_outputs([cfg.results_dir / f"{cfg.method}_analysis.nc"], overwrite=overwrite,
                  what=f"{cfg.method} cycling", announce=info.is_main)
    system, trained, _ = load_system(checkpoint or cfg.final_checkpoint)
    system.background_currents = cfg.cycle.background_currents
    if cfg.cycle.background_currents == "analysis" and not system.analyses_currents:
        raise ConfigError(f"{checkpoint or cfg.final_checkpoint}: the network does not analyse the currents, so "
                          "cycle.background_currents: analysis has none to advect with; set it to first_guess, or "
                          "cycle a network trained with model.currents: true")
    got, want = (trained.obs.window_days, trained.obs.future_days), (cfg.obs.window_days, cfg.obs.future_days)
    if got != want:
        raise ConfigError(f"{checkpoint or cfg.final_checkpoint}: trained with obs.window_days, future_days = {got}, "
                          f"but the config says {want}; the network's observation slots would be read in the wrong "
                          "order: cycle it with the config it was trained with")
    years = sorted(cfg.cycle.years or cfg.data.test_years)
    _require_obs(cfg, years, "analysed years")
    dates = np.concatenate([np.datetime64(f"{y:04d}-01-01", "D") + np.arange(days_in_year(y)) for y in years])
    currents = AnalysisFile(cfg.cycle.currents_path)
    if cfg.obs.future_days == 0:  # a smoother's cycle (a reanalysis, never a forecast's start) may use a smoother's
        currents.require_past_only("the currents of the cycle (cycle.currents_path)")
    if not currents.covers(dates[0], dates.size):
        raise ConfigError(f"{currents.path}: covers {currents.dates[0]}..{currents.dates[-1]}, not the analysed "
                          f"years {years}; run `oceane2e oi` over them first")
    inputs = CycleInputs(cfg, dates, currents)
    coords, mask = inputs.folder.coords, inputs.folder.mask
    system.analysis.data_info.check_grid(coords, mask, source=cfg.final_checkpoint, data=cfg.data.root)
    segs = segments(dates.size, cfg.cycle.segment_days, cfg.cycle.spinup_days)
    longest = max(s.stop - s.start for s in segs)
    h, w = coords.shape

    keys = ("analysis", "background", "std") + (("u_g", "v_g") if system.analyses_currents else ())

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        rows = {k: np.full((len(idx), longest, h, w), np.nan, np.float32) for k in keys}
        with torch.no_grad():
            for r, i in enumerate(idx):
                got = run_cycle(system, inputs, segs[i], clip_k=cfg.cycle.clip_k)
                for k, v in got.items():
                    rows[k][r, : v.shape[0]] = v
        return rows

    method = cfg.method
    out = cfg.results_dir / f"{method}_analysis.nc"
    paths = sharded_rows(len(segs), {k: (longest, h, w) for k in keys}, compute,
                         cfg.results_dir / f".{method}_cycle_parts", info, batch_size=1, desc=f"{method} cycling",
                         show_progress=show_progress)
    if info.is_main:
        fields = {}
        names = {"analysis": "ssta", "background": "ssta_background", "std": "ssta_error_std", "u_g": "u_g",
                 "v_g": "v_g"}
        for key in keys:
            rows = np.load(paths[key], mmap_mode="r")
            fields[names[key]] = np.concatenate([rows[i, : s.stop - s.start] for i, s in enumerate(segs)])
        if np.isnan(fields["ssta_error_std"][:, mask]).all():
            del fields["ssta_error_std"]
        if system.analyses_currents:
            for c in ("u_g", "v_g"):  # the first guess, kept beside the analysed currents
                fields[f"{c}{FIRST_GUESS_SUFFIX}"] = currents.read(c, dates[0], dates.size)
            origin = f"analysed by {method} from the first guess u_g, v_g of {currents.path} ({currents.method})"
        else:
            fields["u_g"] = currents.read("u_g", dates[0], dates.size)
            fields["v_g"] = currents.read("v_g", dates[0], dates.size)
            origin = f"u_g, v_g of {currents.path} ({currents.method})"
        attrs = {"method": method, "checkpoint": str(checkpoint or cfg.final_checkpoint),
                 "observations": str(cfg.obs_root), "currents": origin,
                 "background": "one-day forecast of the hybrid from the previous analysis" + (
                     " with its analysed currents" if system.advects_with_analysed_currents else ""),
                 "windows": (f"{PAST_ONLY} (records of days d-{cfg.obs.window_days - 1} .. d; the background from "
                             "d-1)") if cfg.obs.future_days == 0 else
                            (f"{CENTRED} (a fixed-lag smoother: records of days d-{cfg.obs.window_days - 1} .. "
                             f"d+{cfg.obs.future_days}; the background from d-1)"),
                 "segments": f"{len(segs)} (segment_days={cfg.cycle.segment_days}, spinup_days={cfg.cycle.spinup_days})"}
        write_analysis(out, dates, coords, mask, fields, attrs)
        import shutil

        shutil.rmtree(paths["analysis"].parent, ignore_errors=True)
        if score:
            from oceane2e.assim.scores import print_scores, score_analyses

            print_scores(score_analyses(cfg.results_dir, cfg.data.root, cfg.obs_root,
                                        lat_bounds=cfg.data.lat_bounds, lon_bounds=cfg.data.lon_bounds))
    barrier(info)
    return out


# ------------------------------------------------------------------------------- forecasts from obs
def velocity_from_altimetry(cfg: AssimConfig, *, dist_info: DistInfo | None = None, show_progress: bool = True,
                            currents_path: Path | None = None, output: Path | None = None) -> Path:
    """M_θ's forecasts started from the altimetry currents (``cycle.currents_path``, or ``currents_path``: any
    real-time analysis file with u_g, v_g) on the start dates of the stage-1 file, written like
    ``MultiConv_data.nc`` (channels u_g, v_g) to ``forecasts.velocity_output`` (or ``output``)."""
    from oceane2e.assim.analysis_file import AnalysisFile
    from oceane2e.data.forecast_files import ForecastFile
    from oceane2e.engine.sharded import sharded_rows
    from oceane2e.stage1 import STAGE as STAGE1
    from oceane2e.stage1 import Stage1Config, _legacy_info, load_stage1_config
    from oceane2e.stages import load_model_checkpoint, write_forecast_file

    info = dist_info or current_dist_info()
    c1 = load_stage1_config(cfg.forecasts.stage1_config)
    loaded = load_model_checkpoint(c1.inference.checkpoint or c1.train.best_checkpoint, stage=STAGE1,
                                   config_class=Stage1Config, expected_model=c1.model.name, legacy_info=_legacy_info)
    model = loaded.model
    with ForecastFile(c1.inference.output) as f:
        time0, lead = f.time0, int(f.n_lead)
    currents = AnalysisFile(currents_path or cfg.cycle.currents_path)
    currents.require_past_only("the start of M_θ's forecasts (cycle.currents_path)")
    ok = np.array([currents.covers(t - model.n_in + 1, model.n_in) for t in time0])
    time0 = time0[ok]
    from oceane2e.data.contract import GridCoords

    coords = GridCoords(lat=currents.lat, lon=currents.lon)
    loaded.check_data(coords, currents.mask, currents.path)
    mask = torch.from_numpy(currents.mask.copy())
    out = output or cfg.forecasts.velocity_output or cfg.data.root / "MultiConv_altimetry_data.nc"
    h, w = currents.mask.shape

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        inputs = torch.stack([torch.from_numpy(np.stack([currents.read(c, time0[i] - model.n_in + 1, model.n_in)
                                                         for c in ("u_g", "v_g")], axis=1)) for i in idx])
        with torch.no_grad():
            return {"outputs": model.forecast(inputs, mask.expand(len(idx), h, w), lead).float().numpy()}

    parts = out.with_name(out.name + ".parts")
    paths = sharded_rows(time0.size, {"outputs": (lead, 2, h, w)}, compute, parts, info,
                         batch_size=c1.inference.batch_size, desc=f"M_θ from {Path(currents.path).name}",
                         show_progress=show_progress)  # the altimetry's analysis, or a learned one's currents
    if info.is_main:
        write_forecast_file(out, np.load(paths["outputs"], mmap_mode="r"), None, time0, coords, currents.mask,
                            channels=model.channels, title="Ocean-E2E stage-1 velocity forecasts from altimetry",
                            attrs={"model": c1.model.name, "initial_currents": str(currents.path), "n_in": model.n_in})
        import shutil

        shutil.rmtree(parts, ignore_errors=True)
    barrier(info)
    return out


def forecast_from_analyses(cfg: AssimConfig, *, dist_info: DistInfo | None = None, show_progress: bool = True,
                           overwrite: bool = False, names: Sequence[str] | None = None,
                           reuse_velocity: bool = False) -> dict[str, Path]:
    """The hybrid started from the analysis ``results/<analysis>_analysis.nc`` of each ``name: analysis`` of
    ``forecasts.methods`` as model ``<hybrid>+<name>`` (currents of day 0 from the altimetry analysis
    ``cycle.currents_path``, later days from M_θ started from it; never the truth), on the start dates every
    other model is scored on. An analysis that analysed its own currents (a learned analysis with
    ``model.currents: true``: its file has ``u_g_first_guess``) gives them instead, day 0 and M_θ's start
    (M_θ's forecasts from them: ``<data.root>/MultiConv_<analysis>_data.nc``). Returns name -> forecast file.

    ``names``: only these of ``forecasts.methods`` (the pipeline forecasts from OI while the learned analysis
    still trains); ``reuse_velocity``: use M_θ's forecasts from the altimetry already written
    (``forecasts.velocity_output``) instead of making them again."""
    from oceane2e.assim.analysis_file import AnalysisFile
    from oceane2e.stage2 import infer, load_stage2_config

    info = dist_info or current_dist_info()
    setup_threads(cfg.train.num_threads)
    unknown = sorted(set(names or ()) - set(cfg.forecasts.methods))
    if unknown:
        raise ConfigError(f"forecasts from analyses {unknown}: not in forecasts.methods {sorted(cfg.forecasts.methods)}")
    c2 = load_stage2_config(cfg.forecasts.stage2_config)
    # infer holds the checkpoint to these windows; the observed past before day 0 would be the truth's
    # (refused before M_θ forecasts anything)
    _refuse_observed_past(c2.windows.history_days + 1, c2.windows.level_days, cfg.forecasts.stage2_config,
                          "its forecasts from analyses would read that past from the truth")
    written_vel = cfg.forecasts.velocity_output or cfg.data.root / "MultiConv_altimetry_data.nc"
    if reuse_velocity and written_vel.exists():
        vel_path = written_vel
    else:
        vel_path = velocity_from_altimetry(cfg, dist_info=info, show_progress=show_progress)
    c2 = c2.model_copy(update={"inference": c2.inference.model_copy(update={"forecast_path": vel_path,
                                                                             "velocity": "forecast"})})
    currents = AnalysisFile(cfg.cycle.currents_path)
    currents.require_past_only("the currents of the forecasts' day 0 (cycle.currents_path)")  # also when reused
    written = {}
    for method, analysis in cfg.forecasts.methods.items():
        if names is not None and method not in names:
            continue
        analyses = AnalysisFile(cfg.results_dir / f"{analysis}_analysis.nc")
        analyses.require_past_only(f"the start of {c2.model.name}+{method} (forecasts.methods.{method})")
        c2m, own = c2, analyses if f"u_g{FIRST_GUESS_SUFFIX}" in analyses.variables else currents
        if own is analyses:  # its own analysed currents: day 0 and M_θ's start
            vel_own = velocity_from_altimetry(cfg, dist_info=info, show_progress=show_progress,
                                              currents_path=analyses.path,
                                              output=cfg.data.root / f"MultiConv_{analysis}_data.nc")
            c2m = c2.model_copy(update={"inference": c2.inference.model_copy(update={"forecast_path": vel_own})})

        def initial(time0: np.ndarray, analyses: AnalysisFile = analyses, own: AnalysisFile = own) -> dict[str, Tensor]:
            return {"ssta": torch.from_numpy(np.stack([analyses.read("ssta", t, 1)[0] for t in time0])),
                    "u_g": torch.from_numpy(np.stack([own.read("u_g", t, 1)[0] for t in time0])),
                    "v_g": torch.from_numpy(np.stack([own.read("v_g", t, 1)[0] for t in time0]))}

        paths = infer(c2m, initial=initial, suffix=f"+{method}", results_dir=cfg.results_dir, dist_info=info,
                      show_progress=show_progress, overwrite=overwrite,
                      attrs={"initial_state": str(analyses.path), "initial_currents": str(own.path)})
        written[method] = paths["forecast"]
    return written


__all__ = [
    "FIRST_GUESS_SUFFIX", "AssimConfig", "AssimStepper", "AssimSystem", "AssimWindowDataset", "CycleInputs", "Segment", "analysis_info",
    "build_system", "cycle", "forecast_from_analyses", "load_assim_config", "load_system", "run_cycle", "segments",
    "smooth_noise", "swap_obs_masks", "train", "velocity_from_altimetry",
]
