"""Ensemble inference: N perturbed rollouts of a stage-2 model per start date, batched (issue 17).

Each member m of the forecast started on day t0 differs from the deterministic forecast by

* its initial SSTA: ``ssta(t0) + σ_a · ε`` with ε a coherent unit field (length ``initial.length_scale_km``)
  and σ_a the analysis-error std of SSTA — per cell and start date from an assimilation's
  ``<Method>_analysis.nc`` (``ssta_error_std``) when ``initial.analysis`` names one, else ``initial.std_k``;
* its forecast currents (M_θ's leads 1..L): ``u_g + s_u · σ_u(k) · (−∂ψ/∂y, ∂ψ/∂x)``, a non-divergent
  perturbation from a coherent, AR(1)-in-time streamfunction ψ, unit RMS per day, scaled by σ_u(k), the
  RMSE of M_θ's currents at lead k measured on the VALIDATION years (``currents.error_forecast``, a
  stage-1 forecast file of those years with targets; made on first use), times ``currents.scale``;
* optionally a stochastic source (:class:`model_baselines.stochastic.StochasticSource`): each day an
  additive coherent field of std ``source.std`` K/day, or a multiplicative one on the model's learned
  source, AR(1) in time, its amplitude per cell proportional to the SSTA std of the training years
  when ``source.relative_to_ssta_std``.

Every random field comes from :func:`oceane2e.ensemble.noise.member_rng` (seed, purpose, start date,
member): a member does not depend on the batch or the rank, so N-rank inference equals 1-rank. A
batch of B start dates becomes B·(N+1) rollouts — the N members and an unperturbed control — in one
:func:`model_baselines.base.rollout` call (no loop over members).

Writes (``results_dir``, name ``<Model><suffix>``, by default ``Oceane2e-ens``):
``<name>_members.nc`` (sample, member, lead, lat, lon), the control forecast as ``<name>_control.npy``
(sample, lead, lat, lon) K; and when the start dates are all
those the evaluation scores (``split: test``, ``start_stride: 1``) the ensemble mean as a model:
``<name>_forecast.nc``, ``<name>_outputs.npy``, ``<name>_inputs.npy``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from oceane2e.config import StrictModel, load_config

#: name added to the model's name for its ensemble's files
DEFAULT_SUFFIX = "-ens"


class InitialPerturbation(StrictModel):
    """Perturbations of the initial SSTA (the analysis uncertainty)."""

    analysis: Path | None = Field(
        None, description="an assimilation's <Method>_analysis.nc with ssta_error_std (K, (lat, lon) or "
        "(time, lat, lon)); null: the uniform std_k")
    std_k: float = Field(0.05, ge=0, description="analysis-error std of SSTA (K) when no analysis file is given")
    length_scale_km: float = Field(100.0, ge=0, description="std of the Gaussian smoothing kernel (km)")


class CurrentPerturbation(StrictModel):
    """Perturbations of M_θ's forecast currents with its own error statistics."""

    scale: float = Field(1.0, ge=0, description="multiple of M_θ's RMSE per lead (validation years); 0: off")
    error_forecast: Path | None = Field(
        None, description="stage-1 forecasts of the validation years with targets (default "
        "<data.root>/MultiConv_val.nc; made with vel_config's model when missing)")
    error_stride: int = Field(3, ge=1, description="days between the start dates of that file when it is made")
    length_scale_km: float = Field(150.0, ge=0, description="std of the Gaussian kernel of the streamfunction (km)")
    decorrelation_days: float = Field(10.0, ge=0, description="AR(1) e-folding time along the leads (days)")


class SourcePerturbation(StrictModel):
    """A stochastic source term: a random field added each day."""

    mode: Literal["off", "additive", "multiplicative"] = Field(
        "additive", description="off; additive (std in K/day); multiplicative (std as a fraction of the "
        "model's learned source, needs a model with source(), e.g. the hybrid)")
    std: float = Field(0.05, ge=0, description="K per day (additive) or fraction (multiplicative)")
    length_scale_km: float = Field(100.0, ge=0, description="std of the Gaussian smoothing kernel (km)")
    decorrelation_days: float = Field(5.0, ge=0, description="AR(1) e-folding time (days)")
    relative_to_ssta_std: bool = Field(
        True, description="scale the std per cell by the SSTA std of the training years (RMS 1 over the ocean)")


