"""Geostrophic currents near the equator: neither treatment lets the 1/f blow-up through (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from oceane2e.data.geostrophy import (
    GRAVITY,
    EquatorialBand,
    beta,
    coriolis,
    equatorial_weight,
    geostrophic_currents,
    mask_equatorial_band,
)

# a global 0.5° grid with a row at exactly 0° (f = 0) and rows at ±0.5°
LAT = np.arange(-30.0, 30.01, 0.5)
LON = -179.75 + 0.5 * np.arange(720)
Y = np.radians(LAT) * 6.371e6  # m north of the equator


def test_weight_is_zero_in_the_band_and_rises_smoothly_to_one() -> None:
    band = EquatorialBand(half_width_deg=5.0, taper_deg=2.0)
    w = equatorial_weight(LAT, band)
    assert np.all(w[np.abs(LAT) <= 5.0] == 0.0) and np.all(w[np.abs(LAT) >= 7.0] == 1.0)
    ramp = w[(LAT > 5.0) & (LAT < 7.0)]
    assert np.all(np.diff(ramp) > 0) and ramp.max() < 1.0
    np.testing.assert_array_equal(w, w[::-1])  # symmetric about the equator


def test_f_plane_geostrophy_away_from_the_equator_and_masked_band_near_it() -> None:
    # a uniform meridional slope of sea level: u = -(g/f) dη/dy, which grows as 1/φ towards 0°
    slope = 1e-7  # m per m (10 cm over 1000 km)
    zos = np.broadcast_to((slope * Y)[:, None], (LAT.size, LON.size)).copy()
    band = EquatorialBand("mask", 5.0, 2.0)
    u, v = geostrophic_currents(zos, LAT, LON, band)
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(v))
    far = np.abs(LAT) >= 7.0
    f = coriolis(LAT[far])[:, None]
    np.testing.assert_allclose(u[far], np.broadcast_to(-GRAVITY * slope / f, (f.size, LON.size)), rtol=1e-9)
    np.testing.assert_allclose(v, 0.0, atol=1e-12)
    assert np.all(u[np.abs(LAT) <= 5.0] == 0.0)
    # without the band the 0.5° row would carry 0.77 m/s (and the 0° row infinity); with it no
    # current exceeds the f-plane value at the band's outer edge (7°)
    assert np.abs(u).max() <= GRAVITY * slope / coriolis(7.0) * (1 + 1e-9)


def test_beta_plane_form_is_finite_and_exact_at_the_equator() -> None:
    # η = a y²: f-plane u = -(g/f) 2 a y → -2 a g / β as φ → 0 (0/0 on the 0° row); the β-plane form
    # -(g/β) ∂²η/∂y² gives it directly. A zonal wave in η also exercises v = (g/β) ∂²η/∂x∂y.
    a = 1e-13  # m⁻¹: 10 cm at 1000 km
    zos = np.broadcast_to((a * Y**2)[:, None], (LAT.size, LON.size)).copy()
    band = EquatorialBand("beta", 3.0, 3.0)
    u, v = geostrophic_currents(zos, LAT, LON, band)
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(v))
    expected = -2.0 * a * GRAVITY / beta(LAT)[:, None]
    near = np.abs(LAT) <= 10.0
    np.testing.assert_allclose(u[near], np.broadcast_to(expected, u.shape)[near], rtol=0.02)
    assert u[LAT == 0.0].std() < 1e-12  # zonally uniform, including across the seam


def test_masking_given_currents_keeps_land_nan() -> None:
    rng = np.random.default_rng(0)
    u = rng.normal(size=(2, LAT.size, LON.size)).astype(np.float32)
    v = rng.normal(size=u.shape).astype(np.float32)
    u[:, 10, 10] = np.nan
    band = EquatorialBand("mask", 2.0, 1.0)
    um, vm = mask_equatorial_band(u, v, LAT, band)
    assert um.dtype == np.float32 and np.isnan(um[:, 10, 10]).all()
    assert np.all(um[:, np.abs(LAT) <= 2.0] == 0) and np.all(vm[:, np.abs(LAT) <= 2.0] == 0)
    np.testing.assert_array_equal(um[:, np.abs(LAT) >= 3.0], u[:, np.abs(LAT) >= 3.0])
    with pytest.raises(ValueError, match="sea level"):
        mask_equatorial_band(u, v, LAT, EquatorialBand("beta"))
    with pytest.raises(ValueError, match="zero width"):
        EquatorialBand("mask", 0.0, 0.0)


def test_check_reports_a_geostrophic_blow_up(tmp_path) -> None:
    from oceane2e.data.check import check_folder
    from oceane2e.data.contract import write_year
    from oceane2e.testing.folders import write_tiny_folder

    tiny = write_tiny_folder(tmp_path, years=(2001,), clim=False)
    assert not [p for p in check_folder(tmp_path) if "geostrophic" in p.message]
    data = np.where(tiny.mask, 0.1, np.nan).astype(np.float32)[None, None] * np.ones((365, 2, 1, 1), np.float32)
    ocean = np.argwhere(tiny.mask)[0]
    data[40, 0, ocean[0], ocean[1]] = 60.0  # what 1/f makes of a millimetre next to the equator
    write_year(tiny.geo[2001], "geo", 2001, data, tiny.coords, mask=tiny.mask)
    (problem,) = [p for p in check_folder(tmp_path) if "geostrophic" in p.message]
    assert "60.0 m s-1" in problem.message and "equatorial band" in problem.fix


def test_prepare_data_masks_the_band_of_converted_currents() -> None:
    from oceane2e.data.contract import GridCoords
    from oceane2e.data.converters.prepare import EquatorialBandConfig, _mask_equatorial_band

    grid = GridCoords(lat=np.arange(-9.5, 10.0, 1.0), lon=np.arange(0.5, 5.0, 1.0))
    geo = np.ones((3, 2, *grid.shape), np.float32)
    _mask_equatorial_band(geo, grid, EquatorialBandConfig(half_width_deg=3.0, taper_deg=2.0))
    w = equatorial_weight(grid.lat, EquatorialBand("mask", 3.0, 2.0)).astype(np.float32)
    np.testing.assert_array_equal(geo, np.broadcast_to(w[None, None, :, None], geo.shape))
    clear = np.ones((3, 2, *grid.shape), np.float32)
    _mask_equatorial_band(clear, grid, EquatorialBandConfig(method="none"))
    assert np.all(clear == 1.0)
