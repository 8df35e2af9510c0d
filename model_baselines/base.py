"""The stage-2 one-step protocol shared by the hybrid and the baselines (docs/dev/INTERFACES.md).

Every stage-2 model is a :class:`OneStepForecaster`: given NAMED fields of day t and t+1 — the state
``"ssta"`` of day t and every forcing channel of the data (``"u_g"``, ``"u10"``, ... for day t, the
same name with the suffix ``"_next"`` for day t+1) — and the land mask, it returns the SSTA of day
t+1 and a state it may carry through the rollout (the hidden state of a ConvLSTM; ``None`` for
Markov models). Channel names come from the data (:class:`oceane2e.data.info.DataInfo`), never from
positions. All tensors at this interface are in PHYSICAL units (K, m s⁻¹); normalisation happens
inside the model (:class:`StepInputs`). :func:`rollout` runs the protocol on a batch of the stage-2
dataset from the batch's first day or from an external initial state (an analysis, an ensemble
member), keeping land at exactly 0 and optionally checkpointing each day to trade compute for memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from model_baselines.common import Normalizer
from oceane2e.data.contract import ATMOS_CHANNELS, GEO_CHANNELS, split_channels
from oceane2e.data.info import DataInfo

NEXT_SUFFIX = "_next"
MASK_INPUT = "mask"
STATE = "ssta"
#: batch key of the observed SSTA before day 0, (B, n_in - 1, H, W) K, oldest first (the datasets'
#: ``history_days``); :func:`rollout` keeps the last ``n_in`` days (observed, then forecast) from it
HISTORY_KEY = "ssta_history"
#: batch key of the level a model with ``data_info.level_days`` > 0 forecasts about, (B, H, W) K: the mean
#: SSTA of the last ``level_days`` days up to day 0 (the datasets' ``level_days``)
LEVEL_KEY = "ssta_level"
#: step inputs made by :func:`rollout` from the SSTA of the last ``info.n_in`` days (when n_in > 1):
#: the SSTA of day t-1 and the mean over days t-n_in+1..t, K (normalised with the statistics of ssta)
HISTORY_INPUTS: tuple[str, ...] = ("ssta_prev", "ssta_mean")
#: step inputs of the season of day t (when the batch has ``time0``): sin and cos of the annual phase
#: 2 pi (days since 1970-01-01) / DAYS_PER_YEAR, dimensionless, not normalised
SEASON_INPUTS: tuple[str, ...] = ("season_sin", "season_cos")
DAYS_PER_YEAR = 365.2425  # the Gregorian mean year: the annual phase of a date, no calendar needed


def next_day(names: Sequence[str]) -> tuple[str, ...]:
    """The step-input names of ``names`` on day t+1 (``"u_g"`` -> ``"u_g_next"``)."""
    return tuple(n + NEXT_SUFFIX for n in names)


#: The standard input stack of one step: the state and all forcing at t and t+1, and the mask
#: (ssta, u_g, v_g, u_g_next, v_g_next, u10, v10, t2m, u10_next, v10_next, t2m_next, mask).
DEFAULT_STEP_INPUTS: tuple[str, ...] = (
    STATE, *GEO_CHANNELS, *next_day(GEO_CHANNELS), *ATMOS_CHANNELS, *next_day(ATMOS_CHANNELS), MASK_INPUT,
)
#: the roles of a stage-2 batch that hold forcing (channel axis 2 of (B, T, C, H, W))
FORCING_ROLES: tuple[str, ...] = ("velocity", "atmos")

State = Any  # None, a tensor, or a (nested) tuple of tensors
Fields = Mapping[str, Tensor]


def apply_mask(field: Tensor, mask: Tensor) -> Tensor:
    """Set land to exactly 0: ``field`` (B, H, W) or (B, C, H, W), ``mask`` (B, H, W) True over ocean."""
    m = mask.bool()
    if field.ndim == m.ndim + 1:
        m = m.unsqueeze(1)
    return torch.where(m, field, torch.zeros((), dtype=field.dtype, device=field.device))


def forcing_names(info: DataInfo) -> tuple[str, ...]:
    """Every forcing channel name of the data (velocity, then atmosphere)."""
    return tuple(name for role in FORCING_ROLES for name in info.names(role))


def history_inputs(info: DataInfo) -> tuple[str, ...]:
    """:data:`HISTORY_INPUTS` when the data gives the SSTA of days before day 0 (``info.n_in > 1``), else ()."""
    return HISTORY_INPUTS if info.n_in > 1 else ()


def default_step_inputs(info: DataInfo) -> tuple[str, ...]:
    """The one-step input stack that follows the data: the state (and its history when the data gives
    one), every forcing channel at t and t+1, the season when the data has no atmosphere (it stands in
    for the seasonal air-sea forcing), and the mask.

    For the full contract (currents and atmosphere, no history) this is :data:`DEFAULT_STEP_INPUTS`;
    for an SST-only folder it is ``(ssta, [ssta_prev, ssta_mean,] season_sin, season_cos, mask)``.
    """
    forcing = tuple(n for role in FORCING_ROLES for n in (*info.names(role), *next_day(info.names(role))))
    season = SEASON_INPUTS if not info.names("atmos") else ()
    return (STATE, *history_inputs(info), *forcing, *season, MASK_INPUT)


class StepInputs(nn.Module):
    """Builds the normalised input stack (B, len(names), H, W) of one step from named physical fields.

    Args:
        info: the data's :class:`DataInfo` (its ``norm_stats`` must cover ``ssta`` and every
            forcing channel named in ``names``).
        names: the inputs, in order (default: :func:`default_step_inputs`, what the data has).
            ``"ssta"`` or a forcing channel means its value at day t, the same name with the suffix
            ``"_next"`` its value at day t+1, ``"ssta_prev"``/``"ssta_mean"`` the SSTA of day t-1 and
            the mean of the last ``info.n_in`` days (normalised as ``ssta``), ``"season_sin"``/
            ``"season_cos"`` the day of year of day t (not normalised), and ``"mask"`` the ocean mask
            as 0/1. Every other input is set to 0 over land, so land never carries an arbitrary
            value into the network.

    The statistics are buffers of the inner :class:`Normalizer`, saved with the model's weights.
    """

    def __init__(self, info: DataInfo, names: Sequence[str] | None = None) -> None:
        super().__init__()
        physical = (STATE, *forcing_names(info))
        self.normalizer = Normalizer(info.norm_stats, physical)
        self.names = tuple(default_step_inputs(info) if names is None else names)
        if not self.names:
            raise ValueError("StepInputs: names is empty; list at least one input (see DEFAULT_STEP_INPUTS)")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"StepInputs: input names repeat: {self.names}")
        derived = (*history_inputs(info), *SEASON_INPUTS)
        for name in self.names:
            base = name[: -len(NEXT_SUFFIX)] if name.endswith(NEXT_SUFFIX) else name
            if name in HISTORY_INPUTS and name not in derived:
                raise ValueError(
                    f"StepInputs: input {name!r} needs the SSTA of the days before day 0; the data gives none "
                    "(train with windows.history_days >= 1)"
                )
            if name != MASK_INPUT and name not in derived and base not in physical:
                raise ValueError(
                    f"StepInputs: unknown input {name!r}; the data has {physical}, the same with "
                    f"'{NEXT_SUFFIX}' for day t+1, {derived}, or '{MASK_INPUT}'"
                )
            if name == STATE + NEXT_SUFFIX:
                raise ValueError("StepInputs: 'ssta_next' is the target, not an input")

    @property
    def n_channels(self) -> int:
        """Number of channels of the stack."""
        return len(self.names)

    def forward(self, fields: Fields, mask: Tensor) -> Tensor:
        """Named physical fields → normalised stack.

        Args:
            fields: name → (B, H, W) in its unit (see :meth:`OneStepForecaster.step`).
            mask: (B, H, W), True/1 over ocean.

        Returns:
            (B, n_channels, H, W), normalised, land 0 (except the mask channel itself).
        """
        ssta = fields[STATE]
        ocean = mask.bool()
        if ocean.ndim == 2:
            ocean = ocean.expand(ssta.shape[0], *ocean.shape)
        zero = torch.zeros((), dtype=ssta.dtype, device=ssta.device)
        out = []
        for name in self.names:
            if name == MASK_INPUT:
                out.append(ocean.to(ssta.dtype))
                continue
            if name not in fields:
                raise KeyError(f"StepInputs: input {name!r} is not among the step's fields {sorted(fields)}"
                               + ("; the batch needs 'time0' for the season" if name in SEASON_INPUTS else ""))
            if name in SEASON_INPUTS:
                value = fields[name].to(ssta.dtype)
            else:
                base = STATE if name in HISTORY_INPUTS else (name[: -len(NEXT_SUFFIX)] if name.endswith(NEXT_SUFFIX) else name)
                value = self.normalizer.normalize_channel(fields[name], base)
            out.append(torch.where(ocean, value.expand_as(ssta), zero))
        return torch.stack(out, dim=1)


class OneStepForecaster(nn.Module):
    """Base of every stage-2 model: one day at a time, in physical units, with an optional state.

    Args:
        info: the data's :class:`DataInfo` (grid, channel names, statistics), kept as
            :attr:`data_info` for :func:`rollout`.

    Subclasses implement :meth:`step` and, when they carry a state, :meth:`init_state`.
    ``forward(batch, n_lead, grad_checkpoint, initial)`` is :func:`rollout`, so a DDP-wrapped
    model is called as ``ddp_model(batch, n_lead)``.
    """

    def __init__(self, info: DataInfo) -> None:
        super().__init__()
        self.data_info = info

    def init_state(self, initial: Fields) -> State:
        """The state before the first step, from the initial fields (``initial["ssta"]`` (B, H, W)); default None."""
        return None

    def step(self, fields: Fields, mask: Tensor, state: State) -> tuple[Tensor, State]:
        """Advance one day.

        Args:
            fields: name → (B, H, W): ``"ssta"`` of day t in K (land 0; less the level when
                ``data_info.level_days`` > 0, as are ``ssta_prev`` and ``ssta_mean``); every forcing channel of
                the data for day t (``"u_g"``, ``"v_g"`` m s⁻¹, ``"u10"``, ``"v10"`` m s⁻¹,
                ``"t2m"`` K, ...) and for day t+1 under ``name + "_next"``.
            mask: (B, H, W) bool, True over ocean.
            state: what :meth:`init_state` or the previous step returned.

        Returns:
            ssta_next (B, H, W) in K and the new state.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def forward(self, batch: Mapping[str, Tensor], n_lead: int, grad_checkpoint: bool = False,
                initial: Fields | None = None) -> Tensor:
        """(B, n_lead, H, W) forecast in K; see :func:`rollout`."""
        return rollout(self, batch, n_lead, grad_checkpoint=grad_checkpoint, initial=initial)


