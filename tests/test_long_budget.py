"""benchmarks/long_budget.py: one budget for every network, validated; each lane's commands carry it unchanged."""

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
