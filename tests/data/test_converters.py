"""Readers and regridding of real products, checked against the real files in ../shared/realdata."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from oceane2e.data.contract import DataContractError
from oceane2e.data.converters.regrid import Regridder, regular_grid, unify_longitudes
from oceane2e.data.converters.sources import DailySource, Quantity, format_dates
from oceane2e.testing.stand_ins import tile_real_file, write_product_file

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata"
if not REAL.exists():  # the checkout lives in /work/main; the data beside it
    REAL = Path("/work/shared/realdata")
DUACS_GLOBAL = REAL / "altimetry" / "nrt_global_allsat_phy_l4_20190223_20190226.nc"
DUACS_BLACKSEA = REAL / "altimetry" / "dt_blacksea_allsat_phy_l4_20160707_20200801.nc"
DUACS_MED_NO_TIME = REAL / "altimetry" / "dt_med_allsat_phy_l4_20160515_20190101.nc"
GHRSST_BLACKSEA = REAL / "sst_grid" / "20160707000000-GOS-L4_GHRSST-SSTfnd-OISST_HR_REP-BLK-v02.0-fv01.0.nc"
OISST_2DEG = REAL / "sst_grid" / "stars_reduced_oisst_avhrr-only-v2_19811231_2deg.nc"
HEATWAVE3 = REAL / "sst_grid" / "heatwave3_oisst_short.nc"

ALT = [
    Quantity("u_g", ("ugos",), "speed"),
    Quantity("v_g", ("vgos",), "speed"),
    Quantity("zos", ("adt",), "length"),
]
SST = [Quantity("sst", ("analysed_sst", "sst"), "temperature")]
ERA5 = [
    Quantity("u10", ("u10",), "speed"),
    Quantity("v10", ("v10",), "speed"),
    Quantity("t2m", ("t2m",), "temperature"),
]


def _raw(path: Path, var: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First time step of ``var`` (NaN where masked) with the file's own lat/lon."""
    with netCDF4.Dataset(path) as ds:
        lat_name = "latitude" if "latitude" in ds.variables else "lat"
        lon_name = "longitude" if "longitude" in ds.variables else "lon"
        values = np.ma.filled(np.ma.asarray(ds[var][0]).astype(np.float64), np.nan).squeeze()
        return values, np.asarray(ds[lat_name][:], float), np.asarray(ds[lon_name][:], float)


# ------------------------------------------------------------------------------------------ regrid


def test_unify_longitudes_wraps_and_sorts():
    lon, order = unify_longitudes(np.array([0.0, 90.0, 180.0, 270.0, 359.0]))
    np.testing.assert_allclose(lon, [-180.0, -90.0, -1.0, 0.0, 90.0])
    np.testing.assert_array_equal(order, [2, 3, 4, 0, 1])


def test_regular_grid_paper_box_and_bad_bounds():
    grid = regular_grid((20.0, 60.0), (-80.0, -30.0), 1.0 / 12.0)
    assert grid.shape == (480, 600)
    assert grid.lat[0] == pytest.approx(20.0 + 1 / 24) and grid.lon[-1] == pytest.approx(-30.0 - 1 / 24)
    with pytest.raises(DataContractError, match="whole number"):
        regular_grid((20.0, 60.05), (-80.0, -30.0), 0.25)


def test_bilinear_is_exact_for_linear_fields_and_area_average_conserves():
    src_lat, src_lon = np.arange(30.0625, 40, 0.125), np.arange(-70.9375, -60, 0.125)
    field = 2.0 * src_lat[:, None] - 0.5 * src_lon[None, :]
    fine = regular_grid((32.0, 38.0), (-68.0, -62.0), 1 / 12)
    out = Regridder.build(src_lat, src_lon, fine, "auto")(field)
    assert Regridder.build(src_lat, src_lon, fine).method == "bilinear"
    np.testing.assert_allclose(out, 2.0 * fine.lat[:, None] - 0.5 * fine.lon[None, :], atol=1e-4)
    # coarsening 4 x 4 source cells into one 0.5 deg cell: the area-weighted mean (weights dsin(lat))
    coarse = regular_grid((32.0, 38.0), (-68.0, -62.0), 0.5)
    regridder = Regridder.build(src_lat, src_lon, coarse, "auto")
    assert regridder.method == "area"
    rng = np.random.default_rng(0)
    noisy = rng.normal(size=field.shape)
    got = regridder(noisy)
    i0 = int(np.searchsorted(src_lat, 32.0))
    j0 = int(np.searchsorted(src_lon, -68.0))
    block = noisy[i0 : i0 + 4, j0 : j0 + 4]
    edges = np.deg2rad(32.0 + 0.125 * np.arange(5))
    w = np.diff(np.sin(edges))[:, None] * np.ones((1, 4))
    assert got[0, 0] == pytest.approx(float((block * w).sum() / w.sum()), rel=1e-6)


