"""The learned assimilation end to end on a tiny folder: training beats OI on validation, cycling stays
finite with land 0, resume is exact, N-rank cycling equals 1-rank."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest
import torch
import yaml

from oceane2e.assim import oi
from oceane2e.assim.analysis_file import AnalysisFile
from oceane2e.config import ConfigError
from oceane2e.engine.checkpoint import load_checkpoint
from oceane2e.stage2 import load_stage2_config
from oceane2e.stage2 import train as train_stage2
from oceane2e.stage_da import CycleInputs, Segment, cycle, load_assim_config, load_system, run_cycle, train
from oceane2e.testing.folders import write_tiny_folder

REPO = Path(__file__).resolve().parents[1]
DATA = {"train_years": [2001], "val_years": [2002], "test_years": [2003]}
SMALL = {"hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 1, "attn_kernel": 3, "mlp_ratio": 2.0}


def _da_config(tmp: Path, name: str = "NeuralDA", **over: object) -> Path:
    cfg = {
        "data": {"root": str(tmp / "gs"), **DATA},
        "model": {"name": "AnalysisUNet", "base_channels": 8, "max_channels": 16, "levels": 2, "gate_scales": 3},
        "forecaster": str(tmp / "ckpt" / "Oceane2e_best_model.pth"),
        "obs": {"window_days": 2},
        "windows": {"cycle_days": 2, "stride": 3, "val_stride": 20},
        "train": {"name": name, "seed": 0, "epochs": 3, "batch_size": 4, "lr": 1e-2, "max_steps_per_epoch": 8,
                  "checkpoint_dir": str(tmp / "ckpt"), "log_dir": str(tmp / "logs"), "num_threads": 1,
                  "scheduler": {"name": "none"}},
        "end_to_end": {"epochs": 1, "forecast_days": 2, "batch_size": 4, "max_steps_per_epoch": 3, "lr": 1e-3},
        "cycle": {"currents_path": str(tmp / "results" / "OI-realtime_analysis.nc")},
        "results_dir": str(tmp / "results"),
    }
    for key, value in over.items():
        section, _, field = key.partition(".")
        if field:
            cfg[section][field] = value  # type: ignore[index]
        elif isinstance(value, dict) and isinstance(cfg.get(section), dict):
            cfg[section].update(value)  # type: ignore[attr-defined]
        else:
            cfg[section] = value
    path = tmp / f"da_{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _smooth(x: np.ndarray, size: int = 5) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    y = uniform_filter(x, size=size, mode="reflect")
    return y / y.std()


def _smooth_world(root: Path) -> None:
    """A tiny ocean where assimilation is learnable: SSTA an AR(1) (e-folding 20 days) of smooth
    fields of std 1 K, weak uniform currents, sea level a small smooth field; and simple observations
    (30 % of the cells a day with 0.3 K noise, a few drifters, altimetry points)."""
    from oceane2e.data.contract import days_in_year, write_year, year_path
    from oceane2e.data.observations import ObsRecords, write_obs_year

    tiny = write_tiny_folder(root, years=(2001, 2002, 2003), shape=(12, 16))
    rng = np.random.default_rng(0)
    h, w = tiny.shape
    rho = np.exp(-1 / 20)
    state, eta = _smooth(rng.standard_normal((h, w))), _smooth(rng.standard_normal((h, w)))
    lat2, lon2 = np.meshgrid(tiny.coords.lat, tiny.coords.lon, indexing="ij")
    ocean = np.flatnonzero(tiny.mask.ravel())
    for year in tiny.years:
        n = days_in_year(year)
        mhw, geo = tiny.data("mhw", year), tiny.data("geo", year)
        recs = []
        for t in range(n):
            state = rho * state + np.sqrt(1 - rho**2) * _smooth(rng.standard_normal((h, w)))
            eta = 0.95 * eta + np.sqrt(1 - 0.95**2) * _smooth(rng.standard_normal((h, w)))
            mhw[t, 0], mhw[t, 1] = state, 0.01 * eta
            geo[t, 0], geo[t, 1] = 0.05 + 0.02 * eta, 0.02 - 0.02 * eta
            day = np.datetime64(f"{year}-01-01T12", "s") + np.timedelta64(t, "D")
            for platform, variable, k, err, field in (("sst_l3", "ssta", int(0.3 * ocean.size), 0.3, state),
                                                      ("drifter", "ssta", 4, 0.1, state),
                                                      ("altimetry", "sla", 10, 0.02, 0.01 * eta)):
                cells = rng.choice(ocean, k, replace=False)
                i, j = np.unravel_index(cells, (h, w))
                recs.append(ObsRecords(np.full(k, day), lat2[i, j], lon2[i, j],
                                       field[i, j] + err * rng.standard_normal(k), np.full(k, err),
                                       [platform] * k, [variable] * k))
        for data in (mhw, geo):
            data[:, :, ~tiny.mask] = np.nan
        write_year(year_path(root, "mhw", year), "mhw", year, mhw, tiny.coords, mask=tiny.mask)
        write_year(year_path(root, "geo", year), "geo", year, geo, tiny.coords, mask=tiny.mask)
        write_obs_year(root / "obs", year, ObsRecords.concat(recs))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("da")
    _smooth_world(tmp / "gs")
    (tmp / "oi.yaml").write_text(yaml.safe_dump({
        "data": {"root": str(tmp / "gs"), **DATA}, "years": [2002, 2003], "results_dir": str(tmp / "results"),
        "score": False, "ssta": {"length_km": 60.0, "time_days": 1.0, "background_std": 1.0, "block_cells": 8,
                                 "max_obs": 60},
        "sla": {"length_km": 60.0, "time_days": 2.0, "background_std": 0.01, "block_cells": 8, "max_obs": 40}}))
    assert oi.main(["--config", str(tmp / "oi.yaml"), "--no-progress"]) == 0  # the smoother: the reference
    assert oi.main(["--config", str(tmp / "oi.yaml"), "--no-progress", "-o", "realtime=true",
                    "-o", "method=OI-realtime"]) == 0  # the cycle's currents
    (tmp / "stage2.yaml").write_text(yaml.safe_dump({
        "data": {"root": str(tmp / "gs"), **DATA},
        "model": {"name": "Oceane2e", "gm": SMALL, "source": SMALL, "kernel": {"form": "advective"}},
        "train": {"name": "Oceane2e", "epochs": 1, "batch_size": 4, "max_steps_per_epoch": 2, "num_threads": 1,
                  "checkpoint_dir": str(tmp / "ckpt"), "log_dir": str(tmp / "logs")},
        "windows": {"stride": 10, "val_stride": 60}}))
    train_stage2(load_stage2_config(tmp / "stage2.yaml"), show_progress=False)
    train(load_assim_config(_da_config(tmp)), show_progress=False)
    return tmp


def test_a_tiny_training_beats_oi_on_the_validation_year(world: Path) -> None:
    """120 cycled days of the validation year (currents of the real-time OI): the learned analysis has a lower
    RMSE than the OI smoother (which also uses the observations of the three days after)."""
    cfg = load_assim_config(_da_config(world))
    system, _, info = load_system(cfg.final_checkpoint)
    dates = np.datetime64("2002-01-01", "D") + np.arange(120)
    currents = AnalysisFile(cfg.cycle.currents_path)
    with torch.no_grad():
        learned = run_cycle(system, CycleInputs(cfg, dates, currents), Segment(0, dates.size, 0))["analysis"]
    classical = AnalysisFile(world / "results" / "OI_analysis.nc").read("ssta", dates[0], dates.size)  # the smoother
    from oceane2e.data.contract import YearFile

    with YearFile(world / "gs" / "mhw_2002.nc", "mhw") as f:
        truth = f.read(0, dates.size, ["ssta"])[:, 0]
    rmse = {name: float(np.sqrt(np.mean((x - truth)[:, info.mask] ** 2)))
            for name, x in (("learned", learned), ("oi", classical))}
    assert rmse["learned"] < rmse["oi"], rmse
    offline = load_checkpoint(world / "ckpt" / "NeuralDA_offline_best_model.pth")
    assert offline["history"][-1]["val_analysis_mse_last"] < offline["history"][-1]["val_background_mse_last"]


def test_cycling_thirty_days_stays_finite_and_keeps_land_zero(world: Path) -> None:
    cfg = load_assim_config(_da_config(world))
    system, _, info = load_system(cfg.final_checkpoint)
    dates = np.datetime64("2003-01-01", "D") + np.arange(30)
    inputs = CycleInputs(cfg, dates, AnalysisFile(cfg.cycle.currents_path))
    with torch.no_grad():
        out = run_cycle(system, inputs, Segment(0, 30, 0))
    assert out["analysis"].shape == (30, 12, 16)
    assert np.isfinite(out["analysis"]).all() and np.isfinite(out["background"]).all()
    assert np.all(out["analysis"][:, ~info.mask] == 0) and np.all(out["background"][:, ~info.mask] == 0)
    assert np.abs(out["analysis"]).max() < 20.0


def test_resume_of_train_assim_is_exact(world: Path) -> None:
    """Stop the offline run after 3 optimiser steps and the end-to-end run after 1; resume each: the
    weights equal those of the uninterrupted run of the fixture."""
    path = _da_config(world, "Resumed")

    def stop_after(n: int):
        def hook(trainer) -> None:
            original, calls = trainer.stepper.compute_loss, [0]

            def counted(model, batch, ctx):
                if ctx.training:
                    calls[0] += 1
                    if calls[0] == n:
                        trainer.request_stop()
                return original(model, batch, ctx)

            trainer.stepper.compute_loss = counted
        return hook

    first = train(load_assim_config(path), show_progress=False, on_trainer=stop_after(3))
    assert first[0].stopped and len(first) == 1
    second = train(load_assim_config(path), resume=True, show_progress=False,
                   on_trainer=lambda t: stop_after(1)(t) if "Resumed" == t.cfg.name else None)
    assert second[-1].stopped
    train(load_assim_config(path), resume=True, show_progress=False)
    for suffix in ("_offline_last.pth", "_last.pth"):
        ref = load_checkpoint(world / "ckpt" / f"NeuralDA{suffix}")["model"]
        got = load_checkpoint(world / "ckpt" / f"Resumed{suffix}")["model"]
        for key in ref:
            assert torch.equal(ref[key], got[key]), (suffix, key)


@pytest.mark.slow
def test_two_process_cycling_writes_what_one_writes(world: Path) -> None:
    path = _da_config(world, cycle={"segment_days": 120, "spinup_days": 5})
    one = cycle(load_assim_config(path, {"results_dir": str(world / "one")}), show_progress=False, score=False)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "assimilate.py"), "--config", str(path), "-o", f"results_dir={world / 'two'}"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 0, stderr[-3000:]
    with netCDF4.Dataset(one) as a, netCDF4.Dataset(world / "two" / "NeuralDA_analysis.nc") as b:
        for name in ("ssta", "ssta_background", "u_g"):
            np.testing.assert_array_equal(np.asarray(a[name][:]), np.asarray(b[name][:]), err_msg=name)


def test_config_errors_name_the_key(world: Path) -> None:
    path = _da_config(world)
    with pytest.raises(ConfigError, match="windows.cycle_dayz"):
        load_assim_config(path, {"windows.cycle_dayz": 3})
    with pytest.raises(ConfigError, match="not training years"):
        load_assim_config(path, {"windows.train_years": [2002]})
    with pytest.raises(ConfigError, match="unknown analysis model"):
        load_assim_config(path, {"model.name": "Oceane2e"})
    with pytest.raises(ConfigError, match="cycle.background_currents.*first_guess.*model.currents: true"):
        load_assim_config(path, {"cycle.background_currents": "analysis"})
    assert load_assim_config(path, {"cycle.background_currents": "analysis", "model.currents": True}).cycle


def test_forecasts_name_the_analysis_they_start_from() -> None:
    """Oceane2e+OI starts from the real-time OI by default; a list keeps its old meaning (name = analysis)."""
    from oceane2e.stage_da import ForecastsConfig

    assert ForecastsConfig().methods == {"NeuralDA": "NeuralDA", "OI": "OI-realtime"}
    assert ForecastsConfig(methods=["NeuralDA", "OI"]).methods == {"NeuralDA": "NeuralDA", "OI": "OI"}


def test_a_smoother_is_refused_as_the_cycle_currents(world: Path) -> None:
    """The smoother OI saw the days after each of its days: cycling (and forecasting) with its currents would let
    the forecasts see their own lead days."""
    from oceane2e.data.contract import DataContractError

    cfg = load_assim_config(_da_config(world), {"cycle.currents_path": str(world / "results" / "OI_analysis.nc"),
                                                "results_dir": str(world / "smoother")})
    with pytest.raises(DataContractError, match=r"OI_analysis.nc: a smoother \(centred.*cycle.currents_path.*"
                                                r"configs/oi_realtime.yaml"):
        cycle(cfg, show_progress=False)


def test_forecasts_from_analyses_refuse_a_name_they_do_not_know(world: Path) -> None:
    from oceane2e.stage_da import forecast_from_analyses

    with pytest.raises(ConfigError, match=r"forecasts from analyses \['OI-smoother'\]: not in forecasts.methods"):
        forecast_from_analyses(load_assim_config(_da_config(world)), names=["OI-smoother"], show_progress=False)


def _cycle_with_later_records_changed(cfg: Any, system: Any, dates: np.ndarray, changed_from: int) -> np.ndarray:
    """The cycle's analyses when every SSTA record from day ``changed_from`` on reads 5 K more."""
    inputs = CycleInputs(cfg, dates, AnalysisFile(cfg.cycle.currents_path))
    grid = inputs.obs.grid
    ssta = [i for i, p in enumerate(inputs.obs.platforms) if p != "altimetry"]

    def shifted(day: np.datetime64) -> np.ndarray:
        out = grid(day)
        if np.datetime64(day, "D") >= dates[changed_from]:
            out[ssta, 0] += 5.0 * (out[ssta, 1] > 0)
        return out

    inputs.obs.grid = shifted  # type: ignore[method-assign]
    with torch.no_grad():
        return run_cycle(system, inputs, Segment(0, dates.size, 0))["analysis"]


