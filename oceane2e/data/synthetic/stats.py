"""Measured statistics of a synthetic-ocean run (the checks of DESIGN.md §4 and the docs table).

All functions take in-memory arrays: ``ssta`` (T, N) of ocean cells, etc. ``run_statistics`` turns
a :class:`~oceane2e.data.synthetic.SyntheticRun` plus its climatology into a flat dict of figures.
"""

from __future__ import annotations

import numpy as np


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """``a`` (T, ...) shifted by ``k`` days along time (positive: a[t - k]), False-padded."""
    out = np.zeros_like(a)
    if k > 0:
        out[k:] = a[:-k]
    elif k < 0:
        out[:k] = a[-k:]
    else:
        out[:] = a
    return out


def mhw_days(exceed: np.ndarray, min_duration: int = 5, max_gap: int = 2) -> np.ndarray:
    """Hobday MHW days from daily exceedances ``exceed`` (T, N) bool.

    A day is an MHW day when it lies in a run of at least ``min_duration`` exceeding days; events
    separated by gaps of at most ``max_gap`` (1 or 2) days are joined (the gap days count).
    """
    e = exceed.astype(np.int32)
    csum = np.concatenate([np.zeros((1, *e.shape[1:]), np.int32), np.cumsum(e, axis=0)])
    t = e.shape[0]
    if t < min_duration:
        return np.zeros_like(exceed, dtype=bool)
    full = (csum[min_duration:] - csum[:-min_duration]) == min_duration  # window starting at s is all True
    start = np.zeros_like(exceed, dtype=bool)
    start[: t - min_duration + 1] = full
    m = np.zeros_like(exceed, dtype=bool)
    for k in range(min_duration):
        m |= _shift(start, k)
    if max_gap >= 1:
        gap1 = ~m & _shift(m, 1) & _shift(m, -1)
        gap2 = np.zeros_like(m)
        if max_gap >= 2:
            gap2 = ~m & _shift(~m, -1) & _shift(m, 1) & _shift(m, -2)
            gap2 |= ~m & _shift(~m, 1) & _shift(m, 2) & _shift(m, -1)
        m = m | gap1 | gap2
    return m


def event_durations(mhw: np.ndarray) -> np.ndarray:
    """Durations (days) of every event (run of True) in ``mhw`` (T, N), all cells pooled."""
    padded = np.concatenate([np.zeros((1, mhw.shape[1]), bool), mhw, np.zeros((1, mhw.shape[1]), bool)])
    d = np.diff(padded.astype(np.int8), axis=0)
    # np.nonzero on the (cell, time) array orders by cell then time, so starts and ends pair up
    _, start_day = np.nonzero(d.T == 1)
    _, end_day = np.nonzero(d.T == -1)
    return (end_day - start_day).astype(np.int64)


def efolding_days(anom: np.ndarray, max_lag: int = 90) -> float:
    """Lag (days) where the cell-averaged autocorrelation of ``anom`` (T, N) first drops below 1/e."""
    x = anom - anom.mean(axis=0)
    var = (x * x).mean(axis=0)
    prev = 1.0
    for lag in range(1, max_lag + 1):
        r = float(np.mean((x[lag:] * x[:-lag]).mean(axis=0) / var))
        if r < np.exp(-1.0):
            return float(lag - 1 + (prev - np.exp(-1.0)) / (prev - r))
        prev = r
    return float(max_lag)


