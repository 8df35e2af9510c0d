"""Issue 15 item 4: ``pipeline --fresh`` validates everything first and deletes only what it created."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_pipeline import _write_configs

import oceane2e.pipeline as pipeline
from oceane2e.config import ConfigError, load_config
from oceane2e.pipeline import PipelineConfig, Step, main, run_pipeline


@pytest.fixture()
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run folder with valid configs, earlier outputs and the user's own files."""
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.chdir(run)
    _write_configs(run)
    for rel in ("data/GS/geo_2001.nc", "checkpoints/mine.pth", "results/vis.ipynb", "logs/notes.txt"):
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("the user's")
    return run


def _all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_fresh_with_a_typo_in_only_deletes_nothing(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _all_files(run_dir)
    with pytest.raises(ConfigError, match="--only evalute: unknown step"):
        main(["--config", "configs/pipeline.yaml", "--fresh", "--only", "evalute"])
    assert _all_files(run_dir) == before


def test_fresh_with_a_broken_step_config_deletes_nothing(run_dir: Path) -> None:
    (run_dir / "configs" / "config.yaml").write_text("train: {lrr: 1}\n")
    before = _all_files(run_dir)
    with pytest.raises(ConfigError):
        main(["--config", "configs/pipeline.yaml", "--fresh"])
    assert _all_files(run_dir) == before


def test_clean_paths_outside_the_run_folder_are_refused(run_dir: Path) -> None:
    outside = run_dir.parent / "precious"
    outside.mkdir()
    (outside / "thesis.tex").write_text("years of work")
    cfg = yaml.safe_load((run_dir / "configs" / "pipeline.yaml").read_text())
    for bad in ([str(outside)], ["../precious"], ["."]):
        (run_dir / "configs" / "pipeline.yaml").write_text(yaml.safe_dump(cfg | {"clean_paths": bad}))
        assert main(["--config", "configs/pipeline.yaml", "--fresh"]) == 2
    (run_dir / "configs" / "pipeline.yaml").write_text(yaml.safe_dump(cfg | {"state_dir": str(outside)}))
    assert main(["--config", "configs/pipeline.yaml", "--fresh"]) == 2
    assert (outside / "thesis.tex").read_text() == "years of work"


def test_fresh_deletes_only_what_the_pipeline_created(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def make(*rels: str):  # noqa: ANN202 - a fake step writing outputs
        def run() -> None:
            for rel in rels:
                (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (run_dir / rel).write_text("made by the pipeline")
        return run

    steps = [Step("synth", make("data/GS/geo_2002.nc")), Step("train_vel", make("checkpoints/M_best_model.pth")),
             Step("evaluate", make("results/skill.csv", "figures_new/x.png"))]
    monkeypatch.setattr(pipeline, "build_steps", lambda cfg: steps)
    cfg = load_config(PipelineConfig, "configs/pipeline.yaml")
    cfg.clean_paths = [*cfg.clean_paths, Path("figures_new")]
    run_pipeline(cfg)
    assert {"data/GS/geo_2002.nc", "checkpoints/M_best_model.pth", "results/skill.csv"} <= _all_files(run_dir)
    run_pipeline(cfg, fresh=True, only=["synth"])  # deletes, then re-runs synth only
    files = _all_files(run_dir)
    assert "checkpoints/M_best_model.pth" not in files and "results/skill.csv" not in files
    assert not (run_dir / "figures_new").exists()
    assert {"data/GS/geo_2001.nc", "checkpoints/mine.pth", "results/vis.ipynb", "logs/notes.txt",
            "data/GS/geo_2002.nc"} <= files
