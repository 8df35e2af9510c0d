"""The main job: the whole Ocean-E2E pipeline on one config, step by step, resumable.

    synth | prepare -> check -> observe -> train_vel -> inference_vel -> train_online -> inference
          -> ensemble -> train_baseline, inference_baseline (each baseline) -> hindcast_<baseline> (each)
          -> oi_windows -> train_assim -> hindcast -> oi_realtime -> forecast_from_oi -> oi -> assimilate
          -> forecast_from_obs -> calibrate -> evaluate

The data come from the synthetic ocean (``synthetic_config``) or from real files converted by
``prepare-data`` (``prepare_config``, e.g. SST alone: configs/pipeline_oisst.yaml). Without a stage-1
config (``vel_config: null``, data without currents) there is no M_θ stage.

Each step records a marker in ``<state_dir>/<step>.done`` when it finishes, so a re-run skips the
finished steps (a killed run resumes where it stopped; the training steps themselves resume from
their last checkpoint). The pipeline also records, in ``<state_dir>/created.json``, every path under
``clean_paths`` that it created. ``--fresh`` first validates everything (every config, the ``--only``
step names, that ``clean_paths`` and ``state_dir`` lie inside the run folder, the working directory),
then deletes only the recorded paths — never a file the user put there, never a path outside the run
folder — and starts over. Inference steps replace their own earlier results on purpose.
Steps run through the same library functions the ``train_*.py`` / ``inference*.py`` entry points
call. Two lanes (``side_process: true``, the default): after the data check a second process runs
the observing system, the baseline networks (whose forecasts wait for M_θ's) and the OI smoother, then
the learned analysis' training, which waits for the hybrid's checkpoint; the main process trains M_θ
and the hybrid, forecasts with them, runs the real-time OI, and its cycle of the learned analysis waits
for that training.
Each lane waits only for the markers of the steps it ``needs`` from the other; the list order above is
one valid order, which ``side_process: false`` runs in one process. Stopping the main process stops the
second one: SIGTERM (``kill``) or Ctrl-C stops it before the main one exits, and on Linux the kernel ends it when
the main one dies any other way (``kill -9``); elsewhere it stops before its next step. Each process
has one torch thread: the small tensors of these grids keep a second intra-op thread mostly waiting
(the hybrid's training step is 1.6x faster with one thread than with two on 2 cores), so two
processes use the two cores where one process could not. The second process writes to
``<state_dir>/side.log``; the evaluation waits for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from oceane2e.config import ConfigError, StrictModel, load_config, parse_override
from oceane2e.errors import UserError
from oceane2e.pipeline_data import EFFECTIVE_DIR, PipelineData, write_effective_configs
from oceane2e.processes import die_with_parent, sigterm_raises_exit  # re-exported: the pipeline's own helpers

# the keys of PipelineConfig that name the configs of the steps (the data block applies to them)
CONFIG_KEYS = ("synthetic_config", "prepare_config", "vel_config", "online_config", "baseline_configs",
               "observe_config", "oi_config", "oi_realtime_config", "ensemble_config", "assim_config")


class PipelineConfig(StrictModel):
    """``configs/pipeline.yaml``: which config each step uses and where outputs go."""

    data: PipelineData | None = Field(
        None, description="one place for the run's input and years (sst_files, train/val/test_years, "
        "climatology_baseline): put into every config below (oceane2e.pipeline_data); null: each config's own")
    synthetic_config: Path | None = Field(
        Path("configs/synthetic.yaml"), description="synthetic ocean config (step synth); null with prepare_config")
    prepare_config: Path | None = Field(
        None, description="prepare-data config (step prepare: real files -> the data folder, instead of synth); its "
        "out_dir must be the stages' data.root")
    vel_config: Path | None = Field(
        Path("configs/config_vel.yaml"), description="stage-1 config; null: no M_θ stage (data without currents)")
    online_config: Path = Field(Path("configs/config.yaml"), description="stage-2 (hybrid) config")
    baseline_configs: list[Path] = Field(
        default_factory=lambda: [Path("configs/config_baseline.yaml")],
        description="one config per baseline network",
    )
    observe_config: Path | None = Field(None, description="simulated observing system config; null: no observe step")
    oi_config: Path | None = Field(None, description="OI analysis config (the smoother, the analyses' reference); "
                                   "null: no oi step")
    oi_realtime_config: Path | None = Field(
        None, description="real-time OI config (records up to the analysed day only, e.g. configs/oi_realtime.yaml): "
        "the currents of the learned analysis' cycle and the start of the forecasts from observations; null: no "
        "oi_realtime step")
    ensemble_config: Path | None = Field(
        None, description="ensemble of the hybrid (issue 17, configs/config_ens.yaml); null: no ensemble step")
    ensemble_overrides: dict[str, Any] = Field(
        default_factory=dict, description="dotted overrides of ensemble_config (e.g. fewer start dates for the demo)")
    assim_config: Path | None = Field(
        None, description="learned assimilation config (train_assim, assimilate, forecast_from_obs); null: none")
    hindcasts: bool = Field(
        True, description="also forecast the validation years with every network (inference.split: val, into "
        "<results_dir>/hindcast): the evaluation fits its lead-calibrated MHW thresholds on them "
        "(oceane2e.evaluation.calibration, metrics <metric>_cal); false: MHW scores with the observed threshold only")
    side_process: bool = Field(
        True, description="run observe, the baselines and the learned analysis' training in a second process "
        "beside M_θ's and the hybrid's steps (one torch thread each; docs/benchmarks.md, 'Pipeline timing'); "
        "false: one after another in this process")
    results_dir: Path = Field(Path("results"), description="where forecasts, skill.csv and report.md go")
    state_dir: Path = Field(Path("logs/pipeline"), description="step markers for resuming")
    clean_paths: list[Path] = Field(
        default_factory=lambda: [Path("data/GS"), Path("checkpoints"), Path("logs"), Path("results")],
        description="where --fresh may delete what the pipeline created there (results/vis.ipynb is kept)",
    )

    @model_validator(mode="before")
    @classmethod
    def _prepare_replaces_synth(cls, data: Any) -> Any:
        """With ``prepare_config`` the data are real: no synthetic ocean unless one is asked for (an error below)."""
        if isinstance(data, dict) and data.get("prepare_config") is not None and "synthetic_config" not in data:
            data = {**data, "synthetic_config": None}
        return data

    @model_validator(mode="after")
    def _one_data_source(self) -> PipelineConfig:
        if self.prepare_config is not None and self.synthetic_config is not None:
            raise ValueError("give synthetic_config or prepare_config, not both (where do the data come from?)")
        if self.prepare_config is None and self.synthetic_config is None:
            raise ValueError("give synthetic_config (the synthetic ocean) or prepare_config (real files)")
        return self

    @field_validator("clean_paths", "state_dir", "results_dir")
    @classmethod
    def _inside_run_folder(cls, value: Path | list[Path]) -> Path | list[Path]:
        for path in value if isinstance(value, list) else [value]:
            if not inside_run_folder(path):
                raise ValueError(f"{path} is not inside the run folder {Path.cwd()} (or is the folder itself); "
                                 "the pipeline only writes and deletes there")
        return value


def inside_run_folder(path: Path, *, follow_links: bool = False) -> bool:
    """True when ``path`` lies strictly inside the working directory (``..`` resolved; links too if asked)."""
    if follow_links:
        base, full = Path(os.path.realpath(os.getcwd())), Path(os.path.realpath(path))
    else:
        base, full = Path(os.getcwd()), Path(os.path.abspath(path))
    return full != base and base in full.parents


@dataclass
class Step:
    name: str
    run: Callable[[], None]
    side: bool = False  # runs in the second process when there is one
    # steps whose markers must exist before this one starts; with two lanes, those of the other lane are
    # waited for (the list order puts them earlier, so one process running the steps in order never waits)
    needs: tuple[str, ...] = ()


def _data_root(cfg: PipelineConfig) -> Path:
    if cfg.vel_config is None:
        from oceane2e.data.config import load_data_section

        return load_data_section(cfg.online_config, what="the pipeline").root
    from oceane2e.stage1 import load_stage1_config

    return load_stage1_config(cfg.vel_config).data.root


def build_steps(cfg: PipelineConfig) -> list[Step]:
    """The ordered steps of the pipeline; heavy modules are imported only when a step runs."""

    def synth() -> None:
        from oceane2e.data.synthetic.ocean import SyntheticConfig, generate

        generate(load_config(SyntheticConfig, cfg.synthetic_config), _data_root(cfg), progress=True)

    def prepare() -> None:
        from oceane2e.data.converters.prepare import PrepareConfig, prepare_data

        report = prepare_data(load_config(PrepareConfig, cfg.prepare_config), progress=True)
        h, w = report.grid.shape
        print(f"prepared {report.out_dir}: years {report.years[0]}..{report.years[-1]}, grid {h}x{w}, "
              f"{report.ocean_cells} ocean cells, channels {list(report.mhw_channels + report.geo_channels)}"
              + (f" (absent: {list(report.absent_channels)})" if report.absent_channels else ""))

    def check() -> None:
        from oceane2e.data.check import check_folder
        from oceane2e.data.contract import DataContractError

        problems = check_folder(_data_root(cfg))
        if problems:
            raise DataContractError(f"{_data_root(cfg)}: data check failed with {len(problems)} problem(s), the first: "
                                    f"{problems[0]} (`oceane2e check {_data_root(cfg)}` lists them all)")
        print(f"data check: {_data_root(cfg)} is valid")

    def observe() -> None:
        from oceane2e.assim.observe import load_observe_config
        from oceane2e.assim.observe import observe as run_observe

        summary = run_observe(load_observe_config(cfg.observe_config), progress=True)
        print(f"observations: {', '.join(str(p) for p in summary.paths)} ({summary.seconds:.0f} s)")

    def oi_of(path: Path) -> Callable[[], None]:
        def run() -> None:
            from oceane2e.assim.oi import analyse_and_score, load_oi_config

            analyse_and_score(load_oi_config(path), progress=True, overwrite=True)

        return run

    def train_vel() -> None:
        from oceane2e.stage1 import load_stage1_config, train

        train(load_stage1_config(cfg.vel_config), resume=True)

    def inference_vel() -> None:
        from oceane2e.stage1 import infer, load_stage1_config

        infer(load_stage1_config(cfg.vel_config), overwrite=True)  # a re-run replaces its own forecasts

    def train_online() -> None:
        from oceane2e.stage2 import load_stage2_config, train

        train(load_stage2_config(cfg.online_config), resume=True)

    def inference() -> None:
        from oceane2e.stage2 import infer, load_stage2_config

        infer(load_stage2_config(cfg.online_config), overwrite=True)

    def hindcast_of(path: Path) -> Callable[[], None]:
        def run() -> None:
            from oceane2e.stage2 import infer, load_stage2_config

            c = load_stage2_config(path)
            update: dict[str, Any] = {"split": "val"}
            if c.inference.velocity == "forecast" and cfg.vel_config is not None:
                # the hindcast runs M_θ on the fly: the one the pipeline's stage 1 trained
                from oceane2e.stage1 import load_stage1_config

                update["velocity_model"] = load_stage1_config(cfg.vel_config).train.best_checkpoint
            infer(c.model_copy(update={"inference": c.inference.model_copy(update=update)}), overwrite=True)

        return run

    def ensemble() -> None:
        from oceane2e.ensemble.generate import infer_ensemble, load_ensemble_config

        infer_ensemble(load_ensemble_config(cfg.ensemble_config, cfg.ensemble_overrides), overwrite=True)

    def oi_windows() -> None:
        """The real-time OI of the learned analysis' training-window and validation years, at its
        ``windows.currents_path``: the currents its backgrounds (and its current analysis' first guess) train with."""
        from oceane2e.assim.oi import analyse_and_score, load_oi_config
        from oceane2e.stage_da import load_assim_config

        da = load_assim_config(cfg.assim_config)
        path = Path(da.windows.currents_path)  # type: ignore[arg-type]
        years = sorted({*da.window_years(), *da.data.val_years})
        analyse_and_score(load_oi_config(cfg.oi_realtime_config, [  # type: ignore[arg-type]
            f"years={years}", f"method={path.name.removesuffix('_analysis.nc')}", f"results_dir={path.parent}",
            "score=false"]), progress=True, overwrite=True)

    def train_assim() -> None:
        from oceane2e.stage_da import load_assim_config, train

        train(load_assim_config(cfg.assim_config), resume=True)

    def assimilate() -> None:
        from oceane2e.stage_da import cycle, load_assim_config

        cycle(load_assim_config(cfg.assim_config), overwrite=True)

    def forecasts_from(learned: bool) -> Callable[[], None]:
        """The forecasts from the classical analyses (which need no learned analysis: they run while it trains)
        or from the learned one (after its cycle, reusing M_θ's forecasts from the altimetry)."""
        def run() -> None:
            from oceane2e.stage_da import forecast_from_analyses, load_assim_config

            da = load_assim_config(cfg.assim_config)
            names = [n for n, a in da.forecasts.methods.items() if (a == da.method) == learned]
            if names:
                forecast_from_analyses(da, overwrite=True, names=names, reuse_velocity=learned)

        return run

    def calibrate() -> None:
        from oceane2e.evaluation.evaluate import fit_mhw_calibration

        path = fit_mhw_calibration(cfg.results_dir, _data_root(cfg), cfg.online_config)
        print(f"MHW calibration: {path}" if path else f"MHW calibration: nothing fitted (no hindcast in "
              f"{cfg.results_dir}/hindcast of a scored model, or no MHW observed over their start dates)")

    def evaluate() -> None:
        from oceane2e.evaluation.calibration import CALIBRATION_FILE, HINDCAST_DIR, has_current_format
        from oceane2e.evaluation.evaluate import run_evaluation

        # the scales of the calibrate step, unless a hindcast was written after them or the file is of an older
        # version (then fitted here again)
        fitted = cfg.results_dir / CALIBRATION_FILE
        hindcasts = list((cfg.results_dir / HINDCAST_DIR).glob("*_outputs.npy"))
        current = cfg.hindcasts and has_current_format(fitted) and all(h.stat().st_mtime <= fitted.stat().st_mtime
                                                                        for h in hindcasts)
        run_evaluation(results_dir=cfg.results_dir, data_root=_data_root(cfg), config_path=cfg.online_config,
                       hindcasts="auto" if cfg.hindcasts else None, calibration_file=fitted if current else None)

    # Two lanes (``side_process``): the main one trains M_θ and the hybrid, forecasts with them and runs OI;
    # the side one observes, trains the baselines and then the learned analysis (which needs the hybrid),
    # so that the second core works while the hybrid trains and while it forecasts.
    def needs_of(path: Path, what: str) -> tuple[str, ...]:
        """What a baseline's training or inference needs of the other lane: M_θ's currents when it uses them."""
        if cfg.vel_config is None:
            return ("check",)
        from oceane2e.stage2 import load_stage2_config

        c = load_stage2_config(path)
        velocity = c.windows.velocity if what == "train" else c.inference.velocity
        if what == "hindcast" and velocity == "forecast":  # hindcasts run M_θ on the fly (stage2.infer)
            velocity = "model"
        return {"forecast": ("inference_vel",), "model": ("train_vel",)}.get(velocity, ("check",))

    observed = ("observe",) if cfg.observe_config is not None else ()  # the OIs read the observations
    steps = [
        Step("prepare", prepare) if cfg.prepare_config is not None else Step("synth", synth),
        Step("check", check),
        *([Step("observe", observe, side=True, needs=("check",))] if cfg.observe_config is not None else []),
        *([Step("train_vel", train_vel), Step("inference_vel", inference_vel)] if cfg.vel_config is not None else []),
        Step("train_online", train_online),
        Step("inference", inference),
    ]
    if cfg.ensemble_config is not None:
        steps.append(Step("ensemble", ensemble))
    for path in cfg.baseline_configs:

        def train_b(path: Path = path) -> None:
            from oceane2e.stage2 import load_stage2_config, train

            train(load_stage2_config(path), resume=True)

        def infer_b(path: Path = path) -> None:
            from oceane2e.stage2 import infer, load_stage2_config

            infer(load_stage2_config(path), overwrite=True)

        tag = path.stem
        steps += [Step(f"train_{tag}", train_b, side=True, needs=needs_of(path, "train")),
                  Step(f"inference_{tag}", infer_b, side=True, needs=needs_of(path, "inference"))]
    # The side lane reaches train_assim about when the main lane has trained the hybrid (which train_assim needs):
    # the baselines' hindcasts and the OI of the training windows' years go before it, the smoother OI fills the main
    # lane's wait for train_assim. (2026-12-02: with the hindcasts before train_assim the main lane waited 121 s for
    # it; 2026-12-03, once the OI took 30 % less, the side lane waited 33 s for the hybrid instead, and the hindcasts
    # after train_assim delayed the calibration, so the evaluation, by 34 s: docs/benchmarks.md, "Pipeline timing".)
    if cfg.hindcasts:
        # the baselines' validation forecasts (for the MHW calibration)
        steps += [Step(f"hindcast_{path.stem}", hindcast_of(path), side=True, needs=needs_of(path, "hindcast"))
                  for path in cfg.baseline_configs]
    windows_oi = cfg.assim_config is not None and _windows_oi(cfg)
    if windows_oi:  # the real-time OI of the training windows' years, before the analysis trains on it
        steps.append(Step("oi_windows", oi_windows, side=True, needs=observed))
    if cfg.assim_config is not None:
        # the analysis' backgrounds are forecasts of the trained hybrid; the cycle needs the real-time OI currents
        steps.append(Step("train_assim", train_assim, side=True, needs=("train_online",)))
    if cfg.hindcasts:
        # the validation years' forecasts, for the evaluation's MHW calibration: the hybrid's in the main lane
        # while the side lane trains the analysis
        steps.append(Step("hindcast", hindcast_of(cfg.online_config)))
    if cfg.oi_realtime_config is not None:  # in the main lane's wait for train_assim
        steps.append(Step("oi_realtime", oi_of(cfg.oi_realtime_config), needs=observed))
    if cfg.assim_config is not None:
        analyses = tuple(name for name, c in (("oi", cfg.oi_config), ("oi_realtime", cfg.oi_realtime_config)) if c)
        # the forecasts from the real-time OI fill the main lane's wait for train_assim too
        realtime = ("oi_realtime",) if cfg.oi_realtime_config else ()  # not the smoother: never a start
        steps.append(Step("forecast_from_oi", forecasts_from(learned=False), needs=realtime))
    if cfg.oi_config is not None:
        # the smoother (the analyses' reference, never a start): the scores need it, the forecasts do not
        steps.append(Step("oi", oi_of(cfg.oi_config), needs=observed))
    if cfg.assim_config is not None:
        steps += [Step("assimilate", assimilate, needs=("train_assim", *analyses)),
                  Step("forecast_from_obs", forecasts_from(learned=True))]
    if cfg.hindcasts:
        # the MHW threshold scales, fitted on the hindcasts beside the main lane's last forecasts
        steps.append(Step("calibrate", calibrate, side=True, needs=("hindcast",)))
    steps.append(Step("evaluate", evaluate))
    return steps


def with_effective_configs(cfg: PipelineConfig, config_path: Path | None, *, announce: bool = True,
                           force: bool = False, check: bool = True) -> tuple[PipelineConfig, Path | None]:
    """With a ``data`` block (or ``force``, e.g. after command-line overrides): the effective configs of the run
    written under ``<state_dir>/effective`` (oceane2e.pipeline_data), and the pipeline config naming them, which
    the second process reads; without, ``cfg`` and ``config_path`` unchanged. ``check``: refuse a data block that
    differs from the one the finished steps ran with (not with ``--fresh``)."""
    if check:
        _refuse_a_changed_data_block(cfg, config_path)
    if cfg.data is None and not force:
        return cfg, config_path
    update: dict[str, Any] = {"data": None}
    if cfg.data is not None:
        named = {key: getattr(cfg, key) for key in CONFIG_KEYS}
        from oceane2e.data.synthetic.ocean import SyntheticConfig
        from oceane2e.ensemble.generate import EnsembleConfig
        from oceane2e.stage_da import AssimConfig

        schemas = {"assim_config": AssimConfig, "ensemble_config": EnsembleConfig, "synthetic_config": SyntheticConfig}
        update.update(write_effective_configs(named, cfg.data, cfg.state_dir, config_path, schemas))
    effective = cfg.model_copy(update=update)
    path = cfg.state_dir / EFFECTIVE_PIPELINE
    path.parent.mkdir(parents=True, exist_ok=True)
    import yaml

    path.write_text(f"# Written by `oceane2e pipeline` from {config_path} (and its overrides): what this run reads.\n"
                    + yaml.safe_dump(effective.model_dump(mode="json"), sort_keys=False, default_flow_style=None,
                                             width=120))
    if announce and cfg.data is not None:
        d = cfg.data
        print(f"[data] {config_path or 'the pipeline config'}: train {_span(d.train_years)}, validation "
              f"{_span(d.val_years)}, test {_span(d.test_years)}"
              + (f", climatology {d.climatology_baseline[0]}..{d.climatology_baseline[1]}"
                 if d.climatology_baseline else "")
              + (f", input {', '.join(map(str, d.sst_files))}" if d.sst_files else "")
              + f"; the steps read the configs with these put in: {path.parent / EFFECTIVE_DIR}", flush=True)
    return effective, path


EFFECTIVE_PIPELINE = "effective_pipeline.yaml"  # in state_dir: the pipeline config naming the copies (side lane)
DATA_RECORD = "data_block.json"  # in state_dir: the data block the finished steps ran with (null: none)


def _normal_data(cfg: PipelineConfig) -> dict[str, Any] | None:
    """The data block as compared between runs: years sorted, input files as absolute paths."""
    if cfg.data is None:
        return None
    d = cfg.data.model_dump(mode="json")
    for key in ("train_years", "val_years", "test_years"):
        d[key] = sorted(d[key])
    if d.get("sst_files"):
        d["sst_files"] = [os.path.abspath(f) for f in d["sst_files"]]
    return d


def _record_data_block(cfg: PipelineConfig) -> None:
    record = cfg.state_dir / DATA_RECORD
    tmp = record.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"data": _normal_data(cfg)}, indent=1) + "\n")
    tmp.replace(record)


