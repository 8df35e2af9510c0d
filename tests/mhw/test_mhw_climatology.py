"""Climatology and threshold against the reference implementations on real OISST series."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from mhw_refdata import REFERENCE_LABELS, read_series

from oceane2e.mhw.climatology import circular_running_mean, compute_climatology, doy_index


def _clim_kwargs(case) -> dict:
    keys = ("baseline", "window_half_width", "smooth_width", "percentile")
    return {k: case.kwargs[k] for k in keys}


@pytest.mark.parametrize("label", REFERENCE_LABELS)
def test_climatology_matches_marineheatwaves(reference_cases, label: str) -> None:
    case = reference_cases[label]
    seas, thresh = compute_climatology(case.temp, case.dates, **_clim_kwargs(case))
    assert seas.shape == thresh.shape == (366,)
    idx = doy_index(case.dates)
    # the reference files store float64: agreement is to rounding, far below 1e-6
    np.testing.assert_allclose(seas[idx], case.daily_seas, rtol=0, atol=1e-9)
    np.testing.assert_allclose(thresh[idx], case.daily_thresh, rtol=0, atol=1e-9)


def test_western_australia_threshold_is_baseline_specific(reference_cases) -> None:
    """The 1983–2012 baseline gives the same climatology from the 1982–2014 and 1982–2022 records,
    and a different baseline gives a different one (the baseline really selects the years)."""
    short = reference_cases["hwR-f6f1b30_sst_WA_1982-2014_clim1983-2012"]
    seas_a, thresh_a = compute_climatology(short.temp, short.dates, baseline=(1983, 2012))
    seas_b, thresh_b = compute_climatology(short.temp, short.dates, baseline=(1992, 2012))
    assert np.abs(thresh_a - thresh_b).max() > 0.05
    assert np.abs(seas_a - seas_b).max() > 0.05


def test_mmhw_threshold_file(realdata, reference_cases) -> None:
    """m_mhw's own threshold/climatology file for its test cell (baseline 1982–2005)."""
    case = reference_cases["mmhw_sst_1_2_1982-2016_clim1982-2005"]
    seas, thresh = compute_climatology(case.temp, case.dates, baseline=(1982, 2005))
    with xr.open_dataset(realdata / "reference" / "mmhw_threshold_climatology_sst_1_2.nc") as ds:
        ref_thresh, ref_seas = ds["threshold"].values, ds["climatology"].values
    idx = doy_index(case.dates)
    np.testing.assert_allclose(thresh[idx], ref_thresh, rtol=0, atol=1e-9)
    np.testing.assert_allclose(seas[idx], ref_seas, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("suffix", "smooth_width"), [("", 31), ("_nosmooth", 1)])
def test_xmhw_gridded_climatology(realdata, xmhw_grid, suffix: str, smooth_width: int) -> None:
    """xmhw's reference climatology of two cells of its real OISST grid, computed on the whole grid
    (land included). xmhw averages in float32, so its ``seas`` agrees to ~1e-6 K only."""
    dates, sst, lat, lon = xmhw_grid
    seas, thresh = compute_climatology(sst, dates, baseline=None, smooth_width=smooth_width)
    assert seas.shape == thresh.shape == (366, lat.size, lon.size)
    land = np.all(np.isnan(sst), axis=0)
    assert land.sum() == 20
    assert np.all(np.isnan(seas[:, land])) and np.all(np.isnan(thresh[:, land]))
    assert np.all(np.isfinite(seas[:, ~land])) and np.all(np.isfinite(thresh[:, ~land]))
    with xr.open_dataset(realdata / "reference" / f"xmhw_test_clim_oisst{suffix}.nc") as ref:
        for point, (la, lo) in enumerate([(-42.625, 148.125), (-41.625, 148.375)], start=1):
            iy, ix = int(np.argmin(np.abs(lat - la))), int(np.argmin(np.abs(lon - lo)))
            np.testing.assert_allclose(thresh[:, iy, ix], ref[f"thresh{point}"].values, rtol=0, atol=1e-9)
            np.testing.assert_allclose(seas[:, iy, ix], ref[f"seas{point}"].values, rtol=0, atol=1e-5)
            # and the point series extracted from the grid is the same data
            _, temp = read_series(
                realdata / "point_series" / f"xmhw_point{point}_lat{la}_lon{lo}_2003-2004.csv"
            )
            np.testing.assert_array_equal(sst[:, iy, ix], temp)


