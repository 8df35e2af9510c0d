"""Reference forecasts and the damped-persistence e-folding fit."""

from __future__ import annotations

import numpy as np
import pytest

from oceane2e.evaluation import references as R


def ar1(n: int, tau: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, *tau.shape) AR(1) series with unit variance and e-folding time ``tau`` days per cell."""
    phi = np.exp(-1.0 / np.asarray(tau, dtype=np.float64))
    x = np.empty((n, *phi.shape))
    x[0] = rng.standard_normal(phi.shape)
    noise = rng.standard_normal(x.shape) * np.sqrt(1.0 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    return x


def test_reference_forecasts_values():
    initial = np.array([[[2.0, -1.0], [np.nan, 0.5]]])  # (S=1, H, W), one land cell
    refs = R.reference_forecasts(initial, 4, tau_days=2.0)
    assert refs["Persistence"].shape == (1, 4, 2, 2)
    np.testing.assert_array_equal(refs["Persistence"][0, 3], initial[0])
    np.testing.assert_allclose(refs["DampedPersistence"][0, 1], initial[0] / np.e, rtol=1e-6)  # lead 2 = tau
    np.testing.assert_allclose(refs["DampedPersistence"][0, 3], initial[0] * np.exp(-2.0), rtol=1e-6)
    clim = refs["Climatology"]
    assert np.all(clim[:, :, 0, 0] == 0) and np.all(np.isnan(clim[:, :, 1, 0]))


def test_damped_persistence_per_cell_tau():
    initial = np.ones((1, 1, 2))
    out = R.damped_persistence(initial, 3, np.array([[1.0, 3.0]]))
    np.testing.assert_allclose(out[0, 2, 0], [np.exp(-3.0), np.exp(-1.0)], rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        R.damped_persistence(initial, 3, 0.0)


def test_fit_recovers_tau_of_a_synthetic_ar1_series():
    rng = np.random.default_rng(0)
    series = ar1(4 * 365, np.full((4, 4), 15.0), rng)
    blocks = np.split(series, [365, 730, 1095])  # yearly blocks, pairs cross the boundaries
    tau = float(R.fit_efolding_time(blocks, max_lag=10))
    assert tau == pytest.approx(15.0, rel=0.1)


def test_fit_is_independent_of_how_the_record_is_split():
    rng = np.random.default_rng(1)
    series = ar1(300, np.full((2, 3), 6.0), rng)
    whole = R.fit_efolding_time([series], max_lag=8)
    parts = R.fit_efolding_time(np.split(series, [17, 100, 101, 250]), max_lag=8)
    assert float(parts) == pytest.approx(float(whole), rel=1e-10)
    # a gap marker stops pairs from crossing: the fit then differs, and equals the separate halves'
    gapped = R.fit_efolding_time([series[:150], None, series[150:]], max_lag=8)
    assert float(gapped) != pytest.approx(float(whole), rel=1e-10)


def test_per_cell_fit_separates_two_regimes():
    rng = np.random.default_rng(2)
    tau = np.array([[4.0, 4.0, 20.0, 20.0]])
    taus = R.fit_efolding_time([ar1(6000, tau, rng)], max_lag=5, per_cell=True)
    assert taus.shape == (1, 4)
    np.testing.assert_allclose(taus, tau, rtol=0.2)


def test_fit_from_data_folder_uses_the_training_years(tiny_results):
    tau = R.fit_tau_from_data(tiny_results.data, [2001, 2002], progress=False)
    assert tau == pytest.approx(tiny_results.tau_days, rel=0.15)
    with pytest.raises(FileNotFoundError, match="1999"):
        R.fit_tau_from_data(tiny_results.data, [1999, 2001], progress=False)
