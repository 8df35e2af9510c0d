"""The embedded synthetic ocean (DESIGN.md §4): physics statistics, coast, files, determinism.

One small configuration (a 0.25° box of 10° x 14° holding the jet, the coast and the island, three
years) is simulated and written once per module; every statistic below is measured on it. The
default configuration's figures are in docs/data.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from oceane2e.config import ConfigError, load_config
from oceane2e.data.contract import (
    CHANNEL_UNITS,
    YearFile,
    leap_doy_index,
    read_clim,
    read_mask,
    year_path,
)
from oceane2e.data.synthetic.ocean import SOURCE, SyntheticConfig, climatology, main, simulate, write_run
from oceane2e.data.synthetic.physics import EARTH_RADIUS, GRAVITY, coriolis
from oceane2e.data.synthetic.stats import mhw_days, run_statistics

REPO = Path(__file__).resolve().parents[2]

SMALL = {
    "lat_bounds": [33.0, 43.0],
    "lon_bounds": [-74.0, -60.0],
    "resolution_deg": 0.25,
    "years": [2001, 2003],
    "baseline_years": [2001, 2003],
    "seed": 3,
    "spinup_days": 60,
    "geography": {"island_lat": 35.6, "island_lon": -64.0},
    "atmosphere": {"dome_rate_per_year": 3.0},
}
TINY = {
    "resolution_deg": 1.0,
    "years": [2001, 2001],
    "baseline_years": [2001, 2001],
    "spinup_days": 20,
    "geography": {"island_radius_km": 120.0},
}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cfg = SyntheticConfig.model_validate(SMALL)
    run = simulate(cfg, diagnostics=True)
    root = write_run(run, cfg, tmp_path_factory.mktemp("synthetic"))
    clim = read_clim(root / "clim.nc")
    stats = run_statistics(run, clim.seas, clim.thresh)
    return cfg, run, root, clim, stats


def _interior_ocean(mask: np.ndarray) -> np.ndarray:
    """Ocean cells whose 4 neighbours are ocean and which are not on the region's edge."""
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[2:, 1:-1] & mask[:-2, 1:-1] & mask[1:-1, 2:] & mask[1:-1, :-2]
    return inner


# --------------------------------------------------------------------------------------------
# config


def test_shipped_config_is_the_documented_default():
    cfg = load_config(SyntheticConfig, REPO / "configs" / "synthetic.yaml")
    assert cfg == SyntheticConfig()
    assert cfg.shape == (48, 96) and cfg.years == (2001, 2010) and cfg.baseline_years == (2001, 2007)


def test_bad_config_names_the_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"jet": {"sped": 1.0}}))
    with pytest.raises(ConfigError, match=r"jet\.sped: unknown key"):
        load_config(SyntheticConfig, path)
    path.write_text(yaml.safe_dump({"years": [2001, 2003], "baseline_years": [2000, 2002]}))
    with pytest.raises(ConfigError, match="baseline_years"):
        load_config(SyntheticConfig, path)
    path.write_text(yaml.safe_dump({"resolution_deg": 0.7}))
    with pytest.raises(ConfigError, match="not a whole number"):
        load_config(SyntheticConfig, path)


# --------------------------------------------------------------------------------------------
# currents


