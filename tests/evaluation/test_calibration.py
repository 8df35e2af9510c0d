"""Lead-calibrated MHW detection: thresholds fitted on validation hindcasts, scored on the test year."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from oceane2e.data.contract import CLIM_FILE, read_clim
from oceane2e.evaluation import metrics as M
from oceane2e.evaluation.calibration import OBJECTIVES, cross_validate_strong, fit_scales, folds_in_time
from oceane2e.evaluation.evaluate import main
from oceane2e.mhw.categories import STRONG
from oceane2e.mhw.forecast import forecast_mhw
from tests.evaluation.conftest import N_LEAD, truth_of, write_model

#: a damped forecast: the truth times a factor per lead (a network trained on the MSE damps like this)
DAMPING = 1.0 - 0.05 * np.arange(1, N_LEAD + 1)  # 0.95 .. 0.40


def _history(tiny, time0, days=10):
    idx = (time0 - tiny.dates[0]).astype(int)[:, None] + np.arange(-days + 1, 1)[None]
    return tiny.ssta[idx]


def _observed(tiny, time0):
    """(truth, history, {objective: observed days}, clim, weights) of the tiny folder's start dates."""
    clim = read_clim(tiny.data / CLIM_FILE)
    truth = truth_of(tiny, time0)
    history = _history(tiny, time0)
    events = forecast_mhw(truth, history, time0, clim.seas, clim.thresh, mask=tiny.mask)
    observed = {"mhw": events.flags, "strong": events.category >= STRONG}
    assert observed["mhw"].any() and observed["strong"].any()
    return truth, history, observed, clim, M.area_weights(tiny.coords.lat, tiny.mask)


def test_the_scale_of_a_damped_perfect_forecast_is_its_damping(tiny_results):
    """truth x a(L): the observed threshold misses most events at small a; the fitted scales find a(L) and
    then detect every event and every strong day (CSI ~1), which the observed threshold does not."""
    tiny = tiny_results
    time0 = np.datetime64("2002-01-15", "D") + 5 * np.arange(60)
    truth, history, obs, clim, weights = _observed(tiny, time0)
    damped = (truth * DAMPING[None, :, None, None]).astype(np.float32)
    fit = fit_scales(damped, history, obs, time0, clim.seas, clim.thresh, tiny.mask, weights)
    for key in OBJECTIVES:
        scale, raw, cal = fit[key]
        assert np.all(cal > 0.97), key
        assert np.all(np.abs(scale - DAMPING) <= 0.051), key
        assert raw[-1] < 0.5 < cal[-1], key  # at 0.4 x the amplitude the observed threshold is rarely crossed
    # a forecast with the observed amplitude keeps the observed threshold (ties go to the scale nearest 1)
    fit1 = fit_scales(truth.astype(np.float32), history, obs, time0, clim.seas, clim.thresh, tiny.mask, weights)
    for key in OBJECTIVES:
        scale1, raw1, cal1 = fit1[key]
        assert np.all(scale1 == 1.0) and np.allclose(raw1, cal1), key


def test_strong_days_get_their_own_scale(tiny_results):
    """A forecast that damps the strong days more than the moderate ones (as an MSE-trained one does with the
    peaks it cannot place): the scale fitted for category >= Strong is lower than the MHW one and finds the
    strong days better than the MHW scale would at every lead."""
    tiny = tiny_results
    time0 = np.datetime64("2002-01-15", "D") + 5 * np.arange(60)
    truth, history, obs, clim, weights = _observed(tiny, time0)
    peaks = 0.6  # extra damping of the observed strong days
    fc = (truth * DAMPING[None, :, None, None] * np.where(obs["strong"], peaks, 1.0)).astype(np.float32)
    fit = fit_scales(fc, history, obs, time0, clim.seas, clim.thresh, tiny.mask, weights)
    (k, _, _), (k_strong, _, cal_strong) = fit["mhw"], fit["strong"]
    assert np.all(k_strong < k - 0.1)
    assert np.all(np.abs(k_strong - peaks * DAMPING) <= 0.1)
    # the strong days judged with the MHW scale instead: clearly worse
    det = forecast_mhw(fc / k[None, :, None, None].astype(np.float32), history, time0, clim.seas, clim.thresh,
                       mask=tiny.mask)
    csi_with_k = M.categorical_scores(M.contingency_counts(det.category >= STRONG, obs["strong"], weights))["csi"]
    assert np.all(cal_strong > 2 * csi_with_k) and np.mean(cal_strong) > np.mean(csi_with_k) + 0.1
    # out of sample (each half of the start dates scored with the scales of the other) the own scale wins too
    own, mhw = cross_validate_strong(fc, history, obs, time0, clim.seas, clim.thresh, tiny.mask, weights)
    assert own > mhw + 0.05
    # with fewer than two start dates per half there is nothing to cross-validate: NaN, so the MHW scale is kept
    few = slice(0, 3)
    assert np.isnan(cross_validate_strong(fc[few], history[few], {k: v[few] for k, v in obs.items()}, time0[few],
                                          clim.seas, clim.thresh, tiny.mask, weights)).all()
    # start dates whose forecast days all reach into the other half leave nothing to score out of sample: NaN
    close = np.datetime64("2002-01-15", "D") + np.arange(8)  # 8 days apart at most, N_LEAD = 12
    assert np.isnan(cross_validate_strong(fc[:8], history[:8], {k: v[:8] for k, v in obs.items()}, close,
                                          clim.seas, clim.thresh, tiny.mask, weights)).all()
    # the second objective does not touch the first: the MHW scale is what fitting it alone gives
    alone = fit_scales(fc, history, {"mhw": obs["mhw"]}, time0, clim.seas, clim.thresh, tiny.mask, weights)
    assert all(np.array_equal(a, b) for a, b in zip(alone["mhw"], fit["mhw"], strict=True))


