"""Event detection, metrics and categories against the reference implementations on real OISST."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mhw_refdata import REFERENCE_LABELS, compare_events

from oceane2e.mhw.categories import CATEGORY_NAMES, category_number, daily_category
from oceane2e.mhw.detect import detect, find_events, mhw_flags
from oceane2e.mhw.events import EVENT_COLUMNS

WA_2014 = "hwR-f6f1b30_sst_WA_1982-2014_clim1983-2012"


@pytest.mark.parametrize("label", REFERENCE_LABELS)
def test_events_match_marineheatwaves(reference_cases, label: str) -> None:
    """Every event and every metric column of the reference (dates, durations, intensities,
    rates, categories, category durations, indices) for all seven reference runs."""
    case = reference_cases[label]
    result = detect(case.temp, case.dates, **case.kwargs)
    assert list(result.events.columns) == ["cell", *EVENT_COLUMNS]
    assert list(case.events.columns) == list(EVENT_COLUMNS)
    compare_events(result.events, case.events, atol=1e-9)


def test_western_australia_2011(reference_cases) -> None:
    """The 2011 Western Australia MHW (Hobday et al. 2016's showcase), 1983–2012 baseline."""
    case = reference_cases[WA_2014]
    result = detect(case.temp, case.dates, baseline=(1983, 2012))
    ev = result.events
    row = ev.loc[ev["date_start"] == np.datetime64("2011-02-06")].iloc[0]
    assert pd.Timestamp(row["date_end"]) == pd.Timestamp("2011-04-06")
    assert pd.Timestamp(row["date_peak"]) == pd.Timestamp("2011-02-28")
    assert row["duration"] == 60
    assert row["intensity_max"] == pytest.approx(6.5065, abs=5e-5)
    assert row["intensity_max"] == pytest.approx(6.506492523190264, abs=1e-9)
    assert row["category"] == "Extreme"
    assert row["event_no"] == 41
    # it is the strongest event of the record, and the daily arrays agree with the table
    assert ev["intensity_max"].idxmax() == row.name
    days = (result.dates >= np.datetime64("2011-02-06")) & (result.dates <= np.datetime64("2011-04-06"))
    assert result.flags[days].all() and not result.flags[np.flatnonzero(days)[[0, -1]] + [-1, 1]].any()
    assert result.category[days].max() == 4
    assert result.category[result.dates == np.datetime64("2011-02-28")][0] == 4


def test_daily_flags_and_categories_agree_with_events(reference_cases) -> None:
    case = reference_cases["mmhw_sst_1_2_1982-2016_clim1982-2005"]
    result = detect(case.temp, case.dates, **case.kwargs)
    expected = np.zeros(case.dates.size, dtype=bool)
    for start, end in zip(result.events["index_start"], result.events["index_end"], strict=True):
        expected[start : end + 1] = True
    np.testing.assert_array_equal(result.flags, expected)
    assert np.array_equal(result.category > 0, result.flags)
    for _, ev in result.events.iterrows():
        cats = result.category[ev["index_start"] : ev["index_end"] + 1]
        assert CATEGORY_NAMES[cats.max() - 1] == ev["category"]
        assert (cats == 4).sum() == ev["duration_extreme"]


def test_grid_equals_per_cell(xmhw_grid) -> None:
    """Detection on the real xmhw grid (with land) equals detection cell by cell."""
    dates, sst, lat, lon = xmhw_grid
    grid = detect(sst, dates)
    assert grid.flags.shape == grid.category.shape == sst.shape
    n_cells = lat.size * lon.size
    land = np.all(np.isnan(sst), axis=0).ravel()
    assert len(grid.events) > 50
    assert not grid.flags.reshape(len(dates), -1)[:, land].any()
    for cell in range(n_cells):
        iy, ix = divmod(cell, lon.size)
        single = detect(sst[:, iy, ix], dates)
        mine = grid.events[grid.events["cell"] == cell].drop(columns="cell").reset_index(drop=True)
        pd.testing.assert_frame_equal(
            mine, single.events.drop(columns="cell"), check_exact=False, rtol=0, atol=1e-12
        )
        np.testing.assert_array_equal(grid.flags[:, iy, ix], single.flags)
        np.testing.assert_array_equal(grid.category[:, iy, ix], single.category)


def test_xmhw_point_events_from_grid(reference_cases, xmhw_grid) -> None:
    """The reference events of the two xmhw cells, found by the gridded detection."""
    dates, sst, lat, lon = xmhw_grid
    grid = detect(sst, dates)
    for point, (la, lo) in enumerate([(-42.625, 148.125), (-41.625, 148.375)], start=1):
        cell = int(np.argmin(np.abs(lat - la))) * lon.size + int(np.argmin(np.abs(lon - lo)))
        mine = grid.events[grid.events["cell"] == cell].reset_index(drop=True)
        compare_events(mine, reference_cases[f"xmhw_point{point}_2003-2004_climFull"].events)


@pytest.mark.parametrize(
    ("pattern", "spans"),
    [
        ("1111", []),  # 4 days: too short
        ("11111", [(0, 4)]),
        ("0111110011111", [(1, 12)]),  # gap of 2 joined
        ("01111100011111", [(1, 5), (9, 13)]),  # gap of 3 not joined
        ("11111001110011111", [(0, 4), (12, 16)]),  # a short run does not bridge: gap = 2+3+2
        ("111110111110111110", [(0, 16)]),  # chains of joins
    ],
)
def test_duration_and_gap_rules(pattern: str, spans: list[tuple[int, int]]) -> None:
    exceed = np.array([c == "1" for c in pattern])[:, None]
    found = find_events(exceed, min_duration=5, max_gap=2)
    assert list(zip(found.start.tolist(), found.end.tolist(), strict=True)) == spans
    # many cells at once give the same answer per cell
    stacked = np.repeat(exceed, 3, axis=1)
    stacked[:, 1] = False
    flags = mhw_flags(stacked)
    expected = np.zeros(len(pattern), dtype=bool)
    for s, e in spans:
        expected[s : e + 1] = True
    np.testing.assert_array_equal(flags[:, 0], expected)
    np.testing.assert_array_equal(flags[:, 2], expected)
    assert not flags[:, 1].any()


def test_categories_are_multiples_of_thresh_minus_seas() -> None:
    seas, thresh = 20.0, 21.5  # difference 1.5 K
    temp = np.array([21.4, 21.6, 22.9, 23.1, 24.4, 24.6, 26.1, 30.0])
    number = category_number(temp, seas, thresh)
    np.testing.assert_array_equal(number, [0, 1, 1, 2, 2, 3, 4, 6])
    cat = daily_category(number, np.ones(temp.size, dtype=bool))
    np.testing.assert_array_equal(cat, [1, 1, 1, 2, 2, 3, 4, 4])  # a gap day in an event: Moderate
    np.testing.assert_array_equal(daily_category(number, np.zeros(temp.size, dtype=bool)), 0)


def test_missing_days_do_not_exceed() -> None:
    """A missing day counts as the climatology: it breaks a run unless inside a joinable gap."""
    dates = np.arange(np.datetime64("2000-01-01"), np.datetime64("2003-01-01"))
    clim = (np.zeros(366), np.ones(366))
    temp = np.zeros(dates.size)
    temp[100:110] = 2.0
    temp[104] = np.nan  # splits 100..109 into runs of 4 and 5; joined across the 1-day gap
    temp[200:204] = 2.0
    temp[204] = np.nan
    temp[205:208] = 2.0  # 4 + 3 days: no event
    result = detect(temp, dates, clim=clim)
    assert list(zip(result.events["index_start"], result.events["index_end"], strict=True)) == [(105, 109)]


def test_float32_grid_gives_the_same_events(xmhw_grid) -> None:
    dates, sst, _, _ = xmhw_grid
    a = detect(sst, dates)
    b = detect(sst.astype(np.float32), dates)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=False, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.category, b.category)


