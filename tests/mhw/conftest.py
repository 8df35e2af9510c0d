"""Fixtures for the MHW tests: the real reference runs and the xmhw OISST grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mhw_refdata import COLD_SPELL_LABELS, REFERENCE_LABELS, ReferenceCase, load_case


@pytest.fixture(scope="session")
def reference_cases(realdata: Path) -> dict[str, ReferenceCase]:
    """Every reference run in ../shared/realdata/mhw_reference, by label."""
    return {label: load_case(realdata, label) for label in REFERENCE_LABELS}


@pytest.fixture(scope="session")
def cold_spell_case(realdata: Path) -> ReferenceCase:
    """The reference run of marine cold spells (Western Australia 1982–2022, baseline 1982–2011)."""
    return load_case(realdata, COLD_SPELL_LABELS[0])


@pytest.fixture(scope="session")
def xmhw_grid(realdata: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The xmhw test grid (real OISST 2003–2004, 8x4 cells, 20 of them land): dates, sst, lat, lon."""
    import xarray as xr

    with xr.open_dataset(realdata / "sst_grid" / "xmhw_oisst_2003_2004.nc") as ds:
        sst = ds["sst"].transpose("time", "lat", "lon").values.astype(np.float64)
        dates = np.asarray(ds["time"].values, dtype="datetime64[D]")
        lat, lon = ds["lat"].values.astype(np.float64), ds["lon"].values.astype(np.float64)
    return dates, sst, lat, lon
