"""The stage-2 one-step protocol shared by the hybrid and the baselines (docs/dev/INTERFACES.md).

Every stage-2 model is a :class:`OneStepForecaster`: given the SSTA of day t, the velocity and
atmosphere of days t and t+1 and the land mask, it returns the SSTA of day t+1 and a state that it
may carry through the rollout (the hidden state of a ConvLSTM; ``None`` for Markov models). All
tensors at this interface are in PHYSICAL units (K, m s⁻¹); normalisation happens inside the model
(:class:`StepInputs`). :func:`rollout` runs the protocol on a batch of the stage-2 dataset, keeping
land at exactly 0 and optionally checkpointing each day to trade compute for memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from model_baselines.common import Normalizer, NormStats

VELOCITY_CHANNELS: tuple[str, ...] = ("u_g", "v_g")
ATMOS_CHANNELS: tuple[str, ...] = ("u10", "v10", "t2m")
NEXT_SUFFIX = "_next"
MASK_INPUT = "mask"
#: The standard input stack of one step: the state and all forcing at t and t+1, and the mask.
DEFAULT_STEP_INPUTS: tuple[str, ...] = (
    "ssta", "u_g", "v_g", "u_g_next", "v_g_next",
    "u10", "v10", "t2m", "u10_next", "v10_next", "t2m_next", MASK_INPUT,
)

State = Any  # None, a tensor, or a (nested) tuple of tensors


def apply_mask(field: Tensor, mask: Tensor) -> Tensor:
    """Set land to exactly 0: ``field`` (B, H, W) or (B, C, H, W), ``mask`` (B, H, W) True over ocean."""
    m = mask.bool()
    if field.ndim == m.ndim + 1:
        m = m.unsqueeze(1)
    return torch.where(m, field, torch.zeros((), dtype=field.dtype, device=field.device))


class StepInputs(nn.Module):
    """Builds the normalised input stack (B, len(names), H, W) of one step from physical fields.

    Args:
        norm_stats: ``{name: {"mean", "std"}}`` (``norm_stats.json``); needs ``ssta`` and every
            velocity and atmosphere channel.
        names: the inputs, in order. ``"ssta"``, a velocity channel or an atmosphere channel means
            its value at day t, the same name with the suffix ``"_next"`` its value at day t+1, and
            ``"mask"`` the ocean mask as 0/1. Every other input is normalised and then set to 0 over
            land, so land never carries an arbitrary value into the network.
        velocity_channels, atmos_channels: the channel order of ``vel_*`` and ``atmos_*`` (the
            datasets' ``velocity_channels`` and ``atmos_channels``).

    The statistics are buffers of the inner :class:`Normalizer`, saved with the model's weights.
    """

    def __init__(
        self, norm_stats: NormStats, names: Sequence[str] = DEFAULT_STEP_INPUTS,
        velocity_channels: Sequence[str] = VELOCITY_CHANNELS, atmos_channels: Sequence[str] = ATMOS_CHANNELS,
    ) -> None:
        super().__init__()
        self.velocity_channels = tuple(velocity_channels)
        self.atmos_channels = tuple(atmos_channels)
        physical = ("ssta", *self.velocity_channels, *self.atmos_channels)
        self.normalizer = Normalizer(norm_stats, physical)
        self.names = tuple(names)
        if not self.names:
            raise ValueError("StepInputs: names is empty; list at least one input (see DEFAULT_STEP_INPUTS)")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"StepInputs: input names repeat: {self.names}")
        self._plan: list[tuple[str, bool]] = []  # (channel, is_next) per input; ("mask", False) for the mask
        for name in self.names:
            base, is_next = (name[: -len(NEXT_SUFFIX)], True) if name.endswith(NEXT_SUFFIX) else (name, False)
            if name != MASK_INPUT and base not in physical:
                raise ValueError(
                    f"StepInputs: unknown input {name!r}; use one of {physical}, the same with "
                    f"'{NEXT_SUFFIX}' for day t+1, or '{MASK_INPUT}'"
                )
            if base == "ssta" and is_next:
                raise ValueError("StepInputs: 'ssta_next' is the target, not an input")
            self._plan.append((base, is_next))

    @property
    def n_channels(self) -> int:
        """Number of channels of the stack."""
        return len(self.names)

    def forward(
        self, ssta: Tensor, vel_now: Tensor, vel_next: Tensor, atmos_now: Tensor, atmos_next: Tensor, mask: Tensor
    ) -> Tensor:
        """Physical fields → normalised stack.

        Args:
            ssta: (B, H, W) K. vel_now, vel_next: (B, 2, H, W) m s⁻¹. atmos_now, atmos_next:
            (B, 3, H, W) in their units (m s⁻¹, K). mask: (B, H, W), True/1 over ocean.

        Returns:
            (B, n_channels, H, W), normalised, land 0 (except the mask channel itself).
        """
        ocean = mask.bool()
        if ocean.ndim == 2:
            ocean = ocean.expand(ssta.shape[0], *ocean.shape)
        fields = {("ssta", False): ssta}
        for i, name in enumerate(self.velocity_channels):
            fields[(name, False)], fields[(name, True)] = vel_now[:, i], vel_next[:, i]
        for i, name in enumerate(self.atmos_channels):
            fields[(name, False)], fields[(name, True)] = atmos_now[:, i], atmos_next[:, i]
        zero = torch.zeros((), dtype=ssta.dtype, device=ssta.device)
        out = []
        for base, is_next in self._plan:
            if base == MASK_INPUT:
                out.append(ocean.to(ssta.dtype))
            else:
                out.append(torch.where(ocean, self.normalizer.normalize_channel(fields[(base, is_next)], base), zero))
        return torch.stack(out, dim=1)


class OneStepForecaster(nn.Module):
    """Base of every stage-2 model: one day at a time, in physical units, with an optional state.

    Subclasses implement :meth:`step` and, when they carry a state, :meth:`init_state`.
    ``forward(batch, n_lead, grad_checkpoint)`` is :func:`rollout`, so a DDP-wrapped model is
    called as ``ddp_model(batch, n_lead)``.
    """

    def init_state(self, batch: Mapping[str, Tensor]) -> State:
        """The state before the first step, from a stage-2 batch (see :func:`rollout`); default None."""
        return None

    def step(
        self, ssta: Tensor, vel_now: Tensor, vel_next: Tensor, atmos_now: Tensor, atmos_next: Tensor,
        mask: Tensor, state: State,
    ) -> tuple[Tensor, State]:
        """Advance one day.

        Args:
            ssta: (B, H, W) SSTA of day t, K, land 0.
            vel_now, vel_next: (B, 2, H, W) surface geostrophic velocity (u_g, v_g) of days t, t+1, m s⁻¹.
            atmos_now, atmos_next: (B, 3, H, W) (u10 m s⁻¹, v10 m s⁻¹, t2m K) of days t, t+1.
            mask: (B, H, W) bool, True over ocean.
            state: what :meth:`init_state` or the previous step returned.

        Returns:
            ssta_next (B, H, W) in K and the new state.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def forward(self, batch: Mapping[str, Tensor], n_lead: int, grad_checkpoint: bool = False) -> Tensor:
        """(B, n_lead, H, W) forecast in K; see :func:`rollout`."""
        return rollout(self, batch, n_lead, grad_checkpoint=grad_checkpoint)


def _check_batch(batch: Mapping[str, Tensor], n_lead: int) -> None:
    for key in ("ssta", "velocity", "atmos", "mask"):
        if key not in batch:
            raise KeyError(f"rollout: batch has no {key!r} (keys: {sorted(batch)}); give a stage-2 dataset batch")
    ssta, vel, atm, mask = batch["ssta"], batch["velocity"], batch["atmos"], batch["mask"]
    if ssta.ndim != 4:
        raise ValueError(f"rollout: batch['ssta'] must be (B, n_lead+1, H, W), got {tuple(ssta.shape)}")
    b, t, h, w = ssta.shape
    if n_lead < 1 or n_lead > t - 1:
        raise ValueError(f"rollout: n_lead={n_lead} needs 1 <= n_lead <= {t - 1} (batch has {t} days)")
    if vel.ndim != 5 or vel.shape[0] != b or vel.shape[1] < n_lead + 1 or vel.shape[-2:] != (h, w):
        raise ValueError(f"rollout: batch['velocity'] must be (B, >={n_lead + 1}, 2, {h}, {w}), got {tuple(vel.shape)}")
    if atm.ndim != 5 or atm.shape[0] != b or atm.shape[1] < n_lead + 1 or atm.shape[-2:] != (h, w):
        raise ValueError(f"rollout: batch['atmos'] must be (B, >={n_lead + 1}, 3, {h}, {w}), got {tuple(atm.shape)}")
    if mask.shape[-2:] != (h, w) or mask.ndim not in (2, 3):
        raise ValueError(f"rollout: batch['mask'] must be (B, {h}, {w}) or ({h}, {w}), got {tuple(mask.shape)}")


def rollout(model: nn.Module, batch: Mapping[str, Tensor], n_lead: int, grad_checkpoint: bool = False) -> Tensor:
    """Roll a :class:`OneStepForecaster` forward ``n_lead`` days from ``batch['ssta'][:, 0]``.

    Args:
        model: a :class:`OneStepForecaster`, or a wrapper of one (DDP), which is then called as
            ``model(batch, n_lead, grad_checkpoint)`` so the wrapper's hooks run.
        batch: stage-2 batch: ``ssta`` (B, n_lead+1, H, W) K, ``velocity`` (B, n_lead+1, 2, H, W)
            m s⁻¹, ``atmos`` (B, n_lead+1, 3, H, W), ``mask`` (B, H, W) or (H, W) True over ocean.
            Index 0 is the initial day; only ``ssta[:, 0]`` of the SSTA is used.
        n_lead: number of days to forecast.
        grad_checkpoint: recompute each day's activations in the backward pass (memory ∝ 1 day).

    Returns:
        (B, n_lead, H, W) SSTA of days 1..n_lead in K, exactly 0 over land.
    """
    if not isinstance(model, OneStepForecaster):
        inner = getattr(model, "module", None)
        if isinstance(inner, OneStepForecaster):
            return model(batch, n_lead, grad_checkpoint=grad_checkpoint)
        raise TypeError(f"rollout: {type(model).__name__} is not a OneStepForecaster")
    _check_batch(batch, n_lead)
    vel, atm = batch["velocity"], batch["atmos"]
    mask = batch["mask"].bool()
    if mask.ndim == 2:
        mask = mask.expand(batch["ssta"].shape[0], *mask.shape)
    ssta = apply_mask(batch["ssta"][:, 0], mask)
    state = model.init_state(batch)
    outputs = []
    for k in range(n_lead):
        args = (ssta, vel[:, k], vel[:, k + 1], atm[:, k], atm[:, k + 1], mask, state)
        if grad_checkpoint and torch.is_grad_enabled():
            ssta, state = checkpoint(model.step, *args, use_reentrant=False)
        else:
            ssta, state = model.step(*args)
        ssta = apply_mask(ssta, mask)
        outputs.append(ssta)
    return torch.stack(outputs, dim=1)
