"""What stage 1 (M_θ), stage 2 (the hybrid and the baselines) and later stages share.

* :func:`load_model_checkpoint` — the one self-describing checkpoint loader: it checks the stage and
  the model stored in the file against what the caller expects, rebuilds the network through the
  registry from the stored config and :class:`~oceane2e.data.info.DataInfo`, and (given the data)
  checks the grid and mask with :meth:`DataInfo.check_grid`; every refusal names the file and the
  mismatch.
* :func:`checkpoint_extras` — what every stage stores beside the weights.
* :func:`run_forecasts` — the one inference skeleton: start dates split across ranks, rows computed
  under ``no_grad`` (and bf16 autocast on a GPU when the config asks), gathered in date order, then
  written once by rank 0 (N processes write what one writes).
* :func:`write_forecast_file` — the one forecast-file writer of every stage (channel axis, CF).
* :func:`masked_mse` — the loss of both stages; :func:`setup_threads`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from model_baselines.registry import build_model
from oceane2e.config import ConfigError, StrictModel, validate_config
from oceane2e.data.contract import GridCoords
from oceane2e.data.info import DataInfo
from oceane2e.engine.distributed import DistInfo, barrier

STAGE_KEY = "stage"


# ------------------------------------------------------------------------------------ checkpoints
def checkpoint_extras(stage: str, cfg: StrictModel, info: DataInfo) -> dict[str, Any]:
    """What a stage stores beside the weights: stage, model name, the whole config and the data info
    (plain types), so a checkpoint alone rebuilds its model and knows the data it was trained on."""
    return {STAGE_KEY: stage, "model": cfg.model.name, "config": cfg.model_dump(mode="json"),  # type: ignore[attr-defined]
            "data_info": info.to_dict()}


@dataclass
class LoadedModel:
    """A model rebuilt from its checkpoint: the network (eval mode), its stage config, its data info and
    the raw checkpoint (weights, optimizer, extras)."""

    model: nn.Module
    config: Any
    info: DataInfo
    state: dict[str, Any]
    path: Path

    def check_data(self, coords: GridCoords, mask: np.ndarray, data: str | Path) -> None:
        """Refuse data on another grid or with another land mask than the model was trained on."""
        self.info.check_grid(coords, mask, source=self.path, data=data)


def load_model_checkpoint(
    path: str | Path,
    *,
    stage: str,
    config_class: type[StrictModel],
    expected_model: str | None = None,
    legacy_info: Callable[[Any, dict[str, Any]], DataInfo] | None = None,
    map_location: str | torch.device = "cpu",
) -> LoadedModel:
    """Rebuild the model of a self-contained checkpoint and check it is the one the caller wants.

    Args:
        path: the ``.pth`` file.
        stage: the stage that must have written it (``"stage1"``, ``"stage2"``, ...).
        config_class: the stage's config class (the stored config is validated into it).
        expected_model: the model name the caller's config names (refused if the file holds another).
        legacy_info: builds the :class:`DataInfo` of checkpoints written before it was stored.
        map_location: device of the returned model.

    Raises:
        FileNotFoundError: no such file. ConfigError: wrong stage, wrong model, or no config inside.
    """
    from oceane2e.engine.checkpoint import load_checkpoint

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint; train this model first (or fix the checkpoint path)")
    state = load_checkpoint(path, map_location="cpu")
    extras = state.get("extras", {})
    if "config" not in extras:
        raise ConfigError(f"{path}: no config inside; not a checkpoint of Ocean-E2E's training engine")
    stored_stage = extras.get(STAGE_KEY) or ("stage1" if "window" in extras["config"] else "stage2")
    if stored_stage != stage:
        raise ConfigError(f"{path}: a {stored_stage} checkpoint, but {stage} needs one of its own; "
                          f"point the checkpoint path at a {stage} model")
    cfg = validate_config(config_class, extras["config"], source=f"{path} (stored config)")
    name = cfg.model.name  # type: ignore[attr-defined]
    if expected_model is not None and name != expected_model:
        raise ConfigError(f"{path}: holds a {name} model, but the config asks for {expected_model}; "
                          f"use a {expected_model} checkpoint or the config of {name}")
    if "data_info" in extras:
        info = DataInfo.from_dict(extras["data_info"])
    elif legacy_info is not None:
        info = legacy_info(cfg, extras)
    else:
        raise ConfigError(f"{path}: no data information inside; retrain with this version")
    model = build_model(cfg.model, info)  # type: ignore[attr-defined]
    model.load_state_dict(state["model"])
    from oceane2e.engine.trainer import fast_layout

    return LoadedModel(fast_layout(model.to(map_location), map_location).eval(), cfg, info, state, path)


# ------------------------------------------------------------------------------------- inference
def setup_threads(num_threads: int | None) -> None:
    """Intra-op threads of this process (``train.num_threads``; None keeps torch's choice)."""
    if num_threads:
        torch.set_num_threads(num_threads)


def inference_autocast(bf16: bool, device: torch.device) -> Any:
    """bf16 autocast for the networks on a GPU when asked; a no-op context elsewhere."""
    if bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


def run_forecasts(
    n_rows: int,
    row_shape: Sequence[int],
    compute: Callable[[list[int]], Mapping[str, np.ndarray]],
    parts_dir: str | Path,
    dist: DistInfo,
    write: Callable[[np.ndarray, np.ndarray], None],
    *,
    bf16: bool = False,
    batch_size: int = 8,
    desc: str = "inference",
    show_progress: bool = True,
    target_shape: Sequence[int] | None = None,
) -> None:
    """The one inference skeleton of every stage.

    Args:
        n_rows: number of forecasts (start dates, in date order).
        row_shape: shape of one forecast, e.g. (L, C, H, W).
        compute: row indices -> ``{"outputs": (n, *row_shape), "targets": (n, *row_shape)}``; run under
            ``torch.no_grad()`` and :func:`inference_autocast`.
        parts_dir: scratch folder of the gathered rows (removed at the end).
        dist: the process group; rank r computes rows r, r + world, ...
        write: called on rank 0 only, with the memory-mapped ``outputs`` and ``targets`` of all rows in
            date order; writes the stage's files (it may move the ``.npy`` files it is given).
        target_shape: shape of one row of ``targets`` when it differs from ``row_shape`` (an ensemble's
            outputs (N, L, H, W) against one truth (L, H, W)).
    """
    from oceane2e.engine.sharded import sharded_rows

    def guarded(idx: list[int]) -> Mapping[str, np.ndarray]:
        with torch.no_grad(), inference_autocast(bf16, dist.device):
            return compute(idx)

    shapes = {"outputs": tuple(row_shape), "targets": tuple(target_shape or row_shape)}
    paths = sharded_rows(n_rows, shapes, guarded, parts_dir, dist, batch_size=batch_size, desc=desc,
                         show_progress=show_progress)
    if dist.is_main:
        outputs = np.load(paths["outputs"], mmap_mode="r")
        targets = np.load(paths["targets"], mmap_mode="r")
        write(outputs, targets)
        del outputs, targets
        shutil.rmtree(parts_dir, ignore_errors=True)
    barrier(dist)


def write_forecast_file(
    path: str | Path, outputs: np.ndarray, targets: np.ndarray | None, time0: np.ndarray, coords: GridCoords,
    mask: np.ndarray, *, channels: Sequence[str], title: str, attrs: Mapping[str, object], block: int = 64,
) -> Path:
    """Write forecasts (S, L, C, H, W) — or (S, L, H, W) of a single channel — in the one forecast
    layout, block by block (memory bounded by ``block`` samples)."""
    from oceane2e.data.forecast_files import ForecastWriter

    def with_channel(x: np.ndarray) -> np.ndarray:
        return x[:, :, None] if x.ndim == 4 else x

    with ForecastWriter(path, time0, outputs.shape[1], coords, mask, channels=channels,
                        with_targets=targets is not None, title=title, attrs=attrs) as writer:
        for start in range(0, outputs.shape[0], block):
            stop = min(start + block, outputs.shape[0])
            writer.write(start, with_channel(outputs[start:stop]),
                         None if targets is None else with_channel(targets[start:stop]))
    return Path(path)


# ------------------------------------------------------------------------------------------ loss
def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over ocean cells (and channels), per sample and day.

    Args:
        pred, target: (B, T, H, W) or (B, T, C, H, W) in the same units.
        mask: (B, H, W), True/1 over the ocean.

    Returns:
        (B, T) in the units squared.
    """
    if pred.ndim == 4:
        m = mask.to(torch.float32)[:, None]
        se = ((pred.float() - target.float()) ** 2 * m).sum(dim=(2, 3))
        return se / m.sum(dim=(2, 3)).clamp_min(1.0)
    m = mask.to(torch.float32)[:, None, None]  # counts in float32 also when pred is bf16 (autocast)
    se = ((pred.float() - target.float()) ** 2 * m).sum(dim=(2, 3, 4))
    return se / (m.sum(dim=(2, 3, 4)) * pred.shape[2]).clamp_min(1.0)


__all__ = [
    "LoadedModel", "checkpoint_extras", "inference_autocast", "load_model_checkpoint", "masked_mse", "run_forecasts",
    "setup_threads", "write_forecast_file",
]
