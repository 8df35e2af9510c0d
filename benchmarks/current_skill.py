"""How SSTA skill depends on the skill of the currents (issue 14, item 3), on the validation year.

    python benchmarks/current_skill.py --stage1 data/GS/MultiConv_val.nc --out results/current_skill \
        --model configs/config.yaml=checkpoints/Oceane2e_best_model.pth \
        --model configs/config_baseline.yaml=checkpoints/ConvLSTM_best_model.pth

From a stage-1 file that holds M_θ's forecasts (``outputs``) and the observed currents (``targets``) of the
same days (``inference_vel.py -o inference.splits=[val]`` writes one for the validation year), it writes

- blends ``w * observed + (1 - w) * M_θ`` for ``--weights`` (velocity error exactly ``(1 - w)`` times M_θ's;
  ``w = 1`` is the oracle), and
- ``climatology``: M_θ's anomaly from the time-mean current of the training years, shrunk per lead by the
  least-squares factor fitted on the file itself (a regression to the mean; lower velocity RMSE from ~2 weeks),

runs every ``--model`` (stage-2 config = checkpoint, weights unchanged) on each, scores them with
``evaluate.py`` (the data section's years with the file's split as the test years) and writes
``<out>/current_skill.md``: velocity RMSE and SSTA RMSE per lead and currents. Every step is skipped when
its output exists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages, not an installed copy

LEADS: tuple[int, ...] = (5, 10, 20, 40)


def velocity_rmse(outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """RMSE (m s⁻¹) per lead over both components and ocean cells, cos-latitude weighted: (lead,)."""
    err2 = np.nan_to_num((outputs - targets) ** 2)  # (S, L, C, H, W)
    w = (mask * weights)[None, None, None]
    return np.sqrt((err2 * w).sum(axis=(0, 2, 3, 4)) / (w.sum() * err2.shape[0] * err2.shape[2]))


def shrink_factors(anomaly: np.ndarray, observed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least-squares factor per lead b_L minimising |b_L * anomaly - observed|² over ocean: (lead,)."""
    a, o = np.nan_to_num(anomaly) * mask, np.nan_to_num(observed) * mask
    return (a * o).sum(axis=(0, 2, 3, 4)) / np.maximum((a * a).sum(axis=(0, 2, 3, 4)), 1e-12)


