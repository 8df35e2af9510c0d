"""``oceane2e detect`` options of issue 16: cold spells, climatology, annual statistics and trends,
and its answers to bad input (a line number, a count of missing values, one line for a bad output)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from mhw_refdata import REFERENCE_DIR, compare_events

from oceane2e.mhw.cli import main

WA_ANNUAL = "WA_1982-2022_clim1983-2012"
XMHW_POINT = "xmhw_point1_lat-42.625_lon148.125_2003-2004.csv"


def test_cold_spells_and_their_climatology(cold_spell_case, tmp_path: Path, capsys) -> None:
    case = cold_spell_case
    out, clim = tmp_path / "mcs.csv", tmp_path / "sub" / "clim.csv"
    args = [str(case.csv_path), "--baseline", "1982", "2011", "--cold-spells", "--no-progress"]
    assert main([*args, "-o", str(out), "--clim", str(clim)]) == 0
    assert "86 cold spells in 1 cell(s)" in capsys.readouterr().out
    compare_events(pd.read_csv(out), case.events, atol=1e-9)
    table = pd.read_csv(clim)
    ref = pd.read_csv(case.csv_path.parents[1] / "mhw_reference" / f"{case.label}_clim.csv.gz")
    assert table.columns.tolist() == ["date", "seas", "thresh"]
    assert table["date"].tolist() == ref["date"].tolist()
    np.testing.assert_allclose(table[["seas", "thresh"]], ref[["seas", "thresh"]], rtol=0, atol=1e-9)


def test_annual_statistics_and_trends_csv(realdata: Path, tmp_path: Path) -> None:
    src = realdata / "point_series" / "heatwaveR_sst_WA_1982-2022.csv"
    annual, trends = tmp_path / "annual.csv", tmp_path / "trends.csv"
    args = [str(src), "--baseline", "1983", "2012", "--no-progress", "-o", str(tmp_path / "ev.csv")]
    assert main([*args, "--annual", str(annual), "--trends", str(trends)]) == 0
    ours, ref = pd.read_csv(annual), pd.read_csv(REFERENCE_DIR / f"blockAverage_{WA_ANNUAL}.csv")
    assert ours.columns[:4].tolist() == ["years_start", "years_end", "years_centre", "count"]
    assert ours["count"].dtype == np.int64 and len(ours) == 41
    np.testing.assert_allclose(ours[ref.columns], ref, rtol=0, atol=1e-9)
    ours_t = pd.read_csv(trends, index_col="statistic")
    ref_t = pd.read_csv(REFERENCE_DIR / f"meanTrend_{WA_ANNUAL}.csv", index_col="statistic")
    np.testing.assert_allclose(ours_t.loc[ref_t.index, "trend_per_decade"], 10 * ref_t["trend"], rtol=1e-9)
    np.testing.assert_allclose(ours_t.loc[ref_t.index, "mean"], ref_t["mean"], rtol=1e-9)
    assert ours_t.loc["count", "p_value"] < 0.05 < ours_t.loc["duration", "p_value"]


def test_grid_annual_trends_and_climatology_netcdf(realdata: Path, tmp_path: Path) -> None:
    """heatwave3's 2x2 OISST grid: its cell at 29.375S 112.625E is the Western Australia series, so
    its annual statistics are the reference blockAverage of that series."""
    src = realdata / "sst_grid" / "heatwave3_oisst_short.nc"
    paths = {k: tmp_path / f"{k}.nc" for k in ("netcdf", "annual", "trends", "clim")}
    args = [str(src), "--var", "oisst_short", "--baseline", "1983", "2012", "--no-progress"]
    args += ["-o", str(tmp_path / "ev.csv"), *[a for k, p in paths.items() for a in (f"--{k}", str(p))]]
    assert main(args) == 0
    ref = pd.read_csv(REFERENCE_DIR / f"blockAverage_{WA_ANNUAL}.csv")
    with xr.open_dataset(paths["annual"]) as ds:
        assert ds["count"].dims == ("year", "lat", "lon") and ds.attrs["block_years"] == 1
        cell = ds.sel(lat=-29.375, lon=112.625)
        np.testing.assert_array_equal(cell["year"], ref["years_start"])
        for name in ref.columns.drop(["years_start", "years_end", "years_centre"]):
            np.testing.assert_allclose(cell[name].values, ref[name], rtol=0, atol=1e-9, err_msg=name)
    with xr.open_dataset(paths["trends"]) as ds:
        assert ds["trend_per_decade"].dims == ("statistic", "lat", "lon")
        ref_t = pd.read_csv(REFERENCE_DIR / f"meanTrend_{WA_ANNUAL}.csv", index_col="statistic")
        got = ds["trend_per_decade"].sel(lat=-29.375, lon=112.625, statistic="total_days").item()
        assert got == pytest.approx(10 * ref_t.loc["total_days", "trend"], rel=1e-9)
    with xr.open_dataset(paths["clim"]) as clim, xr.open_dataset(paths["netcdf"]) as full:
        assert set(clim.data_vars) == {"seas", "thresh"}
        np.testing.assert_array_equal(clim["thresh"].values, full["thresh"].values)


def _series_csv(realdata: Path, tmp_path: Path, edit) -> Path:
    lines = (realdata / "point_series" / XMHW_POINT).read_text().splitlines()
    path = tmp_path / "series.csv"
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def test_a_non_numeric_temperature_names_its_line(realdata: Path, tmp_path: Path, capsys) -> None:
    def edit(lines):
        lines[10] = lines[10].split(",")[0] + ",21.3x"  # line 11 of the file
        lines.insert(5, "")  # a blank line before it: now line 12
        return lines

    src = _series_csv(realdata, tmp_path, edit)
    assert main([str(src), "-o", str(tmp_path / "ev.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{src}, line 12: temperature '21.3x' is not a number" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "ev.csv").exists()

    src = _series_csv(realdata, tmp_path, lambda lines: [*lines[:7], "2003-01-07,inf", *lines[8:]])
    assert main([str(src), "-o", str(tmp_path / "ev.csv"), "--no-progress"]) == 2
    assert "line 8: temperature 'inf' is not a number" in capsys.readouterr().err

    src = _series_csv(realdata, tmp_path, lambda lines: [*lines[:3], "2003-13-01,12.0", *lines[4:]])
    assert main([str(src), "-o", str(tmp_path / "ev.csv"), "--no-progress"]) == 2
    assert "line 4: date '2003-13-01' is not a date" in capsys.readouterr().err


def test_missing_values_are_counted(realdata: Path, tmp_path: Path, capsys) -> None:
    """Empty and NaN fields are missing days, as are days absent from the file; all are counted."""

    def edit(lines):
        lines[20] = lines[20].split(",")[0] + ","
        lines[30] = lines[30].split(",")[0] + ",NaN"
        del lines[40]
        return lines

    src = _series_csv(realdata, tmp_path, edit)
    assert main([str(src), "-o", str(tmp_path / "ev.csv"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 missing temperature value(s) of 731 days, 1 of them absent from the file and inserted" in out


@pytest.mark.parametrize("flag", ["-o", "--annual", "--clim"])
def test_an_output_that_cannot_be_written_is_one_line(realdata: Path, tmp_path: Path, capsys, flag) -> None:
    src = realdata / "point_series" / XMHW_POINT
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for target, why in ((blocker / "out.csv", "is a file, not a folder"), (tmp_path, "is a folder")):
        args = [str(src), "--no-progress", flag, str(target)]
        if flag != "-o":
            args += ["-o", str(tmp_path / "ev.csv")]
        assert main(args) == 2
        captured = capsys.readouterr()
        assert why in captured.err and len(captured.err.strip().splitlines()) == 1
        assert "Traceback" not in captured.err and "events" not in captured.out  # refused before the work


def test_cold_spells_refuse_a_low_percentile(realdata: Path, tmp_path: Path, capsys) -> None:
    src = realdata / "point_series" / XMHW_POINT
    assert main([str(src), "--cold-spells", "--pctile", "10", "-o", str(tmp_path / "x.csv")]) == 2
    assert "--pctile 90 (the default) gives the 10th percentile threshold" in capsys.readouterr().err
