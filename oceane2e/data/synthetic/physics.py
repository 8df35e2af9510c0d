"""The physics of the embedded synthetic ocean (see ``oceane2e.data.synthetic`` and docs/data.md).

Pure numpy building blocks, all in SI units (m, s, K, W m-2, m2 s-1), each a small function or a
small stateful class driven by a ``numpy.random.Generator`` so a seed fixes every byte:

* :class:`Geometry` - grid metrics, the land mask (coast in the north-west plus an island) and the
  coastal taper that makes the streamfunction constant along every coastline.
* :class:`JetModel` - a meandering jet (``u = U sech^2(n / L)``) plus the southern recirculation.
* :class:`EddyField` - Gaussian warm/cold rings and mesoscale eddies that are born, drift
  westward, are carried and absorbed by the jet, and decay.
* :class:`Atmosphere` - seasonal t2m and westerlies + smooth AR(1) anomalies + heat domes.
* :func:`advect_diffuse` - flux-form MUSCL/SSP-RK2 advection by exactly non-divergent face
  transports (differences of the streamfunction at cell corners) plus Laplacian diffusion.
* :func:`air_sea_flux` - bulk net surface heat flux.

Array shapes: ``(H, W)`` fields on the output grid (cell centres); ``(H + 2, W + 2)`` on the halo
grid (one extra ring of cells, used to difference the streamfunction at the region's edges);
``(H + 1, W + 1)`` at cell corners.

Periodic domains (``Geometry.periodic``: the longitudes close the circle, e.g. the circumpolar
channel of the global configuration): the halo columns are copies of the opposite edge columns,
land bodies, coastal distances, noise fields, eddies, heat domes and the jet's meanders all wrap
around, and advection/diffusion exchange across the seam like across any other face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from oceane2e.dates import SECONDS_PER_DAY

EARTH_RADIUS = 6.371e6  # m
OMEGA = 7.2921e-5  # s-1
GRAVITY = 9.81  # m s-2
RHO_AIR = 1.22  # kg m-3
CP_AIR = 1005.0  # J kg-1 K-1
RHO_SEA = 1025.0  # kg m-3
CP_SEA = 3990.0  # J kg-1 K-1
LATENT_HEAT = 2.5e6  # J kg-1
STEFAN_BOLTZMANN = 5.67e-8  # W m-2 K-4
SOLAR_CONSTANT = 1361.0  # W m-2
DAY = SECONDS_PER_DAY  # s
KM = 1000.0  # m
DEG = np.pi / 180.0


# ---------------------------------------------------------------------------------------------
# geometry


def wrap_lon(lon: np.ndarray, west_edge: float) -> np.ndarray:
    """Longitudes (degrees) brought into ``[west_edge, west_edge + 360)``."""
    return west_edge + np.mod(np.asarray(lon, dtype=float) - west_edge, 360.0)


def lon_difference(lon: np.ndarray, lon0: np.ndarray, periodic: bool) -> np.ndarray:
    """``lon - lon0`` in degrees; the shortest way round (in [-180, 180)) when ``periodic``."""
    d = np.asarray(lon, dtype=float) - np.asarray(lon0, dtype=float)
    return np.mod(d + 180.0, 360.0) - 180.0 if periodic else d


def wrap_halo_columns(a: np.ndarray) -> np.ndarray:
    """Set the halo columns of (..., W + 2) to the opposite edge columns (in place; returned)."""
    a[..., 0] = a[..., -2]
    a[..., -1] = a[..., 1]
    return a


def coriolis(lat_deg: np.ndarray) -> np.ndarray:
    """Coriolis parameter f = 2 Omega sin(lat) (s-1)."""
    return 2.0 * OMEGA * np.sin(np.asarray(lat_deg) * DEG)


def land_function(
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    coast_lat_at_lon0: float,
    coast_lon0: float,
    coast_slope: float,
    coast_wiggle_deg: float,
    island_lat: float,
    island_lon: float,
    island_radius_km: float,
) -> np.ndarray:
    """True where (lat, lon) (broadcastable arrays, degrees) is land.

    The coast runs north-east from (``coast_lat_at_lon0``, ``coast_lon0``) with ``coast_slope``
    degrees of latitude per degree of longitude; land lies north-west of it (a wiggle of
    ``coast_wiggle_deg`` adds capes and bays). The island is a disc of ``island_radius_km``.
    """
    coast = coast_lat_at_lon0 + coast_slope * (lon - coast_lon0)
    coast = coast + coast_wiggle_deg * np.sin(2.0 * np.pi * (lon - coast_lon0) / 5.0)
    mainland = lat > coast
    dy = (lat - island_lat) * DEG * EARTH_RADIUS
    dx = (lon - island_lon) * DEG * EARTH_RADIUS * np.cos(island_lat * DEG)
    island = dx**2 + dy**2 < (island_radius_km * KM) ** 2
    return mainland | island


def channel_land_function(
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    south_coast_lat: float,
    south_coast_wiggle_deg: float,
    south_coast_wavenumber: int,
    cape_lon: float,
    cape_tip_lat: float,
    cape_half_width_deg: float,
    island_lat: float,
    island_lon: float,
    island_radius_km: float,
) -> np.ndarray:
    """True where (lat, lon) (broadcastable, degrees) is land in a zonally periodic channel.

    A southern coast (an "Antarctica": land south of ``south_coast_lat`` plus a periodic wiggle of
    ``south_coast_wavenumber`` capes and bays around the circle), a cape reaching south from the
    channel's northern edge to ``cape_tip_lat`` at ``cape_lon`` (a "South America"; the jet passes
    south of it as through Drake Passage), and a round island. Periodic in longitude.
    """
    lon = np.asarray(lon, dtype=float)
    coast = south_coast_lat + south_coast_wiggle_deg * np.sin(south_coast_wavenumber * lon * DEG)
    antarctica = lat < coast
    half = np.maximum(cape_half_width_deg * np.clip((lat - cape_tip_lat) / 5.0, 0.0, 1.0) ** 0.5, 1e-9)
    cape = (np.abs(lon_difference(lon, cape_lon, True)) < half) & (lat > cape_tip_lat)
    dy = (lat - island_lat) * DEG * EARTH_RADIUS
    dx = lon_difference(lon, island_lon, True) * DEG * EARTH_RADIUS * np.cos(island_lat * DEG)
    island = dx**2 + dy**2 < (island_radius_km * KM) ** 2
    return antarctica | cape | island


def _periodic_labels(land: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected land bodies of (H, W) ``land`` on a cylinder (x wraps): labels 1..n, 0 = ocean."""
    from scipy import ndimage

    labels, n = ndimage.label(land)
    parent = list(range(n + 1))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i in np.flatnonzero(land[:, 0] & land[:, -1]):
        a, b = find(int(labels[i, 0])), find(int(labels[i, -1]))
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = np.array([find(k) for k in range(n + 1)])
    _, dense = np.unique(roots, return_inverse=True)
    return dense[labels].reshape(labels.shape), int(dense.max())


