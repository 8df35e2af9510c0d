"""A tiny data folder whose SSTA is an AR(1) process, and fake model results on its test year."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from oceane2e.data.contract import (
    CLIM_FILE,
    MHW_CHANNELS,
    GridCoords,
    days_in_year,
    write_clim,
    write_mask,
    write_year,
    year_path,
)
from oceane2e.data.forecast_files import write_forecast

YEARS = (2001, 2002, 2003)
TAU_DAYS = 8.0
MHW_MARGIN_K = 1.0  # thresh - seas
N_LEAD = 12
GRID = (6, 8)


@dataclass
class TinyResults:
    data: Path
    results: Path
    config: Path
    ssta: np.ndarray  # (T, H, W) observed SSTA of all years, NaN on land
    dates: np.ndarray  # (T,) datetime64[D]
    coords: GridCoords
    mask: np.ndarray
    time0: np.ndarray
    models: dict[str, np.ndarray]  # name -> (S, L, H, W) forecast
    tau_days: float = TAU_DAYS  # e-folding time of the SSTA


def _mask(shape: tuple[int, int]) -> np.ndarray:
    mask = np.ones(shape, dtype=bool)
    mask[:, 0] = False
    mask[-2:, :2] = False
    mask[2, 4] = False
    return mask


def write_ar1_folder(root: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray, GridCoords, np.ndarray]:
    """Contract folder (mhw files, mask.npy, clim.nc) whose SSTA is AR(1) with e-folding TAU_DAYS, std 1 K."""
    rng = np.random.default_rng(seed)
    coords = GridCoords.from_bounds((30.0, 36.0), (-70.0, -62.0), GRID)
    mask = _mask(GRID)
    n = sum(days_in_year(y) for y in YEARS)
    phi = np.exp(-1.0 / TAU_DAYS)
    ssta = np.empty((n, *GRID))
    ssta[0] = rng.standard_normal(GRID)
    noise = rng.standard_normal((n, *GRID)) * np.sqrt(1.0 - phi**2)
    for t in range(1, n):
        ssta[t] = phi * ssta[t - 1] + noise[t]
    ssta = ssta.astype(np.float32)
    ssta[:, ~mask] = np.nan
    start = 0
    for year in YEARS:
        nd = days_in_year(year)
        data = np.zeros((nd, len(MHW_CHANNELS), *GRID), dtype=np.float32)
        data[:, MHW_CHANNELS.index("ssta")] = ssta[start : start + nd]
        data[:, MHW_CHANNELS.index("t2m")] = 290.0
        write_year(year_path(root, "mhw", year), "mhw", year, data, coords, mask=mask, attrs={"synthetic": True})
        start += nd
    write_mask(root, mask)
    doy = np.arange(366, dtype=np.float64)[:, None, None]
    seas = 15.0 + 3.0 * np.sin(2 * np.pi * doy / 366.0) + np.zeros((1, *GRID))
    write_clim(
        root / CLIM_FILE, seas, seas + MHW_MARGIN_K, coords, variable="sst", baseline=(YEARS[0], YEARS[-1]),
        window_half_width=5, smooth_width=31, percentile=90.0, mask=mask,
    )
    dates = np.datetime64(f"{YEARS[0]}-01-01", "D") + np.arange(n)
    return ssta, dates, coords, mask


def write_model(results: Path, name: str, forecast: np.ndarray, truth: np.ndarray, tiny: TinyResults) -> None:
    """``<name>_outputs.npy`` (land 0, as networks write it), ``_inputs.npy`` and ``_forecast.nc``."""
    np.save(results / f"{name}_outputs.npy", np.nan_to_num(forecast, nan=0.0).astype(np.float32))
    np.save(results / f"{name}_inputs.npy", np.nan_to_num(truth, nan=0.0).astype(np.float32))
    write_forecast(results / f"{name}_forecast.nc", forecast[:, :, None], tiny.time0, tiny.coords, tiny.mask,
                   truth[:, :, None], channels=("ssta",), attrs={"model": name})


def truth_of(tiny: TinyResults, time0: np.ndarray, n_lead: int = N_LEAD) -> np.ndarray:
    """Observed SSTA of leads 1..n_lead for each start date -> (S, L, H, W)."""
    idx = (time0 - tiny.dates[0]).astype(int)[:, None] + np.arange(1, n_lead + 1)[None]
    return tiny.ssta[idx]


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory) -> TinyResults:
    base = tmp_path_factory.mktemp("evaluation")
    data, results = base / "data", base / "results"
    results.mkdir()
    ssta, dates, coords, mask = write_ar1_folder(data)
    config = base / "config.yaml"
    config.write_text(
        f"data:\n  root: {data}\n  train_years: [2001]\n  val_years: [2002]\n  test_years: [2003]\n"
        "model: {}\n"  # other sections of a stage config are ignored by the evaluation
    )
    time0 = np.datetime64("2003-01-20", "D") + 9 * np.arange(12)
    tiny = TinyResults(data, results, config, ssta, dates, coords, mask, time0, {})
    truth = truth_of(tiny, time0)
    rng = np.random.default_rng(1)
    tiny.models["Good"] = (truth + 0.1 * rng.standard_normal(truth.shape)).astype(np.float32)
    tiny.models["Noisy"] = (0.5 * truth + 0.8 * rng.standard_normal(truth.shape)).astype(np.float32)
    for name, fc in tiny.models.items():
        write_model(results, name, np.where(mask, fc, np.nan), truth, tiny)
    return tiny


@pytest.fixture(scope="session")
def evaluated(tiny_results: TinyResults):
    """The evaluation run once on the tiny results (shared by the end-to-end and notebook tests)."""
    from oceane2e.evaluation.evaluate import main

    status = main(["--results", str(tiny_results.results), "--config", str(tiny_results.config), "--no-progress"])
    assert status == 0
    return tiny_results
