"""``oceane2e oi`` end to end on a tiny folder: the analysis file, its scores, tuning on training years."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
import yaml

from oceane2e.assim import observe, oi
from oceane2e.assim.scores import analysis_markdown
from oceane2e.testing.folders import write_tiny_folder


@pytest.fixture(scope="module")
def tiny_obs(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("oi")
    tiny = write_tiny_folder(tmp / "gs", years=(2001, 2002, 2003), shape=(16, 20))
    cfg = tmp / "observe.yaml"
    cfg.write_text(f"data: {{root: {tiny.root}, train_years: [2001], val_years: [2002], test_years: [2003]}}\n"
                   "years: [2001, 2003]\nfigure: false\naltimetry: {sample_seconds: 15.0}\n"
                   "drifters: {steps_per_sample: 1}\n")
    assert observe.main(["--config", str(cfg), "--no-progress"]) == 0
    return tiny.root, tmp


def _oi_config(root: Path, tmp: Path) -> Path:
    cfg = tmp / "oi.yaml"
    cfg.write_text(yaml.safe_dump({
        "data": {"root": str(root), "train_years": [2001], "val_years": [2002], "test_years": [2003]},
        "results_dir": str(tmp / "results"),
        "ssta": {"length_km": 50.0, "time_days": 1.0, "background_std": 1.0, "block_cells": 8},
        "sla": {"length_km": 50.0, "time_days": 2.0, "background_std": 0.3, "block_cells": 8},
        "tune": {"days": 3, "ssta": {"length_km": [30.0, 300.0], "time_days": [1.0], "background_std": [1.0]},
                 "sla": {"length_km": [30.0], "time_days": [1.0, 3.0], "background_std": [0.3]},
                 "output": str(tmp / "tuned.yaml")},
    }))
    return cfg


def test_oi_writes_a_cf_analysis_and_scores_it(tiny_obs, capsys) -> None:
    root, tmp = tiny_obs
    cfg = _oi_config(root, tmp)
    assert oi.main(["--config", str(cfg), "--no-progress"]) == 0
    path = tmp / "results" / "OI_analysis.nc"
    mask = np.load(root / "mask.npy").astype(bool)
    with netCDF4.Dataset(path) as ds:
        assert ds.Conventions.startswith("CF") and ds.windows.startswith("centred")
        assert ds["ssta"].dimensions == ("time", "lat", "lon") and ds["ssta"].shape == (365, 16, 20)
        assert ds["ssta"].units == "K" and ds["u_g"].units == "m s-1" and ds["v_g"].units == "m s-1"
        ssta = np.asarray(ds["ssta"][:].filled(np.nan))
        u = np.asarray(ds["u_g"][:].filled(np.nan))
    assert np.all(np.isnan(ssta[:, ~mask])) and np.all(np.isfinite(ssta[:, mask]))
    assert np.all(np.isnan(u[:, ~mask])) and np.all(np.isfinite(u[:, mask]))
    table = pd.read_csv(tmp / "results" / "analysis_skill.csv")
    assert list(table.columns) == ["method", "metric", "value"]
    wide = table.pivot(index="method", columns="metric", values="value")
    assert {"OI", "Background"} <= set(wide.index)
    for metric in ("rmse", "bias", "rmse_unobserved", "rmse_mhw", "u_g_rmse", "current_rmse"):
        assert np.isfinite(wide.loc["OI", metric]), metric
    # the tiny truth is white noise around a mean of 0.3 K: the zero background misses the mean, the
    # analysis finds it from the observations (its RMSE is no better: white noise has no scale)
    assert wide.loc["Background", "bias"] < -0.25
    assert abs(wide.loc["OI", "bias"]) < 0.1
    assert (tmp / "results" / "figures" / "analysis_OI.png").exists()
    md = analysis_markdown(tmp / "results" / "analysis_skill.csv")
    assert md.startswith("## Analyses") and "| OI |" in md and "| Background |" in md
    assert "- OI: centred (ssta: days d-3 .. d+3, sla: d-3 .. d+3)" in md  # the report says it is a smoother
    assert "rmse_unobserved" in capsys.readouterr().out


def test_tuning_uses_training_years_and_writes_the_tuned_config(tiny_obs, capsys) -> None:
    root, tmp = tiny_obs
    cfg = _oi_config(root, tmp)
    assert oi.main(["--config", str(cfg), "--tune-only", "--no-progress"]) == 0
    tuned = oi.load_oi_config(tmp / "tuned.yaml")
    assert tuned.ssta.length_km in (30.0, 300.0) and tuned.sla.time_days in (1.0, 3.0)
    assert "2001..2001 (training years)" in tuned.tuned_by
    # without observations of the training years, tuning refuses (it never falls back to other years)
    (root / "obs" / "obs_2001.nc").rename(tmp / "moved.nc")
    try:
        assert oi.main(["--config", str(cfg), "--tune-only", "--no-progress"]) == 2
        assert "observations of [2001] missing" in capsys.readouterr().err
    finally:
        (tmp / "moved.nc").rename(root / "obs" / "obs_2001.nc")


def test_unknown_key_fails(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "oi.yaml"
    cfg.write_text("data: {root: x, train_years: [2001], val_years: [2002], test_years: [2003]}\n"
                   "ssta: {length: 3}\n")
    assert oi.main(["--config", str(cfg)]) == 2
    assert "ssta.length" in capsys.readouterr().err


def test_realtime_analyses_use_no_record_after_their_day(tiny_obs) -> None:
    """``realtime: true`` analyses day d from the records of d - window .. d: a forecast started on day d
    must not have seen its lead days. The centred window (the smoother) does see them."""
    import dataclasses

    from oceane2e.assim.oi import GridOI, OIVariableConfig, ssta_records, window
    from oceane2e.data.observations import read_obs_year

    root, tmp = tiny_obs
    coords, folder = oi._grid(oi.load_oi_config(_oi_config(root, tmp)))
    mask = folder.mask
    folder.close()
    records = ssta_records(read_obs_year(root / "obs", 2003))
    day = np.datetime64("2003-06-15")
    later = records.day > day
    assert later.any() and (records.day == day).any()
    changed = dataclasses.replace(records, value=np.where(later, records.value + 5.0, records.value).astype(np.float32))
    grid = GridOI(coords, mask, OIVariableConfig(length_km=50.0, time_days=1.0, background_std=1.0, window_days=3,
                                                 block_cells=8))
    past = window(records, day, 3, realtime=True)
    assert past.day.max() == day and past.day.min() == day - 3
    realtime = [grid.analyse(day, window(r, day, 3, realtime=True))[0] for r in (records, changed)]
    np.testing.assert_array_equal(realtime[0], realtime[1])
    smoother = [grid.analyse(day, window(r, day, 3))[0] for r in (records, changed)]
    assert np.nanmax(np.abs(smoother[1] - smoother[0])) > 0.1  # the smoother does see the next days


def test_realtime_oi_writes_its_own_method_and_says_so(tiny_obs) -> None:
    root, tmp = tiny_obs
    cfg = _oi_config(root, tmp)
    assert oi.main(["--config", str(cfg), "--no-progress", "-o", "realtime=true", "-o", "method=OI-realtime",
                    "-o", "score=false"]) == 0
    with netCDF4.Dataset(tmp / "results" / "OI-realtime_analysis.nc") as ds:
        assert ds.method == "OI-realtime" and ds.windows.startswith("past only")


def test_the_shipped_realtime_config_is_real_time() -> None:
    shipped = oi.load_oi_config(Path(__file__).parents[2] / "configs" / "oi_realtime.yaml")
    assert shipped.realtime and shipped.method == "OI-realtime"