@dataclass
class Geometry:
    """Grid metrics and the coastal taper of the streamfunction.

    Attributes (H, W = output grid; halo = (H + 2, W + 2)):
        lat, lon: (H,), (W,) cell-centre degrees. lat_h, lon_h: (H + 2,), (W + 2,) halo centres.
        dlat, dlon: grid spacing (degrees).
        ocean: (H, W) bool mask (True = ocean). land_h: halo land mask.
        area: (H, 1) cell areas (m2) (independent of longitude).
        dx: (H, 1) zonal cell width (m) at the centres; dy: meridional cell height (m).
        taper_h: (halo) coastal taper r in [0, 1]; 0 on land and on the first ring of ocean cells,
            rising smoothly to 1 over ``coastal_ramp_km``.
        body_h: (halo) int label of the nearest land body (0 .. n_bodies - 1) for every cell.
        n_bodies: number of connected land bodies.
    """

    lat: np.ndarray
    lon: np.ndarray
    lat_h: np.ndarray
    lon_h: np.ndarray
    dlat: float
    dlon: float
    ocean: np.ndarray
    land_h: np.ndarray
    area: np.ndarray
    dx: np.ndarray
    dy: float
    taper_h: np.ndarray
    body_h: np.ndarray
    n_bodies: int
    dist_land_h_km: np.ndarray = field(repr=False)
    periodic: bool = False

    @classmethod
    def build(
        cls,
        lat: np.ndarray,
        lon: np.ndarray,
        land_kwargs: dict,
        coastal_ramp_km: float,
        periodic: bool = False,
        land_fn: Callable[..., np.ndarray] = land_function,
    ) -> Geometry:
        """Metrics and coast of the grid ``lat`` (H,) x ``lon`` (W,) (degrees, cell centres).

        ``land_fn(lat, lon, **land_kwargs)`` says where land is; ``periodic`` makes x wrap around
        (the longitudes must then close the circle).
        """
        from scipy import ndimage

        dlat = float(lat[1] - lat[0])
        dlon = float(lon[1] - lon[0])
        lat_h = np.concatenate([[lat[0] - dlat], lat, [lat[-1] + dlat]])
        lon_h = np.concatenate([[lon[0] - dlon], lon, [lon[-1] + dlon]])
        land_h = land_fn(lat_h[:, None], lon_h[None, :], **land_kwargs)
        if periodic:
            land_h = wrap_halo_columns(land_h.copy())
        ocean = ~land_h[1:-1, 1:-1]
        if not ocean.any():
            raise ValueError("the synthetic region has no ocean; move the coastline or the region bounds")
        dy = EARTH_RADIUS * dlat * DEG
        dx_mean = EARTH_RADIUS * dlon * DEG * float(np.cos(np.mean(lat) * DEG))
        # distance (km) of every halo cell centre to the nearest land cell centre
        if land_h.any() and periodic:
            # on a cylinder: the columns tiled three times, the middle copy kept
            core = land_h[:, 1:-1]
            w = core.shape[1]
            labels, n_bodies = _periodic_labels(core)
            dist, (ii, jj) = ndimage.distance_transform_edt(
                ~np.tile(core, (1, 3)), sampling=(dy / KM, dx_mean / KM), return_indices=True
            )
            mid = slice(w, 2 * w)
            body = labels[ii[:, mid], jj[:, mid] % w] - 1
            dist = dist[:, mid]
            dist = np.concatenate([dist[:, -1:], dist, dist[:, :1]], axis=1)
            body_h = np.concatenate([body[:, -1:], body, body[:, :1]], axis=1)
        elif land_h.any():
            dist, (ii, jj) = ndimage.distance_transform_edt(
                ~land_h, sampling=(dy / KM, dx_mean / KM), return_indices=True
            )
            labels, n_bodies = ndimage.label(land_h)
            body_h = labels[ii, jj] - 1
        else:
            dist = np.full(land_h.shape, np.inf)
            n_bodies = 0
            body_h = np.zeros(land_h.shape, dtype=int)
        # first ring of ocean cells (also diagonal neighbours) stays at the coastal value exactly,
        # so centred differences and corner-streamfunction transports vanish on every coastal face
        d0 = 1.5 * max(dy, dx_mean) / KM
        excess = np.clip(dist - d0, 0.0, None)
        taper_h = np.where(dist > d0, 1.0 - np.exp(-((excess / coastal_ramp_km) ** 2)), 0.0)
        lat_s = (lat - dlat / 2) * DEG
        lat_n = (lat + dlat / 2) * DEG
        area = (EARTH_RADIUS**2 * dlon * DEG * (np.sin(lat_n) - np.sin(lat_s)))[:, None]
        dx = (EARTH_RADIUS * dlon * DEG * np.cos(lat * DEG))[:, None]
        return cls(
            lat=lat,
            lon=lon,
            lat_h=lat_h,
            lon_h=lon_h,
            dlat=dlat,
            dlon=dlon,
            ocean=ocean,
            land_h=land_h,
            area=area,
            dx=dx,
            dy=dy,
            taper_h=taper_h,
            body_h=body_h,
            n_bodies=int(n_bodies),
            dist_land_h_km=dist,
            periodic=periodic,
        )

    def apply_coast(self, psi_h: np.ndarray) -> np.ndarray:
        """Make the streamfunction constant along every coastline (no normal flow into land).

        Each land body k takes the constant c_k = mean of ``psi_h`` over its cells; the ocean
        blends to it through the taper: psi = c + r (psi - c), with c of the nearest body.
        """
        if self.n_bodies == 0:
            return psi_h
        labels = np.where(self.land_h, self.body_h, self.n_bodies)
        sums = np.bincount(labels.ravel(), weights=psi_h.ravel(), minlength=self.n_bodies + 1)
        counts = np.bincount(labels.ravel(), minlength=self.n_bodies + 1)
        const = sums[: self.n_bodies] / np.maximum(counts[: self.n_bodies], 1)
        c = const[self.body_h]
        return c + self.taper_h * (psi_h - c)


