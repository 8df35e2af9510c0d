"""Readers of the reference release's global layout, on labelled stand-ins (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from oceane2e.data.contract import DataContractError, declared_absent, read_clim, read_mask
from oceane2e.data.converters.reference_global import (
    ReferenceGlobalConfig,
    ReferenceGlobalYear,
    convert_reference_global,
    read_reference_mask,
)
from oceane2e.testing.global_layout import stand_in_fields, stand_in_land, write_reference_global_stand_in


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    return write_reference_global_stand_in(tmp_path_factory.mktemp("reference_global"))


def test_mask_is_read_south_to_north_from_180w_with_nan_as_land(stand_in, tmp_path) -> None:
    ocean, grid = read_reference_mask(stand_in.mask_path)
    assert ocean.shape == (9, 18) and ocean.dtype == bool
    assert grid.lat[0] == pytest.approx(-80.0) and grid.lon[0] == pytest.approx(-170.0)
    assert not ocean[0].any()  # the southern polar cap is the first row
    assert not ocean[5, 0] and not ocean[5, -1] and ocean[5, 9]  # the continent on the dateline
    np.testing.assert_array_equal(ocean, ~stand_in_land(grid.lat[:, None], grid.lon[None, :]))
    ones = tmp_path / "ones.npy"
    np.save(ones, np.ones((9, 18)))
    with pytest.raises(DataContractError, match="NaN"):
        read_reference_mask(ones)


@pytest.mark.parametrize("with_coords", [False, True])
def test_daily_fields_land_on_the_mask_grid(tmp_path, with_coords: bool) -> None:
    si = write_reference_global_stand_in(tmp_path, years=(2001,), with_coords=with_coords)
    ocean, grid = read_reference_mask(si.mask_path)
    with ReferenceGlobalYear(si.root, 2001, grid) as files:
        assert files.grids["currents"].from_file is with_coords
        assert files.grids["era5"].flip_lat and files.grids["era5"].factor == 2
        day = 40
        fields = files.read_day(day)
    expected = stand_in_fields(np.float64(day), grid.lat[:, None], grid.lon[None, :])
    # cells whose 2 x 2 block of file cells is all ocean (elsewhere the mean is over the ocean part)
    step = 180.0 / (2 * grid.shape[0])
    full = ocean.copy()
    for dlat in (-step / 2, step / 2):
        for dlon in (-step / 2, step / 2):
            full &= ~stand_in_land(grid.lat[:, None] + dlat, grid.lon[None, :] + dlon)
    assert full.sum() > 50
    for name in ("ssta", "t2m", "v10", "u_g", "v_g"):  # linear in lat/lon: the block mean is the centre value
        np.testing.assert_allclose(fields[name][full], np.broadcast_to(expected[name], full.shape)[full],
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    # u10 = 5 + cos(lat): the mean of the two rows of each block
    rows = 5.0 + 0.5 * (np.cos(np.radians(grid.lat - step / 2)) + np.cos(np.radians(grid.lat + step / 2)))
    np.testing.assert_allclose(fields["u10"][full], np.broadcast_to(rows[:, None], full.shape)[full], rtol=1e-6)
    assert np.all(np.isfinite(fields["ssta"][ocean]))


def test_conversion_writes_a_valid_periodic_folder(stand_in, tmp_path) -> None:
    from oceane2e.data.check import check_folder
    from oceane2e.data.datasets import DataFolder
    from oceane2e.physics.grid import SphericalGrid

    out = tmp_path / "global"
    cfg = ReferenceGlobalConfig(
        source_root=stand_in.root, mask=stand_in.mask_path, out_dir=out, years=[2002], baseline=(2002, 2002),
        equatorial_band={"method": "mask", "half_width_deg": 15.0, "taper_deg": 5.0},
    )
    report = convert_reference_global(cfg)
    assert report.ocean_cells == report.reference_ocean_cells  # the stand-in has data on every ocean cell
    # valid: the sea level the layout does not have is declared absent (a stage that needs zos is told
    # so by the datasets; check accepts a declared absence)
    problems = [str(p) for p in check_folder(out)]
    assert problems == [], problems
    assert "zos" in declared_absent(out)
    ocean = read_mask(out)
    ref_ocean, grid = read_reference_mask(stand_in.mask_path)
    np.testing.assert_array_equal(ocean, ref_ocean)
    folder = DataFolder(out, [2002], channels={"mhw": ("ssta", "u10", "v10", "t2m")})
    geo = folder.read("geo", np.datetime64("2002-03-01"), 2, ("u_g", "v_g"))
    mhw = folder.read("mhw", np.datetime64("2002-03-01"), 2, ("ssta", "t2m"))
    band = np.abs(grid.lat) <= 15.0
    assert band.any() and np.all(geo[:, :, band][:, :, ocean[band]] == 0.0)  # the equatorial row: no current
    far = np.abs(grid.lat) >= 20.0
    exp = stand_in_fields(np.float64(59), grid.lat[:, None], grid.lon[None, :])  # 2002-03-01 is day 59
    step = 180.0 / (2 * grid.shape[0])
    sel = far[:, None] & ocean
    for dlat in (-step / 2, step / 2):
        for dlon in (-step / 2, step / 2):
            sel &= ~stand_in_land(grid.lat[:, None] + dlat, grid.lon[None, :] + dlon)
    np.testing.assert_allclose(geo[0, 0][sel], np.broadcast_to(exp["u_g"], sel.shape)[sel], rtol=1e-5)
    np.testing.assert_allclose(mhw[0, 0][sel], np.broadcast_to(exp["ssta"], sel.shape)[sel], atol=1e-6)
    assert read_clim(out / "clim.nc").variable == "ssta"
    # the written longitudes close the circle: the kernel's grid of this folder is periodic
    assert SphericalGrid.from_coords(grid.lat, grid.lon, ocean).periodic


def test_a_short_year_names_the_file(stand_in, tmp_path) -> None:
    import shutil

    import netCDF4

    root = tmp_path / "short"
    shutil.copytree(stand_in.root, root)
    path = root / "highres" / "CMEMS_2001_norm.nc"
    with netCDF4.Dataset(path) as ds:
        data = ds.variables["ssta_highres"][:300]
    path.unlink()
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 300)
        ds.createDimension("lat", data.shape[1])
        ds.createDimension("lon", data.shape[2])
        ds.createVariable("ssta_highres", "f4", ("time", "lat", "lon"))[:] = data
    _, grid = read_reference_mask(root / "mask.npy")
    with pytest.raises(DataContractError, match="CMEMS_2001_norm.nc: 300 days"):
        ReferenceGlobalYear(root, 2001, grid)


def test_a_converted_global_folder_feeds_the_stage_2_dataset(tmp_path) -> None:
    """No zos in the layout: the statistics and the stage-2 windows use only what the folder has."""
    from oceane2e.data.config import DataConfig
    from oceane2e.data.datasets import SSTAWindowDataset
    from oceane2e.data.normalization import ensure_stats

    si = write_reference_global_stand_in(tmp_path / "src", years=(2001, 2002, 2003))
    out = tmp_path / "global"
    cfg = ReferenceGlobalConfig(source_root=si.root, mask=si.mask_path, out_dir=out, years=[2001, 2002, 2003],
                                baseline=(2001, 2001))
    convert_reference_global(cfg)
    data = DataConfig(root=out, train_years=[2001], val_years=[2002], test_years=[2003])
    stats = ensure_stats(data, progress=False)
    assert "zos" not in stats and {"ssta", "u_g", "t2m"} <= set(stats)
    item = SSTAWindowDataset(data, "train", 3)[0]
    assert item["ssta"].shape == (4, 9, 18) and item["velocity"].shape == (4, 2, 9, 18)