class EnsembleSection(StrictModel):
    """The ``ensemble:`` section."""

    members: int = Field(8, ge=1, description="ensemble size N")
    seed: int = Field(0, ge=0, description="with the start date and member index, seeds every random field")
    control: bool = Field(True, description="also run the unperturbed forecast (for like-for-like scores)")
    split: Literal["test", "val"] = Field(
        "test", description="start dates of the test years (scored) or of the validation years (tuning)")
    start_stride: int = Field(1, ge=1, description="every k-th start date of the split (1: all, as the evaluation)")
    batch_size: int = Field(1, ge=1, description="start dates per forward pass; each is N+1 rollouts")
    results_dir: Path | None = Field(None, description="output folder (default: the stage-2 inference.results_dir)")
    suffix: str = Field(DEFAULT_SUFFIX, min_length=1, description="appended to the model name in file names")
    initial: InitialPerturbation = Field(default_factory=InitialPerturbation)
    currents: CurrentPerturbation = Field(default_factory=CurrentPerturbation)
    source: SourcePerturbation = Field(default_factory=SourcePerturbation)


class EnsembleConfig(StrictModel):
    """``configs/config_ens.yaml``: the deterministic model's configs and the ensemble section."""

    stage2_config: Path = Field(Path("configs/config.yaml"), description="the stage-2 model (data, checkpoint)")
    vel_config: Path = Field(Path("configs/config_vel.yaml"), description="stage 1 (for its validation forecasts)")
    stage2_overrides: dict[str, Any] = Field(default_factory=dict, description="dotted overrides of stage2_config")
    vel_overrides: dict[str, Any] = Field(default_factory=dict, description="dotted overrides of vel_config")
    ensemble: EnsembleSection = Field(default_factory=EnsembleSection)


def load_ensemble_config(path: str | Path, overrides: dict[str, Any] | None = None) -> EnsembleConfig:
    """Read and validate an ensemble config (unknown keys fail, naming the key)."""
    return load_config(EnsembleConfig, path, overrides)


def ensemble_name(model: str, suffix: str = DEFAULT_SUFFIX) -> str:
    """File prefix of ``model``'s ensemble (``Oceane2e`` -> ``Oceane2e-ens``)."""
    return f"{model}{suffix}"


def ensemble_paths(results_dir: str | Path, name: str) -> dict[str, Path]:
    """The files of ensemble ``name``: members, control and the mean (scored as a model)."""
    root = Path(results_dir)
    return {"members": root / f"{name}_members.nc", "control": root / f"{name}_control.npy",
            "outputs": root / f"{name}_outputs.npy", "inputs": root / f"{name}_inputs.npy",
            "forecast": root / f"{name}_forecast.nc"}


# ------------------------------------------------------------------------------------ statistics
def current_error_by_lead(path: str | Path, n_lead: int, mask: np.ndarray) -> np.ndarray:
    """RMSE of a stage-1 forecast file's currents against its targets per lead (m s⁻¹), both components
    pooled over ocean cells and start dates -> (n_lead,)."""
    from oceane2e.data.contract import DataContractError
    from oceane2e.data.forecast_files import ForecastFile

    with ForecastFile(path) as f:
        if not f.has_targets:
            raise DataContractError(f"{f.path}: no targets; M_θ's error needs forecasts with their truth")
        if f.n_lead < n_lead:
            raise DataContractError(f"{f.path}: {f.n_lead} leads, {n_lead} needed; remake it with more lead days")
        sq = np.zeros(n_lead)
        ocean = np.asarray(mask, dtype=bool)
        for t0 in f.time0:
            err = f.read(t0, n_lead) - f.read(t0, n_lead, targets=True)  # (L, C, H, W)
            sq += np.nanmean(err[:, :, ocean].astype(np.float64) ** 2, axis=(1, 2))
        return np.sqrt(sq / f.time0.size)


def ensure_validation_currents(cfg: EnsembleConfig, data_root: Path, dist: Any, show_progress: bool) -> Path:
    """The stage-1 forecasts of the validation years (with targets), made with stage 1's model when missing."""
    from oceane2e.engine.distributed import barrier
    from oceane2e.stage1 import infer as infer_vel
    from oceane2e.stage1 import load_stage1_config

    cur = cfg.ensemble.currents
    path = Path(cur.error_forecast or data_root / "MultiConv_val.nc")
    if not path.exists():
        vel = load_stage1_config(cfg.vel_config, {**cfg.vel_overrides, "inference.splits": ["val"],
                                                  "inference.output": str(path), "inference.stride": cur.error_stride})
        infer_vel(vel, dist_info=dist, show_progress=show_progress)
    barrier(dist)
    return path


