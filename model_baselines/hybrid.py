"""The Ocean-E2E hybrid: a learned velocity correction and a learned source around the physics kernel.

One forecast day (DESIGN.md §1):

    u = u_g + s_u · model_gm(SSTA_t, u_g, v_g, mask)                 (correction velocity, m s⁻¹)
    C* = advect(SSTA_t, u, grid, 1 day)                               (the dynamic kernel, physical units)
    S = s_S · model_S(u10, v10, t2m at t and t+1, SSTA_t, mask)       (K per day)
    SSTA_{t+1} = C* + S                                               (damping: none, the paper)
    SSTA_{t+1} = exp(−λΔt)·C* + φ(λΔt)·S,  φ(x) = (1 − e^{−x})/x       (damping: field | network)

With damping, the last line is the exact solution over the day of ``dC/dt = −λ C + S/Δt`` from the
advected anomaly C* (operator splitting: advection first, then relaxation and source together), so
the source is integrated with the relaxation rather than added after it, and a constant source can
never make the anomaly grow without bound: it settles at S/(λΔt). λ(x) ≥ 0 (s⁻¹) is a learned
per-cell rate (``field``), optionally modulated by a second output channel of model_S from the
day's atmosphere and SSTA (``network``); it starts at 1/``damping_init_days``. Anomalies in this
system decay with an e-folding time of ~15–20 days (air–sea exchange, mixing), which damped
persistence exploits and which pure advection cannot represent.

``s_u`` (``correction_scale``, m s⁻¹ per unit network output) is the reference release's magic 0.1
made a named field: the networks end in a zero-initialised read-out and work in normalised units,
so an output of O(1) times 0.1 m s⁻¹ gives corrections an order of magnitude below the jet
(~1 m s⁻¹) — the eddy-induced / unresolved transport the correction is meant to add — and training
starts from pure geostrophic advection. ``s_S`` (``source_scale``) plays the same role for the
source: its unit is the SSTA standard deviation of the training years per day, times this factor.

The kernel runs in float32 (float64 if the inputs are) outside any autocast region, so bf16 on a GPU
touches only the networks. Land stays exactly 0.

**Without currents or atmosphere (the SST-only mode; docs/real_data.md).** The same model adapts to
the roles the data has (:class:`oceane2e.data.info.DataInfo`), nothing else changes:

* no ``velocity`` role (no altimetry): there are no currents to forecast, so no M_θ stage; u_g = 0 and
  the kernel advects with the learned velocity alone, u = s_u · model_gm(SSTA_t, season, mask);
* no ``atmos`` role (no ERA5): model_S is an SST-only source, S = s_S · model_S(SSTA_t, [SSTA_{t-1},
  mean SSTA of the last n_in days,] sin/cos of the annual phase of day t, mask): the SSTA history
  (when the windows give one, ``windows.history_days``) tells it what persists, the season stands in
  for the seasonal air-sea forcing;
* with both roles the inputs are exactly those above (GM_INPUTS, SOURCE_INPUTS): the computation of
  the full model does not change.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, create_model, model_validator
from torch import Tensor, nn

from model_baselines.base import (
    MASK_INPUT,
    SEASON_INPUTS,
    STATE,
    Fields,
    OneStepForecaster,
    State,
    StepInputs,
    apply_mask,
    history_inputs,
    next_day,
)
from model_baselines.blocks import SimVPCore
from model_baselines.registry import ModelSpec
from oceane2e.config import StrictModel
from oceane2e.data.contract import ATMOS_CHANNELS, GEO_CHANNELS
from oceane2e.data.info import DataInfo
from oceane2e.dates import SECONDS_PER_DAY
from oceane2e.physics.grid import SphericalGrid
from oceane2e.physics.kernel import KernelOptions, advect

U, V = GEO_CHANNELS  # the eastward and northward current channels, by name
#: inputs of the velocity-correction network (the paper's model_gm): ssta, u_g, v_g, mask
GM_INPUTS: tuple[str, ...] = (STATE, U, V, MASK_INPUT)
#: inputs of the source network (the paper's model_S): the atmosphere at t and t+1, the SSTA, the mask
SOURCE_INPUTS: tuple[str, ...] = (*ATMOS_CHANNELS, *next_day(ATMOS_CHANNELS), STATE, MASK_INPUT)


def gm_inputs(info: DataInfo) -> tuple[str, ...]:
    """model_gm's inputs for the data: :data:`GM_INPUTS` with currents; without them the SSTA, the season
    and the mask (the learned velocity is then the only advecting velocity)."""
    if all(name in info.names("velocity") for name in (U, V)):
        return GM_INPUTS
    return (STATE, *SEASON_INPUTS, MASK_INPUT)


def source_inputs(info: DataInfo, sees_currents: bool = False) -> tuple[str, ...]:
    """model_S's inputs for the data: :data:`SOURCE_INPUTS` with the atmosphere; without it the SST-only
    source (SSTA, its history when the data gives one, the season, the mask); plus u_g, v_g on request."""
    currents = (U, V) if sees_currents and all(n in info.names("velocity") for n in (U, V)) else ()
    if all(name in info.names("atmos") for name in ATMOS_CHANNELS):
        return SOURCE_INPUTS + currents
    return (STATE, *history_inputs(info), *SEASON_INPUTS, MASK_INPUT) + currents


#: raw damping rate per unit of the learned per-cell parameter (see :class:`Oceane2e`)
DAMPING_PARAM_SCALE = 10.0


class BackboneSizes(StrictModel):
    """Sizes of one SimVP-style backbone (see :class:`model_baselines.blocks.SimVPCore`)."""

    hid_S: int = Field(16, ge=1, description="channels of the spatial encoder and decoder")
    hid_T: int = Field(32, ge=1, description="channels of the gated translator")
    N_S: int = Field(2, ge=1, description="encoder/decoder layers; downsampling 2**(N_S//2)")
    N_T: int = Field(2, ge=1, description="translator blocks")
    attn_kernel: int = Field(11, ge=3, description="large-kernel attention receptive field (latent cells)")
    mlp_ratio: float = Field(2.0, gt=0, description="translator MLP width relative to hid_T")


#: the KernelOptions a config may set, with what each means (the defaults are KernelOptions' own)
_KERNEL_FIELDS: dict[str, str] = {
    "scheme": "ours (muscl), or the reference release's scheme (reference)",
    "limiter": "slope limiter of the MUSCL reconstruction",
    "time_stepper": "SSP Runge-Kutta stages",
    "max_courant": "largest Courant number of one sub-step",
    "diffusivity": "explicit diffusivity kappa, m2 s-1",
    "form": "flux (conservative) or advective (keeps a uniform anomaly uniform under the divergent learned "
            "correction; the shipped hybrid configs use it)",
    "checkpoint": "recompute kernel sub-steps in backward (memory); null = automatic by grid size",
    "compile": "torch.compile-fused sub-steps when no gradient is needed (inference)",
    "max_substeps": "safety bound on the sub-steps of one day (runaway velocities raise)",
    "polar_cap_deg": "global grids: rows poleward of this latitude are held, not advected (their narrow cells "
                     "would set the sub-steps); null = every row",
}


class _KernelSectionBase(StrictModel):
    """Numerical options of the dynamic kernel (the fields: see :class:`KernelOptions`)."""

    def options(self) -> KernelOptions:
        """The :class:`KernelOptions` of this section."""
        return KernelOptions(**self.model_dump())

    @model_validator(mode="after")
    def _valid(self) -> _KernelSectionBase:
        self.options()  # KernelOptions' own checks (e.g. the reference scheme has no diffusion)
        return self


def _kernel_section() -> type[_KernelSectionBase]:
    """The ``model.kernel`` config section, DERIVED from :class:`KernelOptions`: the same names, types
    and defaults, so the two can never disagree."""
    hints = typing.get_type_hints(KernelOptions)
    defaults = {f.name: f.default for f in dataclasses.fields(KernelOptions)}
    fields = {name: (hints[name], Field(defaults[name], description=doc)) for name, doc in _KERNEL_FIELDS.items()}
    return create_model("KernelSection", __base__=_KernelSectionBase, __module__=__name__, **fields)


KernelSection = _kernel_section()


class HybridConfig(StrictModel):
    """The ``model:`` section of the hybrid's config (``name: Oceane2e``)."""

    name: Literal["Oceane2e"] = "Oceane2e"
    correction_scale: float = Field(
        0.1,
        ge=0,
        description="m/s of correction velocity per unit output of model_gm (the reference release's 0.1): "
        "keeps the learned correction an order of magnitude below the jet and starts training "
        "from pure geostrophic advection; 0 disables the correction",
    )
    source_scale: float = Field(
        1.0, ge=0, description="SSTA std per day per unit output of model_S; 0 disables the source"
    )
    velocity_time: Literal["now", "mean"] = Field(
        "mean",
        description="advect with u_g of day t ('now', the paper) or the mean of days t and t+1 "
        "(time-centred over the step)",
    )
    source_sees_currents: bool = Field(
        False, description="improvement: also give model_S the geostrophic currents (u_g, v_g)"
    )
    correction_form: Literal["velocity", "streamfunction"] = Field(
        "velocity",
        description="model_gm outputs the correction velocity itself (the paper) or a streamfunction ψ whose "
        "curl (u, v) = (−∂ψ/∂y, ∂ψ/∂x) is the correction: non-divergent, so it moves the anomaly without "
        "creating or destroying it (a divergent correction makes a C·∇·u source in the advective form, the "
        "hybrid's warm drift: benchmarks/drift.py, docs/benchmarks.md)",
    )
    advection: bool = Field(
        True, description="run the dynamic kernel; False (an ablation: 'no kernel') leaves only the source "
        "(and the damping) and ignores model_gm"
    )
    damping: Literal["none", "field", "network"] = Field(
        "none",
        description="relaxation of the anomaly at a learned rate λ(x) >= 0, integrated exactly with the source "
        "over the day: 'none' (the paper), 'field' (a learned per-cell rate), 'network' (that rate modulated "
        "by a second output of model_S); anomalies here decay in ~15-20 days, which advection cannot do",
    )
    damping_init_days: float = Field(
        30.0, gt=0, description="initial e-folding time 1/λ of the damping (days), the same in every cell"
    )
    gm: BackboneSizes = Field(default_factory=BackboneSizes, description="sizes of model_gm")
    source: BackboneSizes = Field(default_factory=BackboneSizes, description="sizes of model_S")
    kernel: KernelSection = Field(default_factory=KernelSection, description="the dynamic kernel")