def _with_hindcasts(tiny, tmp_path, hindcast_start="2002-01-20"):
    """A copy of the tiny results plus a model ``Damped`` (test and validation years) and ``Damped+OI``."""
    results = tmp_path / "results"
    shutil.copytree(tiny.results, results, ignore=shutil.ignore_patterns("figures", "*.csv", "*.md", "hindcast"))
    truth = truth_of(tiny, tiny.time0)
    damped = np.where(tiny.mask, truth * DAMPING[None, :, None, None], np.nan).astype(np.float32)
    write_model(results, "Damped", damped, truth, tiny)
    write_model(results, "Damped+OI", damped, truth, tiny)
    val_time0 = np.datetime64(hindcast_start, "D") + 5 * np.arange(60)
    val = type(tiny)(**{**tiny.__dict__, "time0": val_time0})
    val_truth = truth_of(tiny, val_time0)
    (results / "hindcast").mkdir()
    write_model(results / "hindcast", "Damped",
                np.where(tiny.mask, val_truth * DAMPING[None, :, None, None], np.nan).astype(np.float32), val_truth, val)
    return results


def test_the_evaluation_scores_the_calibrated_detection_beside_the_observed_one(tiny_results, tmp_path):
    tiny = tiny_results
    results = _with_hindcasts(tiny, tmp_path)
    plain = tmp_path / "plain"
    shutil.copytree(results, plain, ignore=shutil.ignore_patterns("hindcast"))
    args = ["--config", str(tiny.config), "--no-progress"]
    assert main(["--results", str(results), *args]) == 0
    assert main(["--results", str(plain), *args, "--no-figures"]) == 0
    skill = pd.read_csv(results / "skill.csv").set_index(["model", "metric", "lead"])["value"]
    before = pd.read_csv(plain / "skill.csv").set_index(["model", "metric", "lead"])["value"]
    # what the observed threshold gives is unchanged; the calibrated scores come beside it
    pd.testing.assert_series_equal(skill.loc[before.index], before)
    calibrated = {m for m, metric, _ in skill.index if metric == "csi_cal"}
    # Good has no hindcast; Damped+OI uses Damped's scales; climatology forecasts no event at any scale
    assert calibrated == {"Damped", "Damped+OI", "Persistence", "DampedPersistence"}
    assert skill["Damped", "csi", N_LEAD] < 0.5 < skill["Damped", "csi_cal", N_LEAD] > 0.9
    assert skill["Damped+OI", "csi_cal", N_LEAD] == skill["Damped", "csi_cal", N_LEAD]
    scales = pd.read_csv(results / "mhw_calibration.csv")
    assert set(scales.model) == {"Damped", "Persistence", "DampedPersistence"}
    damped = scales[scales.model == "Damped"].sort_values("lead").threshold_scale.to_numpy()
    assert np.all(np.abs(damped - DAMPING) <= 0.051)
    # each forecast says which scale its categories use; the MHW one is copied where cross-validation chose it
    assert set(scales.strong_scale_from) <= {"own", "mhw"}
    kept = scales[scales.strong_scale_from == "mhw"]
    assert (kept.threshold_scale_strong == kept.threshold_scale).all()
    report = (results / "report.md").read_text()
    assert "## MHW scores with lead-calibrated thresholds" in report and "validation years" in report
    png = results / "figures" / "mhw_calibrated_vs_lead.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lead-calibrated" not in (plain / "report.md").read_text()