def test_currents_are_non_divergent(small):
    _, run, _, _, _ = small
    lat = np.deg2rad(run.coords.lat)[:, None]
    dphi = np.deg2rad(run.coords.lat[1] - run.coords.lat[0])
    dlam = np.deg2rad(run.coords.lon[1] - run.coords.lon[0])
    inner = _interior_ocean(run.mask)
    worst = 0.0
    for t in range(0, run.dates.size, 97):
        u, v = run.u[t].astype(np.float64), run.v[t].astype(np.float64)
        div = np.zeros_like(u)
        vort = np.zeros_like(u)
        vc = v * np.cos(lat)
        uc = u * np.cos(lat)
        div[1:-1, 1:-1] = (u[1:-1, 2:] - u[1:-1, :-2]) / (2 * dlam) + (vc[2:, 1:-1] - vc[:-2, 1:-1]) / (
            2 * dphi
        )
        vort[1:-1, 1:-1] = (v[1:-1, 2:] - v[1:-1, :-2]) / (2 * dlam) - (uc[2:, 1:-1] - uc[:-2, 1:-1]) / (
            2 * dphi
        )
        ratio = np.sqrt(np.mean(div[inner] ** 2) / np.mean(vort[inner] ** 2))
        worst = max(worst, ratio)
    # only float32 storage rounding remains (measured ~3e-8 on the default folder)
    assert worst < 1e-4


def test_currents_are_geostrophic_with_zos(small):
    _, run, _, _, _ = small
    f = coriolis(run.coords.lat)[:, None]
    dy = EARTH_RADIUS * np.deg2rad(run.coords.lat[1] - run.coords.lat[0])
    dx = (
        EARTH_RADIUS
        * np.deg2rad(run.coords.lon[1] - run.coords.lon[0])
        * np.cos(np.deg2rad(run.coords.lat))[:, None]
    )
    inner = _interior_ocean(run.mask)
    for t in (0, run.dates.size // 2, run.dates.size - 1):
        z = run.zos[t].astype(np.float64)
        ug = np.zeros_like(z)
        vg = np.zeros_like(z)
        ug[1:-1] = -GRAVITY / f[1:-1] * (z[2:] - z[:-2]) / (2 * dy)
        vg[:, 1:-1] = GRAVITY / f * (z[:, 2:] - z[:, :-2]) / (2 * dx)
        err = np.sqrt(np.mean((ug - run.u[t])[inner] ** 2 + (vg - run.v[t])[inner] ** 2))
        scale = np.sqrt(np.mean(run.u[t][inner] ** 2 + run.v[t][inner] ** 2))
        # zos = f psi / g: the only departure is the beta term psi * beta / f, a few percent
        assert err / scale < 0.08, (t, err, scale)


def test_current_speeds_in_realistic_ranges(small):
    stats = small[4]
    assert 0.1 <= stats["rms_current_m_s"] <= 0.4
    assert 1.0 <= stats["jet_peak_m_s"] <= 2.0


def test_no_flow_into_land_and_an_island(small):
    from scipy import ndimage

    _, run, _, _, _ = small
    ocean = run.mask
    land = ~ocean
    # ocean cells with land to the east / west carry no zonal flow; to the north / south no meridional
    east = np.zeros_like(ocean)
    east[:, :-1] = ocean[:, :-1] & land[:, 1:]
    west = np.zeros_like(ocean)
    west[:, 1:] = ocean[:, 1:] & land[:, :-1]
    north = np.zeros_like(ocean)
    north[:-1] = ocean[:-1] & land[1:]
    south = np.zeros_like(ocean)
    south[1:] = ocean[1:] & land[:-1]
    assert east.sum() + west.sum() > 5 and north.sum() + south.sum() > 5
    normal = np.concatenate([run.u[:, east | west].ravel(), run.v[:, north | south].ravel()])
    assert np.max(np.abs(normal)) < 1e-6
    # ... while the open ocean next to them moves
    assert np.sqrt(np.mean(run.u[:, ocean] ** 2)) > 0.05
    # one land body touches the region's edge (the coast), another does not (the island)
    labels, n = ndimage.label(land)
    edge = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))) - {0}
    assert len(edge) >= 1 and n - len(edge) >= 1
    # land in the north-west corner, ocean in the south-east
    assert land[-1, 0] and ocean[0, -1]


# --------------------------------------------------------------------------------------------
# SST anomalies and marine heatwaves


def test_ssta_std_in_range_and_largest_near_the_front(small):
    stats = small[4]
    assert 0.5 <= stats["ssta_std_k"] <= 2.0
    assert stats["ssta_std_front_k"] > 1.3 * stats["ssta_std_far_k"]


