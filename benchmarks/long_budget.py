"""A fair longer budget: every stage-2 network retrained with the same, longer budget, then scored together.

    python benchmarks/long_budget.py --budget configs/benchmarks/long_budget.yaml --out results/long_budget

run in a folder where the demo pipeline has run (its data, M_θ checkpoint and stage-1 currents are used as
they are). The budget file holds ``train.*`` overrides applied to EVERY network's own config (the hybrid's
``configs/config.yaml`` and the baselines' ``configs/config_baseline*.yaml``), so the networks differ from the
demo in their number of optimiser steps only. Two lanes run side by side with one torch thread each (as in
the pipeline): the hybrid, and the baselines one after the other. Every step is skipped when it finished
before (re-running continues; an interrupted training resumes from its last checkpoint). Then
``evaluate.py`` scores the forecasts beside persistence, damped persistence and climatology and the script
writes ``<out>/long_budget.md`` (RMSE, bias, CSI, SEDI, category >= Strong CSI at leads 5/10/20/30/40) and
``<out>/long_budget.png`` (RMSE and CSI against lead; ``--overlay`` adds other runs, e.g. other seeds).
Logs: ``<out>/logs/<lane>.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's packages, not an installed copy

LEADS: tuple[int, ...] = (5, 10, 20, 30, 40)
METRICS: tuple[tuple[str, str, str], ...] = (
    ("rmse", "SSTA RMSE (K)", "{:.3f}"),
    ("bias", "SSTA bias (K)", "{:+.3f}"),
    ("csi", "MHW CSI", "{:.3f}"),
    ("sedi", "MHW SEDI", "{:.3f}"),
    ("csi_strong", "MHW category >= Strong CSI", "{:.3f}"),
)
# (lane, model name, config, train script, inference script)
NETWORKS: tuple[tuple[str, str, str, str, str], ...] = (
    ("hybrid", "Oceane2e", "configs/config.yaml", "train_online.py", "inference.py"),
    ("baselines", "ConvLSTM", "configs/config_baseline.yaml", "train_baseline.py", "inference_baseline.py"),
    ("baselines", "SimVP", "configs/config_baseline_simvp.yaml", "train_baseline.py", "inference_baseline.py"),
)


def read_budget(path: Path) -> dict[str, Any]:
    """The budget file: a flat mapping of ``train.*`` overrides (anything else would change more than the budget)."""
    if not path.is_file():
        raise SystemExit(f"budget file {path} not found; see configs/benchmarks/long_budget.yaml for the format")
    budget = yaml.safe_load(path.read_text()) or {}
    if not isinstance(budget, dict) or not budget:
        raise SystemExit(f"{path}: expected a mapping of train.* overrides, e.g. 'train.epochs: 8'")
    other = [k for k in budget if not str(k).startswith("train.")]
    if other:
        raise SystemExit(f"{path}: {other} are not train.* keys; a budget may change the training budget only "
                         "(every network gets the same), not the models or data")
    for key in ("train.checkpoint_dir", "train.log_dir", "train.seed"):
        if key in budget:
            raise SystemExit(f"{path}: {key} is set by the benchmark (--out, --seed), remove it from the budget")
    return budget


def overrides(budget: dict[str, Any], out: Path, threads: int, seed: int = 0) -> list[str]:
    """Command-line overrides: the budget, the seed, one thread, this benchmark's checkpoint/log/results folders."""
    flat = {**budget, "train.seed": seed, "train.num_threads": threads, "train.checkpoint_dir": str(out / "checkpoints"),
            "train.log_dir": str(out / "train_logs"), "inference.results_dir": str(out / "results")}
    args: list[str] = []
    for key, value in flat.items():
        args += ["-o", f"{key}={json.dumps(value)}"]  # JSON is YAML, on one line
    return args


def lane_commands(lane: str, budget: dict[str, Any], out: Path, seed: int = 0) -> list[tuple[str, list[str]]]:
    """The (step name, command) list of one lane, training then inference per network."""
    common = overrides(budget, out, threads=1, seed=seed)
    steps: list[tuple[str, list[str]]] = []
    for lane_of, name, config, train_script, infer_script in NETWORKS:
        if lane_of != lane:
            continue
        steps.append((f"train_{name}", [sys.executable, train_script, "--config", config, "--resume", *common]))
        steps.append((f"infer_{name}", [sys.executable, infer_script, "--config", config, *common,
                                        "-o", f"inference.checkpoint={out / 'checkpoints' / f'{name}_best_model.pth'}",
                                        "-o", "inference.overwrite=true"]))
    return steps


def lane_script(lane: str, budget: dict[str, Any], out: Path, seed: int = 0) -> str:
    """A shell script running the lane's steps in order, each skipped when its marker exists."""
    lines = ["set -e"]
    for step, cmd in lane_commands(lane, budget, out, seed):
        marker = out / "done" / step
        quoted = " ".join(_quote(c) for c in cmd)
        lines.append(f"if [ ! -e {_quote(str(marker))} ]; then echo '[long_budget] {step}' \"$(date)\"; "
                     f"{quoted}; touch {_quote(str(marker))}; fi")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def run_lanes(budget: dict[str, Any], out: Path, seed: int = 0) -> None:
    """Run both lanes side by side (one thread each); raise with the log's name when one fails."""
    (out / "done").mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = {}
    for lane in ("hybrid", "baselines"):
        log = (out / "logs" / f"{lane}.log").open("a")
        procs[lane] = (subprocess.Popen(["bash", "-c", lane_script(lane, budget, out, seed)], cwd=Path.cwd(), env=env,
                                        stdout=log, stderr=subprocess.STDOUT), log)
        print(f"[long_budget] lane {lane} started, log {out / 'logs' / f'{lane}.log'}", flush=True)
    start = time.monotonic()
    failed = []
    for lane, (proc, log) in procs.items():
        if proc.wait() != 0:
            failed.append(lane)
        log.close()
        print(f"[long_budget] lane {lane} {'FAILED' if lane in failed else 'done'} after "
              f"{(time.monotonic() - start) / 60:.1f} min", flush=True)
    if failed:
        raise SystemExit(f"lane(s) {failed} failed; see {', '.join(str(out / 'logs' / f'{f}.log') for f in failed)} "
                         "(re-running the command continues where it stopped)")