def test_grid_equals_per_cell(reference_cases) -> None:
    """Three real series and a land cell stacked into a 2x2 grid: each cell as if alone."""
    labels = [
        "hwR-f6f1b30_sst_WA_1982-2014_clim1983-2012",
        "hwR_sst_WA_1982-2022_clim1983-2012",
        "mmhw_sst_1_2_1982-2016_clim1982-2005",
    ]
    n = 12053  # 1982–2014
    series = [reference_cases[lab].temp[:n] for lab in labels]
    dates = reference_cases[labels[0]].dates
    missing = series[2].copy()
    missing[::7] = np.nan  # a cell with missing days exercises the NaN-aware percentile
    grid = np.stack([series[0], series[1], missing, np.full(n, np.nan)], axis=1).reshape(n, 2, 2)
    seas, thresh = compute_climatology(grid, dates, baseline=(1983, 2012))
    for k, cell in enumerate([series[0], series[1], missing]):
        s1, t1 = compute_climatology(cell, dates, baseline=(1983, 2012))
        np.testing.assert_allclose(seas.reshape(366, 4)[:, k], s1, rtol=0, atol=1e-12)
        np.testing.assert_allclose(thresh.reshape(366, 4)[:, k], t1, rtol=0, atol=1e-12)
    assert np.all(np.isnan(seas[:, 1, 1])) and np.all(np.isnan(thresh[:, 1, 1]))


def test_missing_days_follow_nanpercentile() -> None:
    """With missing days, each day's threshold is np.nanpercentile of its pooled window."""
    rng = np.random.default_rng(3)
    dates = np.arange(np.datetime64("2001-01-01"), np.datetime64("2009-01-01"))
    temp = rng.normal(15.0, 2.0, size=(dates.size, 3))
    temp[rng.random(temp.shape) < 0.2] = np.nan
    seas, thresh = compute_climatology(temp, dates, baseline=(2002, 2007), smooth_width=1)
    doy = doy_index(dates)
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    base = np.flatnonzero((years >= 2002) & (years <= 2007))
    for d in (0, 58, 200, 365):
        centres = base[doy[base] == d]
        idx = (centres[:, None] + np.arange(-5, 6)).ravel()
        np.testing.assert_allclose(thresh[d], np.nanpercentile(temp[idx], 90, axis=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(seas[d], np.nanmean(temp[idx], axis=0), rtol=0, atol=1e-12)
    # 29 February: the mean of 28 February and 1 March (before smoothing)
    np.testing.assert_allclose(thresh[59], 0.5 * (thresh[58] + thresh[60]), rtol=0, atol=1e-14)


def test_circular_smoothing_of_annual_harmonic() -> None:
    """A width-w running mean on a period-366 cycle scales a harmonic of period 366 by
    sin(pi w / 366) / (w sin(pi / 366)), without any edge effect at the year's wrap."""
    n, w = 366, 31
    phase = 2 * np.pi * np.arange(n) / n
    wave = np.cos(phase + 0.3)
    gain = np.sin(np.pi * w / n) / (w * np.sin(np.pi / n))
    np.testing.assert_allclose(circular_running_mean(wave, w), gain * wave, rtol=0, atol=1e-12)
    # a constant is unchanged, the mean is conserved
    np.testing.assert_allclose(circular_running_mean(np.full((n, 2), 4.2), w), 4.2, rtol=0, atol=1e-12)


def test_bad_input_is_reported() -> None:
    dates = np.arange(np.datetime64("2001-01-01"), np.datetime64("2004-01-01"))
    temp = np.zeros(dates.size)
    with pytest.raises(ValueError, match="baseline 1990-2000 is not covered"):
        compute_climatology(temp, dates, baseline=(1990, 2000))
    with pytest.raises(ValueError, match="consecutive days"):
        compute_climatology(np.delete(temp, 10), np.delete(dates, 10), baseline=None)
    with pytest.raises(ValueError, match="datetime64"):
        compute_climatology(temp, np.arange(dates.size), baseline=None)


def test_float32_grid_gives_the_float64_result(xmhw_grid) -> None:
    """float32 input (as read from OISST files) is pooled and sorted in float32: same numbers."""
    dates, sst, _, _ = xmhw_grid
    s64, t64 = compute_climatology(sst, dates, baseline=None)
    s32, t32 = compute_climatology(sst.astype(np.float32), dates, baseline=None)
    np.testing.assert_allclose(t32, t64, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s32, s64, rtol=0, atol=1e-12)
