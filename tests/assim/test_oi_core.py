"""Local optimal interpolation against its theory: no observation, one observation, and a field
drawn from its own covariance recovered with the error the theory predicts."""

from __future__ import annotations

import numpy as np

from oceane2e.assim.grid import xyz_km
from oceane2e.assim.oi_core import Blocks, Covariance, grid_blocks, local_oi

COV = Covariance(length_km=100.0, time_days=2.0, background_std=0.8)


def _grid(n: int = 20, step: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = np.meshgrid(35.0 + step * np.arange(n), -60.0 + step * np.arange(n), indexing="ij")
    return lat.ravel(), lon.ravel()


def test_no_observation_returns_the_background() -> None:
    lat, lon = _grid(6)
    blocks = Blocks.from_ids(np.arange(lat.size) // 9)
    inc, err = local_oi(xyz_km(lat, lon), np.zeros(lat.size), blocks, np.zeros((0, 3)), np.zeros(0), np.zeros(0),
                        np.zeros(0), COV, max_obs=50)
    assert np.all(inc == 0.0)
    np.testing.assert_allclose(err, COV.background_std**2)


def test_one_observation_gets_the_analytic_weight() -> None:
    var_o = 0.3**2
    var_b = COV.background_std**2
    obs = xyz_km(np.array([36.0]), np.array([-59.0]))
    tgt = xyz_km(np.array([36.0, 36.0 + 100.0 / 111.19]), np.array([-59.0, -59.0]))  # at the obs and 100 km north
    inc, err = local_oi(tgt, np.zeros(2), Blocks.from_ids(np.zeros(2, int)), obs, np.zeros(1), np.array([1.5]),
                        np.array([var_o]), COV, max_obs=10)
    weight = var_b / (var_b + var_o)
    np.testing.assert_allclose(inc[0], weight * 1.5, rtol=1e-9)
    np.testing.assert_allclose(err[0], var_b * (1 - weight), rtol=1e-9)
    rho = np.exp(-0.5)  # one length scale away (chord ~ arc to 1e-4)
    np.testing.assert_allclose(inc[1], rho * weight * 1.5, rtol=2e-3)


def test_a_field_drawn_from_its_covariance_is_recovered_with_the_predicted_error() -> None:
    """Truth and observations drawn jointly from B; the mean squared analysis error over many draws
    matches the mean analysis error variance of the theory (±10 %), locality included."""
    rng = np.random.default_rng(0)
    lat, lon = _grid(16)
    mask = np.ones((16, 16), bool)
    _, blocks = grid_blocks(mask, 4)
    n_obs, var_o = 60, 0.25**2
    o_lat, o_lon = rng.uniform(lat.min(), lat.max(), n_obs), rng.uniform(lon.min(), lon.max(), n_obs)
    o_t = rng.uniform(-2.0, 2.0, n_obs)
    pts = np.concatenate([xyz_km(lat, lon), xyz_km(o_lat, o_lon)])
    ts = np.concatenate([np.zeros(lat.size), o_t])
    s = COV.scaled(pts, ts)
    d2 = np.sum((s[:, None] - s[None]) ** 2, -1)
    chol = np.linalg.cholesky(COV.background_std**2 * np.exp(-0.5 * d2) + 1e-9 * np.eye(len(s)))
    sq_err, pred = [], None
    for _ in range(60):
        x = chol @ rng.standard_normal(len(s))
        truth, at_obs = x[: lat.size], x[lat.size :]
        y = at_obs + np.sqrt(var_o) * rng.standard_normal(n_obs)
        inc, pred = local_oi(pts[: lat.size], np.zeros(lat.size), blocks, pts[lat.size :], o_t, y,
                             np.full(n_obs, var_o), COV, max_obs=40)
        sq_err.append((inc - truth) ** 2)
    measured = float(np.mean(sq_err))
    predicted = float(np.mean(pred))
    assert predicted < 0.6 * COV.background_std**2  # the observations do inform the analysis
    assert abs(measured / predicted - 1.0) < 0.10, (measured, predicted)


def test_the_cholesky_solve_equals_lu_and_falls_back_to_it() -> None:
    """The batched Cholesky path gives the increments and variances of a plain LU solve; a batch that is
    not positive definite (here a negative 'variance' on one diagonal) is solved by LU, not left wrong."""
    from oceane2e.assim.oi_core import _solve_spd, _sq_dist

    rng = np.random.default_rng(3)
    pts = rng.uniform(-2.0, 2.0, (5, 30, 4))
    tgt = rng.uniform(-2.0, 2.0, (5, 7, 4))
    np.testing.assert_allclose(_sq_dist(tgt, pts), np.sum((tgt[:, :, None] - pts[:, None]) ** 2, -1), rtol=1e-12)
    var_b = 0.7
    a = var_b * np.exp(-0.5 * _sq_dist(pts, pts)) + np.eye(30) * 0.05
    g = var_b * np.exp(-0.5 * _sq_dist(tgt, pts))
    rhs = np.concatenate([rng.standard_normal((5, 30, 1)), np.swapaxes(g, 1, 2)], axis=2)

    def lu(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.linalg.solve(a, rhs)
        return (g @ x[:, :, :1])[:, :, 0], var_b - np.sum(g * np.swapaxes(x[:, :, 1:], 1, 2), axis=-1)

    for matrix in (a, a - np.eye(30)[None] * np.array([0, 0, 0.6, 0, 0])[:, None, None]):  # the second: indefinite
        inc, err = _solve_spd(matrix, rhs, var_b)
        want_inc, want_err = lu(matrix)
        np.testing.assert_allclose(inc, want_inc, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(err, want_err, rtol=1e-8, atol=1e-10)
