"""Datasets: shapes, values equal to the file content (across year boundaries), split
disjointness, explicit land mask, files opened once per process, forecast velocities."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from oceane2e.data.config import DataConfig
from oceane2e.data.contract import DataContractError, GridCoords, YearFile, write_year
from oceane2e.data.datasets import DataFolder, SSTAWindowDataset, VelocityWindowDataset, window_starts
from oceane2e.data.forecast_files import write_forecast
from oceane2e.testing.folders import TINY_LAT_BOUNDS, TINY_LON_BOUNDS, write_tiny_folder

GEO = {"u_g": 0, "v_g": 1}
MHW = {"ssta": 0, "zos": 1, "u10": 2, "v10": 3, "t2m": 4}


def expected_days(tiny, kind, first, n, channels):
    """(n, C, H, W) of the generator's values for days first..first+n-1, land 0 (independent of the readers)."""
    first = np.datetime64(first, "D")
    index = (GEO if kind == "geo" else MHW)
    years = sorted({int(str(first + k)[:4]) for k in range(n)})
    data = np.concatenate([tiny.data(kind, y) for y in years])
    offset = int((first - np.datetime64(f"{years[0]}-01-01", "D")).astype(int))
    block = data[offset : offset + n][:, [index[c] for c in channels]]
    return np.where(tiny.mask, block, 0.0).astype(np.float32)


def index_of(ds, date):
    (i,) = np.flatnonzero(ds.time0s == np.datetime64(date, "D"))
    return int(i)


def test_velocity_window_shapes_and_values_across_year_boundary(tiny_master, tiny_cfg):
    ds = VelocityWindowDataset(tiny_cfg(), "train", n_in=3, n_out=4)
    assert ds.channels == ("u_g", "v_g")
    assert len(ds) == 730 - (3 + 4 - 1)  # 2001 + 2002, one window per start day
    item = ds[index_of(ds, "2001-12-31")]  # inputs 29-31 Dec 2001, targets 1-4 Jan 2002
    assert item["inputs"].shape == (3, 2, 8, 12) and item["targets"].shape == (4, 2, 8, 12)
    assert item["inputs"].dtype == torch.float32 and item["mask"].dtype == torch.bool
    assert item["time0"].dtype == torch.int64
    assert item["time0"].item() == np.datetime64("2001-12-31", "D").astype(np.int64)
    want = expected_days(tiny_master, "geo", "2001-12-29", 7, ("u_g", "v_g"))
    np.testing.assert_array_equal(item["inputs"].numpy(), want[:3])
    np.testing.assert_array_equal(item["targets"].numpy(), want[3:])


def test_land_is_zero_and_mask_explicit(tiny_master, tiny_cfg):
    ds = SSTAWindowDataset(tiny_cfg(), "val", n_lead=5)
    item = ds[17]
    mask = item["mask"].numpy()
    np.testing.assert_array_equal(mask, tiny_master.mask)
    assert (~mask).sum() > 0
    for key in ("ssta", "velocity", "atmos"):
        values = item[key].numpy()
        assert np.all(values[..., ~mask] == 0.0), key
        assert np.all(np.isfinite(values)), key
    # t2m over the ocean stays in kelvin (~290), not a zero-filled or normalised value
    assert 250 < item["atmos"][:, 2].numpy()[..., mask].mean() < 330


def test_ssta_window_observed_values_and_channels(tiny_master, tiny_cfg):
    cfg = tiny_cfg()
    ds = SSTAWindowDataset(cfg, "train", n_lead=6)
    assert ds.atmos_channels == ("u10", "v10", "t2m") and ds.velocity_channels == ("u_g", "v_g")
    assert len(ds) == 730 - 6
    item = ds[index_of(ds, "2001-12-28")]  # 28 Dec 2001 .. 3 Jan 2002
    assert item["ssta"].shape == (7, 8, 12) and item["velocity"].shape == (7, 2, 8, 12)
    assert item["atmos"].shape == (7, 3, 8, 12)
    np.testing.assert_array_equal(item["ssta"].numpy(), expected_days(tiny_master, "mhw", "2001-12-28", 7, ("ssta",))[:, 0])
    np.testing.assert_array_equal(item["atmos"].numpy(), expected_days(tiny_master, "mhw", "2001-12-28", 7, ("u10", "v10", "t2m")))
    np.testing.assert_array_equal(item["velocity"].numpy(), expected_days(tiny_master, "geo", "2001-12-28", 7, ("u_g", "v_g")))


