"""What the forecasts from observations lose to their start state and to their currents (issue 13).

    python benchmarks/da_gap_split.py --results results --data data/GS [--config configs/config_da.yaml]
                                      [--method NeuralDA] [--scratch results/gap_split]

Run in the folder of a finished main command. The hybrid ``Oceane2e`` is started four ways on the same test
start dates and scored against the truth (RMSE per lead over ocean cells, cos-latitude weighted):

* ``Oceane2e+OI`` and ``Oceane2e+<method>``, as the main command made them (the real-time OI's currents, or the
  learned analysis' own when it analysed them);
* ``+TruthSST``: the true SSTA with the real-time OI's currents (day 0, and M_θ started from them);
* ``+<method>-truecur``: the learned analysis with the true currents (day 0, and M_θ started from them);
* ``Oceane2e`` itself: the true SSTA and the true currents (the upper bound).

The differences split the gap between OI-started and truth-started forecasts into the part of the SSTA and the
part of the currents. Analysis files of the truth (``TruthSST``, ``TruthCur``: a diagnostic, never a start of a
scored model) and the forecasts go to ``--scratch``; ``results/`` is only read. A diagnostic of the test years:
nothing is chosen on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

LEADS = (1, 2, 5, 10, 20, 40)


def _truth(root: Path, dates: np.ndarray) -> dict[str, np.ndarray]:
    from oceane2e.data.datasets import DataFolder

    years = sorted({int(str(d)[:4]) for d in dates})
    folder = DataFolder(root, years, kinds=("geo", "mhw"))
    ssta = folder.read("mhw", dates[0], dates.size, ["ssta"])[:, 0]
    vel = folder.read("geo", dates[0], dates.size, ["u_g", "v_g"])
    return {"ssta": ssta, "u_g": vel[:, 0], "v_g": vel[:, 1]}


def write_truth_files(results: Path, root: Path, scratch: Path) -> None:
    """``TruthSST_analysis.nc`` (true SSTA, the real-time OI's currents) and ``TruthCur_analysis.nc`` (all true)
    on the days of ``results/OI-realtime_analysis.nc``."""
    from oceane2e.assim.analysis_file import PAST_ONLY, AnalysisFile
    from oceane2e.assim.oi import write_analysis
    from oceane2e.data.contract import GridCoords

    rt = AnalysisFile(results / "OI-realtime_analysis.nc")
    truth = _truth(root, rt.dates)
    oi = {c: rt.read(c, rt.dates[0], rt.dates.size) for c in ("u_g", "v_g")}
    coords = GridCoords(lat=rt.lat, lon=rt.lon)
    for name, fields in (("TruthSST", {"ssta": truth["ssta"], **oi}), ("TruthCur", truth)):
        land_nan = {k: np.where(rt.mask, v, np.nan).astype(np.float32) for k, v in fields.items()}
        write_analysis(scratch / f"{name}_analysis.nc", rt.dates, coords, rt.mask, land_nan,
                       {"method": name, "windows": f"{PAST_ONLY} (the truth: a diagnostic)"})
    err = (oi["u_g"] - truth["u_g"]) ** 2 + (oi["v_g"] - truth["v_g"]) ** 2
    print(f"real-time OI currents: vector RMSE {np.sqrt(err[:, rt.mask].mean()):.3f} m s-1")


def copy_ssta_only(src: Path, dst: Path) -> bool:
    """``dst``: the SSTA of the analysis file ``src`` alone, so that the forecasts from it take the currents of
    ``cycle.currents_path``. Returns True when ``src`` analysed its own currents (it has ``u_g_first_guess``)."""
    from oceane2e.assim.analysis_file import AnalysisFile
    from oceane2e.assim.oi import write_analysis
    from oceane2e.data.contract import GridCoords
    from oceane2e.stage_da import FIRST_GUESS_SUFFIX

    a = AnalysisFile(src)
    ssta = np.where(a.mask, a.read("ssta", a.dates[0], a.dates.size), np.nan).astype(np.float32)
    write_analysis(dst, a.dates, GridCoords(lat=a.lat, lon=a.lon), a.mask, {"ssta": ssta},
                   {"method": a.method, "windows": a.windows})
    return f"u_g{FIRST_GUESS_SUFFIX}" in a.variables


def lead_rmse(folder: Path, name: str) -> np.ndarray:
    """RMSE per lead (K) of ``<name>_outputs.npy`` against its ``_inputs.npy`` (the truth), cos-lat weighted."""
    import netCDF4

    out = np.load(folder / f"{name}_outputs.npy", mmap_mode="r")
    truth = np.load(folder / f"{name}_inputs.npy", mmap_mode="r")
    with netCDF4.Dataset(folder / f"{name}_forecast.nc") as ds:
        lat, mask = np.asarray(ds["lat"][:]), np.asarray(ds["mask"][:]).astype(bool)
    w = np.cos(np.deg2rad(lat))[:, None] * mask
    w = w / w.sum()
    return np.array([np.sqrt(np.mean(np.sum((out[:, k] - truth[:, k]) ** 2 * w, axis=(1, 2))))
                     for k in range(out.shape[1])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--data", type=Path, default=Path("data/GS"))
    parser.add_argument("--config", type=Path, default=None,
                        help="the assimilation config (default: the pipeline's effective copy, else configs/config_da.yaml)")
    parser.add_argument("--method", default="NeuralDA")
    parser.add_argument("--scratch", type=Path, default=None, help="default: <results>/gap_split")
    args = parser.parse_args(argv)

    from oceane2e.stage_da import forecast_from_analyses, load_assim_config

    scratch = args.scratch or args.results / "gap_split"
    scratch.mkdir(parents=True, exist_ok=True)
    config = args.config or next(p for p in (Path("logs/pipeline/effective/config_da.yaml"),
                                              Path("configs/config_da.yaml")) if p.exists())
    cfg = load_assim_config(config)
    analysis = cfg.forecasts.methods.get(args.method, args.method)
    own = copy_ssta_only(args.results / f"{analysis}_analysis.nc", scratch / f"{analysis}_analysis.nc")
    write_truth_files(args.results, args.data, scratch)

    def run(methods: dict[str, str], currents: Path, velocity: Path, reuse: bool) -> None:
        c = cfg.model_copy(update={
            "results_dir": scratch,
            "forecasts": cfg.forecasts.model_copy(update={"methods": methods, "velocity_output": velocity}),
            "cycle": cfg.cycle.model_copy(update={"currents_path": currents})})
        forecast_from_analyses(c, show_progress=False, overwrite=True, reuse_velocity=reuse)

    altimetry = cfg.forecasts.velocity_output or cfg.data.root / "MultiConv_altimetry_data.nc"
    run({"TruthSST": "TruthSST"}, args.results / "OI-realtime_analysis.nc", altimetry, altimetry.exists())
    run({f"{args.method}-truecur": analysis}, scratch / "TruthCur_analysis.nc", scratch / "MultiConv_truecur.nc",
        False)

    rows = [("from the OI (real-time currents)", args.results, "Oceane2e+OI"),
            (f"from {args.method} ({'its own' if own else 'real-time'} currents)", args.results,
             f"Oceane2e+{args.method}"),
            (f"from {args.method}, true currents", scratch, f"Oceane2e+{args.method}-truecur"),
            ("true SSTA, real-time currents", scratch, "Oceane2e+TruthSST"),
            ("true SSTA, true currents", args.results, "Oceane2e")]
    table = {label: lead_rmse(folder, name) for label, folder, name in rows}
    print("forecast RMSE (K) at lead " + " / ".join(map(str, LEADS)))
    for label, r in table.items():
        print(f"  {label:38s} " + " / ".join(f"{r[k - 1]:.3f}" for k in LEADS))
    oi, da, truth = (table[rows[i][0]] for i in (0, 1, 4))
    for label, r in ((rows[1][0], da), (rows[2][0], table[rows[2][0]])):
        closure = (oi - r) / np.where(oi > truth, oi - truth, np.nan)
        print(f"  gap closure {label:34s} " + " / ".join(f"{closure[k - 1]:.2f}" for k in LEADS[:3]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
