"""``results/report.md``: what was scored, on what, and the skill tables at selected leads."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oceane2e.evaluation.evaluate import CATEGORY_SUFFIXES, REPORT_METRICS, TABLE_LEADS
from oceane2e.mhw.categories import CATEGORY_NAMES


def markdown_table(skill, metric: str, leads: Sequence[int] = TABLE_LEADS, digits: int = 3) -> str:
    """Markdown table of ``metric``: one row per model, one column per lead (that exists).

    The best value of each column is in bold (lowest for RMSE/FAR/|bias|, highest otherwise);
    undefined values (NaN) are shown as an en dash.
    """
    sub = skill[skill.metric == metric]
    present = set(int(x) for x in sub.lead)
    leads = [lead for lead in leads if lead in present]
    models = list(dict.fromkeys(sub.model))
    table = sub.pivot(index="model", columns="lead", values="value").reindex(models)
    lower_better = metric.startswith(("rmse", "far"))
    lines = ["| model | " + " | ".join(f"lead {lead}" for lead in leads) + " |",
             "|---|" + "---:|" * len(leads)]
    best = {}
    for lead in leads:
        col = table[lead].to_numpy(dtype=float)
        if np.isfinite(col).any():
            key = np.abs(col) if metric.startswith("bias") else col
            best[lead] = np.nanargmin(key) if (lower_better or metric.startswith("bias")) else np.nanargmax(key)
    for r, model in enumerate(models):
        cells = []
        for lead in leads:
            v = table.loc[model, lead]
            text = "–" if not np.isfinite(v) else f"{v:.{digits}f}"
            cells.append(f"**{text}**" if best.get(lead) == r and np.isfinite(v) else text)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def from_observations_markdown(skill, leads: Sequence[int] = (1, 2, 3, 5, 10, 20, 40)) -> list[str]:
    """The section "from observations": models ``<Forecaster>+<Analysis>`` (forecasts started from an
    analysis of observations, currents from altimetry) beside ``<Forecaster>`` started from the truth
    (the upper bound). Empty when no such model was scored."""
    models = sorted(set(skill.model))
    started = [m for m in models if "+" in m and m.split("+", 1)[0] in models]
    if not started:
        return []
    lines = ["## Forecasts from observations", "",
             "Forecasts started from analyses of the simulated observations (`<forecaster>+<analysis>`), the "
             "currents of day 0 from the altimetry analysis (or from the analysis itself when it analysed them: "
             "the learned one) and later days from M_θ started from them — never "
             "the truth, and no analysis that saw a record after the start day (the files each started from are "
             "listed with the forcing of each forecast) — beside the same forecaster started from the true state (the "
             "upper bound). "
             "*Gap closed*: (RMSE from OI − RMSE from the analysis) / (RMSE from OI − RMSE from the truth), "
             "mean over leads 1–5.", ""]
    for metric, title in (("rmse", "SSTA RMSE (K)"), ("csi", "MHW CSI")):
        sub = skill[(skill.metric == metric) & skill.model.isin(started + [m.split("+", 1)[0] for m in started])]
        lines += [f"{title}:", "", markdown_table(sub, metric, leads), ""]
    rmse = skill[skill.metric == "rmse"].pivot(index="model", columns="lead", values="value")
    for m in started:
        base, method = m.split("+", 1)
        oi = f"{base}+OI"
        if method == "OI" or oi not in rmse.index:
            continue
        early = [lead for lead in range(1, 6) if lead in rmse.columns]
        gap = (rmse.loc[oi, early] - rmse.loc[m, early]) / (rmse.loc[oi, early] - rmse.loc[base, early])
        ratio = (rmse.loc[m, [lead for lead in range(1, 11) if lead in rmse.columns]]
                 / rmse.loc[oi, [lead for lead in range(1, 11) if lead in rmse.columns]])
        lines += [f"- {m}: RMSE / {oi} at leads 1–10: {ratio.min():.2f}–{ratio.max():.2f}; gap to {base} "
                  f"(truth-started) closed at leads 1–5: {float(gap.mean()):.0%}."]
    return lines + [""]


def forcing_lines(forcing: dict[str, dict]) -> list[str]:
    """One line per model: the currents and the atmosphere that drove its forecast (file attributes)."""
    lines = []
    for model, attrs in forcing.items():
        velocity = attrs.get("velocity", "not recorded")
        currents = {"forecast": "M_θ's forecast (stage-1 file)", "model": "M_θ's forecast (made on the fly)",
                    "observed": "OBSERVED (oracle)",
                    "none": "none (not in the data)"}.get(str(velocity), str(velocity))
        mode = attrs.get("atmosphere")
        if mode == "none":
            atmos = "none (not in the data)"
        elif mode is None:
            atmos = "observed at every lead (oracle; not recorded in the file: written before the option existed)"
        elif mode == "observed":
            atmos = "observed at every lead (**oracle**, the reference release's setting)"
        else:
            known = int(attrs.get("atmosphere_observed_days", 0))
            extra = f", τ = {float(attrs.get('atmosphere_tau_days', 0)):g} d" if mode == "damped_persistence" else ""
            atmos = f"observed to lead {known}, then {mode.replace('_', ' ')}{extra} (operational)"
        start = ""
        if attrs.get("initial_state"):  # a forecast from observations (stage_da.forecast_from_analyses)
            start = f"; started from `{Path(str(attrs['initial_state'])).name}`"
            if attrs.get("initial_currents"):
                start += f", day-0 currents of `{Path(str(attrs['initial_currents'])).name}`"
        lines.append(f"  - {model}: currents {currents}; atmosphere {atmos}{start}.")
    return lines


def category_tables(skill, leads: Sequence[int] = (5, 10, 20, 40)) -> list[str]:
    """CSI of category >= Strong, Severe, Extreme by model and lead (Markdown)."""
    out = []
    for suffix, name in zip(CATEGORY_SUFFIXES.values(), CATEGORY_NAMES[1:], strict=True):
        metric = f"csi{suffix}"
        if metric in set(skill.metric):
            out += [f"### category >= {name}: CSI", "", markdown_table(skill, metric, leads), ""]
    return out


def calibrated_markdown(skill, calibration: dict, leads: Sequence[int] = TABLE_LEADS) -> list[str]:
    """The section of the lead-calibrated MHW scores (``<metric>_cal``); empty without them."""
    if not calibration or "csi_cal" not in set(skill.metric):
        return []
    shown = [lead for lead in leads if lead <= min(c.scale.size for c in calibration.values())]
    head = ["| forecast | " + " | ".join(f"lead {lead}" for lead in shown) + " |", "|---|" + "---:|" * len(shown)]
    rows = head + [f"| {name} | " + " | ".join(f"{c.scale[lead - 1]:.2f}" for lead in shown) + " |"
                   for name, c in calibration.items()]
    rows_strong = head + [f"| {name}{' (= k)' if c.strong_from == 'mhw' else ''} | "
                          + " | ".join(f"{c.scale_strong[lead - 1]:.2f}" for lead in shown) + " |"
                          for name, c in calibration.items()]
    first = next(iter(calibration.values()))
    source = f"{first.source}, {first.years[0]}–{first.years[1]}"
    lines = ["## MHW scores with lead-calibrated thresholds", "",
             "The same forecasts with a decision threshold per forecast and lead, as operational MHW forecasts use "
             "lead-dependent forecast thresholds: a forecast day exceeds when forecast / k(lead) > the observed "
             "threshold, with k the scale that gave the highest MHW CSI on that forecast's hindcasts of the "
             f"**validation years** ({source}; `mhw_calibration.csv`, `oceane2e.evaluation.calibration`). "
             "Persistence and damped persistence are calibrated the same way on the same validation start dates. "
             "The categories >= Strong get their own scale k_strong, fitted the same way for the CSI of category "
             ">= Strong, where it beats k out of sample within the validation years (two halves, each scored with "
             "the scales of the other; otherwise they keep k, marked '= k'). The RMSE, bias and ACC above are "
             "unchanged, and the MHW tables above keep the observed threshold.", "",
             "Threshold scale k per lead (MHW days):", "", *rows, "",
             "Threshold scale k_strong per lead (categories >= Strong):", "", *rows_strong, "",
             "Cross-validated CSI of category >= Strong (pooled over the leads) with k_strong / with k: "
             + "; ".join(f"{name} {c.cv_csi_strong[0]:.3f} / {c.cv_csi_strong[1]:.3f}" for name, c in calibration.items())
             + ".", ""]
    sub = skill[skill.model.isin(list(calibration))]
    for metric, title in (("csi_cal", "CSI"), ("sedi_cal", "SEDI"), ("csi_strong_cal", "category >= Strong: CSI")):
        if metric in set(skill.metric):
            lines += [f"### {title}, lead-calibrated", "", markdown_table(sub, metric, leads), ""]
    return lines


def write_report(result, path: str | Path, *, data_root: str | Path) -> Path:
    """Write the Markdown report of an :class:`oceane2e.evaluation.evaluate.Evaluation`."""
    path = Path(path)
    time0 = np.asarray(result.time0)
    start_years = sorted({int(str(d)[:4]) for d in time0})
    outside = [y for y in start_years if y not in result.test_years]
    label = (
        "**SYNTHETIC data**: an ocean generated by `oceane2e synth` (the embedded default is Gulf-Stream-like), "
        "not observations."
        if result.synthetic
        else "Data not labelled synthetic (real or converted observations)."
    )
    lines = [
        "# Ocean-E2E forecast evaluation",
        "",
        f"Written {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `oceane2e evaluate`.",
        "",
        f"- Data: `{data_root}`. {label}",
        f"- Models: {', '.join(result.models)}; references: {', '.join(result.references)}.",
        f"- Start dates: {time0.size} ({time0[0]} .. {time0[-1]}), leads 1..{result.n_lead} days; "
        f"test years {result.test_years} (start dates in {start_years}); training years {result.train_years}.",
        f"- Damped persistence: SSTA(t0)·exp(−lead/τ) with one global τ = {result.tau_days:.1f} days, fitted on "
        f"the training years from the lag autocorrelation (lags 1–10 days) pooled over ocean cells.",
        "- Scores pooled over start dates and ocean cells per lead, cells weighted by cos(latitude). "
        "ACC: anomalies centred per lead. MHWs: Hobday rules with the observed threshold of `clim.nc`, "
        f"the {result.history_days} observed days up to each start date prepended; the observed SSTA gives the reference flags. "
        "SEDI rates are moved half a count inside (0, 1).",
    ]
    if outside:
        lines.append(f"- **Warning**: start dates in {outside}, which are not test years of the config.")
    forcing = getattr(result, "forcing", {})
    if forcing:
        lines += ["- Forcing of each forecast (from its `_forecast.nc` attributes):", *forcing_lines(forcing)]
    lines.append("")
    for metric, title in REPORT_METRICS:
        lines += [f"## {title}", "", markdown_table(result.skill, metric), ""]
    cats = category_tables(result.skill)
    if cats:
        lines += ["## MHW scores per category (Hobday et al. 2018; higher is better, NaN/– where none was observed)",
                  "", *cats]
    lines += calibrated_markdown(result.skill, getattr(result, "calibration", {}))
    lines += ["All metrics at every lead are in `skill.csv` (columns model, lead, metric, value).", ""]
    lines += from_observations_markdown(result.skill)
    if (path.parent / "analysis_skill.csv").exists():
        from oceane2e.assim.scores import analysis_markdown

        lines += [analysis_markdown(path.parent / "analysis_skill.csv")]
    for section in getattr(result, "ensemble_sections", []):
        lines += [section, ""]
    figures = {k: v for k, v in result.paths.items() if k in ("skill_figure", "case_figure", "calibrated_figure")}
    if figures:
        lines += ["## Figures", ""]
        rel = {k: Path(v).relative_to(path.parent) if Path(v).is_relative_to(path.parent) else Path(v)
               for k, v in figures.items()}
        if "skill_figure" in rel:
            lines += ["Skill against lead day, every model and reference:", "", f"![skill vs lead]({rel['skill_figure']})", ""]
        if "calibrated_figure" in rel:
            lines += ["MHW scores with the observed threshold (top) and lead-calibrated (bottom):", "",
                      f"![calibrated MHW scores]({rel['calibrated_figure']})", ""]
        if "case_figure" in rel and result.case is not None:
            names = list(result.case.forecasts)
            others = f", beside {names[1]} (the lowest mean RMSE of the other forecasts)" if len(names) > 1 else ""
            lines += [
                f"The strongest test heatwave: the start date with the largest observed area of category >= Strong "
                f"over the leads, {result.case.time0}, forecast by {names[0]}{others}, and the truth:",
                "",
                f"![MHW case maps]({rel['case_figure']})",
                "",
            ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path