def evaluate(out: Path, config: str) -> Path:
    """Score the results folder (evaluate.py, no figures); returns its skill.csv."""
    skill = out / "results" / "skill.csv"
    if not (out / "done" / "evaluate").exists():
        subprocess.run([sys.executable, "evaluate.py", "--results", str(out / "results"), "--config", config,
                        "--no-figures", "--no-progress"], check=True)
        (out / "done" / "evaluate").touch()
    return skill


def markdown(skill_csv: Path, budget: dict[str, Any]) -> str:
    """One table per metric: rows the networks then the references, columns LEADS."""
    import pandas as pd

    skill = pd.read_csv(skill_csv)
    steps = budget.get("train.epochs", "?"), budget.get("train.max_steps_per_epoch", "?")
    lines = [f"Longer budget: {steps[0]} epochs x {steps[1]} steps for every network (leads in days)", ""]
    order = [name for _, name, *_ in NETWORKS] + [m for m in dict.fromkeys(skill.model)
                                                   if m not in {n for _, n, *_ in NETWORKS}]
    for metric, title, fmt in METRICS:
        sub = skill[(skill.metric == metric) & skill.lead.isin(LEADS)]
        if sub.empty:
            continue
        sub = sub.pivot_table(index="model", columns="lead", values="value")
        lines += [f"#### {title}", "", "| forecast | " + " | ".join(f"lead {k}" for k in LEADS) + " |",
                  "|---|" + "---:|" * len(LEADS)]
        for model in order:
            if model in sub.index:
                lines.append(f"| {model} | " + " | ".join(fmt.format(sub.loc[model, k]) for k in LEADS) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(runs: dict[str, Path], png: Path) -> Path:
    """RMSE and MHW CSI against lead for every run (label -> skill.csv): networks solid/dashed per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    colours = {"Oceane2e": "tab:red", "ConvLSTM": "tab:blue", "SimVP": "tab:green", "Persistence": "0.5",
               "DampedPersistence": "0.2"}
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for k, (label, path) in enumerate(runs.items()):
        skill = pd.read_csv(path)
        for ax, metric in zip(axes, ("rmse", "csi"), strict=True):
            for model, colour in colours.items():
                if model in ("Persistence", "DampedPersistence") and k > 0:
                    continue  # the references do not depend on the training seed
                sub = skill[(skill.model == model) & (skill.metric == metric)].sort_values("lead")
                if len(sub):
                    name = model if model in ("Persistence", "DampedPersistence") else f"{model} ({label})"
                    ax.plot(sub.lead, sub.value, styles[k % len(styles)], color=colour, lw=1.6, label=name)
    axes[0].set(xlabel="lead (days)", ylabel="SSTA RMSE (K)", title="SSTA RMSE (lower is better)")
    axes[1].set(xlabel="lead (days)", ylabel="MHW CSI", title="Marine-heatwave CSI (higher is better)")
    axes[0].legend(fontsize=7, ncol=2)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Every network with the same longer budget (benchmarks/long_budget.py)")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=Path, default=Path("configs/benchmarks/long_budget.yaml"),
                   help="train.* overrides given to every network")
    p.add_argument("--out", type=Path, default=Path("results/long_budget"), help="output folder")
    p.add_argument("--seed", type=int, default=0, help="train.seed of every network (seed noise: run several)")
    p.add_argument("--overlay", action="append", type=Path, default=[], metavar="OUT",
                   help="another run's --out folder (e.g. another seed): drawn dashed in the figure")
    p.add_argument("--print-commands", action="store_true", help="print the lanes' commands and stop")
    args = p.parse_args(argv)

    budget = read_budget(args.budget)
    out = args.out.resolve()
    if args.print_commands:
        for lane in ("hybrid", "baselines"):
            print(f"# lane {lane}\n{lane_script(lane, budget, out, args.seed)}")
        return 0
    for _, _, config, *_ in NETWORKS:
        if not Path(config).is_file():
            raise SystemExit(f"{config} not found: run this from the project folder where the demo pipeline ran")
    run_lanes(budget, out, args.seed)
    table = out / "long_budget.md"
    skill = evaluate(out, NETWORKS[0][2])
    table.write_text(markdown(skill, budget))
    print(table.read_text())
    runs = {f"seed {args.seed}": skill}
    for other in args.overlay:
        if not (other / "results" / "skill.csv").is_file():
            raise SystemExit(f"--overlay {other}: no results/skill.csv there; run this command with --out {other} first")
        runs[other.name] = other / "results" / "skill.csv"
    print(f"figure: {plot(runs, out / 'long_budget.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
