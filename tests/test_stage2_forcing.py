"""Train as you forecast (M_θ's currents made on the fly) and the operational atmosphere modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from oceane2e.data.datasets import SSTAWindowDataset
from oceane2e.data.forcing import apply_atmosphere_mode, atmosphere_climatology
from oceane2e.data.forecast_files import ForecastFile
from oceane2e.dates import leap_doy_index
from oceane2e.stage1 import infer as infer_velocity
from oceane2e.stage1 import load_stage1_config
from oceane2e.stage2 import ModelCurrents, SSTAStepper, load_stage2_config
from oceane2e.testing.folders import tiny_year_data, write_tiny_folder

N_IN, LEAD = 3, 5


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("forcing")
    write_tiny_folder(tmp / "data", years=(2001, 2002, 2003), shape=(8, 12))
    return tmp


def _stage1_checkpoint(tmp: Path) -> tuple[Path, Path]:
    """An (untrained, randomised) M_θ checkpoint and its config, written through the training engine's saver."""
    from model_baselines.registry import build_model
    from oceane2e.data.datasets import VelocityWindowDataset
    from oceane2e.data.normalization import ensure_stats
    from oceane2e.engine.checkpoint import save_checkpoint
    from oceane2e.stage1 import STAGE, data_info
    from oceane2e.stages import checkpoint_extras

    cfg_dict = {
        "data": {"root": str(tmp / "data"), "train_years": [2001], "val_years": [2002], "test_years": [2003]},
        "model": {"name": "MultiConv", "hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 1, "attn_kernel": 3, "mlp_ratio": 2.0},
        "window": {"n_in": N_IN, "n_out": 1},
        "train": {"name": "MultiConv", "epochs": 1, "batch_size": 2, "checkpoint_dir": str(tmp / "ckpt1"),
                  "log_dir": str(tmp / "logs1")},
        "inference": {"lead_days": LEAD, "stride": 7, "splits": ["train", "val"],
                      "output": str(tmp / "MultiConv_trainval.nc"), "batch_size": 3},
    }
    cfg_path = tmp / "config_vel.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg_dict))
    cfg = load_stage1_config(cfg_path)
    stats = ensure_stats(cfg.data, progress=False, cache_dir=tmp / "ckpt1")
    ds = VelocityWindowDataset(cfg.data, "train", N_IN, 1)
    torch.manual_seed(0)
    model = build_model(cfg.model, data_info(ds, cfg, stats))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    path = tmp / "ckpt1" / "MultiConv_best_model.pth"
    save_checkpoint(path, {"model": model.state_dict(), "extras": checkpoint_extras(STAGE, cfg, ds.data_info(stats))})
    return path, cfg_path


def test_on_the_fly_currents_equal_the_stage1_file(folder: Path) -> None:
    """The cheap path (M_θ run per batch) gives what stage-1 inference writes for the same start dates."""
    ckpt, cfg_path = _stage1_checkpoint(folder)
    slow_path = infer_velocity(load_stage1_config(cfg_path), checkpoint=ckpt, show_progress=False)
    data_cfg = load_stage1_config(cfg_path).data
    currents = ModelCurrents(ckpt)
    assert currents.history_days == N_IN - 1
    for split in ("train", "val"):
        slow = SSTAWindowDataset(data_cfg, split, LEAD, velocity="forecast", forecast_path=slow_path,
                                 missing_forecast="skip")
        fast = SSTAWindowDataset(data_cfg, split, LEAD, velocity="observed", velocity_history=N_IN - 1)
        with ForecastFile(slow_path) as f:
            starts = f.time0[np.isin(f.time0, fast.time0s)]
        assert starts.size >= 5
        pick = [int(np.flatnonzero(fast.time0s == t)[0]) for t in starts]
        batch = {k: torch.stack([fast[i][k] for i in pick]) for k in ("ssta", "velocity", "velocity_history", "atmos", "mask")}
        made = currents(batch)["velocity"]
        slow_rows = torch.stack([slow[int(np.flatnonzero(slow.time0s == t)[0])]["velocity"] for t in starts])
        torch.testing.assert_close(made, slow_rows, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(made[:, 1:], batch["velocity"][:, 1:]), "M_θ must change the observed currents"
        short = currents(batch, 2)["velocity"]
        assert short.shape[1] == 3
        torch.testing.assert_close(short, made[:, :3])


def test_stepper_with_currents_trains_on_the_forecast(folder: Path) -> None:
    """The loss of the on-the-fly stepper equals the loss on a batch whose currents were replaced first."""
    ckpt = folder / "ckpt1" / "MultiConv_best_model.pth"
    if not ckpt.exists():
        _stage1_checkpoint(folder)
    from model_baselines.hybrid import BackboneSizes, HybridConfig, Oceane2e
    from oceane2e.data.config import DataConfig
    from oceane2e.data.normalization import ensure_stats
    from oceane2e.engine.trainer import StepContext

    data_cfg = DataConfig(root=folder / "data", train_years=[2001], val_years=[2002], test_years=[2003])
    ds = SSTAWindowDataset(data_cfg, "train", LEAD, velocity_history=N_IN - 1, stride=40)
    info = ds.data_info(ensure_stats(data_cfg, progress=False, cache_dir=folder / "ckpt2"))
    small = BackboneSizes(hid_S=4, hid_T=8, N_S=2, N_T=1, attn_kernel=3)
    model = Oceane2e(info, HybridConfig(gm=small, source=small, damping="field"))
    batch = {k: torch.stack([ds[i][k] for i in range(3)]) for k in ("ssta", "velocity", "velocity_history", "atmos", "mask")}
    currents = ModelCurrents(ckpt)
    ctx = StepContext(0, 0, 2, False, True, torch.device("cpu"))
    with torch.no_grad():
        fly = SSTAStepper(model, LEAD, currents).compute_loss(model, batch, ctx).loss
        pre = SSTAStepper(model, LEAD).compute_loss(model, currents(batch), ctx).loss
        obs = SSTAStepper(model, LEAD).compute_loss(model, batch, ctx).loss
    torch.testing.assert_close(fly, pre)
    assert fly != obs


def test_atmosphere_climatology_is_the_day_of_year_mean(folder: Path) -> None:
    from oceane2e.data.config import DataConfig

    data_cfg = DataConfig(root=folder / "data", train_years=[2001, 2002], val_years=[2003], test_years=[2004])
    clim = atmosphere_climatology(data_cfg, smooth_days=1)
    mask = np.load(folder / "data" / "mask.npy").astype(bool)
    a = tiny_year_data("mhw", 2001, (8, 12), 0, mask)[:, 2:5]
    b = tiny_year_data("mhw", 2002, (8, 12), 0, mask)[:, 2:5]
    expected = 0.5 * (a[100] + b[100])  # 11 April (day index 100 in both non-leap years -> calendar index 101)
    np.testing.assert_allclose(clim[101][:, mask], expected[:, mask], rtol=1e-5)
    assert np.all(clim[:, :, ~mask] == 0)
    smooth = atmosphere_climatology(data_cfg, smooth_days=31)
    np.testing.assert_allclose(smooth[101], clim[86:117].mean(axis=0), rtol=1e-4, atol=1e-4)


def _window() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    atmos = rng.normal(size=(2, 8, 3, 4, 5)).astype(np.float32)
    time0 = np.array(["2003-02-25", "2003-12-30"], dtype="datetime64[D]")
    clim = rng.normal(size=(366, 3, 4, 5)).astype(np.float32)
    return atmos, time0, clim


def test_observed_mode_is_the_oracle_unchanged() -> None:
    atmos, time0, clim = _window()
    assert apply_atmosphere_mode(atmos, time0, "observed", None) is atmos
    assert apply_atmosphere_mode(atmos, time0, "climatology", clim, observed_days=7) is atmos  # no lead beyond


@pytest.mark.parametrize("known", [0, 3])
def test_climatology_mode(known: int) -> None:
    atmos, time0, clim = _window()
    out = apply_atmosphere_mode(atmos, time0, "climatology", clim, observed_days=known)
    np.testing.assert_array_equal(out[:, : known + 1], atmos[:, : known + 1])
    for b in range(2):
        for lead in range(known + 1, 8):
            np.testing.assert_array_equal(out[b, lead], clim[leap_doy_index(time0[b] + lead)])


@pytest.mark.parametrize("mode", ["persistence", "damped_persistence"])
def test_persistence_modes_hold_or_damp_the_last_known_anomaly(mode: str) -> None:
    atmos, time0, clim = _window()
    known, tau = 2, 4.0
    out = apply_atmosphere_mode(atmos, time0, mode, clim, observed_days=known, tau_days=tau)
    np.testing.assert_array_equal(out[:, : known + 1], atmos[:, : known + 1])
    for b in range(2):
        anomaly = atmos[b, known] - clim[leap_doy_index(time0[b] + known)]
        for lead in range(known + 1, 8):
            factor = 1.0 if mode == "persistence" else np.exp(-(lead - known) / tau)
            expected = clim[leap_doy_index(time0[b] + lead)] + factor * anomaly
            np.testing.assert_allclose(out[b, lead], expected, rtol=1e-5, atol=1e-6)


def test_bad_modes_fail() -> None:
    atmos, time0, clim = _window()
    with pytest.raises(ValueError, match="not one of"):
        apply_atmosphere_mode(atmos, time0, "forecast", clim)
    with pytest.raises(ValueError, match="needs the climatology"):
        apply_atmosphere_mode(atmos, time0, "climatology", None)


def test_config_fields(tmp_path: Path) -> None:
    cfg = load_stage2_config(Path(__file__).resolve().parents[1] / "configs" / "config.yaml",
                             {"inference.atmosphere": "damped_persistence", "windows.velocity": "model"})
    assert cfg.inference.atmosphere == "damped_persistence" and cfg.windows.velocity == "model"
    from oceane2e.config import ConfigError

    with pytest.raises(ConfigError):
        load_stage2_config(Path(__file__).resolve().parents[1] / "configs" / "config.yaml",
                           {"inference.atmosphere": "oracle"})


def test_bias_weight_adds_the_squared_area_mean_error() -> None:
    """loss = mean MSE + w · mean over samples and days of (area-mean error)²."""
    from oceane2e.engine.trainer import StepContext
    from oceane2e.stage2 import area_mean_error

    class Shift(torch.nn.Module):  # a stand-in forecaster: the truth + 0.2 K, so the mean error is 0.2 K
        def forward(self, batch, n_lead, grad_checkpoint=False, initial=None):
            return batch["ssta"][:, 1 : n_lead + 1] + 0.2

    import oceane2e.stage2 as stage2

    g = torch.Generator().manual_seed(0)
    mask = torch.ones(2, 4, 5, dtype=torch.bool)
    mask[:, 0, :2] = False
    batch = {"ssta": torch.randn(2, 4, 4, 5, generator=g) * mask[:, None], "mask": mask}
    ctx = StepContext(0, 0, 3, False, True, torch.device("cpu"))
    original = stage2.rollout
    stage2.rollout = lambda model, b, days, grad_checkpoint=False: model(b, days)
    try:
        plain = SSTAStepper(Shift(), 3).compute_loss(Shift(), batch, ctx).loss
        weighted = SSTAStepper(Shift(), 3, bias_weight=10.0).compute_loss(Shift(), batch, ctx).loss
    finally:
        stage2.rollout = original
    torch.testing.assert_close(plain, torch.tensor(0.04))
    torch.testing.assert_close(weighted, torch.tensor(0.04 + 10 * 0.04))
    err = area_mean_error(batch["ssta"][:, 1:] + 0.2, batch["ssta"][:, 1:], mask)
    torch.testing.assert_close(err, torch.full((2, 3), 0.2))
