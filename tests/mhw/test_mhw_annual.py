"""Annual (block) statistics and trends against marineHeatWaves' own blockAverage / meanTrend output
(tests/mhw/reference, written by make_reference.py), and by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mhw_refdata import BLOCK_REFERENCE, REFERENCE_DIR, read_series

from oceane2e.mhw.annual import BLOCK_STATS, block_average, mean_trend
from oceane2e.mhw.detect import detect


def _reference_run(realdata, label: str):
    series, kwargs, gaps, block_years = BLOCK_REFERENCE[label]
    dates, temp = read_series(realdata / "point_series" / series)
    temp = temp.copy()
    temp[list(gaps)] = np.nan
    result = detect(temp, dates, **kwargs)
    return result, block_average(result, temp, block_years=block_years, remove_missing=bool(gaps))


@pytest.mark.parametrize("label", list(BLOCK_REFERENCE))
def test_block_average_and_trends_match_marineheatwaves(realdata, label: str) -> None:
    """Every statistic of every block, NaN where the reference has NaN, and the mean, trend and
    confidence half-width of every statistic: heatwaves (2 events cross a year), cold spells, and
    2-year blocks with missing days removed (NW Atlantic, 9 events cross a year)."""
    result, block = _reference_run(realdata, label)
    ref = pd.read_csv(REFERENCE_DIR / f"blockAverage_{label}.csv")
    assert list(block.stats) == list(BLOCK_STATS)
    np.testing.assert_array_equal(block.years_start, ref["years_start"])
    np.testing.assert_array_equal(block.years_centre, ref["years_centre"])
    for name, values in block.stats.items():
        if name == "intensity_max_max" and result.cold_spells:
            continue  # the reference's running maximum starts at 0 (checked below)
        np.testing.assert_allclose(values, ref[name], rtol=0, atol=1e-9, err_msg=name)
    # years without events: count 0 and no means; spanning events split their days by year
    empty = block.stats["count"] == 0
    assert empty.any() and np.isnan(block.stats["duration"][empty]).all()
    if "gaps" not in label:
        assert block.stats["total_days"].sum() == result.flags.sum()
    trend = mean_trend(block)
    ref_trend = pd.read_csv(REFERENCE_DIR / f"meanTrend_{label}.csv", index_col="statistic")
    for i, name in enumerate(trend.statistics):
        if name == "intensity_max_max" and result.cold_spells:
            continue
        for ours, theirs in (
            (trend.mean[i], ref_trend.loc[name, "mean"]),
            (trend.trend_per_decade[i] / 10, ref_trend.loc[name, "trend"]),
            (trend.dtrend_per_decade[i] / 10, ref_trend.loc[name, "dtrend"]),
        ):
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)
    if result.cold_spells:
        assert (ref["intensity_max_max"][ref["count"] > 0] == 0).all()
        start_year = pd.to_datetime(result.events["date_start"]).dt.year
        strongest = result.events.groupby(start_year)["intensity_max"].min()
        got = pd.Series(block.stats["intensity_max_max"], index=block.years_start).dropna()
        pd.testing.assert_series_equal(got, strongest, check_names=False, check_index_type=False)


def test_events_crossing_new_year_by_hand() -> None:
    """An event of 29 Dec 2001 – 4 Jan 2002: counted (and averaged) in 2001, 3 days in 2001 and 4 in
    2002, its cumulative intensity in 2002's total_icum (the reference's code); 2000 has no event."""
    dates = np.arange(np.datetime64("2000-01-01"), np.datetime64("2003-01-01"))
    clim = (np.zeros(366), np.ones(366))
    temp = np.zeros(dates.size)
    first = int(np.flatnonzero(dates == np.datetime64("2001-12-29"))[0])
    temp[first : first + 7] = 2.0
    temp[first + 100 : first + 105] = [1.5, 3.0, 4.5, 3.0, 1.5]  # 2002: a second event
    temp[5] = np.nan
    result = detect(temp, dates, clim=clim)
    block = block_average(result, temp)
    frame = block.to_frame()
    assert frame["years_start"].tolist() == [2000, 2001, 2002]
    assert frame["count"].tolist() == [0, 1, 1]
    assert frame["total_days"].tolist() == [0, 3, 4 + 5]
    np.testing.assert_allclose(frame["total_icum"], [0.0, 0.0, 14.0 + 13.5])
    np.testing.assert_allclose(frame["duration"], [np.nan, 7.0, 5.0])
    np.testing.assert_allclose(frame["intensity_max_max"], [np.nan, 2.0, 4.5])
    np.testing.assert_allclose(frame["temp_max"], [0.0, 2.0, 4.5])
    # category days, floor(1 + (temp - thresh) / (thresh - seas)): 2.0 K Strong; 1.5 Moderate,
    # 3.0 Severe, 4.5 Extreme
    assert frame["moderate_days"].tolist() == [0, 0, 2] and frame["strong_days"].tolist() == [0, 3, 4]
    assert frame["severe_days"].tolist() == [0, 0, 2] and frame["extreme_days"].tolist() == [0, 0, 1]
    assert np.isnan(block_average(result, temp, remove_missing=True).to_frame()["count"].astype(float)[0])


def test_trend_statistics_are_ordinary_least_squares(realdata) -> None:
    """Slope, standard error and p-value of a statistic equal scipy's linregress of the same points."""
    from scipy.stats import linregress

    _, block = _reference_run(realdata, "WA_1982-2022_clim1983-2012")
    trend = mean_trend(block, alpha=0.1)
    for name in ("count", "duration", "total_days"):
        y = block.stats[name]
        ok = ~np.isnan(y)
        fit = linregress(block.years_centre[ok], y[ok])
        i = trend.statistics.index(name)
        assert trend.trend_per_decade[i] == pytest.approx(10 * fit.slope, rel=1e-9)
        assert trend.stderr_per_decade[i] == pytest.approx(10 * fit.stderr, rel=1e-9)
        assert trend.p_value[i] == pytest.approx(fit.pvalue, rel=1e-6)
        assert trend.n_blocks[i] == ok.sum()
    assert trend.to_frame().columns.tolist() == ["statistic", *trend.QUANTITIES]


def test_grid_statistics_equal_per_cell(xmhw_grid) -> None:
    """Block statistics and trends of a grid (land cells NaN) equal those of each cell's series."""
    dates, sst, lat, lon = xmhw_grid
    result = detect(sst, dates, cold_spells=True)
    block = block_average(result, sst)
    trend = mean_trend(block)
    land = np.all(np.isnan(sst), axis=0)
    assert np.isnan(block.stats["count"][:, land]).all() and np.isnan(trend.mean[:, land]).all()
    for iy, ix in zip(*np.nonzero(~land), strict=True):
        single = block_average(detect(sst[:, iy, ix], dates, cold_spells=True), sst[:, iy, ix])
        cell = iy * lon.size + ix
        pd.testing.assert_frame_equal(block.to_frame(cell), single.to_frame(), check_exact=False, atol=1e-12)
        pd.testing.assert_frame_equal(
            trend.to_frame(cell), mean_trend(single).to_frame(), check_exact=False, atol=1e-12
        )
