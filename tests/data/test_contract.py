"""The data contract's writers and readers: exact round trips, CF metadata, chunking,
the reference-release layout, the Hobday day-of-year convention, clear errors."""

from __future__ import annotations

import pickle

import netCDF4
import numpy as np
import pytest

from oceane2e.data.contract import (
    GEO_CHANNELS,
    MHW_CHANNELS,
    DataContractError,
    GridCoords,
    YearFile,
    channel_index,
    days_in_year,
    find_years,
    leap_doy_index,
    read_clim,
    read_mask,
    write_clim,
    write_mask,
    write_year,
    year_dates,
)
from oceane2e.testing.folders import tiny_mask, tiny_year_data, write_reference_layout_year

COORDS = GridCoords.from_bounds((30.0, 32.0), (-70.0, -67.0), (8, 12))
MASK = tiny_mask((8, 12))


def test_calendar():
    assert [days_in_year(y) for y in (1900, 2000, 2003, 2004)] == [365, 366, 365, 366]
    dates = year_dates(2004)
    assert dates[0] == np.datetime64("2004-01-01") and dates[-1] == np.datetime64("2004-12-31")
    # Hobday/heatwaveR: 1 March is index 60 in every year, 29 February (59) only in leap years
    idx = leap_doy_index(np.array(["2003-01-01", "2003-02-28", "2003-03-01", "2004-02-29", "2004-03-01", "2003-12-31", "2004-12-31"], dtype="datetime64[D]"))
    np.testing.assert_array_equal(idx, [0, 58, 60, 59, 60, 365, 365])


def test_grid_coords_from_bounds_and_validation():
    assert COORDS.shape == (8, 12)
    np.testing.assert_allclose(COORDS.lat[[0, -1]], [30.125, 31.875])
    np.testing.assert_allclose(COORDS.lon[[0, -1]], [-69.875, -67.125])
    with pytest.raises(DataContractError, match="lat coordinate is not strictly increasing"):
        GridCoords(lat=COORDS.lat[::-1], lon=COORDS.lon)
    with pytest.raises(DataContractError, match="bounds must increase"):
        GridCoords.from_bounds((32.0, 30.0), (-70.0, -67.0), (8, 12))


def test_write_year_round_trip_with_cf_metadata(tmp_path):
    data = tiny_year_data("mhw", 2004, (8, 12), seed=3)  # finite everywhere: the writer puts NaN on land
    path = write_year(tmp_path / "mhw_2004.nc", "mhw", 2004, data, COORDS, mask=MASK, attrs={"synthetic": True})
    with YearFile(path, "mhw") as yf:
        assert yf.channels == MHW_CHANNELS and yf.n_days == 366 and yf.has_coords
        assert yf.coords.allclose(COORDS)
        block = yf.read(58, 61)
        np.testing.assert_array_equal(block[..., MASK], data[58:61][..., MASK])
        assert np.isnan(block[..., ~MASK]).all()
        np.testing.assert_array_equal(yf.read(0, 2, ["t2m", "ssta"])[..., MASK], data[:2][:, [4, 0]][..., MASK])
        with pytest.raises(DataContractError, match="channel 'sst' missing"):
            yf.index("sst")
    with netCDF4.Dataset(path) as ds:
        assert ds.Conventions.startswith("CF") and ds.synthetic == 1
        var = ds["mhws_variables"]
        assert var.chunking() == [1, 5, 8, 12]  # one day per chunk
        assert var.units == "K; m; m s-1; m s-1; K"
        assert ds["time"].units == "days since 2004-01-01 00:00:00" and ds["lat"].units == "degrees_north"
        np.testing.assert_array_equal(ds["mask"][:], MASK.astype(np.int8))
        # channel names as a CF char array, never VLEN strings (HDF5 segfaults re-opening those)
        assert ds["channel"].dtype == np.dtype("S1") and ds["channel"].dimensions == ("channel", "channel_strlen")
    assert channel_index("geo", "v_g") == 1
    with pytest.raises(DataContractError, match=r"shape \(365, 2, 8, 12\) != expected \(366, 2, 8, 12\)"):
        write_year(tmp_path / "geo_2004.nc", "geo", 2004, data[:365, :2], COORDS)


