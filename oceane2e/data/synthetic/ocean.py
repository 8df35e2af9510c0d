"""The embedded synthetic ocean: a physically consistent Gulf-Stream-like data folder (DESIGN.md §4).

``oceane2e synth --config configs/synthetic.yaml --out data/GS`` writes ``geo_YYYY.nc``,
``mhw_YYYY.nc``, ``mask.npy`` and ``clim.nc`` of the data contract, every file labelled synthetic.

The model (details, equations and measured statistics in docs/data.md):

* Currents: a streamfunction psi (m2 s-1) = meandering jet + southern recirculation + Gaussian
  rings and eddies, made constant along every coastline; u = -dpsi/dy, v = dpsi/dx (exactly
  non-divergent), zos = f psi / g (geostrophic).
* Atmosphere: seasonal t2m and westerlies, smooth AR(1) anomalies, rare heat domes.
* SST: mixed-layer heat budget dT/dt = -u.grad T + kappa Lap T + Q / (rho c_p h(t))
  + (T_ref - T) / tau_r + noise, with a bulk air-sea flux Q and T_ref = background + gamma * zos
  (the front moves with the jet, rings carry their warm/cold cores); flux-form MUSCL advection with
  SSP-RK2 and CFL sub-steps, after a spin-up.
* SSTA = SST - seas(doy), the Hobday day-of-year climatology of the baseline years (clim.nc).

A region whose ``lon_bounds`` span 360° is zonally periodic (the global configuration's embedded
default, ``global_low/synthetic.yaml``): with ``geography.kind: channel`` the same physics runs in a
circumpolar-like channel (a southern coast, a cape, an island; a closed jet with whole meander waves
around the circle), everything wrapping across the seam; see docs/global.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from oceane2e.config import ConfigError, StrictModel, load_config
from oceane2e.data.contract import (
    CLIM_FILE,
    GridCoords,
    days_in_year,
    leap_doy_index,
    write_clim,
    write_mask,
    write_year,
    year_path,
)
from oceane2e.data.synthetic import physics as phys

SOURCE = "Ocean-E2E synthetic ocean"
KM = 1000.0


# ---------------------------------------------------------------------------------------------
# configuration


class GeographyConfig(StrictModel):
    """Coastline (land north-west of a line) and one island; or, with ``kind: channel``, a zonally
    periodic channel with a southern coast and a cape (the ``channel_*`` fields)."""

    kind: Literal["coast", "channel"] = Field(
        "coast", description="coast: land north-west of a line (regional); channel: periodic channel (global)"
    )
    coast_lat_at_lon0: float = Field(36.6, description="coast latitude (deg N) at coast_lon0")
    coast_lon0: float = Field(-76.0, description="longitude (deg E) where the coast is at coast_lat_at_lon0")
    coast_slope: float = Field(
        0.78, description="deg of latitude the coast rises per deg of longitude eastward"
    )
    coast_wiggle_deg: float = Field(0.3, ge=0, description="amplitude of capes and bays (deg latitude)")
    island_lat: float = Field(33.6, description="island centre (deg N)")
    island_lon: float = Field(-61.0, description="island centre (deg E)")
    island_radius_km: float = Field(70.0, ge=0, description="island radius (km); 0 = no island")
    coastal_ramp_km: float = Field(
        70.0, gt=0, description="width over which currents vanish toward the coast (km)"
    )
    channel_south_coast_lat: float = Field(-66.0, description="channel: latitude of the southern coast (deg N)")
    channel_coast_wiggle_deg: float = Field(2.0, ge=0, description="channel: amplitude of its capes and bays (deg)")
    channel_coast_wavenumber: int = Field(3, ge=0, description="channel: capes and bays around the circle")
    channel_cape_lon: float = Field(-68.0, description="channel: longitude of the cape from the north edge (deg E)")
    channel_cape_tip_lat: float = Field(-55.0, description="channel: latitude of the cape's tip (deg N)")
    channel_cape_half_width_deg: float = Field(
        6.0, ge=0, description="channel: half width of the cape in longitude (deg); 0 = no cape"
    )


class JetConfig(StrictModel):
    """The meandering jet (Gulf Stream) and its southern recirculation."""

    speed: float = Field(1.35, gt=0, description="core speed U (m s-1)")
    width_km: float = Field(60.0, gt=0, description="full width at half maximum of the speed profile (km)")
    path_lat0: float = Field(35.0, description="mean path latitude at the separation longitude (deg N)")
    path_lon0: float = Field(-76.0, description="separation longitude (deg E)")
    path_rise_deg: float = Field(4.5, description="northward rise of the mean path downstream (deg)")
    path_rise_scale_deg: float = Field(10.0, gt=0, description="e-folding longitude scale of the rise (deg)")
    meander_amp_km: float = Field(65.0, ge=0, description="rms meander amplitude far downstream (km)")
    meander_growth_km: float = Field(
        500.0, gt=0, description="e-folding distance of downstream meander growth (km)"
    )
    meander_wavelengths_km: list[float] = Field(
        [450.0, 340.0, 260.0], min_length=1, description="meander wavelengths (km)"
    )
    meander_phase_speed: float = Field(0.08, description="eastward phase speed of the meanders (m s-1)")
    meander_tau_days: float = Field(25.0, gt=0, description="decorrelation time of meander amplitudes (days)")
    shift_km: float = Field(30.0, ge=0, description="rms slow meridional shift of the whole path (km)")
    shift_tau_days: float = Field(90.0, gt=0, description="decorrelation time of the shift and of U (days)")
    speed_std_frac: float = Field(0.08, ge=0, description="rms relative fluctuation of the core speed")
    recirc_speed: float = Field(
        0.12, ge=0, description="peak speed of the southern recirculation gyre (m s-1)"
    )
    recirc_offset_km: float = Field(220.0, description="recirculation centre south of the jet axis (km)")
    recirc_width_km: float = Field(180.0, gt=0, description="e-folding width of the recirculation (km)")


class EddyConfig(StrictModel):
    """Mesoscale eddies and rings: Gaussian vortices psi = A exp(-r^2 / R^2)."""

    birth_rate_per_day: float = Field(0.45, ge=0, description="mesoscale eddies born per day in the region")
    radius_km: tuple[float, float] = Field((35.0, 65.0), description="e-folding radius range R (km)")
    speed: tuple[float, float] = Field((0.15, 0.45), description="peak swirl speed range (m s-1)")
    lifetime_days: tuple[float, float] = Field((20.0, 60.0), description="e-folding decay time range (days)")
    ring_rate_per_day: float = Field(
        0.05, ge=0, le=1, description="daily probability of a warm ring (and of a cold ring)"
    )
    ring_radius_km: tuple[float, float] = Field((55.0, 80.0), description="ring radius range (km)")
    ring_speed: tuple[float, float] = Field((0.7, 1.1), description="ring peak swirl speed range (m s-1)")
    ring_lifetime_days: tuple[float, float] = Field(
        (40.0, 120.0), description="ring e-folding decay time (days)"
    )
    ring_threshold_km: float = Field(
        70.0, ge=0, description="meander deviation needed to pinch off a ring (km)"
    )
    growth_days: float = Field(4.0, gt=0, description="e-folding time of an eddy's spin-up (days)")
    drift_west: float = Field(0.05, description="westward (beta) drift (m s-1)")
    drift_meridional: float = Field(
        0.01, description="poleward drift of cyclones / equatorward of anticyclones (m s-1)"
    )
    jet_entrainment: float = Field(
        0.35, ge=0, le=1, description="fraction of the jet velocity that carries an eddy"
    )
    jet_absorption_days: float = Field(8.0, gt=0, description="decay time of an eddy on the jet axis (days)")
    coast_absorption_days: float = Field(
        10.0, gt=0, description="decay time of an eddy touching the coast (days)"
    )


class AtmosphereConfig(StrictModel):
    """Seasonal cycle, smooth anomalies and heat domes of the 10 m wind and 2 m air temperature."""

    t2m_mean_k: tuple[float, float] = Field((294.0, 282.0), description="annual-mean t2m at 32N and 44N (K)")
    t2m_amp_k: tuple[float, float] = Field(
        (4.0, 9.0), description="seasonal t2m amplitude at 32N and 44N (K)"
    )
    t2m_peak_doy: float = Field(205.0, description="day of year of the t2m maximum")
    westerly_mean: tuple[float, float] = Field(
        (4.0, 7.0), description="annual-mean u10 at 32N and 44N (m s-1)"
    )
    westerly_winter_frac: float = Field(
        0.35, ge=0, le=1, description="relative winter strengthening of the westerlies"
    )
    southerly_summer: float = Field(1.5, description="summer southerly v10 (m s-1)")
    anomaly_length_km: float = Field(350.0, gt=0, description="correlation length of the anomalies (km)")
    anomaly_tau_days: float = Field(5.0, gt=0, description="decorrelation time of the anomalies (days)")
    t2m_anomaly_std: float = Field(1.8, ge=0, description="std of t2m anomalies (K)")
    wind_anomaly_std: float = Field(3.5, ge=0, description="std of the wind-anomaly speed (m s-1)")
    t2m_wind_correlation: float = Field(
        0.5, ge=-1, le=1, description="correlation of t2m and southerly anomalies"
    )
    slow_t2m_std: float = Field(1.0, ge=0, description="std of the slow weather-regime t2m anomaly (K)")
    slow_length_km: float = Field(600.0, gt=0, description="correlation length of the slow anomaly (km)")
    slow_tau_days: float = Field(30.0, gt=0, description="decorrelation time of the slow anomaly (days)")
    dome_rate_per_year: float = Field(1.5, ge=0, description="heat domes per year (summer-weighted)")
    dome_duration_days: tuple[float, float] = Field((10.0, 40.0), description="duration range (days)")
    dome_amplitude_k: tuple[float, float] = Field((3.0, 6.0), description="t2m excess at the centre (K)")
    dome_radius_km: tuple[float, float] = Field((450.0, 750.0), description="e-folding radius range (km)")
    dome_wind_reduction: float = Field(
        0.6, ge=0, le=1, description="fraction of the wind removed at a dome's centre"
    )
    season_offset_days: float = Field(
        0.0,
        description="shift (days) of the built-in timings: winter westerlies, summer southerlies, heat-dome "
        "season (182.5 for the southern hemisphere)",
    )
    dome_extra_shortwave: float = Field(
        0.25, ge=0, description="relative shortwave increase under a dome (clear skies)"
    )


class MixedLayerConfig(StrictModel):
    """The mixed-layer heat budget of the SST."""

    transmissivity: float = Field(
        0.6, gt=0, le=1, description="fraction of top-of-atmosphere insolation absorbed"
    )
    longwave_net: float = Field(55.0, description="net longwave loss at SST = t2m (W m-2)")
    exchange_coeff: float = Field(1.2e-3, gt=0, description="bulk transfer coefficient C_H = C_E")
    gustiness: float = Field(1.0, ge=0, description="added to the wind speed in the bulk formulae (m s-1)")
    relative_humidity: float = Field(0.78, gt=0, le=1, description="relative humidity at 2 m")
    mld_summer_m: float = Field(20.0, gt=0, description="summer mixed-layer depth (m)")
    mld_winter_m: float = Field(100.0, gt=0, description="late-winter mixed-layer depth (m)")
    mld_deepest_doy: float = Field(60.0, description="day of year of the deepest mixed layer")
    relax_days: float = Field(25.0, gt=0, description="relaxation time to the climatological front (days)")
    sst_bg_k: tuple[float, float] = Field(
        (297.0, 285.0), description="background SST at 32N and 44N, annual mean (K)"
    )
    sst_bg_amp_k: tuple[float, float] = Field(
        (2.5, 5.0), description="seasonal amplitude of the background (K)"
    )
    sst_bg_peak_doy: float = Field(230.0, description="day of year of the background SST maximum")
    front_k_per_m: float = Field(7.0, description="gamma: temperature change per metre of sea level (K m-1)")
    diffusivity: float = Field(300.0, ge=0, description="horizontal diffusivity kappa (m2 s-1)")
    noise_flux_std: float = Field(15.0, ge=0, description="std of the stochastic heat flux (W m-2)")
    noise_length_km: float = Field(80.0, gt=0, description="correlation length of the stochastic flux (km)")
    noise_tau_days: float = Field(3.0, gt=0, description="decorrelation time of the stochastic flux (days)")
    subsurface_std_k: float = Field(0.5, ge=0, description="std of slow subsurface temperature anomalies (K)")
    subsurface_length_km: float = Field(
        300.0, gt=0, description="correlation length of the subsurface anomalies (km)"
    )
    subsurface_tau_days: float = Field(
        45.0, gt=0, description="decorrelation time of the subsurface anomalies (days)"
    )
    max_courant: float = Field(
        0.5, gt=0, le=1, description="largest outflow Courant number of an advection sub-step"
    )


class SyntheticConfig(StrictModel):
    """``configs/synthetic.yaml``: region, years, seed and the physical knobs of the synthetic ocean."""

    lat_bounds: tuple[float, float] = Field((32.0, 44.0), description="south and north edges (deg N)")
    lon_bounds: tuple[float, float] = Field((-76.0, -52.0), description="west and east edges (deg E)")
    resolution_deg: float = Field(0.25, gt=0, description="grid spacing (deg) in latitude and longitude")
    years: tuple[int, int] = Field((2001, 2010), description="first and last year written (inclusive)")
    baseline_years: tuple[int, int] = Field(
        (2001, 2007), description="first and last year of the climatology baseline (use the training years)"
    )
    seed: int = Field(0, ge=0, description="random seed; the same seed gives the same bytes")
    profile_lats: tuple[float, float] = Field(
        (32.0, 44.0),
        description="latitudes (deg N) where the (south, north) pairs of atmosphere and mixed_layer apply",
    )
    spinup_days: int = Field(365, ge=0, description="days integrated before the first year (not written)")
    geography: GeographyConfig = Field(default_factory=GeographyConfig)
    jet: JetConfig = Field(default_factory=JetConfig)
    eddies: EddyConfig = Field(default_factory=EddyConfig)
    atmosphere: AtmosphereConfig = Field(default_factory=AtmosphereConfig)
    mixed_layer: MixedLayerConfig = Field(default_factory=MixedLayerConfig)

    @model_validator(mode="after")
    def _check(self) -> SyntheticConfig:
        (la0, la1), (lo0, lo1) = self.lat_bounds, self.lon_bounds
        if not (la1 > la0 and lo1 > lo0):
            raise ValueError(f"lat_bounds {self.lat_bounds} and lon_bounds {self.lon_bounds} must increase")
        for name, span in (("lat_bounds", la1 - la0), ("lon_bounds", lo1 - lo0)):
            n = span / self.resolution_deg
            if abs(n - round(n)) > 1e-6 or round(n) < 4:
                raise ValueError(
                    f"{name} span {span} deg is not a whole number (>= 4) of resolution_deg {self.resolution_deg}"
                )
        if self.periodic and self.geography.kind != "channel":
            raise ValueError(
                "lon_bounds span 360 deg (a periodic domain) but geography.kind is 'coast', whose coastline "
                "does not close around the circle; set geography.kind: channel"
            )
        if self.lon_bounds[1] - self.lon_bounds[0] > 360.0 + 1e-9:
            raise ValueError(f"lon_bounds {self.lon_bounds} span more than 360 deg")
        if self.years[1] < self.years[0]:
            raise ValueError(f"years {self.years}: the last year is before the first")
        b0, b1 = self.baseline_years
        if not (self.years[0] <= b0 <= b1 <= self.years[1]):
            raise ValueError(
                f"baseline_years {self.baseline_years} must lie inside years {self.years}; "
                f"set baseline_years to (part of) the training years"
            )
        return self

    @property
    def periodic(self) -> bool:
        """True when ``lon_bounds`` span the whole circle (x is periodic)."""
        return abs(self.lon_bounds[1] - self.lon_bounds[0] - 360.0) < 1e-9

    @property
    def shape(self) -> tuple[int, int]:
        (la0, la1), (lo0, lo1) = self.lat_bounds, self.lon_bounds
        return round((la1 - la0) / self.resolution_deg), round((lo1 - lo0) / self.resolution_deg)

    @property
    def coords(self) -> GridCoords:
        return GridCoords.from_bounds(self.lat_bounds, self.lon_bounds, self.shape)

    @property
    def year_list(self) -> list[int]:
        return list(range(self.years[0], self.years[1] + 1))


# ---------------------------------------------------------------------------------------------
# simulation


@dataclass
class SyntheticRun:
    """The simulated fields of every written day (land NaN-free; apply ``mask``).

    Arrays are float32 (T, H, W): sst (K), zos (m), u, v (m s-1, geostrophic surface current at
    the cell centres), u10, v10 (m s-1), t2m (K); ``dome`` (T, H, W) heat-dome footprint in [0, 1]
    (only with ``diagnostics=True``, else None). ``dates`` (T,) datetime64[D]; ``mask`` (H, W)
    True = ocean; ``substeps`` (T,) advection sub-steps per day.
    """

    coords: GridCoords
    mask: np.ndarray
    dates: np.ndarray
    sst: np.ndarray
    zos: np.ndarray
    u: np.ndarray
    v: np.ndarray
    u10: np.ndarray
    v10: np.ndarray
    t2m: np.ndarray
    dome: np.ndarray | None
    substeps: np.ndarray


def _doy(date: np.datetime64) -> float:
    """1-based day of year of ``date``."""
    return float((date - date.astype("datetime64[Y]").astype("datetime64[D]")).astype(int) + 1)


def build_geometry(cfg: SyntheticConfig) -> phys.Geometry:
    """Grid metrics, land mask and coastal taper of ``cfg``'s region."""
    coords = cfg.coords
    g = cfg.geography
    if g.kind == "channel":
        channel_kwargs = {
            "south_coast_lat": g.channel_south_coast_lat,
            "south_coast_wiggle_deg": g.channel_coast_wiggle_deg,
            "south_coast_wavenumber": g.channel_coast_wavenumber,
            "cape_lon": g.channel_cape_lon,
            "cape_tip_lat": g.channel_cape_tip_lat,
            "cape_half_width_deg": g.channel_cape_half_width_deg,
            "island_lat": g.island_lat,
            "island_lon": g.island_lon,
            "island_radius_km": g.island_radius_km,
        }
        return phys.Geometry.build(
            coords.lat, coords.lon, channel_kwargs, g.coastal_ramp_km, periodic=cfg.periodic,
            land_fn=phys.channel_land_function,
        )
    land_kwargs = {
        "coast_lat_at_lon0": g.coast_lat_at_lon0,
        "coast_lon0": g.coast_lon0,
        "coast_slope": g.coast_slope,
        "coast_wiggle_deg": g.coast_wiggle_deg,
        "island_lat": g.island_lat,
        "island_lon": g.island_lon,
        "island_radius_km": g.island_radius_km,
    }
    return phys.Geometry.build(coords.lat, coords.lon, land_kwargs, g.coastal_ramp_km)


