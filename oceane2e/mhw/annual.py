"""Annual (block) statistics of detected events and their linear trends, for series and grids.

Definitions are those of the reference ``marineHeatWaves.blockAverage`` and ``meanTrend`` (E. Oliver),
so a series gives the reference's numbers; everything is vectorised over the cells of a grid.

Block averages (:func:`block_average`), blocks of ``block_years`` calendar years from the first
year of the record (partial years at the ends of the record are blocks of their own):

* An event belongs to the block of its **start** year: ``count`` and the block means of every event
  metric (``duration``, ``intensity_*``, ``rate_onset``, ``rate_decline``) use the events that
  start in the block; ``intensity_max_max`` is the strongest peak among them.
* ``total_days`` counts the event days that fall in the block: an event crossing a year boundary
  gives its days to each year it covers.
* ``total_icum`` sums ``intensity_cumulative`` into the block of the event's **end** year. This is
  what the reference code computes (its comment says "start year"; its loop over the years of a
  multi-year event leaves the block index at the last one). heatwaveR's ``block_average`` uses the
  start year for both ``total_days`` and ``total_icum``; the two agree for events within one year.
* Blocks without events: ``count``, ``total_days`` and ``total_icum`` are 0, every mean and
  ``intensity_max_max`` NaN.
* With the temperature: ``temp_mean``, ``temp_max``, ``temp_min`` (NaN ignored) and the number of
  event days of each category, ``moderate_days`` .. ``extreme_days`` (from the daily category number
  ``floor(1 + (temp - thresh) / (thresh - seas))``, so the below-threshold gap days joined into an
  event and missing days are in no category, as in the reference).
* ``remove_missing=True`` sets every event statistic of a block to NaN where the block has a
  missing temperature (the reference's ``removeMissing``).

Cold spells (``MHWResult.cold_spells``): the same, with the negative intensities of the events;
``intensity_max_max`` is then the most negative peak. (The reference starts its running maximum
at 0, which gives 0 for every block with cold spells; for heatwaves, whose peaks are positive,
the two are the same.)

Trends (:func:`mean_trend`): for each statistic and cell, the least-squares line through the
blocks with a value (NaN blocks are left out), against the block centre years
(``years_centre``) minus their mean over all blocks. ``mean`` is the line at that centre, the
slope is reported per decade (the reference's ``trend`` is per year: 10x smaller), with its
standard error, the half-width ``dtrend`` of its ``1 - alpha`` confidence interval (the reference's
``dtrend``, here per decade) and the two-sided p-value of a zero slope (Student t, n - 2 degrees
of freedom). A statistic with fewer than 2 valid blocks has no trend, fewer than 3 no error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from oceane2e.mhw.climatology import doy_index
from oceane2e.mhw.detect import MHWResult

#: event metrics averaged over the events that start in a block (reference order)
EVENT_MEANS: tuple[str, ...] = (
    "duration",
    "intensity_max",
    "intensity_mean",
    "intensity_cumulative",
    "intensity_var",
    "intensity_max_relThresh",
    "intensity_mean_relThresh",
    "intensity_cumulative_relThresh",
    "intensity_var_relThresh",
    "intensity_max_abs",
    "intensity_mean_abs",
    "intensity_cumulative_abs",
    "intensity_var_abs",
    "rate_onset",
    "rate_decline",
)
TEMP_STATS: tuple[str, ...] = ("temp_mean", "temp_max", "temp_min")
CATEGORY_DAYS: tuple[str, ...] = ("moderate_days", "strong_days", "severe_days", "extreme_days")
#: every block statistic, in the order of the outputs (the reference's order)
BLOCK_STATS: tuple[str, ...] = (
    "count",
    "duration",
    "intensity_max",
    "intensity_max_max",
    *EVENT_MEANS[2:],
    "total_days",
    "total_icum",
    *TEMP_STATS,
    *CATEGORY_DAYS,
)
#: statistics that are whole numbers (days or events) wherever they are not NaN
COUNT_STATS: tuple[str, ...] = ("count", "total_days", *CATEGORY_DAYS)


def stat_units(name: str, temp_units: str) -> str:
    """Units of a block statistic, given the temperature units (e.g. ``degC``)."""
    if name == "count":
        return "1"
    if name in ("duration", "total_days", *CATEGORY_DAYS):
        return "days"
    if "cumulative" in name or name == "total_icum":
        return f"{temp_units} days".strip()
    if name.startswith("rate_"):
        return f"{temp_units} day-1".strip()
    return temp_units


@dataclass
class BlockStats:
    """Statistics per block of years (output of :func:`block_average`).

    Attributes:
        years_start: (B,) first calendar year of each block.
        block_years: length of the blocks in years.
        stats: name -> (B, *grid) float64 array, names in :data:`BLOCK_STATS` order (the
            temperature and category statistics only when the temperature was given).
        cold_spells: True for the statistics of marine cold spells.
    """

    years_start: np.ndarray
    block_years: int
    stats: dict[str, np.ndarray]
    cold_spells: bool = False

    @property
    def years_end(self) -> np.ndarray:
        return self.years_start + self.block_years - 1

    @property
    def years_centre(self) -> np.ndarray:
        return 0.5 * (self.years_start + self.years_end)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(next(iter(self.stats.values())).shape[1:])

    def to_frame(self, cell: int | None = None) -> pd.DataFrame:
        """One row per block: ``years_start, years_end, years_centre`` and the statistics.

        Args:
            cell: flat (C-order) index of the grid cell; ``None`` for a single series.
        """
        if cell is None and self.grid_shape:
            raise ValueError(f"grid statistics {self.grid_shape}: pass the flat index of a cell")
        frame = pd.DataFrame(
            {"years_start": self.years_start, "years_end": self.years_end, "years_centre": self.years_centre}
        )
        for name, values in self.stats.items():
            column = values.reshape(values.shape[0], -1)[:, 0 if cell is None else cell]
            frame[name] = pd.array(column, dtype="Int64") if name in COUNT_STATS else column
        return frame


@dataclass
class TrendStats:
    """Mean and linear trend of each block statistic (output of :func:`mean_trend`).

    Attributes:
        statistics: (S,) names of the statistics.
        mean: (S, *grid) value of the fitted line at the centre of the record.
        trend_per_decade: (S, *grid) slope per 10 years.
        stderr_per_decade: (S, *grid) standard error of the slope.
        dtrend_per_decade: (S, *grid) half-width of the ``1 - alpha`` confidence interval.
        p_value: (S, *grid) two-sided p-value of a zero slope.
        n_blocks: (S, *grid) number of blocks with a value.
        alpha: significance level of ``dtrend_per_decade``.
    """

    statistics: tuple[str, ...]
    mean: np.ndarray
    trend_per_decade: np.ndarray
    stderr_per_decade: np.ndarray
    dtrend_per_decade: np.ndarray
    p_value: np.ndarray
    n_blocks: np.ndarray
    alpha: float

    #: the per-statistic quantities, in output order
    QUANTITIES = ("n_blocks", "mean", "trend_per_decade", "stderr_per_decade", "dtrend_per_decade", "p_value")

    def to_frame(self, cell: int | None = None) -> pd.DataFrame:
        """One row per statistic: ``statistic`` and :attr:`QUANTITIES` (``cell`` as in
        :meth:`BlockStats.to_frame`)."""
        if cell is None and self.mean.ndim > 1:
            raise ValueError(f"grid trends {self.mean.shape[1:]}: pass the flat index of a cell")
        frame = pd.DataFrame({"statistic": list(self.statistics)})
        for name in self.QUANTITIES:
            values = getattr(self, name)
            frame[name] = values.reshape(values.shape[0], -1)[:, 0 if cell is None else cell]
        return frame


def _years(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[Y]").astype(np.int64) + 1970


def block_average(
    result: MHWResult,
    temp: np.ndarray | None = None,
    *,
    block_years: int = 1,
    remove_missing: bool = False,
) -> BlockStats:
    """Event statistics per block of years, as the reference's ``blockAverage`` (module docstring).

    Args:
        result: the output of :func:`oceane2e.mhw.detect.detect` (heatwaves or cold spells).
        temp: (T, *grid) the temperature the events were detected in (NaN = missing), for the
            temperature statistics, the category days and ``remove_missing``; optional.
        block_years: length of a block in calendar years (1: annual statistics).
        remove_missing: NaN for every event statistic of the blocks with a missing temperature.
    Returns:
        :class:`BlockStats`. Cells with no climatology (land) are NaN throughout.
    """
    if block_years < 1:
        raise ValueError(f"block_years must be >= 1, got {block_years}")
    if remove_missing and temp is None:
        raise ValueError("remove_missing needs the temperature (temp)")
    dates = result.dates
    n_steps, grid_shape = dates.size, result.grid_shape
    n_cells = int(np.prod(grid_shape, dtype=np.int64))
    years = _years(dates)
    first_year = int(years[0])
    n_blocks = (int(years[-1]) - first_year) // block_years + 1
    day_block = (years - first_year) // block_years
    block_first_day = np.searchsorted(day_block, np.arange(n_blocks))
    shape = (n_blocks, n_cells)

    events = result.events
    cell = events["cell"].to_numpy(np.int64)
    start_block = (_years(events["date_start"].to_numpy("datetime64[D]")) - first_year) // block_years
    end_block = (_years(events["date_end"].to_numpy("datetime64[D]")) - first_year) // block_years
    at_start = (start_block, cell)

    count = np.zeros(shape)
    np.add.at(count, at_start, 1.0)
    has_events = count > 0
    stats: dict[str, np.ndarray] = {"count": count}
    for name in EVENT_MEANS:
        total = np.zeros(shape)
        np.add.at(total, at_start, events[name].to_numpy(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[name] = np.where(has_events, total / count, np.nan)
    peak = events["intensity_max"].to_numpy(np.float64)
    strongest = np.full(shape, np.inf if result.cold_spells else -np.inf)
    (np.minimum if result.cold_spells else np.maximum).at(strongest, at_start, peak)
    stats["intensity_max_max"] = np.where(has_events, strongest, np.nan)
    flags = result.flags.reshape(n_steps, n_cells)
    stats["total_days"] = np.add.reduceat(flags, block_first_day, axis=0, dtype=np.float64)
    total_icum = np.zeros(shape)
    np.add.at(total_icum, (end_block, cell), events["intensity_cumulative"].to_numpy(np.float64))
    stats["total_icum"] = total_icum

    if temp is not None:
        temp = np.asarray(temp)
        if temp.shape != (n_steps, *grid_shape):
            raise ValueError(f"temp has shape {temp.shape}, expected {(n_steps, *grid_shape)}")
        stats.update(_temperature_stats(result, temp.reshape(n_steps, n_cells), block_first_day))
        if remove_missing:
            bounds = np.append(block_first_day, n_steps)
            missing = np.stack(
                [
                    np.isnan(temp.reshape(n_steps, n_cells)[a:b]).any(axis=0)
                    for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                ]
            )
            for name in (*stats.keys(),):
                if name not in TEMP_STATS:
                    stats[name] = np.where(missing, np.nan, stats[name])

    land = ~np.any(np.isfinite(result.thresh.reshape(366, n_cells)), axis=0)
    ordered = {}
    for name in BLOCK_STATS:
        if name in stats:
            values = stats[name]
            values[:, land] = np.nan
            ordered[name] = values.reshape(n_blocks, *grid_shape)
    return BlockStats(
        years_start=first_year + block_years * np.arange(n_blocks, dtype=np.int64),
        block_years=block_years,
        stats=ordered,
        cold_spells=result.cold_spells,
    )


def _temperature_stats(
    result: MHWResult, temp: np.ndarray, block_first_day: np.ndarray
) -> dict[str, np.ndarray]:
    """Temperature mean/max/min and category days per block; temp (T, N). One block at a time."""
    n_steps, n_cells = temp.shape
    n_blocks = block_first_day.size
    seas = result.seas.reshape(366, n_cells)
    thresh = result.thresh.reshape(366, n_cells)
    flags = result.flags.reshape(n_steps, n_cells)
    doy = doy_index(result.dates)
    out = {name: np.full((n_blocks, n_cells), np.nan) for name in (*TEMP_STATS, *CATEGORY_DAYS)}
    bounds = np.append(block_first_day, n_steps)
    for b in range(n_blocks):
        days = slice(bounds[b], bounds[b + 1])
        values = temp[days].astype(np.float64)
        has_data = ~np.all(np.isnan(values), axis=0)
        filled = np.where(np.isnan(values), 0.0, values)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["temp_mean"][b] = np.where(
                has_data, filled.sum(axis=0) / np.sum(~np.isnan(values), axis=0), np.nan
            )
            number = np.floor(1.0 + (values - thresh[doy[days]]) / (thresh[doy[days]] - seas[doy[days]]))
        out["temp_max"][b] = np.where(
            has_data, np.where(np.isnan(values), -np.inf, values).max(axis=0), np.nan
        )
        out["temp_min"][b] = np.where(
            has_data, np.where(np.isnan(values), np.inf, values).min(axis=0), np.nan
        )
        in_event = flags[days]
        for code, name in enumerate(CATEGORY_DAYS[:-1], start=1):
            out[name][b] = np.count_nonzero(in_event & (number == code), axis=0)
        out["extreme_days"][b] = np.count_nonzero(in_event & (number >= 4), axis=0)
    return out


def mean_trend(block: BlockStats, *, alpha: float = 0.05) -> TrendStats:
    """Mean and least-squares trend of every block statistic (the reference's ``meanTrend``).

    Args:
        block: the output of :func:`block_average`.
        alpha: significance level of the confidence half-width ``dtrend`` (0.05: 95 %).
    Returns:
        :class:`TrendStats` with arrays (S, *grid), S = the number of statistics in ``block``.
    """
    from scipy import stats as sps

    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    names = tuple(block.stats)
    y = np.stack([block.stats[n] for n in names])  # (S, B, *grid)
    y = y.reshape(y.shape[0], y.shape[1], -1)  # (S, B, N)
    x = block.years_centre - block.years_centre.mean()
    xb = x[None, :, None]
    valid = ~np.isnan(y)
    has_inf = np.any(np.isinf(y), axis=1)  # the reference gives no fit then
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        y0 = np.where(valid, y, 0.0)
        x_mean = np.where(valid, xb, 0.0).sum(axis=1) / n
        y_mean = y0.sum(axis=1) / n
        dx = np.where(valid, xb - x_mean[:, None], 0.0)
        sxx = (dx**2).sum(axis=1)
        slope = (dx * (y0 - y_mean[:, None])).sum(axis=1) / sxx
        intercept = y_mean - slope * x_mean  # the line at x = 0, the centre of the record
        resid = np.where(valid, y - intercept[:, None] - slope[:, None] * xb, 0.0)
        dof = n - 2
        stderr = np.sqrt((resid**2).sum(axis=1) / dof / sxx)
        t_crit = sps.t.isf(alpha / 2, np.where(dof > 0, dof, 1))
        p_value = 2.0 * sps.t.sf(np.abs(slope / stderr), np.where(dof > 0, dof, 1))
    no_fit = (n < 2) | has_inf | ~(sxx > 0)
    no_error = no_fit | (dof < 1)
    intercept, slope = (np.where(no_fit, np.nan, a) for a in (intercept, slope))
    stderr = np.where(no_error, np.nan, stderr)
    p_value = np.where(no_error | np.isnan(stderr) | (stderr == 0), np.nan, p_value)
    grid = block.grid_shape

    def shaped(a: np.ndarray) -> np.ndarray:
        return a.reshape(len(names), *grid)

    return TrendStats(
        statistics=names,
        mean=shaped(intercept),
        trend_per_decade=shaped(10.0 * slope),
        stderr_per_decade=shaped(10.0 * stderr),
        dtrend_per_decade=shaped(10.0 * t_crit * stderr),
        p_value=shaped(p_value),
        n_blocks=shaped(n.astype(np.int64)),
        alpha=alpha,
    )
