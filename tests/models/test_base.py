"""The normaliser, the one-step input stack and the stage-2 rollout protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from model_baselines.base import DEFAULT_STEP_INPUTS, OneStepForecaster, StepInputs, apply_mask, rollout
from model_baselines.common import Normalizer, crop_to, pad_to_multiple
from oceane2e.data.info import DataInfo, stage2_channels

STATS = {
    "ssta": {"mean": 0.2, "std": 0.8},
    "u_g": {"mean": 0.05, "std": 0.3},
    "v_g": {"mean": -0.02, "std": 0.25},
    "u10": {"mean": 6.0, "std": 3.0},
    "v10": {"mean": 1.0, "std": 2.5},
    "t2m": {"mean": 288.0, "std": 5.0},
    "zos": {"mean": 0.1, "std": 0.2},  # extra names are ignored
}


def make_batch(b: int = 2, n_lead: int = 4, h: int = 13, w: int = 21, seed: int = 0) -> dict[str, Tensor]:
    """A stage-2 batch in physical units with land (mask False) in the west and an island."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, h, w, dtype=torch.bool)
    mask[:, :, :3] = False
    mask[:, 5:7, 10:12] = False
    ssta = torch.randn(b, n_lead + 1, h, w, generator=g) * 0.8 * mask[:, None]
    velocity = torch.randn(b, n_lead + 1, 2, h, w, generator=g) * 0.3 * mask[:, None, None]
    atmos = torch.randn(b, n_lead + 1, 3, h, w, generator=g) * torch.tensor([3.0, 2.5, 5.0]).view(1, 1, 3, 1, 1)
    atmos = atmos + torch.tensor([6.0, 1.0, 288.0]).view(1, 1, 3, 1, 1)
    return {"ssta": ssta, "velocity": velocity, "atmos": atmos, "mask": mask}


def make_info(stats: dict = STATS, h: int = 13, w: int = 21) -> DataInfo:
    """The DataInfo of :func:`make_batch`'s data (stage-2 channels, all-ocean grid; the models here
    take only the statistics and the channel names from it)."""
    return DataInfo(np.linspace(-10.0, 10.0, h), np.linspace(100.0, 120.0, w), np.ones((h, w), bool),
                    stage2_channels(), stats)


def step_fields(batch: dict[str, Tensor], k: int = 0) -> dict[str, Tensor]:
    """The named fields of the step from day k to day k+1 of a stage-2 batch (see OneStepForecaster.step)."""
    fields = {"ssta": batch["ssta"][:, k]}
    for role, names in (("velocity", ("u_g", "v_g")), ("atmos", ("u10", "v10", "t2m"))):
        for i, name in enumerate(names):
            fields[name] = batch[role][:, k, i]
            fields[name + "_next"] = batch[role][:, k + 1, i]
    return fields


# --- Normalizer ------------------------------------------------------------------------------


def test_normalizer_round_trip_and_values() -> None:
    norm = Normalizer(STATS, ("ssta", "t2m"))
    x = torch.randn(3, 5, 2, 4, 6, dtype=torch.float64) * 10 + 280
    y = norm.normalize(x, dim=2)
    torch.testing.assert_close(norm.denormalize(y, dim=2), x, rtol=0, atol=1e-10)
    torch.testing.assert_close(y[:, :, 1], (x[:, :, 1] - 288.0) / 5.0)
    torch.testing.assert_close(y[:, :, 0], (x[:, :, 0] - 0.2) / 0.8, rtol=1e-6, atol=1e-6)
    assert y.dtype == torch.float64
    # default dim=-3: (..., C, H, W)
    z = torch.randn(4, 2, 3, 3)
    torch.testing.assert_close(norm.normalize(z), norm.normalize(z, dim=1))
    torch.testing.assert_close(norm.normalize_channel(z[:, 1], "t2m"), norm.normalize(z)[:, 1])
    assert norm.stats() == {"ssta": STATS["ssta"], "t2m": STATS["t2m"]}


def test_normalizer_stats_travel_in_state_dict() -> None:
    norm = Normalizer(STATS, ("u_g", "v_g"))
    other = Normalizer({"u_g": {"mean": 0.0, "std": 1.0}, "v_g": {"mean": 0.0, "std": 1.0}}, ("u_g", "v_g"))
    other.load_state_dict(norm.state_dict())
    x = torch.randn(2, 2, 5, 5)
    torch.testing.assert_close(other.normalize(x), norm.normalize(x))


def test_normalizer_errors_name_the_channel() -> None:
    with pytest.raises(KeyError, match="'sst'.*norm_stats.json"):
        Normalizer(STATS, ("sst",))
    with pytest.raises(ValueError, match="'c'.*std"):
        Normalizer({"c": {"mean": 1.0, "std": 0.0}}, ("c",))
    with pytest.raises(ValueError, match="3 channels on dim 1, expected 2"):
        Normalizer(STATS, ("u_g", "v_g")).normalize(torch.zeros(1, 3, 4, 4), dim=1)


