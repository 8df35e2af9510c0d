"""The pipeline's data block: the input and the years of a run in one place, put into every config it names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_pipeline import DATA, STALE, _write_configs

from oceane2e.config import ConfigError, load_config
from oceane2e.pipeline import PipelineConfig, build_steps, main, validate_pipeline, with_effective_configs

REPO = Path(__file__).resolve().parents[2]
SPLITS = {k: v for k, v in DATA.items() if k != "root"}


def _block_without_baseline(tmp: Path, synthetic: dict) -> Path:
    """The tiny demo with the years in the data block but no climatology baseline there, the synthetic config
    updated with ``synthetic`` (a None value removes the key)."""
    path = _write_configs(tmp, data_block=True)
    raw = yaml.safe_load(path.read_text())
    del raw["data"]["climatology_baseline"]
    path.write_text(yaml.safe_dump(raw))
    synth = tmp / "configs" / "synthetic.yaml"
    body = {**yaml.safe_load(synth.read_text()), **synthetic}
    synth.write_text(yaml.safe_dump({k: v for k, v in body.items() if v is not None}))
    return path


def _effective(tmp: Path, overrides: dict | None = None) -> tuple[PipelineConfig, PipelineConfig]:
    path = _write_configs(tmp, data_block=True)
    cfg = load_config(PipelineConfig, path, overrides)
    eff, _ = with_effective_configs(cfg, path, announce=False)
    return cfg, eff


def test_every_named_config_runs_with_the_block_and_the_users_files_stay(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg, eff = _effective(tmp_path)
    for key in ("vel_config", "online_config", "observe_config", "oi_config", "oi_realtime_config", "assim_config"):
        mine, run = yaml.safe_load(getattr(cfg, key).read_text()), yaml.safe_load(getattr(eff, key).read_text())
        assert {k: mine["data"][k] for k in SPLITS} == {k: STALE[k] for k in SPLITS}, key  # untouched
        assert {k: run["data"][k] for k in SPLITS} == SPLITS, key
        assert Path(getattr(eff, key)).is_relative_to(cfg.state_dir / "effective"), key
        assert {k: v for k, v in run.items() if k not in ("data", "forecasts")} == {
            k: v for k, v in mine.items() if k not in ("data", "forecasts")}, key  # nothing else changed
    synth = yaml.safe_load(eff.synthetic_config.read_text())
    assert synth["years"] == [2001, 2003] and synth["baseline_years"] == [2001, 2001]
    # configs that name configs of the run name the copies
    ens = yaml.safe_load(eff.ensemble_config.read_text())
    assert (Path(ens["stage2_config"]), Path(ens["vel_config"])) == (eff.online_config, eff.vel_config)
    # also where the file leaves the reference to its default (the tiny assim config has no forecasts section)
    da = yaml.safe_load(eff.assim_config.read_text())["forecasts"]
    assert (Path(da["stage2_config"]), Path(da["stage1_config"])) == (eff.online_config, eff.vel_config)
    steps = validate_pipeline(eff, None)
    assert [s.name for s in steps] == [s.name for s in build_steps(cfg)]  # the step names keep the files' stems
    # the second process reads the pipeline config written beside the copies
    side = load_config(PipelineConfig, cfg.state_dir / "effective_pipeline.yaml")
    assert side.data is None and side.online_config == eff.online_config


def test_the_oisst_pipeline_takes_another_split_and_file_from_its_data_block_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the independent evaluation does: another period of the region by editing the data block only."""
    monkeypatch.chdir(REPO)
    shipped = load_config(PipelineConfig, REPO / "configs" / "pipeline_oisst.yaml")
    copy = tmp_path / "tasman_longer.nc"
    copy.write_bytes(b"")  # only its existence is checked before the prepare step reads it
    split = {"data.sst_files": [str(copy)], "data.sst_variable": "analysed_sst", "data.sst_units": "degC",
             "data.train_years": list(range(1982, 2002)),
             "data.val_years": [2002, 2003], "data.test_years": [2004, 2005], "data.climatology_baseline": [1983, 2001]}
    state = REPO / "logs" / "test_pipeline_data"
    try:
        cfg = load_config(PipelineConfig, REPO / "configs" / "pipeline_oisst.yaml",
                          {**split, "state_dir": "logs/test_pipeline_data"})
        eff, _ = with_effective_configs(cfg, Path("configs/pipeline_oisst.yaml"), announce=False)
        assert [s.name for s in validate_pipeline(eff, None)] == [s.name for s in build_steps(shipped)]
        prep = yaml.safe_load(eff.prepare_config.read_text())
        assert prep["years"] == list(range(1982, 2006)) and prep["climatology"]["baseline"] == [1983, 2001]
        assert prep["sources"]["sst"] == {"files": [str(copy)], "variable": "analysed_sst", "units": "degC"}
        for path in [eff.online_config, *eff.baseline_configs]:
            data = yaml.safe_load(path.read_text())["data"]
            assert (data["val_years"], data["test_years"]) == ([2002, 2003], [2004, 2005]), path
    finally:
        import shutil

        shutil.rmtree(state, ignore_errors=True)
    # the shipped files keep their years
    assert yaml.safe_load((REPO / "configs" / "oisst" / "config.yaml").read_text())["data"]["test_years"] == [
        2006, 2007, 2008, 2009]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"data.val_years": [2003]}, "overlap in \\[2003\\]"),
    ({"data.climatology_baseline": [2001, 2003]}, "contains the test years \\[2003\\]"),
    ({"data.sst_files": ["x.nc"]}, "data.sst_files is given, but there is no prepare_config"),
    ({"data.sst_units": "degC"}, "data.sst_units is given, but there is no prepare_config"),
])
def test_a_bad_data_block_is_refused_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          overrides: dict, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        _effective(tmp_path, overrides)
    assert not (tmp_path / "logs").exists()  # nothing written