def _jet_params(c: JetConfig, periodic: bool = False) -> phys.JetParams:
    return phys.JetParams(
        periodic=periodic,
        speed=c.speed,
        half_width_m=c.width_km * KM / 1.7627,  # FWHM of sech^2(n / L) is 1.7627 L
        path_lat0=c.path_lat0,
        path_lon0=c.path_lon0,
        path_rise_deg=c.path_rise_deg,
        path_rise_scale_deg=c.path_rise_scale_deg,
        meander_amp_m=c.meander_amp_km * KM,
        meander_growth_m=c.meander_growth_km * KM,
        meander_wavelengths_m=tuple(w * KM for w in c.meander_wavelengths_km),
        meander_phase_speed=c.meander_phase_speed,
        meander_tau_days=c.meander_tau_days,
        shift_std_m=c.shift_km * KM,
        shift_tau_days=c.shift_tau_days,
        speed_std_frac=c.speed_std_frac,
        recirc_speed=c.recirc_speed,
        recirc_offset_m=c.recirc_offset_km * KM,
        recirc_width_m=c.recirc_width_km * KM,
    )


def _eddy_params(c: EddyConfig) -> phys.EddyParams:
    km = lambda pair: (pair[0] * KM, pair[1] * KM)  # noqa: E731
    return phys.EddyParams(
        birth_rate_per_day=c.birth_rate_per_day,
        radius_m=km(c.radius_km),
        speed=c.speed,
        lifetime_days=c.lifetime_days,
        ring_rate_per_day=c.ring_rate_per_day,
        ring_radius_m=km(c.ring_radius_km),
        ring_speed=c.ring_speed,
        ring_lifetime_days=c.ring_lifetime_days,
        ring_threshold_m=c.ring_threshold_km * KM,
        growth_days=c.growth_days,
        drift_west=c.drift_west,
        drift_meridional=c.drift_meridional,
        jet_entrainment=c.jet_entrainment,
        jet_absorption_days=c.jet_absorption_days,
        coast_absorption_days=c.coast_absorption_days,
    )


