"""prepare-data end to end: real fixture files -> a data folder that passes the contract check."""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from oceane2e.data.check import check_folder
from oceane2e.data.contract import DataContractError, YearFile, read_clim, read_mask, year_dates
from oceane2e.data.converters.prepare import (
    PrepareConfig,
    climatology_by_blocks,
    main,
    prepare_data,
    read_contents,
)
from oceane2e.mhw.climatology import compute_climatology
from oceane2e.testing.stand_ins import tile_real_file, write_product_file

REAL = Path("/work/shared/realdata")
_here = Path(__file__).resolve().parents[3] / "shared" / "realdata"
REAL = _here if _here.exists() else REAL
DUACS_BLACKSEA = REAL / "altimetry" / "dt_blacksea_allsat_phy_l4_20160707_20200801.nc"
GHRSST_BLACKSEA = REAL / "sst_grid" / "20160707000000-GOS-L4_GHRSST-SSTfnd-OISST_HR_REP-BLK-v02.0-fv01.0.nc"
XMHW = REAL / "sst_grid" / "xmhw_oisst_2003_2004.nc"

LAT, LON = (42.0, 44.0), (30.0, 36.0)  # western Black Sea, 0.25 deg -> 8 x 24 cells
YEAR = 2016  # leap year: 366 days


@pytest.fixture(scope="module")
def black_sea_sources(tmp_path_factory) -> dict[str, Path]:
    """A year of sources from the real 2016-07-07 Black Sea files (DUACS 1/8 deg, GHRSST 1/24 deg):
    each day is the real field, SST plus a seasonal cycle of +-3 K; ERA5 is a stand-in in the new
    CDS layout (6-hourly, descending latitude) since no real ERA5 file is available."""
    d = tmp_path_factory.mktemp("black_sea_sources")
    dates = year_dates(YEAR)
    season = 3.0 * np.cos(2 * np.pi * (np.arange(dates.size) - 200) / 366.0)
    tile_real_file(
        GHRSST_BLACKSEA,
        d / "sst.nc",
        dates,
        {"analysed_sst": season},
        isel={"lat": slice(70, 140), "lon": slice(70, 260)},
    )
    tile_real_file(
        DUACS_BLACKSEA, d / "alt.nc", dates, isel={"latitude": slice(10, 40), "longitude": slice(10, 80)}
    )
    lat, lon = np.arange(41.0, 45.01, 0.25), np.arange(29.0, 37.01, 0.25)
    rng = np.random.default_rng(0)
    n = dates.size * 4
    fields = {
        "u10": rng.normal(3, 2, (n, lat.size, lon.size)),
        "v10": rng.normal(0, 2, (n, lat.size, lon.size)),
        "t2m": 288 + rng.normal(0, 1, (n, lat.size, lon.size)),
    }
    write_product_file(
        d / "era5.nc", "era5_new", dates, lat, lon, fields, hours=(0, 6, 12, 18), descending_lat=True
    )
    return {"sst": d / "sst.nc", "altimetry": d / "alt.nc", "era5": d / "era5.nc", "season": season}


def _config(out: Path, sources: dict, **over) -> PrepareConfig:
    data = {
        "out_dir": str(out),
        "lat_bounds": LAT,
        "lon_bounds": LON,
        "resolution": 0.25,
        "years": [YEAR],
        "climatology": {"baseline": (YEAR, YEAR)},
        "sources": {k: {"files": [str(sources[k])]} for k in ("sst", "altimetry", "era5") if k in sources},
    }
    data.update(over)
    return PrepareConfig.model_validate(data)