def test_regrid_nan_rules_bilinear_strict_area_half():
    src_lat, src_lon = np.arange(0.5, 10, 1.0), np.arange(0.5, 10, 1.0)
    field = np.ones((10, 10))
    field[:, :5] = np.nan  # west half land
    fine = regular_grid((1.0, 9.0), (1.0, 9.0), 0.5)
    out = Regridder.build(src_lat, src_lon, fine, "bilinear")(field)
    # a target cell touching a land source cell with positive weight is land; no NaN leaks into values
    assert np.all(np.isnan(out[:, fine.lon < 5.5])) and np.all(out[:, fine.lon > 5.5] == 1.0)
    coarse = regular_grid((0.0, 10.0), (0.0, 10.0), 2.5)
    out = Regridder.build(src_lat, src_lon, coarse, "area")(field)
    # columns: [0,2.5) all land, [2.5,5) all land, [5,7.5) ocean, [7.5,10) ocean
    assert np.all(np.isnan(out[:, :2])) and np.all(out[:, 2:] == 1.0)


def test_region_outside_source_is_an_error():
    with pytest.raises(DataContractError, match="not covered"):
        Regridder.build(np.arange(0.5, 10), np.arange(0.5, 10), regular_grid((5, 15), (0, 5), 1.0))


# ------------------------------------------------------------------------------------------ altimetry


def test_duacs_global_identity_regrid_matches_source_points():
    """Real global DUACS (0..360 lon, 0.25 deg): a target grid on the source centres copies values."""
    grid = regular_grid((30.0, 40.0), (-75.0, -60.0), 0.25)  # the Gulf Stream, -75..-60 = 285..300 E
    src = DailySource(DUACS_GLOBAL, "altimetry", ALT, (30.0, 40.0))
    assert np.all(np.diff(src.lat) > 0) and np.all(np.diff(src.lon) > 0)
    assert src.dates.tolist() == [np.datetime64("2019-02-23", "D")]
    day = src.read_day(src.dates[0])
    regridder = Regridder.build(src.lat, src.lon, grid)
    assert regridder.method == "bilinear"
    out = {k: regridder(v) for k, v in day.items()}
    for name, var in (("u_g", "ugos"), ("v_g", "vgos"), ("zos", "adt")):
        raw, lat, lon = _raw(DUACS_GLOBAL, var)
        for la, lo in ((35.125, -70.125), (38.875, -64.875), (31.625, -74.875)):
            i = int(np.argmin(np.abs(lat - la)))
            j = int(np.argmin(np.abs(lon - (lo % 360))))
            gi = int(np.argmin(np.abs(grid.lat - la)))
            gj = int(np.argmin(np.abs(grid.lon - lo)))
            assert np.isfinite(raw[i, j])
            assert out[name][gi, gj] == pytest.approx(raw[i, j], abs=1e-6)
    # the coast of North America (land in the NW corner) is NaN in every field
    raw, lat, lon = _raw(DUACS_GLOBAL, "adt")
    lat_sel = (lat > 30) & (lat < 40)
    lon_sel = (lon > 285) & (lon < 300)
    np.testing.assert_array_equal(np.isnan(out["zos"]), np.isnan(raw[np.ix_(lat_sel, lon_sel)]))
    assert np.isnan(out["zos"]).any() and np.isfinite(out["zos"]).mean() > 0.5
    # the Gulf Stream is a fast current: geostrophic speed above 1 m/s somewhere
    assert np.nanmax(np.hypot(out["u_g"], out["v_g"])) > 1.0


