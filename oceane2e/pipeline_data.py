"""One place for a run's input and years: the ``data:`` block of a pipeline config.

Without it, another SST file or another split means editing the same years in every config a pipeline
names (the prepare config, the hybrid's, each baseline's, ...). With it, the pipeline writes the
**effective configs** of the run to ``<state_dir>/effective/`` — each named config with the block's
years (and input file) put in — and every step reads those:

- every config with a ``data:`` section gets ``data.train_years``, ``val_years``, ``test_years``;
- the prepare config gets ``years`` = every year from the first to the last of the splits (the
  climatology needs consecutive years), ``sources.sst.files`` = ``sst_files`` (``variable``, ``units`` =
  ``sst_variable``, ``sst_units`` when given) and
  ``climatology.baseline`` = ``climatology_baseline`` when given;
- the synthetic config gets ``years`` = (first, last) of the splits and ``baseline_years`` =
  ``climatology_baseline`` when given;
- a config that names another config of the run (``forecasts.stage1_config``, ``stage2_config``,
  ``vel_config``) names its effective copy.

The files the user wrote are never changed; each effective file says which file it comes from.
"""

from __future__ import annotations

import copy
import glob
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, model_validator

from oceane2e.config import ConfigError, StrictModel, read_config_mapping, set_dotted
from oceane2e.data.config import check_disjoint_splits

EFFECTIVE_DIR = "effective"  # <state_dir>/effective/<each config's path>
# keys by which one config names another config of the same run
CONFIG_REFERENCES = ("forecasts.stage1_config", "forecasts.stage2_config", "stage2_config", "vel_config")


class PipelineData(StrictModel):
    """The ``data:`` block of a pipeline config: the input and the years of the whole run."""

    sst_files: list[Path] | None = Field(
        None, min_length=1, description="the SST files to prepare (prepare_config's sources.sst.files); null: the "
        "prepare config's own; only with prepare_config")
    sst_variable: str | None = Field(
        None, description="the SST variable of those files (prepare_config's sources.sst.variable); null: the "
        "prepare config's own (default: analysed_sst, then sst); only with prepare_config")
    sst_units: str | None = Field(
        None, description="units of that variable where the files lack them, degC or K (sources.sst.units); "
        "null: the prepare config's own (default: the files' units attribute); only with prepare_config")
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


def _get(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def effective_path(state_dir: Path, path: Path) -> Path:
    """Where the effective copy of ``path`` goes: its relative path mirrored under ``<state_dir>/effective``."""
    rel = Path(*[p for p in path.parts if p not in ("/", "..")]) if path.is_absolute() or ".." in path.parts else path
    return state_dir / EFFECTIVE_DIR / rel


# where a data config keeps its MHW climatology baseline
BASELINE_KEYS = {"prepare_config": "climatology.baseline", "synthetic_config": "baseline_years"}


def apply_data(raw: dict[str, Any], kind: str, data: PipelineData, source: Path) -> dict[str, Any]:
    """``raw`` (one config's YAML mapping) with the block's years and input put in; ``kind`` is the pipeline key."""
    out = copy.deepcopy(raw)
    first, last = data.all_years[0], data.all_years[-1]
    if kind == "prepare_config":
        out["years"] = list(range(first, last + 1))  # the climatology needs consecutive years
        for key, value in (("files", None if data.sst_files is None else [str(p) for p in data.sst_files]),
                           ("variable", data.sst_variable), ("units", data.sst_units)):
            if value is not None:
                set_dotted(out, f"sources.sst.{key}", value)
    elif kind == "synthetic_config":
        out["years"] = [first, last]
    if kind in BASELINE_KEYS:
        key = BASELINE_KEYS[kind]
        if data.climatology_baseline is not None:
            set_dotted(out, key, list(data.climatology_baseline))
        elif isinstance(_get(out, key), list | tuple) and len(_get(out, key)) == 2:
            try:
                check_baseline(tuple(_get(out, key)), data.test_years, f"{source}: {key}")
            except ValueError as err:
                raise ConfigError(f"{err}; or set data.climatology_baseline in the pipeline config") from None
    if isinstance(out.get("data"), dict):
        out["data"].update(train_years=list(data.train_years), val_years=list(data.val_years),
                           test_years=list(data.test_years))
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
    for key in ("sst_files", "sst_variable", "sst_units"):
        if getattr(data, key) is not None and named.get("prepare_config") is None:
            raise ConfigError(f"{where}: data.{key} is given, but there is no prepare_config to prepare the SST "
                              f"files with; remove {key} or add prepare_config")
    for f in data.sst_files or []:
        if not _exists(Path(f)):
            raise ConfigError(f"{where}: data.sst_files: {f} not found (paths are relative to the run folder "
                              f"{Path.cwd()})")
    schemas = schemas or {}

    def references(raw: dict[str, Any], key: str) -> dict[str, str]:
        """The configs ``raw`` names (dotted key -> real path), its class's defaults standing in for left-out keys;
        one that does not exist is left to the step that reads it to report."""
        found = {}
        for ref in CONFIG_REFERENCES:
            target = _get(raw, ref)
            if target is None and key in schemas:
                target = schema_default(schemas[key], ref)
            if target is not None and Path(target).exists():
                found[ref] = os.path.realpath(target)
        return found

    # first every config the run reads (named, then referenced by those), each with its copy's path
    todo = [(key, p) for key, value in named.items() if value is not None
            for p in (value if isinstance(value, list) else [value])]
    copies: dict[str, Path] = {}  # real path of a source -> its copy
    mappings: dict[str, tuple[Path, dict[str, Any], dict[str, str]]] = {}  # real path -> (source, mapping, refs)
    while todo:
        key, path = todo.pop(0)
        real = os.path.realpath(path)
        if real in copies:
            continue
        dest = effective_path(state_dir, path)
        if dest in copies.values():
            raise ConfigError(f"{where}: two configs would share the effective copy {dest}; give them distinct paths")
        copies[real] = dest
        raw = read_config_mapping(path)
        if key == "synthetic_config" and "baseline_years" not in raw and key in schemas:
            raw["baseline_years"] = list(schema_default(schemas[key], "baseline_years"))  # checked like a written one
        raw = apply_data(raw, key, data, path)
        refs = references(raw, key)
        todo += [("referenced", Path(r)) for r in refs.values() if r not in copies]  # not named: copied as well
        mappings[real] = (path, raw, refs)
    # then each copy, naming the copies of the configs it names
    origin = f" with the data block of {pipeline_path}" if pipeline_path else ""
    for real, (path, raw, refs) in mappings.items():
        for ref, target in refs.items():
            set_dotted(raw, ref, str(copies[target]))
        dest = copies[real]
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".tmp")
        tmp.write_text(f"# Written by `oceane2e pipeline` from {path}{origin}: the config this run's steps read.\n"
                       "# Edit those files, not this one (it is rewritten at every run).\n"
                       + yaml.safe_dump(raw, sort_keys=False, default_flow_style=None, width=120))
        tmp.replace(dest)
    return {key: ([copies[os.path.realpath(p)] for p in value] if isinstance(value, list)
                  else copies[os.path.realpath(value)]) if value is not None else None for key, value in named.items()}
