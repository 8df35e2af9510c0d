"""The categorical MHW scores computed with the ``scores`` package equal the formulas they replaced."""

from __future__ import annotations

import numpy as np
import pytest

from oceane2e.evaluation import metrics as M


def formula_scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The hand-written scores the evaluation used before ``scores`` (kept here as the oracle)."""
    counts = np.asarray(counts, dtype=np.float64)
    a, b, c, d = (counts[..., i] for i in range(4))
    n_yes, n_no = a + c, b + d

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

    pod, far, csi = ratio(a, n_yes), ratio(b, a + b), ratio(a, a + b + c)
    hss = ratio(2.0 * (a * d - b * c), n_yes * (c + d) + (a + b) * n_no)
    with np.errstate(invalid="ignore", divide="ignore"):
        h_lo, f_lo = 0.5 / n_yes, 0.5 / n_no
        h = np.clip(pod, np.minimum(h_lo, 0.5), 1.0 - np.minimum(h_lo, 0.5))
        f = np.clip(ratio(b, n_no), np.minimum(f_lo, 0.5), 1.0 - np.minimum(f_lo, 0.5))
        lf, lh, l1f, l1h = np.log(f), np.log(h), np.log1p(-f), np.log1p(-h)
        sedi = (lf - lh - l1f + l1h) / (lf + lh + l1f + l1h)
    sedi = np.where((a + b <= 0) | (c + d <= 0), 0.0, sedi)
    sedi = np.where((n_yes > 0) & (n_no > 0), sedi, np.nan)
    return {"pod": pod, "far": far, "csi": csi, "hss": hss, "sedi": sedi}


def _assert_same(counts: np.ndarray) -> None:
    ours, oracle = M.categorical_scores(counts), formula_scores(counts)
    for name in M.CATEGORICAL_METRICS:
        np.testing.assert_allclose(ours[name], oracle[name], rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=name)


def test_random_weighted_tables() -> None:
    rng = np.random.default_rng(0)
    counts = rng.gamma(1.0, 50.0, size=(500, 4))
    counts[::7, 0] = 0.0  # no hits
    counts[::11, 1] = 0.0  # no false alarms
    counts[::13, 2] = 0.0  # no misses
    _assert_same(counts)


def test_degenerate_tables() -> None:
    counts = np.array([
        [5, 0, 0, 95],  # perfect
        [0, 0, 10, 90],  # never says yes
        [10, 90, 0, 0],  # always says yes
        [0, 10, 0, 90],  # no observed event
        [0, 0, 0, 0],  # empty
        [0, 10, 10, 80],  # never hits
    ], dtype=float)
    _assert_same(counts)


def test_the_csi_alone_is_that_of_all_scores() -> None:
    """The calibration's fast CSI gives the numbers of categorical_scores bit for bit, NaN where a + b + c is 0."""
    rng = np.random.default_rng(1)
    counts = rng.gamma(1.0, 50.0, size=(300, 4))
    counts[::5, :3] = 0.0  # no event forecast or observed: no CSI
    counts[::7, 0] = 0.0
    alone = M.critical_success_index(counts)
    assert np.isnan(alone[::5]).all() and np.isfinite(alone[1::5]).all()
    np.testing.assert_array_equal(alone, M.categorical_scores(counts)["csi"])


def test_forecast_flags_of_a_small_forecast() -> None:
    rng = np.random.default_rng(3)
    truth = rng.standard_normal((6, 5, 8, 9)) > 1.0
    forecast = truth ^ (rng.random(truth.shape) < 0.1)
    weights = np.cos(np.deg2rad(np.linspace(30, 40, 8)))[:, None] * np.ones((8, 9))
    _assert_same(M.contingency_counts(forecast, truth, weights))


def test_the_evaluation_fixture_results(tiny_results) -> None:
    """On the MHW flags of the evaluation tests' models (tests/evaluation/conftest.py)."""
    from oceane2e.data.contract import CLIM_FILE, read_clim
    from oceane2e.mhw.categories import STRONG
    from oceane2e.mhw.forecast import forecast_mhw

    tiny = tiny_results
    clim = read_clim(tiny.data / CLIM_FILE)
    idx = (tiny.time0 - tiny.dates[0]).astype(int)
    history = np.stack([tiny.ssta[i - 9 : i + 1] for i in idx])
    truth = np.stack([tiny.ssta[i + 1 : i + 1 + next(iter(tiny.models.values())).shape[1]] for i in idx])
    obs = forecast_mhw(truth, history, tiny.time0, clim.seas, clim.thresh, mask=tiny.mask)
    weights = M.area_weights(tiny.coords.lat, tiny.mask)
    for fc in tiny.models.values():
        det = forecast_mhw(np.where(tiny.mask, fc, np.nan), history, tiny.time0, clim.seas, clim.thresh, mask=tiny.mask)
        _assert_same(M.contingency_counts(det.flags, obs.flags, weights))
        _assert_same(M.contingency_counts(det.category >= STRONG, obs.category >= STRONG, weights))


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_shapes(shape: tuple[int, ...]) -> None:
    counts = np.abs(np.random.default_rng(1).normal(10, 3, size=shape))
    out = M.categorical_scores(counts)
    assert out["pod"].shape == shape[:-1]