def write_variants(stage1: Path, out: Path, weights: list[float], data_root: Path, train_years: list[int]) -> dict:
    """The blended and climatology-shrunk stage-1 files; returns name -> (path, velocity RMSE per lead)."""
    import xarray as xr

    from oceane2e.data.datasets import DataFolder

    ds = xr.open_dataset(stage1).load()
    if "targets" not in ds:
        raise SystemExit(f"{stage1} has no 'targets' (the observed currents); write it with inference_vel.py")
    mask = ds["mask"].values.astype(bool)
    cos = np.cos(np.deg2rad(ds["lat"].values))[:, None] * np.ones(ds.sizes["lon"])[None]
    out_m, obs = ds["outputs"].values, ds["targets"].values
    variants: dict[str, tuple[Path, np.ndarray]] = {}
    for w in weights:
        path = out / f"currents_w{w:.2f}.nc"
        blend = (w * obs + (1.0 - w) * out_m).astype(np.float32)
        if not path.exists():
            ds.assign(outputs=(ds["outputs"].dims, blend)).to_netcdf(path)
        variants[f"w={w:.2f}"] = (path, velocity_rmse(blend, obs, mask, cos))
    folder = DataFolder(data_root, train_years, kinds=("geo",))
    channels = [str(c) for c in ds["channel"].values]
    total, days = 0.0, 0
    for year in train_years:  # the time-mean current of the training years, a year at a time
        n = int((np.datetime64(f"{year + 1}-01-01") - np.datetime64(f"{year}-01-01")).astype(int))
        total = total + folder.read("geo", np.datetime64(f"{year}-01-01"), n, channels).sum(axis=0, dtype=np.float64)
        days += n
    mean = np.where(mask, total / days, 0.0).astype(np.float32)  # (C, H, W), land 0 as in the files
    b = shrink_factors(out_m - mean, obs - mean, mask)
    shrunk = (mean[None, None] + b[None, :, None, None, None] * (out_m - mean)).astype(np.float32)
    path = out / "currents_climatology.nc"
    if not path.exists():
        ds.assign(outputs=(ds["outputs"].dims, shrunk)).to_netcdf(path)
    variants["climatology"] = (path, velocity_rmse(shrunk, obs, mask, cos))
    print("[current_skill] shrink factors at leads 1/5/10/20/40:", np.round(b[[0, 4, 9, 19, 39]], 3), flush=True)
    return variants


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stage1", type=Path, required=True, help="stage-1 file with outputs and targets")
    p.add_argument("--out", type=Path, default=Path("results/current_skill"))
    p.add_argument("--model", action="append", required=True, metavar="CONFIG=CHECKPOINT",
                   help="a stage-2 model to run on every set of currents (repeatable)")
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("-o", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override of every model's config (e.g. data.root=...)")
    args = p.parse_args(argv)

    import pandas as pd
    import xarray as xr

    from oceane2e.config import parse_override
    from oceane2e.evaluation.evaluate import run_evaluation
    from oceane2e.stage2 import infer, load_stage2_config

    if not args.stage1.is_file():
        raise SystemExit(f"{args.stage1} not found; write one with inference_vel.py -o 'inference.splits=[val]'")
    common: dict[str, Any] = dict(parse_override(o) for o in args.overrides)
    models = [(Path(c), Path(k)) for c, k in (m.split("=", 1) for m in args.model)]
    for config, ckpt in models:
        if not config.is_file() or not ckpt.is_file():
            raise SystemExit(f"--model {config}={ckpt}: {'config' if not config.is_file() else 'checkpoint'} not found")
    split = xr.open_dataset(args.stage1).attrs.get("splits", "val")
    first = load_stage2_config(models[0][0], common)
    years = {"val": first.data.val_years, "test": first.data.test_years, "train": first.data.train_years}[split]
    # score the file's split as the test years; the climatology and damped persistence from the training years
    data = {"data.test_years": list(years), "data.val_years": [first.data.train_years[-1]],
            "data.train_years": list(first.data.train_years[:-1])} if split == "val" else {}
    args.out.mkdir(parents=True, exist_ok=True)
    variants = write_variants(args.stage1, args.out, args.weights, Path(first.data.root), first.data.train_years)

    scoring = _write_scoring_config(models[0][0], {**common, **data}, args.out / "scoring_config.yaml")
    rows = []
    for name, (path, vel) in variants.items():
        results = args.out / name.replace("=", "")
        for config, ckpt in models:
            cfg = load_stage2_config(config, {**common, **data, "inference.velocity": "forecast",
                                              "inference.forecast_path": str(path), "inference.results_dir": str(results),
                                              "inference.checkpoint": str(ckpt), "inference.overwrite": True})
            if not (results / f"{cfg.model.name}_forecast.nc").exists():
                print(f"[current_skill] {cfg.model.name} on currents {name}", flush=True)
                infer(cfg, show_progress=False)
        skill_csv = results / "skill.csv"
        if not skill_csv.exists():
            run_evaluation(results, None, scoring, figures=False, progress=False)
        skill = pd.read_csv(skill_csv)
        for model in skill.model.unique():
            r = skill[(skill.model == model) & (skill.metric == "rmse")].set_index("lead")["value"]
            rows.append((name, vel, model, r))
    table = args.out / "current_skill.md"
    table.write_text(markdown(rows))
    print(table.read_text())
    return 0


def _write_scoring_config(config: Path, overrides: dict[str, Any], path: Path) -> Path:
    """The model's config with the scoring years, for ``run_evaluation`` (which reads a config file)."""
    import yaml

    from oceane2e.config import set_dotted

    doc = yaml.safe_load(config.read_text())
    for dotted, value in overrides.items():
        set_dotted(doc, dotted, value)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def markdown(rows: list[tuple[str, np.ndarray, str, Any]]) -> str:
    """Rows: currents, their velocity RMSE, then each network's SSTA RMSE at LEADS."""
    models = [m for m in dict.fromkeys(r[2] for r in rows) if m not in ("Persistence", "DampedPersistence",
                                                                         "Climatology")]
    head = "| currents | u RMSE (m/s) " + " / ".join(map(str, LEADS)) + " | " + " | ".join(
        f"{m} SSTA RMSE (K) " + " / ".join(map(str, LEADS)) for m in models) + " |"
    lines = [head, "|---|---|" + "---|" * len(models)]
    for name in dict.fromkeys(r[0] for r in rows):
        mine = {r[2]: r for r in rows if r[0] == name}
        vel = next(iter(mine.values()))[1]
        cells = [" / ".join(f"{vel[k - 1]:.3f}" for k in LEADS)]
        cells += [" / ".join(f"{mine[m][3][k]:.3f}" for k in LEADS) if m in mine else "—" for m in models]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