def test_reference_layout_and_grid_errors(tmp_path):
    data = tiny_year_data("geo", 2003, (8, 12))
    path = write_reference_layout_year(tmp_path / "geo_2003.nc", data)
    with pytest.raises(DataContractError, match="set data.lat_bounds and data.lon_bounds"):
        YearFile(path, "geo")
    with YearFile(path, "geo", coords=COORDS) as yf:
        assert yf.channels == GEO_CHANNELS and not yf.has_coords
        np.testing.assert_array_equal(yf.read(10, 11), data[10:11])
    with pytest.raises(DataContractError, match=r"grid shape \(8, 12\) differs from the configured grid \(8, 11\)"):
        YearFile(path, "geo", coords=GridCoords(lat=COORDS.lat, lon=COORDS.lon[:11]))
    bad = write_reference_layout_year(tmp_path / "mhw_2003.nc", tiny_year_data("mhw", 2003, (8, 12))[:, :4])
    with pytest.raises(DataContractError, match="4 channels but no channel names"):
        YearFile(bad, "mhw", coords=COORDS)
    written = write_year(tmp_path / "geo_2002.nc", "geo", 2002, tiny_year_data("geo", 2002, (8, 12)), COORDS)
    other = GridCoords(lat=COORDS.lat + 1.0, lon=COORDS.lon)
    with pytest.raises(DataContractError, match="differs from the expected grid"):
        YearFile(written, "geo", coords=other)
    with pytest.raises(TypeError, match="open it inside the worker"):
        with YearFile(written, "geo") as yf:
            pickle.dumps(yf)
    (tmp_path / "geo_2001.nc").write_bytes(b"corrupt")
    with pytest.raises(DataContractError, match="unreadable or corrupt"):
        YearFile(tmp_path / "geo_2001.nc", "geo")
    with pytest.raises(DataContractError, match="missing"):
        YearFile(tmp_path / "geo_1999.nc", "geo")
    (tmp_path / "geo_notes.nc").write_bytes(b"")
    assert find_years(tmp_path, "geo") == [2001, 2002, 2003]


def test_mask_and_clim_round_trip(tmp_path):
    write_mask(tmp_path, MASK)
    np.testing.assert_array_equal(read_mask(tmp_path), MASK)
    with pytest.raises(DataContractError, match="elsewhere: data folder does not exist"):
        read_mask(tmp_path / "elsewhere")  # the whole folder is missing: say so, not "mask.npy: missing"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataContractError, match="mask.npy: missing"):
        read_mask(tmp_path / "empty")
    doy = np.arange(366, dtype=np.float32)[:, None, None]
    seas = np.broadcast_to(10 + doy / 100, (366, 8, 12)).copy()
    thresh = seas + 2.0
    path = write_clim(
        tmp_path / "clim.nc", seas, thresh, COORDS, variable="sst", baseline=(1983, 2012),
        window_half_width=5, smooth_width=31, percentile=90.0, mask=MASK,
    )
    clim = read_clim(path)
    assert clim.variable == "sst" and clim.baseline == (1983, 2012) and clim.attrs["smooth_width"] == 31
    assert clim.coords.allclose(COORDS)
    s, t = clim.for_dates(np.array(["2003-03-01", "2004-02-29"], dtype="datetime64[D]"))
    np.testing.assert_allclose(s[:, 3, 5], [10.60, 10.59], rtol=1e-6)
    np.testing.assert_allclose(t[:, 3, 5] - s[:, 3, 5], 2.0, rtol=1e-6)
    assert np.isnan(s[:, ~MASK]).all()
