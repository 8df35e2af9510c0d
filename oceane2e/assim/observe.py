"""``oceane2e observe``: a simulated observing system sampling a data folder as real platforms do.

    python -m oceane2e observe --config configs/observe.yaml [-o key=value ...]

Reads the truth of a data folder (the synthetic ocean by default, ``data/GS``) only through
:class:`oceane2e.data.datasets.DataFolder` and writes the observation contract
(:mod:`oceane2e.data.observations`, ``<data root>/obs/obs_YYYY.nc``):

* ``sst_l3`` - gridded infrared SST anomalies at the clear cells of a cloud mask. The mask is a
  latent Gaussian field with correlation exp(-(r/L)²) in space (L = ``cloud_length_km``) and
  exp(-|Δt|/τ) in time (AR(1), τ = ``cloud_tau_days``), thresholded so that a fraction
  ``clear_fraction`` of the cells is clear; noise ``noise_std`` plus an optional correlated error
  (same kind of field, ``correlated_error_std``). ``error_std`` records the total of both.
* ``drifter`` - drifters released at random ocean places (``release_per_day``, plus ``initial`` on
  the first day), advected by the true surface currents u_g, v_g (RK2, bilinear in space, each day's
  currents held over the day), dying after an exponential lifetime or on reaching land or the edge
  of the region; ``samples_per_day`` SSTA samples each.
* ``argo`` - a few floats per day (Poisson, ``per_day``) at random ocean places and times.
* ``altimetry`` - along-track sea-level anomaly under the ground tracks of circular orbits with
  the configured inclination and exact repeat (``revolutions_per_cycle`` orbits while the Earth
  turns ``nodal_days_per_cycle`` times relative to the orbit plane in ``cycle_days``), one sample
  every ``sample_seconds``; SLA = zos - its time mean over ``sla_reference_years`` (default: the
  training years), which plays the role of the mean dynamic topography.

Truth at a point is the bilinear interpolation of the daily field (land corners excluded). Every
random choice comes from ``seed`` (one generator per platform): the same config gives the same
files. Also draws one day's observations over the truth (``<obs dir>/figures/obs_YYYY-MM-DD.png``).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from oceane2e.config import ConfigError, StrictModel, load_config, parse_override
from oceane2e.data.config import DataConfig
from oceane2e.data.contract import GridCoords
from oceane2e.data.observations import OBS_DIR, ObsRecords, write_obs_year
from oceane2e.dates import days_in_year

from .grid import (
    DEG,
    EARTH_RADIUS_KM,
    cell_edges,
    grid_spacing_km,
    inside_grid,
    nearest_cell,
    sample_bilinear,
)

DAY_S = 86400.0
#: epoch of the orbits' phases (ground tracks are a function of the time since it)
ORBIT_EPOCH = np.datetime64("2000-01-01T00:00:00", "s")
_READ_DAYS = 16  # days read from the data folder at once
_COARSE_S = 60.0  # s, coarse time step locating the passes over the region
_MARGIN_DEG = 10.0  # deg, more than a satellite's ground travel in _COARSE_S up to ~65° latitude


class L3Config(StrictModel):
    """Infrared L3 SST (gridded, at the grid's cell centres) under correlated clouds."""

    enabled: bool = True
    clear_fraction: float = Field(0.3, gt=0.0, le=1.0, description="daily mean fraction of clear ocean cells")
    cloud_length_km: float = Field(200.0, gt=0.0, description="e-folding length of the latent cloud field (km)")
    cloud_tau_days: float = Field(2.0, gt=0.0, description="e-folding time of the latent cloud field (days)")
    noise_std: float = Field(0.3, ge=0.0, description="random error std (K)")
    correlated_error_std: float = Field(0.1, ge=0.0, description="std of a spatially correlated error (K); 0 = none")
    correlated_error_length_km: float = Field(500.0, gt=0.0, description="its e-folding length (km)")
    correlated_error_tau_days: float = Field(5.0, gt=0.0, description="its e-folding time (days)")
    overpass_hour: float = Field(13.5, ge=0.0, lt=24.0, description="UTC hour given to the day's L3 records")


class DrifterConfig(StrictModel):
    """Surface drifters advected by the true geostrophic currents."""

    enabled: bool = True
    initial: int = Field(15, ge=0, description="drifters alive on the first day")
    release_per_day: float = Field(0.5, ge=0.0, description="mean new drifters per day (Poisson)")
    lifetime_days: float = Field(120.0, gt=0.0, description="mean (exponential) lifetime (days)")
    samples_per_day: int = Field(4, ge=1, description="SST samples per drifter per day (equally spaced)")
    steps_per_sample: int = Field(2, ge=1, description="RK2 steps between two samples")
    noise_std: float = Field(0.1, ge=0.0, description="error std (K)")


class ArgoConfig(StrictModel):
    """Argo-like floats: surface values at random places and times."""

    enabled: bool = True
    per_day: float = Field(3.0, ge=0.0, description="mean profiles per day in the region (Poisson)")
    noise_std: float = Field(0.05, ge=0.0, description="error std (K)")


class SatelliteConfig(StrictModel):
    """One altimetry satellite on a circular, exactly repeating orbit."""

    name: str
    inclination_deg: float = Field(..., gt=0.0, lt=180.0, description="orbit inclination (deg)")
    revolutions_per_cycle: int = Field(..., ge=1, description="orbits per repeat cycle")
    nodal_days_per_cycle: int = Field(..., ge=1, description="turns of the Earth relative to the orbit plane per cycle")
    cycle_days: float = Field(..., gt=0.0, description="repeat cycle (days)")
    node_lon_deg: float = Field(0.0, description="longitude of the ascending node at the orbit epoch (deg)")
    phase_deg: float = Field(0.0, description="argument of latitude at the orbit epoch (deg)")


def _default_satellites() -> list[SatelliteConfig]:
    return [
        SatelliteConfig(name="jason-like", inclination_deg=66.04, revolutions_per_cycle=127,
                        nodal_days_per_cycle=10, cycle_days=9.9156, node_lon_deg=0.0),
        SatelliteConfig(name="jason-interleaved", inclination_deg=66.04, revolutions_per_cycle=127,
                        nodal_days_per_cycle=10, cycle_days=9.9156, node_lon_deg=360.0 / 254.0, phase_deg=90.0),
        SatelliteConfig(name="sun-synchronous", inclination_deg=98.6, revolutions_per_cycle=143,
                        nodal_days_per_cycle=10, cycle_days=10.0, node_lon_deg=37.0, phase_deg=200.0),
    ]


class AltimetryConfig(StrictModel):
    """Along-track sea-level anomaly."""

    enabled: bool = True
    noise_std: float = Field(0.025, ge=0.0, description="error std (m)")
    sample_seconds: float = Field(5.0, gt=0.0, description="seconds between along-track samples (~6 km per s)")
    satellites: list[SatelliteConfig] = Field(default_factory=_default_satellites, min_length=1)


class ObserveConfig(StrictModel):
    """``configs/observe.yaml``: which folder and years to observe, and each platform."""

    data: DataConfig
    years: list[int] | None = Field(None, description="years to observe; null: every year of data")
    out_dir: Path | None = Field(None, description="observation folder; null: <data.root>/obs")
    sla_reference_years: list[int] | None = Field(
        None, description="years whose time-mean zos is removed to make the SLA; null: data.train_years")
    seed: int = Field(0, description="random seed; the same config gives the same files")
    figure: bool = Field(True, description="draw one day's observations over the truth")
    figure_day: datetime.date | None = Field(None, description="YYYY-MM-DD of the figure; null: 1 July of the first year")
    sst_l3: L3Config = Field(default_factory=L3Config)
    drifters: DrifterConfig = Field(default_factory=DrifterConfig)
    argo: ArgoConfig = Field(default_factory=ArgoConfig)
    altimetry: AltimetryConfig = Field(default_factory=AltimetryConfig)

    @model_validator(mode="after")
    def _years_known(self) -> ObserveConfig:
        unknown = sorted(set(self.years or []) - set(self.data.all_years))
        if unknown:
            raise ValueError(f"years {unknown} are not years of the data section")
        return self

    @property
    def observed_years(self) -> list[int]:
        return sorted(self.years) if self.years else list(self.data.all_years)

    @property
    def reference_years(self) -> list[int]:
        return sorted(self.sla_reference_years or self.data.train_years)

    @property
    def obs_dir(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.data.root / OBS_DIR


# ---------------------------------------------------------------------------------------------
# correlated random fields (clouds, correlated errors)


class CorrelatedField:
    """Standard-normal random fields on a grid, correlation exp(-(r/L)²) in space and AR(1)
    exp(-|Δt|/τ) from one call of :meth:`step` (one day) to the next.

    Args:
        shape: (H, W); spacing_km: (dy, dx) cell size in km; length_km: L; tau_days: τ;
        rng: the generator (consumed).
    """

    def __init__(self, shape: tuple[int, int], spacing_km: tuple[float, float], length_km: float,
                 tau_days: float, rng: np.random.Generator) -> None:
        # white noise smoothed by a Gaussian kernel of std s has correlation exp(-r²/(4 s²)) = exp(-(r/L)²);
        # the smoothing is a product in Fourier space on a grid padded by 4 s (no wrap-around correlation)
        sigma = (0.5 * length_km / spacing_km[0], 0.5 * length_km / spacing_km[1])
        self.pad = tuple(int(np.ceil(4 * s)) + 1 for s in sigma)
        self.shape = shape
        self.rng = rng
        self.a = float(np.exp(-1.0 / tau_days))
        hp, wp = shape[0] + 2 * self.pad[0], shape[1] + 2 * self.pad[1]
        ky = np.fft.fftfreq(hp)[:, None]
        kx = np.fft.rfftfreq(wp)[None, :]
        self.transfer = np.exp(-2.0 * np.pi**2 * ((sigma[0] * ky) ** 2 + (sigma[1] * kx) ** 2))
        full = np.exp(-2.0 * np.pi**2 * ((sigma[0] * ky) ** 2 + (sigma[1] * np.fft.fftfreq(wp)[None, :]) ** 2))
        self.norm = float(np.sqrt(np.mean(full**2)))  # std of the smoothed unit white noise (Parseval)
        self.padded = (hp, wp)
        self.state = self._draw()

    def _draw(self) -> np.ndarray:
        h, w = self.shape
        noise = self.rng.standard_normal(self.padded)
        smooth = np.fft.irfft2(np.fft.rfft2(noise) * self.transfer, s=self.padded)
        return smooth[self.pad[0] : self.pad[0] + h, self.pad[1] : self.pad[1] + w] / self.norm

    def step(self) -> np.ndarray:
        """The field of the next day (H, W), unit variance."""
        self.state = self.a * self.state + np.sqrt(1.0 - self.a**2) * self._draw()
        return self.state


def clear_threshold(clear_fraction: float) -> float:
    """Latent-field threshold above which a cell is clear: P(z > threshold) = clear_fraction."""
    from scipy.special import ndtri

    return float(ndtri(1.0 - clear_fraction)) if clear_fraction < 1.0 else -np.inf


# ---------------------------------------------------------------------------------------------
# drifters


def advect_points(
    lat: np.ndarray, lon: np.ndarray, u: np.ndarray, v: np.ndarray, coords: GridCoords, mask: np.ndarray,
    dt_s: float, steps: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Move points (N,) degrees by the currents ``u``, ``v`` (H, W) m s-1 over ``steps`` RK2
    (midpoint) steps of ``dt_s`` seconds: dφ/dt = v / R, dλ/dt = u / (R cos φ). Currents are
    sampled bilinearly (land corners excluded, 0 where no ocean corner)."""
    r_m = EARTH_RADIUS_KM * 1000.0

    uv = np.stack([u, v])

    def rate(la: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uu, vv = np.nan_to_num(sample_bilinear(uv, mask, coords, la, lo))
        return vv / r_m / DEG, uu / (r_m * np.cos(la * DEG)) / DEG

    lat, lon = np.asarray(lat, np.float64).copy(), np.asarray(lon, np.float64).copy()
    for _ in range(steps):
        dlat, dlon = rate(lat, lon)
        dlat, dlon = rate(lat + 0.5 * dt_s * dlat, lon + 0.5 * dt_s * dlon)
        lat += dt_s * dlat
        lon += dt_s * dlon
    return lat, lon


@dataclass
class Drifters:
    """The drifters alive: positions (N,) degrees and the day index (since the run's start) they die."""

    lat: np.ndarray
    lon: np.ndarray
    death: np.ndarray

    @classmethod
    def none(cls) -> Drifters:
        return cls(np.zeros(0), np.zeros(0), np.zeros(0))

    def add(self, lat: np.ndarray, lon: np.ndarray, death: np.ndarray) -> None:
        self.lat, self.lon = np.concatenate([self.lat, lat]), np.concatenate([self.lon, lon])
        self.death = np.concatenate([self.death, death])

    def keep(self, alive: np.ndarray) -> None:
        self.lat, self.lon, self.death = self.lat[alive], self.lon[alive], self.death[alive]


def random_ocean_points(coords: GridCoords, mask: np.ndarray, n: int, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly inside random ocean cells (degrees)."""
    cells = np.flatnonzero(mask.ravel())
    pick = cells[rng.integers(0, cells.size, n)]
    i, j = np.divmod(pick, mask.shape[1])
    dlat, dlon = np.gradient(coords.lat)[i], np.gradient(coords.lon)[j]
    return (coords.lat[i] + dlat * rng.uniform(-0.5, 0.5, n), coords.lon[j] + dlon * rng.uniform(-0.5, 0.5, n))


# ---------------------------------------------------------------------------------------------
# altimetry ground tracks


def ground_track(sat: SatelliteConfig, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-satellite points (lat, lon in degrees, lon in [-180, 180)) at ``t_s`` seconds since
    :data:`ORBIT_EPOCH`; the track repeats exactly every ``cycle_days``."""
    period = sat.cycle_days * DAY_S
    n_orbit = 2.0 * np.pi * sat.revolutions_per_cycle / period  # rad s-1
    n_earth = 2.0 * np.pi * sat.nodal_days_per_cycle / period  # rad s-1, Earth relative to the orbit plane
    t = np.asarray(t_s, np.float64) % period  # exact repeat, and small arguments for precision
    u = sat.phase_deg * DEG + n_orbit * t
    inc = sat.inclination_deg * DEG
    lat = np.arcsin(np.sin(inc) * np.sin(u)) / DEG
    lon = sat.node_lon_deg + (np.arctan2(np.cos(inc) * np.sin(u), np.cos(u)) - n_earth * t) / DEG
    return lat, (lon + 180.0) % 360.0 - 180.0


# ---------------------------------------------------------------------------------------------
# the observing system


def _records(time: np.ndarray, lat: np.ndarray, lon: np.ndarray, value: np.ndarray, err: float | np.ndarray,
             platform: str, variable: str) -> ObsRecords:
    n = len(lat)
    return ObsRecords(time=time, lat=lat, lon=lon, value=value, error_std=np.broadcast_to(err, (n,)),
                      platform=np.full(n, platform), variable=np.full(n, variable))


class ObservingSystem:
    """The platforms' state over consecutive days of one grid (clouds, drifters, generators).

    Args:
        cfg: the config; coords, mask: the grid and its ocean (H, W) bool; sla_reference: (H, W) m,
        the time-mean zos removed from the SLA.
    """

    def __init__(self, cfg: ObserveConfig, coords: GridCoords, mask: np.ndarray, sla_reference: np.ndarray) -> None:
        self.cfg, self.coords, self.mask, self.sla_reference = cfg, coords, mask, sla_reference
        rngs = [np.random.default_rng([cfg.seed, k]) for k in range(5)]
        self.rng_l3, self.rng_drift, self.rng_argo, self.rng_alt = rngs[:4]
        spacing = grid_spacing_km(coords)
        l3 = cfg.sst_l3
        self.clouds = CorrelatedField(mask.shape, spacing, l3.cloud_length_km, l3.cloud_tau_days, rngs[4])
        self.corr_err = CorrelatedField(mask.shape, spacing, l3.correlated_error_length_km,
                                        l3.correlated_error_tau_days, np.random.default_rng([cfg.seed, 5]))
        self.threshold = clear_threshold(l3.clear_fraction)
        self.drifters = Drifters.none()
        self.day_index = 0

    def observe_day(self, day: np.datetime64, ssta: np.ndarray, zos: np.ndarray, u: np.ndarray, v: np.ndarray
                    ) -> ObsRecords:
        """All observations of ``day`` from the day's truth fields (H, W): ssta K, zos m, u/v m s-1."""
        t0 = np.datetime64(day, "s")
        parts = []
        cfg = self.cfg
        if cfg.sst_l3.enabled:
            parts.append(self._l3(t0, ssta))
        if cfg.drifters.enabled:
            parts.append(self._drifters(t0, ssta, u, v))
        if cfg.argo.enabled:
            parts.append(self._argo(t0, ssta))
        if cfg.altimetry.enabled:
            parts.append(self._altimetry(t0, zos))
        self.day_index += 1
        return ObsRecords.concat(parts)

    def _l3(self, t0: np.datetime64, ssta: np.ndarray) -> ObsRecords:
        c = self.cfg.sst_l3
        clear = (self.clouds.step() > self.threshold) & self.mask
        corr = self.corr_err.step()
        i, j = np.nonzero(clear)
        n = i.size
        value = ssta[i, j] + c.noise_std * self.rng_l3.standard_normal(n) + c.correlated_error_std * corr[i, j]
        t = np.full(n, t0 + np.timedelta64(int(round(c.overpass_hour * 3600)), "s"))
        err = float(np.hypot(c.noise_std, c.correlated_error_std))
        return _records(t, self.coords.lat[i], self.coords.lon[j], value, err, "sst_l3", "ssta")

    def _drifters(self, t0: np.datetime64, ssta: np.ndarray, u: np.ndarray, v: np.ndarray) -> ObsRecords:
        c, rng, d = self.cfg.drifters, self.rng_drift, self.drifters
        n_new = (c.initial if self.day_index == 0 else 0) + int(rng.poisson(c.release_per_day))
        if n_new:
            lat, lon = random_ocean_points(self.coords, self.mask, n_new, rng)
            d.add(lat, lon, self.day_index + rng.exponential(c.lifetime_days, n_new))
        parts = []
        dt = DAY_S / c.samples_per_day
        for s in range(c.samples_per_day):
            t_day = self.day_index + s / c.samples_per_day
            i, j = nearest_cell(self.coords, d.lat, d.lon)
            alive = (d.death > t_day) & inside_grid(self.coords, d.lat, d.lon) & self.mask[i, j]
            d.keep(alive)
            truth = sample_bilinear(ssta, self.mask, self.coords, d.lat, d.lon)
            n = d.lat.size
            value = truth + c.noise_std * rng.standard_normal(n)
            t = np.full(n, t0 + np.timedelta64(int(round(s * dt)), "s"))
            parts.append(_records(t, d.lat.copy(), d.lon.copy(), value, c.noise_std, "drifter", "ssta"))
            d.lat, d.lon = advect_points(d.lat, d.lon, u, v, self.coords, self.mask, dt / c.steps_per_sample,
                                         c.steps_per_sample)
        return ObsRecords.concat(parts)

    def _argo(self, t0: np.datetime64, ssta: np.ndarray) -> ObsRecords:
        c, rng = self.cfg.argo, self.rng_argo
        n = int(rng.poisson(c.per_day))
        lat, lon = random_ocean_points(self.coords, self.mask, n, rng)
        truth = sample_bilinear(ssta, self.mask, self.coords, lat, lon)
        t = t0 + rng.integers(0, int(DAY_S), n).astype("timedelta64[s]")
        return _records(t, lat, lon, truth + c.noise_std * rng.standard_normal(n), c.noise_std, "argo", "ssta")

    def _altimetry(self, t0: np.datetime64, zos: np.ndarray) -> ObsRecords:
        c, rng = self.cfg.altimetry, self.rng_alt
        sla = zos - self.sla_reference
        day0 = float((t0 - ORBIT_EPOCH).astype(np.int64))
        fine = np.arange(0.0, DAY_S, c.sample_seconds)
        coarse = np.arange(0.0, DAY_S + _COARSE_S, _COARSE_S)
        s_, n_, w_, e_ = cell_edges(self.coords)
        parts = []
        for sat in c.satellites:
            # a coarse pass finds the minutes near the region, the samples are computed only there
            clat, clon = ground_track(sat, day0 + coarse)
            near = ((clat > s_ - _MARGIN_DEG) & (clat < n_ + _MARGIN_DEG)
                    & (np.abs((clon - 0.5 * (w_ + e_) + 180.0) % 360.0 - 180.0) < 0.5 * (e_ - w_) + _MARGIN_DEG))
            k = (fine // _COARSE_S).astype(int)
            tt = day0 + fine[near[k] | near[k + 1]]
            lat, lon = ground_track(sat, tt)
            keep = inside_grid(self.coords, lat, lon)
            i, j = nearest_cell(self.coords, lat[keep], lon[keep])
            ocean = self.mask[i, j]
            lat, lon, tt = lat[keep][ocean], lon[keep][ocean], tt[keep][ocean]
            truth = sample_bilinear(sla, self.mask, self.coords, lat, lon)
            t = ORBIT_EPOCH + np.round(tt).astype(np.int64).astype("timedelta64[s]")
            parts.append(_records(t, lat, lon, truth + c.noise_std * rng.standard_normal(lat.size), c.noise_std,
                                  "altimetry", "sla"))
        return ObsRecords.concat(parts)


def _runs(years: Sequence[int]) -> list[list[int]]:
    """Consecutive years grouped: [2001, 2002, 2005] -> [[2001, 2002], [2005]]."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return runs


def time_mean_zos(folder, years: Sequence[int]) -> np.ndarray:
    """Time mean of ``zos`` (H, W) m over the days of ``years`` (land 0), read in blocks."""
    total = np.zeros(folder.shape)
    n = 0
    for year in years:
        first = np.datetime64(f"{year:04d}-01-01", "D")
        nd = days_in_year(year)
        for s in range(0, nd, 64):
            block = folder.read("mhw", first + s, min(64, nd - s), ["zos"])[:, 0]
            total += block.sum(0, dtype=np.float64)
            n += block.shape[0]
    return total / n


@dataclass
class ObserveSummary:
    """What :func:`observe` wrote: paths, record counts per (year, platform), the figure, seconds."""

    paths: list[Path]
    counts: dict[int, dict[str, int]]
    figure: Path | None
    seconds: float


def observe(cfg: ObserveConfig, *, progress: bool = True) -> ObserveSummary:
    """Observe every year of ``cfg`` and write ``obs_YYYY.nc`` into ``cfg.obs_dir``."""
    from tqdm import tqdm

    from oceane2e.data.datasets import DataFolder

    t_start = time.perf_counter()
    years = cfg.observed_years
    folder = DataFolder(cfg.data.root, sorted(set(years) | set(cfg.reference_years)),
                        lat_bounds=cfg.data.lat_bounds, lon_bounds=cfg.data.lon_bounds)
    coords, mask = folder.coords, folder.mask
    sla_ref = time_mean_zos(folder, cfg.reference_years)
    fig_day = np.datetime64(str(cfg.figure_day or f"{years[0]:04d}-07-01"), "D")
    paths, counts, figure = [], {}, None
    attrs = {"source": "Ocean-E2E simulated observing system (oceane2e observe)",
             "synthetic_observations": 1, "truth_folder": str(cfg.data.root), "seed": cfg.seed,
             "sla_reference": f"time-mean zos of {cfg.reference_years[0]}..{cfg.reference_years[-1]}",
             "config": cfg.model_dump_json()}
    total_days = sum(days_in_year(y) for y in years)
    bar = tqdm(total=total_days, desc="observe", unit="day", disable=not progress)
    for run in _runs(years):
        system = ObservingSystem(cfg, coords, mask, sla_ref)
        for year in run:
            first = np.datetime64(f"{year:04d}-01-01", "D")
            nd = days_in_year(year)
            parts = []
            for s in range(0, nd, _READ_DAYS):
                n = min(_READ_DAYS, nd - s)
                mhw = folder.read("mhw", first + s, n, ["ssta", "zos"])
                geo = folder.read("geo", first + s, n, ["u_g", "v_g"])
                for k in range(n):
                    day = first + s + k
                    rec = system.observe_day(day, mhw[k, 0], mhw[k, 1], geo[k, 0], geo[k, 1])
                    parts.append(rec)
                    if cfg.figure and day == fig_day:
                        figure = plot_observations(
                            rec, mhw[k, 0], mhw[k, 1] - sla_ref, coords, mask, day,
                            cfg.obs_dir / "figures" / f"obs_{day}.png")
                    bar.update(1)
            records = ObsRecords.concat(parts)
            paths.append(write_obs_year(cfg.obs_dir, year, records, attrs=attrs))
            names, n_each = np.unique(records.platform, return_counts=True)
            counts[year] = dict(zip(names.tolist(), n_each.tolist(), strict=True))
    bar.close()
    folder.close()
    return ObserveSummary(paths, counts, figure, time.perf_counter() - t_start)


def plot_observations(rec: ObsRecords, ssta: np.ndarray, sla: np.ndarray, coords: GridCoords, mask: np.ndarray,
                      day: np.datetime64, path: Path) -> Path:
    """Two maps of one day: SST observations over the true SSTA, altimetry over the true SLA."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), constrained_layout=True)
    vmax_t = float(np.nanpercentile(np.abs(ssta[mask]), 99)) or 1.0
    vmax_h = float(np.nanpercentile(np.abs(sla[mask]), 99)) or 0.1
    style = {"sst_l3": dict(marker="s", s=9, lw=0), "drifter": dict(marker="o", s=28, edgecolors="k", lw=0.6),
             "argo": dict(marker="^", s=45, edgecolors="k", lw=0.8)}
    for ax, field, vmax, unit, title in ((axes[0], ssta, vmax_t, "K", "SSTA"), (axes[1], sla, vmax_h, "m", "SLA")):
        shown = np.where(mask, field, np.nan)
        im = ax.pcolormesh(coords.lon, coords.lat, shown, cmap="RdBu_r", vmin=-vmax, vmax=vmax, shading="nearest",
                           alpha=0.55 if title == "SSTA" else 1.0)
        fig.colorbar(im, ax=ax, label=f"{title} ({unit})")
        ax.set_facecolor("0.8")
        ax.set_title(f"{title}: truth and observations, {day}")
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
    for name, kw in style.items():
        r = rec.of(platform=name)
        if len(r):
            axes[0].scatter(r.lon, r.lat, c=r.value, cmap="RdBu_r", vmin=-vmax_t, vmax=vmax_t, label=f"{name} ({len(r)})",
                            **kw)
    r = rec.of(platform="altimetry")
    axes[1].scatter(r.lon, r.lat, c="k", s=2, label=f"altimetry tracks ({len(r)})")
    for ax in axes:
        ax.legend(loc="lower right", fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def load_observe_config(path: str | Path, overrides: Sequence[str] = ()) -> ObserveConfig:
    """The observe config at ``path`` with ``key=value`` overrides (raises ConfigError)."""
    return load_config(ObserveConfig, path, dict(parse_override(o) for o in overrides))


def main(argv: list[str] | None = None) -> int:
    """``oceane2e observe --config configs/observe.yaml [-o key=value ...] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="oceane2e observe", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/observe.yaml"))
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. -o years=[2001,2002] -o seed=3")
    parser.add_argument("--out", type=Path, default=None, help="observation folder (default: <data root>/obs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        cfg = load_observe_config(args.config, args.override)
        if args.out is not None:
            cfg.out_dir = args.out
    except ConfigError as err:
        print(f"oceane2e observe: {err}", file=sys.stderr)
        return 2
    summary = observe(cfg, progress=not args.no_progress)
    print(f"observations of {len(summary.paths)} year(s) in {cfg.obs_dir} ({summary.seconds:.1f} s):")
    for year, c in summary.counts.items():
        print(f"  {year}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    if summary.figure is not None:
        print(f"figure: {summary.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
