"""Analyses and ensembles, like every inference, never replace earlier results without --overwrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from oceane2e.errors import OutputExistsError

REPO = Path(__file__).resolve().parents[1]


def test_oi_refuses_to_replace_an_analysis(tmp_path: Path) -> None:
    from oceane2e.assim.oi import load_oi_config, run_oi

    (tmp_path / "OI_analysis.nc").write_bytes(b"earlier")
    cfg = load_oi_config(REPO / "configs" / "oi.yaml", [f"results_dir={tmp_path}"])
    with pytest.raises(OutputExistsError, match="OI_analysis.nc: already exists.*--overwrite"):
        run_oi(cfg, progress=False)
    assert (tmp_path / "OI_analysis.nc").read_bytes() == b"earlier"


def test_cycling_refuses_to_replace_an_analysis(tmp_path: Path) -> None:
    from oceane2e.stage_da import cycle, load_assim_config

    (tmp_path / "NeuralDA_analysis.nc").write_bytes(b"earlier")
    cfg = load_assim_config(REPO / "configs" / "config_da.yaml", {"results_dir": str(tmp_path)})
    with pytest.raises(OutputExistsError, match="NeuralDA_analysis.nc: already exists"):
        cycle(cfg, show_progress=False)
    assert (tmp_path / "NeuralDA_analysis.nc").read_bytes() == b"earlier"


def test_the_entry_flag_reaches_configs_without_an_inference_section(tmp_path: Path) -> None:
    """``--overwrite`` sets inference.overwrite where a config has it and stays a flag elsewhere."""
    from oceane2e.entry import run_entry
    from oceane2e.stage_da import load_assim_config

    seen = {}

    def action(cfg, args, info) -> None:
        seen["overwrite"] = args.overwrite

    code = run_entry(["--config", str(REPO / "configs" / "config_da.yaml"), "--overwrite"], "t",
                     "configs/config_da.yaml", load_assim_config, action)
    assert code == 0 and seen["overwrite"] is True