def test_ssta_efolding_time(small):
    assert 10.0 <= small[4]["ssta_efolding_days"] <= 30.0


def test_mhws_from_heat_domes_and_from_warm_sea_level(small):
    _, run, _, _, stats = small
    assert run.dome is not None and (run.dome > 0.5).any(), "the test configuration must hold heat domes"
    assert 0.02 < stats["mhw_day_fraction"] < 0.2
    assert stats["mhw_events_per_year_per_cell"] > 1.0
    # atmospheric origin: MHW days are far more frequent under (and just after) heat domes
    assert stats["mhw_fraction_under_domes"] > 2.0 * stats["mhw_fraction_outside_domes"]
    # ocean origin, away from any dome: high sea level (warm rings, a jet shifted north) brings MHWs,
    # low sea level (cold rings) suppresses them
    assert stats["mhw_fraction_high_sea_level"] > 2.0 * stats["mhw_fraction_flat_sea_level"]
    assert stats["mhw_fraction_low_sea_level"] < 0.7 * stats["mhw_fraction_flat_sea_level"]
    # both short events and long ones (> 30 days)
    assert stats["mhw_mean_duration_days"] < 20 and stats["mhw_max_duration_days"] > 30


def test_mhw_days_rule():
    e = np.zeros((20, 1), bool)
    e[2:6] = True  # 4 days: no event
    e[8:13] = True  # 5 days: event
    e[15:20] = True  # gap of 2 days (13, 14): joined
    m = mhw_days(e)[:, 0]
    assert not m[2:6].any() and m[8:20].all() and not m[:8].any()


# --------------------------------------------------------------------------------------------
# files


def test_files_follow_the_contract_and_are_labelled_synthetic(small):
    cfg, run, root, clim, _ = small
    mask = read_mask(root)
    np.testing.assert_array_equal(mask, run.mask)
    assert clim.variable == "sst" and clim.baseline == tuple(cfg.baseline_years)
    assert clim.attrs["source"] == SOURCE and int(clim.attrs["synthetic"]) == 1
    start = 0
    for year in cfg.year_list:
        for kind in ("geo", "mhw"):
            with YearFile(year_path(root, kind, year), kind) as f:
                attrs = {k: f._ds.getncattr(k) for k in f._ds.ncattrs()}
                assert (
                    attrs["source"] == SOURCE
                    and int(attrs["synthetic"]) == 1
                    and int(attrs["seed"]) == cfg.seed
                )
                assert not any("date" in k.lower() or "history" in k.lower() for k in attrs)
                data = f.read(0, f.n_days)
                assert f.coords.allclose(run.coords)
                assert np.isnan(data[:, :, ~mask]).all(), "land must be NaN"
                assert np.isfinite(data[:, :, mask]).all(), "ocean must be finite"
                units = f._var.units.split("; ")
                assert units == [CHANNEL_UNITS[c] for c in f.channels]
                if kind == "mhw":
                    n = f.n_days
                    dates = run.dates[start : start + n]
                    seas = clim.seas[leap_doy_index(dates)]
                    ssta = data[:, f.index("ssta")]
                    np.testing.assert_allclose(
                        ssta[:, mask], (run.sst[start : start + n] - seas)[:, mask], atol=1e-4
                    )
                    np.testing.assert_allclose(
                        data[:, f.index("zos")][:, mask], run.zos[start : start + n][:, mask]
                    )
        start += f.n_days
    # SSTA is an anomaly against the baseline climatology: its baseline mean is ~0 everywhere
    seas, _ = climatology(run, cfg.baseline_years)
    ssta = run.sst - seas[leap_doy_index(run.dates)]
    assert abs(float(np.mean(ssta[:, run.mask]))) < 0.1


