"""Sea level -> geostrophic currents: the synthetic ocean's relation (ψ = g η / f), and no flow into land."""

from __future__ import annotations

import numpy as np

from oceane2e.assim.grid import DEG, EARTH_RADIUS_KM, coriolis, geostrophic_currents
from oceane2e.data.contract import GridCoords
from oceane2e.data.synthetic.physics import GRAVITY

COORDS = GridCoords(lat=34.0 + 0.05 * np.arange(80), lon=-60.0 + 0.05 * np.arange(100))


def test_geostrophy_of_a_known_eta() -> None:
    """An eddy ψ = A exp(-r²/R²) plus a constant (sea level η = f ψ / g): u = -∂ψ/∂y, v = ∂ψ/∂x."""
    lat2, lon2 = np.meshgrid(COORDS.lat, COORDS.lon, indexing="ij")
    r_m = EARTH_RADIUS_KM * 1000.0
    y = r_m * (lat2 - 36.0) * DEG
    x = r_m * np.cos(lat2 * DEG) * (lon2 + 57.5) * DEG
    a, big_r = 3.0e4, 60e3  # m2 s-1 (peak swirl ~0.3 m s-1), m
    psi = a * np.exp(-(x**2 + y**2) / big_r**2) + 5.0e4
    eta = coriolis(lat2) * psi / GRAVITY
    u, v = geostrophic_currents(eta, COORDS, np.ones(COORDS.shape, bool))
    e = np.exp(-(x**2 + y**2) / big_r**2)
    u_exact = a * 2 * y / big_r**2 * e  # -∂ψ/∂y (x at fixed lon varies with lat only through cos φ: small)
    v_exact = -a * 2 * x / big_r**2 * e
    inner = (slice(2, -2), slice(2, -2))
    assert np.max(np.abs(v_exact)) > 0.25
    np.testing.assert_allclose(v[inner], v_exact[inner], atol=0.01 * np.abs(v_exact).max())
    np.testing.assert_allclose(u[inner], u_exact[inner], atol=0.02 * np.abs(u_exact).max())


def test_constant_f_form_for_eta_linear_in_x() -> None:
    """η linear in longitude: v = (g/f) ∂η/∂x exactly along each row, u = 0 (η/f has no y-gradient
    only if η ∝ f, so here check v alone), and a uniform η gives no current at all."""
    lat2, lon2 = np.meshgrid(COORDS.lat, COORDS.lon, indexing="ij")
    eta = 1e-6 * (lon2 + 60.0) * DEG * EARTH_RADIUS_KM * 1000.0 * np.cos(lat2 * DEG)  # 1e-6 m per m eastward
    _, v = geostrophic_currents(eta, COORDS, np.ones(COORDS.shape, bool))
    np.testing.assert_allclose(v, GRAVITY / coriolis(lat2) * 1e-6, rtol=1e-3)
    flat = coriolis(lat2) * 1.0 / GRAVITY  # ψ constant
    u0, v0 = geostrophic_currents(flat, COORDS, np.ones(COORDS.shape, bool))
    assert np.max(np.abs(u0)) < 1e-12 and np.max(np.abs(v0)) < 1e-12


def test_no_flow_into_land_and_land_is_nan() -> None:
    rng = np.random.default_rng(0)
    eta = 0.1 * rng.standard_normal(COORDS.shape)
    mask = np.ones(COORDS.shape, bool)
    mask[:, :10] = False  # a western coast
    mask[40:45, 50:55] = False  # an island
    u, v = geostrophic_currents(eta, COORDS, mask)
    assert np.all(np.isnan(u[~mask])) and np.all(np.isnan(v[~mask]))
    assert np.all(np.isfinite(u[mask])) and np.all(np.isfinite(v[mask]))
    east_of_coast = np.zeros_like(mask)
    east_of_coast[:, 10] = True
    assert np.all(u[east_of_coast] == 0.0)
    assert np.all(v[39, 50:55] == 0.0) and np.all(v[45, 50:55] == 0.0)  # south and north of the island
    assert np.all(u[40:45, 49] == 0.0) and np.all(u[40:45, 55] == 0.0)
    assert np.abs(v[:, 10]).max() > 0  # flow along the coast is kept
