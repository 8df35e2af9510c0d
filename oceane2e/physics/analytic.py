"""Exact solutions of the advection equation on the sphere, for tests and benchmarks.

* Solid-body rotation of the sphere about the axis through (``pole_lat``, ``pole_lon``) with angular
  speed ``omega`` (rad s⁻¹): velocity ``Ω k × r``, non-divergent; any field is carried rigidly, so the
  exact solution at time t is the initial field rotated by ``Ω t`` about the axis.
* A Gaussian blob in chord distance, ``amplitude · exp(−|r − p|² / (2 σ²))`` (r, p in metres).

Everything here works in float64 numpy; convert with ``torch.as_tensor`` at the call site.
"""

from __future__ import annotations

import numpy as np

from oceane2e.physics.grid import EARTH_RADIUS_M

_DEG = np.pi / 180.0


def unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors (..., 3) of points given in degrees (broadcast together)."""
    lat, lon = np.broadcast_arrays(np.asarray(lat_deg, float) * _DEG, np.asarray(lon_deg, float) * _DEG)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def to_lat_lon(vec: np.ndarray) -> tuple[float, float]:
    """(lat, lon) in degrees of a Cartesian vector (3,)."""
    vec = vec / np.linalg.norm(vec)
    return float(np.degrees(np.arcsin(vec[2]))), float(np.degrees(np.arctan2(vec[1], vec[0])))


def rotate(vec: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation of vectors (..., 3) about the unit ``axis`` (3,) by ``angle`` (rad)."""
    k = axis / np.linalg.norm(axis)
    cross = np.cross(k, vec)
    dot = (vec * k).sum(axis=-1, keepdims=True)
    return vec * np.cos(angle) + cross * np.sin(angle) + k * dot * (1.0 - np.cos(angle))


def solid_body_velocity(
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    pole_lat: float,
    pole_lon: float,
    omega: float,
    radius: float = EARTH_RADIUS_M,
    taper_start_m: float | None = None,
    taper_width_m: float = 300e3,
) -> tuple[np.ndarray, np.ndarray]:
    """Eastward and northward velocity (m s⁻¹) of solid-body rotation at the given points.

    Args:
        lat_deg, lon_deg: point coordinates in degrees, e.g. ``lat[:, None]``, ``lon[None, :]``.
        pole_lat, pole_lon: the rotation axis (degrees); omega: angular speed in rad s⁻¹
            (positive = anticlockwise seen from above the axis).
        taper_start_m: if given, beyond this great-circle distance from the pole the angular speed
            decays as ``exp(−((d − start)/width)²)``: still a non-divergent circular vortex, and the
            rotation stays rigid (exact solution unchanged) inside ``taper_start_m``; keeps the
            speed realistic over large regions.
    """
    lat, lon = np.broadcast_arrays(np.asarray(lat_deg, float) * _DEG, np.asarray(lon_deg, float) * _DEG)
    r = unit_vectors(lat_deg, lon_deg)
    k = unit_vectors(np.array(pole_lat), np.array(pole_lon))
    rate = np.full(lat.shape, float(omega))
    if taper_start_m is not None:
        dist = radius * np.arccos(np.clip((r * k).sum(axis=-1), -1.0, 1.0))
        beyond = np.clip(dist - taper_start_m, 0.0, None)
        rate = rate * np.exp(-((beyond / taper_width_m) ** 2))
    vel = rate[..., None] * radius * np.cross(k, r)
    east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)
    north = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], axis=-1)
    return (vel * east).sum(axis=-1), (vel * north).sum(axis=-1)


def gaussian_blob(
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    centre_lat: float,
    centre_lon: float,
    sigma_m: float,
    amplitude: float = 1.0,
    radius: float = EARTH_RADIUS_M,
) -> np.ndarray:
    """Gaussian of chord distance to the centre: ``amplitude · exp(−d² / (2 σ²))`` (K)."""
    r = unit_vectors(lat_deg, lon_deg)
    p = unit_vectors(np.array(centre_lat), np.array(centre_lon))
    d2 = (((r - p) * radius) ** 2).sum(axis=-1)
    return amplitude * np.exp(-d2 / (2.0 * sigma_m**2))


def rotated_blob_centre(
    centre_lat: float, centre_lon: float, pole_lat: float, pole_lon: float, angle: float
) -> tuple[float, float]:
    """Where a point moves under solid-body rotation by ``angle`` (rad) about the pole (degrees)."""
    p = unit_vectors(np.array(centre_lat), np.array(centre_lon))
    k = unit_vectors(np.array(pole_lat), np.array(pole_lon))
    return to_lat_lon(rotate(p, k, angle))
