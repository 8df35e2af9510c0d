"""SimVP baseline for stage 2: one day ahead from SSTA, currents, atmosphere at t and t+1, and mask.

The same encoder / gated translator / decoder as MultiConv (:class:`model_baselines.blocks.SimVPCore`)
applied to the standard one-step input stack (:class:`model_baselines.base.StepInputs`); it predicts
the day's SSTA increment in units of the SSTA standard deviation, so an untrained model is
persistence. Markov: it carries no state between days.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field
from torch import Tensor

from model_baselines.base import Fields, OneStepForecaster, State, StepInputs, apply_mask
from model_baselines.blocks import SimVPCore, SimVPSizes
from model_baselines.registry import ModelSpec
from oceane2e.data.info import DataInfo


class SimVPConfig(SimVPSizes):
    """SimVP baseline (one day ahead, Markov).

    For the embedded 48×96 grid ``hid_S=16, hid_T=32, N_S=4, N_T=2, attn_kernel=11, mlp_ratio=2``
    matched or beat ``hid_S=16, hid_T=64, N_S=2, N_T=3`` at equal steps (validation RMSE after 100
    Adam steps of batch 8, 1-3 day rollouts) at about 1/3 to 1/5 of the CPU time.
    """

    name: Literal["SimVP"] = "SimVP"
    input_names: list[str] | None = Field(
        None, min_length=1, description="the one-step input stack (see StepInputs); null: what the data has "
        "(default_step_inputs: the state, every forcing channel at t and t+1, the season without an atmosphere, "
        "the SSTA history when the windows give one, the mask)")


class SimVP(OneStepForecaster):
    """SimVP as a :class:`OneStepForecaster` (physical units at the interface).

    Args:
        info: the data's :class:`DataInfo` (statistics of ssta and every forcing channel).
        input_names: see :class:`StepInputs` (None: :func:`model_baselines.base.default_step_inputs`).
        hid_S, hid_T, N_S, N_T, spatio_kernel_enc, spatio_kernel_dec, attn_kernel, mlp_ratio,
            drop_path: sizes of :class:`SimVPCore`.
    """

    def __init__(
        self, info: DataInfo, *, input_names: Sequence[str] | None = None,
        hid_S: int = 16, hid_T: int = 64, N_S: int = 2, N_T: int = 4, spatio_kernel_enc: int = 3,
        spatio_kernel_dec: int = 3, attn_kernel: int = 21, mlp_ratio: float = 4.0, drop_path: float = 0.0,
    ) -> None:
        super().__init__(info)
        self.inputs = StepInputs(info, input_names)
        self.core = SimVPCore(
            self.inputs.n_channels, 1, n_in=1, n_out=1, hid_S=hid_S, hid_T=hid_T, N_S=N_S, N_T=N_T,
            spatio_kernel_enc=spatio_kernel_enc, spatio_kernel_dec=spatio_kernel_dec, attn_kernel=attn_kernel,
            mlp_ratio=mlp_ratio, drop_path=drop_path, zero_init_readout=True,
        )

    def step(self, fields: Fields, mask: Tensor, state: State) -> tuple[Tensor, State]:
        """(B, H, W) K → (B, H, W) K; see :meth:`OneStepForecaster.step`. ``state`` passes through."""
        x = self.inputs(fields, mask)
        increment = self.core(x[:, None])[:, 0, 0] * self.inputs.normalizer.scale("ssta")
        return apply_mask(fields["ssta"] + increment, mask), state


def _build(config: SimVPConfig, info: DataInfo) -> SimVP:
    return SimVP(info, input_names=config.input_names, **config.core_sizes())


MODEL = ModelSpec("SimVP", "ssta", SimVPConfig, _build)
