"""Ensemble inference on a tiny folder: members, control, independence of batch and rank, evaluation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from oceane2e.data.contract import YearFile, date_to_year_day
from oceane2e.data.ensemble_files import EnsembleFile
from oceane2e.data.forecast_files import write_forecast
from oceane2e.ensemble.generate import ensemble_paths, infer_ensemble, load_ensemble_config
from oceane2e.stage2 import infer, load_stage2_config, train
from oceane2e.testing.folders import write_tiny_folder

REPO = Path(__file__).resolve().parents[2]
SMALL = {"hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 1, "attn_kernel": 3, "mlp_ratio": 2.0}
LEAD = 6
MEMBERS = 3


def _persistence_currents(root: Path, year: int, stride: int, path: Path) -> None:
    """A stand-in for stage 1: persistence of the observed currents, with the observed ones as targets."""
    starts = np.datetime64(f"{year}-01-05") + np.arange(0, 365 - LEAD - 5, stride)
    with YearFile(root / f"geo_{year}.nc", "geo") as f:
        coords = f.coords
        day = [date_to_year_day(t)[1] for t in starts]
        outputs = np.stack([np.repeat(np.nan_to_num(f.read(d, d + 1)), LEAD, axis=0) for d in day])
        targets = np.stack([np.nan_to_num(f.read(d + 1, d + 1 + LEAD)) for d in day])
    mask = np.load(root / "mask.npy").astype(bool)
    write_forecast(path, outputs, starts, coords, mask, targets, channels=("u_g", "v_g"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ensemble")
    data = tmp / "data"
    write_tiny_folder(data, years=(2001, 2002, 2003), shape=(8, 12))
    _persistence_currents(data, 2003, 40, data / "MultiConv_data.nc")
    _persistence_currents(data, 2002, 60, data / "MultiConv_val.nc")
    stage2 = {
        "data": {"root": str(data), "train_years": [2001], "val_years": [2002], "test_years": [2003]},
        "model": {"name": "Oceane2e", "gm": SMALL, "source": SMALL},
        "windows": {"velocity": "observed", "stride": 5, "val_stride": 30},
        "train": {"name": "Oceane2e", "seed": 0, "epochs": 1, "batch_size": 4, "lr": 1e-2, "max_steps_per_epoch": 2,
                  "checkpoint_dir": str(tmp / "ckpt"), "log_dir": str(tmp / "logs"),
                  "rollout_schedule": [{"from_epoch": 0, "length": 1}], "num_threads": 1},
        "inference": {"lead_days": LEAD, "velocity": "forecast", "results_dir": str(tmp / "results"), "batch_size": 2},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(stage2))
    train(load_stage2_config(tmp / "config.yaml"), show_progress=False)
    ens = {"stage2_config": str(tmp / "config.yaml"), "vel_config": "unused.yaml",
           "ensemble": {"members": MEMBERS, "seed": 7, "batch_size": 2,
                        "initial": {"std_k": 0.1, "length_scale_km": 100.0},
                        "currents": {"scale": 1.0, "error_forecast": str(data / "MultiConv_val.nc"),
                                     "length_scale_km": 150.0},
                        "source": {"mode": "additive", "std": 0.05, "length_scale_km": 100.0}}}
    (tmp / "config_ens.yaml").write_text(yaml.safe_dump(ens))
    return tmp


def _members(path: Path) -> np.ndarray:
    with EnsembleFile(path) as f:
        return f.read(0, f.time0.size)


def test_members_differ_mean_is_finite_and_control_is_the_deterministic_forecast(tiny: Path) -> None:
    out = infer_ensemble(load_ensemble_config(tiny / "config_ens.yaml"), show_progress=False)
    with EnsembleFile(out["members"]) as f:
        members, mask = f.read(0, f.time0.size), f.mask
        assert f.n_members == MEMBERS and f.attrs["base_model"] == "Oceane2e"
    ocean = members[..., mask]
    assert np.isfinite(ocean).all() and np.isnan(members[..., ~mask]).all()
    spread = ocean.std(axis=1)
    assert spread.min() > 0  # every member differs from the others, at every lead and cell
    mean = np.load(out["outputs"])
    np.testing.assert_allclose(mean[..., mask], ocean.mean(axis=1), rtol=1e-5, atol=1e-6)
    deterministic = np.load(infer(load_stage2_config(tiny / "config.yaml"), show_progress=False)["outputs"])
    np.testing.assert_allclose(np.load(out["control"]), deterministic, atol=1e-5)
    np.testing.assert_array_equal(np.load(out["inputs"]), np.load(tiny / "results" / "Oceane2e_inputs.npy"))


def test_members_do_not_depend_on_the_batch(tiny: Path) -> None:
    reference = _members(ensemble_paths(tiny / "results", "Oceane2e-ens")["members"])
    cfg = load_ensemble_config(tiny / "config_ens.yaml", {"ensemble.batch_size": 3, "ensemble.control": False,
                                                          "ensemble.results_dir": str(tiny / "batch3")})
    again = _members(infer_ensemble(cfg, show_progress=False)["members"])
    np.testing.assert_allclose(again, reference, atol=1e-5)
    other_seed = load_ensemble_config(tiny / "config_ens.yaml", {"ensemble.seed": 8,
                                                                 "ensemble.results_dir": str(tiny / "seed8")})
    assert not np.allclose(_members(infer_ensemble(other_seed, show_progress=False)["members"]), reference)


@pytest.mark.slow
def test_two_process_ensemble_writes_the_same_members(tiny: Path) -> None:
    if not (tiny / "results" / "Oceane2e-ens_members.nc").exists():  # run alone (-m slow): make the 1-rank members
        infer_ensemble(load_ensemble_config(tiny / "config_ens.yaml"), show_progress=False)
    reference = _members(ensemble_paths(tiny / "results", "Oceane2e-ens")["members"])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "inference_ens.py"), "--config", str(tiny / "config_ens.yaml"),
           "-o", f"ensemble.results_dir={tiny / 'two'}"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_array_equal(_members(tiny / "two" / "Oceane2e-ens_members.nc"), reference)


def test_evaluation_adds_probabilistic_scores_and_the_report_section(tiny: Path) -> None:
    import pandas as pd

    from oceane2e.evaluation.evaluate import run_evaluation

    results = tiny / "results"
    if not (results / "Oceane2e-ens_members.nc").exists():
        infer_ensemble(load_ensemble_config(tiny / "config_ens.yaml"), show_progress=False)
    if not (results / "Oceane2e_outputs.npy").exists():
        infer(load_stage2_config(tiny / "config.yaml"), show_progress=False)
    run_evaluation(results, config_path=tiny / "config.yaml", progress=False)
    skill = pd.read_csv(results / "skill.csv")
    ens = skill[skill.model == "Oceane2e-ens"]
    for metric in ("rmse", "crps", "crpss", "spread_skill", "bss_mhw", "brier_strong", "rmse_control"):
        assert set(ens[ens.metric == metric].lead) == set(range(1, LEAD + 1)), metric
    crps = ens[ens.metric == "crps"].value.to_numpy()
    assert np.all(np.isfinite(crps)) and np.all(crps > 0)
    rmse = ens[ens.metric == "rmse"].set_index("lead").value
    rmse_mean = ens[ens.metric == "rmse_mean"].set_index("lead").value
    np.testing.assert_allclose(rmse, rmse_mean, rtol=1e-3)  # the mean scored as a model = the ensemble's own
    report = (results / "report.md").read_text()
    assert "## Ensemble Oceane2e-ens" in report and "spread–skill" in report
    for name in ("reliability", "rank_histogram", "probability_case"):
        assert (results / "figures" / f"Oceane2e-ens_{name}.png").stat().st_size > 1000
    from oceane2e.data.forecast_files import read_forecast

    prob = read_forecast(results / "Oceane2e-ens_probability.nc")
    assert prob.channels == ("p_mhw", "p_strong")
    p = prob.outputs[..., prob.mask]
    assert np.nanmin(p) >= 0 and np.nanmax(p) <= 1


def test_ensembles_scored_in_a_second_process_are_those_scored_here(tiny: Path, tmp_path: Path, monkeypatch,
                                                                    capsys) -> None:
    """With two cores the evaluation scores the ensembles in a second process while it scores the models: the same
    skill rows, report section and files as in one process; a failed second process is reported and replaced."""
    import pandas as pd

    import oceane2e.evaluation.evaluate as ev

    source = tiny / "results"
    if not (source / "Oceane2e-ens_members.nc").exists():
        infer_ensemble(load_ensemble_config(tiny / "config_ens.yaml"), show_progress=False)
    if not (source / "Oceane2e_outputs.npy").exists():
        infer(load_stage2_config(tiny / "config.yaml"), show_progress=False)
    started = []
    popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a[0]) or popen(*a, **k))

    def evaluate(name: str, cores: int) -> tuple[pd.DataFrame, str]:
        import shutil

        results = tmp_path / name
        shutil.copytree(source, results, ignore=shutil.ignore_patterns("figures", "skill.csv", "report.md",
                                                                        "*_probability.nc"))
        monkeypatch.setattr(ev, "cpu_budget", lambda: cores)
        out = ev.run_evaluation(results, config_path=tiny / "config.yaml", progress=False)
        assert (results / "Oceane2e-ens_probability.nc").exists()
        section = out.ensemble_sections[0].replace(str(results), "<results>")
        return out.skill, section

    here = evaluate("one", 1)
    assert not started
    apart = evaluate("two", 2)
    assert len(started) == 1 and started[0][0] == sys.executable
    assert "second process failed" not in capsys.readouterr().err  # its own scores, not the fallback's
    assert (here[0].model == "Oceane2e-ens").sum() > 0
    pd.testing.assert_frame_equal(here[0], apart[0], check_exact=True)
    assert here[1] == apart[1]
    monkeypatch.setattr(ev, "_ENSEMBLE_WORKER", "raise SystemExit('no second process today')")
    failed = evaluate("failed", 2)
    assert "second process failed (no second process today); scoring them here" in capsys.readouterr().err
    pd.testing.assert_frame_equal(here[0], failed[0], check_exact=True)
    assert here[1] == failed[1]