def _check_batch(batch: Mapping[str, Tensor], n_lead: int, info: DataInfo) -> None:
    for key in ("ssta", "mask", *(r for r in FORCING_ROLES if info.names(r))):
        if key not in batch:
            raise KeyError(f"rollout: batch has no {key!r} (keys: {sorted(batch)}); give a stage-2 dataset batch")
    ssta, mask = batch["ssta"], batch["mask"]
    if ssta.ndim != 4:
        raise ValueError(f"rollout: batch['ssta'] must be (B, n_lead+1, H, W), got {tuple(ssta.shape)}")
    b, t, h, w = ssta.shape
    if n_lead < 1 or n_lead > t - 1:
        raise ValueError(f"rollout: n_lead={n_lead} needs 1 <= n_lead <= {t - 1} (batch has {t} days)")
    for role in FORCING_ROLES:
        names = info.names(role)
        if not names:
            continue
        x = batch[role]
        if x.ndim != 5 or x.shape[0] != b or x.shape[1] < n_lead + 1 or x.shape[2] != len(names) or x.shape[-2:] != (h, w):
            raise ValueError(f"rollout: batch[{role!r}] must be (B, >={n_lead + 1}, {len(names)} {names}, {h}, {w}), "
                             f"got {tuple(x.shape)}")
    if mask.shape[-2:] != (h, w) or mask.ndim not in (2, 3):
        raise ValueError(f"rollout: batch['mask'] must be (B, {h}, {w}) or ({h}, {w}), got {tuple(mask.shape)}")
    if info.n_in > 1:
        hist = batch.get(HISTORY_KEY)
        if hist is None or hist.ndim != 4 or hist.shape[0] != b or hist.shape[1] < info.n_in - 1 or hist.shape[-2:] != (h, w):
            raise ValueError(
                f"rollout: the model sees {info.n_in} days of SSTA, so the batch needs {HISTORY_KEY!r} of shape "
                f"(B, >={info.n_in - 1}, {h}, {w}), got {None if hist is None else tuple(hist.shape)}; make the "
                f"dataset with history_days={info.n_in - 1}")
    if info.level_days:
        level = batch.get(LEVEL_KEY)
        if level is None or tuple(level.shape) != (b, h, w):
            raise ValueError(
                f"rollout: the model forecasts about the mean SSTA of the last {info.level_days} days, so the batch "
                f"needs {LEVEL_KEY!r} of shape ({b}, {h}, {w}), got {None if level is None else tuple(level.shape)}; "
                f"make the dataset with level_days={info.level_days} (windows.level_days)")