def _core(n_in: int, n_out: int, sizes: BackboneSizes) -> SimVPCore:
    return SimVPCore(
        n_in, n_out, n_in=1, n_out=1, hid_S=sizes.hid_S, hid_T=sizes.hid_T, N_S=sizes.N_S, N_T=sizes.N_T,
        attn_kernel=sizes.attn_kernel, mlp_ratio=sizes.mlp_ratio, zero_init_readout=True,
    )


class Oceane2e(OneStepForecaster):
    """The Ocean-E2E hybrid as a :class:`OneStepForecaster` (physical units at the interface).

    Args:
        info: the data's :class:`DataInfo`: grid (lat, lon in degrees, mask), the statistics of
            ``ssta`` and every forcing channel, the time step (one day).
        config: :class:`HybridConfig`.
    """

    def __init__(self, info: DataInfo, config: HybridConfig | None = None) -> None:
        super().__init__(info)
        self.config = config or HybridConfig()
        # each sample gets the sub-steps of its own Courant number: a forecast must not depend on which
        # other start dates share its batch (N-process inference equals one process)
        self.kernel_options = dataclasses.replace(self.config.kernel.options(), substep_policy="per_sample")
        self.dt_s = float(info.dt_s)
        self.has_currents = all(name in info.names("velocity") for name in (U, V))
        self.gm_inputs = StepInputs(info, gm_inputs(info))
        self.source_inputs = StepInputs(info, source_inputs(info, self.config.source_sees_currents))
        self.model_gm = _core(self.gm_inputs.n_channels, 1 if self.config.correction_form == "streamfunction" else 2,
                              self.config.gm)
        damping = self.config.damping
        self.model_S = _core(self.source_inputs.n_channels, 2 if damping == "network" else 1, self.config.source)
        if damping != "none":
            # λΔt = softplus(raw0 + DAMPING_PARAM_SCALE·p): 1 / damping_init_days per day at the start
            # (p = 0). The scale lets Adam's ~lr-sized steps move the rate by O(1) in log units within
            # the demo's ~100 optimiser steps (unscaled, 1/30 -> 1/15 per day would take ~350 steps).
            self.damping_raw0 = math.log(math.expm1(self.dt_s / (self.config.damping_init_days * SECONDS_PER_DAY)))
            self.damping_param = nn.Parameter(torch.zeros(tuple(info.mask.shape), dtype=torch.float32))
        self.register_buffer("lat", torch.as_tensor(info.lat, dtype=torch.float64))
        self.register_buffer("lon", torch.as_tensor(info.lon, dtype=torch.float64))
        self.register_buffer("ocean", torch.as_tensor(info.mask).bool())
        self._grids: dict[tuple[str, torch.dtype], SphericalGrid] = {}

    def grid(self, device: torch.device, dtype: torch.dtype) -> SphericalGrid:
        """The kernel's grid on ``device``/``dtype`` (built once per device and dtype)."""
        key = (str(device), dtype)
        if key not in self._grids:
            self._grids[key] = SphericalGrid.from_coords(
                self.lat.cpu().numpy(), self.lon.cpu().numpy(), self.ocean.cpu().numpy(), dtype=dtype, device=device
            )
        return self._grids[key]

    def correction(self, fields: Fields, mask: Tensor) -> Tensor:
        """model_gm: (B, 2, H, W) correction velocity (eastward, northward) in m s⁻¹ (0 over land)."""
        ssta = fields["ssta"]
        if self.config.correction_scale == 0:
            return ssta.new_zeros(ssta.shape[0], 2, *ssta.shape[1:])
        x = self.gm_inputs(fields, mask)
        out = self.model_gm(x[:, None])[:, 0].float()
        if self.config.correction_form == "streamfunction":
            grid = self.grid(out.device, torch.float32)
            # ψ in m² s⁻¹: one unit of output is correction_scale (m s⁻¹) times a typical cell height
            psi = apply_mask(out[:, 0], mask) * (self.config.correction_scale * float(grid.dy.mean()))
            return apply_mask(torch.stack(curl(psi, grid), dim=1), mask)
        return apply_mask(out * self.config.correction_scale, mask)

    def _source_outputs(self, fields: Fields, mask: Tensor) -> Tensor | None:
        """model_S's raw outputs (B, 1 or 2, H, W), or None when the network is not needed."""
        if self.config.source_scale == 0 and self.config.damping != "network":
            return None
        x = self.source_inputs(fields, mask)
        return self.model_S(x[:, None])[:, 0].float()

    def source(self, fields: Fields, mask: Tensor, outputs: Tensor | None = None) -> Tensor:
        """model_S: (B, H, W) SSTA increment over the day in K (0 over land).

        ``outputs``: model_S's raw outputs when the caller already has them (one network call per step).
        """
        if self.config.source_scale == 0:
            return torch.zeros_like(fields["ssta"])
        if outputs is None:
            outputs = self._source_outputs(fields, mask)
        assert outputs is not None
        scale = self.source_inputs.normalizer.scale("ssta") * self.config.source_scale
        return apply_mask(outputs[:, 0] * scale, mask)

    def damping_rate(self, fields: Fields, mask: Tensor, outputs: Tensor | None = None) -> Tensor | None:
        """λ·Δt (B, H, W), dimensionless, >= 0 (0 over land); None without damping.

        ``field``: softplus of a learned per-cell parameter; ``network``: the same plus model_S's second
        output channel inside the softplus (the rate then follows the day's atmosphere and SSTA).
        """
        if self.config.damping == "none":
            return None
        raw = (self.damping_raw0 + DAMPING_PARAM_SCALE * self.damping_param).to(fields["ssta"].dtype)
        raw = raw.expand_as(fields["ssta"])
        if self.config.damping == "network":
            if outputs is None:
                outputs = self._source_outputs(fields, mask)
            assert outputs is not None
            raw = raw + outputs[:, 1].to(raw.dtype)
        return apply_mask(F.softplus(raw), mask)

    @property
    def mode(self) -> str:
        """What this instance is, in words (the roles of its data decide it)."""
        advect = "currents + learned correction" if self.has_currents else "learned velocity alone (no currents)"
        names = self.source_inputs.names
        source = "atmosphere" if ATMOS_CHANNELS[0] in names else "SST-only (SSTA" + (
            ", its history" if "ssta_mean" in names else "") + ", season)"
        return f"advection by {advect}; source from {source}"

    def geostrophic(self, fields: Fields) -> tuple[Tensor, Tensor]:
        """The currents that advect over the step: u_g of day t ('now') or the mean of t and t+1, m s⁻¹;
        zeros when the data has no currents (the learned velocity then advects alone)."""
        if not self.has_currents:
            zero = torch.zeros_like(fields[STATE])
            return zero, zero
        if self.config.velocity_time == "now":
            return fields[U], fields[V]
        return 0.5 * (fields[U] + fields[U + "_next"]), 0.5 * (fields[V] + fields[V + "_next"])

    def advected(self, fields: Fields, mask: Tensor) -> Tensor:
        """C*: the SSTA of day t advected over the day by u_g + the correction, (B, H, W) K, in the
        kernel's precision (float64 for float64 inputs, else float32); SSTA_t itself without advection."""
        ssta = fields["ssta"]
        kernel_dtype = torch.float64 if ssta.dtype == torch.float64 else torch.float32
        if not self.config.advection:
            return ssta.to(kernel_dtype)
        u_g, v_g = self.geostrophic(fields)
        correction = self.correction(fields, mask)
        with torch.autocast(device_type=ssta.device.type, enabled=False):
            c = ssta.to(kernel_dtype)
            u = (u_g + correction[:, 0]).to(kernel_dtype)
            v = (v_g + correction[:, 1]).to(kernel_dtype)
            return advect(c, u, v, self.grid(c.device, kernel_dtype), self.dt_s, self.kernel_options)

    def step(self, fields: Fields, mask: Tensor, state: State) -> tuple[Tensor, State]:
        """(B, H, W) K -> (B, H, W) K; see :meth:`OneStepForecaster.step`."""
        ssta = fields["ssta"]
        advected = self.advected(fields, mask)
        outputs = self._source_outputs(fields, mask)
        source = self.source(fields, mask, outputs).to(advected.dtype)
        rate = self.damping_rate(fields, mask, outputs)
        if rate is None:
            ssta_next = advected + source
        else:
            ssta_next = relax(advected, source, rate.to(advected.dtype))
        return apply_mask(ssta_next.to(ssta.dtype), mask), state