@pytest.mark.parametrize("cv", [(0.1, 0.2), (float("nan"), float("nan")), (0.3, 0.3)])
def test_the_mhw_scale_is_kept_for_the_categories_unless_their_own_wins_out_of_sample(tiny_results, tmp_path,
                                                                                      monkeypatch, cv):
    """Where the own scale loses out of sample, ties, or cannot be judged, the categories use k: the file says so,
    keeps both cross-validated CSIs, and the evaluation scores the categories with k."""
    from oceane2e.evaluation import calibration
    from oceane2e.evaluation.calibration import read_calibration
    from oceane2e.evaluation.evaluate import fit_mhw_calibration

    tiny = tiny_results
    monkeypatch.setattr(calibration, "cross_validate_strong", lambda *args, **kwargs: cv)
    results = _with_hindcasts(tiny, tmp_path)
    fitted = read_calibration(fit_mhw_calibration(results, config_path=tiny.config))
    for name, c in fitted.items():
        assert c.strong_from == "mhw", name
        assert np.array_equal(c.scale_strong, c.scale), name
        assert np.array_equal(np.asarray(c.cv_csi_strong), np.asarray(cv), equal_nan=True), name
    # the damped perfect forecast with k ~ its damping (within a grid step) finds most strong days too, where
    # the observed threshold finds few at long leads
    c = fitted["Damped"]
    assert np.all(c.csi_strong_cal > 0.6) and np.mean(c.csi_strong_cal) > 0.9 > 0.5 > c.csi_strong_raw[-1]
    assert main(["--results", str(results), "--config", str(tiny.config), "--no-progress", "--no-figures",
                 "--calibration", str(results / "mhw_calibration.csv")]) == 0
    skill = pd.read_csv(results / "skill.csv").set_index(["model", "metric", "lead"])["value"]
    strong = np.array([skill["Damped", "csi_strong_cal", lead] for lead in range(1, N_LEAD + 1)])
    assert np.mean(strong) > 0.8 > 0.5 > skill["Damped", "csi_strong", N_LEAD]
    assert "Damped (= k)" in (results / "report.md").read_text()