def days_touched(ds, before, after):
    days = set()
    for t0 in ds.time0s:
        days.update(int(x) for x in np.arange(t0 - before, t0 + after + 1).astype(np.int64))
    return days


def test_splits_are_disjoint_and_never_cross_a_gap(tiny_master):
    cfg = DataConfig(root=tiny_master.root, train_years=[2001, 2003], val_years=[2002], test_years=[2004])
    touched = {}
    for split in ("train", "val", "test"):
        ds = VelocityWindowDataset(cfg, split, n_in=4, n_out=3)
        touched[split] = days_touched(ds, 3, 3)
        years = {int(str(np.datetime64(d, "D"))[:4]) for d in touched[split]}
        assert years == set(getattr(cfg, f"{split}_years")), split
    assert not touched["train"] & touched["val"]
    assert not touched["train"] & touched["test"]
    assert not touched["val"] & touched["test"]
    # 2001 and 2003 are not consecutive: no train window spans the new year into 2002
    train = VelocityWindowDataset(cfg, "train", n_in=4, n_out=3)
    assert len(train) == (365 - 6) + (365 - 6)


def test_window_starts_stride():
    starts = window_starts([2001, 2002], n_before=2, n_after=3, stride=5)
    assert starts[0] == np.datetime64("2001-01-03") and np.all(np.diff(starts).astype(int) == 5)
    assert starts[-1] + 3 <= np.datetime64("2002-12-31") and starts[-1] + 5 + 3 > np.datetime64("2002-12-31")


def test_files_opened_once_not_per_item_and_reopened_after_pickle(tiny_cfg):
    before = YearFile.open_count
    ds = SSTAWindowDataset(tiny_cfg(), "train", n_lead=10, stride=7)
    after_init = YearFile.open_count
    assert after_init - before == 4  # geo + mhw of 2001 and 2002, validated once
    items = [ds[i] for i in range(len(ds))]
    assert len(items) > 100
    assert YearFile.open_count == after_init  # not one open per item
    clone = pickle.loads(pickle.dumps(ds))  # what a spawned DataLoader worker receives
    again = clone[len(ds) - 1]  # a window in 2002 only: opens geo and mhw of 2002
    assert YearFile.open_count == after_init + 2
    for key in ("ssta", "velocity", "atmos"):
        assert torch.equal(again[key], items[-1][key])


def test_forked_dataloader_worker_reads_the_same(tiny_cfg):
    ds = VelocityWindowDataset(tiny_cfg(), "val", n_in=2, n_out=2, stride=30)
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="fork")
    batches = list(loader)
    assert sum(b["inputs"].shape[0] for b in batches) == len(ds)
    assert torch.equal(batches[0]["inputs"][1], ds[1]["inputs"])
    assert torch.equal(batches[-1]["time0"][-1], ds[len(ds) - 1]["time0"])


def test_reference_release_layout_reads_like_coordinate_files(tmp_path, tiny_master):
    ref = write_tiny_folder(tmp_path / "ref", years=[2001, 2002], reference_layout=True)
    common = dict(train_years=[2001], val_years=[2002], test_years=[2030])
    with pytest.raises(DataContractError, match="lat_bounds"):
        VelocityWindowDataset(DataConfig(root=ref.root, **common), "train", 2, 2)
    cfg = DataConfig(root=ref.root, lat_bounds=TINY_LAT_BOUNDS, lon_bounds=TINY_LON_BOUNDS, **common)
    a = SSTAWindowDataset(cfg, "val", n_lead=3)
    b = SSTAWindowDataset(DataConfig(root=tiny_master.root, **common), "val", n_lead=3)
    assert a.coords.allclose(b.coords)
    for key in ("ssta", "velocity", "atmos", "mask", "time0"):
        assert torch.equal(a[100][key], b[100][key])


def test_grid_mismatch_between_years_is_an_error(tiny):
    shifted = GridCoords(lat=tiny.coords.lat + 0.25, lon=tiny.coords.lon)
    write_year(tiny.geo[2002], "geo", 2002, tiny.data("geo", 2002), shifted, mask=tiny.mask)
    with pytest.raises(DataContractError, match=r"geo_2002\.nc: grid .* differs"):
        DataFolder(tiny.root, [2001, 2002])


def test_wrong_day_count_and_missing_year_are_errors(tiny):
    tiny.mhw[2001].replace(tiny.mhw[2004])  # 365 days stored as the leap year 2004
    with pytest.raises(DataContractError, match=r"mhw_2004\.nc: 365 days, but 2004 has 366"):
        DataFolder(tiny.root, [2004])
    with pytest.raises(DataContractError, match=r"mhw_2001\.nc: missing"):
        DataFolder(tiny.root, [2001])


