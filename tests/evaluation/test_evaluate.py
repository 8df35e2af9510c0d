"""``oceane2e evaluate`` end to end on tiny results: skill.csv, report, figures, error messages."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from oceane2e.data.forecast_files import write_forecast
from oceane2e.evaluation.evaluate import main


def _weights(tiny) -> np.ndarray:
    w = np.cos(np.deg2rad(tiny.coords.lat))[:, None] * tiny.mask
    return w


def _day(tiny, date) -> np.ndarray:
    return tiny.ssta[int((date - tiny.dates[0]).astype(int))]


def test_skill_csv_holds_every_model_metric_and_lead(evaluated):
    skill = pd.read_csv(evaluated.results / "skill.csv")
    assert list(skill.columns) == ["model", "lead", "metric", "value"]
    assert set(skill.model) == {"Good", "Noisy", "Persistence", "DampedPersistence", "Climatology"}
    metrics = {"rmse", "bias", "acc", "pod", "far", "csi", "hss", "sedi"}
    categorical = metrics - {"rmse", "bias", "acc"}
    per_category = {f"{m}_{c}" for m in categorical for c in ("strong", "severe", "extreme")}
    assert metrics | per_category == set(skill.metric)
    assert sorted(set(skill.lead)) == list(range(1, 13))
    assert len(skill) == 5 * 23 * 12


def test_persistence_rmse_at_lead_1_is_the_hand_computed_value(evaluated):
    tiny = evaluated
    w = _weights(tiny)
    num = sum((w * (_day(tiny, t + 1) - _day(tiny, t)) ** 2)[tiny.mask].sum() for t in tiny.time0)
    expected = np.sqrt(num / (tiny.time0.size * w[tiny.mask].sum()))
    skill = pd.read_csv(tiny.results / "skill.csv").set_index(["model", "metric", "lead"])["value"]
    assert skill["Persistence", "rmse", 1] == pytest.approx(expected, rel=1e-5)
    # the climatology forecast's RMSE is the RMS of the observed anomaly itself
    num = sum((w * _day(tiny, t + 5) ** 2)[tiny.mask].sum() for t in tiny.time0)
    assert skill["Climatology", "rmse", 5] == pytest.approx(np.sqrt(num / (tiny.time0.size * w[tiny.mask].sum())), rel=1e-5)


def test_scores_rank_the_models_as_built(evaluated):
    skill = pd.read_csv(evaluated.results / "skill.csv").set_index(["model", "metric", "lead"])["value"]
    # Good = truth + 0.1 K noise; land written as 0 in its .npy must not count
    assert skill["Good", "rmse", 1] == pytest.approx(0.1, rel=0.1)
    assert skill["Good", "acc", 12] > 0.98 and skill["Good", "csi", 12] > 0.7
    assert np.isnan(skill["Climatology", "acc", 1])  # no variance, no correlation
    # persistence beats climatology at lead 1; damping helps at long leads (RMSE)
    assert skill["Persistence", "rmse", 1] < skill["Climatology", "rmse", 1]
    assert skill["DampedPersistence", "rmse", 12] < skill["Persistence", "rmse", 12]


def test_report_and_figures(evaluated, capsys):
    report = (evaluated.results / "report.md").read_text()
    for title in ("SSTA RMSE", "anomaly correlation", "critical success index", "extremal dependence",
                  "category >= Strong"):
        assert title in report
    assert "| model | lead 1 | lead 5 | lead 10 |" in report  # leads 20, 30, 40 do not exist here
    assert "| Persistence |" in report and "| Good | **" in report
    assert "SYNTHETIC" in report and "test years [2003]" in report and "Start dates: 12" in report
    for name in ("skill_vs_lead.png", "mhw_case_maps.png"):
        png = evaluated.results / "figures" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_misaligned_model_is_reported_with_its_file(evaluated, tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(evaluated.results, results)
    fc = evaluated.models["Noisy"]
    # named to sort first: the start dates most models share are the reference, not the first file's
    write_forecast(results / "Aaa_forecast.nc", fc[:, :, None], evaluated.time0 + 1, evaluated.coords, evaluated.mask,
                   channels=("ssta",), attrs={"model": "Aaa"})
    np.save(results / "Aaa_outputs.npy", fc)
    status = main(["--results", str(results), "--config", str(evaluated.config), "--no-progress", "--no-figures"])
    assert status == 2  # a user error: one line, exit status 2
    err = capsys.readouterr().err
    assert "Aaa_forecast.nc" in err and "start dates" in err and "Good_forecast.nc:" not in err


def test_truth_from_other_data_is_reported(evaluated, tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(evaluated.results, results)
    inputs = np.load(results / "Noisy_inputs.npy")
    np.save(results / "Noisy_inputs.npy", inputs + 0.5)
    status = main(["--results", str(results), "--config", str(evaluated.config), "--no-progress", "--no-figures"])
    assert status == 2  # a user error: one line, exit status 2
    assert "Noisy_inputs.npy" in capsys.readouterr().err


def test_missing_forecast_file_and_empty_results(evaluated, tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    args = ["--results", str(results), "--config", str(evaluated.config), "--no-progress"]
    assert main(args) == 2
    assert "no <Model>_outputs.npy" in capsys.readouterr().err
    np.save(results / "Lonely_outputs.npy", evaluated.models["Good"])
    assert main(args) == 2
    assert "Lonely_forecast.nc" in capsys.readouterr().err


def test_scoring_in_threads_gives_the_scores_of_one_thread(evaluated, tmp_path, monkeypatch):
    """The forecasts of a chunk are scored side by side; over several chunks every score is the one-thread one."""
    import oceane2e.evaluation.evaluate as ev

    monkeypatch.setattr(ev, "_CHUNK_ELEMENTS", 1)  # one start date per chunk: the sums grow over many chunks
    skills = {}
    for threads in (1, 2):
        results = tmp_path / f"results{threads}"
        shutil.copytree(evaluated.results, results)
        monkeypatch.setattr(ev, "SCORING_THREADS", threads)
        skills[threads] = ev.run_evaluation(results, None, evaluated.config, progress=False, figures=False).skill
    assert len(skills[1]) > 0 and skills[1]["model"].nunique() >= 4
    pd.testing.assert_frame_equal(skills[1], skills[2], check_exact=True)


def test_default_history_gives_the_flags_of_the_whole_record(tiny_results):
    from oceane2e.data.contract import read_clim
    from oceane2e.evaluation.evaluate import HISTORY_DAYS
    from oceane2e.mhw.forecast import forecast_mhw

    tiny = tiny_results
    clim = read_clim(tiny.data / "clim.nc")
    start = (tiny.time0 - tiny.dates[0]).astype(int)
    long_history = tiny.ssta[start[:, None] + np.arange(-59, 1)[None]]  # 60 days up to time0
    truth = tiny.ssta[start[:, None] + np.arange(1, 13)[None]]

    def flags(n_days: int) -> np.ndarray:
        hist = long_history[:, -n_days:]
        return forecast_mhw(truth, hist, tiny.time0, clim.seas, clim.thresh, mask=tiny.mask).flags

    whole = flags(60)
    np.testing.assert_array_equal(flags(HISTORY_DAYS), whole)
    assert (flags(1) != whole).any()  # the history matters: without it events are cut at the start


def test_case_maps_show_the_product_beside_the_best_other_forecast(tiny_results, tmp_path):
    """The product (here the worse model, as a user would name the hybrid) is shown, with the best of
    the others; the report names the forcing of each forecast and has a table per MHW category."""
    from oceane2e.data.forecast_files import write_forecast
    from oceane2e.evaluation.evaluate import run_evaluation

    results = tmp_path / "results"
    shutil.copytree(tiny_results.results, results, ignore=shutil.ignore_patterns("figures", "*.csv", "*.md"))
    tiny = tiny_results
    fc = tiny.models["Noisy"]
    truth = np.load(results / "Noisy_inputs.npy")
    write_forecast(results / "Noisy_forecast.nc", np.where(tiny.mask, fc, np.nan)[:, :, None], tiny.time0,
                   tiny.coords, tiny.mask, truth[:, :, None], channels=("ssta",),
                   attrs={"model": "Noisy", "velocity": "model", "atmosphere": "damped_persistence",
                          "atmosphere_observed_days": 0, "atmosphere_tau_days": 5.0})
    result = run_evaluation(results, None, tiny.config, progress=False, product="Noisy")
    assert list(result.case.forecasts) == ["Noisy", "Good"]
    assert result.case.model == "Noisy" and result.product == "Noisy"
    assert result.case.forecasts["Noisy"].shape == result.case.truth.shape
    report = (results / "report.md").read_text()
    assert "Noisy: currents M_θ's forecast (made on the fly); atmosphere observed to lead 0, then damped persistence" in report
    assert "Good: currents not recorded; atmosphere observed at every lead (oracle" in report
    for name in ("Strong", "Severe", "Extreme"):
        assert f"### category >= {name}: CSI" in report
    assert "## SSTA bias" in report
    # without a product the config's model.name (none here) falls back to the lowest mean RMSE
    assert list(run_evaluation(results, None, tiny.config, progress=False, figures=False).case.forecasts)[0] == "Good"


def test_the_report_says_what_a_forecast_from_observations_started_from() -> None:
    from oceane2e.evaluation.report import forcing_lines

    lines = forcing_lines({"Oceane2e+OI": {"velocity": "forecast", "atmosphere": "observed",
                                           "initial_state": "results/OI-realtime_analysis.nc",
                                           "initial_currents": "results/OI-realtime_analysis.nc"},
                           "Oceane2e": {"velocity": "forecast", "atmosphere": "observed"}})
    assert lines[0].endswith("started from `OI-realtime_analysis.nc`, day-0 currents of `OI-realtime_analysis.nc`.")
    assert "started from" not in lines[1]
    assert "currents M_θ's forecast (stage-1 file); atmosphere observed at every lead (**oracle**" in lines[1]
    # SST only: the file records that the data had neither (stage2.forcing_attrs)
    assert forcing_lines({"SimVP": {"velocity": "none", "atmosphere": "none"}}) == [
        "  - SimVP: currents none (not in the data); atmosphere none (not in the data)."]
