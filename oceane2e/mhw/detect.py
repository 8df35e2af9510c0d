"""Hobday et al. (2016) MHW event detection, vectorised over any number of grid cells.

A day *exceeds* when ``temp > thresh`` (strictly). Runs of at least ``min_duration`` exceeding
days are events; two events separated by at most ``max_gap`` non-exceeding days are joined into
one (the gap days belong to the joined event). Missing temperatures count as ``seas`` (they do
not exceed), as in the reference implementation. Runs are found for all cells at once from the
sign changes of the exceedance along time; there is no Python loop over cells or events.

Marine cold spells (``cold_spells=True``) are detected as the reference ``marineHeatWaves.detect``
does with ``coldSpells=True``: the series is negated, heatwaves of the negated series are found
with the ``percentile`` threshold (so the threshold of the series is its ``100 - percentile``th
percentile, the 10th by default, and a day is cold when ``temp < thresh``), then the climatology
and the intensities (plain, ``_relThresh`` and ``_abs``; max, mean and cumulative) are negated
back. Intensities of cold spells are therefore negative, ``intensity_*_abs`` are temperatures,
and ``intensity_var*``, onset/decline rates and categories are the (positive) values of the
negated series: category ``floor(1 + (thresh - temp) / (seas - thresh))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oceane2e.mhw.categories import category_number, daily_category
from oceane2e.mhw.climatology import check_daily_dates, compute_climatology, doy_index
from oceane2e.mhw.events import EventSpans, event_metrics

_TIME_CHUNK = 1024  # days compared with the threshold at once

#: event columns whose sign the reference flips back for cold spells (``intensity_var*`` stays >= 0)
COLD_SPELL_NEGATED: tuple[str, ...] = tuple(
    f"intensity_{kind}{suffix}"
    for suffix in ("", "_relThresh", "_abs")
    for kind in ("max", "mean", "cumulative")
)


def find_events(
    exceed: np.ndarray,
    *,
    min_duration: int = 5,
    max_gap: int = 2,
    join_across_gaps: bool = True,
    time_axis: int = 0,
) -> EventSpans:
    """Events in a boolean exceedance array.

    Args:
        exceed: bool array, True where the threshold is exceeded; (T, N) by default, or any
            shape with the time axis at ``time_axis`` (e.g. (S, T, H, W) with ``time_axis=1``).
        min_duration: shortest run of exceeding days that makes an event (days).
        max_gap: longest gap (days) across which two events are joined.
        join_across_gaps: join events across short gaps at all.
        time_axis: position of the time axis in ``exceed``.
    Returns:
        :class:`EventSpans` (cell, start, inclusive end), sorted by cell then time; ``cell`` is
        the C-order flat index over the non-time axes in their order (the column for (T, N)).
    """
    exceed = np.asarray(exceed, dtype=bool)
    if exceed.ndim < 2:
        raise ValueError(f"exceed must be (T, N) or have a time axis and cell axes, got shape {exceed.shape}")
    if min_duration < 1 or max_gap < 0:
        raise ValueError(f"need min_duration >= 1 and max_gap >= 0, got {min_duration}, {max_gap}")
    time_last = np.moveaxis(exceed, time_axis, -1)
    n_steps = time_last.shape[-1]
    padded = np.zeros((*time_last.shape[:-1], n_steps + 2), dtype=np.int8)
    padded[..., 1:-1] = time_last  # one strided copy; the zeros close runs at both ends
    padded = padded.reshape(-1, n_steps + 2)
    change = np.diff(padded, axis=1)  # (N, T+1): +1 at a run's first day, -1 after its last
    # row-major (by cell, then time), each run's +1 is followed by its -1: one scan gives both, alternating
    cells, steps = np.nonzero(change)
    cell, start, stop = cells[0::2], steps[0::2], steps[1::2]
    keep = stop - start >= min_duration
    cell, start, end = cell[keep], start[keep], stop[keep] - 1
    if join_across_gaps and cell.size > 1:
        gap = start[1:] - end[:-1] - 1
        new_event = np.concatenate([[True], (cell[1:] != cell[:-1]) | (gap > max_gap)])
        first = np.flatnonzero(new_event)
        last = np.append(first[1:] - 1, cell.size - 1)
        cell, start, end = cell[first], start[first], end[last]
    return EventSpans(cell=cell.astype(np.int64), start=start.astype(np.int64), end=end.astype(np.int64))


def spans_to_flags(spans: EventSpans, n_steps: int, n_cells: int) -> np.ndarray:
    """(T, N) bool, True on every day of every event (joined gap days included)."""
    flags = np.zeros((n_steps, n_cells), dtype=bool)
    if spans.n_events:
        event_id, t_idx, _, _ = spans.event_days()
        flags[t_idx, spans.cell[event_id]] = True
    return flags


def mhw_flags(exceed: np.ndarray, *, min_duration: int = 5, max_gap: int = 2) -> np.ndarray:
    """Daily MHW flags from exceedance: (T, ...) bool in, (T, ...) bool out (same shape)."""
    exceed = np.asarray(exceed, dtype=bool)
    flat = exceed.reshape(exceed.shape[0], -1)
    spans = find_events(flat, min_duration=min_duration, max_gap=max_gap)
    return spans_to_flags(spans, *flat.shape).reshape(exceed.shape)


@dataclass
class MHWResult:
    """Output of :func:`detect` for a series (grid shape ``()``) or a grid (grid shape (H, W), ...).

    Attributes:
        events: one row per event, reference column names (see ``events.EVENT_COLUMNS``), plus
            ``cell`` (flat index into the grid dims, C order; 0 for a single series).
        flags: (T, *grid) bool, True on MHW days.
        category: (T, *grid) int8, 0 none, 1 Moderate, 2 Strong, 3 Severe, 4 Extreme.
        seas, thresh: (366, *grid) day-of-year climatology and threshold (units of temp); for
            cold spells ``thresh`` is the low (e.g. 10th percentile) threshold, below ``seas``.
        dates: (T,) datetime64[D].
        cold_spells: True if the events are marine cold spells (negative intensities).
    """

    events: pd.DataFrame
    flags: np.ndarray
    category: np.ndarray
    seas: np.ndarray
    thresh: np.ndarray
    dates: np.ndarray
    cold_spells: bool = False

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(self.flags.shape[1:])


def detect(
    temp: np.ndarray,
    dates: np.ndarray,
    *,
    baseline: Sequence[int] | None = None,
    clim: tuple[np.ndarray, np.ndarray] | None = None,
    window_half_width: int = 5,
    smooth_width: int = 31,
    percentile: float = 90.0,
    min_duration: int = 5,
    max_gap: int = 2,
    join_across_gaps: bool = True,
    cold_spells: bool = False,
    progress: bool = False,
) -> MHWResult:
    """Detect MHWs (or marine cold spells) in a daily series or a grid of series (Hobday 2016,
    categories Hobday 2018).

    Args:
        temp: (T, ...) daily temperature (°C or K), any trailing grid dims; NaN = missing/land.
        dates: (T,) consecutive days, datetime64.
        baseline: (first_year, last_year) of the climatology; ``None``: the whole record.
        clim: precomputed ``(seas, thresh)``, each (366, ...); if given, ``baseline`` and the
            climatology options are ignored. For cold spells, the low threshold (below ``seas``).
        window_half_width, smooth_width, percentile: climatology options (see
            :func:`oceane2e.mhw.climatology.compute_climatology`). With ``cold_spells`` the
            threshold is the ``100 - percentile``th percentile (the reference's convention:
            ``percentile=90`` gives the 10th); ``percentile`` must then be at least 50.
        min_duration, max_gap, join_across_gaps: event rules (days).
        cold_spells: detect marine cold spells (runs below the low threshold), as the reference's
            ``coldSpells=True``: intensities are negative (see the module docstring).
        progress: show a progress bar over the days of year while computing the climatology.
    Returns:
        :class:`MHWResult`.
    """
    temp = np.asarray(temp)
    temp = temp if temp.dtype == np.float32 else temp.astype(np.float64, copy=False)
    if temp.ndim < 1:
        raise ValueError("temp must have a time axis first: (T, ...)")
    dates = check_daily_dates(dates, temp.shape[0])
    if cold_spells:
        if percentile < 50.0:
            raise ValueError(
                f"cold spells use the (100 - percentile)th percentile as threshold, as marineHeatWaves "
                f"does: pass percentile=90 for the 10th percentile (got percentile={percentile:g})"
            )
        result = detect(
            -temp,
            dates,
            baseline=baseline,
            clim=None if clim is None else tuple(-np.asarray(a, dtype=np.float64) for a in clim),
            window_half_width=window_half_width,
            smooth_width=smooth_width,
            percentile=percentile,
            min_duration=min_duration,
            max_gap=max_gap,
            join_across_gaps=join_across_gaps,
            progress=progress,
        )
        for column in COLD_SPELL_NEGATED:
            result.events[column] = -result.events[column]
        result.seas, result.thresh, result.cold_spells = -result.seas, -result.thresh, True
        return result
    if clim is None:
        seas366, thresh366 = compute_climatology(
            temp,
            dates,
            baseline=baseline,
            window_half_width=window_half_width,
            smooth_width=smooth_width,
            percentile=percentile,
            progress=progress,
        )
    else:
        seas366, thresh366 = (np.asarray(a, dtype=np.float64) for a in clim)
        for name, arr in (("seas", seas366), ("thresh", thresh366)):
            if arr.shape != (366, *temp.shape[1:]):
                raise ValueError(f"clim {name} has shape {arr.shape}, expected {(366, *temp.shape[1:])}")
    n_steps, grid_shape = temp.shape[0], temp.shape[1:]
    flat = temp.reshape(n_steps, -1)
    n_cells = flat.shape[1]
    # only cells with data and a climatology can have events (land is skipped entirely)
    n_missing = np.count_nonzero(np.isnan(flat), axis=0)
    active = np.flatnonzero((n_missing < n_steps) & np.any(np.isfinite(thresh366.reshape(366, -1)), axis=0))
    doy = doy_index(dates)
    seas_c = np.take(seas366.reshape(366, -1), active, axis=1)  # (366, N_active)
    thresh_c = np.take(thresh366.reshape(366, -1), active, axis=1)
    values = flat if active.size == n_cells else np.take(flat, active, axis=1)  # (T, N_active)
    if np.any(n_missing[active]):  # missing days count as the climatology (they never exceed)
        rows, cols = np.nonzero(np.isnan(values))
        values = values.astype(np.float64)
        values[rows, cols] = seas_c[doy[rows], cols]
    exceed = np.empty(values.shape, dtype=bool)
    for t0 in range(0, n_steps, _TIME_CHUNK):  # chunks bound the memory of the expanded threshold
        t1 = min(t0 + _TIME_CHUNK, n_steps)
        np.greater(values[t0:t1], thresh_c[doy[t0:t1]], out=exceed[t0:t1])  # False where NaN
    spans = find_events(exceed, min_duration=min_duration, max_gap=max_gap, join_across_gaps=join_across_gaps)

    events = event_metrics(values, seas_c, thresh_c, doy, dates, spans)
    events["cell"] = active[events["cell"].to_numpy()]
    flags = np.zeros((n_steps, n_cells), dtype=bool)
    category = np.zeros((n_steps, n_cells), dtype=np.int8)
    if spans.n_events:
        event_id, t_idx, _, _ = spans.event_days()
        cells = spans.cell[event_id]
        number = category_number(
            values[t_idx, cells].astype(np.float64), seas_c[doy[t_idx], cells], thresh_c[doy[t_idx], cells]
        )
        flags[t_idx, active[cells]] = True
        category[t_idx, active[cells]] = daily_category(number, np.ones_like(number, dtype=bool))
    return MHWResult(
        events=events,
        flags=flags.reshape(n_steps, *grid_shape),
        category=category.reshape(n_steps, *grid_shape),
        seas=seas366,
        thresh=thresh366,
        dates=dates,
    )
