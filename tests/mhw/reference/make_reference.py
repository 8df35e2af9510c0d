"""Regenerate the block-average / mean-trend reference files of this folder (not run by the tests).

Runs the reference implementation itself, ``marineHeatWaves.py`` of ecjoliver/marineHeatWaves at
commit d7292bf08ade0af213fa760b0d7e4adfe5f52894 (the version of ../shared/realdata/mhw_reference),
on real series of ../shared/realdata/point_series. Under numpy 2 one line of that file needs ``[0]``
(``doy[tt] = doy_leapYear[...][0]``: numpy 2 refuses to put a 1-element array in a scalar slot),
and ``np.NaN`` must exist; nothing else is changed.

    python tests/mhw/reference/make_reference.py /path/to/marineHeatWaves.py ../shared/realdata
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
#: label -> (series, baseline, cold spells, block length, NaN-ed day indices (removeMissing if any))
CASES = {
    "WA_1982-2022_clim1983-2012": ("heatwaveR_sst_WA_1982-2022.csv", (1983, 2012), False, 1, ()),
    "WA_1982-2022_clim1982-2011_MCS": ("heatwaveR_sst_WA_1982-2022.csv", (1982, 2011), True, 1, ()),
    "NW_Atl_1982-2022_clim1982-2011_gaps_block2": (
        "heatwaveR_sst_NW_Atl_1982-2022.csv",
        (1982, 2011),
        False,
        2,
        (40, 41, 5000, 5001, 5002),
    ),
}


def main(ref_file: str, realdata: str) -> None:
    np.NaN = np.nan  # noqa: NPY201 - the reference uses the numpy-1 name
    spec = importlib.util.spec_from_file_location("marineHeatWaves", ref_file)
    mhw_ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mhw_ref)
    for label, (series, baseline, cold, block, gaps) in CASES.items():
        df = pd.read_csv(Path(realdata) / "point_series" / series)
        temp = df["temp"].to_numpy(np.float64, copy=True)
        temp[list(gaps)] = np.nan
        t = np.array([date.fromisoformat(d).toordinal() for d in df["date"]])
        events, clim = mhw_ref.detect(t, temp.copy(), climatologyPeriod=list(baseline), coldSpells=cold)
        blk = mhw_ref.blockAverage(
            t, events, clim=clim, temp=temp, blockLength=block, removeMissing=bool(gaps)
        )
        mean, trend, dtrend = mhw_ref.meanTrend(blk)
        pd.DataFrame(blk).to_csv(HERE / f"blockAverage_{label}.csv", index=False)
        pd.DataFrame({"mean": mean, "trend": trend, "dtrend": dtrend}).rename_axis("statistic").to_csv(
            HERE / f"meanTrend_{label}.csv"
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
