"""A stochastic source term around any one-step forecaster (ensembles, issue 17).

:class:`StochasticSource` wraps a :class:`~model_baselines.base.OneStepForecaster` without touching
it: each day it adds a given random field to the wrapped model's forecast,

    additive:        SSTA_{t+1} = F(SSTA_t, ...) + η_t                      (η in K per day)
    multiplicative:  SSTA_{t+1} = F(SSTA_t, ...) + η_t · S(SSTA_t, ...)      (η dimensionless)

where S is the wrapped model's learned source (``model.source``, the hybrid's model_S), so the
multiplicative form perturbs only the source, as stochastically perturbed parametrisation tendencies
(SPPT) do in weather models. The fields η are set per rollout with :meth:`set_noise` as (B, L, H, W);
they are drawn outside (deterministic per start date and member), never here. It is not a registered
model: it has no weights of its own and is built around a loaded one.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from model_baselines.base import Fields, OneStepForecaster, State, apply_mask

NoiseMode = Literal["additive", "multiplicative"]


class StochasticSource(OneStepForecaster):
    """``inner``'s forecast plus a per-day random term (see the module docstring).

    Args:
        inner: the forecaster (its weights and ``data_info`` are used as they are).
        mode: ``"additive"`` (η in K per day) or ``"multiplicative"`` (η dimensionless, times
            ``inner.source(fields, mask)``; ``inner`` must have a ``source`` method).
    """

    def __init__(self, inner: OneStepForecaster, mode: NoiseMode = "additive") -> None:
        super().__init__(inner.data_info)
        if mode not in ("additive", "multiplicative"):
            raise ValueError(f"mode must be 'additive' or 'multiplicative', got {mode!r}")
        if mode == "multiplicative" and not callable(getattr(inner, "source", None)):
            raise TypeError(f"{type(inner).__name__} has no source(); use mode='additive'")
        self.inner = inner
        self.mode = mode
        self.noise: Tensor | None = None

    def set_noise(self, noise: Tensor | None) -> None:
        """The random term of the next rollout: (B, L, H, W) for days 1..L (None: no term)."""
        self.noise = noise

    def init_state(self, initial: Fields) -> State:
        """The wrapped model's state and the day counter."""
        return (self.inner.init_state(initial), 0)

    def step(self, fields: Fields, mask: Tensor, state: State) -> tuple[Tensor, State]:
        """(B, H, W) K -> (B, H, W) K: the wrapped step plus η of this day."""
        inner_state, day = state
        ssta_next, inner_state = self.inner.step(fields, mask, inner_state)
        if self.noise is not None:
            if day >= self.noise.shape[1]:
                raise ValueError(f"StochasticSource: noise holds {self.noise.shape[1]} days, day {day + 1} asked")
            eta = self.noise[:, day].to(ssta_next.dtype)
            if self.mode == "additive":
                ssta_next = ssta_next + eta
            else:
                ssta_next = ssta_next + eta * self.inner.source(fields, mask).to(ssta_next.dtype)
        return apply_mask(ssta_next, mask), (inner_state, day + 1)
