"""The simulated observing system: values at their positions within the noise, cloud statistics,
drifters following the flow, repeating ground tracks, determinism, and the command on a tiny folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from oceane2e.assim.grid import EARTH_RADIUS_KM, grid_spacing_km, xyz_km
from oceane2e.assim.observe import (
    CorrelatedField,
    L3Config,
    ObserveConfig,
    ObservingSystem,
    SatelliteConfig,
    advect_points,
    clear_threshold,
    ground_track,
    main,
)
from oceane2e.data.contract import GridCoords
from oceane2e.data.observations import ObsRecords, check_obs_folder, read_obs_year
from oceane2e.testing.folders import write_tiny_folder

COORDS = GridCoords(lat=np.arange(30.0, 40.0, 0.25) + 0.125, lon=np.arange(-70.0, -55.0, 0.25) + 0.125)  # 40 x 60


def _cfg(root: Path, **kw) -> ObserveConfig:
    return ObserveConfig.model_validate({
        "data": {"root": str(root), "train_years": [2001], "val_years": [2002], "test_years": [2003]}, **kw})


def test_observations_of_a_known_field_equal_it_within_the_noise() -> None:
    """A field linear in lat/lon (bilinear sampling is exact for it): obs - field has the noise's std."""
    mask = np.ones(COORDS.shape, bool)
    lat2, lon2 = np.meshgrid(COORDS.lat, COORDS.lon, indexing="ij")
    ssta = 0.3 * (lat2 - 35.0) - 0.2 * (lon2 + 62.0)
    zos = 0.02 * (lat2 - 35.0)
    cfg = _cfg(Path("."), argo={"per_day": 40.0}, drifters={"initial": 50})
    system = ObservingSystem(cfg, COORDS, mask, sla_reference=np.zeros(COORDS.shape))
    recs = [system.observe_day(np.datetime64("2003-01-01") + k, ssta, zos, 0 * ssta, 0 * ssta) for k in range(4)]
    for platform, std in (("sst_l3", np.hypot(0.3, 0.1)), ("drifter", 0.1), ("argo", 0.05), ("altimetry", 0.025)):
        r = [x.of(platform=platform) for x in recs]
        lat, lon, val = (np.concatenate([getattr(x, a) for x in r]) for a in ("lat", "lon", "value"))
        field = 0.02 * (lat - 35.0) if platform == "altimetry" else 0.3 * (lat - 35.0) - 0.2 * (lon + 62.0)
        resid = val - field
        n = resid.size
        assert n > 100, platform
        # the L3 error has a correlated part (one smooth field a day): its mean and spread vary more
        mean_tol = 4 * std / np.sqrt(n) + (0.1 if platform == "sst_l3" else 0.0)
        std_tol = 0.25 if platform == "sst_l3" else 4.0 / np.sqrt(n) + 0.02
        assert abs(resid.mean()) < mean_tol, platform
        assert abs(resid.std() / std - 1.0) < std_tol, (platform, resid.std(), std)
        assert np.allclose(r[0].error_std, std, rtol=1e-5)


def test_cloud_cover_and_scales_match_the_config() -> None:
    """Clear fraction, and the clear/clear co-occurrence at one length and one time scale equal the
    orthant probabilities of the latent Gaussian field with correlation exp(-1)."""
    cfg = L3Config(clear_fraction=0.3, cloud_length_km=200.0, cloud_tau_days=2.0)
    coords = GridCoords(lat=np.arange(20.0, 47.0, 0.25), lon=np.arange(-70.0, -35.0, 0.3))  # 108 x 117, ~28 km
    dy, dx = grid_spacing_km(coords)
    field = CorrelatedField(coords.shape, (dy, dx), cfg.cloud_length_km, cfg.cloud_tau_days, np.random.default_rng(1))
    z = clear_threshold(cfg.clear_fraction)
    days = [field.step() > z for _ in range(300)]
    clear = np.array(days)
    assert abs(clear.mean() - 0.3) < 0.015
    def both_clear(rho: float) -> float:
        return float(multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([-z, -z]))
    lag_y = int(round(cfg.cloud_length_km / dy))
    measured_space = float(np.mean(clear[:, lag_y:, :] & clear[:, :-lag_y, :]))
    measured_time = float(np.mean(clear[2:] & clear[:-2]))
    expected = both_clear(np.exp(-1.0))
    assert abs(measured_space - expected) < 0.02, (measured_space, expected)
    assert abs(measured_time - expected) < 0.02, (measured_time, expected)
    # and neither is the value of uncorrelated or fully correlated clouds
    assert abs(expected - 0.09) > 0.03 and abs(expected - 0.3) > 0.05


