"""An SST-only folder (what prepare-data writes from SST alone) through the data layer: check, statistics,
stage-2 windows with no currents and no atmosphere, and the observed SSTA history before each start date."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oceane2e.data.check import check_folder
from oceane2e.data.config import DataConfig
from oceane2e.data.contract import DataContractError, declared_absent, present_channels
from oceane2e.data.datasets import SSTAWindowDataset
from oceane2e.data.normalization import ensure_stats
from oceane2e.testing.folders import write_tiny_folder

YEARS = (2001, 2002, 2003)


@pytest.fixture(scope="module")
def sst_only(tmp_path_factory: pytest.TempPathFactory):
    return write_tiny_folder(tmp_path_factory.mktemp("sst_only") / "data", years=YEARS, sst_only=True)


def _cfg(tiny, **splits) -> DataConfig:
    years = {"train_years": [2001], "val_years": [2002], "test_years": [2003], **splits}
    return DataConfig(root=tiny.root, **years)


def _ssta(tiny, first: str, n: int) -> np.ndarray:
    """The generator's SSTA of days first..first+n-1 (land 0), independent of the readers."""
    first = np.datetime64(first, "D")
    data = np.concatenate([tiny.data("mhw", y)[:, 0] for y in YEARS])
    offset = int((first - np.datetime64(f"{YEARS[0]}-01-01", "D")).astype(int))
    return np.where(tiny.mask, data[offset : offset + n], 0.0).astype(np.float32)


def test_declared_absence_passes_the_check_an_undeclared_gap_does_not(sst_only, tmp_path) -> None:
    assert declared_absent(sst_only.root) >= {"u_g", "v_g", "zos", "u10", "v10", "t2m"}
    assert present_channels(sst_only.root, "mhw") == ("ssta",) and present_channels(sst_only.root, "geo") == ()
    assert check_folder(sst_only.root) == []
    # the same files without the declaration: the geo files and the channels are reported missing
    bare = write_tiny_folder(tmp_path / "bare", years=(2001,), sst_only=True)
    (bare.root / "contents.json").write_text(json.dumps({"absent_channels": []}))
    import netCDF4

    with netCDF4.Dataset(bare.mhw[2001], "a") as ds:
        ds.delncattr("absent_channels")
    problems = [str(p) for p in check_folder(bare.root)]
    assert any("geo_2001.nc: missing" in p for p in problems)
    assert any("channel(s) ['zos', 'u10', 'v10', 't2m'] missing" in p for p in problems)


def test_statistics_cover_the_channels_that_exist(sst_only) -> None:
    stats = ensure_stats(_cfg(sst_only), progress=False)
    assert set(stats) == {"ssta"}
    values = _ssta(sst_only, "2001-01-01", 365)[:, sst_only.mask]
    np.testing.assert_allclose(stats["ssta"]["mean"], values.mean(), rtol=1e-5)
    assert ensure_stats(_cfg(sst_only), progress=False) == stats  # reused from norm_stats.json


def test_windows_without_currents_or_atmosphere(sst_only) -> None:
    ds = SSTAWindowDataset(_cfg(sst_only), "val", n_lead=5)
    assert ds.channel_roles() == {"state": ("ssta",), "velocity": (), "atmos": ()}
    assert ds.folder.kinds == ("mhw",)
    item = ds[10]
    assert item["velocity"].shape == (6, 0, 8, 12) and item["atmos"].shape == (6, 0, 8, 12)
    np.testing.assert_array_equal(item["ssta"].numpy(), _ssta(sst_only, "2002-01-11", 6))
    assert "ssta_history" not in item
    with pytest.raises(DataContractError, match="set windows.velocity and inference.velocity to 'observed'"):
        SSTAWindowDataset(_cfg(sst_only), "test", n_lead=5, velocity="forecast")


def test_history_comes_from_the_observed_past_whatever_its_split(sst_only) -> None:
    ds = SSTAWindowDataset(_cfg(sst_only), "test", n_lead=4, history_days=7)
    info = ds.data_info({"ssta": {"mean": 0.0, "std": 1.0}})
    assert info.n_in == 8
    first = ds[0]  # 2003-01-01: its history lies in 2002, a validation year
    assert first["ssta_history"].shape == (7, 8, 12)
    np.testing.assert_array_equal(first["ssta_history"].numpy(), _ssta(sst_only, "2002-12-25", 7))
    # before the first year on file the first day repeats (the start dates do not depend on the history)
    train = SSTAWindowDataset(_cfg(sst_only), "train", n_lead=4, history_days=7)
    assert np.array_equal(train.time0s, SSTAWindowDataset(_cfg(sst_only), "train", n_lead=4).time0s)
    hist = train[2]["ssta_history"].numpy()  # 2001-01-03
    np.testing.assert_array_equal(hist[:5], np.repeat(_ssta(sst_only, "2001-01-01", 1), 5, axis=0))
    np.testing.assert_array_equal(hist[5:], _ssta(sst_only, "2001-01-01", 2))


def test_level_is_the_mean_of_the_observed_days_up_to_the_start(sst_only) -> None:
    ds = SSTAWindowDataset(_cfg(sst_only), "test", n_lead=4, level_days=30)
    assert ds.data_info({"ssta": {"mean": 0.0, "std": 1.0}}).level_days == 30
    assert "ssta_history" not in ds[0]
    item = ds[3]  # 2003-01-04: 26 of its 30 days lie in 2002, a validation year
    expected = _ssta(sst_only, "2002-12-06", 30).mean(axis=0, dtype=np.float64)
    np.testing.assert_allclose(item["ssta_level"].numpy(), expected, rtol=1e-6, atol=1e-7)
    assert np.all(item["ssta_level"].numpy()[~sst_only.mask] == 0)
    # before the first year on file only the days on file count
    train = SSTAWindowDataset(_cfg(sst_only), "train", n_lead=4, level_days=30)
    np.testing.assert_allclose(train[4]["ssta_level"].numpy(),
                               _ssta(sst_only, "2001-01-01", 5).mean(axis=0, dtype=np.float64), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="level_days must be >= 0"):
        SSTAWindowDataset(_cfg(sst_only), "test", n_lead=4, level_days=-1)
