"""Day-of-year climatology and percentile threshold of Hobday et al. (2016), vectorised over grids.

The method is the one of the reference implementations (``marineHeatWaves.detect`` by E. Oliver,
which produced every file in ``../shared/realdata/mhw_reference``; heatwaveR follows it):

1. Day of year on the 366-day calendar: in non-leap years days after 28 February are shifted by
   one, so 1 March is always index 60 and index 59 (29 February) occurs only in leap years.
2. For every day of year ``d`` except 29 February, pool the temperatures of all days that lie
   within ``±window_half_width`` *time steps* of a baseline day whose day of year is ``d``. The
   window is taken on the time axis, so it crosses 29 February in leap years and may reach a few
   days outside the baseline years at its two ends (the reference does exactly this); only
   indices outside the record are dropped.
3. ``seas`` is the mean and ``thresh`` the ``percentile`` (linear interpolation between order
   statistics, numpy's default) of the pool, both ignoring NaN.
4. 29 February gets the average of 28 February and 1 March.
5. Both are smoothed by a circular running mean of ``smooth_width`` days (the 366-day year wraps).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from oceane2e.dates import leap_doy_index

DAYS_IN_CLIM_YEAR = 366
FEB29_INDEX = 59  # 0-based index of 29 February on the 366-day calendar


def doy_index(dates: np.ndarray) -> np.ndarray:
    """0-based day of year on the 366-day calendar (1 March is always 60) for ``dates`` (datetime64)."""
    return np.asarray(leap_doy_index(np.asarray(dates, dtype="datetime64[D]")), dtype=np.int64)


def check_daily_dates(dates: np.ndarray, n_steps: int, *, what: str = "temp") -> np.ndarray:
    """Validate that ``dates`` are ``n_steps`` consecutive days; return them as datetime64[D]."""
    dates = np.asarray(dates)
    if not np.issubdtype(dates.dtype, np.datetime64):
        raise ValueError(
            f"dates must be datetime64 (got dtype {dates.dtype}); convert with np.asarray(..., 'datetime64[D]')"
        )
    dates = dates.astype("datetime64[D]")
    if dates.ndim != 1 or dates.size != n_steps:
        raise ValueError(f"dates has shape {dates.shape} but {what} has {n_steps} time steps along axis 0")
    if n_steps > 1 and not np.all(np.diff(dates).astype(np.int64) == 1):
        bad = int(np.flatnonzero(np.diff(dates).astype(np.int64) != 1)[0])
        raise ValueError(
            f"dates must be consecutive days; the step after {dates[bad]} goes to {dates[bad + 1]}. "
            "Insert the missing days with NaN temperatures."
        )
    return dates


def circular_running_mean(values: np.ndarray, width: int) -> np.ndarray:
    """Running mean of ``width`` days along axis 0, treating axis 0 as periodic.

    Same alignment as the reference (``np.convolve(..., mode="same")`` on a tripled series): the
    window of day ``i`` covers ``i - width // 2 .. i + (width - 1) // 2`` (centred for odd width).

    Args:
        values: (N, ...) array, e.g. (366, H, W).
        width: window length in days; 1 (or less) returns a copy unchanged.
    """
    values = np.asarray(values, dtype=np.float64)
    if width <= 1:
        return values.copy()
    n = values.shape[0]
    if width > n:
        raise ValueError(f"smoothing width {width} is longer than the period {n}")
    total = np.zeros_like(values)
    for shift in range(-(width // 2), (width - 1) // 2 + 1):
        total += np.roll(values, -shift, axis=0)
    return total / width


def _lerp(lower: np.ndarray, upper: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """numpy's linear interpolation between order statistics (stable form for frac >= 0.5)."""
    diff = upper - lower
    return np.where(frac >= 0.5, upper - diff * (1.0 - frac), lower + diff * frac)