def _refuse_a_changed_data_block(cfg: PipelineConfig, config_path: Path | None) -> None:
    """Finished steps are skipped on a re-run: with other years or another input they would be stale, so refuse."""
    record = cfg.state_dir / DATA_RECORD
    if not record.exists() or not any(cfg.state_dir.glob("*.done")):
        return  # nothing finished, or finished by a version that kept no record
    try:
        before = json.loads(record.read_text())["data"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{record}: damaged record of the data block the finished steps ran with; delete it if "
                          "they ran with this block, or re-run with --fresh") from None
    now = _normal_data(cfg)
    if before != now:
        if before is None or now is None:
            what = "a data block added" if before is None else "the data block removed"
        else:
            what = "; ".join(f"{k}: {before.get(k)} -> {v}" for k, v in now.items() if before.get(k) != v)
        raise ConfigError(f"{config_path or 'the pipeline config'}: the data block changed since the finished steps "
                          f"in {cfg.state_dir} ran ({what}); they would be skipped with the old input and years. "
                          "Re-run with --fresh (or restore the block)")


def _span(years: list[int]) -> str:
    years = sorted(years)
    if len(years) == 1:
        return str(years[0])
    return f"{years[0]}..{years[-1]}" if years == list(range(years[0], years[-1] + 1)) else str(years)


