"""MHWs in SSTA forecasts, judged with the observed climatology (DESIGN.md §7).

For every forecast (start date ``time0`` = the last observed day, leads 1..L), the observed SSTA
of the days up to and including ``time0`` is put in front of the forecast so that the Hobday
rules (runs of at least ``min_duration`` days, gaps of at most ``max_gap`` days joined) hold
across the start date: three observed exceeding days followed by two forecast ones make an
event, four forecast days alone do not. A day exceeds when ``ssta > thresh - seas`` for its day
of year (``clim.nc`` holds the climatology of SST and SSTA = SST - seas, INTERFACES.md), and its
category is ``floor(ssta / (thresh - seas))`` clipped to 1..4 on event days.

The same function applied to the *observed* SSTA in place of the forecast gives the truth the
forecast flags are scored against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oceane2e.mhw.categories import category_number, daily_category
from oceane2e.mhw.climatology import doy_index
from oceane2e.mhw.detect import find_events

_EPOCH = np.datetime64("1970-01-01", "D")
_CHUNK_ELEMENTS = 4_000_000  # (forecast, day, cell) values handled at once


@dataclass
class ForecastMHW:
    """MHW flags and categories of forecasts.

    Attributes:
        flags: (S, L, H, W) bool, True where lead day l of forecast s is an MHW day.
        category: (S, L, H, W) int8, 0 none, 1 Moderate .. 4 Extreme.
        exceed: (S, L, H, W) bool, the raw daily exceedance ``ssta > thresh - seas``.
    """

    flags: np.ndarray
    category: np.ndarray
    exceed: np.ndarray


def _as_days(time0: np.ndarray) -> np.ndarray:
    """Start dates as datetime64[D]; accepts datetime64 or int days since 1970-01-01."""
    time0 = np.asarray(time0)
    if np.issubdtype(time0.dtype, np.datetime64):
        return time0.astype("datetime64[D]")
    if np.issubdtype(time0.dtype, np.integer):
        return _EPOCH + time0.astype(np.int64)
    raise ValueError(f"time0 must be datetime64 or int days since 1970-01-01, got dtype {time0.dtype}")


def ssta_threshold(seas: np.ndarray, thresh: np.ndarray, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SSTA threshold ``thresh - seas`` and ``seas`` for ``dates`` -> two (len(dates), ...) arrays."""
    idx = doy_index(np.asarray(dates, dtype="datetime64[D]"))
    return (np.asarray(thresh)[idx] - np.asarray(seas)[idx]), np.asarray(seas)[idx]


