"""Every shipped YAML config validates against its schema (a renamed field breaks this, not a user's run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oceane2e.config import load_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*REPO.glob("configs/*.yaml"), *REPO.glob("configs/oisst/*.yaml"), *REPO.glob("regional_high/*.yaml"),
                  *REPO.glob("global_low/*.yaml")])


def _schema(path: Path) -> type:
    name = path.name
    if name.startswith("synthetic"):
        from oceane2e.data.synthetic.ocean import SyntheticConfig

        return SyntheticConfig
    if name.startswith("pipeline"):
        from oceane2e.pipeline import PipelineConfig

        return PipelineConfig
    if name == "prepare_obs.yaml":
        from oceane2e.data.converters.prepare_obs import PrepareObsConfig

        return PrepareObsConfig
    if name == "reference_global.yaml":
        from oceane2e.data.converters.reference_global import ReferenceGlobalConfig

        return ReferenceGlobalConfig
    if name.startswith("prepare"):
        from oceane2e.data.converters.prepare import PrepareConfig

        return PrepareConfig
    if name == "observe.yaml":
        from oceane2e.assim.observe import ObserveConfig

        return ObserveConfig
    if name.startswith("oi"):
        from oceane2e.assim.oi import OIConfig

        return OIConfig
    if name.startswith("config_ens"):
        from oceane2e.ensemble.generate import EnsembleConfig

        return EnsembleConfig
    if name.startswith("config_da"):
        from oceane2e.stage_da import AssimConfig

        return AssimConfig
    if name.startswith("config_vel"):
        from oceane2e.stage1 import Stage1Config

        return Stage1Config
    from oceane2e.stage2 import Stage2Config

    return Stage2Config


def test_the_shipped_configs_are_all_found() -> None:
    names = {p.relative_to(REPO).as_posix() for p in SHIPPED}
    assert {"configs/pipeline.yaml", "configs/config.yaml", "configs/config_vel.yaml",
            "configs/config_baseline.yaml", "regional_high/config.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(REPO).as_posix())
def test_shipped_config_validates(path: Path) -> None:
    cfg = load_config(_schema(path), path)
    if hasattr(cfg, "train") and hasattr(cfg, "model") and not hasattr(cfg, "method"):
        assert cfg.train.name == cfg.model.name  # an analysis config's train.name names its method instead


@pytest.mark.parametrize("pipeline", ["configs/pipeline.yaml", "global_low/pipeline.yaml", "configs/pipeline_oisst.yaml",
                                      "configs/pipeline_kuroshio.yaml"])
def test_pipeline_points_at_shipped_configs(pipeline: str) -> None:
    from oceane2e.pipeline import PipelineConfig

    cfg = load_config(PipelineConfig, REPO / pipeline)
    if pipeline == "configs/pipeline.yaml":
        assert cfg.observe_config is not None and cfg.oi_config is not None and cfg.oi_realtime_config is not None
    optional = [p for p in (cfg.observe_config, cfg.oi_config, cfg.oi_realtime_config, cfg.ensemble_config,
                            cfg.assim_config) if p is not None]
    sources = [p for p in (cfg.synthetic_config, cfg.prepare_config, cfg.vel_config) if p is not None]
    for path in [*sources, cfg.online_config, *cfg.baseline_configs, *optional]:
        assert (REPO / path).exists(), path


def test_global_pipeline_writes_apart_from_the_regional_demo() -> None:
    from oceane2e.pipeline import PipelineConfig
    from oceane2e.stage1 import load_stage1_config
    from oceane2e.stage2 import load_stage2_config

    regional = load_config(PipelineConfig, REPO / "configs" / "pipeline.yaml")
    glob = load_config(PipelineConfig, REPO / "global_low" / "pipeline.yaml")
    vel, online = load_stage1_config(REPO / glob.vel_config), load_stage2_config(REPO / glob.online_config)
    outputs = [glob.results_dir, glob.state_dir, vel.data.root, vel.train.checkpoint_dir, vel.train.log_dir,
               online.train.checkpoint_dir, online.inference.results_dir]
    for path in outputs:
        assert "global_demo" in Path(path).parts, path
    # --fresh of one never deletes the other's outputs
    for mine in glob.clean_paths:
        assert "global_demo" in Path(mine).parts and mine not in regional.clean_paths, mine


def test_oisst_pipeline_validates_and_writes_apart_from_the_demos(monkeypatch: pytest.MonkeyPatch) -> None:
    """configs/pipeline_oisst.yaml: every config it names validates together (data folder = prepare's out_dir,
    every split year prepared, no stage 1), and its outputs are apart from the synthetic demos'."""
    from oceane2e.pipeline import PipelineConfig, validate_pipeline
    from oceane2e.stage2 import load_stage2_config

    monkeypatch.chdir(REPO)
    cfg = load_config(PipelineConfig, REPO / "configs" / "pipeline_oisst.yaml")
    steps = [s.name for s in validate_pipeline(cfg, None)]
    assert steps[:3] == ["prepare", "check", "train_online"] and "train_vel" not in steps and "synth" not in steps
    assert steps[-1] == "evaluate"
    others = [load_config(PipelineConfig, REPO / p) for p in ("configs/pipeline.yaml", "global_low/pipeline.yaml")]
    for path in [cfg.online_config, *cfg.baseline_configs]:
        stage = load_stage2_config(REPO / path)
        assert stage.windows.velocity == "observed" and stage.inference.velocity == "observed"
        for out in (stage.data.root, stage.train.checkpoint_dir, stage.train.log_dir, stage.inference.results_dir):
            assert "oisst" in Path(out).parts, out
    for mine in cfg.clean_paths:
        assert "oisst" in Path(mine).parts and all(mine not in o.clean_paths for o in others), mine
