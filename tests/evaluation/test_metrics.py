"""Skill metrics against hand-computed values and their defining properties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oceane2e.evaluation import metrics as M


def _field(values, shape=(1, 1)) -> np.ndarray:
    """(S, L, H, W) array from nested values of one sample and one lead."""
    return np.asarray(values, dtype=np.float64).reshape(*shape, *np.shape(values))


def test_area_weights_are_cos_lat_on_ocean_with_mean_one():
    mask = np.array([[True, True], [True, False]])
    w = M.area_weights(np.array([0.0, 60.0]), mask)
    # cos 0 = 1, cos 60 = 0.5 on the three ocean cells: mean 2.5/3
    np.testing.assert_allclose(w, np.array([[1.0, 1.0], [0.5, 0.0]]) / (2.5 / 3))
    assert w[mask].mean() == pytest.approx(1.0)


def test_rmse_and_bias_hand_computed_with_cos_lat_weights():
    weights = M.area_weights(np.array([0.0, 60.0]), np.ones((2, 2), bool))  # 4/3, 4/3 / 2/3, 2/3
    truth = _field(np.zeros((2, 2)))
    forecast = _field([[1.0, -1.0], [2.0, 0.0]])
    # sum w e^2 = 4/3 * 2 + 2/3 * 4 = 16/3 over sum w = 4 -> MSE 4/3; sum w e = 2/3 * 2 -> bias 1/3
    assert M.rmse(forecast, truth, weights)[0] == pytest.approx(math.sqrt(4.0 / 3.0))
    assert M.bias(forecast, truth, weights)[0] == pytest.approx(1.0 / 3.0)


def test_nan_cells_and_land_are_left_out():
    weights = np.array([[1.0, 1.0, 0.0]])  # third cell is land
    truth = _field([[0.0, 0.0, 5.0]])
    forecast = _field([[2.0, np.nan, -7.0]])
    assert M.rmse(forecast, truth, weights)[0] == pytest.approx(2.0)  # only the first cell counts
    assert M.bias(forecast, truth, weights)[0] == pytest.approx(2.0)


def test_acc_hand_computed_weighted_and_centred():
    weights = np.array([[1.0, 1.0, 2.0]])
    forecast = _field([[1.0, 0.0, 0.0]])
    truth = _field([[1.0, 1.0, 0.0]])
    # weighted means 1/4 and 1/2; cov 0.5, var_f 0.75, var_o 1 -> 0.5 / sqrt(0.75) = 1/sqrt(3)
    assert M.acc(forecast, truth, weights)[0] == pytest.approx(1.0 / math.sqrt(3.0))


def test_acc_with_unit_weights_is_pearson_correlation_pooled_per_lead():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((5, 3, 4, 6))
    forecast = 0.7 * truth + rng.standard_normal(truth.shape) + 2.0  # an offset must not matter
    acc = M.acc(forecast, truth, np.ones((4, 6)))
    for lead in range(3):
        expected = np.corrcoef(forecast[:, lead].ravel(), truth[:, lead].ravel())[0, 1]
        assert acc[lead] == pytest.approx(expected, rel=1e-10)


def test_perfect_forecast_scores():
    rng = np.random.default_rng(1)
    truth = rng.standard_normal((4, 3, 5, 5))
    w = np.ones((5, 5))
    assert np.allclose(M.rmse(truth, truth, w), 0.0)
    assert np.allclose(M.acc(truth, truth, w), 1.0)
    flags = truth > 0.8
    s = M.mhw_scores(flags, flags, w)
    assert np.allclose(s["pod"], 1.0) and np.allclose(s["far"], 0.0)
    assert np.allclose(s["csi"], 1.0) and np.allclose(s["hss"], 1.0)
    assert np.all(s["sedi"] > 0.9)  # rates moved half a count inside (0, 1): close to, not exactly, 1


def test_zero_anomaly_forecast_has_no_acc():
    truth = np.random.default_rng(2).standard_normal((2, 2, 3, 3))
    assert np.all(np.isnan(M.acc(np.zeros_like(truth), truth, np.ones((3, 3)))))


def test_contingency_scores_hand_computed():
    forecast = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], bool).reshape(1, 1, 1, 10)
    observed = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 1], bool).reshape(1, 1, 1, 10)
    counts = M.contingency_counts(forecast, observed)
    np.testing.assert_array_equal(counts[0], [2, 1, 2, 5])  # a hits, b false alarms, c misses, d
    s = M.categorical_scores(counts)
    assert s["pod"][0] == pytest.approx(0.5)
    assert s["far"][0] == pytest.approx(1.0 / 3.0)
    assert s["csi"][0] == pytest.approx(0.4)
    assert s["hss"][0] == pytest.approx(2 * (2 * 5 - 1 * 2) / (4 * 7 + 3 * 6))
    h, f = 0.5, 1.0 / 6.0
    lf, lh, l1f, l1h = math.log(f), math.log(h), math.log(1 - f), math.log(1 - h)
    assert s["sedi"][0] == pytest.approx((lf - lh - l1f + l1h) / (lf + lh + l1f + l1h))


def test_weighted_counts_use_the_cell_weights():
    forecast = np.array([[1, 1]], bool).reshape(1, 1, 1, 2)
    observed = np.array([[1, 0]], bool).reshape(1, 1, 1, 2)
    counts = M.contingency_counts(forecast, observed, np.array([[3.0, 0.5]]))
    np.testing.assert_allclose(counts[0], [3.0, 0.5, 0.0, 0.0])


def test_random_forecast_has_no_skill_and_never_yes_scores_zero():
    rng = np.random.default_rng(3)
    observed = rng.random((1, 2, 200, 200)) < 0.2
    forecast = rng.random(observed.shape) < 0.2
    s = M.mhw_scores(forecast, observed)
    assert np.all(np.abs(s["hss"]) < 0.02)
    assert np.all(np.abs(s["sedi"]) < 0.03)
    never = M.mhw_scores(np.zeros_like(observed), observed)
    assert np.allclose(never["pod"], 0.0) and np.allclose(never["hss"], 0.0) and np.allclose(never["sedi"], 0.0)
    assert np.all(np.isnan(never["far"]))  # no forecast "yes": the false-alarm ratio is undefined
    opposite = M.mhw_scores(~observed, observed)
    assert np.all(opposite["sedi"] < -0.9) and np.all(opposite["hss"] < -0.4)  # worse than random


def test_no_observed_event_gives_undefined_pod_and_sedi():
    observed = np.zeros((1, 1, 2, 2), bool)
    s = M.mhw_scores(observed.copy(), observed)
    assert np.isnan(s["pod"][0]) and np.isnan(s["sedi"][0]) and np.isnan(s["csi"][0])


def test_sums_over_chunks_equal_sums_of_the_whole():
    rng = np.random.default_rng(4)
    truth = rng.standard_normal((7, 4, 3, 5))
    forecast = truth + rng.standard_normal(truth.shape)
    w = M.area_weights(np.linspace(20, 50, 3), np.ones((3, 5), bool))
    total = None
    for s0 in range(0, 7, 3):
        total = M.add_sums(total, M.moment_sums(forecast[s0 : s0 + 3], truth[s0 : s0 + 3], w))
    whole = M.continuous_scores(M.moment_sums(forecast, truth, w))
    for key, value in M.continuous_scores(total).items():
        np.testing.assert_allclose(value, whole[key], rtol=1e-12)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="must both be"):
        M.rmse(np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 3, 3)), np.ones((3, 3)))