def validate_pipeline(cfg: PipelineConfig, only: list[str] | None) -> list[Step]:
    """Load every config the steps use and check the ``--only`` names; raises before anything runs."""
    from oceane2e.stage2 import load_stage2_config

    if cfg.synthetic_config is not None:
        from oceane2e.data.synthetic.ocean import SyntheticConfig

        load_config(SyntheticConfig, cfg.synthetic_config)
    if cfg.vel_config is not None:
        from oceane2e.stage1 import load_stage1_config

        load_stage1_config(cfg.vel_config)
    stage2 = [load_stage2_config(path) for path in [cfg.online_config, *cfg.baseline_configs]]
    root = _data_root(cfg)
    if cfg.prepare_config is not None:
        from oceane2e.data.converters.prepare import PrepareConfig

        prep = load_config(PrepareConfig, cfg.prepare_config)
        if os.path.abspath(prep.out_dir) != os.path.abspath(root):
            raise ConfigError(f"{cfg.prepare_config}: out_dir {prep.out_dir} is not the data folder the stages read "
                              f"({root}, data.root of {cfg.online_config}); make them the same")
        needed = set().union(*(c.data.all_years for c in stage2))
        missing = sorted(needed - set(prep.years))
        if missing:
            raise ConfigError(f"{cfg.prepare_config}: years {missing} of the stage configs' splits are not prepared; "
                              "add them to years")
    for path, c in zip([cfg.online_config, *cfg.baseline_configs], stage2, strict=True):
        if c.inference.split != "test":
            raise ConfigError(f"{path}: inference.split is {c.inference.split!r}; the pipeline forecasts the test years "
                              "with it and the validation years in its hindcast steps, so remove that line")
        if os.path.abspath(c.data.root) != os.path.abspath(root):
            raise ConfigError(f"{path}: data.root {c.data.root} differs from the pipeline's data folder {root}")
    _check_analyses(cfg)
    steps = build_steps(cfg)
    names = [s.name for s in steps]
    for name in only or []:
        if name not in names:
            raise ConfigError(f"--only {name}: unknown step; steps are {names}")
    return steps