def test_nan_over_ocean_in_a_window_names_file_and_date(tiny):
    import netCDF4

    with netCDF4.Dataset(tiny.mhw[2002], "a") as ds:
        var = ds["mhws_variables"]
        var.set_auto_maskandscale(False)
        block = np.asarray(var[3])
        block[0, 4, 4] = np.nan
        var[3] = block
    cfg = DataConfig(root=tiny.root, train_years=[2001, 2002], val_years=[2003], test_years=[2004])
    ds = SSTAWindowDataset(cfg, "train", n_lead=5)
    with pytest.raises(DataContractError, match=r"mhw_2002\.nc: NaN/inf over the ocean on 2002-01-04"):
        ds[index_of(ds, "2001-12-31")]


def _write_forecast_for(ds_obs, path, n_lead, drop=0):
    """A MultiConv_data.nc whose lead k of start s is observed velocity + 0.01 * (k + 1)."""
    time0 = ds_obs.time0s[drop:]
    outputs = np.zeros((time0.size, n_lead, 2, 8, 12), dtype=np.float32)
    for s, t0 in enumerate(time0):
        k = min(n_lead, ds_obs.n_lead)  # leads beyond the window stay 0 (days outside the split)
        obs = ds_obs.folder.read("geo", t0 + 1, k, ("v_g", "u_g"))  # stored in swapped order
        outputs[s, :k] = obs + 0.01 * np.arange(1, k + 1, dtype=np.float32)[:, None, None, None]
    write_forecast(path, outputs, time0, ds_obs.coords, ds_obs.mask, channels=("v_g", "u_g"))
    return outputs


def test_forecast_velocity_matches_time0_and_reorders_channels(tiny_cfg, tmp_path):
    cfg = tiny_cfg()
    observed = SSTAWindowDataset(cfg, "val", n_lead=4, stride=10)
    path = tmp_path / "MultiConv_data.nc"
    _write_forecast_for(observed, path, n_lead=6)
    ds = SSTAWindowDataset(cfg, "val", n_lead=4, velocity="forecast", forecast_path=path, stride=10)
    assert len(ds) == len(observed)
    i = 5
    got, obs = ds[i]["velocity"].numpy(), observed[i]["velocity"].numpy()
    np.testing.assert_array_equal(got[0], obs[0])  # index 0 is observed
    lead_offset = 0.01 * np.arange(1, 5, dtype=np.float32)[:, None, None, None]
    np.testing.assert_allclose(got[1:], np.where(ds.mask, obs[1:] + lead_offset, 0.0), atol=1e-6)
    assert torch.equal(ds[i]["ssta"], observed[i]["ssta"])


def test_forecast_errors_missing_dates_and_short_leads(tiny_cfg, tmp_path):
    cfg = tiny_cfg()
    observed = SSTAWindowDataset(cfg, "val", n_lead=4, stride=10)
    path = tmp_path / "MultiConv_data.nc"
    _write_forecast_for(observed, path, n_lead=3)
    with pytest.raises(DataContractError, match="holds 3 leads but 4 are needed"):
        SSTAWindowDataset(cfg, "val", n_lead=4, velocity="forecast", forecast_path=path, stride=10)
    _write_forecast_for(observed, path, n_lead=4, drop=2)
    msg = rf"no stage-1 forecast for 2 of the {len(observed)} val start dates \(first 2003-01-01, last 2003-01-11\)"
    with pytest.raises(DataContractError, match=msg):
        SSTAWindowDataset(cfg, "val", n_lead=4, velocity="forecast", forecast_path=path, stride=10)
    skip = SSTAWindowDataset(
        cfg, "val", n_lead=4, velocity="forecast", forecast_path=path, stride=10, missing_forecast="skip"
    )
    assert len(skip) == len(observed) - 2
    with pytest.raises(DataContractError, match=r"nope\.nc: missing; run the inference .*inference_vel\.py"):
        SSTAWindowDataset(cfg, "val", n_lead=4, velocity="forecast", forecast_path=tmp_path / "nope.nc")


def test_top_level_dataloader_modules_expose_the_library_datasets():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for name, cls in (("dataloader_vel", VelocityWindowDataset), ("dataloader", SSTAWindowDataset)):
        spec = importlib.util.spec_from_file_location(name, root / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert getattr(module, cls.__name__) is cls