def test_duacs_file_without_time_takes_date_from_name():
    src = DailySource(DUACS_MED_NO_TIME, "altimetry", [Quantity("zos", ("adt",), "length")], (35.0, 40.0))
    assert src.dates.tolist() == [np.datetime64("2016-05-15", "D")]
    assert np.isfinite(src.read_day(src.dates[0])["zos"]).any()


# ------------------------------------------------------------------------------------------ SST


def test_ghrsst_kelvin_area_average_against_source_blocks():
    """Real GHRSST L4 (K, int16 packed, 1/24 deg) coarsened to 0.25 deg = area means of 6 x 6 cells."""
    grid = regular_grid((41.0, 46.0), (28.0, 41.0), 0.25)
    src = DailySource(GHRSST_BLACKSEA, "sst", SST, (41.0, 46.0))
    regridder = Regridder.build(src.lat, src.lon, grid)
    assert regridder.method == "area"
    out = regridder(src.read_day(src.dates[0])["sst"])
    raw, lat, lon = _raw(GHRSST_BLACKSEA, "analysed_sst")
    assert 285.0 < np.nanmin(out) and np.nanmax(out) < 305.0  # July Black Sea in K
    checked = 0
    for gi, gj in ((8, 20), (10, 30), (5, 40), (12, 10)):
        i = np.flatnonzero(np.abs(lat - grid.lat[gi]) < 0.125)
        j = np.flatnonzero(np.abs(lon - grid.lon[gj]) < 0.125)
        block = raw[np.ix_(i, j)]
        assert block.shape == (6, 6)
        if np.isfinite(block).all():
            assert out[gi, gj] == pytest.approx(block.mean(), abs=2e-3)
            checked += 1
    assert checked >= 3
    # land: a target cell that is mostly land in the source is NaN
    frac_land = np.array(
        [
            [np.isnan(raw[np.ix_(np.abs(lat - a) < 0.125, np.abs(lon - b) < 0.125)]).mean() for b in grid.lon]
            for a in grid.lat
        ]
    )
    clear = np.abs(frac_land - 0.5) > 0.05  # half-land cells tip either way with the sin(lat) weights
    np.testing.assert_array_equal(np.isnan(out)[clear], (frac_land > 0.5)[clear])


def test_oisst_celsius_zlev_and_wrap_across_greenwich():
    """Real OISST layout (degC int16, zlev, 0..360): converted to K; a box across 0 E interpolates
    across the seam (target longitudes lie midway between the 2 deg source centres)."""
    grid = regular_grid((-10.0, 10.0), (-20.0, 20.0), 2.0)
    src = DailySource(OISST_2DEG, "sst", SST, (-10.0, 10.0))
    out = Regridder.build(src.lat, src.lon, grid, "bilinear")(src.read_day(src.dates[0])["sst"])
    raw, lat, lon = _raw(OISST_2DEG, "sst")
    gi, gj = int(np.argmin(np.abs(grid.lat - 1.0))), int(np.argmin(np.abs(grid.lon - -1.0)))
    # source latitudes are odd (1 N is a centre), longitudes even (-1 E lies between 358 and 0 E)
    i = int(np.flatnonzero(lat == 1.0)[0])
    j0, j1 = int(np.flatnonzero(lon == 358.0)[0]), int(np.flatnonzero(lon == 0.0)[0])
    expect = raw[[i, i], [j0, j1]].mean() + 273.15
    assert out[gi, gj] == pytest.approx(expect, abs=1e-4)
    assert np.all(np.isfinite(out[:, :2]))  # open Atlantic west of Africa (19 W, 17 W)
    assert np.isnan(out).any()  # Africa


