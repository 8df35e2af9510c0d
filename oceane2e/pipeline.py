"""The main job: the whole Ocean-E2E pipeline on one config, step by step, resumable.

    synth -> check -> observe -> oi -> train_vel -> inference_vel -> train_online -> inference
          -> train_assim -> assimilate -> forecast_from_obs
          -> train_baseline (each baseline) -> inference_baseline -> evaluate

Each step records a marker in ``<state_dir>/<step>.done`` when it finishes, so a re-run skips the
finished steps (a killed run resumes where it stopped; the training steps themselves resume from
their last checkpoint). ``--fresh`` deletes the markers and the outputs of the steps and starts over.
Steps run in this process, one after another, through the same library functions the
``train_*.py`` / ``inference*.py`` entry points call.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from oceane2e.config import ConfigError, StrictModel, load_config


class PipelineConfig(StrictModel):
    """``configs/pipeline.yaml``: which config each step uses and where outputs go."""

    synthetic_config: Path = Field(Path("configs/synthetic.yaml"), description="synthetic ocean config")
    vel_config: Path = Field(Path("configs/config_vel.yaml"), description="stage-1 config")
    online_config: Path = Field(Path("configs/config.yaml"), description="stage-2 (hybrid) config")
    baseline_configs: list[Path] = Field(
        default_factory=lambda: [Path("configs/config_baseline.yaml")],
        description="one config per baseline network",
    )
    observe_config: Path | None = Field(None, description="simulated observing system config; null: no observe step")
    oi_config: Path | None = Field(None, description="OI analysis config; null: no oi step")
    assim_config: Path | None = Field(
        None, description="learned assimilation config (train_assim, assimilate, forecast_from_obs); null: none")
    results_dir: Path = Field(Path("results"), description="where forecasts, skill.csv and report.md go")
    state_dir: Path = Field(Path("logs/pipeline"), description="step markers for resuming")
    clean_paths: list[Path] = Field(
        default_factory=lambda: [Path("data/GS"), Path("checkpoints"), Path("logs"), Path("results")],
        description="removed by --fresh (results/vis.ipynb is kept)",
    )


@dataclass
class Step:
    name: str
    run: Callable[[], None]


def _data_root(cfg: PipelineConfig) -> Path:
    from oceane2e.stage1 import load_stage1_config

    return load_stage1_config(cfg.vel_config).data.root


def build_steps(cfg: PipelineConfig) -> list[Step]:
    """The ordered steps of the pipeline; heavy modules are imported only when a step runs."""

    def synth() -> None:
        from oceane2e.data.synthetic.ocean import SyntheticConfig, generate

        generate(load_config(SyntheticConfig, cfg.synthetic_config), _data_root(cfg), progress=True)

    def check() -> None:
        from oceane2e.data.check import check_folder

        problems = check_folder(_data_root(cfg))
        if problems:
            raise RuntimeError("data check failed:\n" + "\n".join(str(p) for p in problems))
        print(f"data check: {_data_root(cfg)} is valid")

    def observe() -> None:
        from oceane2e.assim.observe import load_observe_config
        from oceane2e.assim.observe import observe as run_observe

        summary = run_observe(load_observe_config(cfg.observe_config), progress=True)
        print(f"observations: {', '.join(str(p) for p in summary.paths)} ({summary.seconds:.0f} s)")

    def oi() -> None:
        from oceane2e.assim.oi import analyse_and_score, load_oi_config

        analyse_and_score(load_oi_config(cfg.oi_config), progress=True)

    def train_vel() -> None:
        from oceane2e.stage1 import load_stage1_config, train

        train(load_stage1_config(cfg.vel_config), resume=True)

    def inference_vel() -> None:
        from oceane2e.stage1 import infer, load_stage1_config

        infer(load_stage1_config(cfg.vel_config))

    def train_online() -> None:
        from oceane2e.stage2 import load_stage2_config, train

        train(load_stage2_config(cfg.online_config), resume=True)

    def inference() -> None:
        from oceane2e.stage2 import infer, load_stage2_config

        infer(load_stage2_config(cfg.online_config))

    def train_assim() -> None:
        from oceane2e.stage_da import load_assim_config, train

        train(load_assim_config(cfg.assim_config), resume=True)

    def assimilate() -> None:
        from oceane2e.stage_da import cycle, load_assim_config

        cycle(load_assim_config(cfg.assim_config))

    def forecast_from_obs() -> None:
        from oceane2e.stage_da import forecast_from_analyses, load_assim_config

        forecast_from_analyses(load_assim_config(cfg.assim_config))

    def evaluate() -> None:
        from oceane2e.evaluation.evaluate import run_evaluation

        run_evaluation(results_dir=cfg.results_dir, data_root=_data_root(cfg), config_path=cfg.online_config)

    steps = [
        Step("synth", synth),
        Step("check", check),
        *([Step("observe", observe)] if cfg.observe_config is not None else []),
        *([Step("oi", oi)] if cfg.oi_config is not None else []),
        Step("train_vel", train_vel),
        Step("inference_vel", inference_vel),
        Step("train_online", train_online),
        Step("inference", inference),
    ]
    if cfg.assim_config is not None:
        steps += [Step("train_assim", train_assim), Step("assimilate", assimilate),
                  Step("forecast_from_obs", forecast_from_obs)]
    for path in cfg.baseline_configs:

        def train_b(path: Path = path) -> None:
            from oceane2e.stage2 import load_stage2_config, train

            train(load_stage2_config(path), resume=True)

        def infer_b(path: Path = path) -> None:
            from oceane2e.stage2 import infer, load_stage2_config

            infer(load_stage2_config(path))

        tag = path.stem
        steps += [Step(f"train_{tag}", train_b), Step(f"inference_{tag}", infer_b)]
    steps.append(Step("evaluate", evaluate))
    return steps


def fresh_start(cfg: PipelineConfig) -> None:
    """Remove every output of the pipeline (keeps the tracked results/vis.ipynb)."""
    for path in cfg.clean_paths:
        if path == cfg.results_dir and path.is_dir():
            for child in path.iterdir():
                if child.name != "vis.ipynb":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    if cfg.state_dir.exists():
        shutil.rmtree(cfg.state_dir)


def run_pipeline(cfg: PipelineConfig, *, fresh: bool = False, only: list[str] | None = None) -> dict[str, float]:
    """Run the steps in order, skipping finished ones; returns the seconds each step took."""
    if fresh:
        fresh_start(cfg)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    steps = build_steps(cfg)
    names = [s.name for s in steps]
    for name in only or []:
        if name not in names:
            raise ConfigError(f"--only {name}: unknown step; steps are {names}")
    timings: dict[str, float] = {}
    for i, step in enumerate(steps, 1):
        marker = cfg.state_dir / f"{step.name}.done"
        if only and step.name not in only:
            continue
        if marker.exists() and not only:
            print(f"[{i}/{len(steps)}] {step.name}: done earlier, skipped (use --fresh to redo)")
            continue
        print(f"[{i}/{len(steps)}] {step.name} ...", flush=True)
        t0 = time.perf_counter()
        step.run()
        timings[step.name] = time.perf_counter() - t0
        marker.write_text(f"{timings[step.name]:.1f}\n")
        print(f"[{i}/{len(steps)}] {step.name}: {timings[step.name]:.1f} s", flush=True)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oceane2e pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/pipeline.yaml"))
    parser.add_argument("--fresh", action="store_true", help="delete all outputs and start over")
    parser.add_argument("--only", nargs="+", default=None, help="run only these steps (even if done)")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(PipelineConfig, args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    timings = run_pipeline(cfg, fresh=args.fresh, only=args.only)
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
        import pandas as pd

        from oceane2e.assim.scores import print_scores

        print_scores(pd.read_csv(analysis))
    return 0


if __name__ == "__main__":
    sys.exit(main())