# --------------------------------------------------------------------------------- perturbations
@dataclass
class Perturber:
    """Draws the random fields of (start date, member) pairs; the same pair always gives the same fields.

    Attributes:
        cfg: the ensemble section; mask: (H, W) bool; lat, lon: (H,), (W,) degrees; n_lead: L;
        current_rmse: (L,) m s⁻¹ or None (no current perturbation);
        source_map: (H, W) per-cell multiplier of ``source.std`` (RMS 1 over the ocean);
        initial_std: start date (int days) -> (H, W) K, or None for the uniform ``initial.std_k``.
    """

    cfg: EnsembleSection
    mask: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    n_lead: int
    current_rmse: np.ndarray | None
    source_map: np.ndarray
    initial_std: dict[int, np.ndarray] | None = None

    def _sigma(self, length_km: float) -> tuple[float, float]:
        from oceane2e.ensemble.noise import cells_per_length

        return cells_per_length(self.lat, self.lon, length_km)

    def member(self, time0_days: int, member: int) -> dict[str, np.ndarray]:
        """Fields of one member: ``initial`` (H, W) K, ``currents`` (L, 2, H, W) m s⁻¹, ``source`` (L, H, W)."""
        from oceane2e.ensemble.noise import coherent_fields, member_rng, streamfunction_currents

        c = self.cfg
        shape = self.mask.shape
        out: dict[str, np.ndarray] = {}
        std = self.initial_std[time0_days] if self.initial_std is not None else c.initial.std_k
        eps = coherent_fields(member_rng(c.seed, "initial", time0_days, member), 1, shape,
                              self._sigma(c.initial.length_scale_km))[0]
        out["initial"] = np.where(self.mask, std * eps, 0.0)
        if self.current_rmse is not None and c.currents.scale > 0:
            psi = coherent_fields(member_rng(c.seed, "currents", time0_days, member), self.n_lead, shape,
                                  self._sigma(c.currents.length_scale_km), c.currents.decorrelation_days)
            uv = streamfunction_currents(psi, self.mask)
            out["currents"] = uv * (c.currents.scale * self.current_rmse)[:, None, None, None]
        if c.source.mode != "off" and c.source.std > 0:
            eta = coherent_fields(member_rng(c.seed, "source", time0_days, member), self.n_lead, shape,
                                  self._sigma(c.source.length_scale_km), c.source.decorrelation_days)
            out["source"] = np.where(self.mask, c.source.std * self.source_map * eta, 0.0)
        return out

    def batch(self, time0_days: list[int], with_control: bool) -> dict[str, torch.Tensor]:
        """Fields of every member of every start date, stacked start-major: (B·M, ...) float32 with
        M = N (+1 control, all zeros, first of each start date)."""
        n = self.cfg.members
        h, w = self.mask.shape
        shapes = {"initial": (h, w), "currents": (self.n_lead, 2, h, w), "source": (self.n_lead, h, w)}
        per_start = n + int(with_control)
        # filled in place, float64 -> float32 on assignment (a list stacked in float64, then cast, cost two more
        # passes over ~100 MB per batch: a quarter of the fields' time)
        out = {k: np.zeros((len(time0_days) * per_start, *shape), dtype=np.float32) for k, shape in shapes.items()}
        for i, t0 in enumerate(time0_days):
            for m in range(n):
                row = i * per_start + int(with_control) + m  # the control's row stays zero
                for key, field in self.member(t0, m).items():
                    out[key][row] = field
        return {k: torch.from_numpy(v) for k, v in out.items()}


def source_amplitude_map(data_cfg: Any, mask: np.ndarray, relative: bool) -> np.ndarray:
    """(H, W) multiplier of the source noise: the SSTA std of the training years over its ocean RMS, or 1."""
    ocean = np.asarray(mask, dtype=bool)
    if not relative:
        return ocean.astype(np.float64)
    from oceane2e.data.climate_stats import ssta_doy_moments

    std = ssta_doy_moments(data_cfg.root, data_cfg.train_years, lat_bounds=data_cfg.lat_bounds,
                           lon_bounds=data_cfg.lon_bounds).cell_std()
    return np.where(ocean, std / np.sqrt(np.mean(std[ocean] ** 2)), 0.0)


