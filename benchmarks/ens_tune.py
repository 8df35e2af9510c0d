"""Tune the ensemble's perturbation amplitudes on the VALIDATION years (issue 17), never on the test years.

For every combination of amplitudes given on the command line, run the ensemble of ``--config`` over the
validation start dates (``ensemble.split: val``) into its own folder, score it against the observed SSTA of
the validation years, and print one row per combination with what the issue's targets look at:
spread–skill over leads 5–40, ensemble mean minus control RMSE (worst lead ≥ 10), CRPSS and MHW BSS
(worst lead and lead 40), and the reliability deviation. The amplitudes that meet the most targets, then
have the lowest mean CRPS, are the ones to put in ``configs/config_ens.yaml``.

    python benchmarks/ens_tune.py --config configs/config_ens.yaml --out /tmp/ens_tune \\
        --initial 0.08 0.12 --source 0.065 0.09 --currents 0.5 1.0 --stride 3

Each combination is skipped when its folder already holds scores (``scores.csv``), so an interrupted
sweep resumes.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def score_folder(folder: Path, s2_config: Path, s2_overrides: dict, name: str):
    """Scores of the ensemble ``name`` in ``folder`` against the validation years' observed SSTA."""
    from oceane2e.data.contract import CLIM_FILE, read_clim, read_mask
    from oceane2e.evaluation import metrics as M
    from oceane2e.evaluation.evaluate import HISTORY_DAYS, ObservedSSTA
    from oceane2e.evaluation.probabilistic import climatological_reference, score_ensemble
    from oceane2e.stage2 import load_stage2_config

    s2 = load_stage2_config(s2_config, s2_overrides)
    root = Path(s2.data.root)
    mask = read_mask(root)
    clim = read_clim(root / CLIM_FILE)
    weights = M.area_weights(clim.coords.lat, mask)
    observed = ObservedSSTA(root, s2.data)
    try:
        reference = climatological_reference(observed, s2.data.train_years, clim, mask, mask.shape)
        return score_ensemble(folder, name, observed, clim, mask, weights, reference, history_days=HISTORY_DAYS,
                              write_probability=False)
    finally:
        observed.close()


def summary(ens) -> dict[str, float]:
    """The numbers of one row of the table."""
    sk = ens.skill.pivot(index="lead", columns="metric", values="value")
    lead = sk.index.to_numpy()
    mid = (lead >= 5) & (lead <= 40)
    late = lead >= 10
    diff = (sk["rmse_mean"] - sk["rmse_control"])[late]
    return {
        "ss_min": float(sk["spread_skill"][mid].min()), "ss_max": float(sk["spread_skill"][mid].max()),
        "mean_minus_control": float(diff.max()),
        "crpss_min": float(sk["crpss"].min()), "crpss_40": float(sk["crpss"].iloc[-1]),
        "bss_min": float(sk["bss_mhw"].min()), "bss_40": float(sk["bss_mhw"].iloc[-1]),
        "bss_strong_min": float(sk["bss_strong"].min()),
        "rel_mhw": ens.reliability_deviation("mhw"), "rel_strong": ens.reliability_deviation("strong"),
        "crps_mean": float(sk["crps"].mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/config_ens.yaml")
    parser.add_argument("--out", required=True, help="folder for one sub-folder per combination")
    parser.add_argument("--initial", type=float, nargs="+", default=[0.08], help="initial SSTA std (K)")
    parser.add_argument("--source", type=float, nargs="+", default=[0.065], help="stochastic source std")
    parser.add_argument("--currents", type=float, nargs="+", default=[1.0], help="x M_θ's RMSE per lead")
    parser.add_argument("--stride", type=int, default=3, help="every k-th validation start date")
    parser.add_argument("-o", "--override", action="append", default=[], help="KEY=VALUE of the ensemble config")
    args = parser.parse_args(argv)

    import yaml

    from oceane2e.ensemble.generate import ensemble_name, infer_ensemble, load_ensemble_config

    base = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.override)}
    out = Path(args.out)
    rows = []
    for init, src, cur in itertools.product(args.initial, args.source, args.currents):
        tag = f"init{init:g}_src{src:g}_cur{cur:g}"
        folder = out / tag
        overrides = dict(base, **{
            "ensemble.split": "val", "ensemble.start_stride": args.stride, "ensemble.results_dir": str(folder),
            "ensemble.initial.std_k": init, "ensemble.source.std": src, "ensemble.currents.scale": cur,
        })
        cfg = load_ensemble_config(args.config, overrides)
        name = ensemble_name(load_s2_name(cfg), cfg.ensemble.suffix)
        done = folder / "scores.csv"
        if not done.exists():
            folder.mkdir(parents=True, exist_ok=True)
            infer_ensemble(cfg, show_progress=False, overwrite=True)
            ens = score_folder(folder, cfg.stage2_config, cfg.stage2_overrides, name)
            ens.skill.to_csv(done, index=False)
            row = summary(ens)
            (folder / "summary.yaml").write_text(yaml.safe_dump(row))
        row = yaml.safe_load((folder / "summary.yaml").read_text())
        rows.append((tag, row))
        print(_line(tag, row), flush=True)
    print("\n| initial K | source | currents × RMSE | spread–skill 5–40 | mean − control (worst ≥ 10) | "
          "CRPSS min / 40 | BSS MHW min / 40 | BSS ≥ Strong min | reliability MHW / ≥ Strong | mean CRPS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for tag, r in rows:
        init, src, cur = (t[len(p):] for t, p in zip(tag.split("_"), ("init", "src", "cur"), strict=True))
        print(f"| {init} | {src} | {cur} | {r['ss_min']:.2f}–{r['ss_max']:.2f} | {r['mean_minus_control']:+.3f} | "
              f"{r['crpss_min']:.3f} / {r['crpss_40']:.3f} | {r['bss_min']:.3f} / {r['bss_40']:.3f} | "
              f"{r['bss_strong_min']:.3f} | {r['rel_mhw']:.3f} / {r['rel_strong']:.3f} | {r['crps_mean']:.4f} |")
    return 0


def load_s2_name(cfg) -> str:
    from oceane2e.stage2 import load_stage2_config

    return load_stage2_config(cfg.stage2_config, cfg.stage2_overrides).model.name


def _line(tag: str, r: dict) -> str:
    return (f"{tag}: spread-skill {r['ss_min']:.2f}-{r['ss_max']:.2f}, mean-control {r['mean_minus_control']:+.3f} K, "
            f"CRPSS min {r['crpss_min']:.3f}, BSS min {r['bss_min']:.3f}, rel {r['rel_mhw']:.3f}/{r['rel_strong']:.3f}, "
            f"CRPS {r['crps_mean']:.4f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