def _tiny_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    cfg_path = _tiny_yaml(tmp_path)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["--config", str(cfg_path), "--out", str(a), "--seed", "5", "--no-progress"]) == 0
    assert main(["--config", str(cfg_path), "--out", str(b), "--seed", "5", "--no-progress"]) == 0
    assert main(["--config", str(cfg_path), "--out", str(c), "--seed", "6", "--no-progress"]) == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == ["clim.nc", "geo_2001.nc", "mask.npy", "mhw_2001.nc"]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    with YearFile(a / "mhw_2001.nc", "mhw") as fa, YearFile(c / "mhw_2001.nc", "mhw") as fc:
        da, dc = fa.read(0, fa.n_days), fc.read(0, fc.n_days)
    ocean = read_mask(a)
    assert np.abs(da[:, :, ocean] - dc[:, :, ocean]).mean() > 0.05
    # an existing folder is not overwritten without --force
    assert main(["--config", str(cfg_path), "--out", str(a), "--no-progress"]) == 1


# --------------------------------------------------------------------------------------------
# building blocks


def _closed_basin_geometry():
    from oceane2e.data.synthetic.ocean import SyntheticConfig, build_geometry

    cfg = SyntheticConfig.model_validate(
        {
            "lat_bounds": [30.0, 36.0],
            "lon_bounds": [-50.0, -42.0],
            "resolution_deg": 0.25,
            "years": [2001, 2001],
            "baseline_years": [2001, 2001],
            "geography": {"coast_lat_at_lon0": 60.0, "island_radius_km": 0.0},
        }
    )
    return build_geometry(cfg)