def _pool_mean_and_percentile(
    pool: np.ndarray, percentile: float, *, complete: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """NaN-ignoring mean and percentile of each row of ``pool`` (N, n) -> two (N,) arrays.

    Same as ``np.nanmean`` and ``np.nanpercentile(..., method="linear")`` along axis 1, without a
    loop over rows: the rows are sorted in place (NaN last) and the order statistics picked by the
    number of valid values of each row. An all-NaN row gives NaN. ``complete=True`` promises that
    ``pool`` holds no NaN and skips the NaN bookkeeping.
    """
    if complete:
        mean = pool.sum(axis=1, dtype=np.float64) / pool.shape[1]
        pool.sort(axis=1)
        rank = (pool.shape[1] - 1) * (percentile / 100.0)
        lo = int(np.floor(rank))
        hi = min(lo + 1, pool.shape[1] - 1)
        frac = np.full(pool.shape[0], rank - lo)
        return mean, _lerp(pool[:, lo].astype(np.float64), pool[:, hi].astype(np.float64), frac)
    n_valid = pool.shape[1] - np.count_nonzero(np.isnan(pool), axis=1)
    has_data = n_valid > 0
    safe_n = np.maximum(n_valid, 1)
    mean = np.where(has_data, np.nansum(pool, axis=1, dtype=np.float64) / safe_n, np.nan)
    pool.sort(axis=1)
    rank = (safe_n - 1) * (percentile / 100.0)
    lo = np.floor(rank).astype(np.int64)
    hi = np.minimum(lo + 1, safe_n - 1)
    rows = np.arange(pool.shape[0])
    lower = pool[rows, lo].astype(np.float64)
    upper = pool[rows, hi].astype(np.float64)
    value = _lerp(lower, upper, rank - lo)
    return mean, np.where(has_data, value, np.nan)


def compute_climatology(
    temp: np.ndarray,
    dates: np.ndarray,
    *,
    baseline: Sequence[int] | None,
    window_half_width: int = 5,
    smooth_width: int = 31,
    percentile: float = 90.0,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Hobday (2016) day-of-year climatology ``seas`` and threshold ``thresh``.

    Args:
        temp: (T, ...) daily temperature (e.g. SST in °C or K), any trailing grid dims; NaN for
            missing days or land (a cell that is NaN throughout gives NaN outputs). float32 input
            is handled without conversion (same results, half the memory).
        dates: (T,) consecutive days, datetime64.
        baseline: (first_year, last_year), inclusive, of the climatology period; ``None`` uses the
            whole record (the reference's default).
        window_half_width: half-width in days of the pooling window (5 -> 11 days).
        smooth_width: width in days of the circular running mean applied to both outputs
            (1 or 0: no smoothing).
        percentile: threshold percentile (90 for MHWs).
        progress: show a progress bar over the 366 days of year.
    Returns:
        ``(seas, thresh)``, each (366, ...) float64 in the units of ``temp``; index 0 is 1 January
        and index 59 is 29 February.
    """
    temp = np.asarray(temp)
    # float32 input stays float32 while pooling and sorting (exact: the order statistics of the
    # float32 values are the same numbers in float64), which halves memory and sort time; means
    # and interpolation are computed in float64.
    temp = temp if temp.dtype == np.float32 else temp.astype(np.float64, copy=False)
    if temp.ndim < 1 or temp.shape[0] == 0:
        raise ValueError(f"temp must be (T, ...) with T > 0, got shape {temp.shape}")
    dates = check_daily_dates(dates, temp.shape[0])
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be within [0, 100], got {percentile}")
    if window_half_width < 0:
        raise ValueError(f"window_half_width must be >= 0, got {window_half_width}")
    n_steps = temp.shape[0]
    grid_shape = temp.shape[1:]
    flat = temp.reshape(n_steps, -1)

    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    first, last = (
        (int(years[0]), int(years[-1])) if baseline is None else (int(baseline[0]), int(baseline[1]))
    )
    if first > last:
        raise ValueError(f"baseline {baseline} must be (first_year, last_year) with first <= last")
    if not (np.any(years == first) and np.any(years == last)):
        raise ValueError(
            f"baseline {first}-{last} is not covered by the record {dates[0]}..{dates[-1]}; "
            "choose baseline years inside the record"
        )
    clim_start = int(np.flatnonzero(years == first)[0])
    clim_end = int(np.flatnonzero(years == last)[-1])

    doy = doy_index(dates)
    base_doy = doy[clim_start : clim_end + 1]
    # cells with no data at all (land) are left NaN; if no other cell misses a day, the NaN
    # bookkeeping is skipped
    n_missing = np.count_nonzero(np.isnan(flat), axis=0)
    active = np.flatnonzero(n_missing < n_steps)
    complete = bool(np.all(n_missing[active] == 0))
    cells_by_time = np.ascontiguousarray(
        np.take(flat, active, axis=1).T
    )  # (N_active, T): windows are contiguous slices

    seas = np.full((DAYS_IN_CLIM_YEAR, flat.shape[1]), np.nan)
    thresh = np.full_like(seas, np.nan)
    days = range(DAYS_IN_CLIM_YEAR)
    if progress:
        from tqdm.auto import tqdm

        days = tqdm(days, desc="climatology (days of year)", unit="doy")
    for d in days:
        if d == FEB29_INDEX:
            continue
        centres = clim_start + np.flatnonzero(base_doy == d)
        if centres.size == 0:
            continue
        pool = np.concatenate(
            [
                cells_by_time[:, max(c - window_half_width, 0) : min(c + window_half_width + 1, n_steps)]
                for c in centres
            ],
            axis=1,
        )  # (N_active, n_pool)
        seas[d, active], thresh[d, active] = _pool_mean_and_percentile(pool, percentile, complete=complete)
    seas[FEB29_INDEX] = 0.5 * (seas[FEB29_INDEX - 1] + seas[FEB29_INDEX + 1])
    thresh[FEB29_INDEX] = 0.5 * (thresh[FEB29_INDEX - 1] + thresh[FEB29_INDEX + 1])

    if smooth_width and smooth_width > 1:
        seas = circular_running_mean(seas, smooth_width)
        thresh = circular_running_mean(thresh, smooth_width)
    return seas.reshape(DAYS_IN_CLIM_YEAR, *grid_shape), thresh.reshape(DAYS_IN_CLIM_YEAR, *grid_shape)
