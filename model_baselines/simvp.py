"""SimVP baseline for stage 2: one day ahead from SSTA, currents, atmosphere at t and t+1, and mask.

The same encoder / gated translator / decoder as MultiConv (:class:`model_baselines.blocks.SimVPCore`)
applied to the standard one-step input stack (:class:`model_baselines.base.StepInputs`); it predicts
the day's SSTA increment in units of the SSTA standard deviation, so an untrained model is
persistence. Markov: it carries no state between days.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from model_baselines.base import (
    ATMOS_CHANNELS,
    DEFAULT_STEP_INPUTS,
    VELOCITY_CHANNELS,
    OneStepForecaster,
    State,
    StepInputs,
    apply_mask,
)
from model_baselines.blocks import SimVPCore
from model_baselines.common import NormStats


class SimVP(OneStepForecaster):
    """SimVP as a :class:`OneStepForecaster` (physical units at the interface).

    Args:
        norm_stats: ``{name: {"mean", "std"}}`` of ssta and the velocity and atmosphere channels.
        input_names, velocity_channels, atmos_channels: see :class:`StepInputs`.
        hid_S, hid_T, N_S, N_T, spatio_kernel_enc, spatio_kernel_dec, attn_kernel, mlp_ratio,
            drop_path: sizes of :class:`SimVPCore`.
    """

    def __init__(
        self, norm_stats: NormStats, *, input_names: Sequence[str] = DEFAULT_STEP_INPUTS,
        velocity_channels: Sequence[str] = VELOCITY_CHANNELS, atmos_channels: Sequence[str] = ATMOS_CHANNELS,
        hid_S: int = 16, hid_T: int = 64, N_S: int = 2, N_T: int = 4, spatio_kernel_enc: int = 3,
        spatio_kernel_dec: int = 3, attn_kernel: int = 21, mlp_ratio: float = 4.0, drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.inputs = StepInputs(norm_stats, input_names, velocity_channels, atmos_channels)
        self.core = SimVPCore(
            self.inputs.n_channels, 1, n_in=1, n_out=1, hid_S=hid_S, hid_T=hid_T, N_S=N_S, N_T=N_T,
            spatio_kernel_enc=spatio_kernel_enc, spatio_kernel_dec=spatio_kernel_dec, attn_kernel=attn_kernel,
            mlp_ratio=mlp_ratio, drop_path=drop_path, zero_init_readout=True,
        )

    def step(
        self, ssta: Tensor, vel_now: Tensor, vel_next: Tensor, atmos_now: Tensor, atmos_next: Tensor,
        mask: Tensor, state: State,
    ) -> tuple[Tensor, State]:
        """(B, H, W) K → (B, H, W) K; see :meth:`OneStepForecaster.step`. ``state`` passes through."""
        x = self.inputs(ssta, vel_now, vel_next, atmos_now, atmos_next, mask)
        increment = self.core(x[:, None])[:, 0, 0] * self.inputs.normalizer.scale("ssta")
        return apply_mask(ssta + increment, mask), state
