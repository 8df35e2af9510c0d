"""Stage 1 end to end on a tiny folder: training beats persistence, inference format, N-rank = 1-rank file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from oceane2e.config import ConfigError
from oceane2e.engine.logs import read_metrics
from oceane2e.stage1 import infer, load_stage1_config, score_velocity_forecast, train
from oceane2e.testing.folders import write_tiny_folder

REPO = Path(__file__).resolve().parents[1]


def _config_dict(tmp: Path) -> dict:
    return {
        "data": {"root": str(tmp / "data"), "train_years": [2001], "val_years": [2002], "test_years": [2003]},
        "model": {"name": "MultiConv", "hid_S": 8, "hid_T": 16, "N_S": 2, "N_T": 1, "attn_kernel": 3,
                  "mlp_ratio": 2.0},
        "window": {"n_in": 2, "n_out": 1},
        "train": {"name": "MultiConv", "seed": 0, "epochs": 3, "batch_size": 16, "lr": 1e-2,
                  "max_steps_per_epoch": 16, "checkpoint_dir": str(tmp / "ckpt"), "log_dir": str(tmp / "logs"),
                  "rollout_schedule": [{"from_epoch": 0, "length": 1}, {"from_epoch": 2, "length": 2}],
                  "num_threads": 1},
        "inference": {"lead_days": 6, "stride": 20, "output": str(tmp / "out" / "MultiConv_data.nc"),
                      "batch_size": 4},
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("stage1")
    write_tiny_folder(tmp / "data", years=(2001, 2002, 2003), shape=(8, 12))
    cfg_path = tmp / "config_vel.yaml"
    cfg_path.write_text(yaml.safe_dump(_config_dict(tmp)))
    train(load_stage1_config(cfg_path), show_progress=False)
    return tmp, cfg_path


def test_training_beats_persistence_on_validation(trained: tuple[Path, Path]) -> None:
    tmp, _ = trained
    rows = read_metrics(tmp / "logs" / "MultiConv_metrics.csv")
    assert len(rows) == 3
    val = [float(r["val_loss"]) for r in rows]
    persistence = float(rows[-1]["val_persistence"])
    # the tiny folder's velocity is a seasonal cycle plus white noise: persistence doubles the noise
    # variance, the best forecast (the seasonal mean) does not; the untrained residual net equals persistence
    assert min(val) < 0.8 * persistence
    assert (tmp / "ckpt" / "MultiConv_best_model.pth").exists()
    assert (tmp / "logs" / "MultiConv_training_log.log").read_text().count("epoch 3/3") == 1


def test_inference_file_format(trained: tuple[Path, Path]) -> None:
    import netCDF4

    tmp, cfg_path = trained
    cfg = load_stage1_config(cfg_path)
    out = infer(cfg, show_progress=False)
    with netCDF4.Dataset(out) as ds:
        assert ds["outputs"].dimensions == ("sample", "lead", "channel", "lat", "lon")
        outputs = np.asarray(ds["outputs"][:])
        targets = np.asarray(ds["targets"][:])
        assert list(ds["lead"][:]) == list(range(1, 7))
        assert [str(c) for c in ds["channel"][:]] == ["u_g", "v_g"]
        t0 = np.asarray(ds["forecast_reference_time"][:])
        assert np.all(np.diff(t0) == 20)  # stride 20 days, date order
        mask = np.asarray(ds["mask"][:]).astype(bool)
        assert ds["lat"].shape == (8,) and ds["lon"].shape == (12,)
    assert outputs.shape == targets.shape == (len(t0), 6, 2, 8, 12)
    assert np.isfinite(outputs[..., mask]).all() and np.isnan(outputs[..., ~mask]).all()
    assert np.isfinite(targets[..., mask]).all()
    scores = score_velocity_forecast(cfg, out, leads=(1, 5))
    assert scores["MultiConv"][1] < scores["persistence"][1]


def test_inference_refuses_to_overwrite_results(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    from oceane2e.errors import OutputExistsError

    tmp, cfg_path = trained
    out = tmp / "again.nc"
    cfg = load_stage1_config(cfg_path, {"inference.output": str(out), "inference.lead_days": 2})
    infer(cfg, show_progress=False)
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match=r"again\.nc: already exists.*--overwrite"):
        infer(cfg, show_progress=False)
    assert out.read_bytes() == before
    infer(cfg, show_progress=False, overwrite=True)
    assert "MultiConv inference: replacing" in capsys.readouterr().err


def test_two_process_inference_writes_the_same_file(trained: tuple[Path, Path]) -> None:
    import netCDF4

    tmp, cfg_path = trained
    one = tmp / "one.nc"
    two = tmp / "two.nc"
    infer(load_stage1_config(cfg_path, {"inference.output": str(one)}), show_progress=False)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "inference_vel.py"), "--config", str(cfg_path), "-o", f"inference.output={two}"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun's workers too
        raise
    assert proc.returncode == 0, stderr[-3000:]
    assert "RMSE MultiConv" in stdout
    with netCDF4.Dataset(one) as a, netCDF4.Dataset(two) as b:
        np.testing.assert_array_equal(a["forecast_reference_time"][:], b["forecast_reference_time"][:])
        np.testing.assert_allclose(np.asarray(a["outputs"][:]), np.asarray(b["outputs"][:]), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(a["targets"][:]), np.asarray(b["targets"][:]))
    assert not (tmp / "two.nc.parts").exists()


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = _config_dict(tmp_path)
    bad["window"]["n_inn"] = 3
    bad["train"]["epochs"] = "many"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError) as err:
        load_stage1_config(path)
    assert "window.n_inn: unknown key" in str(err.value) and "train.epochs" in str(err.value)
    good = _config_dict(tmp_path)
    good["window"]["rollout_weights"] = [1.0]
    path.write_text(yaml.safe_dump(good))
    with pytest.raises(ConfigError, match="rollout_weights has 1 entries"):
        load_stage1_config(path)


@pytest.mark.parametrize("path", ["configs/config_vel.yaml", "regional_high/config_vel.yaml"])
def test_shipped_configs_validate(path: str) -> None:
    cfg = load_stage1_config(REPO / path)
    assert cfg.train.best_checkpoint == Path("checkpoints/pretrained/MultiConv_best_model.pth")
    assert cfg.inference.lead_days == 40


def test_rollout_with_gradient_checkpointing_gives_the_same_loss_and_gradients(tmp_path: Path) -> None:
    """train.grad_checkpoint recomputes each autoregressive call; results must not change."""
    import torch

    from model_baselines.registry import build_model
    from oceane2e.data.info import DataInfo
    from oceane2e.stage1 import Stage1Config

    cfg = Stage1Config.model_validate(_config_dict(tmp_path))
    info = DataInfo(np.linspace(30.0, 32.0, 8), np.linspace(-70.0, -67.0, 12), np.ones((8, 12), bool),
                    {"state": ("u_g", "v_g")},
                    {"u_g": {"mean": 0.05, "std": 0.2}, "v_g": {"mean": -0.02, "std": 0.15}},
                    n_in=cfg.window.n_in, n_out=cfg.window.n_out)
    torch.manual_seed(0)
    model = build_model(cfg.model, info)
    for p in model.net.parameters():  # leave the zero-initialised read-out: make every call matter
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(2, cfg.window.n_in, 2, 8, 12) * 0.2
    mask = torch.ones(2, 8, 12, dtype=torch.bool)
    mask[:, :, 0] = False
    grads = []
    for ckpt in (False, True):
        model.zero_grad()
        y = model(x, mask, 4, grad_checkpoint=ckpt)
        (y**2).mean().backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
        assert y.shape == (2, 4, 2, 8, 12) and torch.all(y[:, :, :, :, 0] == 0)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)