def test_pad_crop_round_trip() -> None:
    x = torch.randn(2, 3, 4, 13, 21)
    padded, size = pad_to_multiple(x, 4)
    assert padded.shape[-2:] == (16, 24)
    torch.testing.assert_close(crop_to(padded, size), x)
    # edge replication, not zeros
    torch.testing.assert_close(padded[..., 15, :21], x[..., 12, :])


# --- StepInputs ------------------------------------------------------------------------------


def test_step_inputs_order_units_and_land() -> None:
    batch = make_batch()
    mask = batch["mask"]
    stack = StepInputs(make_info())
    x = stack(step_fields(batch), mask)
    assert x.shape == (2, len(DEFAULT_STEP_INPUTS), 13, 21)
    names = stack.names
    ocean = mask
    t2m_next = x[:, names.index("t2m_next")]
    torch.testing.assert_close(t2m_next[ocean], ((batch["atmos"][:, 1, 2] - 288.0) / 5.0)[ocean])
    v_now = x[:, names.index("v_g")]
    torch.testing.assert_close(v_now[ocean], ((batch["velocity"][:, 0, 1] + 0.02) / 0.25)[ocean])
    # land is 0 in every normalised channel (t2m of ~288 K would otherwise be ~0 only by accident)
    land = ~mask
    for i, n in enumerate(names):
        if n != "mask":
            assert torch.all(x[:, i][land] == 0), n
    torch.testing.assert_close(x[:, names.index("mask")], mask.float())


def test_step_inputs_subset_and_bad_names() -> None:
    batch = make_batch()
    stack = StepInputs(make_info(), names=("t2m_next", "ssta"))
    x = stack(step_fields(batch), batch["mask"])
    assert x.shape == (2, 2, 13, 21)
    with pytest.raises(ValueError, match="unknown input 'sst'"):
        StepInputs(make_info(), names=("sst",))
    with pytest.raises(ValueError, match="ssta_next"):
        StepInputs(make_info(), names=("ssta_next",))
    with pytest.raises(KeyError, match="'t2m'"):
        StepInputs(make_info({k: v for k, v in STATS.items() if k != "t2m"}))


# --- rollout ---------------------------------------------------------------------------------


class WarmingModel(OneStepForecaster):
    """Analytic model: SSTA follows the t2m change (index check) + a learnable bias; counts steps."""

    def __init__(self) -> None:
        super().__init__(make_info())
        self.bias = nn.Parameter(torch.tensor(0.0))

    def init_state(self, initial):  # noqa: ANN001, ANN201
        return torch.zeros(())

    def step(self, fields, mask, state):  # noqa: ANN001, ANN201
        out = fields["ssta"] + (fields["t2m_next"] - fields["t2m"]) + self.bias * (1.0 + fields["u_g_next"] ** 2)
        return out + 7.0, state + 1  # +7 also over land: rollout must zero it


def test_rollout_indexing_state_and_land() -> None:
    batch = make_batch(n_lead=5)
    model = WarmingModel()
    out = rollout(model, batch, n_lead=4)
    assert out.shape == (2, 4, 13, 21)
    mask = batch["mask"]
    assert torch.all(out[:, :, ~mask[0]] == 0)
    t2m = batch["atmos"][:, :, 2]
    for k in range(1, 5):
        expected = batch["ssta"][:, 0] + t2m[:, k] - t2m[:, 0] + 7.0 * k
        torch.testing.assert_close(out[:, k - 1][mask], expected[mask], rtol=1e-5, atol=1e-4)
    # forward() is rollout, so a wrapper (DDP) can call the model
    torch.testing.assert_close(model(batch, 4), out)


def test_rollout_grad_checkpoint_same_loss_and_gradients() -> None:
    from model_baselines.convlstm import ConvLSTM

    torch.manual_seed(0)
    model = ConvLSTM(make_info(), hidden=(6, 6), kernel_size=3, patch_size=2)
    nn.init.normal_(model.readout.weight, std=0.1)  # non-trivial output
    batch = make_batch(n_lead=4)

    def loss_and_grads(gc: bool) -> tuple[Tensor, list[Tensor]]:
        model.zero_grad()
        out = rollout(model, batch, 4, grad_checkpoint=gc)
        loss = ((out - batch["ssta"][:, 1:]) ** 2).mean()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    l0, g0 = loss_and_grads(False)
    l1, g1 = loss_and_grads(True)
    torch.testing.assert_close(l1, l0)
    assert any(g.abs().sum() > 0 for g in g0)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)


def test_rollout_rejects_bad_batches() -> None:
    batch = make_batch(n_lead=3)
    with pytest.raises(ValueError, match="n_lead=4"):
        rollout(WarmingModel(), batch, 4)
    with pytest.raises(KeyError, match="'atmos'"):
        rollout(WarmingModel(), {k: v for k, v in batch.items() if k != "atmos"}, 2)
    with pytest.raises(TypeError, match="not a OneStepForecaster"):
        rollout(nn.Linear(2, 2), batch, 2)


def test_apply_mask_exact_zero_even_for_nan() -> None:
    x = torch.tensor([[[1.0, float("nan")], [3.0, 4.0]]])
    mask = torch.tensor([[[True, False], [True, True]]])
    y = apply_mask(x, mask)
    assert y[0, 0, 1] == 0 and not torch.isnan(y).any()