def run_statistics(run, seas: np.ndarray, thresh: np.ndarray, dome_lag_days: int = 20) -> dict[str, float]:
    """Figures of a run (see docs/data.md): currents, SSTA, persistence, MHWs and their origin.

    Args:
        run: a ``SyntheticRun`` (``dome`` needed for the origin figures).
        seas, thresh: (366, H, W) climatology of the run's SST (K).
        dome_lag_days: a cell counts as under a heat dome's influence on day t when the dome
            footprint exceeded 0.3 there at some day in [t - dome_lag_days, t].
    """
    from oceane2e.dates import leap_doy_index

    m = run.mask
    idx = leap_doy_index(run.dates)
    ssta = (run.sst[:, m] - seas[idx][:, m]).astype(np.float64)
    exceed = run.sst[:, m] > thresh[idx][:, m]
    speed = np.hypot(run.u[:, m], run.v[:, m])
    stats: dict[str, float] = {}
    stats["rms_current_m_s"] = float(np.sqrt(np.mean(speed**2)))
    stats["jet_peak_m_s"] = float(np.median(speed.max(axis=1)))
    stats["ssta_std_k"] = float(ssta.std())
    # front zone: cells that the jet core (> 0.5 m/s) covers at least 15 % of the days; far: never
    jet_freq = (speed > 0.5).mean(axis=0)
    front, far = jet_freq >= 0.15, jet_freq == 0.0
    stats["ssta_std_front_k"] = float(ssta[:, front].std())
    stats["ssta_std_far_k"] = float(ssta[:, far].std())
    stats["ssta_efolding_days"] = efolding_days(ssta)
    mhw = mhw_days(exceed)
    n_years = run.dates.size / 365.25
    durations = event_durations(mhw)
    stats["mhw_day_fraction"] = float(mhw.mean())
    stats["mhw_events_per_year_per_cell"] = float(durations.size / n_years / m.sum())
    stats["mhw_long_events_per_year_per_cell"] = float((durations > 30).sum() / n_years / m.sum())
    stats["mhw_mean_duration_days"] = float(durations.mean()) if durations.size else 0.0
    stats["mhw_max_duration_days"] = float(durations.max()) if durations.size else 0.0
    # origin: heat domes (atmospheric) vs high sea level (warm rings, northward jet shifts)
    zos = run.zos[:, m]
    zos_anom = zos - zos.mean(axis=0)
    if run.dome is not None:
        dome = run.dome[:, m] > 0.3
        recent = np.zeros_like(dome)
        for k in range(dome_lag_days + 1):
            recent |= _shift(dome, k)
        calm = ~recent
        stats["mhw_fraction_under_domes"] = float(mhw[recent].mean()) if recent.any() else 0.0
        stats["mhw_fraction_outside_domes"] = float(mhw[calm].mean())
        high = (zos_anom > 0.15) & calm
        low = (zos_anom < -0.15) & calm
        mid = (np.abs(zos_anom) < 0.05) & calm
        stats["mhw_fraction_high_sea_level"] = float(mhw[high].mean()) if high.any() else 0.0
        stats["mhw_fraction_low_sea_level"] = float(mhw[low].mean()) if low.any() else 0.0
        stats["mhw_fraction_flat_sea_level"] = float(mhw[mid].mean()) if mid.any() else 0.0
    return stats


ROWS: tuple[tuple[str, str, str], ...] = (
    ("rms_current_m_s", "RMS surface current (m s-1)", "0.1-0.4"),
    ("jet_peak_m_s", "jet peak speed, median of daily maxima (m s-1)", "1-2"),
    ("ssta_std_k", "SSTA standard deviation (K)", "0.5-2"),
    ("ssta_std_front_k", "... in the jet/front zone (K)", "largest near the front"),
    ("ssta_std_far_k", "... where the jet never passes (K)", ""),
    ("ssta_efolding_days", "SSTA e-folding time (days)", "10-30"),
    ("mhw_day_fraction", "fraction of cell-days in a MHW", ""),
    ("mhw_events_per_year_per_cell", "MHW events per year and cell", "several"),
    ("mhw_long_events_per_year_per_cell", "events longer than 30 days per year and cell", "> 0"),
    ("mhw_mean_duration_days", "mean MHW duration (days)", ""),
    ("mhw_max_duration_days", "longest MHW (days)", "> 30"),
    (
        "mhw_fraction_under_domes",
        "MHW-day fraction under / within 20 days after a heat dome",
        "atmospheric origin",
    ),
    ("mhw_fraction_outside_domes", "MHW-day fraction elsewhere", ""),
    ("mhw_fraction_high_sea_level", "MHW-day fraction where zos anomaly > +0.15 m, no dome", "ocean origin"),
    ("mhw_fraction_flat_sea_level", "MHW-day fraction where abs(zos anomaly) < 0.05 m, no dome", ""),
    ("mhw_fraction_low_sea_level", "MHW-day fraction where zos anomaly < -0.15 m, no dome", ""),
)


def markdown_table(stats: dict[str, float]) -> str:
    """The statistics as the markdown table of docs/data.md."""
    lines = ["| quantity | measured | target (DESIGN.md §4) |", "|---|---|---|"]
    for key, label, target in ROWS:
        if key in stats:
            lines.append(f"| {label} | {stats[key]:.3g} | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m oceane2e.data.synthetic.stats --config configs/synthetic.yaml``: print the table."""
    import argparse
    from pathlib import Path

    from oceane2e.config import load_config
    from oceane2e.data.synthetic.ocean import SyntheticConfig, climatology, simulate

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--config", type=Path, default=Path("configs/synthetic.yaml"))
    args = parser.parse_args(argv)
    cfg = load_config(SyntheticConfig, args.config)
    run = simulate(cfg, progress=True, diagnostics=True)
    seas, thresh = climatology(run, cfg.baseline_years)
    print(markdown_table(run_statistics(run, seas, thresh)))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
