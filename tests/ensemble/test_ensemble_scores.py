"""Probabilistic scores of ensembles and the random fields of the perturbations (fast, analytic)."""

from __future__ import annotations

import numpy as np
import pytest

from oceane2e.ensemble.noise import cells_per_length, coherent_fields, member_rng, streamfunction_currents
from oceane2e.evaluation.probabilistic import (
    brier_points,
    crps_ensemble,
    gaussian_crps,
    rank_histogram,
    spread_skill_ratio,
)


def test_crps_of_a_one_member_ensemble_is_the_absolute_error() -> None:
    rng = np.random.default_rng(0)
    fc, obs = rng.normal(size=(1, 5, 7)), rng.normal(size=(5, 7))
    np.testing.assert_allclose(crps_ensemble(fc, obs), np.abs(fc[0] - obs), rtol=1e-12)


def test_crps_of_a_large_ensemble_approaches_the_gaussian_closed_form() -> None:
    rng = np.random.default_rng(1)
    obs = np.array([-1.0, 0.0, 0.5, 2.0])
    members = rng.normal(0.3, 0.7, size=(20_000, 4))
    np.testing.assert_allclose(crps_ensemble(members, obs), gaussian_crps(0.3, 0.7, obs), atol=0.01)


def test_calibrated_ensemble_has_spread_skill_one_and_a_flat_rank_histogram() -> None:
    rng = np.random.default_rng(2)
    n_cases, n_members = 40_000, 8
    centre = rng.normal(0.0, 2.0, n_cases)  # what is predictable
    sigma = rng.uniform(0.5, 1.5, n_cases)  # case-dependent uncertainty, known to the ensemble
    obs = centre + sigma * rng.standard_normal(n_cases)
    members = centre + sigma * rng.standard_normal((n_members, n_cases))
    assert spread_skill_ratio(members, obs) == pytest.approx(1.0, abs=0.03)
    hist = rank_histogram(members, obs)
    assert hist.shape == (n_members + 1,)
    assert hist.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(hist, 1.0 / (n_members + 1), atol=0.01)
    # an under-dispersive ensemble is caught by both
    narrow = centre + 0.5 * sigma * rng.standard_normal((n_members, n_cases))
    assert spread_skill_ratio(narrow, obs) < 0.7
    u_shape = rank_histogram(narrow, obs)
    assert u_shape[0] > 2 / (n_members + 1) and u_shape[-1] > 2 / (n_members + 1)


def test_brier_score_of_a_perfect_forecast_is_zero() -> None:
    observed = np.random.default_rng(3).random((6, 9)) < 0.2
    assert np.all(brier_points(observed.astype(float), observed) == 0.0)
    np.testing.assert_allclose(brier_points(np.full((2,), 0.3), np.array([1.0, 0.0])), [0.49, 0.09])


def test_member_fields_depend_only_on_seed_date_member_and_purpose() -> None:
    a = member_rng(0, "source", 14000, 3).standard_normal(5)
    np.testing.assert_array_equal(a, member_rng(0, "source", 14000, 3).standard_normal(5))
    for other in (member_rng(1, "source", 14000, 3), member_rng(0, "initial", 14000, 3),
                  member_rng(0, "source", 14001, 3), member_rng(0, "source", 14000, 4)):
        assert not np.allclose(a, other.standard_normal(5))


def test_coherent_fields_have_unit_variance_ar1_memory_and_the_length_scale() -> None:
    rng = np.random.default_rng(4)
    fields = coherent_fields(rng, 400, (64, 64), (3.0, 3.0), tau_days=5.0)
    inner = fields[:, 16:-16, 16:-16]
    assert inner.std() == pytest.approx(1.0, abs=0.05)
    lag1 = np.mean(inner[1:] * inner[:-1])
    assert lag1 == pytest.approx(np.exp(-1 / 5.0), abs=0.05)
    # Gaussian correlation exp(-r^2 / (4 s^2)) with s = 3 cells: at r = 6, exp(-1)
    corr6 = np.mean(inner[:, :, 6:] * inner[:, :, :-6])
    assert corr6 == pytest.approx(np.exp(-1.0), abs=0.06)
    sy, sx = cells_per_length(np.array([30.0, 31.0]), np.array([0.0, 1.0]), 111.19)
    assert sy == pytest.approx(1.0, rel=1e-3) and sx == pytest.approx(1 / np.cos(np.deg2rad(30.5)), rel=1e-3)


def test_current_perturbations_are_non_divergent_with_unit_rms_and_zero_on_land() -> None:
    mask = np.ones((20, 30), dtype=bool)
    mask[:4, :6] = False
    psi = coherent_fields(np.random.default_rng(5), 3, mask.shape, (2.0, 2.0))
    uv = streamfunction_currents(psi, mask)
    assert uv.shape == (3, 2, 20, 30)
    assert np.all(uv[:, :, ~mask] == 0)
    np.testing.assert_allclose(np.sqrt(np.mean(uv[:, :, mask] ** 2, axis=(1, 2))), 1.0)
    div = np.gradient(uv[:, 0], axis=2) + np.gradient(uv[:, 1], axis=1)
    assert np.abs(div[:, 8:-2, 8:-2]).max() < 1e-10
