"""The SST-only mode of the hybrid and the baselines (no currents, no atmosphere): same models, fewer roles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_baselines.base import (
    DEFAULT_STEP_INPUTS,
    HISTORY_INPUTS,
    SEASON_INPUTS,
    StepInputs,
    default_step_inputs,
    rollout,
)
from model_baselines.convlstm import ConvLSTM
from model_baselines.hybrid import (
    GM_INPUTS,
    SOURCE_INPUTS,
    BackboneSizes,
    HybridConfig,
    KernelSection,
    Oceane2e,
)
from model_baselines.simvp import SimVP
from oceane2e.data.info import DataInfo, stage2_channels

H, W = 12, 16
LAT = np.linspace(-44.875, -42.125, H)
LON = np.linspace(147.125, 150.875, W)
STATS = {"ssta": {"mean": 0.1, "std": 0.8}}
SMALL = BackboneSizes(hid_S=4, hid_T=8, N_S=2, N_T=1, attn_kernel=5)


def _mask() -> np.ndarray:
    mask = np.ones((H, W), dtype=bool)
    mask[:3, :4] = False  # a coast
    return mask


def _info(history: int = 0) -> DataInfo:
    return DataInfo(LAT, LON, _mask(), stage2_channels(("ssta",), (), ()), STATS, n_in=history + 1)


def _batch(n_lead: int, history: int = 0, batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.as_tensor(_mask())
    ssta = torch.randn(batch, n_lead + 1, H, W, generator=g) * mask
    out = {"ssta": ssta, "velocity": torch.zeros(batch, n_lead + 1, 0, H, W),
           "atmos": torch.zeros(batch, n_lead + 1, 0, H, W), "mask": mask.expand(batch, H, W),
           "time0": torch.tensor([12_000, 12_180])[:batch]}
    if history:
        out["ssta_history"] = torch.randn(batch, history, H, W, generator=g) * mask
    return out


def _hybrid(history: int = 0, **kwargs: object) -> Oceane2e:
    torch.manual_seed(0)
    return Oceane2e(_info(history), HybridConfig(gm=SMALL, source=SMALL, kernel=KernelSection(form="advective"),
                                                 **kwargs))


def test_inputs_follow_the_roles_and_leave_the_full_model_unchanged() -> None:
    full = DataInfo(LAT, LON, _mask(), stage2_channels(), {})
    assert default_step_inputs(full) == DEFAULT_STEP_INPUTS
    assert default_step_inputs(_info()) == ("ssta", *SEASON_INPUTS, "mask")
    assert default_step_inputs(_info(5)) == ("ssta", *HISTORY_INPUTS, *SEASON_INPUTS, "mask")
    stats = {n: {"mean": 0.0, "std": 1.0} for n in ("ssta", "u_g", "v_g", "u10", "v10", "t2m")}
    model = Oceane2e(full.with_stats(stats), HybridConfig(gm=SMALL, source=SMALL))
    assert model.gm_inputs.names == GM_INPUTS and model.source_inputs.names == SOURCE_INPUTS
    sst_only = _hybrid(history=4)
    assert sst_only.gm_inputs.names == ("ssta", *SEASON_INPUTS, "mask")
    assert sst_only.source_inputs.names == ("ssta", *HISTORY_INPUTS, *SEASON_INPUTS, "mask")
    assert "learned velocity alone" in sst_only.mode and "history" in sst_only.mode
    with pytest.raises(ValueError, match="needs the SSTA of the days before day 0"):
        StepInputs(_info(), ("ssta", "ssta_mean"))


def test_kernel_advects_with_the_learned_velocity_alone() -> None:
    model = _hybrid(source_scale=0.0)
    for p in model.model_gm.parameters():  # a non-zero correction: the zero-initialised read-out is perturbed
        torch.nn.init.normal_(p, std=0.3)
    batch = _batch(3)
    with torch.no_grad():
        u_g, v_g = model.geostrophic({"ssta": batch["ssta"][:, 0]})
        assert torch.all(u_g == 0) and torch.all(v_g == 0)
        pred = rollout(model, batch, 3)
    mask = batch["mask"]
    assert torch.isfinite(pred).all() and torch.all(pred[:, :, ~mask[0]] == 0)
    # no source: every change of the field is advection by the learned velocity
    assert (pred[:, 0] - batch["ssta"][:, 0]).abs().max() > 1e-4
    # the correction only: its gradient reaches model_gm through the kernel
    model.zero_grad()
    rollout(model, batch, 2).pow(2).mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.model_gm.parameters())


def test_history_and_season_reach_the_source_and_roll_forward() -> None:
    model = _hybrid(history=4)
    for p in model.model_S.parameters():
        torch.nn.init.normal_(p, std=0.3)
    batch = _batch(4, history=4)
    with torch.no_grad():
        a = rollout(model, batch, 4)
        other = dict(batch, ssta_history=batch["ssta_history"] + 1.0)
        b = rollout(model, other, 4)
        c = rollout(model, dict(batch, time0=batch["time0"] + 182), 4)
    assert torch.isfinite(a).all()
    assert (a - b).abs().max() > 1e-5  # the observed past matters
    assert (a - c).abs().max() > 1e-5  # so does the season
    with pytest.raises(ValueError, match="history_days=4"):
        rollout(model, {k: v for k, v in batch.items() if k != "ssta_history"}, 2)


@pytest.mark.parametrize("cls", [SimVP, ConvLSTM])
def test_baselines_take_what_the_data_has(cls: type) -> None:
    torch.manual_seed(0)
    kwargs = {"hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 1, "attn_kernel": 3} if cls is SimVP else {"hidden": (8,)}
    model = cls(_info(3), **kwargs)
    assert model.inputs.names == ("ssta", *HISTORY_INPUTS, *SEASON_INPUTS, "mask")
    batch = _batch(5, history=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        loss = (rollout(model, batch, 3) - batch["ssta"][:, 1:4]).pow(2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = rollout(model, batch, 5)
    assert torch.isfinite(pred).all() and torch.all(pred[:, :, ~batch["mask"][0]] == 0)

def test_a_level_persists_while_the_model_relaxes_the_rest() -> None:
    from model_baselines.base import OneStepForecaster

    class Damped(OneStepForecaster):
        def step(self, fields, mask, state):
            return 0.5 * fields["ssta"], state

    info = DataInfo(LAT, LON, _mask(), stage2_channels(("ssta",), (), ()), STATS, n_in=1, level_days=365)
    assert DataInfo.from_dict(info.to_dict()).level_days == 365
    old = {k: v for k, v in info.to_dict().items() if k != "level_days"}  # a checkpoint written before levels
    assert DataInfo.from_dict(old).level_days == 0
    batch = _batch(4)
    mask = batch["mask"]
    level = torch.randn(2, H, W, generator=torch.Generator().manual_seed(1))  # land values must not leak
    x0 = batch["ssta"][:, 0]
    pred = rollout(Damped(info), dict(batch, ssta_level=level), 4)
    ocean_level = level * mask
    for k in range(1, 5):  # analytic: level + r^k (x0 - level)
        torch.testing.assert_close(pred[:, k - 1], ocean_level + 0.5 ** k * (x0 - ocean_level))
    assert torch.all(pred[:, :, ~mask[0]] == 0)
    # without a level the same model relaxes to zero anomaly
    plain = rollout(Damped(DataInfo(LAT, LON, _mask(), stage2_channels(("ssta",), (), ()), STATS)), batch, 4)
    torch.testing.assert_close(plain[:, 3], 0.5 ** 4 * x0)
    with pytest.raises(ValueError, match="level_days=365"):
        rollout(Damped(info), batch, 2)


def test_the_hybrid_with_a_level_and_history_trains() -> None:
    torch.manual_seed(0)
    info = DataInfo(LAT, LON, _mask(), stage2_channels(("ssta",), (), ()), STATS, n_in=4, level_days=365)
    model = Oceane2e(info, HybridConfig(gm=SMALL, source=SMALL, kernel=KernelSection(form="advective")))
    for p in (*model.model_S.parameters(), *model.model_gm.parameters()):  # non-zero source and correction
        torch.nn.init.normal_(p, std=0.3)
    batch = dict(_batch(3, history=3), ssta_level=torch.full((2, H, W), 0.7) * torch.as_tensor(_mask()))
    # a uniform level over a field at that level: the model starts from zero deviation everywhere
    flat = dict(batch, ssta=batch["ssta_level"][:, None].expand(-1, 4, -1, -1).clone(),
                ssta_history=batch["ssta_level"][:, None].expand(-1, 3, -1, -1).clone())
    loss = (rollout(model, batch, 3) - batch["ssta"][:, 1:]).pow(2).mean()
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    with torch.no_grad():
        out = rollout(model, flat, 3)
        ref = rollout(model, dict(flat, ssta=torch.zeros_like(flat["ssta"]),
                                  ssta_history=torch.zeros_like(flat["ssta_history"]),
                                  ssta_level=torch.zeros_like(flat["ssta_level"])), 3)
    torch.testing.assert_close(out, ref + flat["ssta_level"][:, None])