def curl(psi: Tensor, grid: SphericalGrid) -> tuple[Tensor, Tensor]:
    """Non-divergent velocity of a streamfunction: (u, v) = (−∂ψ/∂y, ∂ψ/∂x) in m s⁻¹.

    Args:
        psi: (B, H, W) streamfunction in m² s⁻¹ (0 over land: the flow follows the coasts).
        grid: the :class:`SphericalGrid` (metric dx, dy in m; index directions by x_sign, y_sign).

    Centred differences in the interior, one-sided at the region edges; the kernel's face averages
    of these centre velocities are non-divergent to truncation error.
    """
    dpsi_dy = torch.gradient(psi, dim=-2)[0] / grid.dy.to(psi.dtype) * grid.y_sign
    dpsi_dx = torch.gradient(psi, dim=-1)[0] / grid.dx.to(psi.dtype) * grid.x_sign
    return -dpsi_dy, dpsi_dx


def relax(c: Tensor, source: Tensor, rate_dt: Tensor) -> Tensor:
    """Exact solution after one step of ``dC/dt = −λ C + S/Δt`` with λ and S constant over the step.

    Args:
        c: (B, H, W) the anomaly at the start of the step (after advection), K.
        source: (B, H, W) the source integrated over the step (K per step).
        rate_dt: (B, H, W) λ·Δt >= 0, dimensionless.

    Returns:
        ``exp(−λΔt)·c + φ(λΔt)·source`` in K with φ(x) = (1 − e^{−x})/x (φ(0) = 1: no damping gives
        ``c + source``), evaluated without cancellation for small λΔt.
    """
    decay = torch.exp(-rate_dt)
    small = rate_dt < 1e-4
    safe = torch.where(small, torch.ones_like(rate_dt), rate_dt)
    phi = torch.where(small, 1.0 - 0.5 * rate_dt + rate_dt * rate_dt / 6.0, -torch.expm1(-safe) / safe)
    return decay * c + phi * source


def _build(config: HybridConfig, info: DataInfo) -> Oceane2e:
    return Oceane2e(info, config)


MODEL = ModelSpec("Oceane2e", "ssta", HybridConfig, _build)