def test_the_filter_never_sees_a_later_record_and_the_smoother_does(world: Path) -> None:
    """The cycled analysis of day d is the same whatever the records after d say (forecasts start from it); a
    learned smoother (obs.future_days > 0) reads them, writes a 'centred' file and is refused as a start."""
    from oceane2e.assim.analysis_file import CENTRED
    from oceane2e.data.contract import DataContractError

    dates = np.datetime64("2003-01-01", "D") + np.arange(12)
    filt = load_assim_config(_da_config(world))
    system, _, _ = load_system(filt.final_checkpoint)
    with torch.no_grad():
        base = run_cycle(system, CycleInputs(filt, dates, AnalysisFile(filt.cycle.currents_path)),
                         Segment(0, dates.size, 0))["analysis"]
    changed = _cycle_with_later_records_changed(filt, system, dates, 6)
    np.testing.assert_array_equal(changed[:6], base[:6])
    assert np.abs(changed[6:] - base[6:]).max() > 0.1  # the records do matter on their own days

    path = _da_config(world, name="NeuralDA-smoother", obs={"window_days": 1, "future_days": 1},
                      cycle={"currents_path": str(world / "results" / "OI_analysis.nc")},  # a smoother's may
                      results_dir=str(world / "smoother_run"), train={"epochs": 1, "max_steps_per_epoch": 3},
                      end_to_end={"epochs": 0}, forecasts={"methods": {}})
    with pytest.raises(ConfigError, match="a smoother.*forecasts.methods may not start \\['OI'\\]"):
        load_assim_config(path, {"forecasts.methods": {"OI": "OI-realtime"}})  # not even from another analysis
    smoother = load_assim_config(path)
    assert smoother.obs.n_days == 2
    train(smoother, show_progress=False)
    s_system, _, s_info = load_system(smoother.final_checkpoint)
    assert s_info.n_in == 2
    with torch.no_grad():
        s_base = run_cycle(s_system, CycleInputs(smoother, dates, AnalysisFile(smoother.cycle.currents_path)),
                           Segment(0, dates.size, 0))["analysis"]
    s_changed = _cycle_with_later_records_changed(smoother, s_system, dates, 6)
    np.testing.assert_array_equal(s_changed[:5], s_base[:5])
    assert np.abs(s_changed[5] - s_base[5]).max() > 0  # day 5 saw day 6's records
    out = cycle(smoother.model_copy(update={"cycle": smoother.cycle.model_copy(update={"years": [2003]})}),
                show_progress=False, score=False)
    f = AnalysisFile(out)
    assert f.windows.startswith(CENTRED) and "d+1" in f.windows
    # a checkpoint is cycled only with the observation window it was trained with
    as_filter = smoother.model_copy(update={"obs": smoother.obs.model_copy(update={"window_days": 2, "future_days": 0})})
    with pytest.raises(ConfigError, match=r"trained with obs.window_days, future_days = \(1, 1\).*\(2, 0\)"):
        cycle(as_filter, show_progress=False, score=False, overwrite=True)
    with pytest.raises(DataContractError, match="a smoother"):
        f.require_past_only("the start of Oceane2e+NeuralDA-smoother")


