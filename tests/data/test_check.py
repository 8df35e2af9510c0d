"""``oceane2e check``: each contract fault, created in a tmp copy of a tiny folder, is reported
with the file's name and the problem; every fault is reported, not just the first."""

from __future__ import annotations

import netCDF4
import numpy as np

from oceane2e.data.check import check_folder, main
from oceane2e.data.contract import MHW_CHANNELS, GridCoords, write_year
from oceane2e.testing.folders import TINY_LAT_BOUNDS, TINY_LON_BOUNDS, tiny_year_data, write_tiny_folder


def _only(problems, name):
    """Problems about the file called ``name``."""
    return [p for p in problems if p.file.endswith(name)]


def test_valid_folder_passes_and_main_prints_summary(tiny_master, capsys):
    assert check_folder(tiny_master.root) == []
    assert main([str(tiny_master.root), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "2001..2004" in out and "8x12" in out and "ssta, zos, u10, v10, t2m" in out


def test_missing_year_and_required_years(tiny):
    tiny.geo[2002].unlink()
    problems = check_folder(tiny.root)
    (p,) = problems
    assert p.file.endswith("geo_2002.nc") and "missing" in p.message
    # years required explicitly: 2005 has neither file
    problems = check_folder(tiny.root, years=[2001, 2005])
    assert {p.file.rsplit("/", 1)[1] for p in problems} == {"geo_2005.nc", "mhw_2005.nc"}


def test_missing_variable_and_missing_channel(tiny):
    with netCDF4.Dataset(tiny.mhw[2002], "a") as ds:
        ds.renameVariable("mhws_variables", "sst_things")
    data = tiny.data("mhw", 2003)[:, :4]  # t2m dropped
    write_year(tiny.mhw[2003], "mhw", 2003, data, tiny.coords, mask=tiny.mask, channels=MHW_CHANNELS[:4])
    problems = check_folder(tiny.root)
    (var,) = _only(problems, "mhw_2002.nc")
    assert "'mhws_variables' missing" in var.message and "sst_things" in var.message
    (chan,) = _only(problems, "mhw_2003.nc")
    assert "['t2m'] missing" in chan.message and "re-run" in chan.fix


def test_grid_differs_and_wrong_shape(tiny):
    shifted = GridCoords(lat=tiny.coords.lat, lon=tiny.coords.lon + 0.5)
    write_year(tiny.geo[2003], "geo", 2003, tiny.data("geo", 2003), shifted, mask=tiny.mask)
    narrow = GridCoords(lat=tiny.coords.lat, lon=tiny.coords.lon[:-1])
    write_year(tiny.mhw[2004], "mhw", 2004, tiny.data("mhw", 2004)[..., :-1], narrow, mask=tiny.mask[:, :-1])
    problems = check_folder(tiny.root)
    (geo,) = _only(problems, "geo_2003.nc")
    assert "differs from the grid of geo_2001.nc" in geo.message and "lon -69.3750" in geo.message
    (mhw,) = _only(problems, "mhw_2004.nc")
    assert "8x11" in mhw.message and "differs" in mhw.message


def test_non_monotonic_coordinates(tiny):
    with netCDF4.Dataset(tiny.geo[2002], "a") as ds:
        ds["lat"][:] = ds["lat"][::-1]
    with netCDF4.Dataset(tiny.mhw[2002], "a") as ds:
        lon = np.asarray(ds["lon"][:])
        lon[[3, 4]] = lon[[4, 3]]
        ds["lon"][:] = lon
    problems = check_folder(tiny.root)
    (geo,) = _only(problems, "geo_2002.nc")
    assert "'lat' is decreasing" in geo.message and "flip" in geo.fix
    (mhw,) = _only(problems, "mhw_2002.nc")
    assert "'lon' is not monotonic" in mhw.message


def test_wrong_number_of_days(tiny):
    # a 2003 file (365 days) saved as 2004 (a leap year): both the count and the dates are wrong
    tiny.mhw[2003].replace(tiny.mhw[2004])
    problems = check_folder(tiny.root, years=[2001, 2002, 2004])
    msgs = [p.message for p in _only(problems, "mhw_2004.nc")]
    assert any("365 days, but 2004 has 366" in m for m in msgs), msgs


def test_wrong_dates_in_time_coordinate(tiny):
    with netCDF4.Dataset(tiny.geo[2002], "a") as ds:
        ds["time"].units = "days since 2002-01-02 00:00:00"
    (p,) = check_folder(tiny.root)
    assert p.file.endswith("geo_2002.nc") and "not the days of 2002" in p.message


def test_nan_over_ocean_reported_land_nan_and_finite_land_fine(tiny):
    assert tiny.mask[3, 5]
    with netCDF4.Dataset(tiny.mhw[2003], "a") as ds:
        var = ds["mhws_variables"]
        var.set_auto_maskandscale(False)
        block = np.asarray(var[40])
        block[4, 3, 5] = np.nan  # t2m on 10 Feb over the ocean
        var[40] = block
    # land with finite values (no NaN written on land) is fine
    write_year(tiny.geo[2001], "geo", 2001, np.nan_to_num(tiny.data("geo", 2001)), tiny.coords)
    (p,) = check_folder(tiny.root)
    assert p.file.endswith("mhw_2003.nc")
    assert "NaN/inf over the ocean" in p.message and "2003-02-10" in p.message and "t2m" in p.message


def test_corrupt_file(tiny):
    tiny.geo[2004].write_bytes(b"this is not a netcdf file" * 10)
    (p,) = check_folder(tiny.root)
    assert p.file.endswith("geo_2004.nc") and "unreadable or corrupt" in p.message and "regenerate" in p.fix


def test_mask_missing_or_wrong_shape(tiny):
    tiny.mask_path.unlink()
    (p,) = check_folder(tiny.root)
    assert p.file.endswith("mask.npy") and p.message == "missing"
    np.save(tiny.mask_path, np.ones((8, 13), dtype=np.uint8))
    (p,) = check_folder(tiny.root)
    assert p.file.endswith("mask.npy") and "(8, 13) differs from the data grid (8, 12)" in p.message


def test_clim_problems(tiny):
    tiny.clim_path.unlink()
    (p,) = check_folder(tiny.root)
    assert p.file.endswith("clim.nc") and p.message == "missing"
    write_tiny_folder(tiny.root / "other", years=[2001], shape=(8, 10))
    (tiny.root / "other" / "clim.nc").replace(tiny.clim_path)
    problems = check_folder(tiny.root)
    assert problems and all(p.file.endswith("clim.nc") for p in problems)
    assert any("seas grid (8, 10) differs from the data grid (8, 12)" in p.message for p in problems)


def test_every_problem_is_reported_and_main_exits_1(tiny, capsys):
    tiny.geo[2002].unlink()
    tiny.mhw[2004].write_bytes(b"garbage")
    tiny.clim_path.unlink()
    problems = check_folder(tiny.root)
    assert sorted(p.file.rsplit("/", 1)[1] for p in problems) == ["clim.nc", "geo_2002.nc", "mhw_2004.nc"]
    assert main([str(tiny.root), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "3 problem(s)" in out and "geo_2002.nc" in out and "mhw_2004.nc" in out and "clim.nc" in out


def test_reference_release_layout(tmp_path):
    ref = write_tiny_folder(tmp_path / "ref", years=[2003, 2004], reference_layout=True)
    with netCDF4.Dataset(ref.geo[2003]) as ds:
        assert set(ds.variables) == {"mhws_variables"}
    # without bounds: every file is reported, with the fix
    problems = check_folder(ref.root)
    assert len(problems) == 4 and all("no lat/lon coordinates" in p.message for p in problems)
    assert all("--lat-bounds" in p.fix for p in problems)
    assert check_folder(ref.root, lat_bounds=TINY_LAT_BOUNDS, lon_bounds=TINY_LON_BOUNDS) == []
    # a file of another shape is an error, not a guess
    from oceane2e.testing.folders import write_reference_layout_year

    write_reference_layout_year(ref.mhw[2004], tiny_year_data("mhw", 2004, (8, 11)))
    problems = check_folder(ref.root, lat_bounds=TINY_LAT_BOUNDS, lon_bounds=TINY_LON_BOUNDS)
    (p,) = _only(problems, "mhw_2004.nc")
    assert "8x11" in p.message and "differs" in p.message
    # channels follow the contract's order: a file with 4 unnamed channels cannot be mapped
    write_reference_layout_year(ref.mhw[2004], tiny_year_data("mhw", 2004, (8, 12))[:, :4])
    problems = check_folder(ref.root, lat_bounds=TINY_LAT_BOUNDS, lon_bounds=TINY_LON_BOUNDS)
    (p,) = _only(problems, "mhw_2004.nc")
    assert "4 channels and no channel names" in p.message


def test_coordinates_disagree_with_given_bounds(tiny):
    problems = check_folder(tiny.root, lat_bounds=(30.0, 32.0), lon_bounds=(-71.0, -68.0))
    yearly = [p for p in problems if not p.file.endswith("clim.nc")]
    assert len(yearly) == 8 and all("differs from the grid of the given lat/lon bounds" in p.message for p in yearly)
    (clim,) = _only(problems, "clim.nc")
    assert "differs from the data grid" in clim.message


def test_main_takes_years_and_bounds_from_a_stage_config(tmp_path, capsys):
    ref = write_tiny_folder(tmp_path / "ref", years=[2001, 2002, 2003], reference_layout=True)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"data:\n  root: {ref.root}\n  train_years: [2001, 2002]\n  val_years: [2003]\n  test_years: [2004]\n"
        f"  lat_bounds: {list(TINY_LAT_BOUNDS)}\n  lon_bounds: {list(TINY_LON_BOUNDS)}\nmodel: {{}}\n"
    )
    assert main(["--config", str(cfg), "--quiet"]) == 1  # the test year 2004 is missing
    out = capsys.readouterr().out
    assert "geo_2004.nc: missing" in out and "mhw_2004.nc: missing" in out
    assert "2 problem(s)" in out
    assert main([str(ref.root), "--config", str(cfg), "--years", "2001-2003", "--quiet"]) == 0
    assert "reference-release layout" in capsys.readouterr().out


def test_gap_in_the_years_is_flagged(tiny, capsys):
    """Issue 15.9: 2002 missing from 2001-2004 is not a valid 3-year folder."""
    tiny.geo[2002].unlink()
    tiny.mhw[2002].unlink()
    problems = check_folder(tiny.root)
    assert any("year(s) [2002] missing between 2001 and 2004" in p.message for p in problems)
    assert {p.file.rsplit("/", 1)[1] for p in problems if p.file.endswith(".nc")} == {"geo_2002.nc", "mhw_2002.nc"}
    assert main([str(tiny.root), "--quiet"]) == 1
    assert "OK" not in capsys.readouterr().out


def test_non_binary_mask_is_flagged_and_refused_by_the_readers(tiny):
    """Issue 15.9: a mask holding a 2 is flagged by check and refused by training's reader."""
    import pytest

    from oceane2e.data.config import DataConfig
    from oceane2e.data.contract import DataContractError, read_mask
    from oceane2e.data.datasets import DataFolder

    mask = np.load(tiny.mask_path)
    mask[0, 0] = 2
    np.save(tiny.mask_path, mask)
    assert any("other than 0/1" in p.message for p in _only(check_folder(tiny.root), "mask.npy"))
    with pytest.raises(DataContractError, match=r"mask\.npy: mask holds values \[2\] other than 0/1"):
        read_mask(tiny.root)
    cfg = DataConfig(root=tiny.root, train_years=[2001], val_years=[2002], test_years=[2003])
    with pytest.raises(DataContractError, match="other than 0/1"):
        DataFolder.from_config(cfg)
