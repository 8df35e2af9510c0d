"""Reference forecasts from data alone: persistence, damped persistence, climatology (DESIGN.md §7).

For a start date ``time0`` (the last observed day) and leads 1..L:

* persistence: the observed SSTA of ``time0`` held for every lead;
* damped persistence: ``SSTA(time0) * exp(-lead / tau)``; tau (days) is ONE global e-folding time,
  fitted on the TRAINING years only from the lag autocorrelation of the observed SSTA (pooled over
  all ocean cells: ``r(k) = exp(-k / tau)`` fitted by least squares of ``ln r(k)`` on lags 1..K
  through the origin). A per-cell fit is available (:func:`fit_efolding_time` with
  ``per_cell=True``) but noisy on short records, so the evaluation uses the global one;
* climatology: zero anomaly.

The autocorrelation is accumulated year by year (sums of products over lags, float64), so the
fit reads each training year once and never holds more than one year plus ``max_lag`` days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REFERENCE_NAMES: tuple[str, ...] = ("Persistence", "DampedPersistence", "Climatology")


def persistence(initial: np.ndarray, n_lead: int) -> np.ndarray:
    """(S, H, W) SSTA of the start dates -> (S, L, H, W) the same field at every lead (K)."""
    initial = np.asarray(initial, dtype=np.float32)
    return np.repeat(initial[:, None], int(n_lead), axis=1)


def damped_persistence(initial: np.ndarray, n_lead: int, tau_days: float | np.ndarray) -> np.ndarray:
    """``initial * exp(-lead / tau)`` for leads 1..L -> (S, L, H, W) (K).

    Args:
        initial: (S, H, W) SSTA of the start dates (K).
        tau_days: e-folding time in days, a scalar or (H, W) per cell.
    """
    initial = np.asarray(initial, dtype=np.float32)
    lead = np.arange(1, int(n_lead) + 1, dtype=np.float64)
    tau = np.asarray(tau_days, dtype=np.float64)
    if np.any(~(tau > 0)):
        raise ValueError(f"tau must be positive days, got min {np.nanmin(tau)}")
    damping = np.exp(-lead[:, None, None] / tau) if tau.ndim == 2 else np.exp(-lead / tau)[:, None, None]
    return (initial[:, None] * damping[None]).astype(np.float32)


def climatology(initial: np.ndarray, n_lead: int) -> np.ndarray:
    """Zero anomaly: (S, L, H, W) zeros (NaN where ``initial`` is NaN, i.e. land)."""
    initial = np.asarray(initial, dtype=np.float32)
    zero = np.where(np.isnan(initial), np.float32(np.nan), np.float32(0.0))
    return np.repeat(zero[:, None], int(n_lead), axis=1)


@dataclass
class LagSums:
    """Running sums for lagged covariances of series that arrive in consecutive blocks.

    Attributes (per cell, float64): ``n`` (K,) pair counts per lag; ``sx``, ``sy``, ``sxx``,
    ``syy``, ``sxy``: (K, H, W) sums of x = value at t, y = value at t + k over valid pairs.
    """

    max_lag: int
    n: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray

    @classmethod
    def zeros(cls, max_lag: int, grid: Sequence[int]) -> LagSums:
        z = np.zeros((max_lag, *grid))
        return cls(max_lag, np.zeros((max_lag, *grid)), z.copy(), z.copy(), z.copy(), z.copy(), z.copy())

    def add_block(self, series: np.ndarray, n_new: int) -> None:
        """Add the pairs that END in the last ``n_new`` days of ``series`` (T, H, W).

        ``series`` holds up to ``max_lag`` days of the previous block in front of the new days, so
        pairs that cross the block boundary are counted once.
        """
        t = series.shape[0]
        valid = np.isfinite(series)
        values = np.where(valid, series, 0.0).astype(np.float64)
        for k in range(1, self.max_lag + 1):
            first = max(t - n_new, k)  # index of the first pair end
            if first >= t:
                continue
            y, x = values[first:], values[first - k : t - k]
            ok = valid[first:] & valid[first - k : t - k]
            x, y = x * ok, y * ok
            i = k - 1
            self.n[i] += ok.sum(axis=0)
            self.sx[i] += x.sum(axis=0)
            self.sy[i] += y.sum(axis=0)
            self.sxx[i] += (x * x).sum(axis=0)
            self.syy[i] += (y * y).sum(axis=0)
            self.sxy[i] += (x * y).sum(axis=0)

    def autocorrelation(self, per_cell: bool = False) -> np.ndarray:
        """Lag correlation r(k), k = 1..K -> (K,) pooled over cells or (K, H, W) per cell."""
        sums = [self.n, self.sx, self.sy, self.sxx, self.syy, self.sxy]
        if not per_cell:
            sums = [s.reshape(self.max_lag, -1).sum(axis=1) for s in sums]
        n, sx, sy, sxx, syy, sxy = sums
        with np.errstate(invalid="ignore", divide="ignore"):
            if per_cell:
                cov = sxy - sx * sy / n
                var_x, var_y = sxx - sx * sx / n, syy - sy * sy / n
            else:
                # pooled over cells: anomalies about each cell's own mean
                cell = [self.n, self.sx, self.sy, self.sxx, self.syy, self.sxy]
                cn, csx, csy, csxx, csyy, csxy = (c.reshape(self.max_lag, -1) for c in cell)
                safe = np.where(cn > 0, cn, 1.0)
                cov = (csxy - csx * csy / safe).sum(axis=1)
                var_x = (csxx - csx * csx / safe).sum(axis=1)
                var_y = (csyy - csy * csy / safe).sum(axis=1)
            return cov / np.sqrt(var_x * var_y)


def efolding_from_autocorrelation(r: np.ndarray) -> np.ndarray:
    """Least-squares e-folding time (days) of ``r(k) = exp(-k / tau)``, k = 1..K along axis 0.

    Only lags up to the first non-positive (or NaN) correlation are used; with none usable the
    result is NaN.
    """
    r = np.asarray(r, dtype=np.float64)
    lags = np.arange(1, r.shape[0] + 1, dtype=np.float64).reshape((-1,) + (1,) * (r.ndim - 1))
    usable = np.cumprod(np.nan_to_num(r, nan=-1.0) > 0, axis=0).astype(bool)
    log_r = np.where(usable, np.log(np.where(usable, r, 1.0)), 0.0)
    num = (lags * lags * usable).sum(axis=0)
    den = -(lags * log_r).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where((num > 0) & (den > 0), num / den, np.nan)
    return tau


def fit_efolding_time(
    blocks: Sequence[np.ndarray] | object,
    *,
    max_lag: int = 10,
    per_cell: bool = False,
) -> np.ndarray:
    """Fit the SSTA e-folding time (days) from consecutive daily blocks.

    Args:
        blocks: iterable of (T_i, H, W) arrays (e.g. one per training year, in date order) that
            follow each other without gaps; NaN (land) is ignored. Put ``None`` between blocks
            that are not consecutive (e.g. training years 2001 and 2005): no pair crosses it.
        max_lag: lags 1..max_lag days enter the fit.
        per_cell: one tau per cell (H, W) instead of one global value.

    Returns:
        A 0-d array (global) or (H, W) array of tau in days.
    """
    sums: LagSums | None = None
    tail: np.ndarray | None = None
    for block in blocks:
        if block is None:
            tail = None
            continue
        block = np.asarray(block, dtype=np.float64)
        if block.ndim == 1:
            block = block[:, None, None]
        if sums is None:
            sums = LagSums.zeros(max_lag, block.shape[1:])
        series = block if tail is None else np.concatenate([tail, block], axis=0)
        sums.add_block(series, block.shape[0])
        tail = series[-max_lag:]
    if sums is None:
        raise ValueError("no data to fit the e-folding time (no training year given)")
    r = sums.autocorrelation(per_cell=per_cell)
    return efolding_from_autocorrelation(r)


def fit_tau_from_data(
    data_root: str | Path, train_years: Sequence[int], *, max_lag: int = 10, progress: bool = True
) -> float:
    """Global e-folding time (days) of the observed SSTA over the training years of a data folder."""
    from tqdm import tqdm

    from oceane2e.data.contract import YearFile, find_years, year_path

    years = sorted(int(y) for y in train_years)
    available = set(find_years(data_root, "mhw"))
    missing = [y for y in years if y not in available]
    if missing:
        raise FileNotFoundError(
            f"{data_root}: mhw files of training years {missing} missing; damped persistence is "
            f"fitted on the training years, so generate or convert them first"
        )

    def blocks():
        previous = None
        for year in tqdm(years, desc="fit damped persistence", disable=not progress, leave=False):
            if previous is not None and year != previous + 1:
                yield None
            with YearFile(year_path(data_root, "mhw", year), "mhw") as f:
                yield f.read(0, f.n_days, ["ssta"])[:, 0]
            previous = year

    tau = float(fit_efolding_time(blocks(), max_lag=max_lag))
    if not np.isfinite(tau):
        raise ValueError(
            f"{data_root}: the SSTA of the training years {years} has no positive lag autocorrelation; "
            f"cannot fit the damped-persistence e-folding time"
        )
    return tau


def reference_forecasts(initial: np.ndarray, n_lead: int, tau_days: float) -> dict[str, np.ndarray]:
    """All references for the start states ``initial`` (S, H, W) -> {name: (S, L, H, W)} in K."""
    return {
        "Persistence": persistence(initial, n_lead),
        "DampedPersistence": damped_persistence(initial, n_lead, tau_days),
        "Climatology": climatology(initial, n_lead),
    }