def test_a_data_config_baseline_over_a_test_year_names_the_file_and_the_fix(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _block_without_baseline(tmp_path, {"baseline_years": [2001, 2003]})
    with pytest.raises(ConfigError, match="synthetic.yaml: baseline_years 2001..2003 contains the test years.*"
                       "data.climatology_baseline"):
        with_effective_configs(load_config(PipelineConfig, path), path)


def test_a_missing_input_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    cfg = load_config(PipelineConfig, REPO / "configs" / "pipeline_oisst.yaml",
                      {"data.sst_files": ["nowhere/tasman_2024.nc"], "state_dir": "logs/test_pipeline_data_missing"})
    with pytest.raises(ConfigError, match="data.sst_files: nowhere/tasman_2024.nc not found"):
        with_effective_configs(cfg, Path("configs/pipeline_oisst.yaml"))
    assert not (REPO / "logs" / "test_pipeline_data_missing").exists()


def test_command_line_overrides_reach_the_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write_configs(tmp_path, data_block=True)
    with pytest.raises(ConfigError, match="--only nothing"):
        main(["--config", str(path), "-o", "data.test_years=[2003]", "-o", "data.val_years=[2002]",
              "-o", "data.train_years=[2001]", "--only", "nothing"])
    run = yaml.safe_load((tmp_path / "logs" / "pipeline" / "effective" / "configs" / "config.yaml").read_text())
    assert run["data"]["test_years"] == [2003]
    assert main(["--config", str(path), "-o", "data.test_years=[2002]"]) == 2  # overlaps val_years: refused


def test_a_changed_data_block_is_refused_after_finished_steps_unless_fresh(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-run skips finished steps: with other years they would be stale, so the pipeline refuses until --fresh."""
    from oceane2e.pipeline import run_pipeline

    monkeypatch.chdir(tmp_path)
    path = _write_configs(tmp_path, data_block=True)
    cfg = load_config(PipelineConfig, path)
    run_pipeline(cfg, only=["synth"], config_path=path)  # a finished step, with the block recorded
    assert (cfg.state_dir / "synth.done").exists()
    with_effective_configs(cfg, path, announce=False)  # the same block: fine
    moved = load_config(PipelineConfig, path, {"data.val_years": [2003], "data.test_years": [2002]})
    with pytest.raises(ConfigError, match=r"data block changed.*test_years: \[2003\] -> \[2002\].*--fresh"):
        with_effective_configs(moved, path, announce=False)
    with pytest.raises(ConfigError, match="--only nothing"):  # --fresh validates, then would start over
        run_pipeline(moved, fresh=True, only=["nothing"], config_path=path)
    with pytest.raises(ConfigError, match="data block changed"):  # that refused --fresh deleted nothing: still stale
        with_effective_configs(moved, path, announce=False)
    assert yaml.safe_load((cfg.state_dir / "effective" / "configs" / "config.yaml").read_text())["data"][
        "test_years"] == [2002]


def test_references_are_matched_by_file_and_unnamed_ones_are_copied(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline names the hybrid's config by an absolute path, the assimilation config by a relative one; the
    ensemble config names a stage config the pipeline does not name: every step still reads the block's years."""
    monkeypatch.chdir(tmp_path)
    path = _write_configs(tmp_path, data_block=True)
    raw = yaml.safe_load(path.read_text())
    raw["online_config"] = str(tmp_path / "configs" / "config.yaml")
    path.write_text(yaml.safe_dump(raw))
    other = tmp_path / "configs" / "config_other.yaml"
    other.write_text((tmp_path / "configs" / "config.yaml").read_text())
    ens_path = tmp_path / "configs" / "config_ens.yaml"
    ens_path.write_text(yaml.safe_dump({**yaml.safe_load(ens_path.read_text()), "stage2_config": "configs/config_other.yaml"}))
    cfg = load_config(PipelineConfig, path)
    eff, _ = with_effective_configs(cfg, path, announce=False)
    da = yaml.safe_load(eff.assim_config.read_text())["forecasts"]
    assert Path(da["stage2_config"]) == eff.online_config
    ens = yaml.safe_load(eff.ensemble_config.read_text())
    copied = Path(ens["stage2_config"])
    assert copied.is_relative_to(cfg.state_dir / "effective") and copied.name == "config_other.yaml"
    assert yaml.safe_load(copied.read_text())["data"]["test_years"] == [2003]


def test_the_synthetic_default_baseline_is_checked_and_globs_are_inputs(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _block_without_baseline(tmp_path, {"baseline_years": None})  # the default (2001, 2007) holds 2003
    with pytest.raises(ConfigError, match="baseline_years 2001..2007 contains the test years \\[2003\\]"):
        with_effective_configs(load_config(PipelineConfig, path), path)
    from oceane2e.pipeline_data import _exists

    (tmp_path / "sst_2001.nc").write_bytes(b"")
    assert _exists(Path("sst_*.nc")) and not _exists(Path("sst_*.grib"))


def test_a_block_added_after_steps_ran_without_one_is_refused(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from oceane2e.pipeline import run_pipeline

    monkeypatch.chdir(tmp_path)
    path = _write_configs(tmp_path)  # the years in the step configs
    cfg = load_config(PipelineConfig, path)
    run_pipeline(cfg, only=["synth"], config_path=path)
    added = load_config(PipelineConfig, path, {"data": {**SPLITS, "climatology_baseline": [2001, 2001]}})
    with pytest.raises(ConfigError, match="a data block added.*--fresh"):
        with_effective_configs(added, path, announce=False)