def test_onset_and_decline_rates_by_hand() -> None:
    """Rates with half-day edges inside the record, and the record-edge rules."""
    dates = np.arange(np.datetime64("2001-01-01"), np.datetime64("2004-01-01"))
    clim = (np.zeros(366), np.ones(366))  # seas 0, thresh 1: temp is the anomaly
    temp = np.zeros(dates.size)
    temp[99] = 0.4
    temp[100:106] = [1.2, 1.5, 3.0, 2.0, 1.6, 1.1]
    temp[106] = 0.6
    temp[-5:] = [1.5, 2.5, 2.0, 1.8, 1.4]  # an event running to the end of the record
    ev = detect(temp, dates, clim=clim).events
    first, last = ev.iloc[0], ev.iloc[1]
    assert first["rate_onset"] == pytest.approx((3.0 - 0.5 * (1.2 + 0.4)) / 2.5, abs=1e-12)
    assert first["rate_decline"] == pytest.approx((3.0 - 0.5 * (1.1 + 0.6)) / 3.5, abs=1e-12)
    assert last["rate_decline"] == pytest.approx((2.5 - 1.4) / 3, abs=1e-12)  # no day after: last day
    assert (first["category"], last["category"]) == ("Severe", "Strong")  # 3.0 = 3x(thresh - seas); 2.5
    temp[-1] = 3.0  # peak on the last day of the record: decline over one day, not 0/0
    assert detect(temp, dates, clim=clim).events.iloc[1]["rate_decline"] == 0.0