def test_the_sst_config_keys_are_named_where_the_file_lacks_the_name_or_the_units():
    """heatwave3's real OISST names its SST 'oisst_short' and gives no units: each error lists what the file
    has and names the key that fixes it, in the prepare config, on the command line and in a pipeline."""
    from oceane2e.data.converters.prepare import SSTSource, _sst_quantity

    with pytest.raises(DataContractError, match=r"heatwave3_oisst_short\.nc: no sst .*gridded: oisst_short "
                       r"\('time', 'latitude', 'longitude'\), units None\); name it with sources\.sst\.variable "
                       r"\(prepare config; --sst-variable of prepare-data; data\.sst_variable of a pipeline config\)"):
        DailySource(HEATWAVE3, "sst", [_sst_quantity(SSTSource(files=[str(HEATWAVE3)]))], (-30, -29))
    named = SSTSource(files=[str(HEATWAVE3)], variable="oisst_short")
    with pytest.raises(DataContractError, match=r"'oisst_short' has units None.*declare them with sources\.sst\.units"
                       r" \(prepare config; --sst-units of prepare-data; data\.sst_units of a pipeline config\)"):
        DailySource(HEATWAVE3, "sst", [_sst_quantity(named)], (-30, -29))
    src = DailySource(HEATWAVE3, "sst", [_sst_quantity(named.model_copy(update={"units": "degC"}))], (-30, -29))
    assert src.read_day(np.datetime64("2011-02-28"))["sst"].max() > 273.15 + 25  # the 2011 WA heatwave's peak


def test_sst_units_missing_are_reported_then_overridable():
    with pytest.raises(DataContractError, match=r"heatwave3_oisst_short\.nc.*units None"):
        DailySource(HEATWAVE3, "sst", [Quantity("sst", ("oisst_short",), "temperature")], (-30, -29))
    src = DailySource(
        HEATWAVE3, "sst", [Quantity("sst", ("oisst_short",), "temperature", "degC")], (-30, -29)
    )
    # latitude is stored north to south in this file; the reader flips it
    assert np.all(np.diff(src.lat) > 0)
    day = src.read_day(np.datetime64("1982-01-01"))["sst"]
    with netCDF4.Dataset(HEATWAVE3) as ds:
        raw = np.asarray(ds["oisst_short"][0], float)
    np.testing.assert_allclose(day, raw[::-1] + 273.15, atol=1e-4)


# ------------------------------------------------------------------------------------------ ERA5