def _windows_oi(cfg: PipelineConfig) -> bool:
    """True when the learned analysis trains on an OI's currents (``windows.currents: analysis``) that the
    pipeline writes with its real-time OI config (step ``oi_windows``)."""
    if cfg.assim_config is None or cfg.oi_realtime_config is None:
        return False
    from oceane2e.stage_da import load_assim_config

    return load_assim_config(cfg.assim_config).windows.currents == "analysis"


def _check_analyses(cfg: PipelineConfig) -> None:
    """The OI configs write where the learned analysis reads, and the real-time one is real time."""
    from oceane2e.assim.oi import load_oi_config

    written, smoothers = {}, set()
    for key in ("oi_config", "oi_realtime_config"):
        path = getattr(cfg, key)
        if path is None:
            continue
        c = load_oi_config(path)
        if key == "oi_realtime_config" and not c.realtime:
            raise ConfigError(f"{path}: realtime is false, but {key} must analyse each day from the records up to that "
                              "day only (the forecasts start from it); set `realtime: true`")
        out = os.path.abspath(c.results_dir / f"{c.method}_analysis.nc")
        if out in written:
            raise ConfigError(f"{path}: writes {out} like {written[out]}; give it another `method` so that neither "
                              "replaces the other")
        written[out] = f"{key} ({path})"
        if not c.realtime:
            smoothers.add(out)
    if cfg.assim_config is None:
        return
    from oceane2e.stage_da import load_assim_config

    da = load_assim_config(cfg.assim_config)
    if _windows_oi(cfg):
        path = Path(da.windows.currents_path)  # type: ignore[arg-type]
        if not path.name.endswith("_analysis.nc") or os.path.abspath(path) in written:
            raise ConfigError(f"{cfg.assim_config}: windows.currents_path {path}: the step oi_windows writes it with "
                              f"the real-time OI config as <folder>/<method>_analysis.nc; name it so, apart from the "
                              f"other analyses (e.g. results/train_windows/OI-realtime_analysis.nc)")
        written[os.path.abspath(path)] = f"oi_windows ({cfg.oi_realtime_config})"
    needed = {"cycle.currents_path": da.cycle.currents_path}
    if da.windows.currents == "analysis":
        needed["windows.currents_path"] = da.windows.currents_path  # type: ignore[assignment]
    needed.update({f"forecasts.methods.{name}": da.results_dir / f"{analysis}_analysis.nc"
                   for name, analysis in da.forecasts.methods.items() if analysis != da.method})
    # a file the user put there may stand in for an OI step; one an earlier run made may go with --fresh
    made = [os.path.abspath(p) for p in _read_created(cfg)]

    def provided(path: Path) -> bool:
        full = os.path.abspath(path)
        return path.exists() and not any(full == m or full.startswith(m + os.sep) for m in made)

    for key, path in needed.items():
        # a learned smoother (obs.future_days > 0) starts no forecast: its cycle may use the OI smoother's currents
        if os.path.abspath(path) in smoothers and not (key == "cycle.currents_path" and da.obs.future_days > 0):
            raise ConfigError(f"{cfg.assim_config}: {key} reads {path}, the smoother of "
                              f"{written[os.path.abspath(path)]} (records of the days after each day): the forecasts "
                              "would see their own lead days; point it at the real-time OI (configs/oi_realtime.yaml)")
        if os.path.abspath(path) not in written and not provided(Path(path)):
            raise ConfigError(f"{cfg.assim_config}: {key} reads {path}, which no OI step of the pipeline writes "
                              f"({', '.join(written.values()) or 'none configured'}); point it at one, or add "
                              "oi_realtime_config: configs/oi_realtime.yaml")