def forecast_mhw(
    forecast: np.ndarray,
    history: np.ndarray,
    time0: np.ndarray,
    seas: np.ndarray,
    thresh: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    min_duration: int = 5,
    max_gap: int = 2,
) -> ForecastMHW:
    """Per-cell, per-lead MHW flags and categories of every forecast.

    Args:
        forecast: (S, L, H, W) forecast SSTA (K); lead l (0-based) is the day ``time0 + l + 1``.
        history: (S, P, H, W) observed SSTA (K) of the P days ``time0 - P + 1 .. time0`` (the
            last one is the start date itself). P >= min_duration - 1 + max_gap lets every event
            that reaches into the forecast be seen whole; 30 days is ample.
        time0: (S,) start dates, datetime64 or int days since 1970-01-01.
        seas, thresh: (366, H, W) day-of-year climatology of SST (``clim.nc``), K or °C.
        mask: (H, W) bool ocean mask; land is never an MHW. NaN SSTA never exceeds either.
        min_duration, max_gap: Hobday rules (days).

    A run still going at the last lead is judged on the days seen (a 4-day run at leads
    L-3..L is not an event). Forecasts are processed a few at a time to bound memory.

    Returns:
        :class:`ForecastMHW` with (S, L, H, W) arrays.
    """
    forecast = np.asarray(forecast)
    history = np.asarray(history)
    if forecast.ndim != 4 or history.ndim != 4:
        raise ValueError(
            f"forecast must be (S, L, H, W) and history (S, P, H, W); got {forecast.shape} and {history.shape}"
        )
    n_samples, n_lead, *grid = forecast.shape
    if history.shape[0] != n_samples or list(history.shape[2:]) != grid:
        raise ValueError(f"history {history.shape} does not match forecast {forecast.shape} in S, H, W")
    for name, arr in (("seas", seas), ("thresh", thresh)):
        if np.shape(arr) != (366, *grid):
            raise ValueError(f"{name} has shape {np.shape(arr)}, expected {(366, *grid)} (doy, lat, lon)")
    starts = _as_days(time0).reshape(-1)
    if starts.size != n_samples:
        raise ValueError(f"time0 has {starts.size} dates for {n_samples} forecasts")
    n_hist = history.shape[1]
    seas, thresh, limit = _prepared(seas, thresh)
    ocean = None if mask is None else np.asarray(mask, dtype=bool)
    if ocean is not None and list(ocean.shape) != grid:
        raise ValueError(f"mask has shape {ocean.shape}, expected {tuple(grid)}")

    flags = np.zeros(forecast.shape, dtype=bool)
    category = np.zeros(forecast.shape, dtype=np.int8)
    exceed = np.zeros(forecast.shape, dtype=bool)
    per_sample = (n_hist + n_lead) * int(np.prod(grid))
    chunk = max(1, _CHUNK_ELEMENTS // max(per_sample, 1))  # bounds memory; no loop over cells
    for s0 in range(0, n_samples, chunk):
        s1 = min(s0 + chunk, n_samples)
        f, c, e = _forecast_chunk(
            forecast[s0:s1], history[s0:s1], starts[s0:s1], seas, thresh, limit, ocean, min_duration, max_gap
        )
        flags[s0:s1], category[s0:s1], exceed[s0:s1] = f, c, e
    return ForecastMHW(flags=flags, category=category, exceed=exceed)


#: the float64 climatology and SSTA threshold of the last read-only climatology (``clim.nc`` as read by
#: :func:`oceane2e.data.contract.read_clim`); the evaluation detects the MHWs of every forecast and start date
#: with the same one, and converting it each time was ~15 % of the main command's evaluation
_PREPARED: list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
_PREPARED_MAX_BYTES = 256 * 2**20


def _prepared(seas: np.ndarray, thresh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``seas``, ``thresh`` as float64 and the SSTA threshold ``thresh - seas``; kept for the next call when both
    inputs are read-only arrays (so they cannot have changed since) and the three fit in 256 MB."""
    for s_in, t_in, out in _PREPARED:
        if s_in is seas and t_in is thresh:
            return out
    s64, t64 = np.asarray(seas, dtype=np.float64), np.asarray(thresh, dtype=np.float64)
    out = (s64, t64, t64 - s64)
    frozen = all(isinstance(a, np.ndarray) and not a.flags.writeable for a in (seas, thresh))
    if frozen and 3 * s64.nbytes <= _PREPARED_MAX_BYTES:
        _PREPARED[:] = [(seas, thresh, out)]
    return out


def _forecast_chunk(forecast, history, starts, seas, thresh, limit, ocean, min_duration, max_gap):
    """:func:`forecast_mhw` for a few forecasts at once -> (flags, category, exceed), (s, L, H, W);
    ``limit`` = ``thresh - seas`` (366, H, W)."""
    n_samples, n_lead, *grid = forecast.shape
    n_hist = history.shape[1]
    n_cells = int(np.prod(grid))
    dates = starts[:, None] + np.arange(-n_hist + 1, n_lead + 1)[None, :]  # (s, P+L)
    idx = doy_index(dates.ravel()).reshape(dates.shape)
    exceed = np.empty((n_samples, n_hist + n_lead, *grid), dtype=bool)
    with np.errstate(invalid="ignore"):  # NaN never exceeds
        np.greater(history, limit[idx[:, :n_hist]], out=exceed[:, :n_hist])
        np.greater(forecast, limit[idx[:, n_hist:]], out=exceed[:, n_hist:])
    if ocean is not None:
        exceed &= ocean
    spans = find_events(exceed, min_duration=min_duration, max_gap=max_gap, time_axis=1)

    flags = np.zeros(n_samples * n_lead * n_cells, dtype=bool)
    category = np.zeros(n_samples * n_lead * n_cells, dtype=np.int8)
    # only the forecast days are returned: the events' days from the first lead on, as flat indices
    on_lead = spans.end >= n_hist
    if np.any(on_lead):
        start = np.maximum(spans.start[on_lead], n_hist) - n_hist  # leads 0..L-1
        duration = spans.end[on_lead] - n_hist - start + 1
        sample, cell = np.divmod(spans.cell[on_lead], n_cells)
        # each event's first day at (sample, lead, cell), then its later days one lead (n_cells values) apart
        first = (sample * n_lead + start) * n_cells + cell
        offsets = np.cumsum(duration) - duration
        day = np.arange(int(duration.sum()), dtype=np.int64) - np.repeat(offsets, duration)
        flat = np.repeat(first, duration) + day * n_cells
        doy = idx[:, n_hist:].ravel()[flat // n_cells]  # idx of (sample, lead)
        cell_of_day = np.repeat(cell, duration)
        ssta = forecast.reshape(-1)[flat].astype(np.float64)
        s_day = seas.reshape(-1)[doy * n_cells + cell_of_day]
        h_day = thresh.reshape(-1)[doy * n_cells + cell_of_day]
        number = category_number(ssta + s_day, s_day, h_day)
        flags[flat] = True
        category[flat] = daily_category(number, np.ones_like(number, dtype=bool))
    shape = (n_samples, n_lead, *grid)
    return flags.reshape(shape), category.reshape(shape), exceed[:, n_hist:]
