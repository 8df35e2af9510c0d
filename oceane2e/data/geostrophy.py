"""Surface geostrophic currents and the equatorial band where f → 0 (DESIGN.md §11).

Geostrophy, ``u_g = −(g/f) ∂η/∂y``, ``v_g = (g/f) ∂η/∂x``, divides by the Coriolis parameter
``f = 2Ω sin φ``, which vanishes at the equator: any noise in the sea level η becomes a current that
grows as 1/φ (a 1 mm error over one 0.5° cell reads as ~30 m s⁻¹ at 0.25°N). Altimetry products
either mask the band or switch to the equatorial β-plane form there. Every u_g that enters a data
folder of the contract near the equator goes through one of the two treatments here, so the kernel
never sees the blow-up:

* ``"mask"`` (the reference release's choice: it zeroes the rows within ±5° of its 0.5° global
  mask): currents are multiplied by a weight that is 0 within ``half_width_deg`` of the equator and
  rises smoothly (sin²) to 1 over ``taper_deg`` beyond, so there is no jump at the band's edge. The
  kernel then advects nothing inside the band (the SSTA there changes by the source term only).
* ``"beta"`` (Lagerloef et al. 1999, J. Geophys. Res. 104(C10)): with ``f ≈ βy`` near the equator,
  the equatorial geostrophic balance is ``u = −(g/β) ∂²η/∂y²``, ``v = (g/β) ∂²η/∂x∂y``, finite at
  the equator. The current is the f-plane value weighted by the same weight plus the β-plane value
  weighted by its complement. Needs the sea level (:func:`geostrophic_currents`); currents that come
  without η (``ugos``/``vgos`` products) can only be masked (:func:`mask_equatorial_band`).

Pure numpy; arrays (..., H, W) on a regular lat-lon grid in degrees (either order of latitudes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

GRAVITY = 9.81  # m s-2
OMEGA = 7.2921e-5  # s-1, Earth's rotation rate
EARTH_RADIUS = 6.371e6  # m
_DEG = np.pi / 180.0

BandMethod = Literal["mask", "beta", "none"]


@dataclass(frozen=True)
class EquatorialBand:
    """How currents are treated near the equator.

    Attributes:
        method: ``"mask"`` (currents → 0 in the band), ``"beta"`` (β-plane geostrophy in the band;
            only where η is known) or ``"none"`` (no treatment: only for grids that stay clear of
            the equator).
        half_width_deg: the band is |φ| ≤ ``half_width_deg`` (degrees).
        taper_deg: width (degrees) beyond the band over which the weight rises from 0 to 1.
    """

    method: BandMethod = "mask"
    half_width_deg: float = 5.0
    taper_deg: float = 2.0

    def __post_init__(self) -> None:
        if self.method not in ("mask", "beta", "none"):
            raise ValueError(f"EquatorialBand.method={self.method!r} is not one of ('mask', 'beta', 'none')")
        if not (self.half_width_deg >= 0 and self.taper_deg >= 0):
            raise ValueError(
                f"EquatorialBand: half_width_deg ({self.half_width_deg}) and taper_deg ({self.taper_deg}) must be >= 0"
            )
        if self.method != "none" and self.half_width_deg + self.taper_deg == 0:
            raise ValueError("EquatorialBand: a band of zero width cannot keep 1/f finite; widen it")


def coriolis(lat_deg: np.ndarray) -> np.ndarray:
    """Coriolis parameter ``f = 2Ω sin φ`` (s⁻¹) at latitudes in degrees."""
    return 2.0 * OMEGA * np.sin(np.asarray(lat_deg, dtype=np.float64) * _DEG)


def beta(lat_deg: np.ndarray) -> np.ndarray:
    """Its meridional gradient ``β = 2Ω cos φ / R`` (m⁻¹ s⁻¹)."""
    return 2.0 * OMEGA * np.cos(np.asarray(lat_deg, dtype=np.float64) * _DEG) / EARTH_RADIUS


def equatorial_weight(lat_deg: np.ndarray, band: EquatorialBand) -> np.ndarray:
    """Weight of the f-plane current: 0 for |φ| ≤ half width, sin² ramp to 1 over the taper, then 1.

    Args:
        lat_deg: latitudes (degrees), any shape.
    Returns:
        float64 array of the same shape, in [0, 1] (all ones for ``method="none"``).
    """
    lat = np.abs(np.asarray(lat_deg, dtype=np.float64))
    if band.method == "none":
        return np.ones_like(lat)
    if band.taper_deg == 0:
        return (lat > band.half_width_deg).astype(np.float64)
    x = np.clip((lat - band.half_width_deg) / band.taper_deg, 0.0, 1.0)
    return np.sin(0.5 * np.pi * x) ** 2


def mask_equatorial_band(
    u: np.ndarray, v: np.ndarray, lat_deg: np.ndarray, band: EquatorialBand
) -> tuple[np.ndarray, np.ndarray]:
    """Currents (..., H, W) in m s⁻¹ with the equatorial band masked (``lat_deg`` (H,) degrees).

    ``method="beta"`` cannot be applied without the sea level and raises; NaN (land) stays NaN.
    """
    if band.method == "beta":
        raise ValueError(
            "mask_equatorial_band: the beta-plane form needs the sea level; use geostrophic_currents(zos, ...) "
            "or method='mask' for currents given without it"
        )
    w = equatorial_weight(np.asarray(lat_deg), band)[:, None].astype(np.result_type(u, np.float32))
    return u * w, v * w


def _ddx(a: np.ndarray, dx: np.ndarray, periodic: bool) -> np.ndarray:
    """Centred x-derivative of (..., H, W) with dx (H, 1) in m; one-sided at non-periodic edges."""
    if periodic:
        return (np.roll(a, -1, axis=-1) - np.roll(a, 1, axis=-1)) / (2.0 * dx)
    return np.gradient(a, axis=-1) / dx


def _ddy(a: np.ndarray, dy: float) -> np.ndarray:
    """Centred y-derivative (index direction) of (..., H, W) in m⁻¹ times a; one-sided at the edges."""
    return np.gradient(a, axis=-2) / dy


def geostrophic_currents(
    zos: np.ndarray,
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    band: EquatorialBand,
    periodic: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Surface geostrophic currents (m s⁻¹) from sea level ``zos`` (..., H, W) in m.

    Centred differences on the sphere (``dx = R cos φ Δλ``, ``dy = R Δφ``), periodic in x when the
    longitudes close the circle (or ``periodic=True``). Within the band the equatorial treatment of
    ``band`` applies, so the result is finite on every ocean cell, also on a row at exactly 0°.

    Args:
        zos: (..., H, W) sea level in m (NaN over land; neighbours of land get NaN currents).
        lat_deg: (H,) strictly monotonic latitudes (degrees); lon_deg: (W,) equally spaced longitudes.
        band: the :class:`EquatorialBand` treatment.
        periodic: None detects a closing circle from ``lon_deg``.

    Returns:
        (u, v): eastward and northward currents, arrays like ``zos`` (float64).
    """
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    eta = np.asarray(zos, dtype=np.float64)
    if eta.shape[-2:] != (lat.size, lon.size):
        raise ValueError(f"geostrophic_currents: zos {eta.shape} does not end with (len(lat), len(lon)) = {(lat.size, lon.size)}")
    dlon = float(np.mean(np.diff(lon)))
    if periodic is None:
        periodic = abs(lon.size * abs(dlon) - 360.0) < 1e-6 * 360.0
    dlat = float(np.mean(np.diff(lat)))  # signed: the index direction
    dy = EARTH_RADIUS * dlat * _DEG
    dx = (EARTH_RADIUS * np.cos(lat * _DEG) * dlon * _DEG)[:, None]
    deta_dx = _ddx(eta, dx, periodic)
    deta_dy = _ddy(eta, dy)
    w = equatorial_weight(lat, band)[:, None]
    f = coriolis(lat)[:, None]
    f_safe = np.where(w > 0, f, 1.0)  # f is only divided where the weight is not 0
    u = np.where(w > 0, -GRAVITY / f_safe * deta_dy, 0.0) * w
    v = np.where(w > 0, GRAVITY / f_safe * deta_dx, 0.0) * w
    if band.method == "beta":
        b = beta(lat)[:, None]
        u = u - (1.0 - w) * GRAVITY / b * _ddy(deta_dy, dy)
        v = v + (1.0 - w) * GRAVITY / b * _ddy(deta_dx, dy)
    return u, v
