"""Where and when the hybrid's mean error (drift) grows, and which term of its step makes it.

    python benchmarks/drift.py --config configs/config.yaml --checkpoint checkpoints/Oceane2e_best_model.pth \\
        --split val --velocity model

Rolls the hybrid out from every start date of a split (stride ``--stride``) and, per lead, splits the
area-weighted mean change of the forecast anomaly over each day into its terms:

    advection  = mean(C* − C_t)                 (kernel with u_g + correction; 0 in flux form in a closed basin)
    source     = mean(SSTA_{t+1} − C*) without damping, or φ(λΔt)·S with it
    damping    = mean((e^{−λΔt} − 1)·C*)        (0 without damping)

beside the observed mean change of the anomaly, so the cumulative difference (the bias) is
attributed to the terms. Also: the bias at a few leads by start-date season and by region (the
third of the ocean cells with the largest SSTA variability of the training years — the front —
and the rest), and the bias with the observed currents instead (``--velocity observed``).
Prints Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages, not an installed copy

LEADS = (1, 5, 10, 20, 30, 40)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=Path("configs/config.yaml"))
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--split", default="val", choices=("train", "val", "test"))
    p.add_argument("--velocity", default="model", choices=("model", "observed"))
    p.add_argument("--lead-days", type=int, default=40)
    p.add_argument("--stride", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("-o", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)

    from model_baselines.base import FORCING_ROLES, NEXT_SUFFIX, STATE, apply_mask
    from model_baselines.hybrid import relax
    from oceane2e.config import parse_override
    from oceane2e.data.contract import split_channels
    from oceane2e.data.datasets import SSTAWindowDataset
    from oceane2e.physics.kernel import advect
    from oceane2e.stage2 import ModelCurrents, load_forecaster, load_stage2_config

    torch.set_num_threads(1)
    cfg = load_stage2_config(args.config, dict(parse_override(o) for o in args.overrides))
    model = load_forecaster(args.checkpoint).model
    if model.data_info.n_in > 1 or model.data_info.level_days:
        raise SystemExit(f"{args.checkpoint}: sees the SSTA history or forecasts about a level; this breakdown steps the "
                         "hybrid from day 0 alone (the synthetic ocean's configs), so it would be wrong here")
    currents = ModelCurrents(cfg.inference.velocity_model) if args.velocity == "model" else None
    history = currents.history_days if currents else 3
    ds = SSTAWindowDataset(cfg.data, args.split, args.lead_days, stride=args.stride,
                           velocity_history=history if currents else 0)
    if not currents:  # the same start dates as with M_θ (history days before each)
        keep = SSTAWindowDataset(cfg.data, args.split, args.lead_days, stride=args.stride, velocity_history=history)
        ds.time0s = keep.time0s
    info = model.data_info
    mask_np = ds.folder.mask
    w = np.cos(np.deg2rad(ds.coords.lat))[:, None] * mask_np
    w_t = torch.as_tensor(w / w.sum(), dtype=torch.float32)
    L = args.lead_days
    terms = {k: np.zeros(L) for k in ("advection", "divergence", "correction", "source", "damping", "observed", "bias")}
    flux_options = dataclasses.replace(model.kernel_options, form="flux")
    geo_options = model.kernel_options
    n = 0
    bias_maps = {k: np.zeros(mask_np.shape) for k in (10, 20, 40) if k <= L}
    sample_bias: list[np.ndarray] = []
    months: list[int] = []
    std = _ssta_std(cfg, mask_np)
    front = mask_np & (std >= np.quantile(std[mask_np], 2 / 3))
    region_bias = {"front (top third of SSTA std)": np.zeros(L), "rest": np.zeros(L)}
    for start in range(0, len(ds), args.batch_size):
        items = [ds[k] for k in range(start, min(start + args.batch_size, len(ds)))]
        keys = ("ssta", "velocity", "atmos", "mask") + (("velocity_history",) if currents else ())
        batch = {k: torch.stack([it[k] for it in items]) for k in keys}
        if currents:
            batch = currents(batch)
        mask = batch["mask"].bool()
        forcing = {}
        for role in FORCING_ROLES:
            forcing.update(split_channels(batch[role], info.names(role), dim=2))
        c = apply_mask(batch["ssta"][:, 0], mask)
        truth = batch["ssta"][:, 1:]
        b = c.shape[0]
        per_sample = np.zeros((b, L))
        with torch.no_grad():
            for k in range(L):
                fields = {STATE: c}
                for name, x in forcing.items():
                    fields[name] = x[:, k]
                    fields[name + NEXT_SUFFIX] = x[:, k + 1]
                adv = model.advected(fields, mask).float()
                if model.config.advection:
                    # the same step in flux form: the difference is the C·∇·u term of the advective form
                    u_g, v_g = model.geostrophic(fields)
                    corr = model.correction(fields, mask)
                    grid = model.grid(c.device, torch.float32)
                    flux = advect(c, u_g + corr[:, 0], v_g + corr[:, 1], grid, model.dt_s, flux_options)
                    geo = advect(c, u_g, v_g, grid, model.dt_s, geo_options)
                    terms["divergence"][k] += ((adv - flux) * w_t).sum().item()
                    terms["correction"][k] += ((adv - geo) * w_t).sum().item()
                outs = model._source_outputs(fields, mask)
                src = model.source(fields, mask, outs).float()
                rate = model.damping_rate(fields, mask, outs)
                if rate is None:
                    nxt = adv + src
                    damp = torch.zeros_like(adv)
                else:
                    nxt = relax(adv, src, rate.float())
                    damp = (torch.exp(-rate.float()) - 1) * adv
                nxt = apply_mask(nxt, mask)
                mean = lambda x: (x * w_t).sum(dim=(-2, -1)).numpy()  # noqa: E731
                terms["advection"][k] += mean(adv - c).sum()
                terms["damping"][k] += mean(damp).sum()
                terms["source"][k] += mean(nxt - adv - damp).sum()
                prev_truth = batch["ssta"][:, k]
                terms["observed"][k] += mean(truth[:, k] - prev_truth).sum()
                err = (nxt - truth[:, k]).numpy() * mask_np
                per_sample[:, k] = mean(nxt - truth[:, k])
                terms["bias"][k] += per_sample[:, k].sum()
                for name, sel in (("front (top third of SSTA std)", front), ("rest", mask_np & ~front)):
                    region_bias[name][k] += (err[:, sel] * w[sel]).sum() / w[sel].sum()
                if k + 1 in bias_maps:
                    bias_maps[k + 1] += err.sum(axis=0)
                c = nxt
        t0 = np.array([it["time0"].item() for it in items]).astype("datetime64[D]")
        months += list(t0.astype("datetime64[M]").astype(int) % 12)
        sample_bias.append(per_sample)
        n += b
    _print(terms, n, region_bias, bias_maps, args)
    seasons = np.array(["DJF", "DJF", "MAM", "MAM", "MAM", "JJA", "JJA", "JJA", "SON", "SON", "SON", "DJF"])[months]
    per = np.concatenate(sample_bias)
    print("\n| start season | n | " + " | ".join(f"bias lead {k}" for k in (10, 20, 40) if k <= L) + " |")
    print("|---|---:|" + "---:|" * len([k for k in (10, 20, 40) if k <= L]))
    for season in ("DJF", "MAM", "JJA", "SON"):
        sel = seasons == season
        if sel.any():
            print(f"| {season} | {sel.sum()} | " + " | ".join(f"{per[sel, k - 1].mean():+.3f}" for k in (10, 20, 40) if k <= L) + " |")
    return 0


def _ssta_std(cfg, mask: np.ndarray) -> np.ndarray:
    """Std of the observed SSTA over the training years per cell (K)."""
    from oceane2e.data.datasets import DataFolder

    years = sorted(cfg.data.train_years)
    folder = DataFolder.from_config(cfg.data, years, kinds=("mhw",))
    s = np.zeros(mask.shape)
    s2 = np.zeros(mask.shape)
    count = 0
    for y in years:
        x = folder.read("mhw", np.datetime64(f"{y}-01-01"), 365, ("ssta",))[:, 0]
        s += x.sum(0)
        s2 += (x.astype(np.float64) ** 2).sum(0)
        count += x.shape[0]
    return np.sqrt(np.maximum(s2 / count - (s / count) ** 2, 0))


def _print(terms, n, region_bias, bias_maps, args) -> None:
    print(f"Drift of {args.checkpoint} on the {args.split} split, {n} start dates, currents {args.velocity}\n")
    print("| lead | bias | Σ advection | (of which C∇·u) | (of which correction) | Σ source | Σ damping | "
          "Σ observed change | front bias | rest bias |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    cum = {k: np.cumsum(v) / n for k, v in terms.items()}
    names = list(region_bias)
    for lead in LEADS:
        if lead > len(cum["bias"]):
            continue
        i = lead - 1
        print(f"| {lead} | {terms['bias'][i] / n:+.3f} | {cum['advection'][i]:+.3f} | {cum['divergence'][i]:+.3f} | "
              f"{cum['correction'][i]:+.3f} | {cum['source'][i]:+.3f} | "
              f"{cum['damping'][i]:+.3f} | {cum['observed'][i]:+.3f} | {region_bias[names[0]][i] / n:+.3f} | "
              f"{region_bias[names[1]][i] / n:+.3f} |")
    print("\n(Σ: sums over leads 1..lead of the area-mean change each term makes in one day, K; "
          "bias = Σ model terms − Σ observed change + the initial-state difference, which is 0; "
          "C∇·u: the advective form minus the flux form of the same step; correction: the step minus the "
          "step with u_g alone)")
    for lead, m in bias_maps.items():
        m = m / n
        print(f"lead {lead}: mean-error map: min {m.min():+.2f}, max {m.max():+.2f}, "
              f"fraction of cells > +0.1 K {np.mean(m > 0.1):.2f}, < −0.1 K {np.mean(m < -0.1):.2f}")


if __name__ == "__main__":
    sys.exit(main())
