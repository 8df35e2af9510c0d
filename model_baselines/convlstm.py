"""ConvLSTM baseline for stage 2 (Shi et al. 2015), stepping one day at a time with a carried state.

Each day the standard one-step input stack (:class:`model_baselines.base.StepInputs`) is folded
space-to-depth by ``patch_size`` (as OpenSTL's ConvLSTM does, to make the recurrent convolutions
cheap and widen their reach), passed through ``num_layers`` stacked ConvLSTM cells whose hidden and
cell states are carried to the next day through the rollout's ``state``, and read out as the day's
SSTA increment (in units of the SSTA standard deviation; zero-initialised, so an untrained model is
persistence).

The cells have no peephole terms (the Hadamard peepholes of Shi et al. are per grid cell, which
would tie the weights to one grid size); the forget-gate bias starts at 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from model_baselines.base import Fields, OneStepForecaster, State, StepInputs, apply_mask
from model_baselines.common import crop_to, pad_to_multiple
from model_baselines.registry import ModelSpec
from oceane2e.config import StrictModel
from oceane2e.data.info import DataInfo


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell: gates from a k×k convolution of ``[x, h]``.

    ``i, f, o = σ(·)``, ``g = tanh(·)``, ``c' = f·c + i·g``, ``h' = o·tanh(c')``.
    """

    def __init__(self, c_in: int, c_hid: int, kernel_size: int = 5) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"ConvLSTMCell: kernel_size must be odd, got {kernel_size}")
        self.c_hid = c_hid
        self.gates = nn.Conv2d(c_in + c_hid, 4 * c_hid, kernel_size, padding=kernel_size // 2)
        with torch.no_grad():
            self.gates.bias.zero_()
            self.gates.bias[c_hid : 2 * c_hid].fill_(1.0)  # forget gate open at start

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """x (N, c_in, h, w), h and c (N, c_hid, h, w) → new (h, c)."""
        i, f, g, o = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTM(OneStepForecaster):
    """Stacked ConvLSTM as a :class:`OneStepForecaster`.

    Args:
        info: the data's :class:`DataInfo` (statistics of ssta and every forcing channel).
        input_names: see :class:`StepInputs` (None: :func:`model_baselines.base.default_step_inputs`).
        hidden: channels of every layer's hidden state (one int per layer).
        kernel_size: odd kernel size of the gate convolutions.
        patch_size: space-to-depth factor (1 = full resolution).

    State: a tuple with one ``(h, c)`` pair per layer, each (B, hidden[l], H', W') with
    ``H' = ceil(H / patch_size)``, ``W' = ceil(W / patch_size)``.
    """

    def __init__(
        self, info: DataInfo, *, input_names: Sequence[str] | None = None,
        hidden: Sequence[int] = (32, 32), kernel_size: int = 5, patch_size: int = 2,
    ) -> None:
        super().__init__(info)
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"ConvLSTM: hidden must list >= 1 positive layer widths, got {hidden}")
        if patch_size < 1:
            raise ValueError(f"ConvLSTM: patch_size must be >= 1, got {patch_size}")
        self.inputs = StepInputs(info, input_names)
        self.hidden, self.patch_size = hidden, patch_size
        c_in = self.inputs.n_channels * patch_size**2
        self.cells = nn.ModuleList(
            ConvLSTMCell(c_in if i == 0 else hidden[i - 1], h, kernel_size) for i, h in enumerate(hidden)
        )
        self.readout = nn.Conv2d(hidden[-1], patch_size**2, 1)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)

    def _latent_size(self, h: int, w: int) -> tuple[int, int]:
        p = self.patch_size
        return -(-h // p), -(-w // p)

    def init_state(self, initial: Fields) -> State:
        """Zero hidden and cell states sized from ``initial['ssta']`` (B, H, W)."""
        ssta = initial["ssta"]
        b, (h, w) = ssta.shape[0], self._latent_size(*ssta.shape[-2:])
        return tuple(
            (ssta.new_zeros(b, c, h, w), ssta.new_zeros(b, c, h, w)) for c in self.hidden
        )

    def step(self, fields: Fields, mask: Tensor, state: State) -> tuple[Tensor, State]:
        """(B, H, W) K → (B, H, W) K and the new state; see :meth:`OneStepForecaster.step`."""
        ssta = fields["ssta"]
        x = self.inputs(fields, mask)
        x, size = pad_to_multiple(x, self.patch_size)
        z = F.pixel_unshuffle(x, self.patch_size)
        if state is None:
            state = self.init_state({"ssta": ssta})
        if len(state) != len(self.cells):
            raise ValueError(f"ConvLSTM: state has {len(state)} layers, the model {len(self.cells)}")
        new_state = []
        for cell, (h, c) in zip(self.cells, state, strict=True):
            h, c = cell(z, h, c)
            new_state.append((h, c))
            z = h
        increment = crop_to(F.pixel_shuffle(self.readout(z), self.patch_size), size)[:, 0]
        increment = increment * self.inputs.normalizer.scale("ssta")
        return apply_mask(ssta + increment, mask), tuple(new_state)


class ConvLSTMConfig(StrictModel):
    """ConvLSTM baseline (one day ahead, hidden state carried through the rollout).

    For the embedded 48×96 grid ``kernel_size=3`` matched ``kernel_size=5`` at equal steps at about
    half the CPU time (``hidden=[32, 32], patch_size=2``).
    """

    name: Literal["ConvLSTM"] = "ConvLSTM"
    hidden: list[int] = Field([32, 32], min_length=1, description="hidden channels of each stacked cell")
    kernel_size: int = Field(5, ge=1, description="gate convolution kernel size (odd)")
    patch_size: int = Field(2, ge=1, description="space-to-depth factor before the cells (1 = full grid)")
    input_names: list[str] | None = Field(
        None, min_length=1, description="the one-step input stack (see StepInputs); null: what the data has "
        "(default_step_inputs: the state, every forcing channel at t and t+1, the season without an atmosphere, "
        "the SSTA history when the windows give one, the mask)")


def _build(config: ConvLSTMConfig, info: DataInfo) -> ConvLSTM:
    return ConvLSTM(info, input_names=config.input_names, hidden=config.hidden, kernel_size=config.kernel_size,
                    patch_size=config.patch_size)


MODEL = ModelSpec("ConvLSTM", "ssta", ConvLSTMConfig, _build)