def _created_file(cfg: PipelineConfig) -> Path:
    return cfg.state_dir / "created.json"


def _read_created(cfg: PipelineConfig) -> list[str]:
    path = _created_file(cfg)
    if not path.exists():
        return []
    try:
        return [str(p) for p in json.loads(path.read_text())["created"]]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path}: damaged record of the pipeline's outputs; fix or delete it (nothing was "
                          "deleted)") from None


def _snapshot(cfg: PipelineConfig) -> dict[str, set[str] | None]:
    """For each clean path: None when absent, else the names it holds (empty for a file)."""
    snap: dict[str, set[str] | None] = {}
    for path in cfg.clean_paths:
        if path.is_dir():
            snap[str(path)] = set(os.listdir(path))
        else:
            snap[str(path)] = set() if path.exists() or path.is_symlink() else None
    return snap


def _record_created(cfg: PipelineConfig, before: dict[str, set[str] | None]) -> None:
    """Add the clean paths (or their entries) that appeared since ``before`` to ``created.json``."""
    created = _read_created(cfg)
    for path in cfg.clean_paths:
        held = before[str(path)]
        if held is None:
            new = [path] if path.exists() or path.is_symlink() else []
        else:
            new = [path / name for name in sorted(os.listdir(path)) if name not in held] if path.is_dir() else []
        created += [str(p) for p in new if str(p) not in created]
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = _created_file(cfg).with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"created": created}, indent=1) + "\n")
    os.replace(tmp, _created_file(cfg))


