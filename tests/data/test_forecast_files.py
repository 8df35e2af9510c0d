"""Forecast files (one layout for velocity and SSTA) round-trip exactly, are CF-decodable, carry NaN on
land and fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from oceane2e.data.contract import DataContractError, GridCoords
from oceane2e.data.forecast_files import ForecastFile, ForecastWriter, read_forecast, write_forecast
from oceane2e.testing.folders import tiny_mask

COORDS = GridCoords.from_bounds((30.0, 32.0), (-70.0, -67.0), (8, 12))
MASK = tiny_mask((8, 12))
TIME0 = np.array(["2003-12-30", "2003-12-31", "2004-02-28"], dtype="datetime64[D]")


def test_velocity_forecast_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    outputs = rng.standard_normal((3, 5, 2, 8, 12)).astype(np.float32)
    targets = rng.standard_normal((3, 5, 2, 8, 12)).astype(np.float32)
    path = write_forecast(tmp_path / "MultiConv_data.nc", outputs, TIME0, COORDS, MASK, targets, attrs={"model": "MultiConv"})
    f = read_forecast(path)
    np.testing.assert_array_equal(f.time0, TIME0)
    np.testing.assert_array_equal(f.lead, [1, 2, 3, 4, 5])
    assert f.channels == ("u_g", "v_g") and f.attrs["model"] == "MultiConv"
    assert f.coords.allclose(COORDS)
    np.testing.assert_array_equal(f.mask, MASK)
    np.testing.assert_array_equal(f.outputs[..., MASK], outputs[..., MASK])
    np.testing.assert_array_equal(f.targets[..., MASK], targets[..., MASK])
    assert np.isnan(f.outputs[..., ~MASK]).all() and np.isnan(f.targets[..., ~MASK]).all()
    # int days since 1970 are accepted as time0 too, and no temporary file is left behind
    write_forecast(path, outputs, TIME0.astype(np.int64), COORDS, MASK)
    assert read_forecast(path).targets is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MultiConv_data.nc"]


def test_velocity_forecast_is_cf_decodable(tmp_path):
    outputs = np.ones((3, 4, 2, 8, 12), dtype=np.float32)
    path = write_forecast(tmp_path / "f.nc", outputs, TIME0, COORDS, MASK)
    with xr.open_dataset(path) as ds:
        assert ds["outputs"].dims == ("sample", "lead", "channel", "lat", "lon")
        np.testing.assert_array_equal(ds["forecast_reference_time"].values.astype("datetime64[D]"), TIME0)
        valid = ds["time"].values.astype("datetime64[D]")
        assert valid[1, 0] == np.datetime64("2004-01-01") and valid[2, 1] == np.datetime64("2004-03-01")
        assert ds["lat"].attrs["units"] == "degrees_north" and ds.attrs["Conventions"].startswith("CF")


def test_velocity_forecast_lazy_reads_and_errors(tmp_path):
    outputs = np.arange(3 * 4 * 2 * 8 * 12, dtype=np.float32).reshape(3, 4, 2, 8, 12)
    path = write_forecast(tmp_path / "f.nc", outputs, TIME0, COORDS, None)
    with ForecastFile(path) as f:
        assert f.mask is None and f.n_lead == 4
        np.testing.assert_array_equal(f.read(np.datetime64("2003-12-31"), 2), outputs[1, :2])
        with pytest.raises(DataContractError, match="no forecast starting on 2004-01-01"):
            f.read(np.datetime64("2004-01-01"), 2)
        with pytest.raises(DataContractError, match="5 leads requested but the file holds 4"):
            f.read(TIME0[0], 5)
    with pytest.raises(DataContractError, match=r"outputs shape \(3, 4, 2, 8, 11\)"):
        write_forecast(tmp_path / "g.nc", outputs[..., :11], TIME0, COORDS, MASK)
    with pytest.raises(DataContractError, match="strictly increasing"):
        write_forecast(tmp_path / "g.nc", outputs, TIME0[::-1], COORDS, MASK)


def test_ssta_forecast_round_trip_and_cf(tmp_path):
    rng = np.random.default_rng(2)
    fc = rng.standard_normal((3, 6, 8, 12)).astype(np.float32)
    truth = rng.standard_normal((3, 6, 8, 12)).astype(np.float32)
    ssta = {"channels": ("ssta",)}
    path = write_forecast(tmp_path / "Oceane2e_forecast.nc", fc[:, :, None], TIME0, COORDS, MASK, truth[:, :, None],
                          attrs={"model": "Oceane2e"}, **ssta)
    f = read_forecast(path)
    assert f.attrs["model"] == "Oceane2e" and f.channels == ("ssta",)
    np.testing.assert_array_equal(f.time0, TIME0)
    np.testing.assert_array_equal(f.lead, np.arange(1, 7))
    np.testing.assert_array_equal(f.channel("ssta")[..., MASK], fc[..., MASK])
    np.testing.assert_array_equal(f.channel("ssta", targets=True)[..., MASK], truth[..., MASK])
    assert np.isnan(f.channel("ssta")[..., ~MASK]).all()
    np.testing.assert_array_equal(f.mask, MASK)
    with pytest.raises(DataContractError, match="no channel 'u_g'"):
        f.channel("u_g")
    with xr.open_dataset(path) as ds:
        assert ds["outputs"].attrs["units"] == "K" and ds.attrs["model"] == "Oceane2e"
        assert list(ds["channel"].values) == ["ssta"]
        assert ds["time"].values.astype("datetime64[D]")[0, 1] == np.datetime64("2004-01-01")
    no_truth = write_forecast(tmp_path / "p.nc", fc[:, :, None], TIME0, COORDS, MASK, attrs={"model": "persistence"},
                              **ssta)
    assert read_forecast(no_truth).targets is None
    with pytest.raises(DataContractError, match="targets shape"):
        write_forecast(tmp_path / "q.nc", fc[:, :, None], TIME0, COORDS, MASK, truth[:, :3, None], **ssta)
    with pytest.raises(DataContractError, match="missing; run the inference"):
        read_forecast(tmp_path / "absent.nc")


def test_block_writers_equal_one_shot_and_refuse_incomplete_files(tmp_path):
    rng = np.random.default_rng(3)
    outputs = rng.standard_normal((3, 2, 2, 8, 12)).astype(np.float32)
    one = read_forecast(write_forecast(tmp_path / "one.nc", outputs, TIME0, COORDS, MASK))
    with ForecastWriter(tmp_path / "blocks.nc", TIME0, 2, COORDS, MASK, channels=("u_g", "v_g")) as w:
        w.write(2, outputs[2:])  # blocks may arrive in any order (e.g. gathered from ranks)
        w.write(0, outputs[:2])
    blocks = read_forecast(tmp_path / "blocks.nc")
    np.testing.assert_array_equal(blocks.outputs, one.outputs)
    np.testing.assert_array_equal(blocks.time0, one.time0)
    fc = rng.standard_normal((3, 4, 1, 8, 12)).astype(np.float32)
    w = ForecastWriter(tmp_path / "partial.nc", TIME0, 4, COORDS, MASK, channels=("ssta",))
    w.write(0, fc[:1])
    with pytest.raises(DataContractError, match=r"2 sample\(s\) never written \(first index 1, start date 2003-12-31\)"):
        w.close()
    with pytest.raises(DataContractError, match=r"\['targets'\] given but the writer was created without them"):
        with ForecastWriter(tmp_path / "partial.nc", TIME0, 4, COORDS, MASK, channels=("ssta",)) as w:
            w.write(0, fc, fc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocks.nc", "one.nc"]  # nothing half-written left
