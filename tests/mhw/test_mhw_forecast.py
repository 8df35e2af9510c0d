"""MHW flags of forecasts: observed history prepended so the Hobday rules hold across time0."""

from __future__ import annotations

import numpy as np
import pytest

from oceane2e.mhw.detect import detect
from oceane2e.mhw.forecast import forecast_mhw

TIME0 = np.datetime64("2010-06-15")
H, W = 2, 3


def _flat_clim(delta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """SST climatology 15 °C with an SSTA threshold of ``delta`` K everywhere."""
    seas = np.full((366, H, W), 15.0)
    return seas, seas + delta


def _case(hist_exceed: int, fc_exceed: list[int], n_hist: int = 30, n_lead: int = 10, value: float = 1.5):
    """SSTA history with its last ``hist_exceed`` days above threshold, and forecast leads (1-based)
    ``fc_exceed`` above threshold, in cell (0, 0); all else 0 K."""
    history = np.zeros((1, n_hist, H, W))
    forecast = np.zeros((1, n_lead, H, W))
    if hist_exceed:
        history[0, -hist_exceed:, 0, 0] = value
    for lead in fc_exceed:
        forecast[0, lead - 1, 0, 0] = value
    return forecast, history


def test_three_observed_plus_two_forecast_days_make_an_event() -> None:
    seas, thresh = _flat_clim()
    forecast, history = _case(3, [1, 2])
    out = forecast_mhw(forecast, history, np.array([TIME0]), seas, thresh)
    assert out.flags.shape == out.category.shape == (1, 10, H, W)
    np.testing.assert_array_equal(out.flags[0, :, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(out.category[0, :2, 0, 0], [1, 1])
    assert not out.flags[0, :, 1:, :].any() and not out.flags[0, :, 0, 1:].any()


def test_four_forecast_days_alone_are_no_event() -> None:
    seas, thresh = _flat_clim()
    forecast, history = _case(0, [3, 4, 5, 6])
    out = forecast_mhw(forecast, history, np.array([TIME0]), seas, thresh)
    assert out.exceed[0, 2:6, 0, 0].all()
    assert not out.flags.any() and not out.category.any()
    # a fifth day makes it one
    forecast[0, 6, 0, 0] = 1.5
    out = forecast_mhw(forecast, history, np.array([TIME0]), seas, thresh)
    np.testing.assert_array_equal(np.flatnonzero(out.flags[0, :, 0, 0]) + 1, [3, 4, 5, 6, 7])


def test_gap_across_the_start_date_is_joined() -> None:
    """Observed event ends at time0; two cool forecast days; then a 5-day forecast event: one event,
    the two gap days flagged (as Moderate), a 3-day gap is not joined."""
    seas, thresh = _flat_clim()
    forecast, history = _case(5, [3, 4, 5, 6, 7])
    out = forecast_mhw(forecast, history, np.array([TIME0]), seas, thresh)
    np.testing.assert_array_equal(out.flags[0, :7, 0, 0], True)
    np.testing.assert_array_equal(out.category[0, :7, 0, 0], 1)
    forecast, history = _case(5, [4, 5, 6, 7, 8])
    out = forecast_mhw(forecast, history, np.array([TIME0]), seas, thresh)
    np.testing.assert_array_equal(np.flatnonzero(out.flags[0, :, 0, 0]) + 1, [4, 5, 6, 7, 8])


def test_categories_threshold_by_day_of_year_and_mask() -> None:
    """The threshold follows each lead's day of year; categories are floor(ssta / (thresh - seas))."""
    seas, thresh = _flat_clim(1.0)
    time0 = np.datetime64("2011-12-29")  # leads cross into 2012 (day of year wraps to index 0)
    thresh[:3] = seas[:3] + 2.0  # 1–3 January: threshold 2 K
    forecast = np.full((1, 8, H, W), 2.5)  # leads 1..8 = 30 Dec .. 6 Jan
    history = np.full((1, 5, H, W), 2.5)
    mask = np.ones((H, W), dtype=bool)
    mask[1, 2] = False
    out = forecast_mhw(forecast, history, np.array([time0]), seas, thresh, mask=mask)
    cats = out.category[0, :, 0, 0]
    np.testing.assert_array_equal(cats, [2, 2, 1, 1, 1, 2, 2, 2])  # 2.5 / 1 -> 2, 2.5 / 2 -> 1
    assert out.flags[0, :, mask].all() and not out.flags[0, :, 1, 2].any()
    # int days since 1970 give the same answer as datetime64
    days = (time0 - np.datetime64("1970-01-01")).astype(np.int64)
    same = forecast_mhw(forecast, history, np.array([days]), seas, thresh, mask=mask)
    np.testing.assert_array_equal(same.category, out.category)
    # NaN (land without a mask) never exceeds
    forecast[0, :, 1, 1] = np.nan
    history[0, :, 1, 1] = np.nan
    assert not forecast_mhw(forecast, history, np.array([time0]), seas, thresh).flags[0, :, 1, 1].any()


def test_observed_series_as_forecast_reproduces_detection(reference_cases) -> None:
    """The real WA series with its own climatology: treating the observed days after time0 as a
    'forecast' gives exactly the daily flags and categories of the full-record detection, for many
    start dates at once (including ones inside the 2011 event)."""
    case = reference_cases["hwR-f6f1b30_sst_WA_1982-2014_clim1983-2012"]
    full = detect(case.temp, case.dates, baseline=(1983, 2012))
    seas, thresh = full.seas[:, None, None], full.thresh[:, None, None]
    from oceane2e.mhw.climatology import doy_index

    ssta = case.temp - full.seas[doy_index(case.dates)]
    n_hist, n_lead = 40, 20
    starts = np.flatnonzero(case.dates == np.datetime64("2011-01-20"))[0] + np.arange(0, 360, 3)
    history = np.stack([ssta[s - n_hist + 1 : s + 1] for s in starts])[:, :, None, None]
    forecast = np.stack([ssta[s + 1 : s + 1 + n_lead] for s in starts])[:, :, None, None]
    out = forecast_mhw(forecast, history, case.dates[starts], seas, thresh)
    n_identical = 0
    for k, s in enumerate(starts):
        # a forecast flag is always a flag of the full record (its run and joins exist there too)
        window = slice(s + 1, s + 1 + n_lead)
        if not full.flags[s + n_lead]:
            # no event cut by the window's end: flags must be identical
            np.testing.assert_array_equal(out.flags[k, :, 0, 0], full.flags[window])
            n_identical += 1
        np.testing.assert_array_equal(out.flags[k, :, 0, 0] & full.flags[window], out.flags[k, :, 0, 0])
        np.testing.assert_array_equal(
            out.category[k, :, 0, 0][out.flags[k, :, 0, 0]], full.category[window][out.flags[k, :, 0, 0]]
        )
    assert n_identical >= 10
    assert out.flags.any() and (out.category == 4).any()  # the Extreme 2011 event is seen


def test_bad_shapes_are_reported() -> None:
    seas, thresh = _flat_clim()
    with pytest.raises(ValueError, match="seas has shape"):
        forecast_mhw(np.zeros((1, 3, H, W)), np.zeros((1, 5, H, W)), np.array([TIME0]), seas[:365], thresh)
    with pytest.raises(ValueError, match="does not match forecast"):
        forecast_mhw(np.zeros((1, 3, H, W)), np.zeros((2, 5, H, W)), np.array([TIME0]), seas, thresh)


def test_a_read_only_climatology_is_prepared_once_and_a_writeable_one_each_call(tmp_path) -> None:
    """The float64 threshold is kept between calls only for read-only arrays (clim.nc as read): a climatology
    changed in place between two calls is seen by the second, and the kept one gives the same flags."""
    from oceane2e.data.contract import GridCoords, read_clim, write_clim
    from oceane2e.mhw import forecast as fm

    seas, thresh = _flat_clim()
    forecast, history = _case(3, [1, 2])
    first = forecast_mhw(forecast, history, np.array([TIME0]), seas, thresh)
    thresh += 10.0  # writeable: changed in place, and the next call must see it
    assert not forecast_mhw(forecast, history, np.array([TIME0]), seas, thresh).flags.any()
    assert all(s is not seas for s, _, _ in fm._PREPARED)

    coords = GridCoords(lat=np.array([30.0, 31.0]), lon=np.array([-70.0, -69.0, -68.0]))
    write_clim(tmp_path / "clim.nc", seas.astype(np.float32), (thresh - 10.0).astype(np.float32), coords,
               variable="sst", baseline=(2001, 2007), window_half_width=5, smooth_width=31, percentile=90.0)
    clim = read_clim(tmp_path / "clim.nc")
    with pytest.raises(ValueError, match="read-only"):
        clim.thresh[0] += 1.0
    kept = forecast_mhw(forecast, history, np.array([TIME0]), clim.seas, clim.thresh)
    assert fm._PREPARED and fm._PREPARED[0][0] is clim.seas
    again = forecast_mhw(forecast, history, np.array([TIME0]), clim.seas, clim.thresh)
    for out in (kept, again):
        np.testing.assert_array_equal(out.flags, first.flags)
        np.testing.assert_array_equal(out.category, first.category)
