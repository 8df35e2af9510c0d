"""Marine cold spells: the reference run of marineHeatWaves (coldSpells=True), and by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mhw_refdata import compare_events

from oceane2e.mhw.climatology import doy_index
from oceane2e.mhw.detect import COLD_SPELL_NEGATED, detect


def test_cold_spells_match_marineheatwaves(cold_spell_case) -> None:
    """All 86 cold spells of Western Australia 1982–2022 (baseline 1982–2011), every column, and
    the 10th-percentile threshold, as the reference wrote them."""
    case = cold_spell_case
    result = detect(case.temp, case.dates, **case.kwargs)
    assert result.cold_spells and case.kwargs["cold_spells"]
    compare_events(result.events, case.events, atol=1e-9)
    idx = doy_index(case.dates)
    np.testing.assert_allclose(result.seas[idx], case.daily_seas, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.thresh[idx], case.daily_thresh, rtol=0, atol=1e-9)
    ev = result.events
    assert len(ev) == 86 and (result.thresh < result.seas).all()
    for col in COLD_SPELL_NEGATED:
        if not col.endswith("_abs"):
            assert (ev[col] < 0).all(), col
    assert (ev["intensity_var"] >= 0).all() and (ev["rate_onset"] > 0).all()
    # every event day is below the threshold, except joined gap days
    days = np.flatnonzero(result.flags)
    assert np.mean(case.temp[days] < result.thresh[idx[days]]) > 0.95


def test_cold_spells_are_heatwaves_of_the_negated_series(xmhw_grid) -> None:
    """On a real grid with land: cold spells of x are the heatwaves of -x with the intensities and
    the climatology negated; flags and categories are the same."""
    dates, sst, _, _ = xmhw_grid
    cold = detect(sst, dates, cold_spells=True)
    warm = detect(-sst, dates)
    assert len(cold.events) > 50
    expected = warm.events.copy()
    for col in COLD_SPELL_NEGATED:
        expected[col] = -expected[col]
    pd.testing.assert_frame_equal(cold.events, expected, check_exact=True)
    np.testing.assert_array_equal(cold.flags, warm.flags)
    np.testing.assert_array_equal(cold.category, warm.category)
    np.testing.assert_array_equal(cold.seas, -warm.seas)
    np.testing.assert_array_equal(cold.thresh, -warm.thresh)
    # a given climatology is taken as it is (low threshold below seas)
    again = detect(sst, dates, clim=(cold.seas, cold.thresh), cold_spells=True)
    pd.testing.assert_frame_equal(again.events, cold.events, check_exact=False, rtol=0, atol=1e-12)


def test_a_hand_built_cold_spell() -> None:
    """seas 0, thresh -1: a 6-day dip to -3.5 K is one Severe cold spell with negative intensities."""
    dates = np.arange(np.datetime64("2001-01-01"), np.datetime64("2003-01-01"))
    clim = (np.zeros(366), -np.ones(366))
    temp = np.zeros(dates.size)
    temp[200:206] = [-1.2, -2.0, -3.5, -2.5, -1.5, -1.1]
    temp[300:304] = -5.0  # 4 days: too short
    temp[400:405] = 0.5  # warm: never a cold spell
    result = detect(temp, dates, clim=clim, cold_spells=True)
    assert len(result.events) == 1
    ev = result.events.iloc[0]
    assert (ev["index_start"], ev["index_peak"], ev["index_end"], ev["duration"]) == (200, 202, 205, 6)
    assert ev["intensity_max"] == pytest.approx(-3.5)
    assert ev["intensity_mean"] == pytest.approx(-11.8 / 6)
    assert ev["intensity_cumulative"] == pytest.approx(-11.8)
    assert ev["intensity_max_relThresh"] == pytest.approx(-2.5)
    assert ev["intensity_max_abs"] == pytest.approx(-3.5)
    # category from multiples of seas - thresh below the threshold: 3.5 K = 3.5 x 1 K -> Severe (days: 1.2, 2.0, 3.5, 2.5, 1.5, 1.1 K below seas)
    assert ev["category"] == "Severe" and (ev["duration_moderate"], ev["duration_strong"]) == (3, 2)
    np.testing.assert_array_equal(result.category[200:206], [1, 2, 3, 2, 1, 1])
    assert ev["rate_onset"] == pytest.approx((3.5 - 0.5 * 1.2) / 2.5)  # positive, as the reference
    with pytest.raises(ValueError, match="pass percentile=90 for the 10th percentile"):
        detect(temp, dates, cold_spells=True, percentile=10)
