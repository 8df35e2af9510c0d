"""Per-event MHW metrics, vectorised over all events of all cells at once.

Column names and definitions follow the reference implementation (``marineHeatWaves.detect``,
heatwaveR's ``detect_event`` uses the same names): intensities relative to ``seas`` (plain),
to ``thresh`` (``_relThresh``) and absolute (``_abs``); ``intensity_var`` is the standard
deviation over the event; the peak is the first day of maximum ``temp - seas``; onset and decline
rates assume the event starts and ends half a day before / after its first / last day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from oceane2e.mhw.categories import CATEGORY_NAMES, EXTREME

EVENT_COLUMNS: tuple[str, ...] = (
    "event_no",
    "date_start",
    "date_end",
    "date_peak",
    "duration",
    "intensity_max",
    "intensity_mean",
    "intensity_var",
    "intensity_cumulative",
    "intensity_max_relThresh",
    "intensity_mean_relThresh",
    "intensity_var_relThresh",
    "intensity_cumulative_relThresh",
    "intensity_max_abs",
    "intensity_mean_abs",
    "intensity_var_abs",
    "intensity_cumulative_abs",
    "rate_onset",
    "rate_decline",
    "category",
    "duration_moderate",
    "duration_strong",
    "duration_severe",
    "duration_extreme",
    "index_start",
    "index_peak",
    "index_end",
)


@dataclass(frozen=True)
class EventSpans:
    """MHW events of many cells: event ``e`` covers time indices ``start[e]..end[e]`` (inclusive)
    of flat cell ``cell[e]``; sorted by cell, then time. All arrays (E,) int64."""

    cell: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def n_events(self) -> int:
        return int(self.cell.size)

    @property
    def duration(self) -> np.ndarray:
        return self.end - self.start + 1

    def event_days(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All event days flattened: ``(event_id, time_index, day_in_event, offsets)``.

        ``offsets`` (E,) is the position of each event's first day in the flat arrays (for
        ``np.ufunc.reduceat``); the other three have one entry per event day.
        """
        duration = self.duration
        offsets = np.concatenate([[0], np.cumsum(duration)[:-1]]).astype(np.int64)
        event_id = np.repeat(np.arange(self.n_events), duration)
        day_in_event = np.arange(int(duration.sum()), dtype=np.int64) - offsets[event_id]
        time_index = self.start[event_id] + day_in_event
        return event_id, time_index, day_in_event, offsets


