"""Helpers of the MHW tests: reading the real point series and the reference runs beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_LABELS = (
    "hwR-f6f1b30_sst_WA_1982-2014_clim1983-2012",
    "hwR_sst_WA_1982-2022_clim1983-2012",
    "mmhw_sst_1_2_1982-2016_clim1982-2005",
    "xmhw_point1_2003-2004_climFull",
    "xmhw_point1_2003-2004_climFull_nosmooth",
    "xmhw_point2_2003-2004_climFull",
    "xmhw_point2_2003-2004_climFull_nosmooth",
)
#: reference runs of marine cold spells (``coldSpells=True``)
COLD_SPELL_LABELS = ("hwR_sst_WA_1982-2022_clim1982-2011_MCS",)
#: block averages / mean trends computed by marineHeatWaves itself (tests/mhw/reference/make_reference.py):
#: label -> (series, detect kwargs, NaN-ed day indices (removeMissing when any), block length in years)
BLOCK_REFERENCE = {
    "WA_1982-2022_clim1983-2012": ("heatwaveR_sst_WA_1982-2022.csv", {"baseline": (1983, 2012)}, (), 1),
    "WA_1982-2022_clim1982-2011_MCS": (
        "heatwaveR_sst_WA_1982-2022.csv",
        {"baseline": (1982, 2011), "cold_spells": True},
        (),
        1,
    ),
    "NW_Atl_1982-2022_clim1982-2011_gaps_block2": (
        "heatwaveR_sst_NW_Atl_1982-2022.csv",
        {"baseline": (1982, 2011)},
        (40, 41, 5000, 5001, 5002),
        2,
    ),
}
REFERENCE_DIR = Path(__file__).parent / "reference"


@dataclass(frozen=True)
class ReferenceCase:
    """One run of the reference implementation: input series, its settings and its outputs."""

    label: str
    dates: np.ndarray  # (T,) datetime64[D]
    temp: np.ndarray  # (T,) °C
    kwargs: dict  # our climatology/detection options equivalent to the reference's settings
    daily_seas: np.ndarray  # (T,) reference climatology on the series' days
    daily_thresh: np.ndarray  # (T,)
    events: pd.DataFrame  # reference events table
    csv_path: Path


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(path)
    return np.asarray(df["date"].to_numpy(str), dtype="datetime64[D]"), df["temp"].to_numpy(np.float64)


def load_case(realdata: Path, label: str) -> ReferenceCase:
    ref_dir = realdata / "mhw_reference"
    meta = json.loads((ref_dir / f"{label}_meta.json").read_text())
    kw = meta["detect_kwargs"]
    assert kw["joinAcrossGaps"], "only runs with gap joining are used"
    assert kw["coldSpells"] == (label in COLD_SPELL_LABELS), f"{label}: coldSpells is {kw['coldSpells']}"
    period = meta["climatologyPeriod"]
    csv_path = realdata / "point_series" / meta["input_file"]
    dates, temp = read_series(csv_path)
    assert dates.size == meta["n_days"] and str(dates[0]) == meta["first_date"]
    npz = np.load(ref_dir / f"{label}.npz")
    return ReferenceCase(
        label=label,
        dates=dates,
        temp=temp,
        kwargs={
            "baseline": None if isinstance(period, str) else tuple(period),
            "window_half_width": kw["windowHalfWidth"],
            "smooth_width": kw["smoothPercentileWidth"] if kw["smoothPercentile"] else 1,
            "percentile": float(kw["pctile"]),
            "min_duration": kw["minDuration"],
            "max_gap": kw["maxGap"],
            **({"cold_spells": True} if kw["coldSpells"] else {}),
        },
        daily_seas=npz["seas"],
        daily_thresh=npz["thresh"],
        events=pd.read_csv(ref_dir / f"{label}_events.csv"),
        csv_path=csv_path,
    )


def compare_events(ours: pd.DataFrame, ref: pd.DataFrame, atol: float = 1e-9) -> None:
    """Assert two events tables agree on every reference column (dates, counts, floats to atol)."""
    assert len(ours) == len(ref), f"{len(ours)} events != reference {len(ref)}"
    for col in ref.columns:
        a, b = ours[col], ref[col]
        if col.startswith("date_"):
            np.testing.assert_array_equal(
                pd.to_datetime(a).dt.strftime("%Y-%m-%d").to_numpy(str), b.to_numpy(str)
            )
        elif not pd.api.types.is_numeric_dtype(b):
            np.testing.assert_array_equal(a.to_numpy(str), b.to_numpy(str), err_msg=col)
        else:
            np.testing.assert_allclose(
                a.to_numpy(np.float64), b.to_numpy(np.float64), rtol=0, atol=atol, err_msg=col
            )
