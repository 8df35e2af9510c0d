"""Real observation files -> the observation contract (issue 12, deliverable 3).

Every real fixture of ``../shared/realdata/obs`` is converted on a grid built around its own
positions, and spot values are compared with values read here directly with netCDF4. The two
layouts without a real file (CMEMS L3 along-track, GDP drifters) are tested through their stand-ins.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from oceane2e.data.converters.observations import (
    KELVIN,
    TargetGrid,
    read_along_track,
    read_argo,
    read_drifters,
    read_ghrsst,
    read_ship_sst,
    seas_in_kelvin,
    superob,
)
from oceane2e.data.converters.prepare_obs import main as prepare_obs_main
from oceane2e.data.observations import ObservationError, check_obs_folder, read_obs_year, write_obs_year
from oceane2e.testing.folders import write_tiny_folder
from oceane2e.testing.obs_stand_ins import write_cmems_l3_along_track, write_gdp_drifters, write_target_folder

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "obs"
if not REAL.is_dir():
    REAL = Path("/work/shared/realdata/obs")
VIIRS = REAL / "ghrsst_l2p" / "SS_VIIRS_NPP-NAVO-L2P-v3.0.nc"
AMSR2 = REAL / "ghrsst_l2p" / "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"
L3S = REAL / "ghrsst_l3s_layout" / "satellite_ghrsst_l3s_1day_daytime_multi_sensor_australia.nc"
JA1 = REAL / "along_track" / "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc"
S6A = REAL / "along_track" / "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc"
ARGO_A = REAL / "insitu" / "argo_6902797_prof.nc"
ARGO_B = REAL / "insitu" / "argo_13857_prof.nc"
ARGO_D = REAL / "insitu" / "argo_D4900590_097.nc"
ARGO_TRAJ = REAL / "insitu" / "argo_13857_Rtraj.nc"
SOOP = REAL / "insitu" / "IMOS_SOOP-SST_T_20150127T103500Z_9V2768_FV01_C-20150624T041651Z.nc"

pytestmark = pytest.mark.skipif(not VIIRS.exists(), reason="real observation fixtures not available")


def target(tmp_path: Path, lat: tuple[float, float], lon: tuple[float, float], shape: tuple[int, int],
           name: str = "data", **kw: object) -> TargetGrid:
    """A target folder (clim.nc, mask.npy) around a fixture's positions, read back as a TargetGrid."""
    write_target_folder(tmp_path / name, lat, lon, shape, **kw)
    return TargetGrid.from_folder(tmp_path / name)


