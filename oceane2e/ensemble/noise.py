"""Spatially coherent random fields for ensemble perturbations (numpy/scipy, no torch).

Every field is drawn from its own generator, seeded by ``(seed, purpose, start date, member)``
(:func:`member_rng`), so member m of the forecast started on day t is the same whichever other start
dates share its batch and whichever rank computes it: N-rank inference equals 1-rank.

A coherent field is white noise smoothed by a Gaussian kernel of standard deviation ``L`` (the
``length_scale_km`` of the config, converted to grid cells per axis) and divided by the kernel's
exact noise-reduction factor, so it has unit variance away from the edges and a Gaussian spatial
correlation ``exp(-r² / (4 L²))`` (e-folding at r = 2L). Sequences of fields are AR(1) in time with
``phi = exp(-1 / tau_days)`` and stationary unit variance.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0
#: purposes of a member's random fields; each gets an independent stream
PURPOSES: dict[str, int] = {"initial": 1, "currents": 2, "source": 3}
_DAY_OFFSET = 1_000_000  # days since 1970 + offset >= 0 for any date after 0710 AD (SeedSequence needs >= 0)


def member_rng(seed: int, purpose: str, time0_days: int, member: int) -> np.random.Generator:
    """The generator of one member's ``purpose`` fields for the forecast started ``time0_days`` after 1970-01-01."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; one of {sorted(PURPOSES)}")
    key = [int(seed), PURPOSES[purpose], int(time0_days) + _DAY_OFFSET, int(member)]
    if min(key) < 0:
        raise ValueError(f"seed, start date and member must give non-negative keys, got {key}")
    return np.random.default_rng(np.random.SeedSequence(key))


def cells_per_length(lat_deg: np.ndarray, lon_deg: np.ndarray, length_km: float) -> tuple[float, float]:
    """``length_km`` in grid cells along (lat, lon) at the domain's mean latitude -> (sigma_y, sigma_x)."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    dlat = abs(float(np.mean(np.diff(lat)))) if lat.size > 1 else 1.0
    dlon = abs(float(np.mean(np.diff(lon)))) if lon.size > 1 else 1.0
    dy_km = EARTH_RADIUS_KM * np.deg2rad(dlat)
    dx_km = EARTH_RADIUS_KM * np.deg2rad(dlon) * np.cos(np.deg2rad(float(np.mean(lat))))
    return float(length_km) / dy_km, float(length_km) / dx_km


def _kernel_gain(sigma: float) -> float:
    """Standard deviation of white noise after a 1-D Gaussian filter of std ``sigma`` cells (sqrt Σk²)."""
    from scipy.ndimage import gaussian_filter1d

    if sigma <= 0:
        return 1.0
    n = 2 * int(4 * sigma + 1) + 1
    delta = np.zeros(n)
    delta[n // 2] = 1.0
    return float(np.sqrt(np.sum(gaussian_filter1d(delta, sigma, mode="constant") ** 2)))


def coherent_fields(rng: np.random.Generator, n: int, shape: tuple[int, int], sigma_cells: tuple[float, float],
                    tau_days: float | None = None) -> np.ndarray:
    """``n`` unit-variance Gaussian random fields, smooth in space, AR(1) along the first axis.

    Args:
        rng: the member's generator (:func:`member_rng`).
        n: number of fields (days).
        shape: (H, W) grid.
        sigma_cells: Gaussian kernel std in cells along (lat, lon); 0 leaves white noise.
        tau_days: decorrelation time of consecutive fields (days); None or 0: independent fields.

    Returns:
        (n, H, W) float64, unit variance (dimensionless).
    """
    from scipy.ndimage import gaussian_filter

    white = rng.standard_normal((n, *shape))
    sy, sx = sigma_cells
    field = gaussian_filter(white, sigma=(0.0, sy, sx), mode="reflect", truncate=4.0)
    field /= _kernel_gain(sy) * _kernel_gain(sx)
    if tau_days and n > 1:
        phi = float(np.exp(-1.0 / tau_days))
        innovation = np.sqrt(1.0 - phi * phi)
        for k in range(1, n):
            field[k] = phi * field[k - 1] + innovation * field[k]
    return field


def streamfunction_currents(psi: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Non-divergent current perturbations from streamfunction fields, unit RMS per component over the ocean.

    Args:
        psi: (n, H, W) dimensionless streamfunction (e.g. :func:`coherent_fields`).
        mask: (H, W) bool, True over ocean.

    Returns:
        (n, 2, H, W) float64: (u', v') = (-∂ψ/∂y, ∂ψ/∂x) in grid units, each day scaled to unit RMS over
        the ocean, 0 over land.
    """
    ocean = np.asarray(mask, dtype=bool)
    dpsi_dy = np.gradient(psi, axis=1)
    dpsi_dx = np.gradient(psi, axis=2)
    uv = np.stack([-dpsi_dy, dpsi_dx], axis=1)
    uv[:, :, ~ocean] = 0.0
    rms = np.sqrt(np.mean(uv[:, :, ocean] ** 2, axis=(1, 2)))  # (n,) both components pooled
    return uv / np.maximum(rms, 1e-12)[:, None, None, None]
