"""In-place, allocation-free evaluation of the MUSCL scheme for calls without autograd.

Inference (and any call under ``torch.no_grad()``) does not need the intermediate tensors that
autograd keeps, so this path computes exactly the same arithmetic as
:func:`oceane2e.physics.kernel._euler_step` into a few buffers allocated once per call. On a CPU
this avoids re-allocating (and page-faulting) ~30 fresh arrays per Runge–Kutta stage and keeps the
working set small. The differentiable path stays the reference; a test checks both agree.

On a periodic grid the x direction has W faces (entry j = west face of cell j, entry 0 the seam)
and its differences, slopes and face values wrap around (:func:`_accumulate_periodic_x`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from oceane2e.physics.kernel import LimiterFn
    from oceane2e.physics.kernel import _Operator as Operator


@dataclass
class _DirectionBuffers:
    diff: torch.Tensor  # (n+1) face differences along the direction; region-edge entries stay 0
    abs_diff: torch.Tensor
    flux: torch.Tensor  # (n-1) interior fluxes


class Workspace:
    """Buffers for one :func:`advect` call: c-shaped scratch plus per-direction face arrays.

    With ``periodic`` the x flux buffer holds the W faces of the circle (W - 1 interior faces
    otherwise); the x difference buffer keeps W + 1 entries, the last a copy of the seam's.
    """

    def __init__(self, c: torch.Tensor, periodic: bool = False) -> None:
        b, h, w = c.shape
        new = torch.empty
        kw = {"dtype": c.dtype, "device": c.device}
        n_fx = w if periodic else w - 1
        self.x = _DirectionBuffers(torch.zeros(b, h, w + 1, **kw), new(b, h, w + 1, **kw), new(b, h, n_fx, **kw))
        self.y = _DirectionBuffers(torch.zeros(b, h + 1, w, **kw), new(b, h + 1, w, **kw), new(b, h - 1, w, **kw))
        self.slope = new(b, h, w, **kw)
        self.tmp = new(b, h, w, **kw)
        self.high = new(b, h, w, **kw)
        self.conv = new(b, h, w, **kw)
        self.stage_a = new(b, h, w, **kw)
        self.stage_b = new(b, h, w, **kw)


def _accumulate_direction(
    c: torch.Tensor,
    dim: int,
    buf: _DirectionBuffers,
    ws: Workspace,
    open_faces: torch.Tensor,
    a_plus: torch.Tensor,
    a_minus: torch.Tensor,
    k_diff: torch.Tensor | None,
    limiter: LimiterFn | None,
    is_van_leer: bool,
) -> None:
    """Add the convergence of the interior fluxes along ``dim`` to ``ws.conv`` (in place)."""
    n = c.shape[dim]
    flux = buf.flux
    inner = buf.diff.narrow(dim, 1, n - 1)
    if limiter is None or k_diff is not None:
        torch.sub(c.narrow(dim, 1, n - 1), c.narrow(dim, 0, n - 1), out=inner)
        inner.mul_(open_faces.narrow(dim, 1, n - 1))
    if limiter is None:  # first-order upwind
        torch.mul(a_plus, c.narrow(dim, 0, n - 1), out=flux)
        flux.addcmul_(a_minus, c.narrow(dim, 1, n - 1))
        if k_diff is not None:
            flux.addcmul_(k_diff, inner, value=-1.0)
        ws.conv.narrow(dim, 0, n - 1).sub_(flux)
        ws.conv.narrow(dim, 1, n - 1).add_(flux)
        return
    if k_diff is None:
        torch.sub(c.narrow(dim, 1, n - 1), c.narrow(dim, 0, n - 1), out=inner)
        inner.mul_(open_faces.narrow(dim, 1, n - 1))
    torch.abs(buf.diff, out=buf.abs_diff)
    a, b = buf.diff.narrow(dim, 0, n), buf.diff.narrow(dim, 1, n)
    abs_a, abs_b = buf.abs_diff.narrow(dim, 0, n), buf.abs_diff.narrow(dim, 1, n)
    slope = ws.slope
    if is_van_leer:
        torch.mul(a, abs_b, out=slope)
        slope.addcmul_(abs_a, b)
        torch.add(abs_a, abs_b, out=ws.tmp).clamp_min_(torch.finfo(c.dtype).tiny)
        slope.div_(ws.tmp)
    else:
        slope.copy_(limiter(a, b, abs_a, abs_b))
    torch.add(c, slope, alpha=0.5, out=ws.high)
    low = torch.add(c, slope, alpha=-0.5, out=slope)  # the slope is not needed any more
    torch.mul(a_plus, ws.high.narrow(dim, 0, n - 1), out=flux)
    flux.addcmul_(a_minus, low.narrow(dim, 1, n - 1))
    if k_diff is not None:
        flux.addcmul_(k_diff, inner, value=-1.0)
    ws.conv.narrow(dim, 0, n - 1).sub_(flux)
    ws.conv.narrow(dim, 1, n - 1).add_(flux)


def _accumulate_periodic_x(
    c: torch.Tensor,
    buf: _DirectionBuffers,
    ws: Workspace,
    open_faces: torch.Tensor,
    a_plus: torch.Tensor,
    a_minus: torch.Tensor,
    k_diff: torch.Tensor | None,
    limiter: LimiterFn | None,
    is_van_leer: bool,
) -> None:
    """Add the convergence of the W periodic x fluxes to ``ws.conv`` (in place).

    The same arithmetic as :func:`oceane2e.physics.kernel._periodic_fluxes`: ``buf.diff[..., j]`` =
    ``c[j] - c[j-1]`` across face j (j = 0 the seam), ``buf.diff[..., W]`` its copy, so that the
    forward difference of cell j is ``buf.diff[..., j + 1]`` without a rolled copy.
    """
    w = c.shape[-1]
    d_all = buf.diff
    d = d_all[..., :w]
    torch.sub(c[..., 1:], c[..., :-1], out=d_all[..., 1:w])
    torch.sub(c[..., :1], c[..., -1:], out=d_all[..., :1])
    d.mul_(open_faces)
    d_all[..., w:].copy_(d_all[..., :1])
    flux = buf.flux
    if limiter is None:  # first-order upwind: flux[j] = a+ c[j-1] + a- c[j]
        torch.mul(a_plus[..., 1:], c[..., :-1], out=flux[..., 1:])
        torch.mul(a_plus[..., :1], c[..., -1:], out=flux[..., :1])
        flux.addcmul_(a_minus, c)
    else:
        torch.abs(d_all, out=buf.abs_diff)
        a, b = d_all[..., :w], d_all[..., 1:]
        abs_a, abs_b = buf.abs_diff[..., :w], buf.abs_diff[..., 1:]
        slope = ws.slope
        if is_van_leer:
            torch.mul(a, abs_b, out=slope)
            slope.addcmul_(abs_a, b)
            torch.add(abs_a, abs_b, out=ws.tmp).clamp_min_(torch.finfo(c.dtype).tiny)
            slope.div_(ws.tmp)
        else:
            slope.copy_(limiter(a, b, abs_a, abs_b))
        high = torch.add(c, slope, alpha=0.5, out=ws.high)
        low = torch.add(c, slope, alpha=-0.5, out=slope)
        torch.mul(a_plus[..., 1:], high[..., :-1], out=flux[..., 1:])
        torch.mul(a_plus[..., :1], high[..., -1:], out=flux[..., :1])
        flux.addcmul_(a_minus, low)
    if k_diff is not None:
        flux.addcmul_(k_diff, d, value=-1.0)
    ws.conv.add_(flux)
    ws.conv[..., :-1].sub_(flux[..., 1:])
    ws.conv[..., -1:].sub_(flux[..., :1])


def euler_step_into(
    out: torch.Tensor,
    c: torch.Tensor,
    op: Operator,
    limiter: LimiterFn | None,
    is_van_leer: bool,
    one_plus_h_lin: torch.Tensor,
    h_inv_area: torch.Tensor,
    ws: Workspace,
) -> torch.Tensor:
    """``out ← c + h·dC/dt`` without allocating; same arithmetic as the differentiable path."""
    ws.conv.zero_()
    if op.periodic:
        _accumulate_periodic_x(c, ws.x, ws, op.open_x, op.ap_x, op.am_x, op.kx, limiter, is_van_leer)
    else:
        _accumulate_direction(c, -1, ws.x, ws, op.open_x, op.ap_x, op.am_x, op.kx, limiter, is_van_leer)
    _accumulate_direction(c, -2, ws.y, ws, op.open_y, op.ap_y, op.am_y, op.ky, limiter, is_van_leer)
    torch.mul(c, one_plus_h_lin, out=out)
    return out.addcmul_(ws.conv, h_inv_area)


def integrate_no_grad(
    state: torch.Tensor,
    n_sub: int,
    stepper: str,
    op: Operator,
    limiter: LimiterFn | None,
    is_van_leer: bool,
    one_plus_h_lin: torch.Tensor,
    h_inv_area: torch.Tensor,
) -> torch.Tensor:
    """Run ``n_sub`` SSP-RK sub-steps on ``state`` (modified in place and returned)."""
    ws = Workspace(state, periodic=op.periodic)
    a, b = ws.stage_a, ws.stage_b
    args = (op, limiter, is_van_leer, one_plus_h_lin, h_inv_area, ws)
    for _ in range(n_sub):
        euler_step_into(a, state, *args)
        if stepper == "ssp_rk1":
            state.copy_(a)
            continue
        euler_step_into(b, a, *args)
        if stepper == "ssp_rk2":
            state.lerp_(b, 0.5)
        else:
            torch.lerp(state, b, 0.25, out=a)
            euler_step_into(b, a, *args)
            state.lerp_(b, 2.0 / 3.0)
    return state
