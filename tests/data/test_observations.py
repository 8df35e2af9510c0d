"""The observation contract: round trip, sorting, and every fault `check_obs_folder` reports."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from oceane2e.data.observations import (
    ObservationError,
    ObsRecords,
    check_obs_folder,
    find_obs_years,
    read_obs,
    read_obs_year,
    write_obs_year,
)

LAT = np.arange(30.0, 35.0, 0.25)
LON = np.arange(-70.0, -60.0, 0.25)


def records(n: int = 50, seed: int = 0, year: int = 2003) -> ObsRecords:
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(f"{year}-01-01T00:00:00", "s")
    return ObsRecords(
        time=t0 + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]"),
        lat=rng.uniform(LAT[0], LAT[-1], n), lon=rng.uniform(LON[0], LON[-1], n),
        value=rng.normal(0, 1, n), error_std=rng.uniform(0.05, 0.4, n),
        platform=rng.choice(["sst_l3", "drifter", "argo", "altimetry"], n),
        variable=rng.choice(["ssta", "sla"], n),
    )


def test_round_trip_keeps_every_record_sorted_by_time(tmp_path: Path) -> None:
    rec = records()
    write_obs_year(tmp_path, 2003, rec, attrs={"source": "test"})
    back = read_obs_year(tmp_path, 2003)
    order = np.argsort(rec.time, kind="stable")
    assert len(back) == len(rec)
    assert np.all(np.diff(back.time.astype(np.int64)) >= 0)
    np.testing.assert_array_equal(back.time, rec.time[order])
    np.testing.assert_allclose(back.lat, rec.lat[order])
    np.testing.assert_allclose(back.value, rec.value[order].astype(np.float32))
    assert back.platform.tolist() == rec.platform[order].tolist()
    assert back.variable.tolist() == rec.variable[order].tolist()
    assert find_obs_years(tmp_path) == [2003]
    with netCDF4.Dataset(tmp_path / "obs_2003.nc") as ds:
        assert ds.featureType == "point" and ds["platform"].flag_meanings.split()[0] == "sst_l3"


def test_read_across_a_year_boundary(tmp_path: Path) -> None:
    write_obs_year(tmp_path, 2003, records(year=2003))
    write_obs_year(tmp_path, 2004, records(year=2004, seed=1))
    got = read_obs(tmp_path, np.datetime64("2003-12-01"), np.datetime64("2004-02-01"))
    assert len(got) > 0
    assert got.time.min() >= np.datetime64("2003-12-01") and got.time.max() < np.datetime64("2004-02-01")


def test_unknown_platform_and_records_outside_the_year_are_refused(tmp_path: Path) -> None:
    rec = records(5)
    bad = ObsRecords(rec.time, rec.lat, rec.lon, rec.value, rec.error_std, ["ship"] * 5, rec.variable)
    with pytest.raises(ObservationError, match="unknown platform"):
        write_obs_year(tmp_path, 2003, bad)
    with pytest.raises(ObservationError, match="outside 2004"):
        write_obs_year(tmp_path, 2004, rec)


def _rewrite(path: Path, name: str, fn) -> None:
    with netCDF4.Dataset(path, "a") as ds:
        ds[name][:] = fn(np.asarray(ds[name][:]))


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("missing", "missing"),
        ("unsorted", "not sorted"),
        ("outside_grid", "outside the grid"),
        ("nan_value", "NaN or infinite value"),
        ("negative_error", "negative or non-finite error_std"),
        ("unknown_platform", "platform"),
    ],
)
def test_check_names_the_file_and_the_fault(tmp_path: Path, fault: str, expected: str) -> None:
    write_obs_year(tmp_path, 2003, records())
    path = tmp_path / "obs_2003.nc"
    years = [2003]
    if fault == "missing":
        years = [2003, 2004]
    elif fault == "unsorted":
        _rewrite(path, "time", lambda t: t[::-1])
    elif fault == "outside_grid":
        _rewrite(path, "lat", lambda a: np.where(np.arange(a.size) == 3, 80.0, a))
    elif fault == "nan_value":
        _rewrite(path, "value", lambda a: np.where(np.arange(a.size) == 3, np.nan, a))
    elif fault == "negative_error":
        _rewrite(path, "error_std", lambda a: np.where(np.arange(a.size) == 3, -1.0, a))
    elif fault == "unknown_platform":
        _rewrite(path, "platform", lambda a: np.where(np.arange(a.size) == 3, 9, a))
    problems = check_obs_folder(tmp_path, years, LAT, LON)
    assert len(problems) == 1, problems
    assert expected in problems[0] and "obs_200" in problems[0]


def test_a_clean_folder_has_no_problem(tmp_path: Path) -> None:
    write_obs_year(tmp_path, 2003, records())
    assert check_obs_folder(tmp_path, [2003], LAT, LON) == []
