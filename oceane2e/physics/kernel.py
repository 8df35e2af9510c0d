"""The dynamic kernel: differentiable SST(A) advection on the sphere (DESIGN.md §1, §5).

Integrates, for one forecast interval ``dt_s`` (one day by default),

    ∂C/∂t = −∇·(u C) + κ ∇²C            (``form="flux"``, the default: conservative)
    ∂C/∂t = −u·∇C + κ ∇²C                (``form="advective"``: flux differences minus C ∇·u)

with a finite-volume scheme on the lat-lon grid of :class:`~oceane2e.physics.grid.SphericalGrid`:

* velocities given at cell centres are averaged to the faces; a face between an ocean and a land
  cell is closed (no flux through coastlines); region-edge faces carry zero-gradient inflow/outflow
  (the ghost cell copies the edge cell's value and velocity);
* MUSCL reconstruction: piecewise-linear cells with limited slopes (van Leer, minmod, superbee;
  or ``"none"``: first-order upwind), upwind face values; the slope is zero next to closed faces
  and region edges;
* SSP Runge–Kutta (1, 2 or 3 stages) in time, with the number of equal sub-steps chosen from the
  largest Courant number over the batch so that each sub-step stays below ``max_courant``;
* optional explicit diffusion κ∇²C in flux form (closed at coasts, zero flux at region edges);
* on a periodic grid (longitudes closing the circle, :attr:`SphericalGrid.periodic`) x has no region
  edges: the seam between the last and the first column is an ordinary face (slopes, fluxes and
  diffusion wrap around), so a field crosses the dateline as it crosses any other meridian;
* optionally (``polar_cap_deg``) rows poleward of a latitude are left out (held like land), so the
  narrow cells near a pole do not set the number of sub-steps (see :class:`KernelOptions`).

For non-divergent face velocities both forms coincide. The flux form conserves Σ area·C exactly in a
closed basin whatever the velocity; the advective form keeps a uniform anomaly uniform under a
divergent velocity (e.g. a learned correction, or flow towards a coast where the face is closed),
but conserves heat only when the discrete flow is non-divergent.

``scheme="reference"`` runs the reference release's scheme instead (see
:mod:`oceane2e.physics.reference`).

The functions are pure (no parameters, no I/O), batched over the leading axis, differentiable with
``torch.autograd`` and device/dtype agnostic (float32 or float64; the grid is cast to ``c``'s dtype).
When no input requires a gradient (or under ``torch.no_grad()``) the same arithmetic runs in place
in a few reused buffers (:mod:`oceane2e.physics.fast`), which is ~2× faster on a CPU, or, with
``KernelOptions(compile=True)``, as ``torch.compile``-fused loops (:mod:`oceane2e.physics.compiled`),
~3× faster again.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.utils.checkpoint

from oceane2e.dates import SECONDS_PER_DAY
from oceane2e.physics.grid import SphericalGrid

Scheme = Literal["muscl", "reference"]
Limiter = Literal["van_leer", "minmod", "superbee", "none"]
TimeStepper = Literal["ssp_rk1", "ssp_rk2", "ssp_rk3"]
Form = Literal["flux", "advective"]
SubstepPolicy = Literal["batch", "per_sample"]

_SCHEMES = ("muscl", "reference")
_LIMITERS = ("van_leer", "minmod", "superbee", "none")
_STEPPERS = ("ssp_rk1", "ssp_rk2", "ssp_rk3")
_FORMS = ("flux", "advective")
_POLICIES = ("batch", "per_sample")


AUTO_CHECKPOINT_CELLS = 131072  # B·H·W from which KernelOptions(checkpoint=None) recomputes sub-steps


class CourantError(ValueError):
    """The requested step would exceed the maximum Courant number and sub-stepping is not allowed."""


@dataclass(frozen=True)
class KernelOptions:
    """Numerical options of :func:`advect`.

    Attributes:
        scheme: ``"muscl"`` (ours) or ``"reference"`` (forward Euler + centred differences + 1-2-1
            filter after each fixed 1800 s sub-step, the reference release's scheme).
        limiter: slope limiter of the MUSCL reconstruction; ``"none"`` sets the slopes to zero, i.e.
            first-order upwind (donor cell): monotone and cheapest, but diffusive.
        time_stepper: ``"ssp_rk3"`` (Shu–Osher), ``"ssp_rk2"`` (Heun) or ``"ssp_rk1"`` (forward Euler,
            meant for ``limiter="none"``, monotone up to Courant 1).
        max_courant: largest Courant number ``dt_sub·(|u|/dx + |v|/dy)`` (sum over directions) allowed
            per sub-step (+ ``4κ·dt_sub·(1/dx² + 1/dy²)`` when κ > 0). 0.5 keeps MUSCL free of new
            extrema; first-order upwind with forward Euler is monotone up to 1.
        diffusivity: explicit horizontal diffusivity κ in m² s⁻¹ (0 disables diffusion).
        substeps: fixed number of sub-steps per call; None chooses it from the Courant number.
        substep_policy: with ``substeps=None``, ``"batch"`` uses one sub-step count for the whole
            batch (from its largest Courant number); ``"per_sample"`` gives every sample the count
            of its own Courant number (one pass over the batch: sub-step k advances the samples
            whose count exceeds k, each with its own step length), so a
            sample's result does not depend on which other samples share its batch — what a
            forecast needs for N-process inference to equal one process. One operator build
            either way; ``max_substeps`` and the finite-velocity check apply to every sample.
        allow_substeps: if False, the whole interval is one step and a Courant number above
            ``max_courant`` raises :class:`CourantError`.
        form: ``"flux"`` (conservative) or ``"advective"`` (see the module docstring). With a
            divergent velocity (a learned correction, coast-normal flow) the flux form creates
            sources/sinks ``−C ∇·u`` of the anomaly; the advective form is the SST equation then.
        max_substeps: safety bound; more sub-steps than this raise (runaway velocities).
        reference_substep_s: the reference scheme's fixed sub-step (s); 48 of them make one day.
        checkpoint: recompute each sub-step in the backward pass instead of storing its
            intermediates (``torch.utils.checkpoint``): ~5× less autograd memory (3.1 → 0.58 GB
            per sample-day at 480×600), up to 2× the backward time on small grids. None (default)
            turns it on when B·H·W ≥ 131072 cells, where memory, not time, is the limit. Only acts
            when gradients are being recorded.
        compile: run each sub-step as ``torch.compile``-fused loops (:mod:`oceane2e.physics.compiled`)
            when nothing needs a gradient: ~3× faster on a CPU (5 grid passes per stage instead of
            ~30), same results to float round-off. The first call per grid shape and configuration
            compiles (seconds to ~30 s; cached on disk by TorchInductor); if compilation fails the
            eager path runs after a warning. Ignored when gradients are recorded and for
            ``scheme="reference"`` and on periodic grids (the flat layout has no seam; a
            warning says so once and the in-place eager path runs instead).
        polar_cap_deg: None (default) integrates every ocean row. A latitude in degrees leaves the
            rows whose centres lie poleward of ±``polar_cap_deg`` out of the kernel: they keep their
            input values, and the faces between them and the rest are closed like coasts (heat
            content of the rest is still conserved). Meant for global grids, where a row next to a
            pole is R·cos φ·Δλ wide (242 m at 89.75° on a 0.5° grid, against 55.6 km at the
            equator) and would set the Courant number of the whole globe: at 0.5°, 80° keeps the
            narrowest cell at 9.7 km, so a current of 1 m s⁻¹ needs ~18 sub-steps a day there.
    """

    scheme: Scheme = "muscl"
    limiter: Limiter = "van_leer"
    time_stepper: TimeStepper = "ssp_rk3"
    max_courant: float = 0.5
    diffusivity: float = 0.0
    substeps: int | None = None
    substep_policy: SubstepPolicy = "batch"
    allow_substeps: bool = True
    form: Form = "flux"
    max_substeps: int = 10_000
    reference_substep_s: float = 1800.0
    checkpoint: bool | None = None
    compile: bool = False
    polar_cap_deg: float | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("scheme", self.scheme, _SCHEMES),
            ("limiter", self.limiter, _LIMITERS),
            ("time_stepper", self.time_stepper, _STEPPERS),
            ("form", self.form, _FORMS),
            ("substep_policy", self.substep_policy, _POLICIES),
        ):
            if value not in allowed:
                raise ValueError(f"KernelOptions.{name}={value!r} is not one of {allowed}")
        if not (self.max_courant > 0 and math.isfinite(self.max_courant)):
            raise ValueError(f"KernelOptions.max_courant must be a positive number, got {self.max_courant}")
        if not (self.diffusivity >= 0 and math.isfinite(self.diffusivity)):
            raise ValueError(f"KernelOptions.diffusivity must be >= 0 m2/s, got {self.diffusivity}")
        if self.substeps is not None and self.substeps < 1:
            raise ValueError(f"KernelOptions.substeps must be None (automatic) or >= 1, got {self.substeps}")
        if self.max_substeps < 1:
            raise ValueError(f"KernelOptions.max_substeps must be >= 1, got {self.max_substeps}")
        if not self.reference_substep_s > 0:
            raise ValueError(f"KernelOptions.reference_substep_s must be > 0 s, got {self.reference_substep_s}")
        if self.polar_cap_deg is not None and not 0.0 < self.polar_cap_deg <= 90.0:
            raise ValueError(f"KernelOptions.polar_cap_deg must be None or in (0, 90] degrees, got {self.polar_cap_deg}")
        if self.scheme == "reference" and self.diffusivity > 0:
            raise ValueError("KernelOptions: the reference scheme has no explicit diffusion; set diffusivity=0")


# ---------------------------------------------------------------------------------------------
# limiters: cell slope from the backward difference a and the forward difference b (same shape),
# with their absolute values precomputed once per face array


def _van_leer(a: torch.Tensor, b: torch.Tensor, abs_a: torch.Tensor, abs_b: torch.Tensor) -> torch.Tensor:
    """Harmonic-mean slope 2ab/(a+b) when a, b share a sign, else 0 (smooth, NaN-free gradient)."""
    num = torch.addcmul(a * abs_b, abs_a, b)
    # num is exactly 0 (with a zero derivative) wherever the denominator is 0
    return num / (abs_a + abs_b).clamp_min(torch.finfo(a.dtype).tiny)


def _minmod(a: torch.Tensor, b: torch.Tensor, abs_a: torch.Tensor, abs_b: torch.Tensor) -> torch.Tensor:
    return 0.5 * (torch.sign(a) + torch.sign(b)) * torch.minimum(abs_a, abs_b)


def _superbee(a: torch.Tensor, b: torch.Tensor, abs_a: torch.Tensor, abs_b: torch.Tensor) -> torch.Tensor:
    big = torch.maximum(torch.minimum(2 * abs_a, abs_b), torch.minimum(abs_a, 2 * abs_b))
    return 0.5 * (torch.sign(a) + torch.sign(b)) * big


LimiterFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

LIMITERS: dict[str, LimiterFn] = {
    "van_leer": _van_leer,
    "minmod": _minmod,
    "superbee": _superbee,
}


# ---------------------------------------------------------------------------------------------
# validation and per-call precomputation


def _check_inputs(c: torch.Tensor, u: torch.Tensor, v: torch.Tensor, grid: SphericalGrid, dt_s: float) -> None:
    if c.ndim != 3:
        raise ValueError(f"advect: c must be (B, H, W) in K, got shape {tuple(c.shape)}")
    if u.shape != c.shape or v.shape != c.shape:
        raise ValueError(
            f"advect: u {tuple(u.shape)} and v {tuple(v.shape)} must have c's shape {tuple(c.shape)} (cell-centre m/s)"
        )
    if tuple(c.shape[-2:]) != grid.shape:
        raise ValueError(f"advect: field grid {tuple(c.shape[-2:])} differs from the SphericalGrid {grid.shape}")
    if not c.is_floating_point() or c.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"advect: c must be float32 or float64, got {c.dtype}")
    if not (dt_s > 0 and math.isfinite(dt_s)):
        raise ValueError(f"advect: dt_s must be a positive number of seconds, got {dt_s}")


@dataclass(frozen=True)
class _Operator:
    """Everything of one call that does not change between sub-steps (velocities are frozen).

    Volume fluxes are per metre of depth (m² s⁻¹); ``lin`` multiplies C (s⁻¹): the zero-gradient
    region edges, and −∇·u in the advective form.

    On a periodic grid (``periodic``) the x arrays hold the W faces of the circle instead of the
    W − 1 interior faces: entry j is the west face of cell j, entry 0 the seam.
    """

    ocean: torch.Tensor  # (H, W) bool
    ap_x: torch.Tensor  # (B, H, W-1) positive part of the interior x volume fluxes U·len; periodic (B, H, W)
    am_x: torch.Tensor  # (B, H, W-1) negative part; periodic (B, H, W)
    ap_y: torch.Tensor  # (B, H-1, W)
    am_y: torch.Tensor  # (B, H-1, W)
    open_x: torch.Tensor  # (H, W+1) float 1/0; region-edge entries are irrelevant; periodic (H, W)
    open_y: torch.Tensor  # (H+1, W)
    lin: torch.Tensor  # (B, H, W) s⁻¹
    kx: torch.Tensor | None  # (H, W-1) κ·len/dist (m² s⁻¹) or None; periodic (H, W)
    ky: torch.Tensor | None  # (H-1, W)
    inv_area: torch.Tensor  # (H, W) m⁻²
    rate: torch.Tensor  # (B,) s⁻¹, largest Courant number per second over ocean cells
    periodic: bool = False

    def prefix(self, m: int) -> _Operator:
        """The operator of the first ``m`` samples of the batch (views)."""
        if m == self.lin.shape[0]:
            return self
        return dataclasses.replace(
            self, ap_x=self.ap_x[:m], am_x=self.am_x[:m], ap_y=self.ap_y[:m], am_y=self.am_y[:m],
            lin=self.lin[:m], rate=self.rate[:m],
        )

    def select(self, index: torch.Tensor) -> _Operator:
        """The operator of the samples ``index`` (1-D long tensor) of the batch."""
        return dataclasses.replace(
            self, ap_x=self.ap_x[index], am_x=self.am_x[index], ap_y=self.ap_y[index], am_y=self.am_y[index],
            lin=self.lin[index], rate=self.rate[index],
        )


def _build_operator(u: torch.Tensor, v: torch.Tensor, grid: SphericalGrid, options: KernelOptions) -> _Operator:
    if grid.periodic:
        return _build_periodic_operator(u, v, grid, options)
    ocean = grid.mask
    zero = torch.zeros((), dtype=u.dtype, device=u.device)
    u = torch.where(ocean, u, zero) * grid.x_sign
    v = torch.where(ocean, v, zero) * grid.y_sign
    open_x = grid.open_x.to(u.dtype)
    open_y = grid.open_y.to(u.dtype)
    # face volume fluxes: interior = mean of the two centres, region edge = the edge cell's velocity
    fx = torch.cat([u[..., :1], 0.5 * (u[..., 1:] + u[..., :-1]), u[..., -1:]], dim=-1) * (open_x * grid.len_x)
    fy = torch.cat([v[..., :1, :], 0.5 * (v[..., 1:, :] + v[..., :-1, :]), v[..., -1:, :]], dim=-2) * (
        open_y * grid.len_y
    )
    fx_i, fy_i = fx[..., 1:-1], fy[..., 1:-1, :]
    # zero-gradient ghost cells: the edge flux U·C_edge is linear in C; + on the low side, − on the high side
    h, w = grid.shape
    pad = torch.nn.functional.pad
    lin = (
        pad(fx[..., :1], (0, w - 1))
        - pad(fx[..., -1:], (w - 1, 0))
        + pad(fy[..., :1, :], (0, 0, 0, h - 1))
        - pad(fy[..., -1:, :], (0, 0, h - 1, 0))
    )
    if options.form == "advective":
        # + C ∇·u (outward volume flux) turns −∇·(uC) into −u·∇C
        lin = lin + (fx[..., 1:] - fx[..., :-1]) + (fy[..., 1:, :] - fy[..., :-1, :])
    inv_area = 1.0 / grid.area
    lin = lin * inv_area

    kappa = options.diffusivity
    kx = ky = None
    if kappa > 0:
        kx = kappa * open_x[:, 1:-1] * grid.len_x[:, 1:-1] / grid.dist_x
        ky = kappa * open_y[1:-1, :] * grid.len_y[1:-1, :] / grid.dist_y

    with torch.no_grad():
        abs_fx = fx.abs()
        rate = _courant_rate(abs_fx[..., :-1], abs_fx[..., 1:], fy, ocean, inv_area, kappa, grid)
    return _operator(ocean, fx_i, fy_i, open_x, open_y, lin, kx, ky, inv_area, rate, periodic=False)


def _courant_rate(
    abs_fx_west: torch.Tensor, abs_fx_east: torch.Tensor, fy: torch.Tensor, ocean: torch.Tensor,
    inv_area: torch.Tensor, kappa: float, grid: SphericalGrid,
) -> torch.Tensor:
    """(B,) largest Courant number per second over ocean cells, from the |volume fluxes| of each cell's
    west/east faces (B, H, W) and the y face fluxes ``fy`` (B, H+1, W) (+ the diffusive limit)."""
    abs_fy = fy.abs()
    per_cell = torch.maximum(abs_fx_east, abs_fx_west) + torch.maximum(abs_fy[..., 1:, :], abs_fy[..., :-1, :])
    per_cell = per_cell * inv_area
    if kappa > 0:
        per_cell = per_cell + 4.0 * kappa * (1.0 / grid.dx**2 + 1.0 / grid.dy**2)
    zero = torch.zeros((), dtype=per_cell.dtype, device=per_cell.device)
    return torch.where(ocean, per_cell, zero).amax(dim=(-2, -1))


def _operator(
    ocean: torch.Tensor, fx_i: torch.Tensor, fy_i: torch.Tensor, open_x: torch.Tensor, open_y: torch.Tensor,
    lin: torch.Tensor, kx: torch.Tensor | None, ky: torch.Tensor | None, inv_area: torch.Tensor, rate: torch.Tensor,
    *, periodic: bool,
) -> _Operator:
    """The :class:`_Operator` of the face fluxes ``fx_i`` (x faces carrying a flux) and ``fy_i``."""
    return _Operator(
        ocean=ocean, ap_x=fx_i.clamp(min=0), am_x=fx_i.clamp(max=0), ap_y=fy_i.clamp(min=0), am_y=fy_i.clamp(max=0),
        open_x=open_x, open_y=open_y, lin=lin, kx=kx, ky=ky, inv_area=inv_area, rate=rate, periodic=periodic,
    )


def _build_periodic_operator(
    u: torch.Tensor, v: torch.Tensor, grid: SphericalGrid, options: KernelOptions
) -> _Operator:
    """:func:`_build_operator` of a grid periodic in x: W x-faces (entry j = west face of cell j)."""
    ocean = grid.mask
    zero = torch.zeros((), dtype=u.dtype, device=u.device)
    u = torch.where(ocean, u, zero) * grid.x_sign
    v = torch.where(ocean, v, zero) * grid.y_sign
    w = grid.shape[1]
    open_x = grid.open_x[:, :w].to(u.dtype)  # face j between cells j-1 and j; face 0 is the seam
    open_y = grid.open_y.to(u.dtype)
    fx = 0.5 * (u + torch.roll(u, 1, dims=-1)) * (open_x * grid.len_x[:, :w])  # (B, H, W)
    fy = torch.cat([v[..., :1, :], 0.5 * (v[..., 1:, :] + v[..., :-1, :]), v[..., -1:, :]], dim=-2) * (
        open_y * grid.len_y
    )
    fy_i = fy[..., 1:-1, :]
    h = grid.shape[0]
    pad = torch.nn.functional.pad
    # only the north/south region edges have ghost cells
    lin = pad(fy[..., :1, :], (0, 0, 0, h - 1)) - pad(fy[..., -1:, :], (0, 0, h - 1, 0))
    if options.form == "advective":
        lin = lin + (torch.roll(fx, -1, dims=-1) - fx) + (fy[..., 1:, :] - fy[..., :-1, :])
    inv_area = 1.0 / grid.area
    lin = lin * inv_area

    kappa = options.diffusivity
    kx = ky = None
    if kappa > 0:
        # equal spacing (a periodic grid's condition): the seam's centre distance is any column's
        dist_x = torch.cat([grid.dist_x[:, :1], grid.dist_x], dim=-1)
        kx = kappa * open_x * grid.len_x[:, :w] / dist_x
        ky = kappa * open_y[1:-1, :] * grid.len_y[1:-1, :] / grid.dist_y

    with torch.no_grad():
        abs_fx = fx.abs()
        rate = _courant_rate(abs_fx, torch.roll(abs_fx, -1, dims=-1), fy, ocean, inv_area, kappa, grid)
    return _operator(ocean, fx, fy_i, open_x, open_y, lin, kx, ky, inv_area, rate, periodic=True)


def _periodic_fluxes(
    c: torch.Tensor,
    open_faces: torch.Tensor,
    a_plus: torch.Tensor,
    a_minus: torch.Tensor,
    k_diff: torch.Tensor | None,
    limiter: LimiterFn | None,
) -> torch.Tensor:
    """MUSCL upwind (+ diffusive) fluxes through the W faces of a periodic x axis (the last dim).

    Entry j is the west face of cell j (entry 0 the seam); differences, slopes and face values wrap
    around, so the seam is treated like every other face. Returns (B, H, W) in K m² s⁻¹.
    """
    d = (c - torch.roll(c, 1, dims=-1)) * open_faces  # d[j] = c[j] - c[j-1] across face j
    if limiter is None:
        flux = torch.addcmul(a_plus * torch.roll(c, 1, dims=-1), a_minus, c)
    else:
        abs_d = d.abs()
        slope = limiter(d, torch.roll(d, -1, dims=-1), abs_d, torch.roll(abs_d, -1, dims=-1))
        high = torch.add(c, slope, alpha=0.5)  # value at the east face of each cell
        low = torch.add(c, slope, alpha=-0.5)  # value at the west face
        flux = torch.addcmul(a_plus * torch.roll(high, 1, dims=-1), a_minus, low)
    if k_diff is not None:
        flux = flux - k_diff * d
    return flux


def _interior_fluxes(
    c: torch.Tensor,
    dim: int,
    open_faces: torch.Tensor,
    a_plus: torch.Tensor,
    a_minus: torch.Tensor,
    k_diff: torch.Tensor | None,
    limiter: LimiterFn | None,
) -> torch.Tensor:
    """MUSCL upwind (+ diffusive) fluxes through the interior faces along ``dim`` (-1 or -2).

    Differences across closed faces and the region edges are 0, so slopes vanish next to coasts
    and edges (zero-gradient). Returns (B, n-1) along ``dim``, in K m² s⁻¹.
    """
    n = c.shape[dim]
    if limiter is None:  # first-order upwind: face values are the cell values
        flux = torch.addcmul(a_plus * c.narrow(dim, 0, n - 1), a_minus, c.narrow(dim, 1, n - 1))
        if k_diff is not None:
            inner = (c.narrow(dim, 1, n - 1) - c.narrow(dim, 0, n - 1)) * open_faces.narrow(dim, 1, n - 1)
            flux = flux - k_diff * inner
        return flux
    first, last = c.narrow(dim, 0, 1), c.narrow(dim, n - 1, 1)
    d = torch.diff(c, dim=dim, prepend=first, append=last) * open_faces  # (n+1) face differences
    abs_d = d.abs()
    slope = limiter(d.narrow(dim, 0, n), d.narrow(dim, 1, n), abs_d.narrow(dim, 0, n), abs_d.narrow(dim, 1, n))
    high = torch.add(c, slope, alpha=0.5).narrow(dim, 0, n - 1)  # value at the high-index face of cells 0..n-2
    low = torch.add(c, slope, alpha=-0.5).narrow(dim, 1, n - 1)  # value at the low-index face of cells 1..n-1
    flux = torch.addcmul(a_plus * high, a_minus, low)
    if k_diff is not None:
        flux = flux - k_diff * d.narrow(dim, 1, n - 1)
    return flux


def _convergence(flux_x: torch.Tensor, flux_y: torch.Tensor) -> torch.Tensor:
    """−(flux divergence) summed over the cell faces; region-edge fluxes are left to ``lin``."""
    pad = torch.nn.functional.pad
    fx = pad(flux_x, (1, 1))
    fy = pad(flux_y, (0, 0, 1, 1))
    return (fx[..., :-1] - fx[..., 1:]) + (fy[..., :-1, :] - fy[..., 1:, :])


def _euler_step(
    c: torch.Tensor, op: _Operator, limiter: LimiterFn | None, one_plus_h_lin: torch.Tensor, h_inv_area: torch.Tensor
) -> torch.Tensor:
    """One forward-Euler step ``c + h·dC/dt`` (B, H, W) in K for land-zeroed ``c``.

    ``one_plus_h_lin`` = 1 + h·lin (B, H, W) and ``h_inv_area`` = h / area (H, W) fold the step ``h``
    into the coefficients, so the update is two tensor passes.
    """
    if op.periodic:
        flux_x = _periodic_fluxes(c, op.open_x, op.ap_x, op.am_x, op.kx, limiter)
        flux_y = _interior_fluxes(c, -2, op.open_y, op.ap_y, op.am_y, op.ky, limiter)
        fy = torch.nn.functional.pad(flux_y, (0, 0, 1, 1))
        conv = (flux_x - torch.roll(flux_x, -1, dims=-1)) + (fy[..., :-1, :] - fy[..., 1:, :])
        return torch.addcmul(c * one_plus_h_lin, conv, h_inv_area)
    flux_x = _interior_fluxes(c, -1, op.open_x, op.ap_x, op.am_x, op.kx, limiter)
    flux_y = _interior_fluxes(c, -2, op.open_y, op.ap_y, op.am_y, op.ky, limiter)
    return torch.addcmul(c * one_plus_h_lin, _convergence(flux_x, flux_y), h_inv_area)


# ---------------------------------------------------------------------------------------------
# public API


def courant_number(
    u: torch.Tensor, v: torch.Tensor, grid: SphericalGrid, dt_s: float, polar_cap_deg: float | None = None
) -> torch.Tensor:
    """Largest advective Courant number ``dt·(|U|/dx + |V|/dy)`` (face-based) over ocean cells.

    Args:
        u, v: (B, H, W) eastward/northward velocity at cell centres, m s⁻¹ (land values ignored).
        grid: the grid; dt_s: the step in seconds.
        polar_cap_deg: leave out the rows poleward of it, as ``KernelOptions.polar_cap_deg`` does.

    Returns:
        (B,) dimensionless, without gradient.
    """
    grid = grid.to(device=u.device, dtype=u.dtype)
    if polar_cap_deg is not None:
        grid = grid.with_polar_cap(polar_cap_deg)
    op = _build_operator(u.detach(), v.detach(), grid, KernelOptions())
    return op.rate * dt_s


def advect(
    c: torch.Tensor,
    u: torch.Tensor,
    v: torch.Tensor,
    grid: SphericalGrid,
    dt_s: float = SECONDS_PER_DAY,
    options: KernelOptions | None = None,
) -> torch.Tensor:
    """Advance the SST anomaly ``c`` by ``dt_s`` seconds under the frozen velocity (u, v).

    Args:
        c: (B, H, W) SST anomaly in K (any value, even NaN, over land).
        u: (B, H, W) eastward velocity at cell centres, m s⁻¹ (land values ignored, may be NaN).
        v: (B, H, W) northward velocity at cell centres, m s⁻¹.
        grid: :class:`SphericalGrid` of the data; its ``mask`` defines ocean and land (cast to
            ``c``'s dtype/device here; pre-cast it with ``grid.to()`` to save that per call).
        dt_s: interval in seconds (default one day).
        options: :class:`KernelOptions` (default: MUSCL van Leer, SSP-RK3, Courant ≤ 0.5).

    Returns:
        (B, H, W) the anomaly after ``dt_s``, in K; land cells hold their input values unchanged.

    Raises:
        CourantError: the Courant number exceeds ``max_courant`` and sub-stepping is disabled, or the
            needed sub-steps exceed ``max_substeps``, or the velocity over the ocean is not finite.
    """
    options = options or KernelOptions()
    _check_inputs(c, u, v, grid, dt_s)
    if u.dtype != c.dtype or v.dtype != c.dtype:
        u, v = u.to(c.dtype), v.to(c.dtype)
    if grid.dtype != c.dtype or grid.device != c.device:
        grid = grid.to(device=c.device, dtype=c.dtype)
    # the physics always runs in c's precision, also inside a network's bf16/fp16 autocast region
    with torch.autocast(device_type=c.device.type, enabled=False):
        return _advect(c, u, v, grid, dt_s, options)


def _advect(
    c: torch.Tensor, u: torch.Tensor, v: torch.Tensor, grid: SphericalGrid, dt_s: float, options: KernelOptions
) -> torch.Tensor:
    """:func:`advect` after validation and casting."""
    if options.polar_cap_deg is not None:
        grid = grid.with_polar_cap(options.polar_cap_deg)
    if options.scheme == "reference":
        from oceane2e.physics.reference import reference_advect

        return reference_advect(c, u, v, grid, dt_s, substep_s=options.reference_substep_s)

    op = _build_operator(u, v, grid, options)
    if options.substep_policy == "per_sample" and options.substeps is None and c.shape[0] > 1:
        counts = _substep_counts_per_sample(op.rate, dt_s, options)
        if len(set(counts)) > 1:
            return _integrate_groups(c, op, counts, dt_s, options)
        return _integrate(c, op, counts[0], dt_s, options)
    return _integrate(c, op, _substep_count(op.rate, dt_s, options), dt_s, options)


def _integrate_groups(
    c: torch.Tensor, op: _Operator, counts: list[int], dt_s: float, options: KernelOptions
) -> torch.Tensor:
    """Integrate every sample with its own sub-step count in ONE pass over the batch.

    The samples are ordered by count, largest first; sub-step k then advances the leading samples
    whose count exceeds k (a contiguous prefix of the batch, so views, no copies on the no-grad
    path), each with its own step ``dt_s / count``. Every sample gets exactly the arithmetic it
    would get alone, at ``max(counts)`` dispatches instead of one pass per distinct count
    (tiny groups cost ~2× on a CPU, where dispatch dominates small grids).
    """
    if options.compile:  # the fused loops take one step size: one pass per distinct count
        return _integrate_each_count(c, op, counts, dt_s, options)
    b = len(counts)
    order = sorted(range(b), key=lambda i: -counts[i])
    permuted = order != list(range(b))
    if permuted:
        sel = torch.tensor(order, device=c.device)
        c, op = c[sel], op.select(sel)
    n = [counts[i] for i in order]  # descending
    h = torch.tensor([dt_s / k for k in n], dtype=c.dtype, device=c.device).view(b, 1, 1)
    one_plus_h_lin = 1.0 + h * op.lin
    h_inv_area = h * op.inv_area
    # segments of equal prefix length: (sub-steps to run, active samples)
    segments: list[tuple[int, int]] = []
    done = 0
    for level in sorted(set(n)):
        active = sum(1 for k in n if k >= level)
        segments.append((level - done, active))
        done = level
    limiter = LIMITERS.get(options.limiter)
    zero = torch.zeros((), dtype=c.dtype, device=c.device)
    state = torch.where(op.ocean, c, zero)
    if not (torch.is_grad_enabled() and (c.requires_grad or op.ap_x.requires_grad or op.ap_y.requires_grad)):
        from oceane2e.physics.fast import integrate_no_grad

        with torch.no_grad():
            for steps, m in segments:
                part = op.prefix(m)
                integrate_no_grad(state[:m], steps, options.time_stepper, part, limiter,
                                  options.limiter == "van_leer", one_plus_h_lin[:m], h_inv_area[:m])
    else:
        checkpoint = options.checkpoint if options.checkpoint is not None else c.numel() >= AUTO_CHECKPOINT_CELLS
        for steps, m in segments:
            part, lin_m, area_m = op.prefix(m), one_plus_h_lin[:m], h_inv_area[:m]

            def substep(x: torch.Tensor, part: _Operator = part, lin_m: torch.Tensor = lin_m,
                        area_m: torch.Tensor = area_m) -> torch.Tensor:
                return _rk_substep(x, part, limiter, lin_m, area_m, options.time_stepper)

            for _ in range(steps):
                head = state[:m]
                head = torch.utils.checkpoint.checkpoint(substep, head, use_reentrant=False) if checkpoint else substep(head)
                state = head if m == b else torch.cat([head, state[m:]])
    out = torch.where(op.ocean, state, c)
    if permuted:
        inverse = torch.empty(b, dtype=torch.long, device=c.device)
        inverse[sel] = torch.arange(b, device=c.device)
        out = out[inverse]
    return out


def _integrate_each_count(
    c: torch.Tensor, op: _Operator, counts: list[int], dt_s: float, options: KernelOptions
) -> torch.Tensor:
    """Integrate each group of samples with equal sub-step counts; results back in batch order."""
    order: list[int] = []
    parts: list[torch.Tensor] = []
    for n in sorted(set(counts)):
        idx = [i for i, k in enumerate(counts) if k == n]
        sel = torch.tensor(idx, device=c.device)
        parts.append(_integrate(c[sel], op.select(sel), n, dt_s, options))
        order += idx
    inverse = torch.empty(len(order), dtype=torch.long, device=c.device)
    inverse[torch.tensor(order, device=c.device)] = torch.arange(len(order), device=c.device)
    return torch.cat(parts)[inverse]


def _rk_substep(
    x: torch.Tensor, op: _Operator, limiter: LimiterFn | None, one_plus_h_lin: torch.Tensor,
    h_inv_area: torch.Tensor, stepper: str,
) -> torch.Tensor:
    """One SSP-RK sub-step of the differentiable path."""

    def euler(y: torch.Tensor) -> torch.Tensor:
        return _euler_step(y, op, limiter, one_plus_h_lin, h_inv_area)

    if stepper == "ssp_rk1":
        return euler(x)
    if stepper == "ssp_rk2":  # Heun: x + ½(E(E(x)) − x)
        return torch.lerp(x, euler(euler(x)), 0.5)
    x2 = torch.lerp(x, euler(euler(x)), 0.25)  # Shu–Osher SSP-RK3
    return torch.lerp(x, euler(x2), 2.0 / 3.0)


def _integrate(c: torch.Tensor, op: _Operator, n_sub: int, dt_s: float, options: KernelOptions) -> torch.Tensor:
    """``n_sub`` equal SSP-RK sub-steps of the operator ``op`` over ``dt_s``: (B, H, W) K -> (B, H, W) K."""
    h = dt_s / n_sub
    limiter = LIMITERS.get(options.limiter)  # None: first-order upwind
    zero = torch.zeros((), dtype=c.dtype, device=c.device)
    state = torch.where(op.ocean, c, zero)

    one_plus_h_lin = 1.0 + h * op.lin
    h_inv_area = h * op.inv_area

    def substep(x: torch.Tensor) -> torch.Tensor:
        return _rk_substep(x, op, limiter, one_plus_h_lin, h_inv_area, options.time_stepper)

    if not (torch.is_grad_enabled() and (c.requires_grad or op.ap_x.requires_grad or op.ap_y.requires_grad)):
        # nothing to differentiate: the same arithmetic fused by torch.compile, or in place in a few
        # reused buffers
        from oceane2e.physics.fast import integrate_no_grad

        with torch.no_grad():
            if options.compile:
                from oceane2e.physics.compiled import try_integrate_compiled

                fused = try_integrate_compiled(
                    state, n_sub, options.time_stepper, op, options.limiter, limiter, one_plus_h_lin, h_inv_area
                )
                if fused is not None:
                    return torch.where(op.ocean, fused, c)
            state = integrate_no_grad(
                state, n_sub, options.time_stepper, op, limiter, options.limiter == "van_leer", one_plus_h_lin, h_inv_area
            )
        return torch.where(op.ocean, state, c)

    checkpoint = options.checkpoint if options.checkpoint is not None else c.numel() >= AUTO_CHECKPOINT_CELLS
    recompute = checkpoint and torch.is_grad_enabled()
    for _ in range(n_sub):
        if recompute:
            state = torch.utils.checkpoint.checkpoint(substep, state, use_reentrant=False)
        else:
            state = substep(state)
    return torch.where(op.ocean, state, c)


def _substep_counts_per_sample(rate: torch.Tensor, dt_s: float, options: KernelOptions) -> list[int]:
    """Sub-step count of each sample from its own Courant number (``rate`` (B,) s⁻¹), each guarded
    like :func:`_substep_count`."""
    return [_substep_count(r, dt_s, options, courant=cn) for r, cn in zip(rate, (rate * dt_s).tolist(), strict=True)]


def _substep_count(rate: torch.Tensor, dt_s: float, options: KernelOptions, courant: float | None = None) -> int:
    """Number of equal sub-steps so that each stays below ``options.max_courant``.

    ``courant`` (optional) is the Courant number over ``dt_s`` already computed by the caller.
    """
    if courant is not None:
        worst = courant
    else:
        worst = float(rate.max().item()) * dt_s if rate.numel() else 0.0
    if not math.isfinite(worst):
        raise CourantError("advect: the velocity over ocean cells is not finite (NaN/inf); check the inputs")
    if options.substeps is not None:
        n = options.substeps
        if worst / n > options.max_courant * (1 + 1e-12):
            raise CourantError(
                f"advect: {n} fixed sub-steps give Courant number {worst / n:.3f} > max_courant "
                f"{options.max_courant}; raise KernelOptions.substeps or set it to None (automatic)"
            )
        return n
    needed = max(1, math.ceil(worst / options.max_courant - 1e-9))
    if needed > 1 and not options.allow_substeps:
        raise CourantError(
            f"advect: Courant number {worst:.3f} over dt_s exceeds max_courant {options.max_courant} and "
            "allow_substeps=False; allow sub-steps, shorten dt_s or raise max_courant"
        )
    if needed > options.max_substeps:
        raise CourantError(
            f"advect: {needed} sub-steps needed (Courant {worst:.1f}) > max_substeps {options.max_substeps}; "
            "the velocity is unrealistically large (m/s expected), or a global grid reaches the narrow cells "
            "next to a pole (set KernelOptions.polar_cap_deg, e.g. 80)"
        )
    return needed
