"""Forecasts from the learned analysis on the validation windows: RMSE per lead, checkpoint beside checkpoint.

    python benchmarks/da_window_forecasts.py --config configs/config_da.yaml --names NeuralDA X Y
                                             [--lead 40] [--stride 6] [--forecaster-of NAME]

Run in the folder of a finished main command (or wherever the checkpoints ``checkpoints/<name>_best_model.pth`` of
``train_assim.py`` are). For each checkpoint the validation year's windows (every ``--stride`` days; the config's
``data.val_years``) are cycled as in training — ``cycle_days`` analyses from a perturbed truth, each background a
one-day forecast of the checkpoint's hybrid — and the checkpoint's hybrid then forecasts ``--lead`` days from the
last analysis (with its analysed currents on day 0 when the network analyses them, later days the windows'
currents: the real-time OI's with the shipped config). Printed: the RMSE over ocean cells per lead.

A paired comparison of analysis networks on the validation year, cheaper than a cycle and the main command's
forecasts, and for choices (the test years are never read). The forecast is not the main command's: its later
currents are the OI's analyses of those days, not M_θ's forecast; it ranks analyses by the forecasts started from
them. ``--forecaster-of NAME``: every checkpoint forecasts (and makes its backgrounds) with the hybrid stored in
NAME's checkpoint instead of its own — what separates a jointly fine-tuned hybrid (``end_to_end.joint``) from the
analysis trained beside it.
"""

from __future__ import annotations

import argparse

import numpy as np

LEADS = (1, 2, 3, 5, 10, 20, 30, 40)


def main(argv: list[str] | None = None) -> None:
    import torch
    from torch.utils.data import default_collate

    from oceane2e.engine.checkpoint import load_checkpoint
    from oceane2e.stage_da import AssimStepper, AssimWindowDataset, load_assim_config, load_system
    from oceane2e.stages import masked_mse, setup_threads

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/config_da.yaml")
    parser.add_argument("--names", nargs="+", required=True, help="train.name of each checkpoint")
    parser.add_argument("--lead", type=int, default=40)
    parser.add_argument("--stride", type=int, default=6, help="days between validation windows")
    parser.add_argument("--forecaster-of", default=None, help="use the hybrid of this checkpoint for every name")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    setup_threads(1)
    cfg = load_assim_config(args.config, {"windows.val_stride": args.stride})
    ds = AssimWindowDataset(cfg, cfg.data.val_years, args.lead, cfg.windows.val_stride)
    swap = None
    if args.forecaster_of:
        state = load_checkpoint(f"{cfg.train.checkpoint_dir}/{args.forecaster_of}_best_model.pth")["model"]
        swap = {k: v for k, v in state.items() if k.startswith("forecaster.")}
    leads = [lead for lead in LEADS if lead <= args.lead]
    print(f"{len(ds)} windows of {cfg.data.val_years}; RMSE (K) at leads " + " / ".join(map(str, leads)))
    for name in args.names:
        system, _, _ = load_system(f"{cfg.train.checkpoint_dir}/{name}_best_model.pth")
        if swap is not None:
            system.load_state_dict({**system.state_dict(), **swap})
        system.eval()
        stepper = AssimStepper(system, cfg, args.lead)
        sums, n = np.zeros(args.lead), 0
        with torch.no_grad():
            for i in range(0, len(ds), args.batch):
                batch = default_collate([ds[j] for j in range(i, min(i + args.batch, len(ds)))])
                k_days = batch["obs"].shape[1]
                initial, batch = stepper.perturb(batch, False)
                out = system(batch, initial, args.lead, k_days - 1, False)
                truth = batch["ssta"][:, k_days + 1 : k_days + 1 + args.lead]
                mse = masked_mse(out["forecast"], truth, batch["mask"])  # (B, lead)
                sums += mse.sum(0).numpy()
                n += mse.shape[0]
        rmse = np.sqrt(sums / n)
        print(f"{name}: " + " / ".join(f"{rmse[lead - 1]:.4f}" for lead in leads), flush=True)


if __name__ == "__main__":
    main()
