"""The benchmark scripts: long_budget.py gives every network one validated budget; current_skill.py blends currents."""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUDGET = REPO / "configs" / "benchmarks" / "long_budget.yaml"


@pytest.fixture(scope="module")
def lb():
    spec = importlib.util.spec_from_file_location("long_budget", REPO / "benchmarks" / "long_budget.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["long_budget"] = module
    spec.loader.exec_module(module)
    return module


def test_the_shipped_budget_validates_for_every_network_and_is_longer_than_the_demo(lb, monkeypatch) -> None:
    from oceane2e.stage2 import load_stage2_config

    monkeypatch.chdir(REPO)
    budget = lb.read_budget(BUDGET)
    steps = []
    for _, name, config, *_ in lb.NETWORKS:
        demo = load_stage2_config(REPO / config)
        long = load_stage2_config(REPO / config, budget)  # strict: an unknown or invalid key fails here
        assert long.model.name == demo.model.name == name
        assert long.model == demo.model and long.data == demo.data  # the budget changes training only
        steps.append(long.train.epochs * long.train.max_steps_per_epoch)
        assert steps[-1] > 5 * demo.train.epochs * demo.train.max_steps_per_epoch
    assert len(set(steps)) == 1  # the same number of optimiser steps for all


def test_every_network_gets_the_same_overrides(lb, tmp_path) -> None:
    budget = lb.read_budget(BUDGET)
    seen = {}
    for lane in ("hybrid", "baselines"):
        for step, cmd in lb.lane_commands(lane, budget, tmp_path):
            if step.startswith("train_"):
                pairs = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-o"]
                seen[step] = sorted(pairs)
                assert "--resume" in cmd
    assert set(seen) == {f"train_{name}" for _, name, *_ in lb.NETWORKS}
    assert len({tuple(v) for v in seen.values()}) == 1
    assert any(p.startswith("train.num_threads=1") for p in next(iter(seen.values())))
    # the lane script skips finished steps by their markers and stops at the first failure
    script = lb.lane_script("baselines", budget, tmp_path)
    assert script.startswith("set -e") and script.count(str(tmp_path / "done")) == 8
    shlex.split(script.replace("\n", " ; "))  # quoting holds


@pytest.mark.parametrize(("text", "needle"), [
    ("model.hidden: 64\n", "not train.* keys"),
    ("train.checkpoint_dir: x\n", "set by the benchmark"),
    ("train.seed: 3\n", "--seed"),
    ("[1, 2]\n", "expected a mapping"),
])
def test_bad_budgets_are_refused_with_the_file_named(lb, tmp_path, text, needle) -> None:
    path = tmp_path / "budget.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit, match=needle) as err:
        lb.read_budget(path)
    assert str(path) in str(err.value)


def test_a_missing_budget_file_is_named(lb, tmp_path) -> None:
    with pytest.raises(SystemExit, match="not found"):
        lb.read_budget(tmp_path / "nope.yaml")


# ------------------------------------------------------------------ benchmarks/current_skill.py (issue 14, item 3)
@pytest.fixture(scope="module")
def cs():
    spec = importlib.util.spec_from_file_location("current_skill", REPO / "benchmarks" / "current_skill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_blend_scales_the_velocity_error_and_the_shrink_factor_is_recovered(cs) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    obs = rng.normal(size=(6, 5, 2, 4, 7))
    err = rng.normal(size=obs.shape)
    mask = np.ones((4, 7), bool)
    mask[0, :3] = False
    cos = np.cos(np.deg2rad(np.linspace(30, 40, 4)))[:, None] * np.ones(7)
    full = cs.velocity_rmse(obs + err, obs, mask, cos)
    for w in (0.25, 0.5, 1.0):
        blend = w * obs + (1 - w) * (obs + err)
        np.testing.assert_allclose(cs.velocity_rmse(blend, obs, mask, cos), (1 - w) * full, rtol=1e-12, atol=1e-15)
    # land cells are ignored, whatever they hold
    junk = (obs + err).copy()
    junk[..., 0, :3] = 1e6
    np.testing.assert_allclose(cs.velocity_rmse(junk, obs, mask, cos), full)
    # observed = b_L * anomaly exactly -> the least-squares factor is b_L
    b = np.array([1.0, 0.8, 0.5, 0.2, 0.0])
    anomaly = rng.normal(size=obs.shape)
    np.testing.assert_allclose(cs.shrink_factors(anomaly, b[None, :, None, None, None] * anomaly, mask), b, atol=1e-12)


def test_the_figure_draws_every_run(lb, tmp_path) -> None:
    import pandas as pd

    runs = {}
    for k in range(2):
        rows = [{"model": m, "lead": lead, "metric": metric, "value": 0.1 * lead + k}
                for m in ("Oceane2e", "ConvLSTM", "Persistence") for lead in (1, 2, 3) for metric in ("rmse", "csi")]
        runs[f"run{k}"] = tmp_path / f"skill{k}.csv"
        pd.DataFrame(rows).to_csv(runs[f"run{k}"], index=False)
    png = lb.plot(runs, tmp_path / "fig" / "long_budget.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
