"""Strict, typed configuration loading shared by every entry point.

Configs are YAML files validated into pydantic models that forbid unknown keys, so a typo such as
``learning_rat: 1e-3`` stops the run with the key's dotted path instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from oceane2e.errors import UserError

T = TypeVar("T", bound="StrictModel")


class ConfigError(UserError, ValueError):
    """A config file is invalid; the message names the file, the key and the problem."""


class StrictModel(BaseModel):
    """Base of every config section: unknown keys fail, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False)


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem: ``<source>: <dotted.key>: <message>``."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo? see the documented keys of this section)"
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


def validate_config(model: type[T], data: dict[str, Any], source: str = "<config>") -> T:
    """Validate a plain dict into ``model``; raise :class:`ConfigError` naming every bad key."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_config(model: type[T], path: str | Path, overrides: dict[str, Any] | None = None) -> T:
    """Load YAML at ``path`` into ``model``.

    Args:
        overrides: dotted keys -> values applied before validation, e.g. ``{"train.epochs": 1}``.
    """
    path = Path(path)
    data = read_config_mapping(path)
    for dotted, value in (overrides or {}).items():
        set_dotted(data, dotted, value)
    return validate_config(model, data, source=str(path))


def read_config_mapping(path: Path) -> dict[str, Any]:
    """The YAML mapping of a config file, unvalidated; errors name the file."""
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``, creating sections as needed."""
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {k} is not a section")
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key.sub=value`` (value as YAML) from the command line."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override {text!r}: the key before '=' is empty; expected key=value")
    try:
        return key.strip(), yaml.safe_load(raw)
    except yaml.YAMLError as err:
        problem = str(err).splitlines()[0]
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({problem}); quote it or fix it") from None