def _atmos_params(c: AtmosphereConfig, ref_lat: tuple[float, float] = (32.0, 44.0)) -> phys.AtmosParams:
    d = c.model_dump()
    d["ref_lat"] = tuple(ref_lat)
    d["anomaly_length_m"] = d.pop("anomaly_length_km") * KM
    d["slow_length_m"] = d.pop("slow_length_km") * KM
    d["dome_radius_m"] = tuple(r * KM for r in d.pop("dome_radius_km"))
    return phys.AtmosParams(**d)


def _ml_params(c: MixedLayerConfig, ref_lat: tuple[float, float] = (32.0, 44.0)) -> phys.MixedLayerParams:
    d = c.model_dump()
    d["ref_lat"] = tuple(ref_lat)
    d["noise_length_m"] = d.pop("noise_length_km") * KM
    d["subsurface_length_m"] = d.pop("subsurface_length_km") * KM
    return phys.MixedLayerParams(**d)


class _Ocean:
    """Streamfunction of one day from the jet and the eddies, with the coastal constraint."""

    def __init__(self, geom: phys.Geometry, jet: phys.JetModel, eddies: phys.EddyField) -> None:
        self.geom, self.jet, self.eddies = geom, jet, eddies

    def step(self) -> None:
        self.jet.step()
        self.eddies.step(self.geom, self.jet)

    def psi(self) -> np.ndarray:
        g = self.geom
        raw = self.jet.psi(g.lat_h, g.lon_h) + self.eddies.psi(g.lat_h, g.lon_h)
        if g.periodic:  # the halo columns are the opposite edge's (exactly: the seam's transports agree)
            raw = phys.wrap_halo_columns(raw)
        return g.apply_coast(raw)