# ------------------------------------------------------------------------------------- inference
def infer_ensemble(cfg: EnsembleConfig, *, dist_info: Any = None, show_progress: bool = True,
                   overwrite: bool = False) -> dict[str, Path]:
    """Run the ensemble over the split's start dates and write its files (see the module docstring).

    Returns:
        name -> path of the files written.
    """
    from model_baselines.base import rollout
    from model_baselines.stochastic import StochasticSource
    from oceane2e.data.datasets import SSTAWindowDataset
    from oceane2e.engine.distributed import current_dist_info
    from oceane2e.stage2 import check_level, load_forecaster, load_stage2_config, scoring_dataset, stack_batch
    from oceane2e.stages import run_forecasts, setup_threads

    dist = dist_info or current_dist_info()
    s2 = load_stage2_config(cfg.stage2_config, cfg.stage2_overrides)
    ens = cfg.ensemble
    setup_threads(s2.train.num_threads)
    ckpt = Path(s2.inference.checkpoint or s2.train.best_checkpoint)
    loaded = load_forecaster(ckpt, map_location=dist.device, expected_model=s2.model.name)
    check_level(s2, loaded.info, ckpt)
    lead = s2.inference.lead_days
    data_root = Path(s2.data.root)
    forecast_currents = s2.inference.velocity == "forecast"
    val_currents = None
    if forecast_currents and (ens.split == "val" or ens.currents.scale > 0):
        val_currents = ensure_validation_currents(cfg, data_root, dist, show_progress)
    if ens.split == "test":
        ds = scoring_dataset(s2)
    elif forecast_currents:
        ds = SSTAWindowDataset(s2.data, "val", lead, velocity="forecast", forecast_path=val_currents,
                               missing_forecast="skip", history_days=s2.windows.history_days,
                               level_days=s2.windows.level_days)
    else:
        ds = SSTAWindowDataset(s2.data, "val", lead, velocity="observed", stride=s2.inference.stride,
                               history_days=s2.windows.history_days, level_days=s2.windows.level_days)
    coords, mask = ds.folder.coords, ds.folder.mask
    loaded.check_data(coords, mask, s2.data.root)
    starts = np.arange(0, len(ds), ens.start_stride)
    time0 = ds.time0s[starts]

    current_rmse = None
    if forecast_currents and ens.currents.scale > 0:
        current_rmse = current_error_by_lead(val_currents, lead, mask)
    elif ens.currents.scale > 0:
        print("ensemble: observed currents drive this config; no current perturbation", file=sys.stderr)
    initial_std = None
    if ens.initial.analysis is not None:
        from oceane2e.data.ensemble_files import read_analysis_error_std

        stds = read_analysis_error_std(ens.initial.analysis, time0, coords)
        initial_std = {int(t): np.where(mask, s, 0.0) for t, s in zip(time0.astype("int64"), stds, strict=True)}
    relative = ens.source.mode != "off" and ens.source.relative_to_ssta_std
    perturber = Perturber(ens, mask, np.asarray(coords.lat), np.asarray(coords.lon), lead, current_rmse,
                          source_amplitude_map(s2.data, mask, relative), initial_std)
    model = loaded.model
    if ens.source.mode != "off":
        model = StochasticSource(model, ens.source.mode)
    n, m = ens.members, ens.members + int(ens.control)
    h, w = coords.shape
    name = ensemble_name(s2.model.name, ens.suffix)
    out = ensemble_paths(ens.results_dir or s2.inference.results_dir, name)
    from oceane2e.outputs import claim_outputs

    claim_outputs(out.values(), overwrite=overwrite, what=f"{name} ensemble", announce=dist.is_main)

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        items = [ds[int(starts[k])] for k in idx]
        batch = {key: value.repeat_interleave(m, dim=0) for key, value in stack_batch(items, dist.device).items()}
        fields = perturber.batch([int(it["time0"]) for it in items], ens.control)
        fields = {k: v.to(dist.device) for k, v in fields.items()}
        if forecast_currents:
            batch["velocity"] = batch["velocity"].clone()
            batch["velocity"][:, 1:] += fields["currents"]
        if isinstance(model, StochasticSource):
            model.set_noise(fields["source"])
        pred = rollout(model, batch, lead, initial={"ssta": batch["ssta"][:, 0] + fields["initial"]})
        pred = pred.float().cpu().numpy().reshape(len(idx), m, lead, h, w)
        truth = batch["ssta"][::m, 1:].float().cpu().numpy()
        control = pred[:, 0] if ens.control else np.full((len(idx), lead, h, w), np.nan, np.float32)
        return {"outputs": np.concatenate([pred[:, m - n :], control[:, None]], axis=1), "targets": truth}

    def write(outputs: np.ndarray, targets: np.ndarray) -> None:
        write_ensemble_files(out, outputs[:, :n], outputs[:, n] if ens.control else None, targets, time0, coords,
                             mask, name=name, base_model=s2.model.name, cfg=cfg,
                             as_model=ens.split == "test" and ens.start_stride == 1)

    run_forecasts(len(starts), (n + 1, lead, h, w), compute, out["members"].with_name(f".{name}_parts"), dist, write,
                  bf16=s2.train.bf16, batch_size=ens.batch_size, desc=f"{name} ({n} members)",
                  show_progress=show_progress, target_shape=(lead, h, w))
    return out