def centre_velocity(psi_h: np.ndarray, geom: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre velocities (m s-1) from the halo streamfunction (m2 s-1) by centred differences.

    u = -(1/R) dpsi/dphi, v = 1/(R cos phi) dpsi/dlambda; shapes (H, W). The spherical
    divergence of (u, v) by the same centred differences is zero to round-off.
    """
    u = -(psi_h[2:, 1:-1] - psi_h[:-2, 1:-1]) / (2.0 * geom.dy)
    v = (psi_h[1:-1, 2:] - psi_h[1:-1, :-2]) / (2.0 * geom.dx)
    return u, v


def face_transports(psi_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volume transports per unit depth (m2 s-1) through the cell faces.

    Corner streamfunction = mean of the four surrounding halo cells. East-west faces ``fx``
    (H, W + 1): eastward transport through the face west of cell j = -(psi_NW - psi_SW).
    North-south faces ``fy`` (H + 1, W): northward transport through the face south of cell i
    = psi_SE - psi_SW. Their sum around every cell telescopes to exactly zero.
    """
    pc = 0.25 * (psi_h[:-1, :-1] + psi_h[1:, :-1] + psi_h[:-1, 1:] + psi_h[1:, 1:])  # (H + 1, W + 1)
    fx = -(pc[1:, :] - pc[:-1, :])
    fy = pc[:, 1:] - pc[:, :-1]
    return fx, fy


# ---------------------------------------------------------------------------------------------
# stochastic helpers


class SmoothNoise:
    """Spatially smooth Gaussian random fields with AR(1) time correlation.

    White noise on a padded grid (twice the region, so the FFT's periodicity does not show) is
    filtered in Fourier space by exp(-k^2 ell^2 / 2) (a Gaussian correlation exp(-r^2 / 4 ell^2)), and
    the Fourier coefficients follow a_{t+1} = phi a_t + sqrt(1 - phi^2) eps_t with
    phi = exp(-1 day / tau). Every output field has unit variance.

    Args:
        shape: (H, W) of the region. dy_m, dx_m: grid spacing (m).
        length_m: correlation length ell (m). tau_days: decorrelation time (days).
        rng: random generator (owned by this object).
        periodic_x: the fields are periodic in x (no padding in x: the FFT's own periodicity).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        dy_m: float,
        dx_m: float,
        length_m: float,
        tau_days: float,
        rng: np.random.Generator,
        periodic_x: bool = False,
    ) -> None:
        self.shape = shape
        self.pad = (max(2 * shape[0], 16), shape[1] if periodic_x else max(2 * shape[1], 16))
        ky = 2 * np.pi * np.fft.fftfreq(self.pad[0], d=dy_m)[:, None]
        kx = 2 * np.pi * np.fft.rfftfreq(self.pad[1], d=dx_m)[None, :]
        self.kx, self.ky = kx, ky
        self.filt = np.exp(-0.5 * (kx**2 + ky**2) * length_m**2)
        self.phi = float(np.exp(-1.0 / tau_days))
        self.rng = rng
        self.mult = {"a": np.ones_like(kx * ky), "-d/dy": -1j * ky + 0 * kx, "d/dx": 1j * kx + 0 * ky}
        # standard deviation of irfft2(rfft2(white) * filt * mult): sum of |filt * mult|^2 over the
        # full (Hermitian) spectrum divided by the number of points
        weight = np.full(self.filt.shape, 2.0)
        weight[:, 0] = 1.0
        if self.pad[1] % 2 == 0:
            weight[:, -1] = 1.0
        n_points = self.pad[0] * self.pad[1]
        self.norm = {
            k: float(np.sqrt((np.abs(self.filt * m) ** 2 * weight).sum() / n_points))
            for k, m in self.mult.items()
        }
        self.state = self._white()

    def _white(self) -> np.ndarray:
        return np.fft.rfft2(self.rng.standard_normal(self.pad)) * self.filt

    def step(self) -> None:
        """Advance one day."""
        self.state = self.phi * self.state + np.sqrt(1.0 - self.phi**2) * self._white()

    def fields(self, derivatives: bool = False) -> tuple[np.ndarray, ...]:
        """Unit-variance field a, or (a, -da/dy, da/dx) each scaled to unit variance, (H, W)."""
        names = ("a", "-d/dy", "d/dx") if derivatives else ("a",)
        out = []
        for name in names:
            spec = self.state if name == "a" else self.state * self.mult[name]
            f = np.fft.irfft2(spec, s=self.pad)[: self.shape[0], : self.shape[1]]
            out.append(f / self.norm[name])
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# ocean dynamics: jet + eddies


@dataclass
class JetParams:
    speed: float  # core speed U (m s-1)
    half_width_m: float  # L in u = U sech^2(n / L) (m); full width at half maximum = 1.763 L
    path_lat0: float  # mean path latitude at path_lon0 (deg)
    path_lon0: float
    path_rise_deg: float  # the mean path rises by this much ...
    path_rise_scale_deg: float  # ... with this e-folding in longitude
    meander_amp_m: float  # rms meander amplitude far downstream (m)
    meander_growth_m: float  # e-folding distance of meander growth from the separation point (m)
    meander_wavelengths_m: tuple[float, ...]
    meander_phase_speed: float  # eastward phase speed (m s-1)
    meander_tau_days: float  # decorrelation time of meander amplitudes (days)
    shift_std_m: float  # rms slow meridional shift of the whole path (m)
    shift_tau_days: float
    speed_std_frac: float  # rms relative fluctuation of U
    recirc_speed: float  # peak westward speed of the southern recirculation (m s-1)
    recirc_offset_m: float  # distance of the recirculation centre south of the jet (m)
    recirc_width_m: float
    periodic: bool = False  # zonally periodic domain: see JetModel


class JetModel:
    """A meandering jet: psi = -U L tanh(n / L) + southern recirculation gyre.

    ``n`` is the (signed, north positive) distance across the jet axis, approximated as the
    meridional distance times cos(path angle). The axis is the mean path plus meanders: a sum of
    eastward-propagating waves with complex Ornstein-Uhlenbeck amplitudes whose envelope grows
    downstream, plus a slow shift of the whole path.

    In a periodic domain (``p.periodic``) the path closes on itself: the mean path is ``path_lat0``
    plus a stationary wavenumber-1 excursion of ``path_rise_deg``, the meander wavelengths are
    rounded to whole numbers of waves around the latitude circle of ``path_lat0``, and their
    envelope is uniform (no separation point to grow from).
    """

    def __init__(self, p: JetParams, rng: np.random.Generator) -> None:
        self.p = p
        self.rng = rng
        self.k = 2 * np.pi / np.asarray(p.meander_wavelengths_m, dtype=float)
        if p.periodic:
            circle = 2 * np.pi * EARTH_RADIUS * np.cos(p.path_lat0 * DEG)
            self.k = 2 * np.pi * np.maximum(np.round(circle * self.k / (2 * np.pi)), 1.0) / circle
        self.z = (rng.standard_normal(self.k.size) + 1j * rng.standard_normal(self.k.size)) / np.sqrt(2)
        self.phi_m = float(np.exp(-1.0 / p.meander_tau_days))
        self.shift = 0.0
        self.phi_s = float(np.exp(-1.0 / p.shift_tau_days))
        self.speed_anom = 0.0
        self.t_s = 0.0

    def step(self) -> None:
        """Advance one day."""
        rng = self.rng
        noise = (rng.standard_normal(self.k.size) + 1j * rng.standard_normal(self.k.size)) / np.sqrt(2)
        self.z = self.phi_m * self.z + np.sqrt(1 - self.phi_m**2) * noise
        self.shift = self.phi_s * self.shift + np.sqrt(1 - self.phi_s**2) * rng.standard_normal()
        self.speed_anom = self.phi_s * self.speed_anom + np.sqrt(1 - self.phi_s**2) * rng.standard_normal()
        self.t_s += DAY

    def mean_path(self, lon: np.ndarray) -> np.ndarray:
        p = self.p
        if p.periodic:
            return p.path_lat0 + p.path_rise_deg * np.sin((np.asarray(lon, dtype=float) - p.path_lon0) * DEG)
        rel = np.clip(lon - p.path_lon0, 0.0, None)
        return p.path_lat0 + p.path_rise_deg * (1.0 - np.exp(-rel / p.path_rise_scale_deg))

    def deviation(self, lon: np.ndarray) -> np.ndarray:
        """Meander displacement of the axis (m, north positive) at ``lon`` (deg)."""
        p = self.p
        if p.periodic:  # along the circle of path_lat0, so that whole waves fit around it
            s = (np.asarray(lon, dtype=float) - p.path_lon0) * DEG * EARTH_RADIUS * np.cos(p.path_lat0 * DEG)
            env = np.full(np.shape(s), p.meander_amp_m)
        else:
            s = (lon - p.path_lon0) * DEG * EARTH_RADIUS * np.cos(self.mean_path(lon) * DEG)  # along-path (m)
            env = p.meander_amp_m * (1.0 - np.exp(-np.clip(s, 0.0, None) / p.meander_growth_m))
        phase = self.k[None, :] * s[:, None] - self.k[None, :] * p.meander_phase_speed * self.t_s
        waves = np.real(self.z[None, :] * np.exp(1j * phase)).sum(axis=1) * np.sqrt(2.0 / self.k.size)
        return env * waves + p.shift_std_m * self.shift

    def axis_lat(self, lon: np.ndarray) -> np.ndarray:
        """Latitude (deg) of the jet axis at ``lon`` (deg)."""
        return self.mean_path(lon) + self.deviation(lon) / (EARTH_RADIUS * DEG)

    def axis(self, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Axis latitude (deg) and the unit vector (east, north) along the path at ``lon`` (deg)."""
        lon = np.asarray(lon, dtype=float)
        lat_j = self.axis_lat(lon)
        eps = 0.02
        dlat = (self.axis_lat(lon + eps) - self.axis_lat(lon - eps)) * DEG * EARTH_RADIUS
        dx = 2 * eps * DEG * EARTH_RADIUS * np.cos(lat_j * DEG)
        norm = np.hypot(dx, dlat)
        return lat_j, dx / norm, dlat / norm

    @property
    def speed(self) -> float:
        return self.p.speed * (1.0 + self.p.speed_std_frac * self.speed_anom)

    def cross_distance(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Signed distance n (m) of points (lat (Ny, 1), lon (Nx,)) from the axis."""
        lat_j, cos_a, _ = self.axis(lon)
        return (lat - lat_j) * DEG * EARTH_RADIUS * cos_a

    def psi(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Streamfunction (m2 s-1) on the grid lat (Ny,) x lon (Nx,)."""
        p = self.p
        n = self.cross_distance(lat[:, None], lon)
        jet = -self.speed * p.half_width_m * np.tanh(n / p.half_width_m)
        # southern recirculation: a steady anticyclonic gyre along the mean path (the meanders do
        # not move it), centred recirc_offset south of it
        n_mean = (lat[:, None] - self.mean_path(lon)[None, :]) * DEG * EARTH_RADIUS
        amp = p.recirc_speed * p.recirc_width_m / (np.sqrt(2.0) * np.exp(-0.5))
        rec = amp * np.exp(-(((n_mean + p.recirc_offset_m) / p.recirc_width_m) ** 2))
        return jet + rec

    def velocity_at(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Jet velocity (m s-1) at points (1-D arrays of equal length), from the analytic profile."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        lat_j, cos_a, sin_a = self.axis(lon)
        n = (lat - lat_j) * DEG * EARTH_RADIUS * cos_a
        speed = self.speed / np.cosh(np.clip(n / self.p.half_width_m, -30, 30)) ** 2
        return speed * cos_a, speed * sin_a, n


@dataclass
class EddyParams:
    birth_rate_per_day: float  # mesoscale eddies born per day in the region
    radius_m: tuple[float, float]  # e-folding radius range R of psi = A exp(-r^2 / R^2) (m)
    speed: tuple[float, float]  # peak swirl speed range (m s-1)
    lifetime_days: tuple[float, float]  # e-folding decay time range (days)
    ring_rate_per_day: float  # probability per day of a warm and (independently) a cold ring
    ring_radius_m: tuple[float, float]
    ring_speed: tuple[float, float]
    ring_lifetime_days: tuple[float, float]
    ring_threshold_m: float  # a ring pinches off only from a meander deviating more than this (m)
    growth_days: float  # amplitude grows as 1 - exp(-age / growth_days)
    drift_west: float  # westward (beta) drift speed (m s-1)
    drift_meridional: float  # cyclones drift poleward, anticyclones equatorward (m s-1)
    jet_entrainment: float  # fraction of the local jet velocity carrying an eddy
    jet_absorption_days: float  # e-folding time of an eddy sitting on the jet axis
    coast_absorption_days: float  # e-folding time of an eddy touching the coast


class EddyField:
    """A population of Gaussian eddies psi_e = A s(t) g(age) exp(-r^2 / R^2).

    Anticyclones (A > 0, clockwise, high sea level) and cyclones (A < 0). Peak swirl speed is
    0.858 |A| / R at r = R / sqrt(2). Each day eddies are born (Poisson; uniformly over open ocean
    with a strength that peaks near the jet), rings pinch off meander crests (warm, north of the
    jet) and troughs (cold, south), every eddy drifts (westward beta drift + part of the jet
    velocity), and its strength s decays with its own lifetime, faster on the jet axis (absorption)
    and at the coast. Eddies below 5 % strength or outside the region are removed.
    """

    def __init__(self, p: EddyParams, rng: np.random.Generator, periodic: bool = False) -> None:
        self.p = p
        self.rng = rng
        self.periodic = periodic  # zonally periodic domain: positions and distances wrap around
        self.lat = np.zeros(0)
        self.lon = np.zeros(0)
        self.amp = np.zeros(0)
        self.radius = np.zeros(0)
        self.tau = np.zeros(0)
        self.age = np.zeros(0)
        self.strength = np.zeros(0)
        self.is_ring = np.zeros(0, dtype=bool)

    def _add(
        self,
        lat: np.ndarray | float,
        lon: np.ndarray | float,
        amp: np.ndarray | float,
        radius: np.ndarray | float,
        tau: np.ndarray | float,
        ring: bool,
    ) -> None:
        """Append eddies (positions in degrees, amp in m2 s-1, radius in m, tau in days)."""
        n = np.size(lat)
        for name, value in (("lat", lat), ("lon", lon), ("amp", amp), ("radius", radius), ("tau", tau)):
            setattr(
                self, name, np.append(getattr(self, name), np.broadcast_to(np.asarray(value, float), (n,)))
            )
        self.age = np.append(self.age, np.zeros(n))
        self.strength = np.append(self.strength, np.ones(n))
        self.is_ring = np.append(self.is_ring, np.full(n, ring))

    def _keep(self, keep: np.ndarray) -> None:
        for name in ("lat", "lon", "amp", "radius", "tau", "age", "strength", "is_ring"):
            setattr(self, name, getattr(self, name)[keep])

    def step(self, geom: Geometry, jet: JetModel) -> None:
        """Advance one day: births, drift, decay, removal."""
        p, rng = self.p, self.rng
        # --- births of mesoscale eddies, uniformly over the open ocean (taper > 0.9)
        n_new = rng.poisson(p.birth_rate_per_day)
        open_idx = np.flatnonzero(geom.taper_h[1:-1, 1:-1] > 0.9)
        if n_new and open_idx.size:
            cells = open_idx[rng.integers(0, open_idx.size, n_new)]
            i, j = np.unravel_index(cells, geom.ocean.shape)
            lat = geom.lat[i] + (rng.random(n_new) - 0.5) * geom.dlat
            lon = geom.lon[j] + (rng.random(n_new) - 0.5) * geom.dlon
            radius = rng.uniform(*p.radius_m, n_new)
            n_jet = jet.velocity_at(lat, lon)[2]
            near = 0.35 + 0.65 * np.exp(-((n_jet / 300e3) ** 2))
            speed = rng.uniform(*p.speed, n_new) * near
            sign = np.where(rng.random(n_new) < 0.5, 1.0, -1.0)
            amp = sign * speed * radius / (np.sqrt(2.0) * np.exp(-0.5))
            tau = rng.uniform(*p.lifetime_days, n_new)
            self._add(lat, lon, amp, radius, tau, ring=False)
        # --- rings pinch off the largest meander crest (warm) / trough (cold)
        lon_line = geom.lon
        dev = jet.deviation(lon_line)
        lat_j = jet.axis_lat(lon_line)
        for warm in (True, False):
            draw = rng.random()
            radius = rng.uniform(*p.ring_radius_m)
            speed = rng.uniform(*p.ring_speed)
            tau = rng.uniform(*p.ring_lifetime_days)
            if draw >= p.ring_rate_per_day:
                continue
            j = int(np.argmax(dev)) if warm else int(np.argmin(dev))
            if (dev[j] if warm else -dev[j]) < p.ring_threshold_m:
                continue
            offset = (radius * 1.6 + jet.p.half_width_m) / (EARTH_RADIUS * DEG)
            lat = lat_j[j] + (offset if warm else -offset)
            i = int(np.argmin(np.abs(geom.lat - lat)))
            if not (geom.lat[0] <= lat <= geom.lat[-1]) or geom.taper_h[i + 1, j + 1] < 0.5:
                continue
            amp = (1.0 if warm else -1.0) * speed * radius / (np.sqrt(2.0) * np.exp(-0.5))
            self._add(lat, lon_line[j], amp, radius, tau, ring=True)
        if self.lat.size == 0:
            return
        # --- drift: beta drift + entrainment by the jet
        uj, vj, n = jet.velocity_at(self.lat, self.lon)
        sign = np.sign(self.amp)
        u = -p.drift_west + p.jet_entrainment * uj
        v = -sign * p.drift_meridional + p.jet_entrainment * vj
        self.lat = self.lat + v * DAY / (EARTH_RADIUS * DEG)
        self.lon = self.lon + u * DAY / (EARTH_RADIUS * DEG * np.cos(self.lat * DEG))
        if self.periodic:
            self.lon = wrap_lon(self.lon, geom.lon[0] - 0.5 * geom.dlon)
        # --- decay: own lifetime, absorption on the jet axis and at the coast
        on_jet = np.exp(-((n / (self.radius + jet.p.half_width_m)) ** 2))
        i = np.clip(np.searchsorted(geom.lat_h, self.lat), 0, geom.lat_h.size - 1)
        j = np.clip(np.searchsorted(geom.lon_h, self.lon), 0, geom.lon_h.size - 1)
        coast = geom.dist_land_h_km[i, j] * KM < self.radius
        rate = 1.0 / self.tau + on_jet / p.jet_absorption_days + coast / p.coast_absorption_days
        self.strength = self.strength * np.exp(-rate)
        self.age = self.age + 1.0
        margin_lat = 2.0 * self.radius / (EARTH_RADIUS * DEG)
        margin_lon = margin_lat / np.cos(self.lat * DEG)
        inside = (self.lat > geom.lat_h[0] - margin_lat) & (self.lat < geom.lat_h[-1] + margin_lat)
        if not self.periodic:
            inside &= (self.lon > geom.lon_h[0] - margin_lon) & (self.lon < geom.lon_h[-1] + margin_lon)
        self._keep((self.strength > 0.05) & inside)

    def psi(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Sum of the eddies' streamfunctions (m2 s-1) on lat (Ny,) x lon (Nx,).

        Each Gaussian is separable (zonal distances use the cosine of the eddy's latitude), so the
        sum is one matrix product (Ny, E) @ (E, Nx).
        """
        if self.lat.size == 0:
            return np.zeros((lat.size, lon.size))
        a = self.amp * self.strength * (1.0 - np.exp(-self.age / self.p.growth_days))
        dy = (lat[:, None] - self.lat[None, :]) * DEG * EARTH_RADIUS
        dlon = lon_difference(lon[:, None], self.lon[None, :], self.periodic)
        dx = dlon * DEG * EARTH_RADIUS * np.cos(self.lat * DEG)[None, :]
        gy = np.exp(-((dy / self.radius) ** 2)) * a
        gx = np.exp(-((dx / self.radius) ** 2))
        return gy @ gx.T


# ---------------------------------------------------------------------------------------------
# atmosphere


@dataclass
class AtmosParams:
    t2m_mean_k: tuple[float, float]  # annual-mean t2m at the south and north edge of 32-44N (K)
    t2m_amp_k: tuple[float, float]  # seasonal amplitude at the south and north (K)
    t2m_peak_doy: float
    westerly_mean: tuple[float, float]  # annual-mean u10 at the south and north (m s-1)
    westerly_winter_frac: float  # relative strengthening of the westerlies in winter
    southerly_summer: float  # summer southerly v10 (m s-1)
    anomaly_length_m: float
    anomaly_tau_days: float
    t2m_anomaly_std: float  # K
    wind_anomaly_std: float  # m s-1
    t2m_wind_correlation: float  # correlation of t2m anomalies with southerly wind anomalies
    slow_t2m_std: float  # std of the slow (weather-regime) t2m anomaly (K)
    slow_length_m: float
    slow_tau_days: float
    dome_rate_per_year: float
    dome_duration_days: tuple[float, float]
    dome_amplitude_k: tuple[float, float]
    dome_radius_m: tuple[float, float]
    dome_wind_reduction: float  # fraction of the wind removed at a dome's centre
    dome_extra_shortwave: float  # relative increase of shortwave under a dome (clear skies)
    season_offset_days: float = 0.0  # shift of the built-in seasonal timings (182.5: southern hemisphere)
    ref_lat: tuple[float, float] = (32.0, 44.0)


def _lat_interp(lat: np.ndarray, pair: tuple[float, float], ref: tuple[float, float]) -> np.ndarray:
    w = (np.asarray(lat) - ref[0]) / (ref[1] - ref[0])
    return pair[0] + (pair[1] - pair[0]) * w


class Atmosphere:
    """Daily u10, v10 (m s-1), t2m (K) and a heat-dome footprint in [0, 1], shapes (H, W).

    Seasonal climatology + smooth AR(1) anomalies (winds non-divergent, from an anomaly
    streamfunction; t2m partly correlated with the southerly wind) + a slow, larger-scale t2m
    anomaly (persistent weather regimes) + heat domes: Gaussian
    footprints lasting weeks with t2m raised by 3-6 K, winds weakened and skies cleared.
    Domes start by a Poisson process whose rate peaks in summer.
    """

    def __init__(self, p: AtmosParams, geom: Geometry, rng: np.random.Generator) -> None:
        self.p = p
        self.geom = geom
        self.rng = rng
        shape = geom.ocean.shape
        dx = float(np.mean(geom.dx))
        per = geom.periodic
        self.wind_noise = SmoothNoise(shape, geom.dy, dx, p.anomaly_length_m, p.anomaly_tau_days, rng, per)
        self.t_noise = SmoothNoise(shape, geom.dy, dx, p.anomaly_length_m, p.anomaly_tau_days, rng, per)
        self.slow_noise = SmoothNoise(shape, geom.dy, dx, p.slow_length_m, p.slow_tau_days, rng, per)
        self.domes: list[dict] = []
        self.lat2 = geom.lat[:, None] * np.ones((1, geom.lon.size))
        self.lon2 = np.ones((geom.lat.size, 1)) * geom.lon[None, :]

    def _season(self, doy: float, peak: float) -> float:
        return float(np.cos(2 * np.pi * (doy - peak) / 365.25))

    def step(self, doy: float) -> dict[str, np.ndarray]:
        """Advance one day and return the fields of the new day (day-of-year ``doy``, 1-based)."""
        p, rng = self.p, self.rng
        self.wind_noise.step()
        self.t_noise.step()
        self.slow_noise.step()
        lat = self.lat2
        t_clim = _lat_interp(lat, p.t2m_mean_k, p.ref_lat) + _lat_interp(
            lat, p.t2m_amp_k, p.ref_lat
        ) * self._season(doy, p.t2m_peak_doy)
        u_clim = _lat_interp(lat, p.westerly_mean, p.ref_lat) * (
            1 + p.westerly_winter_frac * self._season(doy, 15.0 + p.season_offset_days)
        )
        v_clim = p.southerly_summer * max(0.0, self._season(doy, 200.0 + p.season_offset_days)) * np.ones_like(lat)
        _, du, dv = self.wind_noise.fields(derivatives=True)
        (tn,) = self.t_noise.fields()
        s = p.wind_anomaly_std / np.sqrt(2.0)
        u10 = u_clim + s * du
        v10 = v_clim + s * dv
        rho = p.t2m_wind_correlation
        t_anom = p.t2m_anomaly_std * (rho * dv + np.sqrt(1 - rho**2) * tn)
        t_anom = t_anom + p.slow_t2m_std * self.slow_noise.fields()[0]
        # heat domes: start (Poisson, summer-weighted), age, footprint
        weight = 0.15 + 0.85 * max(0.0, self._season(doy, 205.0 + p.season_offset_days)) ** 2
        mean_weight = 0.15 + 0.85 * 0.25  # mean over the year of the expression above
        n_start = rng.poisson(p.dome_rate_per_year / 365.25 * weight / mean_weight)
        for _ in range(n_start):
            self.domes.append(
                {
                    "lat": rng.uniform(self.geom.lat[0], self.geom.lat[-1]),
                    "lon": rng.uniform(self.geom.lon[0], self.geom.lon[-1]),
                    "radius": rng.uniform(*p.dome_radius_m),
                    "duration": rng.uniform(*p.dome_duration_days),
                    "amp": rng.uniform(*p.dome_amplitude_k),
                    "age": 0.0,
                }
            )
        dome = np.zeros_like(lat)
        dome_t = np.zeros_like(lat)
        for d in self.domes:
            d["age"] += 1.0
            # smooth onset and decay over ~3 days
            env = 0.5 * (np.tanh((d["age"] - 2.0) / 1.5) - np.tanh((d["age"] - d["duration"]) / 1.5))
            dy = (lat - d["lat"]) * DEG * EARTH_RADIUS
            dx = lon_difference(self.lon2, d["lon"], self.geom.periodic) * DEG * EARTH_RADIUS * np.cos(d["lat"] * DEG)
            g = env * np.exp(-(dx**2 + dy**2) / d["radius"] ** 2)
            dome = np.maximum(dome, g)
            dome_t = dome_t + d["amp"] * g
        self.domes = [d for d in self.domes if d["age"] < d["duration"] + 6.0]
        calm = 1.0 - p.dome_wind_reduction * dome
        return {
            "u10": u10 * calm,
            "v10": v10 * calm,
            "t2m": t_clim + t_anom + dome_t,
            "dome": dome,
        }


# ---------------------------------------------------------------------------------------------
# mixed layer


def daily_insolation(lat_deg: np.ndarray, doy: float) -> np.ndarray:
    """Daily-mean top-of-atmosphere insolation (W m-2) at ``lat_deg`` on day-of-year ``doy``."""
    decl = 23.44 * DEG * np.sin(2 * np.pi * (doy - 81.0) / 365.25)
    phi = np.asarray(lat_deg) * DEG
    h0 = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1.0, 1.0))
    return (
        SOLAR_CONSTANT / np.pi * (h0 * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(h0))
    )


def saturation_humidity(t_k: np.ndarray) -> np.ndarray:
    """Saturation specific humidity (kg kg-1) at temperature ``t_k`` (K), sea-level pressure."""
    tc = t_k - 273.15
    e_s = 611.2 * np.exp(17.67 * tc / (tc + 243.5))
    return 0.622 * e_s / (101325.0 - 0.378 * e_s)


@dataclass
class MixedLayerParams:
    transmissivity: float  # fraction of TOA insolation absorbed at the surface (clouds, albedo)
    longwave_net: float  # net longwave loss at T = t2m (W m-2)
    exchange_coeff: float  # bulk transfer coefficient C_H = C_E
    gustiness: float  # added to the wind speed (m s-1)
    relative_humidity: float
    mld_summer_m: float
    mld_winter_m: float
    mld_deepest_doy: float
    relax_days: float  # relaxation time to the climatological front (days)
    sst_bg_k: tuple[float, float]  # background SST at the south / north edge (annual mean, K)
    sst_bg_amp_k: tuple[float, float]  # its seasonal amplitude (K)
    sst_bg_peak_doy: float
    front_k_per_m: float  # gamma: subsurface temperature change per metre of sea level (K m-1)
    diffusivity: float  # m2 s-1
    noise_flux_std: float  # W m-2
    noise_length_m: float
    noise_tau_days: float
    subsurface_std_k: float  # std of slow subsurface (entrained water) temperature anomalies (K)
    subsurface_length_m: float
    subsurface_tau_days: float
    max_courant: float
    ref_lat: tuple[float, float] = (32.0, 44.0)


def mixed_layer_depth(p: MixedLayerParams, doy: float) -> float:
    """Seasonal mixed-layer depth (m): deep in late winter, a shallow plateau in summer."""
    c = 0.5 * (1.0 + np.cos(2 * np.pi * (doy - p.mld_deepest_doy) / 365.25))
    return float(p.mld_summer_m + (p.mld_winter_m - p.mld_summer_m) * c**2)


def reference_sst(p: MixedLayerParams, lat: np.ndarray, doy: float, zos: np.ndarray) -> np.ndarray:
    """Temperature the mixed layer relaxes to (K): background + gamma * zos (the front and rings).

    Sea level and upper-ocean heat content go together (thermal wind: the jet is the front), so
    the water entrained from below is warm under high sea level (south of the jet, in warm rings)
    and cold under low sea level. The front therefore moves with the jet's meanders.
    """
    season = np.cos(2 * np.pi * (doy - p.sst_bg_peak_doy) / 365.25)
    bg = _lat_interp(lat, p.sst_bg_k, p.ref_lat) + _lat_interp(lat, p.sst_bg_amp_k, p.ref_lat) * season
    return bg + p.front_k_per_m * zos


def air_sea_flux(
    sst: np.ndarray, t2m: np.ndarray, wind_speed: np.ndarray, shortwave: np.ndarray, p: MixedLayerParams
) -> np.ndarray:
    """Net downward surface heat flux (W m-2): shortwave - longwave + sensible + latent (bulk)."""
    w = wind_speed + p.gustiness
    sensible = RHO_AIR * CP_AIR * p.exchange_coeff * w * (t2m - sst)
    latent = (
        -RHO_AIR
        * LATENT_HEAT
        * p.exchange_coeff
        * w
        * (saturation_humidity(sst) - p.relative_humidity * saturation_humidity(t2m))
    )
    longwave = -p.longwave_net - 4.0 * 0.97 * STEFAN_BOLTZMANN * t2m**3 * (sst - t2m)
    return shortwave + longwave + sensible + latent


def _limited_slopes(t: np.ndarray, axis: int) -> np.ndarray:
    """Van Leer limited slopes of the padded array ``t`` along ``axis`` (drops one cell each end)."""
    d = np.diff(t, axis=axis)
    lo = [slice(None)] * 2
    hi = [slice(None)] * 2
    lo[axis] = slice(None, -1)
    hi[axis] = slice(1, None)
    dl, dr = d[tuple(lo)], d[tuple(hi)]
    prod = dl * dr
    return np.where(prod > 0, 2.0 * prod / np.where(prod > 0, dl + dr, 1.0), 0.0)


def _pad_edge(t: np.ndarray, buf: np.ndarray, periodic: bool = False) -> np.ndarray:
    """Copy ``t`` (H, W) into ``buf`` (H + 4, W + 4) with two edge-replicated ghost cells per side
    (in x the wrapped-around columns if ``periodic``)."""
    buf[2:-2, 2:-2] = t
    if periodic:
        buf[2:-2, :2] = t[:, -2:]
        buf[2:-2, -2:] = t[:, :2]
    else:
        buf[2:-2, :2] = t[:, :1]
        buf[2:-2, -2:] = t[:, -1:]
    buf[:2] = buf[2]
    buf[-2:] = buf[-3]
    return buf


def advection_tendency(
    t: np.ndarray,
    fx: np.ndarray,
    fy: np.ndarray,
    area: np.ndarray,
    buf: np.ndarray | None = None,
    periodic: bool = False,
) -> np.ndarray:
    """-div(u T) (K s-1) by MUSCL (van Leer) upwind face values; zero-gradient region edges.

    Args:
        t: (H, W) temperature (K). fx: (H, W + 1), fy: (H + 1, W) face transports (m2 s-1); when
            ``periodic`` fx[:, 0] and fx[:, W] are both the seam's (equal) transport.
        area: (H, 1) cell areas (m2). buf: optional (H + 4, W + 4) work array.
    """
    if buf is None:
        buf = np.empty((t.shape[0] + 4, t.shape[1] + 4))
    tp = _pad_edge(t, buf, periodic)
    # x faces
    rows = tp[2:-2]
    sx = _limited_slopes(rows, axis=1)  # slopes of padded columns 1 .. W + 2
    left = rows[:, 1:-2] + 0.5 * sx[:, :-1]
    right = rows[:, 2:-1] - 0.5 * sx[:, 1:]
    flux_x = fx * np.where(fx > 0, left, right)
    cols = tp[:, 2:-2]
    sy = _limited_slopes(cols, axis=0)
    south = cols[1:-2] + 0.5 * sy[:-1]
    north = cols[2:-1] - 0.5 * sy[1:]
    flux_y = fy * np.where(fy > 0, south, north)
    return -((flux_x[:, 1:] - flux_x[:, :-1]) + (flux_y[1:] - flux_y[:-1])) / area


def diffusion_tendency(t: np.ndarray, kappa: float, geom: Geometry) -> np.ndarray:
    """kappa * Laplacian(T) (K s-1) in flux form, no flux through coasts or the region's edges."""
    ocean = geom.ocean
    gx = np.diff(t, axis=1) * (ocean[:, 1:] & ocean[:, :-1]) / geom.dx  # (H, W - 1) K m-1
    gy = np.diff(t, axis=0) * (ocean[1:] & ocean[:-1]) / geom.dy
    fx = np.zeros((t.shape[0], t.shape[1] + 1))
    fx[:, 1:-1] = kappa * gx * geom.dy
    if geom.periodic:  # the seam is face 0 and face W
        seam = (t[:, :1] - t[:, -1:]) * (ocean[:, :1] & ocean[:, -1:]) / geom.dx
        fx[:, :1] = fx[:, -1:] = kappa * seam * geom.dy
    lat_faces = (geom.lat[1:] + geom.lat[:-1]) / 2
    dx_faces = EARTH_RADIUS * geom.dlon * DEG * np.cos(lat_faces * DEG)
    fy = np.zeros((t.shape[0] + 1, t.shape[1]))
    fy[1:-1] = kappa * gy * dx_faces[:, None]
    return ((fx[:, 1:] - fx[:, :-1]) + (fy[1:] - fy[:-1])) / geom.area


def advect_diffuse(
    t: np.ndarray, fx: np.ndarray, fy: np.ndarray, geom: Geometry, kappa: float, dt: float, max_courant: float
) -> tuple[np.ndarray, int]:
    """Integrate dT/dt = -div(u T) + kappa Lap T over ``dt`` seconds.

    Advection: SSP-RK2 sub-steps, as many as keep the outflow Courant number (sum of outgoing
    transports times the step over the cell area) below ``max_courant``. Diffusion: forward
    sub-steps (after the advection) keeping kappa h (1/dx^2 + 1/dy^2) below 0.4.
    Returns (T, number of advection sub-steps).
    """
    out = (
        np.maximum(fx[:, 1:], 0)
        + np.maximum(-fx[:, :-1], 0)
        + np.maximum(fy[1:], 0)
        + np.maximum(-fy[:-1], 0)
    ) / geom.area
    rate = float(out[geom.ocean].max()) if geom.ocean.any() else 0.0
    n = max(1, int(np.ceil(rate * dt / max_courant)))
    h = dt / n
    buf = np.empty((t.shape[0] + 4, t.shape[1] + 4))
    for _ in range(n):
        t1 = t + h * advection_tendency(t, fx, fy, geom.area, buf, geom.periodic)
        t = 0.5 * t + 0.5 * (t1 + h * advection_tendency(t1, fx, fy, geom.area, buf, geom.periodic))
    if kappa > 0:
        inv2 = float(1.0 / geom.dx.min() ** 2 + 1.0 / geom.dy**2)
        n_d = max(1, int(np.ceil(kappa * dt * inv2 / 0.4)))
        for _ in range(n_d):
            t = t + (dt / n_d) * diffusion_tendency(t, kappa, geom)
    return t, n