def simulate(cfg: SyntheticConfig, progress: bool = False, diagnostics: bool = False) -> SyntheticRun:
    """Integrate the synthetic ocean: spin-up, then every day of ``cfg.years``.

    Each day: the ocean (jet + eddies) and the atmosphere advance; the SST takes the air-sea,
    relaxation and noise tendencies (forward step of one day), then advection and diffusion
    by the mean of the day's start and end transports (SSP-RK2 sub-steps). Values of day d are
    the state at the end of its integration.
    """
    from tqdm.auto import tqdm

    ss = np.random.SeedSequence(cfg.seed)
    rng_jet, rng_eddy, rng_atm, rng_noise, rng_sub = (np.random.default_rng(s) for s in ss.spawn(5))
    geom = build_geometry(cfg)
    ml = _ml_params(cfg.mixed_layer, cfg.profile_lats)
    jet = phys.JetModel(_jet_params(cfg.jet, cfg.periodic), rng_jet)
    eddies = phys.EddyField(_eddy_params(cfg.eddies), rng_eddy, periodic=cfg.periodic)
    ocean = _Ocean(geom, jet, eddies)
    atmos = phys.Atmosphere(_atmos_params(cfg.atmosphere, cfg.profile_lats), geom, rng_atm)
    noise = phys.SmoothNoise(
        geom.ocean.shape, geom.dy, float(np.mean(geom.dx)), ml.noise_length_m, ml.noise_tau_days, rng_noise,
        geom.periodic,
    )
    subsurface = phys.SmoothNoise(
        geom.ocean.shape,
        geom.dy,
        float(np.mean(geom.dx)),
        ml.subsurface_length_m,
        ml.subsurface_tau_days,
        rng_sub,
        geom.periodic,
    )
    dome_sw = cfg.atmosphere.dome_extra_shortwave

    first = np.datetime64(f"{cfg.years[0]:04d}-01-01", "D")
    n_days = int(sum(days_in_year(y) for y in cfg.year_list))
    all_dates = first + np.arange(-cfg.spinup_days, n_days)
    shape = (n_days, *geom.ocean.shape)
    out = {k: np.empty(shape, dtype=np.float32) for k in ("sst", "zos", "u", "v", "u10", "v10", "t2m")}
    dome_out = np.empty(shape, dtype=np.float32) if diagnostics else None
    substeps = np.zeros(n_days, dtype=np.int32)

    f_c = phys.coriolis(geom.lat)[:, None]
    lat2 = geom.lat[:, None] * np.ones((1, geom.lon.size))
    psi_prev = ocean.psi()
    doy0 = _doy(all_dates[0])
    zos = f_c * psi_prev[1:-1, 1:-1] / phys.GRAVITY
    sst = phys.reference_sst(ml, lat2, doy0, zos)

    bar = tqdm(total=all_dates.size, desc="synthetic ocean", unit="day", disable=not progress)
    for k, date in enumerate(all_dates):
        doy = _doy(date)
        ocean.step()
        psi = ocean.psi()
        atm = atmos.step(doy)
        zos = f_c * psi[1:-1, 1:-1] / phys.GRAVITY
        # --- air-sea flux, relaxation, stochastic flux (one forward step of a day)
        wind = np.hypot(atm["u10"], atm["v10"])
        sw = ml.transmissivity * phys.daily_insolation(lat2, doy) * (1.0 + dome_sw * atm["dome"])
        q = phys.air_sea_flux(sst, atm["t2m"], wind, sw, ml)
        noise.step()
        q = q + ml.noise_flux_std * noise.fields()[0]
        h = phys.mixed_layer_depth(ml, doy)
        subsurface.step()
        t_ref = phys.reference_sst(ml, lat2, doy, zos) + ml.subsurface_std_k * subsurface.fields()[0]
        sst = sst + phys.DAY * (q / (phys.RHO_SEA * phys.CP_SEA * h)) + (t_ref - sst) / ml.relax_days
        sst = np.where(geom.ocean, sst, t_ref)
        # --- advection and diffusion by the day's mean transports
        fx, fy = phys.face_transports(0.5 * (psi_prev + psi))
        sst, n_sub = phys.advect_diffuse(sst, fx, fy, geom, ml.diffusivity, phys.DAY, ml.max_courant)
        psi_prev = psi
        i = k - cfg.spinup_days
        if i >= 0:
            u, v = phys.centre_velocity(psi, geom)
            out["sst"][i] = sst
            out["zos"][i] = zos
            out["u"][i] = u
            out["v"][i] = v
            out["u10"][i] = atm["u10"]
            out["v10"][i] = atm["v10"]
            out["t2m"][i] = atm["t2m"]
            substeps[i] = n_sub
            if dome_out is not None:
                dome_out[i] = atm["dome"]
        bar.update(1)
    bar.close()
    if not np.all(np.isfinite(out["sst"][:, geom.ocean])):
        raise FloatingPointError("synthetic SST became non-finite; lower mixed_layer.max_courant")
    return SyntheticRun(
        coords=cfg.coords,
        mask=geom.ocean.copy(),
        dates=all_dates[cfg.spinup_days :],
        dome=dome_out,
        substeps=substeps,
        **out,
    )


