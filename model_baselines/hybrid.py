"""The Ocean-E2E hybrid: a learned velocity correction and a learned source around the physics kernel.

One forecast day (DESIGN.md §1):

    u = u_g + s_u · model_gm(SSTA_t, u_g, v_g, mask)                 (correction velocity, m s⁻¹)
    C* = advect(SSTA_t, u, grid, 1 day)                               (the dynamic kernel, physical units)
    SSTA_{t+1} = C* + s_S · model_S(u10, v10, t2m at t and t+1, SSTA_t, mask)   (K per day)

``s_u`` (``correction_scale``, m s⁻¹ per unit network output) is the reference release's magic 0.1
made a named field: the networks end in a zero-initialised read-out and work in normalised units,
so an output of O(1) times 0.1 m s⁻¹ gives corrections an order of magnitude below the jet
(~1 m s⁻¹) — the eddy-induced / unresolved transport the correction is meant to add — and training
starts from pure geostrophic advection. ``s_S`` (``source_scale``) plays the same role for the
source: its unit is the SSTA standard deviation of the training years per day, times this factor.

The kernel runs in float32 (float64 if the inputs are) outside any autocast region, so bf16 on a GPU
touches only the networks. Land stays exactly 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import Tensor

from model_baselines.base import (
    ATMOS_CHANNELS,
    VELOCITY_CHANNELS,
    OneStepForecaster,
    State,
    StepInputs,
    apply_mask,
)
from model_baselines.blocks import SimVPCore
from model_baselines.common import NormStats
from oceane2e.config import StrictModel
from oceane2e.physics.grid import SphericalGrid
from oceane2e.physics.kernel import KernelOptions, advect, courant_number

#: inputs of the velocity-correction network (the paper's model_gm)
GM_INPUTS: tuple[str, ...] = ("ssta", "u_g", "v_g", "mask")
#: inputs of the source network (the paper's model_S): the atmosphere at t and t+1, the SSTA, the mask
SOURCE_INPUTS: tuple[str, ...] = ("u10", "v10", "t2m", "u10_next", "v10_next", "t2m_next", "ssta", "mask")


class BackboneSizes(StrictModel):
    """Sizes of one SimVP-style backbone (see :class:`model_baselines.blocks.SimVPCore`)."""

    hid_S: int = Field(16, ge=1, description="channels of the spatial encoder and decoder")
    hid_T: int = Field(32, ge=1, description="channels of the gated translator")
    N_S: int = Field(2, ge=1, description="encoder/decoder layers; downsampling 2**(N_S//2)")
    N_T: int = Field(2, ge=1, description="translator blocks")
    attn_kernel: int = Field(11, ge=3, description="large-kernel attention receptive field (latent cells)")
    mlp_ratio: float = Field(2.0, gt=0, description="translator MLP width relative to hid_T")


class KernelSection(StrictModel):
    """Numerical options of the dynamic kernel inside the hybrid (see ``KernelOptions``)."""

    scheme: Literal["muscl", "reference"] = Field("muscl", description="ours, or the reference release's scheme")
    limiter: Literal["van_leer", "minmod", "superbee"] = "van_leer"
    time_stepper: Literal["ssp_rk2", "ssp_rk3"] = "ssp_rk3"
    max_courant: float = Field(0.5, gt=0, description="largest Courant number of one sub-step")
    diffusivity: float = Field(0.0, ge=0, description="explicit diffusivity kappa, m2 s-1")
    form: Literal["flux", "advective"] = Field(
        "advective",
        description="advective keeps a uniform anomaly uniform under the divergent learned correction",
    )
    checkpoint: bool | None = Field(
        None, description="recompute kernel sub-steps in backward (memory); null = automatic by grid size"
    )

    def options(self) -> KernelOptions:
        return KernelOptions(**self.model_dump())


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
        norm_stats: ``{name: {"mean", "std"}}`` of ``ssta`` and the velocity/atmosphere channels.
        lat, lon: (H,), (W,) cell-centre coordinates of the data, degrees.
        mask: (H, W) True over ocean.
        config: :class:`HybridConfig`.
        velocity_channels, atmos_channels: channel order of the velocity and atmosphere tensors.
    """

    def __init__(
        self,
        norm_stats: NormStats,
        lat: np.ndarray | Tensor,
        lon: np.ndarray | Tensor,
        mask: np.ndarray | Tensor,
        config: HybridConfig | None = None,
        velocity_channels: Sequence[str] = VELOCITY_CHANNELS,
        atmos_channels: Sequence[str] = ATMOS_CHANNELS,
    ) -> None:
        super().__init__()
        self.config = config or HybridConfig()
        self.kernel_options = self.config.kernel.options()
        self.gm_inputs = StepInputs(norm_stats, GM_INPUTS, velocity_channels, atmos_channels)
        source_names = SOURCE_INPUTS + (("u_g", "v_g") if self.config.source_sees_currents else ())
        self.source_inputs = StepInputs(norm_stats, source_names, velocity_channels, atmos_channels)
        self.model_gm = _core(self.gm_inputs.n_channels, 2, self.config.gm)
        self.model_S = _core(self.source_inputs.n_channels, 1, self.config.source)
        self.register_buffer("lat", torch.as_tensor(np.asarray(lat), dtype=torch.float64))
        self.register_buffer("lon", torch.as_tensor(np.asarray(lon), dtype=torch.float64))
        self.register_buffer("ocean", torch.as_tensor(np.asarray(mask)).bool())
        self._grids: dict[tuple[str, torch.dtype], SphericalGrid] = {}

    def grid(self, device: torch.device, dtype: torch.dtype) -> SphericalGrid:
        """The kernel's grid on ``device``/``dtype`` (built once per device and dtype)."""
        key = (str(device), dtype)
        if key not in self._grids:
            self._grids[key] = SphericalGrid.from_coords(
                self.lat.cpu().numpy(), self.lon.cpu().numpy(), self.ocean.cpu().numpy(), dtype=dtype, device=device
            )
        return self._grids[key]

    def advect(self, c: Tensor, u: Tensor, v: Tensor, grid: SphericalGrid) -> Tensor:
        """The kernel over one day, with each sample's sub-steps chosen from its own Courant number.

        ``advect`` alone picks one sub-step count for the whole batch (its largest Courant number),
        so a forecast would depend on which other start dates share its batch — and N-process
        inference would differ from one process. Grouping the samples by their own count makes every
        forecast independent of batching. c, u, v: (B, H, W) in K and m s⁻¹.
        """
        opts = self.kernel_options
        if opts.scheme != "muscl" or opts.substeps is not None or c.shape[0] == 1:
            return advect(c, u, v, grid, 86400.0, opts)
        courant = courant_number(u, v, grid, 86400.0).tolist()
        counts = [max(1, math.ceil(cn / opts.max_courant - 1e-9)) for cn in courant]
        if len(set(counts)) == 1:
            return advect(c, u, v, grid, 86400.0, dataclasses.replace(opts, substeps=counts[0]))
        order: list[int] = []
        parts: list[Tensor] = []
        for n in sorted(set(counts)):
            idx = [i for i, k in enumerate(counts) if k == n]
            sel = torch.tensor(idx, device=c.device)
            parts.append(advect(c[sel], u[sel], v[sel], grid, 86400.0, dataclasses.replace(opts, substeps=n)))
            order += idx
        inverse = torch.empty(len(order), dtype=torch.long, device=c.device)
        inverse[torch.tensor(order, device=c.device)] = torch.arange(len(order), device=c.device)
        return torch.cat(parts)[inverse]

    def correction(self, ssta: Tensor, vel_now: Tensor, vel_next: Tensor, atmos_now: Tensor, atmos_next: Tensor,
                   mask: Tensor) -> Tensor:
        """model_gm: (B, 2, H, W) correction velocity in m s⁻¹ (0 over land)."""
        if self.config.correction_scale == 0:
            return torch.zeros_like(vel_now)
        x = self.gm_inputs(ssta, vel_now, vel_next, atmos_now, atmos_next, mask)
        return apply_mask(self.model_gm(x[:, None])[:, 0].float() * self.config.correction_scale, mask)

    def source(self, ssta: Tensor, vel_now: Tensor, vel_next: Tensor, atmos_now: Tensor, atmos_next: Tensor,
               mask: Tensor) -> Tensor:
        """model_S: (B, H, W) SSTA increment over the day in K (0 over land)."""
        if self.config.source_scale == 0:
            return torch.zeros_like(ssta)
        x = self.source_inputs(ssta, vel_now, vel_next, atmos_now, atmos_next, mask)
        scale = self.source_inputs.normalizer.scale("ssta") * self.config.source_scale
        return apply_mask(self.model_S(x[:, None])[:, 0, 0].float() * scale, mask)

    def step(
        self, ssta: Tensor, vel_now: Tensor, vel_next: Tensor, atmos_now: Tensor, atmos_next: Tensor,
        mask: Tensor, state: State,
    ) -> tuple[Tensor, State]:
        """(B, H, W) K -> (B, H, W) K; see :meth:`OneStepForecaster.step`."""
        u_g = vel_now if self.config.velocity_time == "now" else 0.5 * (vel_now + vel_next)
        velocity = u_g + self.correction(ssta, vel_now, vel_next, atmos_now, atmos_next, mask)
        kernel_dtype = torch.float64 if ssta.dtype == torch.float64 else torch.float32
        device_type = ssta.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            c = ssta.to(kernel_dtype)
            vel = velocity.to(kernel_dtype)
            advected = self.advect(c, vel[:, 0], vel[:, 1], self.grid(c.device, kernel_dtype))
        ssta_next = advected + self.source(ssta, vel_now, vel_next, atmos_now, atmos_next, mask).to(kernel_dtype)
        return apply_mask(ssta_next.to(ssta.dtype), mask), state
