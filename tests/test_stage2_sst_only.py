"""Stage 2 on an SST-only folder end to end: the hybrid (learned velocity alone, SST-only source with history
and season) and the baselines train a few steps, forecast the test year, and the evaluation scores them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from oceane2e.stage2 import infer, load_forecaster, load_stage2_config, train
from oceane2e.testing.folders import write_tiny_folder

SMALL = {"hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 1, "attn_kernel": 3, "mlp_ratio": 2.0}
MODELS = {
    "Oceane2e": {"name": "Oceane2e", "gm": SMALL, "source": SMALL, "kernel": {"form": "advective"}},
    "SimVP": {"name": "SimVP", **SMALL},
    "ConvLSTM": {"name": "ConvLSTM", "hidden": [8], "kernel_size": 3, "patch_size": 2},
}
LEAD, HISTORY, LEVEL = 6, 4, 30


def _config(tmp: Path, model: str) -> Path:
    cfg = {
        "data": {"root": str(tmp / "data"), "train_years": [2001], "val_years": [2002], "test_years": [2003]},
        "model": MODELS[model],
        "windows": {"velocity": "observed", "stride": 3, "val_stride": 20, "history_days": HISTORY,
                    "level_days": LEVEL},
        "train": {"name": model, "seed": 0, "epochs": 2, "batch_size": 4, "lr": 1e-2, "max_steps_per_epoch": 3,
                  "checkpoint_dir": str(tmp / "ckpt"), "log_dir": str(tmp / "logs"),
                  "rollout_schedule": [{"from_epoch": 0, "length": 1}, {"from_epoch": 1, "length": 3}],
                  "num_threads": 1},
        "inference": {"lead_days": LEAD, "velocity": "observed", "stride": 40,
                      "results_dir": str(tmp / "results"), "batch_size": 4},
    }
    path = tmp / f"config_{model}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sst_only_stage2")
    write_tiny_folder(tmp / "data", years=(2001, 2002, 2003), shape=(8, 12), sst_only=True)
    for model in MODELS:
        cfg = load_stage2_config(_config(tmp, model))
        train(cfg, show_progress=False)
        infer(cfg, show_progress=False)
    return tmp


@pytest.mark.parametrize("model", list(MODELS))
def test_models_train_and_forecast_without_currents_or_atmosphere(run: Path, model: str) -> None:
    loaded = load_forecaster(run / "ckpt" / f"{model}_best_model.pth")
    info = loaded.model.data_info
    assert info.names("velocity") == () and info.names("atmos") == () and info.n_in == HISTORY + 1
    assert info.level_days == LEVEL  # the level the checkpoint forecasts about travels with it
    outputs = np.load(run / "results" / f"{model}_outputs.npy")
    mask = np.load(run / "data" / "mask.npy").astype(bool)
    assert outputs.shape[1:] == (LEAD, 8, 12) and outputs.shape[0] == len(range(0, 365 - LEAD, 40))
    assert np.isfinite(outputs).all() and np.all(outputs[:, :, ~mask] == 0)
    # the file says nothing drove it: no currents and no atmosphere were in the data (the config's
    # inference.velocity: observed notwithstanding), so the report cannot call them an oracle
    with xr.open_dataset(run / "results" / f"{model}_forecast.nc") as ds:
        assert ds.attrs["velocity"] == "none" and ds.attrs["atmosphere"] == "none"
        assert "atmosphere_observed_days" not in ds.attrs
    if model == "Oceane2e":
        assert "learned velocity alone" in loaded.model.mode and "history" in loaded.model.mode


def test_evaluation_scores_them_beside_the_references(run: Path) -> None:
    from oceane2e.evaluation.evaluate import run_evaluation

    result = run_evaluation(run / "results", config_path=_config(run, "Oceane2e"), figures=False, progress=False)
    assert set(result.models) == set(MODELS)
    rmse = result.skill[result.skill.metric == "rmse"]
    assert np.isfinite(rmse.value).all() and {"Persistence", "DampedPersistence", "Climatology"} <= set(rmse.model)
    assert {"csi", "sedi", "csi_strong"} <= set(result.skill.metric)
    report = (run / "results" / "report.md").read_text()
    for model in MODELS:
        assert f"  - {model}: currents none (not in the data); atmosphere none (not in the data)." in report
    assert "oracle" not in report


def test_a_forecaster_about_a_level_needs_its_level(run: Path, tmp_path: Path) -> None:
    from types import SimpleNamespace

    from oceane2e.config import ConfigError
    from oceane2e.stage_da import _forecaster

    raw = yaml.safe_load(_config(run, "SimVP").read_text())
    raw["windows"]["level_days"] = 0
    raw["inference"]["results_dir"] = str(tmp_path)
    path = tmp_path / "no_level.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=f"set windows.level_days: {LEVEL}"):
        infer(load_stage2_config(path), show_progress=False)
    # the assimilation cycle gives its background forecast day 0 alone: refused before any training
    with pytest.raises(ConfigError, match="forecasts about the mean of the last 30"):
        _forecaster(SimpleNamespace(forecaster=run / "ckpt" / "SimVP_best_model.pth"))