def season_fields(time0: Tensor, day: int, like: Tensor) -> dict[str, Tensor]:
    """The season inputs of day ``time0 + day``: ``time0`` (B,) int days since 1970-01-01 -> name -> (B, H, W)
    (a broadcast view of ``like``'s shape), sin and cos of the annual phase."""
    phase = (time0.to(torch.float64) + day) * (2 * math.pi / DAYS_PER_YEAR)
    shape = (-1, *([1] * (like.ndim - 1)))
    return {SEASON_INPUTS[0]: torch.sin(phase).to(like.dtype).view(shape).expand_as(like),
            SEASON_INPUTS[1]: torch.cos(phase).to(like.dtype).view(shape).expand_as(like)}


def _initial_fields(batch: Mapping[str, Tensor], forcing: dict[str, Tensor], initial: Fields | None,
                    mask: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The SSTA of day 0 and the forcing with day 0 replaced by ``initial`` where it gives a channel."""
    ssta0 = batch["ssta"][:, 0]
    if initial is None:
        return apply_mask(ssta0, mask), forcing
    unknown = sorted(set(initial) - {STATE, *forcing})
    if unknown:
        raise KeyError(f"rollout: initial has {unknown}; it may give {STATE!r} and the forcing channels {sorted(forcing)}")
    for name, value in initial.items():
        if value.shape != ssta0.shape:
            raise ValueError(f"rollout: initial[{name!r}] must be (B, H, W) = {tuple(ssta0.shape)}, got {tuple(value.shape)}")
    forcing = dict(forcing)
    for name, value in initial.items():
        if name != STATE:
            x = forcing[name]
            forcing[name] = torch.cat([value.to(x.dtype)[:, None], x[:, 1:]], dim=1)
    return apply_mask(initial.get(STATE, ssta0).to(ssta0.dtype), mask), forcing


def rollout(model: nn.Module, batch: Mapping[str, Tensor], n_lead: int, grad_checkpoint: bool = False,
            initial: Fields | None = None) -> Tensor:
    """Roll a :class:`OneStepForecaster` forward ``n_lead`` days.

    Args:
        model: a :class:`OneStepForecaster`, or a wrapper of one (DDP), which is then called as
            ``model(batch, n_lead, grad_checkpoint, initial)`` so the wrapper's hooks run.
        batch: stage-2 batch: ``ssta`` (B, n_lead+1, H, W) K, ``velocity`` (B, n_lead+1, C_v, H, W)
            m s⁻¹ and ``atmos`` (B, n_lead+1, C_a, H, W) with channels named by the model's
            ``data_info`` (C = 0 for a role the data lacks), ``mask`` (B, H, W) or (H, W) True over
            ocean. Index 0 is the initial day; of the SSTA only ``ssta[:, 0]`` is used (and only when
            ``initial`` gives none). Optional: ``time0`` (B,) int days since 1970-01-01 (the step then
            gets the season inputs :data:`SEASON_INPUTS`), and, required when ``data_info.n_in`` > 1,
            ``ssta_history`` (B, >= n_in - 1, H, W) K, the observed days before day 0 (the step then
            gets :data:`HISTORY_INPUTS`, which roll forward with the forecast), and, required when
            ``data_info.level_days`` > 0, ``ssta_level`` (B, H, W) K: the model then sees the state and
            its history less this level, and the level is added back to every forecast day.
        n_lead: number of days to forecast.
        grad_checkpoint: recompute each day's activations in the backward pass (memory ∝ 1 day).
        initial: optional external initial state, name → (B, H, W): ``"ssta"`` (K) replaces the
            batch's day-0 SSTA, a forcing channel (e.g. ``"u_g"``, ``"v_g"`` from an altimetry
            analysis) replaces that channel's day-0 value. An analysis or an ensemble member
            starts a forecast this way.

    Returns:
        (B, n_lead, H, W) SSTA of days 1..n_lead in K, exactly 0 over land.
    """
    if not isinstance(model, OneStepForecaster):
        inner = getattr(model, "module", None)
        if isinstance(inner, OneStepForecaster):
            return model(batch, n_lead, grad_checkpoint=grad_checkpoint, initial=initial)
        raise TypeError(f"rollout: {type(model).__name__} is not a OneStepForecaster")
    info = model.data_info
    _check_batch(batch, n_lead, info)
    mask = batch["mask"].bool()
    if mask.ndim == 2:
        mask = mask.expand(batch["ssta"].shape[0], *mask.shape)
    forcing: dict[str, Tensor] = {}
    for role in FORCING_ROLES:
        if info.names(role):
            forcing.update(split_channels(batch[role], info.names(role), dim=2))
    ssta, forcing = _initial_fields(batch, forcing, initial, mask)
    # the forecast about a level: the model sees the SSTA less the level, which each output gets back
    level = apply_mask(batch[LEVEL_KEY].to(ssta.dtype), mask) if info.level_days else None
    if level is not None:
        ssta = ssta - level
    state = model.init_state({STATE: ssta})
    # the last n_in days of SSTA (observed before day 0, then day 0, then the forecast), for HISTORY_INPUTS
    n_hist = info.n_in - 1
    past = [apply_mask(batch[HISTORY_KEY][:, i].to(ssta.dtype), mask) for i in range(-n_hist, 0)] if n_hist else []
    if level is not None:
        past = [p - level for p in past]
    time0 = batch.get("time0")
    outputs = []
    for k in range(n_lead):
        fields = {STATE: ssta}
        if n_hist:
            fields[HISTORY_INPUTS[0]] = past[-1]
            fields[HISTORY_INPUTS[1]] = torch.stack([*past, ssta]).mean(dim=0)
            past = [*past[1:], ssta]
        if time0 is not None:
            fields.update(season_fields(time0.to(ssta.device), k, ssta))
        for name, x in forcing.items():
            fields[name] = x[:, k]
            fields[name + NEXT_SUFFIX] = x[:, k + 1]
        if grad_checkpoint and torch.is_grad_enabled():
            ssta, state = checkpoint(model.step, fields, mask, state, use_reentrant=False)
        else:
            ssta, state = model.step(fields, mask, state)
        ssta = apply_mask(ssta, mask)
        outputs.append(ssta if level is None else ssta + level)
    return torch.stack(outputs, dim=1)