def _era5_fields(dates: np.ndarray, lat: np.ndarray, lon: np.ndarray, hours: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    shape = (dates.size * hours, lat.size, lon.size)
    return {
        "u10": rng.normal(5, 3, shape),
        "v10": rng.normal(0, 3, shape),
        "t2m": 290 + rng.normal(0, 2, shape) + lat[None, :, None] * 0.0,
    }


@pytest.mark.parametrize(
    ("layout", "hours"), [("era5_old", 24), ("era5_new", 24), ("era5_expver", 24), ("era5_new", 1)]
)
def test_era5_layouts_give_daily_means_south_to_north(tmp_path, layout, hours):
    dates = np.arange(np.datetime64("2019-02-27"), np.datetime64("2019-03-02"))
    lat, lon = np.arange(30.0, 35.01, 0.25), np.arange(-75.0, -69.99, 0.25)
    fields = _era5_fields(dates, lat, lon, hours)
    path = write_product_file(
        tmp_path / "era5.nc",
        layout,
        dates,
        lat,
        lon,
        fields,
        hours=range(hours),
        lon_0_360=True,
        descending_lat=True,
    )
    src = DailySource(path, "era5", ERA5, (30.0, 35.0))
    assert src.steps_per_day == hours
    np.testing.assert_allclose(src.lat, lat)
    np.testing.assert_allclose(src.lon, lon, atol=1e-4)
    for k, date in enumerate(dates):
        day = src.read_day(date)
        for name in ("u10", "v10", "t2m"):
            expect = fields[name][k * hours : (k + 1) * hours].astype(np.float32).mean(axis=0)
            np.testing.assert_allclose(day[name], expect, atol=2e-4)


def test_era5_incomplete_day_is_listed(tmp_path):
    lat, lon = np.arange(30.0, 31.01, 0.25), np.arange(-75.0, -73.99, 0.25)
    day1, day2 = np.array(["2019-02-27"], "datetime64[D]"), np.array(["2019-02-28"], "datetime64[D]")
    write_product_file(
        tmp_path / "a.nc", "era5_old", day1, lat, lon, _era5_fields(day1, lat, lon, 24), hours=range(24)
    )
    # the last three hours of 28 February are missing
    f = {k: v[:21] for k, v in _era5_fields(day2, lat, lon, 24).items()}
    write_product_file(tmp_path / "b.nc", "era5_old", day2, lat, lon, f, hours=range(21))
    src = DailySource(str(tmp_path / "*.nc"), "era5", ERA5, (30.0, 31.0))
    assert src.steps_per_day == 24
    assert [str(d) for d in src.missing_dates(np.concatenate([day1, day2]))] == ["2019-02-28"]


# ------------------------------------------------------------------------------------------ bad input


def test_corrupt_file_is_reported_with_its_name(tmp_path):
    bad = tmp_path / "dt_global_allsat_phy_l4_20190224_20190226.nc"
    bad.write_bytes(b"CDF\x01" + b"\x00garbage" * 50)
    with pytest.raises(DataContractError, match=r"dt_global_allsat_phy_l4_20190224_20190226\.nc.*corrupt"):
        DailySource([DUACS_GLOBAL, bad], "altimetry", ALT, (30.0, 40.0))


def test_files_on_different_grids_are_reported(tmp_path):
    with pytest.raises(DataContractError, match=r"nrt_global.*differs from .*dt_blacksea"):
        DailySource([DUACS_GLOBAL, DUACS_BLACKSEA], "altimetry", ALT, (41.0, 46.0))


def test_missing_variable_names_the_file():
    with pytest.raises(DataContractError, match=r"dt_med_allsat_phy_l4_20160515_20190101\.nc: no u_g"):
        DailySource(DUACS_MED_NO_TIME, "altimetry", ALT, (35.0, 40.0))


def test_gaps_are_listed_as_runs(tmp_path):
    dates = np.arange(np.datetime64("2016-07-01"), np.datetime64("2016-07-11"))
    keep = np.ones(dates.size, bool)
    keep[[3, 4, 7]] = False
    tile_real_file(DUACS_BLACKSEA, tmp_path / "alt.nc", dates[keep], isel={"latitude": slice(10, 30)})
    src = DailySource(tmp_path / "alt.nc", "altimetry", ALT, (41.5, 43.5))
    missing = src.missing_dates(dates)
    assert format_dates(missing) == "2016-07-04..2016-07-05, 2016-07-08"


# ------------------------------------------------------------------------------------------ download helpers


def test_download_helpers_without_the_extra_and_request_contents(tmp_path, monkeypatch):
    import sys

    from oceane2e.data.converters import download

    monkeypatch.setitem(sys.modules, "copernicusmarine", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"pip install '\.\[download\]'"):
        download.download_cmems(tmp_path, (20, 60), (-80, -30), 2019)
    req = download.era5_request((20, 60), (-80, -30), 2020, 2)
    assert req["area"] == [60.5, -80.5, 19.5, -29.5]  # N, W, S, E with the margin
    assert len(req["day"]) == 29 and len(req["time"]) == 24
    assert req["variable"] == ["10m_u_component_of_wind", "10m_v_component_of_wind", "2m_temperature"]
    urls = download.oisst_urls(2020)
    assert len(urls) == 366 and urls[59].endswith("/202002/oisst-avhrr-v02r01.20200229.nc")


def test_many_daily_files_are_read_with_a_bounded_number_open(tmp_path):
    """One file per day (as NCEI OISST): more files than the handle cache holds, values per day right."""
    from oceane2e.data.converters.sources import HandleCache

    dates = np.arange(np.datetime64("2016-07-01"), np.datetime64("2016-07-08"))
    for k, d in enumerate(dates):
        tile_real_file(
            DUACS_BLACKSEA,
            tmp_path / f"dt_blacksea_allsat_phy_l4_{str(d).replace('-', '')}_20200801.nc",
            np.array([d]),
            {"adt": np.array([0.01 * k])},
            isel={"latitude": slice(10, 30), "longitude": slice(10, 50)},
        )
    src = DailySource(str(tmp_path / "dt_*.nc"), "altimetry", ALT, (41.5, 43.5))
    assert len(src.files) == 7
    cache = HandleCache(max_open=3)
    first = src.read_day(dates[0], cache)["zos"]
    for k, d in enumerate(dates):
        day = src.read_day(d, cache)["zos"]
        assert len(cache._open) <= 3
        ocean = np.isfinite(first)
        assert ocean.sum() > 100 and np.array_equal(np.isfinite(day), ocean)
        np.testing.assert_allclose((day - first)[ocean], 0.01 * k, atol=2e-4)
    cache.close()
    assert not cache._open