def fresh_start(cfg: PipelineConfig) -> list[Path]:
    """Delete what the pipeline recorded as created (inside the run folder only); returns the deleted paths.

    Files the user put under the clean paths, results/vis.ipynb, and anything whose real location
    is outside the run folder are kept; the step markers are removed so every step runs again.
    """
    deleted: list[Path] = []
    roots = [Path(os.path.abspath(p)) for p in cfg.clean_paths]
    for text in _read_created(cfg):
        path = Path(text)
        absolute = Path(os.path.abspath(path))
        if not any(absolute == r or r in absolute.parents for r in roots) or not inside_run_folder(path):
            print(f"--fresh: kept {path} (outside clean_paths / the run folder)", file=sys.stderr)
            continue
        if path.name == "vis.ipynb" or not (path.exists() or path.is_symlink()):
            continue
        if path.is_dir() and not path.is_symlink():
            if not inside_run_folder(path, follow_links=True):
                print(f"--fresh: kept {path} (it leads outside the run folder)", file=sys.stderr)
                continue
            keep = path / "vis.ipynb"
            if keep.exists():
                for child in path.iterdir():
                    if child != keep:
                        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            else:
                shutil.rmtree(path)
        else:
            path.unlink()
        deleted.append(path)
    if cfg.state_dir.is_dir():
        for marker in cfg.state_dir.glob("*.done"):
            marker.unlink()
        _created_file(cfg).unlink(missing_ok=True)
    untouched = [p for p in cfg.clean_paths if p.exists()]
    print(f"--fresh: deleted {len(deleted)} path(s) the pipeline had created"
          + (f"; left what it did not create in {', '.join(map(str, untouched))}" if untouched else ""),
          file=sys.stderr)
    return deleted