def test_advection_conserves_heat_and_creates_no_extrema():
    from oceane2e.data.synthetic.physics import advect_diffuse, face_transports

    geom = _closed_basin_geometry()
    assert geom.ocean.all()
    lat, lon = np.meshgrid(geom.lat_h, geom.lon_h, indexing="ij")
    r2 = ((lat - 33.0) ** 2 + ((lon + 46.0) * np.cos(np.deg2rad(33.0))) ** 2) / 1.2**2
    psi = 8e4 * np.exp(-r2)  # an anticyclone of ~1 m/s
    psi[:2] = psi[-2:] = 0.0  # closed basin: psi constant on the halo and the outer ring
    psi[:, :2] = psi[:, -2:] = 0.0
    fx, fy = face_transports(psi)
    assert np.abs(fx[:, [0, -1]]).max() == 0 and np.abs(fy[[0, -1]]).max() == 0
    div = fx[:, 1:] - fx[:, :-1] + fy[1:] - fy[:-1]
    assert np.abs(div).max() < 1e-9 * np.abs(fx).max()
    t0 = 290.0 + 3.0 * (np.arange(geom.lon.size)[None, :] > geom.lon.size // 2) + 0 * geom.area
    t, n_sub = advect_diffuse(t0.copy(), fx, fy, geom, kappa=0.0, dt=5 * 86400.0, max_courant=0.5)
    assert n_sub > 1
    heat0, heat = float((t0 * geom.area).sum()), float((t * geom.area).sum())
    assert abs(heat - heat0) / heat0 < 1e-13
    assert t.min() >= 290.0 - 1e-9 and t.max() <= 293.0 + 1e-9
    assert np.abs(t - t0).max() > 0.5  # the eddy really stirred the front
    t_d, _ = advect_diffuse(t0.copy(), 0 * fx, 0 * fy, geom, kappa=500.0, dt=86400.0, max_courant=0.5)
    assert abs(float((t_d * geom.area).sum()) - heat0) / heat0 < 1e-13


def test_smooth_noise_is_unit_variance_with_the_requested_memory():
    from oceane2e.data.synthetic.physics import SmoothNoise

    noise = SmoothNoise((24, 48), 25e3, 20e3, 150e3, 5.0, np.random.default_rng(0))
    fields = []
    for _ in range(600):
        noise.step()
        fields.append(np.stack(noise.fields(derivatives=True)))
    f = np.array(fields)  # (T, 3, H, W)
    assert np.allclose(f.reshape(600, 3, -1).std(axis=(0, 2)), 1.0, atol=0.15)
    a = f[:, 0].reshape(600, -1)
    lag1 = np.mean(a[1:] * a[:-1]) / np.mean(a * a)
    assert abs(lag1 - np.exp(-1 / 5.0)) < 0.05


def test_air_sea_flux_signs_and_magnitude():
    from oceane2e.data.synthetic.ocean import MixedLayerConfig, _ml_params
    from oceane2e.data.synthetic.physics import air_sea_flux

    p = _ml_params(MixedLayerConfig())
    sst = np.array([291.0])
    # cold dry winter air over the warm jet at 10 m/s: several hundred W m-2 of heat loss
    winter = air_sea_flux(sst, np.array([281.0]), np.array([10.0]), np.array([60.0]), p)
    assert -700 < winter[0] < -250
    # warmer air and calmer wind (a heat dome) warm the ocean relative to normal conditions
    normal = air_sea_flux(sst, np.array([290.0]), np.array([7.0]), np.array([180.0]), p)
    dome = air_sea_flux(sst, np.array([294.0]), np.array([2.8]), np.array([225.0]), p)
    assert dome[0] > normal[0] + 50


def test_eddies_drift_west_and_the_jet_carries_and_absorbs_them():
    from oceane2e.data.synthetic.ocean import SyntheticConfig, _eddy_params, _jet_params, build_geometry
    from oceane2e.data.synthetic.physics import EddyField, JetModel

    cfg = SyntheticConfig.model_validate(
        {"eddies": {"birth_rate_per_day": 0.0, "ring_rate_per_day": 0.0}, "jet": {"meander_amp_km": 0.0}}
    )
    geom = build_geometry(cfg)
    jet = JetModel(_jet_params(cfg.jet), np.random.default_rng(0))
    eddies = EddyField(_eddy_params(cfg.eddies), np.random.default_rng(0))
    lon0 = -58.0
    on_axis = float(jet.axis_lat(np.array([lon0]))[0])
    eddies._add(np.array([33.8, on_axis]), np.array([lon0, lon0]), 5e4, 50e3, 60.0, ring=False)
    for _ in range(10):
        eddies.step(geom, jet)
    assert eddies.lat.size == 2
    far, on = 0, 1
    # far from the jet: beta drift, 0.05 m/s westward = 43 km in 10 days; decay by its own lifetime
    dx_km = (eddies.lon[far] - lon0) * 111.2 * np.cos(np.deg2rad(33.8))
    assert -50 < dx_km < -35
    assert eddies.strength[far] == pytest.approx(np.exp(-10 / 60.0), rel=0.05)
    # on the jet: carried east by it and re-absorbed within days
    assert eddies.lon[on] > lon0 + 1.0
    assert eddies.strength[on] < 0.5 * eddies.strength[far]


def test_regenerating_fewer_years_removes_stale_synthetic_years(tmp_path):
    from oceane2e.data.contract import write_year
    from oceane2e.data.synthetic.ocean import _remove_stale_years

    cfg = SyntheticConfig.model_validate({**TINY, "years": [2001, 2001]})
    coords = cfg.coords
    data = np.zeros((365, 2, *cfg.shape), np.float32)
    write_year(tmp_path / "geo_2003.nc", "geo", 2003, data, coords, attrs={"synthetic": 1})
    write_year(tmp_path / "geo_2001.nc", "geo", 2001, data, coords, attrs={"synthetic": 1})
    _remove_stale_years(tmp_path, cfg)
    assert sorted(p.name for p in tmp_path.glob("*.nc")) == ["geo_2001.nc"]
    write_year(tmp_path / "geo_2002.nc", "geo", 2002, data, coords, attrs={"source": "real"})
    with pytest.raises(FileExistsError, match="geo_2002.nc: a data file that is not synthetic"):
        _remove_stale_years(tmp_path, cfg)