def test_forecasts_from_analyses_refuse_a_forecaster_that_reads_the_past(world: Path, tmp_path: Path) -> None:
    from oceane2e.stage_da import forecast_from_analyses

    raw = yaml.safe_load((world / "stage2.yaml").read_text())
    raw["windows"]["level_days"] = 365  # its level would come from the truth's past
    (tmp_path / "stage2_level.yaml").write_text(yaml.safe_dump(raw))
    velocity = tmp_path / "MultiConv_altimetry_data.nc"
    cfg = load_assim_config(_da_config(world), {"forecasts": {"stage2_config": str(tmp_path / "stage2_level.yaml"),
                                                              "methods": {"OI": "OI"},
                                                              "velocity_output": str(velocity)}})
    with pytest.raises(ConfigError, match="stage2_level.yaml: .*mean of the last 365.*would read that past from the "
                                          "truth.*windows.level_days: 0"):
        forecast_from_analyses(cfg, show_progress=False)
    assert not velocity.exists()  # refused before M_θ forecast anything


def test_a_current_analysis_beats_its_first_guess_and_cycles_into_the_analysis_file(world: Path) -> None:
    """``model.currents: true``: trained on the window currents perturbed by 0.1 m s-1, the network's currents
    beat that first guess on the validation windows; the cycle writes the analysed currents as ``u_g``, ``v_g``
    (scored like the OI's) with the first guess beside them, land 0."""
    path = _da_config(world, "NeuralDAcur", model={"currents": True}, end_to_end={"epochs": 0},
                      results_dir=str(world / "cur"))
    cfg = load_assim_config(path)
    train(cfg, show_progress=False)
    last = load_checkpoint(cfg.final_checkpoint)["history"][-1]
    assert last["val_currents_mse_last"] < last["val_first_guess_currents_mse"], last
    out = cycle(cfg, show_progress=False, score=True)
    with netCDF4.Dataset(out) as ds:
        uv = np.stack([np.asarray(ds[c][:].filled(0.0)) for c in ("u_g", "v_g")])
        first = np.stack([np.asarray(ds[c][:].filled(0.0)) for c in ("u_g_first_guess", "v_g_first_guess")])
        mask = np.asarray(ds["mask"][:]).astype(bool)
        assert "analysed by NeuralDAcur" in ds.currents
    assert np.isfinite(uv[:, :, mask]).all() and np.all(uv[:, :, ~mask] == 0)
    assert np.abs(uv - first)[:, :, mask].mean() > 1e-4, "the network moved its first guess"
    import pandas as pd

    scores = pd.read_csv(world / "cur" / "analysis_skill.csv")
    assert {"NeuralDAcur"} <= set(scores.method[scores.metric == "current_rmse"])
    # cycle.background_currents: analysis: day d's background is advected by the analysed currents of d-1
    moved = cycle(cfg.model_copy(update={"cycle": cfg.cycle.model_copy(update={"background_currents": "analysis"}),
                                         "results_dir": world / "cur_bg"}), show_progress=False, score=False)
    with netCDF4.Dataset(out) as a, netCDF4.Dataset(moved) as b:
        bg_fg, bg_an = (np.asarray(ds["ssta_background"][:].filled(0.0)) for ds in (a, b))
        assert "with its analysed currents" in b.background and "analysed currents" not in a.background
    np.testing.assert_array_equal(bg_an[0], bg_fg[0])  # the first day: no analysis before it, the first guess
    assert np.isfinite(bg_an).all() and np.abs(bg_an - bg_fg)[1:, mask].max() > 1e-5
    ssta_only = load_assim_config(_da_config(world)).final_checkpoint  # the fixture's network: no currents
    with pytest.raises(ConfigError, match="does not analyse the currents.*first_guess"):
        cycle(cfg.model_copy(update={"cycle": cfg.cycle.model_copy(update={"background_currents": "analysis"}),
                                     "results_dir": world / "cur_bad"}), checkpoint=ssta_only, show_progress=False)
    assert not (world / "cur_bad" / "NeuralDAcur_analysis.nc").exists()