class SideProcessError(UserError, RuntimeError):
    """The second process failed (or the first one vanished); the message names its log."""


#: the main process' pid, for the side process to tell that it was orphaned
PARENT_ENV = "OCEANE2E_PIPELINE_PARENT"


class _SideProcess:
    """The side lane's steps in a child ``oceane2e pipeline --lane side`` with one torch thread."""

    def __init__(self, config_path: Path, log: Path) -> None:
        import subprocess

        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **{PARENT_ENV: str(os.getpid())})
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 - closed in wait()/stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "oceane2e", "pipeline", "--config", str(config_path),
                                      "--lane", "side"], stdout=self._out, stderr=subprocess.STDOUT, env=env)

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self) -> None:
        rc = self.proc.wait()
        if not self._out.closed:
            self._out.close()
        if rc != 0:
            tail = "".join(self.log.read_text(errors="replace").splitlines(keepends=True)[-15:])
            raise SideProcessError(f"the second process of the pipeline (the steps run beside the hybrid's) failed "
                                   f"with exit code {rc}; its log {self.log} ends:\n{tail}\nfix the cause and re-run "
                                   "(finished steps are kept), or set side_process: false to run every step in "
                                   "one process")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        if not self._out.closed:
            self._out.close()


def _wait_for(cfg: PipelineConfig, step: Step, alive: Callable[[], None], poll_s: float = 1.0) -> None:
    """Block until the markers of ``step.needs`` exist; ``alive()`` raises when the other lane is gone."""
    missing = [n for n in step.needs if not (cfg.state_dir / f"{n}.done").exists()]
    if not missing:
        return
    print(f"[{step.name}] waiting for {', '.join(missing)} (the other process) ...", flush=True)
    t0 = time.perf_counter()
    while True:
        missing = [n for n in missing if not (cfg.state_dir / f"{n}.done").exists()]
        if not missing:
            break
        alive()
        time.sleep(poll_s)
    print(f"[{step.name}] waited {time.perf_counter() - t0:.1f} s", flush=True)


def run_pipeline(cfg: PipelineConfig, *, fresh: bool = False, only: list[str] | None = None,
                 config_path: Path | None = None, lane: str | None = None) -> dict[str, float]:
    """Run the steps in order, skipping finished ones; returns the seconds each step took.

    Everything is validated before ``fresh`` deletes anything. With ``config_path`` (the file ``cfg``
    was read from) and ``cfg.side_process``, the side steps run in a second process (see the module
    docstring), each lane waiting for the other's markers where a step ``needs`` them;
    ``lane="side"`` is that process: it runs only those steps.
    """
    source, source_path = cfg, config_path
    # with --fresh every step runs again, so the data block of the last run does not matter
    cfg, config_path = with_effective_configs(source, source_path, announce=lane is None,
                                              check=not fresh and lane is None)  # the side lane's has no block
    steps = validate_pipeline(cfg, only)
    if fresh:
        fresh_start(cfg)
        cfg, config_path = with_effective_configs(source, source_path, announce=False, check=False)  # --fresh may
        # have deleted them
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    if lane is None:  # what the steps about to run run with (checked at the next run)
        _record_data_block(source)
    if lane == "side":
        die_with_parent()
        parent = int(os.environ.get(PARENT_ENV, os.getppid()))

        def parent_alive() -> None:
            if os.getppid() != parent:
                raise SideProcessError("the main process of the pipeline is gone; this side process stops "
                                       "(re-run the pipeline: finished steps are kept)")

        return _run_steps(cfg, steps, [s for s in steps if s.side], None, wait=parent_alive, guard=parent_alive)
    use_side = (cfg.side_process and config_path is not None and not only
                and any(s.side and not (cfg.state_dir / f"{s.name}.done").exists() for s in steps))
    before = _snapshot(cfg)
    with sigterm_raises_exit():
        return _run_lanes(cfg, steps, only, config_path, use_side, before)


