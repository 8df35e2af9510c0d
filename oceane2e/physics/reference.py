"""The reference release's advection scheme, kept for comparison and reproduction (DESIGN.md §1).

Per fixed sub-step of ``substep_s`` seconds (48 × 1800 s make one day):

1. centred differences of C (one-sided on the first/last row and column of the region), with land
   cells read as 0 (the reference release fills land NaN with 0);
2. forward Euler on the advective form ``C ← C − dt (u ∂C/∂x + v ∂C/∂y)``, tendency masked to ocean;
3. a 3×3 ``[1 2 1]ᵀ[1 2 1] / 16`` smoothing filter (zero padding at region edges, land as 0),
   then masked to ocean. The reference release applies it with ``F.conv2d``; here it is applied as
   two separable 1-2-1 passes (the same numbers to round-off, 2–4× faster on CPU), so that timing
   comparisons are against an efficient implementation of the scheme, not a slow one.

This is the published behaviour, including its weaknesses (stable only to Courant ~0.7 per step,
strong implicit diffusion from the filter, coastal cells relaxed towards the 0 of land). The only
differences: metrics from :class:`~oceane2e.physics.grid.SphericalGrid` (dx at each row's latitude,
dy from the latitude spacing) and land cells returned unchanged instead of 0.

On a periodic grid x wraps around in both steps: the centred difference across the seam (the
reference release's global script does this with ``torch.roll``) and the filter (which the release
pads with zeros at the seam, damping the two seam columns every sub-step; here it wraps, so there is
no seam artefact).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812

from oceane2e.physics.grid import SphericalGrid


def _centred_diff(c: torch.Tensor, dim: int, periodic: bool = False) -> torch.Tensor:
    """Index-space derivative numerator along ``dim``: (c[i+1]-c[i-1])/2 inside, one-sided at the ends
    (or wrapping around with ``periodic``)."""
    if periodic:
        return 0.5 * (torch.roll(c, -1, dims=dim) - torch.roll(c, 1, dims=dim))
    n = c.shape[dim]
    inner = 0.5 * (c.narrow(dim, 2, n - 2) - c.narrow(dim, 0, n - 2))
    first = c.narrow(dim, 1, 1) - c.narrow(dim, 0, 1)
    last = c.narrow(dim, n - 1, 1) - c.narrow(dim, n - 2, 1)
    return torch.cat([first, inner, last], dim=dim)


def reference_advect(
    c: torch.Tensor,
    u: torch.Tensor,
    v: torch.Tensor,
    grid: SphericalGrid,
    dt_s: float = 86400.0,
    substep_s: float = 1800.0,
    use_conv2d: bool = False,
) -> torch.Tensor:
    """The reference release's scheme for ``dt_s`` seconds in ``ceil(dt_s / substep_s)`` equal sub-steps.

    Args:
        c: (B, H, W) SST anomaly in K (any value over land).
        u, v: (B, H, W) eastward/northward velocity at cell centres, m s⁻¹.
        grid: grid with the same dtype/device as ``c``.
        dt_s: interval in seconds; substep_s: the fixed sub-step (1800 s in the reference release).
        use_conv2d: apply the filter with ``F.conv2d`` as the release does (slower, same numbers).

    Returns:
        (B, H, W) in K; land cells keep their input values.
    """
    if min(c.shape[-2:]) < 3:
        raise ValueError(f"reference_advect: the grid must be at least 3x3 cells, got {tuple(c.shape[-2:])}")
    n_sub = max(1, math.ceil(dt_s / substep_s - 1e-9))
    h = dt_s / n_sub
    ocean = grid.mask
    maskf = ocean.to(c.dtype)
    zero = torch.zeros((), dtype=c.dtype, device=c.device)
    # per-cell coefficients −h·u/dx and −h·v/dy, masked to ocean once
    ax = torch.where(ocean, u, zero) * (-h * grid.x_sign / grid.dx)
    ay = torch.where(ocean, v, zero) * (-h * grid.y_sign / grid.dy)
    mask16 = maskf / 16.0
    state = torch.where(ocean, c, zero)
    for _ in range(n_sub):
        state = state + ax * _centred_diff(state, -1, grid.periodic) + ay * _centred_diff(state, -2)
        if use_conv2d:
            state = filter_121_conv2d(state, grid.periodic) * maskf
        else:
            state = _filter_121(state, grid.periodic) * mask16
    return torch.where(ocean, state, c)


def _pad_x(c: torch.Tensor, periodic: bool) -> torch.Tensor:
    """(B, H, W) -> (B, H + 2, W + 2): zero rows; zero columns, or the wrapped columns if ``periodic``."""
    if periodic:
        return F.pad(torch.cat([c[..., -1:], c, c[..., :1]], dim=-1), (0, 0, 1, 1))
    return F.pad(c, (1, 1, 1, 1))


def _filter_121(c: torch.Tensor, periodic: bool = False) -> torch.Tensor:
    """16 × the 3×3 [1 2 1]ᵀ[1 2 1] filter of (B, H, W) with zero padding (x wrapping around if
    ``periodic``), as two separable passes."""
    p = _pad_x(c, periodic)
    rows = torch.add(p[..., :, :-2] + p[..., :, 2:], p[..., :, 1:-1], alpha=2.0)
    return torch.add(rows[..., :-2, :] + rows[..., 2:, :], rows[..., 1:-1, :], alpha=2.0)


def filter_121_conv2d(c: torch.Tensor, periodic: bool = False) -> torch.Tensor:
    """The same filter (divided by 16) as the reference release applies it, with ``F.conv2d``."""
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=c.dtype, device=c.device) / 16.0
    return F.conv2d(_pad_x(c, periodic).unsqueeze(1), kernel.view(1, 1, 3, 3)).squeeze(1)
