"""Ablations of the Ocean-E2E hybrid, same data and budget, by one command (docs/benchmarks.md, "Ablations").

    python benchmarks/ablations.py --config configs/config.yaml --out results/ablations

trains every variant that needs its own training with the config's budget (only the named change),
forecasts the test years with each, scores them all together beside the references (and beside the
baselines' results with ``--with-results``), and writes ``<out>/ablations.md`` (RMSE, bias, CSI, SEDI
and category >= Strong CSI at leads 5/10/20/40) and ``<out>/compare/skill.csv``.

Variants (names as in the table):

| name | what changes | trains? |
|---|---|---|
| full | nothing: the config's hybrid | yes |
| no_kernel | no advection (``model.advection=false``): the source (and damping) alone | yes |
| no_correction | no correction velocity (``model.correction_scale=0``) | yes |
| no_source | no source (``model.source_scale=0``; a ``network`` damping rate still uses model_S) | yes |
| reference_scheme | the reference release's kernel (Euler + centred + 1-2-1 filter) | yes |
| flux_form / advective_form | the other form of the kernel than the config's | yes |
| oracle_currents | full's weights, OBSERVED currents at inference (the oracle) | no |
| atmos_climatology | full's weights, day-of-year climatology of the atmosphere after the start date | no |
| atmos_damped_persistence | full's weights, the start date's atmospheric anomaly decaying (τ 5 d) | no |

Every step is skipped when its output exists (re-running the command continues); ``--only`` picks
variants, ``--reuse full=PATH`` takes a trained checkpoint instead of training that variant, ``-o``
overrides the config for every variant (e.g. ``data.root=...``). The start dates are those of the
config's inference (with M_θ's currents: the stage-1 file's), the same for every variant.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages, not an installed copy

LEADS: tuple[int, ...] = (5, 10, 20, 40)
METRICS: tuple[tuple[str, str], ...] = (
    ("rmse", "SSTA RMSE (K)"),
    ("bias", "SSTA bias (K)"),
    ("csi", "MHW CSI"),
    ("sedi", "MHW SEDI"),
    ("csi_strong", "MHW category >= Strong CSI"),
)


@dataclass(frozen=True)
class Variant:
    """One ablation: config overrides for training (None: reuse ``base``'s weights) and for inference."""

    name: str
    what: str
    train: dict[str, Any] | None = field(default_factory=dict)
    infer: dict[str, Any] = field(default_factory=dict)
    base: str = "full"


def variants(form: str, history_days: int) -> list[Variant]:
    """The ablations; ``form`` is the config's kernel form, ``history_days`` M_θ's n_in − 1 (start dates)."""
    other = "flux" if form == "advective" else "advective"
    oracle = {"inference.velocity": "observed", "inference.min_history_days": history_days, "inference.stride": 3}
    return [
        Variant("full", "the config's hybrid"),
        Variant("no_kernel", "no advection: source (and damping) only", {"model.advection": False}),
        Variant("no_correction", "no correction velocity (model_gm off)", {"model.correction_scale": 0.0}),
        Variant("no_source", "no source (model_S's heat source off)", {"model.source_scale": 0.0}),
        Variant("reference_scheme", "the reference release's kernel scheme", {"model.kernel.scheme": "reference"}),
        Variant(f"{other}_form", f"the kernel in {other} form", {"model.kernel.form": other}),
        Variant("oracle_currents", "full's weights, observed currents at inference (oracle)", None, oracle),
        Variant("atmos_climatology", "full's weights, atmosphere climatology after the start date", None,
                {"inference.atmosphere": "climatology"}),
        Variant("atmos_damped_persistence", "full's weights, atmosphere anomaly damped (τ 5 d) after the start date",
                None, {"inference.atmosphere": "damped_persistence"}),
    ]


def _load(config: Path, overrides: dict[str, Any]):
    from oceane2e.stage2 import load_stage2_config

    return load_stage2_config(config, overrides)


def run_variant(v: Variant, config: Path, out: Path, common: dict[str, Any], reuse: dict[str, Path],
                progress: bool) -> Path:
    """Train (unless reused or done) and forecast (unless done) one variant; returns its forecast folder."""
    from oceane2e.stage2 import infer, train

    run = out / v.name
    weights_of = v.name if v.train is not None else v.base
    ckpt = reuse.get(weights_of, out / weights_of / "checkpoints" / "Oceane2e_best_model.pth")
    overrides = {**common, **(v.train or {}), "train.checkpoint_dir": str(out / weights_of / "checkpoints"),
                 "train.log_dir": str(out / weights_of / "logs")}
    if v.train is not None and not ckpt.exists():
        print(f"[ablations] training {v.name}: {v.what}", flush=True)
        train(_load(config, overrides), show_progress=progress)
    results = run / "results"
    if not (results / "Oceane2e_forecast.nc").exists():
        print(f"[ablations] forecasting {v.name}", flush=True)
        cfg = _load(config, {**overrides, **v.infer, "inference.results_dir": str(results),
                             "inference.checkpoint": str(ckpt), "inference.overwrite": True})
        infer(cfg, show_progress=progress)
    return results


def compare(out: Path, config: Path, runs: dict[str, Path], with_results: list[Path], data_root: str | None) -> Path:
    """Score every variant (as ``Hybrid-<name>``) beside the references and the given results; write the table."""
    from oceane2e.evaluation.evaluate import run_evaluation

    folder = out / "compare"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        if old.is_symlink():
            old.unlink()
    for name, results in runs.items():
        for suffix in ("_outputs.npy", "_inputs.npy", "_forecast.nc"):
            (folder / f"Hybrid-{name}{suffix}").symlink_to((results / f"Oceane2e{suffix}").resolve())
    for extra in with_results:
        for path in extra.parent.glob(f"{extra.name}_*"):
            if path.name.endswith(("_outputs.npy", "_inputs.npy", "_forecast.nc")):
                (folder / path.name).symlink_to(path.resolve())
    result = run_evaluation(folder, data_root, config, figures=False, progress=False, product="Hybrid-full")
    table = out / "ablations.md"
    table.write_text(markdown(result.skill, list(runs), result.tau_days))
    return table


def markdown(skill, variant_names: list[str], tau_days: float) -> str:
    """One table per metric: rows the variants, then the other models and references; columns LEADS."""
    lines = [f"Ablations (leads {', '.join(map(str, LEADS))} days; damped persistence τ = {tau_days:.1f} d)", ""]
    order = [f"Hybrid-{n}" for n in variant_names] + [m for m in dict.fromkeys(skill.model) if not m.startswith("Hybrid-")]
    for metric, title in METRICS:
        sub = skill[(skill.metric == metric) & skill.lead.isin(LEADS)].pivot(index="model", columns="lead", values="value")
        lines += [f"#### {title}", "", "| forecast | " + " | ".join(f"lead {k}" for k in LEADS) + " |",
                  "|---|" + "---:|" * len(LEADS)]
        for model in order:
            if model in sub.index:
                lines.append(f"| {model} | " + " | ".join(f"{sub.loc[model, k]:.3f}" for k in LEADS) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=Path("configs/config.yaml"), help="the hybrid's stage-2 config")
    p.add_argument("--out", type=Path, default=Path("results/ablations"), help="output folder")
    p.add_argument("--only", nargs="*", default=None, help="variants to run (default: all)")
    p.add_argument("--reuse", action="append", default=[], metavar="NAME=CKPT",
                   help="use this checkpoint for variant NAME instead of training it")
    p.add_argument("--with-results", action="append", type=Path, default=[], metavar="DIR/MODEL",
                   help="also score these results (e.g. results/ConvLSTM: results/ConvLSTM_outputs.npy ...)")
    p.add_argument("--no-compare", action="store_true", help="only train and forecast")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-o", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every variant")
    args = p.parse_args(argv)

    from oceane2e.config import parse_override
    from oceane2e.stage1 import load_forecaster

    common = dict(parse_override(o) for o in args.overrides)
    reuse = {k: Path(v) for k, v in (r.split("=", 1) for r in args.reuse)}
    cfg = _load(args.config, common)
    velocity_model, _ = load_forecaster(cfg.inference.velocity_model) if cfg.inference.velocity_model.exists() \
        else (None, None)
    history = int(velocity_model.n_in) - 1 if velocity_model is not None else 3
    chosen = variants(cfg.model.kernel.form, history)
    if args.only:
        unknown = set(args.only) - {v.name for v in chosen}
        if unknown:
            p.error(f"unknown variants {sorted(unknown)}; choose from {[v.name for v in chosen]}")
        chosen = [v for v in chosen if v.name in args.only]
    for v in chosen:
        run_variant(v, args.config, args.out, common, reuse, not args.no_progress)
    if not args.no_compare:
        done = {v.name: args.out / v.name / "results" for v in variants(cfg.model.kernel.form, history)
                if (args.out / v.name / "results" / "Oceane2e_forecast.nc").exists()}
        table = compare(args.out, args.config, done, args.with_results, common.get("data.root"))
        print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