def _run_lanes(cfg: PipelineConfig, steps: list[Step], only: list[str] | None, config_path: Path | None,
               use_side: bool, before: dict[str, set[str] | None]) -> dict[str, float]:
    """The main lane's steps, the side lane's in a second process when ``use_side``; stops it on the way out."""
    side: _SideProcess | None = None
    timings: dict[str, float] = {}

    def side_alive() -> None:
        if side is not None and not side.running():
            side.wait()  # raises with the log's tail when it failed
            raise SideProcessError(f"the second process of the pipeline ended without the steps this one waits "
                                   f"for; see {side.log}")

    threads = None
    try:
        if use_side:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # one core each (see the module docstring)
            side = _SideProcess(config_path, cfg.state_dir / "side.log")  # type: ignore[arg-type]
            names = ", ".join(s.name for s in steps if s.side)
            print(f"[side] {names}: in a second process beside the main one (log {side.log})", flush=True)
        for step in steps:
            if step.side and use_side:
                continue
            if step.name == "evaluate" and side is not None:
                print("[side] waiting for the second process ...", flush=True)
                side.wait()
                for s in steps:
                    marker = cfg.state_dir / f"{s.name}.done"
                    if s.side and marker.exists():
                        timings[s.name] = float(marker.read_text().split()[0])
                        print(f"[side] {s.name}: {timings[s.name]:.1f} s", flush=True)
                side = None
            timings.update(_run_steps(cfg, steps, [step], before, only, wait=side_alive if use_side else None))
    finally:
        if side is not None:
            side.stop()
        if threads is not None:
            torch.set_num_threads(threads)
        _record_created(cfg, before)
    return timings


def _run_steps(cfg: PipelineConfig, steps: list[Step], todo: list[Step], before: dict[str, set[str] | None] | None,
               only: list[str] | None = None, wait: Callable[[], None] | None = None,
               guard: Callable[[], None] | None = None) -> dict[str, float]:
    """Run ``todo`` (a part of ``steps``), skipping finished ones; ``before``: record what they create.

    ``wait``: with two lanes, first wait for each step's ``needs`` (``wait()`` raises when the other
    lane is gone). ``guard()``: called before each step (the side lane: raises when the main one is gone).
    """
    timings: dict[str, float] = {}
    for step in todo:
        i = steps.index(step) + 1
        marker = cfg.state_dir / f"{step.name}.done"
        if only and step.name not in only:
            continue
        if marker.exists() and not only:
            print(f"[{i}/{len(steps)}] {step.name}: done earlier, skipped (use --fresh to redo)")
            continue
        if guard is not None:
            guard()
        if wait is not None:
            _wait_for(cfg, step, wait)
        print(f"[{i}/{len(steps)}] {step.name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            step.run()
        finally:
            if before is not None:
                _record_created(cfg, before)
        timings[step.name] = time.perf_counter() - t0
        marker.write_text(f"{timings[step.name]:.1f}\n")
        print(f"[{i}/{len(steps)}] {step.name}: {timings[step.name]:.1f} s", flush=True)
    return timings


def one_thread_per_process() -> None:
    """One BLAS/OpenMP thread in this process, as in the side one (whose environment says so too).

    numpy's BLAS (OI's batched solves) reads the variables when it loads, i.e. before any step runs: with
    its default two threads beside the side process, OI took 144 s instead of 51 s. A value the user
    set wins; torch's threads are set by ``torch.set_num_threads`` in :func:`run_pipeline`. :func:`main`
    calls it only while numpy is not loaded yet (the command line), not in a process that imported it.
    """
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oceane2e pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/pipeline.yaml"))
    parser.add_argument("--fresh", action="store_true",
                        help="delete what the pipeline created (after validating everything) and start over")
    parser.add_argument("--only", nargs="+", default=None, help="run only these steps (even if done)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the pipeline config, e.g. -o data.test_years=[2015,2016]")
    parser.add_argument("--lane", choices=["side"], default=None, help=argparse.SUPPRESS)  # the second process
    args = parser.parse_args(argv)
    try:
        cfg = load_config(PipelineConfig, args.config, dict(parse_override(o) for o in args.override))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    config_path = args.config
    if args.override and cfg.data is None:  # the second process reads the config with the overrides in it
        cfg, config_path = with_effective_configs(cfg, config_path, force=True, check=not args.fresh)
    if cfg.side_process and not args.only and args.lane is None and "numpy" not in sys.modules:
        one_thread_per_process()
    t0 = time.perf_counter()
    timings = run_pipeline(cfg, fresh=args.fresh and args.lane is None, only=args.only, config_path=config_path,
                           lane=args.lane)
    if args.lane == "side":
        return 0
    total = time.perf_counter() - t0
    print(f"\npipeline finished in {total / 60:.1f} min; steps run: "
          + (", ".join(f"{k} {v:.0f}s" for k, v in timings.items()) or "none (all done earlier)"))
    skill = cfg.results_dir / "skill.csv"
    if skill.exists():
        import pandas as pd

        from oceane2e.evaluation.evaluate import rmse_table

        print("\nSSTA RMSE (K) by lead day, test years, ocean, cos-latitude weighted:\n")
        print(rmse_table(pd.read_csv(skill)))
        print(f"\nreport: {cfg.results_dir / 'report.md'} (figures in {cfg.results_dir / 'figures'})")
    analysis = cfg.results_dir / "analysis_skill.csv"
    if analysis.exists():
        from oceane2e.assim.scores import print_scores, read_skill

        print_scores(read_skill(analysis))
    return 0


if __name__ == "__main__":
    sys.exit(main())