def test_a_drifter_in_a_uniform_current_moves_u_t() -> None:
    mask = np.ones(COORDS.shape, bool)
    u = np.full(COORDS.shape, 0.3)
    v = np.full(COORDS.shape, -0.1)
    lat0, lon0 = np.array([35.0]), np.array([-65.0])
    t = 2 * 86400.0
    lat, lon = advect_points(lat0, lon0, u, v, COORDS, mask, dt_s=3600.0, steps=48)
    north_km = (lat - lat0)[0] * np.pi / 180 * EARTH_RADIUS_KM
    assert north_km == pytest.approx(-0.1 * t / 1000.0, rel=1e-9)
    east_km = (lon - lon0)[0] * np.pi / 180 * EARTH_RADIUS_KM * np.cos(np.deg2rad(lat[0]))
    assert east_km == pytest.approx(0.3 * t / 1000.0, rel=2e-3)  # cos φ changes slightly as it moves south


def test_ground_tracks_repeat_with_the_configured_cycle() -> None:
    sat = SatelliteConfig(name="j", inclination_deg=66.0, revolutions_per_cycle=127, nodal_days_per_cycle=10,
                          cycle_days=9.9156)
    t = np.linspace(0.0, 86400.0, 500) + 123456.0
    lat0, lon0 = ground_track(sat, t)
    lat1, lon1 = ground_track(sat, t + sat.cycle_days * 86400.0)
    np.testing.assert_allclose(lat1, lat0, atol=1e-6)
    np.testing.assert_allclose(np.angle(np.exp(1j * np.deg2rad(lon1 - lon0))), 0.0, atol=1e-8)
    lat2, lon2 = ground_track(sat, t + 86400.0)  # a day later: other tracks
    assert np.max(np.abs(xyz_km(lat2, lon2) - xyz_km(lat0, lon0))) > 100.0
    assert np.max(np.abs(lat0)) <= 66.0 + 1e-9 and np.max(np.abs(lat0)) > 60.0
    # orbit period from the config: consecutive equator crossings northward ~ cycle / revolutions
    tt = np.arange(0.0, 3 * 86400.0, 5.0)
    la, _ = ground_track(sat, tt)
    up = np.flatnonzero((la[:-1] < 0) & (la[1:] >= 0))
    assert np.mean(np.diff(tt[up])) == pytest.approx(sat.cycle_days * 86400.0 / 127, abs=10.0)


def test_the_command_writes_valid_deterministic_files(tmp_path: Path) -> None:
    tiny = write_tiny_folder(tmp_path / "gs", years=(2001, 2002, 2003), shape=(16, 20))
    cfg_path = tmp_path / "observe.yaml"
    cfg_path.write_text(
        f"data: {{root: {tiny.root}, train_years: [2001], val_years: [2002], test_years: [2003]}}\n"
        "years: [2003]\nseed: 5\nfigure_day: 2003-02-01\naltimetry: {sample_seconds: 15.0}\n"
        "drifters: {steps_per_sample: 1}\n")
    assert main(["--config", str(cfg_path), "--no-progress"]) == 0
    obs_dir = tiny.root / "obs"
    first = read_obs_year(obs_dir, 2003)
    assert set(first.platform.tolist()) == {"sst_l3", "drifter", "argo", "altimetry"}
    assert check_obs_folder(obs_dir, [2003], tiny.coords.lat, tiny.coords.lon) == []
    assert (obs_dir / "figures" / "obs_2003-02-01.png").stat().st_size > 10_000


def test_the_same_seed_gives_the_same_observations_another_seed_others() -> None:
    mask = np.ones(COORDS.shape, bool)
    field = np.zeros(COORDS.shape)
    runs = []
    for seed in (0, 0, 1):
        system = ObservingSystem(_cfg(Path("."), seed=seed), COORDS, mask, sla_reference=field)
        days = [system.observe_day(np.datetime64("2003-01-01") + k, field, field, field + 0.2, field) for k in range(3)]
        runs.append(ObsRecords.concat(days))
    for name in ("time", "lat", "lon", "value", "platform"):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))
    assert len(runs[0]) != len(runs[2]) or not np.array_equal(runs[0].value, runs[2].value)


def test_unknown_config_key_fails(tmp_path: Path, capsys) -> None:
    cfg_path = tmp_path / "observe.yaml"
    cfg_path.write_text("data: {root: x, train_years: [2001], val_years: [2002], test_years: [2003]}\n"
                        "sst_l3: {clear_fractoin: 0.5}\n")
    assert main(["--config", str(cfg_path)]) == 2
    assert "clear_fractoin" in capsys.readouterr().err
