"""Every shipped YAML config validates against its schema (a renamed field breaks this, not a user's run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oceane2e.config import load_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*REPO.glob("configs/*.yaml"), *REPO.glob("regional_high/*.yaml")])


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
    if name.startswith("prepare"):
        from oceane2e.data.converters.prepare import PrepareConfig

        return PrepareConfig
    if name == "observe.yaml":
        from oceane2e.assim.observe import ObserveConfig

        return ObserveConfig
    if name.startswith("oi"):
        from oceane2e.assim.oi import OIConfig

        return OIConfig
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
    if hasattr(cfg, "train") and hasattr(cfg, "model"):
        assert cfg.train.name == cfg.model.name


def test_pipeline_points_at_shipped_configs() -> None:
    from oceane2e.pipeline import PipelineConfig

    cfg = load_config(PipelineConfig, REPO / "configs" / "pipeline.yaml")
    assert cfg.observe_config is not None and cfg.oi_config is not None
    for path in [cfg.synthetic_config, cfg.vel_config, cfg.online_config, *cfg.baseline_configs, cfg.observe_config,
                 cfg.oi_config]:
        assert (REPO / path).exists(), path