def test_the_window_forecast_benchmark_ranks_checkpoints_and_swaps_their_hybrid(world: Path, capsys) -> None:
    """benchmarks/da_window_forecasts.py: one line of RMSE per lead and checkpoint; ``--forecaster-of`` its own
    name changes nothing, a checkpoint with another hybrid changes the forecasts (the swap is real)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("da_window_forecasts", REPO / "benchmarks" / "da_window_forecasts.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg_path = _da_config(world)
    ckpt = load_checkpoint(world / "ckpt" / "NeuralDA_best_model.pth")
    other = {k: (v * 0.5 if k.startswith("forecaster.") and v.is_floating_point() else v)
             for k, v in ckpt["model"].items()}
    from oceane2e.engine.checkpoint import save_checkpoint

    save_checkpoint(world / "ckpt" / "HalfHybrid_best_model.pth", {**ckpt, "model": other})

    def lines(*extra: str) -> list[str]:
        bench.main(["--config", str(cfg_path), "--names", "NeuralDA", "--lead", "4", "--stride", "40", *extra])
        return [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("NeuralDA:")]

    own = lines()
    assert len(own) == 1
    rmse = [float(x) for x in own[0].split(":")[1].split("/")]
    assert len(rmse) == 3 and all(np.isfinite(r) and 0 < r < 5 for r in rmse)  # the printed leads <= 4: 1, 2, 3
    assert lines("--forecaster-of", "NeuralDA") == own
    assert lines("--forecaster-of", "HalfHybrid") != own
