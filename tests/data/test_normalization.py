"""Normalisation statistics: equal to numpy over the ocean cells of the training years only;
computed once, saved atomically next to the data, recomputed when the split changes."""

from __future__ import annotations

import json

import netCDF4
import numpy as np
import pytest

from oceane2e.data import normalization
from oceane2e.data.config import DataConfig
from oceane2e.data.contract import MHW_CHANNELS
from oceane2e.data.datasets import DataFolder
from oceane2e.data.normalization import compute_stats, ensure_stats, load_stats, save_stats


def numpy_stats(tiny, kind, years, names):
    data = np.concatenate([tiny.data(kind, y) for y in years])[:, :, tiny.mask]  # (T, C, n_ocean)
    return {n: (float(data[:, i].mean(dtype=np.float64)), float(data[:, i].std(dtype=np.float64))) for i, n in enumerate(names)}


@pytest.mark.parametrize("max_block_bytes", [1, 64 * 2**20])  # one day per read / whole tiny year per read
def test_compute_stats_equals_numpy_over_ocean(tiny_master, max_block_bytes):
    folder = DataFolder(tiny_master.root, [2001, 2002], kinds=("mhw",))
    stats = compute_stats(folder, "mhw", MHW_CHANNELS, [2001, 2002], max_block_bytes=max_block_bytes)
    want = numpy_stats(tiny_master, "mhw", [2001, 2002], MHW_CHANNELS)
    for name in MHW_CHANNELS:
        assert stats[name]["mean"] == pytest.approx(want[name][0], rel=1e-10, abs=1e-12)
        assert stats[name]["std"] == pytest.approx(want[name][1], rel=1e-10)
    assert stats["t2m"]["mean"] == pytest.approx(290, abs=1) and stats["u10"]["std"] == pytest.approx(3, rel=0.1)


def test_ensure_stats_uses_training_years_only_and_reuses_the_file(tiny, monkeypatch):
    # poison the validation and test years: NaN over the ocean everywhere; a read of them would fail
    for year in (2003, 2004):
        with netCDF4.Dataset(tiny.mhw[year], "a") as ds:
            var = ds["mhws_variables"]
            var.set_auto_maskandscale(False)
            var[:] = np.full(var.shape, np.nan, dtype=np.float32)
    cfg = DataConfig(root=tiny.root, train_years=[2002, 2001], val_years=[2003], test_years=[2004])
    stats = ensure_stats(cfg, progress=False)
    assert set(stats) == {"u_g", "v_g", "ssta", "zos", "u10", "v10", "t2m"}
    want = numpy_stats(tiny, "geo", [2001, 2002], ("u_g", "v_g"))
    assert stats["v_g"]["std"] == pytest.approx(want["v_g"][1], rel=1e-10)
    payload = json.loads((tiny.root / "norm_stats.json").read_text())
    assert payload["train_years"] == [2001, 2002]
    assert sorted(p.name for p in tiny.root.glob("norm_stats*")) == ["norm_stats.json"]  # no temp file left
    assert load_stats(tiny.root) == stats

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although the file matches")

    monkeypatch.setattr(normalization, "compute_stats", fail)
    assert ensure_stats(cfg, progress=False) == stats
    monkeypatch.undo()
    # a different training split recomputes and rewrites the file
    cfg2 = DataConfig(root=tiny.root, train_years=[2001], val_years=[2003], test_years=[2004])
    stats2 = ensure_stats(cfg2, progress=False)
    assert stats2["ssta"]["mean"] == pytest.approx(numpy_stats(tiny, "mhw", [2001], ("ssta",))["ssta"][0], rel=1e-10)
    assert load_stats(tiny.root / "norm_stats.json") == stats2


def test_save_load_round_trip(tmp_path):
    stats = {"ssta": {"mean": 0.25, "std": 1.5}}
    path = save_stats(tmp_path, stats, train_years=[2001])
    assert path.name == "norm_stats.json" and load_stats(path) == stats
