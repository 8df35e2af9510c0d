"""Entry-point arguments and single-process setup (the deprecated launcher passes --local-rank)."""

from __future__ import annotations

import pytest

from oceane2e.config import ConfigError
from oceane2e.engine.cli import parse_args
from oceane2e.engine.distributed import setup_distributed


@pytest.mark.parametrize("flag", ["--local-rank=1", "--local_rank=1"])
def test_both_spellings_of_local_rank_and_overrides(flag: str) -> None:
    args = parse_args([flag, "--resume", "-o", "train.epochs=2", "-o", "data.train_years=[2001, 2002]"],
                      "test", "configs/config_vel.yaml")
    assert args.local_rank == 1 and args.resume
    assert args.overrides == {"train.epochs": 2, "data.train_years": [2001, 2002]}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_args(["-o", "train.epochs"], "test", "x.yaml")


def test_single_process_without_torchrun_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    info = setup_distributed(device="cpu")
    assert (info.rank, info.world_size, info.is_main, info.initialized_here) == (0, 1, True, False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert setup_distributed(device="cpu").local_rank == 3  # LOCAL_RANK picks the device, not the data shard
    assert setup_distributed(1, device="cpu").local_rank == 1  # --local-rank wins over the environment
