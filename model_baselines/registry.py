"""The one model registry: every network declares its name, config class and builder in its own module.

A model module defines, at module level, ``MODEL = ModelSpec(name, kind, config, build)``:

* ``name``: the ``model.name`` of configs and checkpoints (``"SimVP"``);
* ``kind``: what it forecasts — ``"velocity"`` (stage 1: the currents), ``"ssta"`` (stage 2: one-step
  SSTA forecasters), ``"analysis"`` (analysis models of the assimilation);
* ``config``: a :class:`oceane2e.config.StrictModel` with a ``name: Literal[...]`` field and the sizes;
* ``build(config, info) -> nn.Module``: the network, from the config and the data's
  :class:`~oceane2e.data.info.DataInfo` (grid, channel names, statistics, time step).

The registry finds the modules of this package on first use (no list to edit): adding a model is
one module and one config (docs/dev/ADDING_A_MODEL.md). Nothing outside a model's module branches
on a model's name.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from oceane2e.config import ConfigError, StrictModel, validate_config
from oceane2e.data.info import DataInfo

ModelKind = Literal["velocity", "ssta", "analysis"]


@dataclass(frozen=True)
class ModelSpec:
    """How to validate and build one model (see the module docstring)."""

    name: str
    kind: ModelKind
    config: type[StrictModel]
    build: Callable[[Any, DataInfo], nn.Module]


_SPECS: dict[str, ModelSpec] = {}


def _discover() -> dict[str, ModelSpec]:
    """Import every module of ``model_baselines`` once and collect their ``MODEL`` specs."""
    if not _SPECS:
        import model_baselines

        for module in pkgutil.iter_modules(model_baselines.__path__):
            if module.name.startswith("_") or module.name == "registry":
                continue
            spec = getattr(importlib.import_module(f"model_baselines.{module.name}"), "MODEL", None)
            if isinstance(spec, ModelSpec):
                if spec.name in _SPECS:
                    raise RuntimeError(f"model name {spec.name!r} is declared twice (model_baselines.{module.name})")
                _SPECS[spec.name] = spec
    return _SPECS


def model_names(kind: ModelKind | None = None) -> list[str]:
    """The registered model names (of one kind), sorted."""
    return sorted(n for n, s in _discover().items() if kind is None or s.kind == kind)


def model_spec(name: str, kind: ModelKind | None = None) -> ModelSpec:
    """The spec of model ``name``; a :class:`ConfigError` listing the choices when it is unknown or of
    another kind."""
    specs = _discover()
    if name not in specs or (kind is not None and specs[name].kind != kind):
        raise ConfigError(f"model.name: unknown {kind + ' ' if kind else ''}model {name!r}; choose one of "
                          f"{model_names(kind)}")
    return specs[name]


def parse_model_config(data: Any, source: str = "model", kind: ModelKind | None = None) -> StrictModel:
    """Validate a ``model:`` section: a name (default sizes), ``{name: ..., <sizes>}`` or a config object.

    Raises :class:`oceane2e.config.ConfigError` naming the bad key or the unknown name.
    """
    if isinstance(data, StrictModel) and hasattr(data, "name"):
        model_spec(data.name, kind)  # type: ignore[attr-defined]
        return data
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"{source}: give the model as a name or a mapping with 'name' (one of {model_names(kind)})")
    return validate_config(model_spec(str(data["name"]), kind).config, data, source=source)


def build_model(config: StrictModel, info: DataInfo) -> nn.Module:
    """The network of a validated model config, built for the data described by ``info``."""
    return model_spec(config.name).build(config, info)  # type: ignore[attr-defined]


__all__ = ["ModelKind", "ModelSpec", "build_model", "model_names", "model_spec", "parse_model_config"]