def _first_argmax(values: np.ndarray, day_in_event: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-segment index (within the segment) of the first maximum, like ``np.argmax``."""
    seg_max = np.maximum.reduceat(values, offsets)
    seg_id = np.repeat(np.arange(offsets.size), np.diff(np.append(offsets, values.size)))
    at_max = values == seg_max[seg_id]
    big = np.iinfo(np.int64).max
    return np.minimum.reduceat(np.where(at_max, day_in_event, big), offsets)


def _segment_stats(values: np.ndarray, event_id: np.ndarray, offsets: np.ndarray, duration: np.ndarray):
    """Per-segment mean, standard deviation (population) and sum."""
    total = np.add.reduceat(values, offsets)
    mean = total / duration
    std = np.sqrt(np.add.reduceat((values - mean[event_id]) ** 2, offsets) / duration)
    return mean, std, total


def event_metrics(
    temp: np.ndarray,
    seas: np.ndarray,
    thresh: np.ndarray,
    doy: np.ndarray,
    dates: np.ndarray,
    spans: EventSpans,
) -> pd.DataFrame:
    """Metrics of every event, one row each, with the reference's column names.

    Args:
        temp: (T, N) temperature (float32 or float64) with missing values already replaced by
            the climatology.
        seas, thresh: (366, N) day-of-year climatology and threshold (same units as ``temp``).
        doy: (T,) 0-based day of year (366-day calendar) of each time step.
        dates: (T,) datetime64[D] of the time axis.
        spans: the events (cells index the N axis).
    Returns:
        DataFrame with :data:`EVENT_COLUMNS` (``event_no`` counts from 1 within each cell), plus
        a ``cell`` column (flat cell index) first. Durations and indices are int; dates datetime64.
    """
    n_steps = temp.shape[0]
    columns = ("cell", *EVENT_COLUMNS)
    if spans.n_events == 0:
        return pd.DataFrame({c: pd.Series(dtype=_dtype_of(c)) for c in columns})
    event_id, t_idx, day, offsets = spans.event_days()
    cell_of_day = spans.cell[event_id]
    tv = temp[t_idx, cell_of_day].astype(np.float64)
    sv = seas[doy[t_idx], cell_of_day]
    hv = thresh[doy[t_idx], cell_of_day]
    rel_seas = tv - sv
    rel_thresh = tv - hv
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = rel_thresh / (hv - sv)
    duration = spans.duration

    peak = _first_argmax(rel_seas, day, offsets)
    peak_flat = offsets + peak
    out: dict[str, np.ndarray] = {"cell": spans.cell}
    # event_no: 1.. within each cell
    new_cell = np.concatenate([[True], spans.cell[1:] != spans.cell[:-1]])
    first_of_cell = np.maximum.accumulate(np.where(new_cell, np.arange(spans.n_events), 0))
    out["event_no"] = np.arange(spans.n_events) - first_of_cell + 1
    out["date_start"] = dates[spans.start]
    out["date_end"] = dates[spans.end]
    out["date_peak"] = dates[spans.start + peak]
    out["duration"] = duration
    for suffix, values in (("", rel_seas), ("_relThresh", rel_thresh), ("_abs", tv)):
        mean, std, total = _segment_stats(values, event_id, offsets, duration)
        out[f"intensity_max{suffix}"] = values[peak_flat]
        out[f"intensity_mean{suffix}"] = mean
        out[f"intensity_var{suffix}"] = std
        out[f"intensity_cumulative{suffix}"] = total
    i_max = rel_seas[peak_flat]
    out["rate_onset"], out["rate_decline"] = _rates(
        temp, seas, doy, spans, rel_seas, offsets, peak, i_max, n_steps
    )

    cats = np.floor(1.0 + norm)
    peak_cat = np.nan_to_num(np.floor(1.0 + np.maximum.reduceat(norm, offsets)), nan=1.0)
    peak_cat = np.clip(peak_cat, 1, EXTREME).astype(np.int64)
    out["category"] = np.asarray(CATEGORY_NAMES, dtype=object)[peak_cat - 1]
    for code, name in enumerate(("moderate", "strong", "severe"), start=1):
        out[f"duration_{name}"] = np.add.reduceat((cats == code).astype(np.int64), offsets)
    out["duration_extreme"] = np.add.reduceat((cats >= EXTREME).astype(np.int64), offsets)
    out["index_start"] = spans.start
    out["index_peak"] = spans.start + peak
    out["index_end"] = spans.end
    return pd.DataFrame({c: out[c] for c in columns})


def _rates(temp, seas, doy, spans, rel_seas, offsets, peak, i_max, n_steps):
    """Onset and decline rates (units of temp per day), as the reference defines them.

    Inside the record the event is taken to start half a day before its first day (intensity the
    mean of the first day and the day before) and to end half a day after its last day. An event
    that touches the start or end of the record uses its first / last day instead; when the peak is
    that very day the time is taken as one day (the reference intends this; its end-of-record test
    compares the peak's position in the event with the record length, which yields 0/0 there).
    """
    duration = spans.duration
    first = rel_seas[offsets]
    last = rel_seas[offsets + duration - 1]
    before = np.maximum(spans.start - 1, 0)
    after = np.minimum(spans.end + 1, n_steps - 1)
    start_int = 0.5 * (first + temp[before, spans.cell].astype(np.float64) - seas[doy[before], spans.cell])
    end_int = 0.5 * (last + temp[after, spans.cell].astype(np.float64) - seas[doy[after], spans.cell])
    inside_start = spans.start > 0
    inside_end = spans.end < n_steps - 1
    onset = np.where(
        inside_start,
        (i_max - start_int) / (peak + 0.5),
        (i_max - first) / np.where(peak == 0, 1, peak),
    )
    tail = duration - 1 - peak  # days from peak to last day
    decline = np.where(
        inside_end,
        (i_max - end_int) / (tail + 0.5),
        (i_max - last) / np.where(tail == 0, 1, tail),
    )
    return onset, decline


def _dtype_of(column: str):
    if column.startswith("date_"):
        return "datetime64[s]"
    if column == "category":
        return "str"
    if column in ("cell", "event_no", "duration") or column.startswith(("index_", "duration_")):
        return "int64"
    return "float64"
