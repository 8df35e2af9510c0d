"""The synthetic ocean on a zonally periodic domain (the global configuration's default, issue 18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oceane2e.config import ConfigError, load_config
from oceane2e.data.synthetic.ocean import SyntheticConfig, build_geometry, simulate

REPO = Path(__file__).resolve().parents[2]
GLOBAL_SYNTH = REPO / "global_low" / "synthetic.yaml"


def _small(**extra) -> SyntheticConfig:
    """The shipped global ocean at 2° (20 x 180), one year after a 10-day spin-up."""
    overrides = {"resolution_deg": 2.0, "years": [2001, 2001], "baseline_years": [2001, 2001], "spinup_days": 10}
    overrides.update(extra)
    return load_config(SyntheticConfig, GLOBAL_SYNTH, overrides)


@pytest.fixture(scope="module")
def run():
    cfg = _small()
    return cfg, simulate(cfg)


def test_the_shipped_global_ocean_is_periodic() -> None:
    cfg = load_config(SyntheticConfig, GLOBAL_SYNTH)
    assert cfg.periodic and cfg.shape == (40, 360)
    lon = cfg.coords.lon
    assert lon[0] == pytest.approx(-179.5) and lon[-1] == pytest.approx(179.5)
    with pytest.raises(ConfigError, match="channel"):
        load_config(SyntheticConfig, GLOBAL_SYNTH, {"geography": {"kind": "coast"}})


def test_land_bodies_and_coastal_distance_wrap_across_the_seam() -> None:
    geom = build_geometry(_small())
    assert geom.periodic
    land = ~geom.ocean
    # the island on the seam is land in the first and the last column, and one body
    island_rows = np.flatnonzero(land[:, 0] & land[:, -1] & (geom.lat > -50.0) & (geom.lat < -44.0))
    assert island_rows.size > 0
    i = island_rows[0] + 1
    assert geom.body_h[i, 1] == geom.body_h[i, -2]
    # the halo columns are copies of the opposite edge (distances, taper and bodies)
    for a in (geom.dist_land_h_km, geom.taper_h, geom.body_h):
        np.testing.assert_array_equal(a[:, 0], a[:, -2])
        np.testing.assert_array_equal(a[:, -1], a[:, 1])


def test_currents_are_continuous_and_non_divergent_across_the_seam(run) -> None:
    from oceane2e.data.synthetic.physics import face_transports

    cfg, r = run
    # every cell's transports telescope to zero, the seam's included (fx[:, 0] is fx[:, W])
    geom = build_geometry(cfg)
    psi = np.random.default_rng(0).normal(size=(geom.lat_h.size, geom.lon_h.size))
    psi[:, 0], psi[:, -1] = psi[:, -2], psi[:, 1]
    fx, fy = face_transports(psi)
    np.testing.assert_allclose(fx[:, 0], fx[:, -1], rtol=0, atol=0)
    # the simulated fields have no seam: the jump across it is like the jumps elsewhere
    for field in (r.sst, r.u, r.v):
        f = np.where(r.mask, field, np.nan)
        seam = np.nanmax(np.abs(f[:, :, 0] - f[:, :, -1]))
        inner = np.nanmax(np.abs(np.diff(f, axis=-1)))
        assert seam <= inner
    assert np.all(np.isfinite(r.sst[:, r.mask]))


def test_advection_conserves_heat_on_the_periodic_channel() -> None:
    from oceane2e.data.synthetic.physics import advect_diffuse, face_transports

    geom = build_geometry(_small())
    rng = np.random.default_rng(1)
    # a random streamfunction, constant on land (what apply_coast does), halo wrapped
    psi = geom.apply_coast(1e5 * rng.normal(size=(geom.lat_h.size, geom.lon_h.size)))
    psi[:, 0], psi[:, -1] = psi[:, -2], psi[:, 1]
    fx, fy = face_transports(psi)
    fy[0] = fy[-1] = 0.0  # closed north/south edges for the budget
    t = np.where(geom.ocean, rng.normal(size=geom.ocean.shape), 0.0)
    heat0 = float((t * geom.area)[geom.ocean].sum())
    out, n = advect_diffuse(t, fx, fy, geom, 0.0, 86400.0, 0.5)
    out = np.where(geom.ocean, out, 0.0)
    assert n >= 1
    assert float((out * geom.area)[geom.ocean].sum()) == pytest.approx(heat0, abs=1e-9 * float(geom.area.sum()))


def test_global_ocean_is_deterministic_by_seed(run) -> None:
    cfg, a = run
    b = simulate(cfg)
    assert a.sst.tobytes() == b.sst.tobytes() and a.u.tobytes() == b.u.tobytes()
