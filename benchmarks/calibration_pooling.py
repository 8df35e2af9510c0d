"""Would pooling neighbouring leads steady the MHW threshold scales? Cross-validated on the validation hindcasts.

    python benchmarks/calibration_pooling.py --results results --config logs/pipeline/effective/configs/config.yaml
    python benchmarks/calibration_pooling.py --results results/oisst \
        --config logs/oisst/pipeline/effective/configs/oisst/config.yaml

Run in the folder of a finished pipeline (it reads ``<results>/hindcast`` and the data folder of ``--config``).
The lead calibration (``oceane2e.evaluation.calibration``) picks each lead's scale of the MHW threshold on its own,
from a year or two of hindcasts. Pooling the contingency counts of the leads L-w .. L+w before picking the scale
would trade that choice's sampling noise for bias. Each variant is fitted on one half of the validation start dates
(in time) and scored on the other, leaving out the start dates whose forecast days reach into the fitting half (the folds of
``cross_validate_strong``, :func:`oceane2e.evaluation.calibration.folds_in_time`) — and the out-of-sample MHW CSI is printed, averaged over
the leads and at a few leads, for every hindcast model, persistence and damped persistence; ``raw`` is the
observed threshold. The grid here is 0.05 … 1.25 in steps of 0.05 without the calibration's refinement sweeps,
the same for every variant. Only validation years are read: nothing is chosen on the scored years.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

VARIANTS = (("per lead", 0), ("±1", 1), ("±2", 2), ("±4", 4), ("±8", 8), ("raw", None))
LEADS = (5, 10, 15, 20, 30, 40)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--config", default="configs/config.yaml", help="the run's config (its data block)")
    args = parser.parse_args(argv)

    from oceane2e.data.contract import CLIM_FILE, read_clim, read_mask
    from oceane2e.evaluation import calibration as C
    from oceane2e.evaluation import metrics as M
    from oceane2e.evaluation.evaluate import (
        HISTORY_DAYS,
        ObservedSSTA,
        discover_models,
        fit_tau_from_data,
        load_data_config,
        load_model,
    )
    from oceane2e.evaluation.references import reference_forecasts
    from oceane2e.mhw.forecast import forecast_mhw

    data_cfg = load_data_config(args.config)
    root = Path(data_cfg.root)
    mask = read_mask(root)
    clim = read_clim(root / CLIM_FILE)
    weights = M.area_weights(clim.coords.lat, mask)
    hindcasts = args.results / C.HINDCAST_DIR
    names = discover_models(hindcasts)
    if not names:
        raise SystemExit(f"{hindcasts}: no hindcasts; run the pipeline (hindcasts: true) first")
    forecasts = {}
    for name in names:
        m = load_model(hindcasts, name)
        forecasts[name] = np.array(m.outputs, dtype=np.float32)
    t0, n_lead = m.time0, int(m.lead.size)
    observed = ObservedSSTA(root, data_cfg)
    try:
        history, truth = observed.windows(t0, HISTORY_DAYS, n_lead, mask)
    finally:
        observed.close()
    events = forecast_mhw(truth, history, t0, clim.seas, clim.thresh, mask=mask).flags
    tau = fit_tau_from_data(root, data_cfg.train_years, max_lag=10, progress=False)
    forecasts.update({k: v for k, v in reference_forecasts(history[:, -1], n_lead, tau).items() if k != "Climatology"})
    for fc in forecasts.values():
        fc[:, :, ~mask] = np.nan
    grid = [round(float(k), 2) for k in np.arange(0.05, 1.251, 0.05)]
    by_nearness = sorted(grid, key=lambda k: abs(k - 1))

    def counts(fc: np.ndarray, part: slice, scale: np.ndarray) -> np.ndarray:
        return C._detection_counts(fc[part], history[part], {"mhw": events[part]}, t0[part], scale, clim.seas,
                                   clim.thresh, mask, weights)["mhw"]

    def csi(c: np.ndarray) -> np.ndarray:
        return np.nan_to_num(M.categorical_scores(c)["csi"], nan=0.0)

    def pooled(c: np.ndarray, w: int) -> np.ndarray:
        total = np.cumsum(np.vstack([np.zeros((1, 4)), c]), axis=0)
        lead = np.arange(c.shape[0])
        return total[np.clip(lead + w + 1, 0, c.shape[0])] - total[np.clip(lead - w, 0, c.shape[0])]

    days = np.asarray(t0, dtype="datetime64[D]").astype(np.int64)
    order = np.argsort(days, kind="stable")  # hindcast files are in date order; anything else is sorted
    days, t0, history, events = days[order], np.asarray(t0)[order], history[order], events[order]
    forecasts = {name: fc[order] for name, fc in forecasts.items()}
    folds = C.folds_in_time(days, n_lead)
    if folds is None:
        raise SystemExit(f"{hindcasts}: too few validation start dates ({days.size}) for two folds")
    print(f"{days.size} validation start dates; scored out of sample: "
          + " + ".join(str(test.stop - test.start) for _, test in folds))
    for name, fc in forecasts.items():
        scores = {}
        for label, w in VARIANTS:
            total = np.zeros((n_lead, 4))
            for fit_part, test_part in folds:
                if w is None:
                    scale = np.ones(n_lead)
                else:
                    tried = {k: counts(fc, fit_part, np.full(n_lead, k)) for k in grid}
                    table = np.stack([csi(pooled(tried[k], w)) for k in by_nearness])
                    scale = np.asarray(by_nearness)[np.argmax(table, axis=0)]  # ties: the scale nearest 1
                total += counts(fc, test_part, scale)
            scores[label] = csi(total)
        print(f"{name:18s} mean over leads: " + "  ".join(f"{label} {s.mean():.4f}" for label, s in scores.items()))
        for label, s in scores.items():
            print(f"{'':18s} {label:8s} leads {'/'.join(map(str, LEADS))}: "
                  + " / ".join(f"{s[lead - 1]:.3f}" for lead in LEADS))


if __name__ == "__main__":
    main()