def test_full_folder_passes_the_contract_check(tmp_path, black_sea_sources):
    out = tmp_path / "BS"
    report = prepare_data(_config(out, black_sea_sources), progress=False)
    assert check_folder(out) == []
    assert report.mhw_channels == ("ssta", "zos", "u10", "v10", "t2m") and report.absent_channels == ()
    assert report.grid.shape == (8, 24)
    assert not (out / ".prepare_cache").exists()
    mask = read_mask(out)
    clim = read_clim(out / "clim.nc")
    assert clim.variable == "sst" and clim.baseline == (YEAR, YEAR)
    with YearFile(out / f"mhw_{YEAR}.nc", "mhw") as mhw, YearFile(out / f"geo_{YEAR}.nc", "geo") as geo:
        assert mhw.n_days == 366 and np.all(np.diff(mhw.coords.lat) > 0)
        day = np.datetime64(
            "2016-07-07"
        )  # the real day: zero seasonal offset added? no: the offset of day 188
        t = int((day - np.datetime64("2016-01-01")).astype(int))
        fields = mhw.read(t, t + 1)[0]
        uv = geo.read(t, t + 1)[0]
    # spot checks against the sources: a fully ocean 0.25 deg cell is the mean of 2 x 2 DUACS cells
    with netCDF4.Dataset(black_sea_sources["altimetry"]) as ds:
        adt = np.ma.filled(ds["adt"][t].astype(float), np.nan)
        ugos = np.ma.filled(ds["ugos"][t].astype(float), np.nan)
        slat, slon = ds["latitude"][:], ds["longitude"][:]
    grid = mhw.coords
    checked = 0
    for gi in range(grid.lat.size):
        for gj in range(grid.lon.size):
            rows = np.flatnonzero(np.abs(slat - grid.lat[gi]) < 0.125)
            cols = np.flatnonzero(np.abs(slon - grid.lon[gj]) < 0.125)
            block = adt[np.ix_(rows, cols)]
            if mask[gi, gj] and np.isfinite(block).all() and np.isfinite(ugos[np.ix_(rows, cols)]).all():
                assert fields[1, gi, gj] == pytest.approx(block.mean(), abs=1e-4)  # zos, m
                assert uv[0, gi, gj] == pytest.approx(ugos[np.ix_(rows, cols)].mean(), abs=1e-4)  # u_g
                checked += 1
    assert checked > 50
    # land is NaN everywhere (the Crimean/Bulgarian coasts are in the box), ocean finite
    assert (~mask).any() and mask.any()
    assert np.all(np.isnan(fields[:, ~mask])) and np.all(np.isfinite(fields[:, mask]))
    # SSTA = SST - seas: with one baseline year and a smooth seasonal cycle the anomaly is small
    assert np.nanmax(np.abs(fields[0])) < 0.5
    # the climatology follows the imposed seasonal cycle (every day is the real field + season(t), in K)
    season = black_sea_sources["season"]
    for d in (0, 100, 188, 300):
        rise = clim.seas[d, mask] - clim.seas[188, mask]
        np.testing.assert_allclose(rise, season[d] - season[188], atol=0.1)
    # t2m in K, ERA5 daily mean of the 4 steps
    assert 285 < np.nanmean(fields[4]) < 291
    for kind in ("mhw", "geo"):
        with netCDF4.Dataset(out / f"{kind}_{YEAR}.nc") as ds:
            np.testing.assert_array_equal(ds["mask"][:], mask.astype(np.int8))
    contents = read_contents(out)
    assert contents["channels"]["mhw"] == list(report.mhw_channels) and contents["sst_units"] == "K"


def test_sst_only_folder_records_absent_channels(tmp_path, black_sea_sources):
    out = tmp_path / "sst_only"
    report = prepare_data(_config(out, {"sst": black_sea_sources["sst"]}), progress=False)
    assert report.mhw_channels == ("ssta",) and report.geo_channels == ()
    assert set(report.absent_channels) == {"u_g", "v_g", "zos", "u10", "v10", "t2m"}
    assert not (out / f"geo_{YEAR}.nc").exists()
    contents = json.loads((out / "contents.json").read_text())
    assert contents["absent_channels"] == ["u_g", "v_g", "zos", "u10", "v10", "t2m"]
    with netCDF4.Dataset(out / f"mhw_{YEAR}.nc") as ds:
        assert ds.absent_channels == "u_g,v_g,zos,u10,v10,t2m"
    with YearFile(out / f"mhw_{YEAR}.nc", "mhw") as mhw:
        assert mhw.channels == ("ssta",)
        with pytest.raises(DataContractError, match="channel 'zos' missing"):
            mhw.index("zos")
    # the absence is declared, so the folder passes the check (the stages run in their SST-only mode;
    # tests/data/test_sst_only_folder.py: an undeclared gap is still reported)
    assert check_folder(out) == []


def test_the_sst_files_own_grid_when_no_target_grid_is_given(tmp_path, black_sea_sources):
    """No lat/lon bounds and no resolution: every cell of the SST files' grid, values unchanged (the config
    then works for any region's files, only paths and years edited)."""
    from oceane2e.data.converters.sources import DailySource

    out = tmp_path / "native"
    cfg = _config(out, {"sst": black_sea_sources["sst"]}, lat_bounds=None, lon_bounds=None, resolution=None)
    report = prepare_data(cfg, progress=False)
    src = DailySource([black_sea_sources["sst"]], "sst", [], (-90.0, 90.0))
    np.testing.assert_allclose(report.grid.lat, src.lat)
    np.testing.assert_allclose(report.grid.lon, src.lon)
    assert check_folder(out) == []
    assert read_contents(out)["grid"]["from"] == "the SST files' own grid"
    with pytest.raises(ValueError, match="together"):
        _config(out, {"sst": black_sea_sources["sst"]}, resolution=None)


def test_gap_in_a_source_stops_with_the_dates(tmp_path, black_sea_sources):
    alt = tmp_path / "alt_gappy.nc"
    dates = year_dates(YEAR)
    tile_real_file(
        DUACS_BLACKSEA,
        alt,
        np.delete(dates, [59, 60, 200]),
        isel={"latitude": slice(10, 40), "longitude": slice(10, 80)},
    )
    sources = {"sst": black_sea_sources["sst"], "altimetry": alt}
    with pytest.raises(
        DataContractError, match=r"altimetry: 3 day\(s\).*2016-02-29\.\.2016-03-01, 2016-07-19"
    ):
        prepare_data(_config(tmp_path / "out", sources), progress=False)


