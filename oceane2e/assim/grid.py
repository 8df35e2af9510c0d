"""Grid helpers of the assimilation: positions on the sphere, sampling fields at points, geostrophy.

Everything in physical units: positions in degrees, distances in km, sea level in m, currents in
m s-1. Grids are the data's :class:`~oceane2e.data.contract.GridCoords` (cell centres, increasing).
"""

from __future__ import annotations

import numpy as np

from oceane2e.data.contract import GridCoords
from oceane2e.data.synthetic.physics import EARTH_RADIUS, GRAVITY, OMEGA

EARTH_RADIUS_KM = EARTH_RADIUS / 1000.0
DEG = np.pi / 180.0


def coriolis(lat_deg: np.ndarray) -> np.ndarray:
    """Coriolis parameter f = 2 Ω sin φ (s-1), same shape as ``lat_deg``."""
    return 2.0 * OMEGA * np.sin(np.asarray(lat_deg, dtype=np.float64) * DEG)


def xyz_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Cartesian positions (N, 3) in km on the sphere of radius R; chord distances between them
    equal great-circle distances to 0.1 % up to ~500 km."""
    lat = np.asarray(lat, dtype=np.float64).ravel() * DEG
    lon = np.asarray(lon, dtype=np.float64).ravel() * DEG
    c = np.cos(lat)
    return EARTH_RADIUS_KM * np.stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)], axis=-1)


def grid_spacing_km(coords: GridCoords) -> tuple[float, float]:
    """Mean cell size (dy, dx) in km at the grid's central latitude."""
    dlat = float(np.mean(np.diff(coords.lat)))
    dlon = float(np.mean(np.diff(coords.lon)))
    lat_c = float(np.mean(coords.lat))
    return EARTH_RADIUS_KM * dlat * DEG, EARTH_RADIUS_KM * dlon * DEG * np.cos(lat_c * DEG)


def cell_edges(coords: GridCoords) -> tuple[float, float, float, float]:
    """(south, north, west, east) edges (degrees) of the grid box, half a cell beyond the centres."""
    lat, lon = coords.lat, coords.lon
    return (lat[0] - 0.5 * (lat[1] - lat[0]), lat[-1] + 0.5 * (lat[-1] - lat[-2]),
            lon[0] - 0.5 * (lon[1] - lon[0]), lon[-1] + 0.5 * (lon[-1] - lon[-2]))


def inside_grid(coords: GridCoords, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(N,) bool: the points lie inside the grid box (cell edges)."""
    s, n, w, e = cell_edges(coords)
    lat, lon = np.asarray(lat), np.asarray(lon)
    return (lat >= s) & (lat < n) & (lon >= w) & (lon < e)


def nearest_cell(coords: GridCoords, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (N,) int of the cell whose centre is nearest in each coordinate (clipped)."""
    def nearest(axis: np.ndarray, x: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(axis, x), 1, axis.size - 1)
        return np.where(np.abs(x - axis[j - 1]) <= np.abs(axis[j] - x), j - 1, j)

    return nearest(coords.lat, np.asarray(lat, np.float64)), nearest(coords.lon, np.asarray(lon, np.float64))


def sample_bilinear(
    field: np.ndarray, mask: np.ndarray, coords: GridCoords, lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """Bilinear interpolation of ``field`` (H, W) or (C, H, W) at points (N,) -> (N,) or (C, N) float64.

    Land corners (``mask`` False) get no weight; the ocean corners' weights are renormalised. NaN
    where no corner of the point's cell quadrilateral is ocean. Points are clipped to the centres.
    """
    lat = np.asarray(lat, np.float64)
    lon = np.asarray(lon, np.float64)
    fi = np.interp(lat, coords.lat, np.arange(coords.lat.size, dtype=np.float64))
    fj = np.interp(lon, coords.lon, np.arange(coords.lon.size, dtype=np.float64))
    i0 = np.clip(np.floor(fi).astype(int), 0, coords.lat.size - 2)
    j0 = np.clip(np.floor(fj).astype(int), 0, coords.lon.size - 2)
    a, b = fi - i0, fj - j0
    ii = np.stack([i0, i0 + 1, i0, i0 + 1])  # (4, N) corners
    jj = np.stack([j0, j0, j0 + 1, j0 + 1])
    w = np.stack([(1 - a) * (1 - b), a * (1 - b), (1 - a) * b, a * b]) * mask[ii, jj]
    den = w.sum(0)
    vals = np.asarray(field)[..., ii, jj]  # (..., 4, N)
    vals = np.where(mask[ii, jj], vals, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, (w * vals).sum(-2) / np.maximum(den, 1e-300), np.nan)


def geostrophic_currents(eta: np.ndarray, coords: GridCoords, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Surface geostrophic currents (u, v) in m s-1 from sea level ``eta`` (H, W) in m.

    The same relation as the synthetic ocean (zos = f ψ / g, u = -∂ψ/∂y, v = ∂ψ/∂x with the
    streamfunction ψ = g η / f): for a constant f this is u = -(g/f) ∂η/∂y, v = (g/f) ∂η/∂x.
    Derivatives are centred on the sphere (dy = R Δφ, dx = R cos φ Δλ), one-sided where a
    neighbour is land or off the grid. Land-aware: no flow into land - u is 0 where the east or
    west neighbour is land, v where the north or south neighbour is land; land cells are NaN.
    """
    mask = np.asarray(mask, dtype=bool)
    lat2 = np.broadcast_to(coords.lat[:, None], eta.shape)
    psi = GRAVITY * np.asarray(eta, np.float64) / coriolis(lat2)
    dy = EARTH_RADIUS * float(np.mean(np.diff(coords.lat))) * DEG  # m
    dx = EARTH_RADIUS * float(np.mean(np.diff(coords.lon))) * DEG * np.cos(lat2 * DEG)  # (H, W) m
    dpsi_dy, land_ns = _masked_derivative(psi, mask, axis=0)
    dpsi_dx, land_ew = _masked_derivative(psi, mask, axis=1)
    u = -dpsi_dy / dy
    v = dpsi_dx / dx
    u = np.where(land_ew, 0.0, u)
    v = np.where(land_ns, 0.0, v)
    u[~mask] = np.nan
    v[~mask] = np.nan
    return u, v


def _masked_derivative(f: np.ndarray, mask: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Derivative of ``f`` per cell step along ``axis`` over ocean cells: centred where both
    neighbours are ocean, one-sided where one is, 0 where none. Also returns where a neighbour along
    the axis is land (not off the grid)."""
    fm = np.moveaxis(f, axis, 0)
    mm = np.moveaxis(mask, axis, 0)
    up = np.zeros_like(mm)
    dn = np.zeros_like(mm)
    up[:-1] = mm[1:]
    dn[1:] = mm[:-1]
    land_nb = np.zeros_like(mm)
    land_nb[:-1] |= ~mm[1:]
    land_nb[1:] |= ~mm[:-1]
    fu = np.zeros_like(fm)
    fd = np.zeros_like(fm)
    fu[:-1] = fm[1:]
    fd[1:] = fm[:-1]
    d = np.where(up & dn, 0.5 * (fu - fd), np.where(up, fu - fm, np.where(dn, fm - fd, 0.0)))
    return np.moveaxis(d, 0, axis), np.moveaxis(land_nb, 0, axis)
