"""One place for a run's input and years: the ``data:`` block of a pipeline config.

Without it, another SST file or another split means editing the same years in every config a pipeline
names (the prepare config, the hybrid's, each baseline's, ...). With it, the pipeline writes the
**effective configs** of the run to ``<state_dir>/effective/`` — each named config with the block's
years (and input file) put in — and every step reads those:

- every config with a ``data:`` section gets ``data.train_years``, ``val_years``, ``test_years``;
- the prepare config gets ``years`` = every year from the first to the last of the splits (the
  climatology needs consecutive years), ``sources.sst.files`` = ``sst_files`` and
  ``climatology.baseline`` = ``climatology_baseline`` when given;
- the synthetic config gets ``years`` = (first, last) of the splits and ``baseline_years`` =
  ``climatology_baseline`` when given;
- a config that names another config of the run (``forecasts.stage1_config``, ``stage2_config``,
  ``vel_config``) names its effective copy.

The files the user wrote are never changed; each effective file says which file it comes from.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, model_validator

from oceane2e.config import ConfigError, StrictModel
from oceane2e.data.config import check_disjoint_splits

EFFECTIVE_DIR = "effective"  # <state_dir>/effective/<each config's path>
# keys by which one config names another config of the same run
CONFIG_REFERENCES = ("forecasts.stage1_config", "forecasts.stage2_config", "stage2_config", "vel_config")


class PipelineData(StrictModel):
    """The ``data:`` block of a pipeline config: the input and the years of the whole run."""

    sst_files: list[Path] | None = Field(
        None, min_length=1, description="the SST files to prepare (prepare_config's sources.sst.files); null: the "
        "prepare config's own; only with prepare_config")
    train_years: list[int] = Field(..., min_length=1, description="years that fit the networks and statistics")
    val_years: list[int] = Field(..., min_length=1, description="years that choose checkpoints and settings")
    test_years: list[int] = Field(..., min_length=1, description="years used only for the final scores")
    climatology_baseline: tuple[int, int] | None = Field(
        None, description="first and last year (inclusive) of the MHW climatology (prepare's climatology.baseline, "
        "the synthetic config's baseline_years); null: the data config's own. Never a test year")

    @model_validator(mode="after")
    def _splits(self) -> PipelineData:
        check_disjoint_splits({"train_years": self.train_years, "val_years": self.val_years,
                               "test_years": self.test_years})
        if self.climatology_baseline is not None:
            b0, b1 = self.climatology_baseline
            if b0 > b1:
                raise ValueError(f"climatology_baseline {b0}..{b1} must be (first, last) with first <= last")
            check_baseline((b0, b1), self.test_years, "climatology_baseline")
        return self

    @property
    def all_years(self) -> list[int]:
        return sorted({*self.train_years, *self.val_years, *self.test_years})


def check_baseline(baseline: tuple[int, int], test_years: list[int], where: str) -> None:
    """The MHW thresholds of the scores must not have seen a test year."""
    inside = sorted(y for y in test_years if baseline[0] <= y <= baseline[1])
    if inside:
        raise ValueError(f"{where} {baseline[0]}..{baseline[1]} contains the test years {inside}: the heatwave "
                         "thresholds of the scores would have seen them; end it before the first test year or "
                         "start it after the last")


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return raw


def _get(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _set_creating(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node[key] = dict(node.get(key) or {})
        node = node[key]
    node[last] = value


def effective_path(state_dir: Path, path: Path) -> Path:
    """Where the effective copy of ``path`` goes: its relative path mirrored under ``<state_dir>/effective``."""
    rel = Path(*[p for p in path.parts if p not in ("/", "..")]) if path.is_absolute() or ".." in path.parts else path
    return state_dir / EFFECTIVE_DIR / rel


def apply_data(raw: dict[str, Any], kind: str, data: PipelineData, source: Path) -> dict[str, Any]:
    """``raw`` (one config's YAML mapping) with the block's years and input put in; ``kind`` is the pipeline key."""
    out = dict(raw)
    if kind == "prepare_config":
        out["years"] = list(range(data.all_years[0], data.all_years[-1] + 1))
        if data.sst_files is not None:
            sources = dict(out.get("sources") or {})
            sources["sst"] = {**(sources.get("sst") or {}), "files": [str(p) for p in data.sst_files]}
            out["sources"] = sources
        clim = dict(out.get("climatology") or {})
        if data.climatology_baseline is not None:
            clim["baseline"] = list(data.climatology_baseline)
            out["climatology"] = clim
        elif isinstance(clim.get("baseline"), list | tuple) and len(clim["baseline"]) == 2:
            try:
                check_baseline(tuple(clim["baseline"]), data.test_years, f"{source}: climatology.baseline")
            except ValueError as err:
                raise ConfigError(f"{err}; or set data.climatology_baseline in the pipeline config") from None
    elif kind == "synthetic_config":
        out["years"] = [data.all_years[0], data.all_years[-1]]
        if data.climatology_baseline is not None:
            out["baseline_years"] = list(data.climatology_baseline)
        elif isinstance(out.get("baseline_years"), list | tuple) and len(out["baseline_years"]) == 2:
            try:
                check_baseline(tuple(out["baseline_years"]), data.test_years, f"{source}: baseline_years")
            except ValueError as err:
                raise ConfigError(f"{err}; or set data.climatology_baseline in the pipeline config") from None
    if isinstance(out.get("data"), dict):
        out["data"] = {**out["data"], "train_years": list(data.train_years), "val_years": list(data.val_years),
                       "test_years": list(data.test_years)}
    return out


def schema_default(model: type[BaseModel], dotted: str) -> Any:
    """The default of the dotted key ``dotted`` of the config class ``model`` (None when it has none)."""
    value: Any = None
    cls: type[BaseModel] | None = model
    for key in dotted.split("."):
        if isinstance(value, BaseModel):
            value = getattr(value, key, None)
            continue
        if cls is None or key not in cls.model_fields:
            return None
        field = cls.model_fields[key]
        if field.is_required():
            return None
        value = field.get_default(call_default_factory=True)
        cls = None
    return value


def _exists(pattern: Path) -> bool:
    """A file, or a glob (the converters' ``files`` may be globs) that matches one."""
    text = str(pattern)
    return bool(glob.glob(text)) if glob.has_magic(text) else pattern.exists()


def write_effective_configs(named: dict[str, Path | list[Path] | None], data: PipelineData, state_dir: Path,
                            pipeline_path: Path | None,
                            schemas: dict[str, type[BaseModel]] | None = None) -> dict[str, Path | list[Path] | None]:
    """Write the effective copy of every config in ``named`` (pipeline key -> path(s)); returns the same map
    with the copies' paths. Nothing is written unless every file reads. ``schemas``: the config class of a
    pipeline key, whose defaults stand in for what the file leaves out (a reference to another config, the
    synthetic ocean's baseline). A config referenced by a named one but not named itself gets a copy too."""
    where = pipeline_path or "the pipeline config"
    if data.sst_files is not None and named.get("prepare_config") is None:
        raise ConfigError(f"{where}: data.sst_files is given, but there is no prepare_config to prepare them with; "
                          "remove sst_files or add prepare_config")
    for f in data.sst_files or []:
        if not _exists(Path(f)):
            raise ConfigError(f"{where}: data.sst_files: {f} not found (paths are relative to the run folder "
                              f"{Path.cwd()})")
    todo = [(key, p) for key, value in named.items() if value is not None
            for p in (value if isinstance(value, list) else [value])]
    copies: dict[str, Path] = {}  # real path of a source -> its copy
    pending: dict[Path, tuple[str, dict[str, Any]]] = {}  # copy -> (header, mapping)
    origin = f" with the data block of {pipeline_path}" if pipeline_path else ""
    while todo:
        key, path = todo.pop(0)
        real = os.path.realpath(path)
        if real in copies:
            continue
        copies[real] = effective_path(state_dir, path)
        if copies[real] in pending or list(copies.values()).count(copies[real]) > 1:
            raise ConfigError(f"{where}: two configs would share the effective copy {copies[real]}; give them "
                              "distinct paths")
        raw = _read(path)
        schema = (schemas or {}).get(key)
        if key == "synthetic_config" and "baseline_years" not in raw and schema is not None:
            raw["baseline_years"] = list(schema_default(schema, "baseline_years"))  # checked like a written one
        raw = apply_data(raw, key, data, path)
        for ref in CONFIG_REFERENCES:
            target = _get(raw, ref)
            if target is None and schema is not None:
                target = schema_default(schema, ref)  # left to its default, which names a config too
            if target is None or not Path(target).exists():
                continue  # the step that reads it says what is missing
            if os.path.realpath(target) not in copies:
                todo.append(("referenced", Path(target)))  # not named by the pipeline: copied as well
            _set_creating(raw, ref, ("@", os.path.realpath(target)))  # resolved below, once every copy is known
        header = (f"# Written by `oceane2e pipeline` from {path}{origin}: the config this run's steps read.\n"
                  f"# Edit those files, not this one (it is rewritten at every run).\n")
        pending[copies[real]] = (header, raw)
    for dest, (header, raw) in pending.items():
        for ref in CONFIG_REFERENCES:
            value = _get(raw, ref)
            if isinstance(value, tuple) and value[:1] == ("@",):
                _set_creating(raw, ref, str(copies[value[1]]))
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".tmp")
        tmp.write_text(header + yaml.safe_dump(raw, sort_keys=False, default_flow_style=None, width=120))
        tmp.replace(dest)
    return {key: ([copies[os.path.realpath(p)] for p in value] if isinstance(value, list)
                  else copies[os.path.realpath(value)]) if value is not None else None for key, value in named.items()}
