"""``torch.compile``-fused sub-steps of the MUSCL scheme for calls without autograd.

Eager PyTorch on a CPU makes ~30 full-grid passes per Runge–Kutta stage (one per tensor op), and
the cost of the kernel is those passes, not the arithmetic. Here one SSP-RK sub-step is compiled
by TorchInductor into a few fused, vectorised C++ loops (5 per stage for MUSCL: the limited slopes
in x, the x fluxes, the same in y, and the update; ~20 array reads/writes per stage instead of ~90).

To let every stencil access be a contiguous, unmasked load, the fields live in a *flat padded
layout*: a (B, H, W) field becomes (B, L) with the H·W cells at ``[P, P + H·W)`` of each row,
zeros around them (``P ≥ 2W``). The x-neighbour of flat cell ``k`` is ``k ± 1``, the y-neighbour
``k ± W``. Faces that would join the end of one grid row to the start of the next, faces beyond the
region, closed (coastal) faces and region edges all carry a 0 open-mask and zero velocity, so they
see zero difference and zero flux: exactly the treatment of :mod:`oceane2e.physics.kernel` (slopes
vanish next to coasts and edges; edge inflow/outflow is in ``1 + h·lin``).

The arithmetic is the same as :func:`oceane2e.physics.kernel._euler_step` (same limiter functions,
same order of operations); the compiler may contract multiply-adds, so results agree to float
round-off (tested). Periodic grids are not compiled: the flat layout has no seam (a row's last cell
is followed by the next row's first), so :func:`try_integrate_compiled` warns once and returns None,
and the caller runs the in-place eager path (same results). The compiled function is created once per process and specialised by
``torch.compile`` per configuration and grid shape (see :func:`_compiled_substep`); a failed
compilation warns once per (stepper, limiter, diffusion) and
:func:`try_integrate_compiled` returns None, so the caller falls back to the eager path.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from oceane2e.physics.kernel import LimiterFn
    from oceane2e.physics.kernel import _Operator as Operator

_COMPILED: list[Callable[..., torch.Tensor]] = []  # the lazily created torch.compile wrapper
_FAILED: set[tuple[str, str, bool]] = set()
_WARNED_PERIODIC: list[bool] = []


def _pad_width(w: int) -> int:
    """Zero padding P (cells) on each side of the flat field: ≥ 2W + 2, a multiple of 16 (alignment)."""
    return -(-(2 * w + 2) // 16) * 16


def _flat(t: torch.Tensor, b: int, h: int, w: int, pad: int | None) -> torch.Tensor:
    """(…, h', w') with h' ≤ h, w' ≤ w → (b or 1, H·W [+ 2P]) zero-filled to (H, W), then padded."""
    t = F.pad(t, (0, w - t.shape[-1], 0, h - t.shape[-2]))
    lead = t.shape[0] if t.ndim == 3 else 1
    t = t.reshape(lead, h * w)
    if pad is not None:
        t = F.pad(t, (pad, pad))
    return t.contiguous()


def _euler_flat(
    xp: torch.Tensor,
    coef: tuple[torch.Tensor, ...],
    *,
    w: int,
    pad: int,
    limiter: LimiterFn | None,
    diffusion: bool,
) -> torch.Tensor:
    """One forward-Euler step ``x + h·dC/dt`` in the flat padded layout (B, L) → (B, L), K.

    ``coef`` = (U_x, U_y, open_x, open_y, k_x, k_y): flat padded face arrays (B or 1, L) (face k
    joins cell k to k+1, resp. k+W; U: interior face volume fluxes, m² s⁻¹; open: 1/0; k: κ·len/dist,
    m² s⁻¹), then 1 + h·lin and h/area flat unpadded (B or 1, H·W).
    """
    ux, uy, ox, oy, kx, ky, oph, hia = coef
    # positive/negative parts of the face fluxes clamped inline (exact, as in _build_operator): one
    # array per direction to read instead of two; memory traffic, not arithmetic, bounds this loop
    # (measured: 0.85-0.95x instead of 1.0-1.15x the reference scheme's time at 480x600)
    apx, amx = ux.clamp(min=0), ux.clamp(max=0)
    apy, amy = uy.clamp(min=0), uy.clamp(max=0)
    n_len = xp.shape[-1]
    n = n_len - 2 * pad
    if limiter is None:  # first-order upwind; fx[m] is face m+1, fy[m] face m+W
        fx = torch.addcmul(apx[:, 1 : n_len - 2] * xp[:, 1 : n_len - 2], amx[:, 1 : n_len - 2], xp[:, 2 : n_len - 1])
        fy = torch.addcmul(
            apy[:, w : n_len - 2 * w] * xp[:, w : n_len - 2 * w], amy[:, w : n_len - 2 * w], xp[:, 2 * w : n_len - w]
        )
        if diffusion:
            fx = fx - kx[:, 1 : n_len - 2] * ((xp[:, 2 : n_len - 1] - xp[:, 1 : n_len - 2]) * ox[:, 1 : n_len - 2])
            fy = fy - ky[:, w : n_len - 2 * w] * ((xp[:, 2 * w : n_len - w] - xp[:, w : n_len - 2 * w]) * oy[:, w : n_len - 2 * w])
    else:
        d_x = (xp[:, 1:] - xp[:, :-1]) * ox[:, :-1]  # face k, k in [0, L-1)
        d_y = (xp[:, w:] - xp[:, :-w]) * oy[:, :-w]  # face k, k in [0, L-W)
        abs_x, abs_y = d_x.abs(), d_y.abs()
        s_x = limiter(d_x[:, :-1], d_x[:, 1:], abs_x[:, :-1], abs_x[:, 1:])  # cell m+1
        s_y = limiter(d_y[:, :-w], d_y[:, w:], abs_y[:, :-w], abs_y[:, w:])  # cell m+W
        high_x = torch.add(xp[:, 1:-1], s_x, alpha=0.5)
        low_x = torch.add(xp[:, 1:-1], s_x, alpha=-0.5)
        high_y = torch.add(xp[:, w:-w], s_y, alpha=0.5)
        low_y = torch.add(xp[:, w:-w], s_y, alpha=-0.5)
        fx = torch.addcmul(apx[:, 1 : n_len - 2] * high_x[:, :-1], amx[:, 1 : n_len - 2], low_x[:, 1:])  # face m+1
        fy = torch.addcmul(apy[:, w : n_len - 2 * w] * high_y[:, :-w], amy[:, w : n_len - 2 * w], low_y[:, w:])  # m+W
        if diffusion:
            fx = fx - kx[:, 1 : n_len - 2] * d_x[:, 1 : n_len - 2]
            fy = fy - ky[:, w : n_len - 2 * w] * d_y[:, w : n_len - 2 * w]
    # cell k in [P, P+N): west face k-1 = fx[k-2], east face k = fx[k-1]; south k-W = fy[k-2W], north k = fy[k-W]
    conv = (fx[:, pad - 2 : pad - 2 + n] - fx[:, pad - 1 : pad - 1 + n]) + (
        fy[:, pad - 2 * w : pad - 2 * w + n] - fy[:, pad - w : pad - w + n]
    )
    new = torch.addcmul(xp[:, pad : pad + n] * oph, conv, hia)
    return F.pad(new, (pad, pad))


def _substep_flat(
    x: torch.Tensor,
    coef: tuple[torch.Tensor, ...],
    *,
    stepper: str,
    w: int,
    pad: int,
    limiter: LimiterFn | None,
    diffusion: bool,
) -> torch.Tensor:
    """One SSP-RK sub-step (B, L) → (B, L), the same stage combinations as the eager kernel."""
    euler = partial(_euler_flat, coef=coef, w=w, pad=pad, limiter=limiter, diffusion=diffusion)
    if stepper == "ssp_rk1":
        return euler(x)
    if stepper == "ssp_rk2":
        return torch.lerp(x, euler(euler(x)), 0.5)
    x2 = torch.lerp(x, euler(euler(x)), 0.25)
    return torch.lerp(x, euler(x2), 2.0 / 3.0)


def _compiled_substep() -> Callable[..., torch.Tensor]:
    """The compiled :func:`_substep_flat` (created on first use, never at import).

    Static shapes: TorchInductor specialises it per (stepper, limiter, diffusion, batch, grid
    shape, dtype), at most ``torch._dynamo.config.recompile_limit`` (8) times per process; beyond
    that Dynamo runs the same function uncompiled (correct, slower). The number of sub-steps and the
    step h are data (a Python loop count, coefficient values), so they never cause a recompile.
    """
    if not _COMPILED:
        _COMPILED.append(torch.compile(_substep_flat, dynamic=False, fullgraph=True, options=_vector_width_options()))
    return _COMPILED[0]


def _vector_width_options() -> dict[str, int]:
    """TorchInductor's CPU vector width, named in the compile options so that it is part of the cache key.

    Left unset, Inductor picks the width from the CPU and ``ATEN_CPU_CAPABILITY`` (which ``OCEANE2E_CPU_ISA=avx2``
    sets; :mod:`oceane2e.cpu_isa`), but its on-disk graph cache keys on the options, not on that pick: a graph
    generated under AVX2 (256 bits) was a cache hit under AVX-512, and the process died of heap corruption
    (measured: "double free or corruption", torch 2.13 on an AVX-512 box, after a run with the pins had filled the
    cache; presumably kernels built for one width running loops generated for the other). Named, each width has
    its own entries.
    Empty where Inductor vectorises nothing (then there is nothing to mix up) or cannot tell.
    """
    try:
        from torch._inductor.cpu_vec_isa import pick_vec_isa

        isa = pick_vec_isa()
    except Exception:  # noqa: BLE001 - a private API: without it, Inductor's own choice
        return {}
    return {"cpp.simdlen": int(isa.bit_width())} if isa else {}


def try_integrate_compiled(
    state: torch.Tensor,
    n_sub: int,
    stepper: str,
    op: Operator,
    limiter_name: str,
    limiter: LimiterFn | None,
    one_plus_h_lin: torch.Tensor,
    h_inv_area: torch.Tensor,
) -> torch.Tensor | None:
    """Run ``n_sub`` compiled SSP-RK sub-steps on the land-zeroed ``state`` (B, H, W) in K.

    Returns the new (B, H, W) state, or None when compilation failed (warned once per
    configuration; the caller then uses the eager path). Call without autograd.
    """
    if op.periodic:
        if not _WARNED_PERIODIC:
            _WARNED_PERIODIC.append(True)
            warnings.warn(
                "advect: KernelOptions(compile=True) is not supported on periodic (global) grids; the eager "
                "no-grad kernel runs instead (same results; set compile=False to silence this)",
                RuntimeWarning,
                stacklevel=3,
            )
        return None
    diffusion = op.kx is not None
    key = (stepper, limiter_name, diffusion)
    if key in _FAILED:
        return None
    b, h, w = state.shape
    pad = _pad_width(w)
    zeros_like_x = torch.zeros((h, w - 1), dtype=state.dtype, device=state.device)
    zeros_like_y = torch.zeros((h - 1, w), dtype=state.dtype, device=state.device)
    coef = (
        _flat(op.ap_x + op.am_x, b, h, w, pad),  # = the face flux (one of the two is 0)
        _flat(op.ap_y + op.am_y, b, h, w, pad),
        _flat(op.open_x[:, 1:-1], b, h, w, pad),
        _flat(op.open_y[1:-1, :], b, h, w, pad),
        _flat(op.kx if op.kx is not None else zeros_like_x, b, h, w, pad),
        _flat(op.ky if op.ky is not None else zeros_like_y, b, h, w, pad),
        _flat(one_plus_h_lin, b, h, w, None),
        _flat(h_inv_area, b, h, w, None),
    )
    x = _flat(state, b, h, w, pad)
    fn = _compiled_substep()
    kwargs = {"stepper": stepper, "w": w, "pad": pad, "limiter": limiter, "diffusion": diffusion}
    try:
        x = fn(x, coef, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any compiler/toolchain failure falls back to eager
        _FAILED.add(key)
        warnings.warn(
            f"advect: torch.compile of the sub-step failed ({type(exc).__name__}: {exc}); using the eager "
            "kernel instead (KernelOptions(compile=False) silences this)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    for _ in range(n_sub - 1):
        x = fn(x, coef, **kwargs)
    return x[:, pad : pad + h * w].reshape(b, h, w)