def cell_index(x: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """Cell of each coordinate on a regular grid of n cells between the edges lo..hi (floor arithmetic)."""
    return np.clip(np.floor((np.asarray(x, np.float64) - lo) / ((hi - lo) / n)).astype(int), 0, n - 1)


def when(value: float, units: str) -> np.datetime64:
    """CF time -> datetime64[s] via netCDF4.num2date (independent of the converter's decoder)."""
    d = netCDF4.num2date(value, units.replace("Z", "").replace(" UTC", ""), only_use_cftime_datetimes=False,
                         only_use_python_datetimes=True)
    return np.datetime64(dt.datetime(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond), "us")


def close_in_time(a: np.datetime64, b: np.datetime64, seconds: float = 1.0) -> bool:
    return abs((np.datetime64(a, "ms") - np.datetime64(b, "ms")).astype(np.int64)) <= seconds * 1000


# ------------------------------------------------------------------------------------------------
# the target grid


def test_longitudes_follow_the_grid_convention(tmp_path: Path) -> None:
    west = target(tmp_path, (0, 10), (-40, 25), (2, 13), name="w")
    east = target(tmp_path, (0, 10), (300, 380), (2, 16), name="e")
    lon = np.array([-39.0, 359.0, 0.5, 24.0, 321.0])
    assert np.allclose(west.normalise_lon(lon), [-39.0, -1.0, 0.5, 24.0, -39.0])
    assert np.allclose(east.normalise_lon(lon), [321.0, 359.0, 360.5, 384.0, 321.0])
    _, _, inside = west.locate(np.full(5, 5.0), west.normalise_lon(lon))
    assert inside.all()


def test_climatology_unit_recognised_from_values() -> None:
    k, notes = seas_in_kelvin(np.full((366, 2, 2), 288.0, np.float32), "K")
    assert np.allclose(k, 288.0) and notes == []
    c, notes = seas_in_kelvin(np.full((366, 2, 2), 15.0, np.float32), "K")  # labelled K, values in degC
    assert np.allclose(c, 288.15) and "labelled 'K'" in notes[0]


def test_superob_mean_and_reduced_error() -> None:
    t = np.array(["2020-01-01T00:00:00", "2020-01-01T00:00:10", "2020-01-01T00:00:00"], dtype="datetime64[s]")
    out = superob(np.array([3, 3, 7]), t, np.array([1.0, 2.0, 5.0]), np.array([10.0, 12.0, 0.0]),
                  np.array([1.0, 2.0, 4.0]), np.array([0.3, 0.4, 0.5]), floor=0.1)
    time, lat, lon, value, err = out
    assert time[0] == np.datetime64("2020-01-01T00:00:05") and lat[0] == 1.5 and lon[0] == 11.0
    assert value.tolist() == [1.5, 4.0]
    assert np.allclose(err, [0.25, 0.5])  # sqrt(0.3^2 + 0.4^2) / 2; a single pixel keeps its error


# ------------------------------------------------------------------------------------------------
# GHRSST


def _viirs() -> dict[str, np.ndarray]:
    with netCDF4.Dataset(VIIRS) as ds:
        sst = ds["sea_surface_temperature"][0]
        ok = ~np.ma.getmaskarray(sst)
        return {"ok": ok, "sst": sst.data[ok].astype(np.float64), "bias": ds["sses_bias"][0][ok].astype(np.float64),
                "sd": ds["sses_standard_deviation"][0][ok].astype(np.float64), "lat": ds["lat"][:][ok].data,
                "lon": ds["lon"][:][ok].data, "dtime": ds["sst_dtime"][0][ok].astype(np.float64),
                "ql": ds["quality_level"][0][ok], "t0": when(ds["time"][0], ds["time"].units)}


def test_viirs_l2p_pixels_spot_values_and_drops(tmp_path: Path) -> None:
    v = _viirs()
    assert v["ok"].sum() == 8294 and (v["ql"] == 5).all()
    # half of the box is land, and the grid stops at 67N: counts by reason from floor arithmetic
    ocean = np.ones((28, 112), bool)
    ocean[:, :20] = False
    grid = target(tmp_path, (60.0, 67.0), (-170.0, -142.0), (28, 112), ocean=ocean, seas=280.0)
    conv = read_ghrsst(VIIRS, grid, superob_floor=None, sst_as="sst")
    inside = v["lat"] <= 67.0
    col = cell_index(v["lon"], -170.0, -142.0, 112)
    land = inside & (col < 20)
    c = conv.counts
    assert (c.files, c.candidates, c.off_grid, c.quality) == (1, 8294, int((~inside).sum()), 0)
    assert c.land == int(land.sum()) and c.kept == int((inside & ~land).sum()) == len(conv.records)
    # one pixel: value = SST - sses_bias, error = sses_standard_deviation, time = time + sst_dtime
    k = np.flatnonzero(inside & ~land)[len(np.flatnonzero(inside & ~land)) // 2]
    r = conv.records.select((conv.records.lat == v["lat"][k]) & (conv.records.lon == v["lon"][k]))
    assert len(r) == 1
    assert r.value[0] == pytest.approx(v["sst"][k] - v["bias"][k], abs=1e-4)
    assert r.error_std[0] == pytest.approx(v["sd"][k], abs=1e-6)
    assert close_in_time(r.time[0], v["t0"] + np.timedelta64(int(round(v["dtime"][k] * 1000)), "ms"))
    assert r.platform[0] == "sst_l3" and r.variable[0] == "sst"


def test_viirs_superobs_and_anomaly_with_clim_in_kelvin_or_celsius(tmp_path: Path) -> None:
    v = _viirs()
    lat, lon, shape = (64.0, 71.0), (-170.0, -142.0), (28, 112)
    grid_k = target(tmp_path, lat, lon, shape, name="k", seas=280.0)
    grid_c = target(tmp_path, lat, lon, shape, name="c", seas=280.0 - KELVIN)
    conv = read_ghrsst(VIIRS, grid_k)
    cell = cell_index(v["lat"], *lat, 28) * 112 + cell_index(v["lon"], *lon, 112)
    assert conv.counts.kept == len(conv.records) == np.unique(cell).size  # one record per cell and pass
    assert conv.counts.candidates == 8294 and conv.counts.off_grid == conv.counts.land == 0
    c0 = np.bincount(cell).argmax()  # the fullest cell
    sel = cell == c0
    mean_ssta = np.mean(v["sst"][sel] - v["bias"][sel]) - 280.0
    err = max(np.sqrt(np.sum(v["sd"][sel] ** 2)) / sel.sum(), 0.1)
    r = conv.records.select(np.isclose(conv.records.lat, v["lat"][sel].mean()) & np.isclose(conv.records.lon, v["lon"][sel].mean()))
    assert len(r) == 1 and r.variable[0] == "ssta"
    assert r.value[0] == pytest.approx(mean_ssta, abs=1e-4) and r.error_std[0] == pytest.approx(err, rel=1e-5)
    blocks = read_ghrsst(VIIRS, grid_k, block_rows=50)  # read in row blocks: the same records
    assert blocks.counts == conv.counts and np.array_equal(blocks.records.value, conv.records.value)
    in_c = read_ghrsst(VIIRS, grid_c)
    assert np.allclose(in_c.records.value, conv.records.value, atol=1e-4)  # degC climatology converted to K
    assert any("degC" in n for n in grid_c.notes)


def test_amsr2_quality_levels_and_flags(tmp_path: Path) -> None:
    with netCDF4.Dataset(AMSR2) as ds:
        sst = ds["sea_surface_temperature"][0]
        ok = ~np.ma.getmaskarray(sst)
        ql = ds["quality_level"][0].filled(-1)[ok]
        ds["l2p_flags"].set_auto_mask(False)
        flags = np.asarray(ds["l2p_flags"][0])[ok].astype(int)
        lat, lon = ds["lat"][:].data[ok], ds["lon"][:].data[ok]
        value = (sst - ds["sses_bias"][0]).astype(np.float64)[ok]
    box = (lat >= -62) & (lat <= -16) & (lon >= -74) & (lon <= -39)
    good = (ql >= 4) & ((flags & 0b110) == 0) & (value >= 269) & (value <= 313)
    grid = target(tmp_path, (-62.0, -16.0), (-74.0, -39.0), (46, 35))
    c = read_ghrsst(AMSR2, grid).counts
    assert c.candidates == 105536 and c.off_grid == int((~box).sum())
    assert c.quality == int((box & ~good).sum()) > 0 and c.land == 0
    strict = read_ghrsst(AMSR2, grid, min_quality_level=5).counts
    assert strict.quality == int((box & ~(good & (ql == 5))).sum()) > c.quality


def test_blank_l3s_file_gives_no_record_and_is_counted(tmp_path: Path) -> None:
    grid = target(tmp_path, (-35.0, -33.0), (150.0, 152.0), (4, 4))
    conv = read_ghrsst(L3S, grid)
    assert len(conv.records) == 0
    assert (conv.counts.files, conv.counts.empty_files, conv.counts.kept) == (1, 1, 0)


# ------------------------------------------------------------------------------------------------
# along-track altimetry


def test_jason1_pass_positions_normalised_and_spot_value(tmp_path: Path) -> None:
    with netCDF4.Dataset(JA1) as ds:
        ssha = ds["ssha"][:]
        ok = ~np.ma.getmaskarray(ssha)
        k = np.flatnonzero(ok)[100]
        lat, lon, val = float(ds["lat"][k]), float(ds["lon"][k]), float(ssha[k])
        t = when(ds["time"][k], ds["time"].units)
    assert (lat, lon, val) == pytest.approx((12.014825, 261.37631, 0.078))
    for name, lon_bounds, expect_lon in (("pm180", (-101.0, -11.0), lon - 360.0), ("0360", (259.0, 349.0), lon)):
        grid = target(tmp_path, (-67.0, 18.0), lon_bounds, (85, 90), name=name)
        conv = read_along_track(JA1, grid)
        assert (conv.counts.candidates, conv.counts.kept) == (int(ok.sum()), 1844)
        r = conv.records.select(conv.records.lat == lat)
        assert len(r) == 1 and r.lon[0] == pytest.approx(expect_lon) and r.value[0] == pytest.approx(val)
        assert r.error_std[0] == pytest.approx(0.03) and r.variable[0] == "sla" and r.platform[0] == "altimetry"
        assert close_in_time(r.time[0], t)


def test_sentinel6_groups_across_the_greenwich_seam(tmp_path: Path) -> None:
    with netCDF4.Dataset(S6A) as ds:
        g = ds["data_01"]
        ssha = g["ku"]["ssha"][:]
        ok = ~np.ma.getmaskarray(ssha)
        surface = g["surface_classification_flag"][:][ok]
        k = np.flatnonzero(ok)[0]
        lat, lon, val = float(g["latitude"][k]), float(g["longitude"][k]), float(ssha[k])
        t = when(g["time"][k], g["time"].units)
    grid = target(tmp_path, (54.0, 67.0), (-40.0, 25.0), (13, 65))
    conv = read_along_track(S6A, grid, error_std_m=0.025)
    c = conv.counts
    assert (c.candidates, c.quality, c.off_grid, c.kept) == (514, int((surface != 0).sum()), 0, 513)
    assert conv.records.lon.min() >= -40.0 and conv.records.lon.max() <= 25.0
    r = conv.records.select(conv.records.lat == lat)
    assert r.lon[0] == pytest.approx(lon - 360.0 if lon > 180 else lon) and r.value[0] == pytest.approx(val)
    assert r.error_std[0] == pytest.approx(0.025) and close_in_time(r.time[0], t)


def test_cmems_l3_stand_in_round_trip(tmp_path: Path) -> None:
    t = np.datetime64("2020-03-01T12:00:00") + np.arange(5) * np.timedelta64(1, "s")
    lat = np.array([30.1, 30.2, 30.3, 45.0, 30.4])
    lon = np.array([-70.0, -69.9, -69.5, -69.7, -69.95])
    filt = np.array([0.10, np.nan, 0.12, 0.13, 0.14])
    unf = np.array([0.20, 0.21, 0.22, 0.23, 0.24])
    path = write_cmems_l3_along_track(tmp_path / "dt_global_j3_phy_l3_20200301.nc", t, lat, lon, filt, unf)
    with netCDF4.Dataset(path) as ds:
        assert ds.stand_in == 1 and "STAND-IN" in ds.comment
        assert ds["longitude"][0] == pytest.approx(290.0)  # written 0..360 like the product
    ocean = np.ones((8, 12), bool)
    ocean[:, 0] = False  # land west of -69.75 E: the records at -70.0 and -69.95 E
    grid = target(tmp_path, (30.0, 32.0), (-70.0, -67.0), (8, 12), ocean=ocean)
    conv = read_along_track(path, grid)
    c = conv.counts
    assert (c.candidates, c.off_grid, c.land, c.kept) == (4, 1, 2, 1)
    assert conv.records.value[0] == pytest.approx(0.12) and conv.records.lon[0] == pytest.approx(-69.5)
    both = read_along_track(path, grid, cmems_variable="sla_unfiltered")
    assert both.counts.candidates == 5 and both.records.value.tolist() == pytest.approx([0.22])
    with netCDF4.Dataset(path, "a") as ds:
        ds.renameVariable("sla_filtered", "sla_other")
    with pytest.raises(ObservationError, match="set altimetry.cmems_variable"):
        read_along_track(path, grid)


# ------------------------------------------------------------------------------------------------
# in situ


def _argo_surface(path: Path, max_pressure: float = 10.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per profile: surface temperature (degC, NaN if none), JULD and whether any temperature exists."""
    with netCDF4.Dataset(path) as ds:
        mode = ds["DATA_MODE"][:].tobytes().decode()
        juld = ds["JULD"][:]
        out = np.full(len(juld), np.nan)
        anyt = np.zeros(len(juld), bool)
        for p in range(len(juld)):
            sfx = "_ADJUSTED" if mode[p] in "AD" else ""
            pres, temp = ds["PRES" + sfx][p], ds["TEMP" + sfx][p]
            pq = ds["PRES" + sfx + "_QC"][p].tobytes().decode()
            tq = ds["TEMP" + sfx + "_QC"][p].tobytes().decode()
            anyt[p] = (~np.ma.getmaskarray(ds["TEMP"][p])).any()
            for lev in np.argsort(pres.filled(np.inf)):
                if pres[lev] is np.ma.masked or pres[lev] > max_pressure:
                    break
                if temp[lev] is not np.ma.masked and pq[lev] in "12" and tq[lev] in "12":
                    out[p] = float(temp[lev])
                    break
        return out, juld, anyt


def test_argo_profiles_surface_values_dates_and_drops(tmp_path: Path) -> None:
    surf, juld, anyt = _argo_surface(ARGO_A)
    with netCDF4.Dataset(ARGO_A) as ds:
        units, lat, lon = ds["JULD"].units, ds["LATITUDE"][:], ds["LONGITUDE"][:]
    grid = target(tmp_path, (-4.0, 4.0), (-34.0, -2.0), (8, 32), seas=300.0)
    conv = read_argo(ARGO_A, grid)
    c = conv.counts
    assert (c.candidates, c.kept, c.quality) == (int(anyt.sum()), int(np.isfinite(surf).sum()),
                                                 int((anyt & ~np.isfinite(surf)).sum()))
    assert (c.candidates, c.kept, c.quality) == (208, 207, 1)
    p = 1  # second profile: delayed mode, shallowest level 3 dbar, 29.125 degC
    assert surf[p] == pytest.approx(29.125)
    r = conv.records.select((conv.records.lat == lat[p]) & (conv.records.lon == lon[p]))
    assert len(r) == 1 and r.value[0] == pytest.approx(29.125 + KELVIN - 300.0, abs=1e-4)
    assert close_in_time(r.time[0], when(juld[p], units))
    assert str(r.time[0].astype("datetime64[D]")) == "2019-05-06"
    assert r.platform[0] == "argo" and r.error_std[0] == pytest.approx(0.05)


def test_argo_pressure_limit_and_trajectory(tmp_path: Path) -> None:
    grid = target(tmp_path, (0.0, 7.0), (-34.0, -16.0), (7, 18))
    for limit in (10.0, 20.0):
        surf, _, anyt = _argo_surface(ARGO_B, limit)
        c = read_argo(ARGO_B, grid, max_pressure_dbar=limit).counts
        assert (c.candidates, c.kept, c.quality) == (int(anyt.sum()), int(np.isfinite(surf).sum()),
                                                     int((anyt & ~np.isfinite(surf)).sum()))
    assert read_argo(ARGO_B, grid).counts.kept == 14 < read_argo(ARGO_B, grid, max_pressure_dbar=20.0).counts.kept
    # the trajectory file holds only park temperatures near 1000 dbar, without positions: all dropped
    traj = read_argo(ARGO_TRAJ, grid)
    assert (traj.counts.candidates, traj.counts.quality, len(traj.records)) == (140, 140, 0)


def test_single_argo_profile_on_a_tiny_folder_with_a_celsius_climatology(tmp_path: Path) -> None:
    tiny = write_tiny_folder(tmp_path / "tiny", years=(2007,), shape=(8, 12), lat_bounds=(39.0, 42.0),
                             lon_bounds=(-58.0, -54.0))
    grid = TargetGrid.from_folder(tiny.root)
    assert any("degC" in n for n in grid.notes)  # tiny folders hold seas = 15 degC + 3 sin, labelled K
    with netCDF4.Dataset(ARGO_D) as ds:
        temp = float(ds["TEMP_ADJUSTED"][0, 0])
        t = when(ds["JULD"][0], ds["JULD"].units)
    conv = read_argo(ARGO_D, grid)
    assert conv.counts.kept == 1 and str(conv.records.time[0])[:10] == "2007-08-02"
    doy_index = 213  # 2 August of a common year: day 214, index 214 in leap numbering (index 59 = 29 Feb)
    seas = 15.0 + 3.0 * np.sin(2 * np.pi * (doy_index + 1) / 366.0)
    assert temp == pytest.approx(25.997)
    assert conv.records.value[0] == pytest.approx(temp - seas, abs=1e-3)
    assert close_in_time(conv.records.time[0], t)


def test_ship_sst_quality_flags_and_platform(tmp_path: Path) -> None:
    with netCDF4.Dataset(SOOP) as ds:
        qc = ds["TEMP_quality_control"][:].tobytes().decode()
        k = qc.index("Z")
        temp, lat, lon = float(ds["TEMP"][k]), float(ds["LATITUDE"][k]), float(ds["LONGITUDE"][k])
        t = when(ds["TIME"][k], ds["TIME"].units)
    grid = target(tmp_path, (-20.0, -16.0), (145.0, 148.0), (16, 12))
    conv = read_ship_sst(SOOP, grid, sst_as="sst")
    assert (conv.counts.candidates, conv.counts.quality, conv.counts.kept) == (805, qc.count("Q"), qc.count("Z"))
    assert qc.count("Z") == 785
    r = conv.records.select((conv.records.lat == np.float32(lat)) & (conv.records.lon == np.float32(lon)))
    assert r.value[0] == pytest.approx(temp + KELVIN, abs=1e-4) and close_in_time(r.time[0], t)
    assert r.platform[0] == "drifter" and r.error_std[0] == pytest.approx(0.2)


def test_gdp_drifter_stand_in_round_trip(tmp_path: Path) -> None:
    t = np.datetime64("2003-06-01T00:00:00") + np.arange(5) * np.timedelta64(3600, "s")
    lat = np.array([30.5, 30.6, 30.7, 31.0, 31.1])
    lon = np.array([-68.0, -68.1, -68.2, -69.0, -69.1])
    sst = np.array([295.0, 295.1, np.nan, 294.0, 294.5])
    err = np.array([0.02, np.nan, 0.02, 0.03, 0.03])
    flg = np.array([5, 4, 5, 2, 5])
    path = write_gdp_drifters(tmp_path / "gdp.nc", [101, 202], [3, 2], t, lat, lon, sst, err_sst=err, flg_sst=flg)
    with netCDF4.Dataset(path) as ds:
        assert ds.stand_in == 1 and "STAND-IN" in ds.comment
    grid = target(tmp_path, (30.0, 32.0), (-70.0, -67.0), (8, 12), seas=290.0)
    conv = read_drifters(path, grid)
    assert (conv.counts.candidates, conv.counts.quality, conv.counts.kept) == (4, 1, 3)
    assert conv.records.value.tolist() == pytest.approx([5.0, 5.1, 4.5], abs=1e-4)
    assert conv.records.error_std.tolist() == pytest.approx([0.02, 0.1, 0.03])  # no err_sst: the default
    assert conv.records.time[3 - 1] == t[4]


# ------------------------------------------------------------------------------------------------
# writing and the command


def test_converted_records_pass_the_contract_check(tmp_path: Path) -> None:
    grid = target(tmp_path, (-67.0, 18.0), (-101.0, -11.0), (85, 90))
    rec = read_along_track(JA1, grid).records
    write_obs_year(tmp_path / "obs", 2002, rec)
    assert check_obs_folder(tmp_path / "obs", [2002], grid.coords.lat, grid.coords.lon) == []
    back = read_obs_year(tmp_path / "obs", 2002)
    assert len(back) == 1844 and set(back.platform) == {"altimetry"} and set(back.variable) == {"sla"}


def test_prepare_obs_command_summary_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_target_folder(tmp_path / "data", (-4.0, 8.0), (-36.0, -2.0), (24, 68), seas=300.0)
    rc = prepare_obs_main(["--data-root", str(tmp_path / "data"), "--argo", str(REAL / "insitu" / "argo_*_prof.nc"),
                           "--ghrsst", str(L3S), "--ship", str(SOOP), "--years", "2000", "2001", "2019",
                           "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert rows["ghrsst"][:4] == ["1", "1", "0", "0"]  # the blank L3S: read, empty, nothing kept
    assert rows["ship"][4] == "805"  # the ship track is in the Coral Sea: all off this grid
    argo = read_obs_year(tmp_path / "data" / "obs", 2019)
    assert len(argo) > 0 and set(argo.platform) == {"argo"} and set(argo.variable) == {"ssta"}
    assert check_obs_folder(tmp_path / "data" / "obs", [2000, 2001, 2019], *_coords(tmp_path / "data")) == []


def _coords(root: Path) -> tuple[np.ndarray, np.ndarray]:
    g = TargetGrid.from_folder(root)
    return g.coords.lat, g.coords.lon


def test_prepare_obs_bad_input_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_target_folder(tmp_path / "data", (0.0, 7.0), (-34.0, -16.0), (7, 18))
    bad = tmp_path / "broken.nc"
    bad.write_bytes(b"not a netcdf file")
    cases = [
        (["--ghrsst", str(ARGO_B)], "'sea_surface_temperature' missing"),
        (["--argo", str(bad)], "cannot be read as NetCDF"),
        (["--argo", str(tmp_path / "nothing_*.nc")], "no file matches"),
        (["--argo", str(ARGO_B), "--set", "argo.max_presure=5"], "unknown key"),
    ]
    for extra, expected in cases:
        rc = prepare_obs_main(["--data-root", str(tmp_path / "data"), "--no-progress", *extra])
        err = capsys.readouterr().err
        assert rc == 1 and expected in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
