"""The analysis scorer on analyses of known error, and the forecast background of OI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oceane2e.assim.oi import (
    BackgroundConfig,
    GridOI,
    OIConfig,
    OIVariableConfig,
    _background_reader,
    write_analysis,
)
from oceane2e.assim.scores import score_analyses
from oceane2e.data.contract import read_clim
from oceane2e.data.datasets import DataFolder
from oceane2e.data.observations import ObsRecords, write_obs_year
from oceane2e.testing.folders import write_tiny_folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_folder(tmp_path_factory.mktemp("scores") / "gs", years=(2002, 2003), shape=(8, 12))


def _truth(root: Path, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, DataFolder]:
    f = DataFolder(root, [2003])
    ssta = f.read("mhw", dates[0], dates.size, ["ssta"])[:, 0]
    uv = f.read("geo", dates[0], dates.size, ["u_g", "v_g"])
    return ssta, uv[:, 0], uv[:, 1], f


def test_scores_of_analyses_with_a_known_error(tiny, tmp_path: Path) -> None:
    dates = np.datetime64("2003-03-01", "D") + np.arange(40)
    ssta, u, v, folder = _truth(tiny.root, dates)
    mask = folder.mask
    fields = {"ssta": ssta + 0.1, "u_g": u - 0.02, "v_g": v}
    write_analysis(tmp_path / "OI_analysis.nc", dates, folder.coords, mask, fields, {"method": "OI"},
                   background_currents=(np.zeros(mask.shape), np.zeros(mask.shape)))
    # one SSTA record on each day in cell (3, 5): that cell is "observed"
    obs_dir = tmp_path / "obs"
    t = np.datetime64("2003-03-01T12:00:00", "s") + np.arange(40).astype("timedelta64[D]")
    write_obs_year(obs_dir, 2003, ObsRecords(time=t, lat=np.full(40, tiny.coords.lat[3]),
                                             lon=np.full(40, tiny.coords.lon[5]), value=np.zeros(40),
                                             error_std=np.full(40, 0.1), platform=np.full(40, "argo"),
                                             variable=np.full(40, "ssta")))
    table = score_analyses(tmp_path, tiny.root, obs_dir, figure=True)
    wide = table.pivot(index="method", columns="metric", values="value")
    assert wide.loc["OI", "rmse"] == pytest.approx(0.1, rel=1e-5)
    assert wide.loc["OI", "bias"] == pytest.approx(0.1, rel=1e-5)
    assert wide.loc["OI", "rmse_unobserved"] == pytest.approx(0.1, rel=1e-5)
    assert wide.loc["OI", "u_g_rmse"] == pytest.approx(0.02, rel=1e-4)
    assert wide.loc["OI", "v_g_rmse"] == pytest.approx(0.0, abs=1e-7)
    assert wide.loc["OI", "unobserved_fraction"] == pytest.approx(1 - 1 / mask.sum(), rel=1e-9)
    w = np.broadcast_to(np.cos(np.deg2rad(tiny.coords.lat))[:, None], mask.shape)
    expected = np.sqrt(np.sum(ssta[:, mask] ** 2 * w[mask]) / (w[mask].sum() * dates.size))
    assert wide.loc["Background", "rmse"] == pytest.approx(expected, rel=1e-5)
    seas, thresh = read_clim(tiny.root / "clim.nc").for_dates(dates)
    mhw = (ssta > thresh - seas) & mask
    assert wide.loc["OI", "mhw_fraction"] == pytest.approx(mhw.sum() / (mask.sum() * dates.size), rel=1e-9)
    assert wide.loc["Background", "bias_mhw"] == pytest.approx(
        -np.sum((ssta * w)[mhw]) / np.sum(np.broadcast_to(w, ssta.shape)[mhw]), rel=1e-5)
    assert list(pd.read_csv(tmp_path / "analysis_skill.csv").columns) == ["method", "metric", "value"]
    assert (tmp_path / "figures" / "analysis_OI.png").exists()


def test_oi_uses_a_forecast_background(tiny, tmp_path: Path) -> None:
    """With no record the analysis is the given forecast; with records it moves toward them."""
    dates = np.datetime64("2003-01-01", "D") + np.arange(10)
    folder = DataFolder(tiny.root, [2003])
    bg = np.full((dates.size, *folder.shape), 0.7)
    write_analysis(tmp_path / "fc.nc", dates, folder.coords, folder.mask, {"ssta": bg}, {"method": "forecast"})
    cfg = OIConfig.model_validate({"data": {"root": str(tiny.root), "train_years": [2002], "val_years": [2001],
                                            "test_years": [2003]},
                                   "background": BackgroundConfig(kind="forecast", path=tmp_path / "fc.nc")})
    read = _background_reader(cfg, folder.coords)
    oi = GridOI(folder.coords, folder.mask, OIVariableConfig())
    day = dates[4]
    a, e = oi.analyse(day, ObsRecords.empty(), read(day))
    np.testing.assert_allclose(a[folder.mask], 0.7)
    np.testing.assert_allclose(e[folder.mask], 1.0)
    assert np.all(np.isnan(a[~folder.mask]))
    one = ObsRecords(time=[np.datetime64("2003-01-05T12:00:00")], lat=[folder.coords.lat[3]],
                     lon=[folder.coords.lon[5]], value=[1.7], error_std=[1.0], platform=["argo"], variable=["ssta"])
    a1, _ = oi.analyse(day, one, read(day))
    assert a1[3, 5] == pytest.approx(0.7 + 0.5 * 1.0, rel=1e-6)  # weight σb²/(σb²+σo²) = 1/2


def test_an_older_scores_file_reads_with_todays_names(tmp_path: Path) -> None:
    """Files written before the SSTA metrics were named like skill.csv's (ssta_rmse -> rmse) still report."""
    from oceane2e.assim.scores import analysis_markdown, read_skill

    (tmp_path / "analysis_skill.csv").write_text("method,metric,value\nOI,ssta_rmse,0.36\nOI,ssta_rmse_unobserved,"
                                                 "0.42\nOI,current_rmse,0.15\n")
    table = read_skill(tmp_path / "analysis_skill.csv")
    assert dict(zip(table.metric, table.value, strict=True)) == {"rmse": 0.36, "rmse_unobserved": 0.42,
                                                                 "current_rmse": 0.15}
    assert "| OI | 0.360 | 0.420 | 0.150 |" in analysis_markdown(tmp_path / "analysis_skill.csv")
