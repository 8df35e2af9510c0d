"""The main job end to end on a tiny synthetic ocean: every step, the report, resume and --fresh."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from oceane2e.config import ConfigError
from oceane2e.pipeline import PipelineConfig, build_steps, main, run_pipeline

DATA = {"root": "data/GS", "train_years": [2001], "val_years": [2002], "test_years": [2003]}
TRAIN = {"seed": 0, "epochs": 1, "batch_size": 4, "lr": 5e-3, "max_steps_per_epoch": 3, "log_every": 1,
         "checkpoint_dir": "checkpoints", "log_dir": "logs", "num_threads": 1}
SMALL = {"hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 1, "attn_kernel": 3, "mlp_ratio": 2.0}
LEAD = 8


# what the step configs say when the pipeline's data block gives the years: the validation and test years swapped,
# so that a step which read its own file instead of the block would forecast the wrong year
STALE = {**DATA, "val_years": [2003], "test_years": [2002]}


def _stage2(name: str, model: dict, data: dict = DATA) -> dict:
    return {"data": data, "model": {"name": name, **model}, "windows": {"stride": 7, "val_stride": 30},
            "train": {**TRAIN, "name": name}, "inference": {"lead_days": LEAD, "results_dir": "results"}}


def _write_configs(tmp: Path, *, data_block: bool = False) -> Path:
    """The tiny demo's configs; ``data_block``: the years in the pipeline config only (the step configs hold
    ``STALE`` ones)."""
    data = STALE if data_block else DATA
    cfgs = {
        "synthetic.yaml": {"resolution_deg": 1.0, "years": [2001, 2003], "baseline_years": [2001, 2001],
                           "spinup_days": 30},
        "config_vel.yaml": {
            "data": data, "model": {"name": "MultiConv", **SMALL}, "window": {"n_in": 2, "n_out": 1},
            "train": {**TRAIN, "name": "MultiConv", "checkpoint_dir": "checkpoints/pretrained"},
            "inference": {"lead_days": LEAD, "stride": 20, "output": "data/GS/MultiConv_data.nc"},
        },
        # the kernel in the advective form, as in the shipped configs/config.yaml
        "config.yaml": _stage2("Oceane2e", {"gm": SMALL, "source": SMALL, "kernel": {"form": "advective"}}, data),
        "config_baseline.yaml": _stage2("ConvLSTM", {"hidden": [4], "kernel_size": 3}, data),
        "observe.yaml": {"data": data, "years": [2001, 2002, 2003], "figure": False},
        "oi.yaml": {"data": data},
        "oi_realtime.yaml": {"data": data, "realtime": True, "method": "OI-realtime"},
        "config_ens.yaml": {"stage2_config": "configs/config.yaml", "vel_config": "configs/config_vel.yaml",
                            "ensemble": {"members": 2, "source": {"relative_to_ssta_std": False}}},
        "config_da.yaml": {
            "data": data, "model": {"name": "AnalysisUNet", "base_channels": 4, "max_channels": 8, "levels": 2,
                                    "gate_scales": 2, "currents": True},
            "obs": {"window_days": 1},
            # as the shipped config: the analysis corrects the real-time OI's currents, on which it trains
            "windows": {"cycle_days": 2, "stride": 20, "val_stride": 60, "currents": "analysis", "currents_noise": 0.0,
                        "currents_path": "results/train_windows/OI-realtime_analysis.nc", "last_train_years": 1},
            "train": {**TRAIN, "name": "NeuralDA", "max_steps_per_epoch": 2},
            "end_to_end": {"epochs": 1, "forecast_days": 2, "batch_size": 4, "max_steps_per_epoch": 1}},
        "pipeline.yaml": {"synthetic_config": "configs/synthetic.yaml", "vel_config": "configs/config_vel.yaml",
                          "online_config": "configs/config.yaml", "observe_config": "configs/observe.yaml",
                          "oi_config": "configs/oi.yaml", "oi_realtime_config": "configs/oi_realtime.yaml",
                          "assim_config": "configs/config_da.yaml",
                          "baseline_configs": ["configs/config_baseline.yaml"],
                          "ensemble_config": "configs/config_ens.yaml"},
    }
    if data_block:
        cfgs["pipeline.yaml"]["data"] = {**{k: v for k, v in DATA.items() if k != "root"},
                                         "climatology_baseline": [2001, 2001]}
    (tmp / "configs").mkdir()
    for name, body in cfgs.items():
        (tmp / "configs" / name).write_text(yaml.safe_dump(body))
    return tmp / "configs" / "pipeline.yaml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pipeline")
    cfg_path = _write_configs(tmp, data_block=True)  # both lanes must read the years of the pipeline config
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        assert main(["--config", str(cfg_path)]) == 0
    return tmp


def test_pipeline_writes_every_artifact_and_the_report(demo: Path) -> None:
    for path in ("data/GS/geo_2003.nc", "data/GS/clim.nc", "data/GS/MultiConv_data.nc",
                 "checkpoints/pretrained/MultiConv_best_model.pth", "logs/MultiConv_training_log.log",
                 "checkpoints/Oceane2e_best_model.pth", "logs/Oceane2e_training_log.log",
                 "results/Oceane2e_inputs.npy", "results/Oceane2e_outputs.npy", "results/Oceane2e_forecast.nc",
                 "results/ConvLSTM_outputs.npy", "results/skill.csv", "results/report.md",
                 "data/GS/obs/obs_2003.nc", "results/OI_analysis.nc", "results/analysis_skill.csv",
                 "results/Oceane2e-ens_members.nc", "results/figures/Oceane2e-ens_probability_case.png",
                 "checkpoints/NeuralDA_best_model.pth", "results/NeuralDA_analysis.nc",
                 "results/Oceane2e+NeuralDA_outputs.npy", "results/Oceane2e+OI_forecast.nc",
                 "results/hindcast/Oceane2e_forecast.nc", "results/hindcast/ConvLSTM_outputs.npy"):
        assert (demo / path).exists(), path
    skill = pd.read_csv(demo / "results" / "skill.csv")
    models = set(skill["model"])
    assert {"Oceane2e", "ConvLSTM", "Oceane2e-ens", "Oceane2e+NeuralDA", "Oceane2e+OI"} <= models
    assert {"crps", "spread_skill", "bss_mhw"} <= set(skill[skill.model == "Oceane2e-ens"].metric)
    assert any("persistence" in m.lower() for m in models)
    assert set(skill["lead"]) == set(range(1, LEAD + 1))
    assert "Oceane2e" in (demo / "results" / "report.md").read_text()
    assert "## Analyses" in (demo / "results" / "report.md").read_text()
    assert "## Forecasts from observations" in (demo / "results" / "report.md").read_text()
    analyses = set(pd.read_csv(demo / "results" / "analysis_skill.csv")["method"])
    assert {"OI", "OI-realtime", "NeuralDA", "Background(NeuralDA)"} <= analyses
    # the forecasts from observations start from analyses that saw no later record, and cycle with such currents
    from oceane2e.data.forecast_files import ForecastFile

    for name, start in (("Oceane2e+OI", "OI-realtime"), ("Oceane2e+NeuralDA", "NeuralDA")):
        with ForecastFile(demo / "results" / f"{name}_forecast.nc") as f:
            assert {int(str(t)[:4]) for t in f.time0} == {2003}, name  # the data block's test year, not STALE's
            assert Path(f.attrs["initial_state"]).name == f"{start}_analysis.nc", name
            # the learned analysis starts its forecasts from its own analysed currents (and M_θ from them)
            assert Path(f.attrs["initial_currents"]).name == f"{start}_analysis.nc", name
    assert (demo / "data" / "GS" / "MultiConv_NeuralDA_data.nc").exists()
    assert {"NeuralDA", "OI-realtime"} <= set(
        pd.read_csv(demo / "results" / "analysis_skill.csv").query("metric == 'current_rmse'").method)
    # the OI of the training windows' years (the last training year, the validation year), apart from the scores
    from oceane2e.assim.analysis_file import AnalysisFile

    windows = AnalysisFile(demo / "results" / "train_windows" / "OI-realtime_analysis.nc")
    assert {int(str(d)[:4]) for d in windows.dates} == {2001, 2002} and windows.windows.startswith("past only")
    # the baselines ran in the second process (its log holds their steps), finished before the evaluation
    log = (demo / "logs" / "pipeline" / "side.log").read_text()
    for name in ("observe", "train_config_baseline", "inference_config_baseline", "oi_windows", "train_assim"):
        assert f"] {name}: " in log, name
        assert (demo / "logs" / "pipeline" / f"{name}.done").exists(), name
    assert "] train_vel" not in log and "] oi_realtime" not in log and "] assimilate" not in log
    assert "] oi: " not in log and (demo / "logs" / "pipeline" / "oi.done").exists()  # the main lane's
    assert "] hindcast_config_baseline: " in log and "] hindcast: " not in log and "] calibrate: " in log


def test_the_hindcasts_are_forecasts_of_the_validation_year(demo: Path) -> None:
    """inference.split: val forecasts the validation year into results/hindcast, from which the evaluation
    fits its lead-calibrated MHW thresholds (the scores <metric>_cal)."""
    from oceane2e.data.forecast_files import ForecastFile

    for name in ("Oceane2e", "ConvLSTM"):
        with ForecastFile(demo / "results" / "hindcast" / f"{name}_forecast.nc") as f:
            assert {int(str(t)[:4]) for t in f.time0} == {2002}, name  # the data block's validation year
            assert f.attrs["split"] == "val" and f.attrs["years"] == "2002"
    skill = pd.read_csv(demo / "results" / "skill.csv")
    calibrated = set(skill[skill.metric == "csi_cal"].model)
    assert {"Oceane2e", "ConvLSTM", "Persistence", "Oceane2e+OI"} <= calibrated
    assert "Climatology" not in calibrated
    scales = pd.read_csv(demo / "results" / "mhw_calibration.csv")
    assert set(scales.model) == {"Oceane2e", "ConvLSTM", "Persistence", "DampedPersistence"}
    assert (scales.threshold_scale > 0).all() and "lead-calibrated" in (demo / "results" / "report.md").read_text()


def test_every_step_comes_after_what_it_needs(tmp_path: Path) -> None:
    """One process runs the list in order (side_process: false): every need must come earlier."""
    cfg_path = _write_configs(tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        steps = build_steps(PipelineConfig.model_validate(yaml.safe_load(cfg_path.read_text())))
    names = [s.name for s in steps]
    for i, step in enumerate(steps):
        for need in step.needs:
            assert need in names[:i], (step.name, need)
    lanes = {s.name: s.side for s in steps}
    assert lanes["train_assim"] and not lanes["assimilate"] and not lanes["train_online"]
    needs = {s.name: s.needs for s in steps}
    assert "train_assim" in needs["assimilate"] and "train_online" in needs["train_assim"]
    assert {"oi", "oi_realtime"} <= set(needs["assimilate"]) and not lanes["oi_realtime"]
    # the OI of the training windows' years (the currents the analysis trains to correct), side lane, before it;
    # the smoother (only the scores read it) fills the main lane's wait for train_assim, after the real-time forecasts
    assert lanes["oi_windows"] and names.index("oi_windows") < names.index("train_assim")
    assert not lanes["oi"] and names.index("forecast_from_oi") < names.index("oi") < names.index("assimilate")
    # the forecasts from OI wait for no learned analysis: they run before its cycle, in the main lane
    assert not lanes["forecast_from_oi"] and names.index("oi_realtime") < names.index("forecast_from_oi") \
        < names.index("assimilate") < names.index("forecast_from_obs")
    assert needs["inference_config_baseline"] == ("inference_vel",)  # it forecasts with M_θ's currents
    assert needs["train_config_baseline"] == ("check",)  # it trains on the observed currents
    # the hybrid's hindcast fills the main lane's wait for train_assim; the baselines' run in the side lane before
    # that training, which waits for the hybrid anyway (after it they delayed the calibration and the evaluation)
    assert not lanes["hindcast"] and names.index("hindcast") < names.index("assimilate")
    assert lanes["hindcast_config_baseline"] and names.index("hindcast_config_baseline") < names.index("train_assim")
    assert needs["hindcast_config_baseline"] == ("train_vel",)  # M_θ on the fly: no stage-1 file of the val year
    assert lanes["calibrate"] and needs["calibrate"] == ("hindcast",) and names[-2:] == ["calibrate", "evaluate"]


def test_a_stage_config_must_forecast_the_test_years(tmp_path: Path) -> None:
    """inference.split: val in a stage config would put the validation years where the test forecasts go."""
    from oceane2e.pipeline import validate_pipeline

    cfg_path = _write_configs(tmp_path)
    hybrid = yaml.safe_load((tmp_path / "configs" / "config.yaml").read_text())
    hybrid["inference"]["split"] = "val"
    (tmp_path / "configs" / "config.yaml").write_text(yaml.safe_dump(hybrid))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        with pytest.raises(ConfigError, match=r"config.yaml: inference.split is 'val'"):
            validate_pipeline(PipelineConfig.model_validate(yaml.safe_load(cfg_path.read_text())), None)


def test_the_analyses_the_forecasts_start_from_must_be_real_time_and_written(tmp_path: Path) -> None:
    """A forecast started on day d must not start from an analysis that saw day d+1: the pipeline refuses a
    real-time OI config that is not real time, and an assimilation config reading an analysis no step writes."""
    from oceane2e.pipeline import validate_pipeline

    cfg_path = _write_configs(tmp_path)
    body = yaml.safe_load(cfg_path.read_text())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        validate_pipeline(PipelineConfig.model_validate(body), None)
        (tmp_path / "configs" / "oi_realtime.yaml").write_text(yaml.safe_dump({"data": DATA, "method": "OI-realtime"}))
        with pytest.raises(ConfigError, match=r"oi_realtime.yaml: realtime is false.*set `realtime: true`"):
            validate_pipeline(PipelineConfig.model_validate(body), None)
        with pytest.raises(ConfigError, match=r"config_da.yaml: cycle.currents_path reads results/OI-realtime_analysis"
                                              r".nc, which no OI step of the pipeline writes"):
            validate_pipeline(PipelineConfig.model_validate({**body, "oi_realtime_config": None}), None)
        (tmp_path / "configs" / "oi_realtime.yaml").write_text(yaml.safe_dump({"data": DATA, "realtime": True}))
        with pytest.raises(ConfigError, match=r"oi_realtime.yaml: writes .*OI_analysis.nc like oi_config"):
            validate_pipeline(PipelineConfig.model_validate(body), None)
        # the windows' currents need the real-time OI config too (step oi_windows writes them with it), even when
        # the user put the test years' real-time OI there
        (tmp_path / "results").mkdir()
        (tmp_path / "results" / "OI-realtime_analysis.nc").write_text("")
        with pytest.raises(ConfigError, match=r"config_da.yaml: windows.currents_path reads results/train_windows/"
                                              r"OI-realtime_analysis.nc, which no OI step of the pipeline writes"):
            validate_pipeline(PipelineConfig.model_validate({**body, "oi_realtime_config": None}), None)
        (tmp_path / "results" / "OI-realtime_analysis.nc").unlink()
        da = yaml.safe_load((tmp_path / "configs" / "config_da.yaml").read_text())
        da["cycle"] = {"currents_path": "results/OI_analysis.nc"}
        (tmp_path / "configs" / "config_da.yaml").write_text(yaml.safe_dump(da))
        with pytest.raises(ConfigError, match=r"cycle.currents_path reads results/OI_analysis.nc, the smoother of oi_co"):
            validate_pipeline(PipelineConfig.model_validate({**body, "oi_realtime_config": None}), None)


def test_one_thread_per_process_keeps_what_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from oceane2e.pipeline import one_thread_per_process

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    one_thread_per_process()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "1"
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_a_lane_waits_for_the_other_and_stops_when_it_is_gone(tmp_path: Path) -> None:
    import threading

    from oceane2e.pipeline import SideProcessError, Step, _wait_for

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        cfg = PipelineConfig.model_validate({"state_dir": "state"})
        cfg.state_dir.mkdir()
        step = Step("assimilate", lambda: None, needs=("train_assim",))
        timer = threading.Timer(0.3, lambda: (cfg.state_dir / "train_assim.done").write_text("1.0\n"))
        timer.start()
        _wait_for(cfg, step, lambda: None, poll_s=0.05)
        assert (cfg.state_dir / "train_assim.done").exists()  # it returned only once the marker appeared
        timer.join()
        (cfg.state_dir / "train_assim.done").unlink()

        def gone() -> None:
            raise SideProcessError("the other process is gone")

        with pytest.raises(SideProcessError, match="gone"):
            _wait_for(cfg, step, gone, poll_s=0.05)


def test_a_failing_side_process_names_its_log(tmp_path: Path) -> None:
    from oceane2e.pipeline import SideProcessError, _SideProcess

    side = _SideProcess(tmp_path / "missing.yaml", tmp_path / "side.log")
    with pytest.raises(SideProcessError, match="side.log"):
        side.wait()
    assert "missing.yaml" in (tmp_path / "side.log").read_text()


REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie nobody reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\tZ" not in next(line for line in status.splitlines() if line.startswith("State:"))


def _orphan_after_kill(die_with_parent: bool, wait_s: float) -> bool:
    """Start parent -> child, SIGKILL the parent; is the child still alive ``wait_s`` later?"""
    import os
    import signal
    import subprocess
    import sys
    import time

    child = ("from oceane2e.pipeline import die_with_parent; " + ("die_with_parent(); " if die_with_parent else "")
             + "import time; print('ready', flush=True); time.sleep(60)")
    parent_code = ("import subprocess, sys, time\n"
                   f"c = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE, text=True)\n"
                   "assert c.stdout.readline().strip() == 'ready'\n"
                   "print(c.pid, flush=True); time.sleep(60)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + wait_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphaned = _alive(pid)
    if orphaned:
        os.kill(pid, signal.SIGKILL)
    return orphaned


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="PR_SET_PDEATHSIG and /proc are Linux's")
def test_the_side_process_dies_with_the_main_one_however_it_dies() -> None:
    """A killed pipeline left its second process training on, orphaned, racing the next run for its checkpoints."""
    assert _orphan_after_kill(die_with_parent=False, wait_s=2)  # what happened before
    assert not _orphan_after_kill(die_with_parent=True, wait_s=10)


def test_sigterm_stops_the_side_process_before_the_main_one_exits() -> None:
    import os
    import signal
    import subprocess
    import sys

    code = ("import subprocess, sys, time\n"
            "from oceane2e.pipeline import sigterm_raises_exit\n"
            "side = None\n"
            "with sigterm_raises_exit():\n"
            "    try:\n"
            "        side = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],\n"
            "                                stdout=subprocess.DEVNULL)\n"
            "        print(side.pid, flush=True)\n"
            "        time.sleep(60)\n"
            "    finally:\n"
            "        if side is not None:\n"
            "            side.terminate(); side.wait(); print('stopped', flush=True)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    main_process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    side_pid = int(main_process.stdout.readline())  # type: ignore[union-attr]
    main_process.send_signal(signal.SIGTERM)
    out, _ = main_process.communicate(timeout=30)
    assert main_process.returncode == 128 + signal.SIGTERM and out.strip() == "stopped"
    assert not _alive(side_pid)


def test_rerun_skips_finished_steps(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(demo)
        cfg = PipelineConfig.model_validate(yaml.safe_load((demo / "configs" / "pipeline.yaml").read_text()))
        timings = run_pipeline(cfg)
        n_steps = len(build_steps(cfg))  # the step configs are read from the run's folder
    assert timings == {}, "every step finished before: nothing may run again"
    out = capsys.readouterr().out
    assert out.count("skipped") == n_steps


def test_unknown_step_and_unknown_key_fail(demo: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(demo)
        cfg = PipelineConfig.model_validate(yaml.safe_load((demo / "configs" / "pipeline.yaml").read_text()))
        with pytest.raises(ConfigError, match="train_everything"):
            run_pipeline(cfg, only=["train_everything"])
    bad = demo / "configs" / "bad.yaml"
    bad.write_text(yaml.safe_dump({"vel_confg": "x.yaml"}))
    assert main(["--config", str(bad)]) == 2