# ---------------------------------------------------------------------------------------------
# writing


def climatology(run: SyntheticRun, baseline: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Hobday day-of-year ``seas`` and ``thresh`` (366, H, W) of the run's SST (K) over ``baseline``."""
    from oceane2e.mhw.climatology import compute_climatology

    sst = np.where(run.mask[None], run.sst, np.float32(0.0))
    seas, thresh = compute_climatology(
        sst, run.dates, baseline=baseline, window_half_width=5, smooth_width=31, percentile=90.0
    )
    return np.asarray(seas, dtype=np.float32), np.asarray(thresh, dtype=np.float32)


def file_attrs(cfg: SyntheticConfig) -> dict[str, object]:
    """Global attributes of every synthetic file (no timestamps: the bytes depend on the seed only)."""
    return {
        "source": SOURCE,
        "synthetic": 1,
        "seed": int(cfg.seed),
        "comment": "synthetic data from Ocean-E2E's embedded generator (oceane2e.data.synthetic); not observations",
    }


def _remove_stale_years(out: Path, cfg: SyntheticConfig) -> None:
    """Delete synthetic year files of ``out`` outside ``cfg.years`` so a folder never mixes two runs.

    A file outside the years that is not labelled synthetic is left alone and stops the run.
    """
    import netCDF4

    from oceane2e.data.contract import find_years

    keep = set(cfg.year_list)
    for kind in ("geo", "mhw"):
        for year in find_years(out, kind):
            if year in keep:
                continue
            path = year_path(out, kind, year)
            try:
                with netCDF4.Dataset(path) as ds:
                    synthetic = int(getattr(ds, "synthetic", 0)) == 1
            except OSError:
                synthetic = False
            if not synthetic:
                raise FileExistsError(
                    f"{path}: a data file that is not synthetic lies in the output folder; "
                    f"write the synthetic ocean to another folder (--out) or move that file"
                )
            path.unlink()


def write_run(run: SyntheticRun, cfg: SyntheticConfig, out_dir: str | Path, progress: bool = False) -> Path:
    """Write the data folder of a simulated run: geo/mhw years, mask.npy and clim.nc."""
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_years(out, cfg)
    attrs = file_attrs(cfg)
    seas, thresh = climatology(run, cfg.baseline_years)
    write_clim(
        out / CLIM_FILE,
        seas,
        thresh,
        run.coords,
        variable="sst",
        baseline=cfg.baseline_years,
        window_half_width=5,
        smooth_width=31,
        percentile=90.0,
        mask=run.mask,
        attrs=attrs,
    )
    write_mask(out, run.mask)
    ssta = run.sst - seas[leap_doy_index(run.dates)]
    start = 0
    for year in tqdm(cfg.year_list, desc="writing years", unit="year", disable=not progress):
        n = days_in_year(year)
        sl = slice(start, start + n)
        geo = np.stack([run.u[sl], run.v[sl]], axis=1)
        write_year(year_path(out, "geo", year), "geo", year, geo, run.coords, mask=run.mask, attrs=attrs)
        mhw = np.stack([ssta[sl], run.zos[sl], run.u10[sl], run.v10[sl], run.t2m[sl]], axis=1)
        write_year(year_path(out, "mhw", year), "mhw", year, mhw, run.coords, mask=run.mask, attrs=attrs)
        start += n
    return out


def generate(cfg: SyntheticConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Simulate the synthetic ocean of ``cfg`` and write its complete data folder to ``out_dir``.

    Returns ``out_dir``. Existing files of the same names are replaced (atomically, file by file).
    """
    run = simulate(cfg, progress=progress)
    return write_run(run, cfg, out_dir, progress=progress)


# ---------------------------------------------------------------------------------------------
# command line


def _parse_years(text: str) -> tuple[int, int]:
    parts = text.replace(":", "-").split("-")
    try:
        years = [int(p) for p in parts if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--years {text!r}: expected FIRST-LAST, e.g. 2001-2010") from None
    if len(years) == 1:
        years = years * 2
    if len(years) != 2:
        raise argparse.ArgumentTypeError(f"--years {text!r}: expected FIRST-LAST, e.g. 2001-2010")
    return years[0], years[1]


def _config_from_args(args: argparse.Namespace) -> SyntheticConfig:
    """The config file with the command line's overrides applied (raises ConfigError)."""
    overrides: dict[str, object] = {}
    if args.years is not None:
        overrides["years"] = list(args.years)
        if args.baseline is None:
            # keep the configured baseline where it fits the new years, else use the whole new period
            b0, b1 = load_config(SyntheticConfig, args.config).baseline_years
            if not (args.years[0] <= b0 <= b1 <= args.years[1]):
                overrides["baseline_years"] = list(args.years)
    if args.baseline is not None:
        overrides["baseline_years"] = list(args.baseline)
    if args.seed is not None:
        overrides["seed"] = args.seed
    return load_config(SyntheticConfig, args.config, overrides)


def main(argv: list[str] | None = None) -> int:
    """``oceane2e synth``: generate the synthetic data folder."""
    parser = argparse.ArgumentParser(prog="oceane2e synth", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", type=Path, default=Path("configs/synthetic.yaml"), help="synthetic ocean config"
    )
    parser.add_argument("--out", type=Path, default=Path("data/GS"), help="output data folder")
    parser.add_argument("--years", type=_parse_years, help="override the years, FIRST-LAST (e.g. 2001-2003)")
    parser.add_argument("--baseline", type=_parse_years, help="override the climatology baseline, FIRST-LAST")
    parser.add_argument("--seed", type=int, help="override the random seed")
    parser.add_argument(
        "--force", action="store_true", help="overwrite a folder that already holds data files"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        cfg = _config_from_args(args)
    except ConfigError as err:
        print(f"oceane2e synth: {err}", file=sys.stderr)
        return 2
    existing = sorted(p.name for p in args.out.glob("*.nc")) + sorted(
        p.name for p in args.out.glob("mask.npy")
    )
    if existing and not args.force:
        print(
            f"oceane2e synth: {args.out} already holds data files ({', '.join(existing[:4])}"
            f"{', ...' if len(existing) > 4 else ''}); pass --force to overwrite them",
            file=sys.stderr,
        )
        return 1
    out = generate(cfg, args.out, progress=not args.no_progress)
    print(
        f"wrote the synthetic ocean {cfg.years[0]}-{cfg.years[1]} ({cfg.shape[0]}x{cfg.shape[1]}, seed {cfg.seed}) to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
