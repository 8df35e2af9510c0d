"""``oceane2e detect`` on the real CSV series and on a small real NetCDF grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from mhw_refdata import compare_events

from oceane2e.cli import main as oceane2e_main
from oceane2e.mhw.cli import main
from oceane2e.mhw.climatology import doy_index

WA_2014 = "hwR-f6f1b30_sst_WA_1982-2014_clim1983-2012"


def test_csv_series_gives_the_reference_events(reference_cases, tmp_path: Path) -> None:
    case = reference_cases[WA_2014]
    out = tmp_path / "wa_events.csv"
    rc = oceane2e_main(
        ["detect", str(case.csv_path), "--baseline", "1983", "2012", "-o", str(out), "--no-progress"]
    )
    assert rc == 0
    events = pd.read_csv(out)
    assert list(events.columns) == list(case.events.columns)
    compare_events(events, case.events, atol=1e-9)
    wa = events.loc[events["date_start"] == "2011-02-06"].iloc[0]
    assert (wa["date_end"], wa["duration"], wa["category"]) == ("2011-04-06", 60, "Extreme")


def test_csv_with_missing_days_and_options(reference_cases, tmp_path: Path) -> None:
    """Rows removed from the CSV are inserted back as missing days; options reach the detection."""
    case = reference_cases[WA_2014]
    df = pd.read_csv(case.csv_path).drop(index=[100, 101, 5000])
    src = tmp_path / "gappy.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "ev.csv"
    args = [str(src), "--baseline", "1983", "2012", "--min-duration", "10", "--no-progress", "-o", str(out)]
    assert main(args) == 0
    events = pd.read_csv(out)
    assert (events["duration"] >= 10).all() and len(events) < len(case.events)
    assert "2011-02-06" in set(events["date_start"])


def test_netcdf_grid(realdata: Path, reference_cases, tmp_path: Path) -> None:
    src = realdata / "sst_grid" / "xmhw_oisst_2003_2004.nc"
    out, nc = tmp_path / "grid_events.csv", tmp_path / "grid_mhw.nc"
    assert main([str(src), "--var", "sst", "-o", str(out), "--netcdf", str(nc)]) == 0
    events = pd.read_csv(out)
    assert list(events.columns[:2]) == ["lat", "lon"]
    with (
        xr.open_dataset(nc) as ds,
        xr.open_dataset(realdata / "reference" / "xmhw_test_clim_oisst.nc") as ref,
    ):
        assert ds["mhw"].dims == ("time", "lat", "lon") and ds["mhw"].shape == (731, 8, 4)
        assert ds["seas"].dims == ("doy", "lat", "lon") and ds.sizes["doy"] == 366
        for point, (la, lo) in enumerate([(-42.625, 148.125), (-41.625, 148.375)], start=1):
            sel = events[(events["lat"] == la) & (events["lon"] == lo)].reset_index(drop=True)
            compare_events(sel, reference_cases[f"xmhw_point{point}_2003-2004_climFull"].events)
            cell = ds.sel(lat=la, lon=lo)
            np.testing.assert_allclose(cell["thresh"].values, ref[f"thresh{point}"].values, atol=1e-5)
            # daily flags are exactly the union of the cell's events
            flags = np.zeros(731, dtype=bool)
            for start, end in zip(sel["index_start"], sel["index_end"], strict=True):
                flags[start : end + 1] = True
            np.testing.assert_array_equal(cell["mhw"].values.astype(bool), flags)
            np.testing.assert_array_equal(cell["category"].values > 0, flags)
        land = np.isnan(ds["seas"].isel(doy=0).values)
        assert land.sum() == 20 and not ds["mhw"].values[:, land].any()


def test_bad_input_names_the_problem(realdata: Path, tmp_path: Path, capsys) -> None:
    src = realdata / "sst_grid" / "xmhw_oisst_2003_2004.nc"
    assert main([str(src), "--var", "temperature", "-o", str(tmp_path / "x.csv")]) == 2
    assert "no variable 'temperature'; pass --var with one of ['sst']" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("day,value\n2001-01-01,1.0\n")
    assert main([str(bad)]) == 2
    assert "needs columns 'date' and 'temp'" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_benchmark_command_runs_on_a_tiny_grid(capsys) -> None:
    """The command documented in docs/benchmarks.md works (tiny size here)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_mhw", Path(__file__).parents[2] / "benchmarks" / "bench_mhw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bench_main = module.main

    assert bench_main(["--size", "6", "--years", "3", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "grid 6x6, 3 years" in out and "climatology" in out


def test_heatwave3_grid_cell_is_the_western_australia_reference(
    realdata: Path, reference_cases, tmp_path
) -> None:
    """heatwave3's real OISST 2x2 grid (1982–2022, 'latitude' decreasing, variable 'oisst_short'):
    its cell at 29.375S 112.625E is heatwaveR's WA series, so the gridded command must give the
    marineHeatWaves events of that series, the 2011 event included."""
    src = realdata / "sst_grid" / "heatwave3_oisst_short.nc"
    out, nc = tmp_path / "h3.csv", tmp_path / "h3.nc"
    args = [str(src), "--var", "oisst_short", "--baseline", "1983", "2012", "--no-progress"]
    assert main([*args, "-o", str(out), "--netcdf", str(nc)]) == 0
    events = pd.read_csv(out)
    wa = events[(events["lat"] == -29.375) & (events["lon"] == 112.625)].reset_index(drop=True)
    case = reference_cases["hwR_sst_WA_1982-2022_clim1983-2012"]
    compare_events(wa, case.events)
    row = wa.loc[wa["date_start"] == "2011-02-06"].iloc[0]
    assert (row["date_end"], row["date_peak"], row["duration"], row["category"]) == (
        "2011-04-06",
        "2011-02-28",
        60,
        "Extreme",
    )
    assert len(events) > len(wa) and set(zip(events["lat"], events["lon"], strict=True)) == {
        (-29.125, 112.625),
        (-29.125, 112.875),
        (-29.375, 112.625),
        (-29.375, 112.875),
    }
    with xr.open_dataset(nc) as ds:
        assert list(ds["lat"].values) == [-29.125, -29.375]  # the input's order is kept
        seas = ds["seas"].sel(lat=-29.375, lon=112.625).values[doy_index(case.dates)]
        np.testing.assert_allclose(seas, case.daily_seas, rtol=0, atol=1e-5)  # stored as float32


def test_a_single_day_grid_is_refused(realdata: Path, tmp_path: Path, capsys) -> None:
    src = realdata / "sst_grid" / "stars_reduced_oisst_avhrr-only-v2_19811231_2deg.nc"
    args = ["--var", "sst", "-o", str(tmp_path / "x.csv"), "--netcdf", str(tmp_path / "x.nc")]
    assert main([str(src), *args, "--no-progress"]) == 2
    assert "only 1 days; MHW detection needs daily data of at least one year" in capsys.readouterr().err