def test_hindcasts_of_the_scored_years_are_refused(tiny_results, tmp_path, capsys):
    results = _with_hindcasts(tiny_results, tmp_path, hindcast_start="2003-01-20")
    assert main(["--results", str(results), "--config", str(tiny_results.config), "--no-progress",
                 "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert "hindcast/Damped_forecast.nc" in err and "scored years [2003]" in err
    # --no-calibration scores without them
    assert main(["--results", str(results), "--config", str(tiny_results.config), "--no-progress",
                 "--no-figures", "--no-calibration"]) == 0


def test_a_calibration_fitted_before_gives_the_same_scores(tiny_results, tmp_path):
    """fit_mhw_calibration (the pipeline's calibrate step) writes the scales; the evaluation reading them with
    --calibration scores exactly what fitting them itself scores."""
    from oceane2e.evaluation.calibration import read_calibration
    from oceane2e.evaluation.evaluate import fit_mhw_calibration

    tiny = tiny_results
    results = _with_hindcasts(tiny, tmp_path)
    path = fit_mhw_calibration(results, config_path=tiny.config)
    fitted = read_calibration(path)
    assert set(fitted) == {"Damped", "Persistence", "DampedPersistence"}
    assert fitted["Damped"].years == (2002, 2002) and fitted["Damped"].scale.size == N_LEAD
    reuse = tmp_path / "reuse"
    shutil.copytree(results, reuse, ignore=shutil.ignore_patterns("hindcast", "mhw_calibration.csv"))
    args = ["--config", str(tiny.config), "--no-progress", "--no-figures"]
    assert main(["--results", str(results), *args]) == 0
    assert main(["--results", str(reuse), *args, "--calibration", str(path)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(reuse / "skill.csv"), pd.read_csv(results / "skill.csv"))
    # the categories use their own scale: one so large that nothing reaches Strong silences them alone
    from oceane2e.evaluation.calibration import write_calibration

    fitted["Damped"].scale_strong = np.full(N_LEAD, 100.0)
    write_calibration(path, fitted)
    assert main(["--results", str(reuse), *args, "--calibration", str(path)]) == 0
    skill = pd.read_csv(reuse / "skill.csv").set_index(["model", "metric", "lead"])["value"]
    assert all(skill["Damped", "csi_strong_cal", lead] == 0 for lead in range(1, N_LEAD + 1))
    assert all(skill["Damped", "csi_cal", lead] > 0.9 for lead in range(1, N_LEAD + 1))


def test_a_calibration_fitted_on_the_scored_years_is_refused(tiny_results, tmp_path, capsys):
    from oceane2e.evaluation.calibration import has_current_format, read_calibration, write_calibration
    from oceane2e.evaluation.evaluate import fit_mhw_calibration

    results = _with_hindcasts(tiny_results, tmp_path)
    path = fit_mhw_calibration(results, config_path=tiny_results.config)
    fitted = read_calibration(path)
    fitted["Damped"].years = (2002, 2003)
    write_calibration(path, fitted)
    assert main(["--results", str(results), "--config", str(tiny_results.config), "--no-progress", "--no-figures",
                 "--calibration", str(path)]) == 2
    assert "includes the scored years [2003]" in capsys.readouterr().err
    # a file of the format before the scales for the categories >= Strong: refused, naming what is missing
    old_format = pd.read_csv(path).drop(columns=["threshold_scale_strong", "val_csi_strong_observed_threshold",
                                                 "val_csi_strong_calibrated"])
    old_format.to_csv(path, index=False)
    assert main(["--results", str(results), "--config", str(tiny_results.config), "--no-progress", "--no-figures",
                 "--calibration", str(path)]) == 2
    err = capsys.readouterr().err
    assert "threshold_scale_strong" in err and "fit it again" in err
    # the pipeline's evaluate step fits again instead of reading such a file
    assert not has_current_format(path) and not has_current_format(tmp_path / "none.csv")
    write_calibration(path, fitted)
    assert has_current_format(path)
    path.write_text("model,lead\nDamped,1\n")
    assert main(["--results", str(results), "--config", str(tiny_results.config), "--no-progress", "--no-figures",
                 "--calibration", str(path)]) == 2
    assert "missing" in capsys.readouterr().err


def test_only_the_scored_models_hindcasts_are_fitted_and_stale_scales_go(tiny_results, tmp_path):
    """A hindcast of a model that is not scored (even a bad one) does not stop the evaluation, and the
    calibrate step never leaves the scales of earlier hindcasts behind."""
    from oceane2e.evaluation.calibration import CALIBRATION_FILE, read_calibration
    from oceane2e.evaluation.evaluate import fit_mhw_calibration

    tiny = tiny_results
    results = _with_hindcasts(tiny, tmp_path)
    truth = truth_of(tiny, tiny.time0)
    write_model(results / "hindcast", "Retired", truth, truth, tiny)  # of the scored year, and not scored
    assert set(read_calibration(fit_mhw_calibration(results, config_path=tiny.config))) == {
        "Damped", "Persistence", "DampedPersistence"}
    assert main(["--results", str(results), "--config", str(tiny.config), "--no-progress", "--no-figures"]) == 0
    shutil.rmtree(results / "hindcast")
    assert fit_mhw_calibration(results, config_path=tiny.config) is None
    assert not (results / CALIBRATION_FILE).exists()


def test_one_core_budget_fits_on_one_thread_with_the_same_scales(tiny_results, monkeypatch):
    """With OMP_NUM_THREADS=1 (the pipeline's second process) the candidate scales are scored on one worker
    thread, not on threads that would take the main process' core; the fitted scales are those of more threads."""
    import threading

    from oceane2e.evaluation import calibration as C
    from oceane2e.threads import cpu_budget

    tiny = tiny_results
    time0 = np.datetime64("2002-01-15", "D") + 5 * np.arange(30)
    truth, history, obs, clim, weights = _observed(tiny, time0)
    damped = (truth * DAMPING[None, :, None, None]).astype(np.float32)
    seen: set[int] = set()
    counts = C._detection_counts

    def recording(*args, **kwargs):
        seen.add(threading.get_ident())
        return counts(*args, **kwargs)

    monkeypatch.setattr(C, "_detection_counts", recording)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_budget() == 1
    one = fit_scales(damped, history, obs, time0, clim.seas, clim.thresh, tiny.mask, weights)
    assert len(seen - {threading.get_ident()}) == 1  # one worker
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_budget() == 3
    three = fit_scales(damped, history, obs, time0, clim.seas, clim.thresh, tiny.mask, weights)
    for key in OBJECTIVES:
        for a, b in zip(one[key], three[key], strict=True):
            np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("OMP_NUM_THREADS", "many")  # not a count: the CPU count
    assert cpu_budget() == (os.cpu_count() or 1)


def test_the_folds_in_time_share_no_forecast_day_between_fit_and_score() -> None:
    days = np.arange(0, 6 * 20, 6)  # 20 start dates every 6 days
    folds = folds_in_time(days, 12)
    assert folds is not None and len(folds) == 2
    (fit_a, test_a), (fit_b, test_b) = folds
    assert (fit_a, fit_b) == (slice(0, 10), slice(10, 20))
    # every scored start date's forecast days (start .. start + 12) stay clear of the fitting half's start dates
    assert days[test_a].min() > days[fit_a].max() + 12 and days[test_b].max() + 12 < days[fit_b].min()
    assert days[test_a].min() == 72 and days[test_b].max() == 42  # the nearest ones that qualify are kept
    assert folds_in_time(days[:3], 12) is None and folds_in_time(np.arange(8), 12) is None