def write_ensemble_files(out: dict[str, Path], members: np.ndarray, control: np.ndarray | None, targets: np.ndarray,
                         time0: np.ndarray, coords: Any, mask: np.ndarray, *, name: str, base_model: str,
                         cfg: EnsembleConfig, as_model: bool, block: int = 16) -> None:
    """Members NetCDF, control ``.npy`` and (``as_model``) the ensemble mean in the one forecast format.

    Args:
        members: (S, N, L, H, W) K; control: (S, L, H, W) K or None; targets: (S, L, H, W) K truth.
    """
    from oceane2e.data.ensemble_files import EnsembleWriter
    from oceane2e.outputs import create_npy, save_npy
    from oceane2e.stages import write_forecast_file

    ens = cfg.ensemble
    attrs = {"model": name, "base_model": base_model, "members": ens.members, "seed": ens.seed,
             "split": ens.split, "start_stride": ens.start_stride, "control": int(control is not None),
             "perturbations": ens.model_dump_json()}
    out["members"].parent.mkdir(parents=True, exist_ok=True)
    with EnsembleWriter(out["members"], time0, members.shape[1], members.shape[2], coords, mask,
                        title=f"Ocean-E2E ensemble forecast of {base_model}", attrs=attrs) as writer:
        for s0 in range(0, members.shape[0], block):
            writer.write(s0, members[s0 : s0 + block])
    if control is not None:
        save_npy(out["control"], np.asarray(control, dtype=np.float32))
    if as_model:
        mean = create_npy(out["outputs"], targets.shape)
        for s0 in range(0, members.shape[0], block):
            mean[s0 : s0 + block] = members[s0 : s0 + block].mean(axis=1)
        mean.flush()
        save_npy(out["inputs"], np.asarray(targets, dtype=np.float32))
        write_forecast_file(out["forecast"], mean, targets, time0, coords, mask, channels=("ssta",),
                            title=f"Ocean-E2E ensemble-mean SSTA forecast of {base_model} ({ens.members} members)",
                            attrs={"model": name, "base_model": base_model, "members": ens.members})
        del mean
    else:
        for key in ("outputs", "inputs", "forecast"):
            out[key].unlink(missing_ok=True)  # a stale mean of another run must not be scored


def main(argv: list[str] | None = None) -> int:
    """``oceane2e ensemble`` / ``inference_ens.py``: run the ensemble of a config."""
    from oceane2e.entry import run_entry

    return run_entry(argv, "Ensemble forecasts (N perturbed members) of a stage-2 model", "configs/config_ens.yaml",
                     load_ensemble_config,
                     lambda cfg, args, info: infer_ensemble(cfg, dist_info=info, overwrite=args.overwrite))


__all__ = [
    "CurrentPerturbation", "EnsembleConfig", "EnsembleSection", "InitialPerturbation", "Perturber",
    "SourcePerturbation", "current_error_by_lead", "ensemble_name", "ensemble_paths", "infer_ensemble",
    "load_ensemble_config", "write_ensemble_files",
]
