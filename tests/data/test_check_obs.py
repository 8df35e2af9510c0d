"""``oceane2e check`` validates the observation folder too: every fault through the command."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from oceane2e.data.check import main
from oceane2e.data.observations import ObsRecords, write_obs_year
from oceane2e.testing.folders import TINY_LAT_BOUNDS, TINY_LON_BOUNDS, write_tiny_folder

YEARS = (2001, 2002, 2003)


def _records(year: int, n: int = 40) -> ObsRecords:
    rng = np.random.default_rng(year)
    t0 = np.datetime64(f"{year}-01-01T00:00:00", "s")
    return ObsRecords(
        time=t0 + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]"),
        lat=rng.uniform(*TINY_LAT_BOUNDS, n), lon=rng.uniform(*TINY_LON_BOUNDS, n),
        value=rng.normal(0, 1, n), error_std=np.full(n, 0.3),
        platform=rng.choice(["sst_l3", "drifter", "argo", "altimetry"], n), variable=np.full(n, "ssta"),
    )


def _folder(tmp_path: Path, obs_name: str = "obs") -> tuple[Path, Path]:
    tiny = write_tiny_folder(tmp_path / "gs", years=YEARS)
    obs = tiny.root / obs_name if obs_name == "obs" else tmp_path / obs_name
    for year in YEARS:
        write_obs_year(obs, year, _records(year))
    return tiny.root, obs


def _edit(path: Path, name: str, fn) -> None:
    with netCDF4.Dataset(path, "a") as ds:
        ds[name][:] = fn(np.asarray(ds[name][:]))


def _at3(value):
    return lambda a: np.where(np.arange(a.size) == 3, value, a)


FAULTS = {
    "missing year": (lambda p: (p / "obs_2002.nc").unlink(), "obs_2002.nc: missing"),
    "unsorted times": (lambda p: _edit(p / "obs_2002.nc", "time", lambda t: t[::-1]), "not sorted by time"),
    "out-of-grid position": (lambda p: _edit(p / "obs_2002.nc", "lon", _at3(10.0)), "outside the grid"),
    "NaN value": (lambda p: _edit(p / "obs_2002.nc", "value", _at3(np.nan)), "NaN or infinite value"),
    "unknown platform": (lambda p: _edit(p / "obs_2002.nc", "platform", _at3(7)), "platform"),
    "negative error": (lambda p: _edit(p / "obs_2002.nc", "error_std", _at3(-0.1)), "negative or non-finite error_std"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_observation_fault_is_reported_by_the_command(tmp_path: Path, capsys, fault: str) -> None:
    root, obs = _folder(tmp_path)
    inject, expected = FAULTS[fault]
    inject(obs)
    assert main([str(root), "--quiet"]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "obs_200" in line]
    assert len(lines) == 1, out
    assert expected in lines[0] and "obs_2002.nc" in lines[0] and "-> fix:" in lines[0]


def test_a_valid_observation_folder_passes_and_is_named(tmp_path: Path, capsys) -> None:
    root, obs = _folder(tmp_path)
    assert main([str(root), "--quiet"]) == 0
    assert f"{obs}: years 2001, 2002, 2003" in capsys.readouterr().out


def test_an_explicit_obs_folder_and_required_years(tmp_path: Path, capsys) -> None:
    root, obs = _folder(tmp_path, obs_name="elsewhere")
    assert main([str(root), "--quiet"]) == 0  # no root/obs: observations not checked
    assert main([str(root), "--quiet", "--obs", str(obs)]) == 0
    capsys.readouterr()
    assert main([str(root), "--quiet", "--obs", str(obs), "--obs-years", "2001-2004"]) == 1
    assert "obs_2004.nc: missing" in capsys.readouterr().out