@pytest.mark.parametrize("baseline", [(2003, 2004), (2003, 2003)])
def test_climatology_path_on_real_oisst_two_years(tmp_path, baseline):
    """Real OISST cells near Tasmania (2003-2004, NaN over land): clim.nc equals the MHW code's
    climatology of the source in K, SSTA = SST - seas(doy), and the mask is the source's land."""
    out = tmp_path / "tas"
    cfg = PrepareConfig.model_validate(
        {
            "out_dir": str(out),
            "lat_bounds": (-43.0, -41.0),
            "lon_bounds": (147.5, 148.5),
            "resolution": 0.25,
            "years": [2004],
            "climatology": {"baseline": baseline},
            "sources": {"sst": {"files": [str(XMHW)]}},
        }
    )
    prepare_data(cfg, progress=False)
    with netCDF4.Dataset(XMHW) as ds:
        sst_c = np.ma.filled(ds["sst"][:].astype(np.float64), np.nan)  # (731, 8, 4) degC
    dates = np.arange(np.datetime64("2003-01-01"), np.datetime64("2005-01-01"))
    # the whole record (2003-2004) is the climatology's input, the baseline selects its years
    seas, thresh = compute_climatology(
        sst_c.astype(np.float32) + np.float32(273.15), dates, baseline=baseline
    )
    clim = read_clim(out / "clim.nc")
    mask = read_mask(out)
    land = np.isnan(sst_c).all(axis=0)
    np.testing.assert_array_equal(mask, ~land)
    assert land.any() and mask.sum() == 12
    np.testing.assert_allclose(clim.seas[:, mask], seas[:, mask], atol=1e-4)
    np.testing.assert_allclose(clim.thresh[:, mask], thresh[:, mask], atol=1e-4)
    with YearFile(out / "mhw_2004.nc", "mhw") as mhw:
        ssta = mhw.read(0, 366, ["ssta"])[:, 0]
    expect = sst_c[365:] + 273.15 - seas
    np.testing.assert_allclose(ssta[:, mask], expect[:, mask], atol=1e-3)
    assert np.all(np.isnan(ssta[:, ~mask]))
    assert (np.asarray(clim.thresh) >= np.asarray(clim.seas) - 1e-6)[:, mask].all()


def test_climatology_by_row_blocks_equals_one_call():
    rng = np.random.default_rng(3)
    years = {
        y: rng.normal(290, 1, (366 if y == 2004 else 365, 5, 3)).astype(np.float32)
        for y in (2003, 2004, 2005)
    }
    years[2004][:, 0, 0] = np.nan
    seas, thresh = climatology_by_blocks(
        years,
        (2003, 2005),
        window_half_width=5,
        smooth_width=31,
        percentile=90.0,
        block_bytes=2 * 1096 * 3 * 4,
    )
    dates = np.arange(np.datetime64("2003-01-01"), np.datetime64("2006-01-01"))
    s, t = compute_climatology(
        np.concatenate([years[y] for y in (2003, 2004, 2005)]), dates, baseline=(2003, 2005)
    )
    np.testing.assert_allclose(seas, s, rtol=0, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(thresh, t, rtol=0, atol=1e-4, equal_nan=True)


def test_command_line_and_bad_input_messages(tmp_path, black_sea_sources, capsys):
    out = tmp_path / "cli"
    args = [
        "--out",
        str(out),
        "--lat-bounds",
        *map(str, LAT),
        "--lon-bounds",
        *map(str, LON),
        "--resolution",
        "0.5",
    ]
    args += ["--years", str(YEAR), "--baseline", str(YEAR), str(YEAR), "--sst", str(black_sea_sources["sst"])]
    assert main([*args, "--no-progress"]) == 0
    assert "grid 4x12" in capsys.readouterr().out
    assert check_folder(out, years=[YEAR]) == []  # geo absent and declared so in contents.json
    # an unknown config key and a corrupt source file: exit status 1 and a message naming the culprit
    assert main([*args, "--no-progress", "--set", "regird=area"]) == 1
    assert "regird: unknown key" in capsys.readouterr().err
    bad = tmp_path / "broken_sst.nc"
    bad.write_bytes(b"not a netcdf file")
    assert main([*args[:-1], str(bad), "--no-progress"]) == 1
    assert "broken_sst.nc: unreadable or corrupt NetCDF" in capsys.readouterr().err


def test_example_config_is_valid_and_describes_the_paper_box():
    from oceane2e.config import load_config
    from oceane2e.data.converters.regrid import regular_grid

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(PrepareConfig, root / "configs" / "prepare_example.yaml")
    assert regular_grid(cfg.lat_bounds, cfg.lon_bounds, cfg.resolution).shape == (480, 600)
    assert cfg.sources.altimetry is not None and cfg.sources.era5 is not None
