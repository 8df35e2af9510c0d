"""Network definitions: MultiConv (stage-1 velocity model), the SimVP and ConvLSTM baselines, and the
Ocean-E2E hybrid — one module each, each declaring itself to the one registry
(:mod:`model_baselines.registry`): ``MODEL = ModelSpec(name, kind, config class, builder)``.

Configs select a network by ``model.name`` with typed sizes (unknown keys fail):
:func:`parse_model_config` validates a ``model:`` section, :func:`build_model` builds it for the data
described by a :class:`oceane2e.data.info.DataInfo` (grid, channel names, statistics). Adding a model
is one module and one config: docs/dev/ADDING_A_MODEL.md.
"""

from __future__ import annotations

from model_baselines.base import DEFAULT_STEP_INPUTS, OneStepForecaster, StepInputs, rollout
from model_baselines.common import Normalizer
from model_baselines.registry import ModelSpec, build_model, model_names, model_spec, parse_model_config

__all__ = [
    "DEFAULT_STEP_INPUTS", "ModelSpec", "Normalizer", "OneStepForecaster", "StepInputs", "build_model",
    "model_names", "model_spec", "parse_model_config", "rollout",
]
