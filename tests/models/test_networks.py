"""MultiConv, SimVP and ConvLSTM: shapes on odd grids, save/load, state, learning, configs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model_baselines import build_model, model_spec, parse_model_config, rollout
from model_baselines.blocks import SimVPCore, downsampling_factor
from model_baselines.convlstm import ConvLSTM
from model_baselines.multiconv import MultiConv, VelocityForecaster
from model_baselines.simvp import SimVP
from oceane2e.config import ConfigError
from oceane2e.data.info import DataInfo, stage2_channels

STATS = {
    "ssta": {"mean": 0.2, "std": 0.8},
    "u_g": {"mean": 0.05, "std": 0.3},
    "v_g": {"mean": -0.02, "std": 0.25},
    "u10": {"mean": 6.0, "std": 3.0},
    "v10": {"mean": 1.0, "std": 2.5},
    "t2m": {"mean": 288.0, "std": 5.0},
}
TINY_SIMVP = {"hid_S": 8, "hid_T": 16, "N_S": 2, "N_T": 2, "attn_kernel": 7}
TINY_CONVLSTM = {"hidden": [8, 8], "kernel_size": 3, "patch_size": 2}


def make_batch(b: int = 2, n_lead: int = 4, h: int = 13, w: int = 21, seed: int = 0) -> dict[str, Tensor]:
    """A stage-2 batch in physical units with land (mask False) in the west and an island."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, h, w, dtype=torch.bool)
    mask[:, :, :3] = False
    mask[:, 5:7, 10:12] = False
    ssta = torch.randn(b, n_lead + 1, h, w, generator=g) * 0.8 * mask[:, None]
    velocity = torch.randn(b, n_lead + 1, 2, h, w, generator=g) * 0.3 * mask[:, None, None]
    atmos = torch.randn(b, n_lead + 1, 3, h, w, generator=g) * torch.tensor([3.0, 2.5, 5.0]).view(1, 1, 3, 1, 1)
    return {"ssta": ssta, "velocity": velocity, "atmos": atmos + torch.tensor([6.0, 1.0, 288.0]).view(1, 1, 3, 1, 1),
            "mask": mask}


def make_info(stats: dict = STATS, h: int = 13, w: int = 21, **kwargs: object) -> DataInfo:
    """A DataInfo on an all-ocean (h, w) grid: stage-2 channels by default, or ``channels=...``."""
    kwargs.setdefault("channels", stage2_channels())
    return DataInfo(np.linspace(-10.0, 10.0, h), np.linspace(100.0, 120.0, w), np.ones((h, w), bool),
                    norm_stats=stats, **kwargs)


def velocity_info(stats: dict = STATS, n_in: int = 2, n_out: int = 2) -> DataInfo:
    """The stage-1 DataInfo: M_θ forecasts the currents themselves."""
    return make_info(stats, channels={"state": ("u_g", "v_g")}, n_in=n_in, n_out=n_out)


def step_fields(batch: dict[str, Tensor], k: int, atmos_now: Tensor | None = None) -> dict[str, Tensor]:
    """Named fields of the step from day k to k+1 (``atmos_now`` (B, 3, H, W) replaces day k's atmosphere)."""
    vel, atm = batch["velocity"], batch["atmos"]
    now = atm[:, k] if atmos_now is None else atmos_now
    fields = {"ssta": batch["ssta"][:, k]}
    for i, name in enumerate(("u_g", "v_g")):
        fields[name], fields[name + "_next"] = vel[:, k, i], vel[:, k + 1, i]
    for i, name in enumerate(("u10", "v10", "t2m")):
        fields[name], fields[name + "_next"] = now[:, i], atm[:, k + 1, i]
    return fields


def tiny_stage2(name: str, stats: dict = STATS) -> nn.Module:
    sizes = TINY_SIMVP if name == "SimVP" else TINY_CONVLSTM
    return build_model(parse_model_config({"name": name, **sizes}), make_info(stats))


def randomise_readouts(model: nn.Module) -> None:
    """Zero-initialised read-outs make every model persistence; perturb them so outputs depend on weights."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.weight.abs().sum() == 0:
            nn.init.normal_(m.weight, std=0.1)


@pytest.mark.parametrize("n_s", [2, 4])
def test_multiconv_shapes_odd_grid_and_persistence_start(n_s: int) -> None:
    model = MultiConv(channels=2, n_in=3, n_out=5, hid_S=8, hid_T=16, N_S=n_s, N_T=2, attn_kernel=7)
    assert model.core.factor == downsampling_factor(n_s) == (2 if n_s == 2 else 4)
    x = torch.randn(2, 3, 2, 13, 21)
    y = model(x)
    assert y.shape == (2, 5, 2, 13, 21)
    # untrained residual model = persistence of the last day
    torch.testing.assert_close(y, x[:, -1:].expand_as(y))
    mask = torch.ones(13, 21, dtype=torch.bool)
    mask[:4] = False
    assert torch.all(model(x, mask=mask)[..., :4, :] == 0)
    # non-residual core: shapes for another odd size
    core = SimVPCore(3, 1, n_in=2, n_out=1, hid_S=4, hid_T=8, N_S=4, N_T=1, attn_kernel=5)
    assert core(torch.randn(1, 2, 3, 17, 9)).shape == (1, 1, 1, 17, 9)


@pytest.mark.parametrize(("n_in", "n_out", "n_days", "n_s"), [(4, 1, 9, 2), (3, 2, 7, 4), (2, 3, 8, 2)])
def test_multiconv_forecast_without_gradients_encodes_each_day_once_with_the_same_forecast(
    n_in: int, n_out: int, n_days: int, n_s: int
) -> None:
    # M_θ encodes each day once without gradients (a day stays in the input window for n_in calls); the forecast
    # must be that of the network called on every window, on an odd grid (padded for the encoder), with land,
    # weights channels-last as the engine lays them out. Same up to round-off only: oneDNN may sum a convolution
    # of B frames in another order than of B·n_in (measured: ~1e-6 in normalised units on this grid, 2e-5 m/s at
    # 40 days on the demo's)
    from oceane2e.engine.trainer import fast_layout

    torch.manual_seed(0)
    model = build_model(parse_model_config({"name": "MultiConv", **TINY_SIMVP, "N_S": n_s}),
                        velocity_info(n_in=n_in, n_out=n_out))
    randomise_readouts(model)
    fast_layout(model.eval(), "cpu")
    batch = make_batch(b=5, n_lead=n_in)
    inputs, mask = batch["velocity"][:, :n_in], batch["mask"]
    encoded: list[int] = []
    hook = model.net.core.encoder.register_forward_hook(lambda mod, args, out: encoded.append(args[0].shape[0]))
    with torch.no_grad():
        reused = model(inputs, mask, n_days)
    for p in model.parameters():
        p.requires_grad_(False)
    reused_frames = sum(encoded)
    encoded.clear()
    plain = model(inputs, mask, n_days)  # gradients enabled: the network called on every window
    hook.remove()
    calls = -(-n_days // n_out)
    assert sum(encoded) == 5 * n_in * calls  # every window encoded whole
    assert reused_frames == 5 * (n_in + (calls - 1) * n_out)  # each day once
    assert reused.shape == plain.shape == (5, n_days, 2, 13, 21)
    assert (plain[:, -1] - plain[:, 0]).abs().max() > 0.1  # the forecast moves: later days come from encoded outputs
    torch.testing.assert_close(reused, plain, rtol=1e-5, atol=1e-5)
    assert torch.equal(reused[:, :n_out], plain[:, :n_out])  # the first call sees the same batch of frames


@pytest.mark.parametrize("name", ["SimVP", "ConvLSTM"])
def test_stage2_shapes_odd_grid_and_land(name: str) -> None:
    model = tiny_stage2(name)
    randomise_readouts(model)
    batch = make_batch(n_lead=3, h=13, w=21)
    out = rollout(model, batch, 3)
    assert out.shape == (2, 3, 13, 21)
    assert torch.isfinite(out).all()
    assert torch.all(out[:, :, ~batch["mask"][0]] == 0)
    assert (out[:, 0] - batch["ssta"][:, 0]).abs().max() > 0  # it does something


@pytest.mark.parametrize("name", ["MultiConv", "SimVP", "ConvLSTM"])
def test_state_dict_round_trip_gives_identical_outputs(name: str) -> None:
    torch.manual_seed(1)
    other_stats = {k: {"mean": 0.0, "std": 1.0} for k in STATS}  # stats must come from the file
    if name == "MultiConv":
        cfg = parse_model_config({"name": name, **TINY_SIMVP})
        model = build_model(cfg, velocity_info())
        fresh = build_model(cfg, velocity_info(other_stats))
        x = torch.randn(2, 2, 2, 13, 21)
        mask = torch.ones(2, 13, 21, dtype=torch.bool)
        run = lambda m: m.forecast(x, mask, 2)  # noqa: E731
    else:
        model = tiny_stage2(name)
        fresh = tiny_stage2(name, other_stats)
        batch = make_batch(n_lead=3)
        run = lambda m: rollout(m, batch, 3)  # noqa: E731
    randomise_readouts(model)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    model.eval()
    fresh.eval()
    with torch.no_grad():
        expected, got = run(model), run(fresh)
    assert torch.equal(got, expected)


def test_convlstm_state_carries_information() -> None:
    """Changing day 0's forcing changes day 1's output only through the carried state."""
    torch.manual_seed(2)
    model = tiny_stage2("ConvLSTM")
    randomise_readouts(model)
    batch = make_batch(n_lead=2)
    ssta, atm, mask = batch["ssta"], batch["atmos"], batch["mask"]

    def day1(atmos_day0: Tensor) -> Tensor:
        state = model.init_state({"ssta": ssta[:, 0]})
        _, state = model.step(step_fields(batch, 0, atmos_day0), mask, state)
        out, _ = model.step(step_fields(batch, 1), mask, state)
        return out

    with torch.no_grad():
        a = day1(atm[:, 0])
        b = day1(atm[:, 0] + torch.tensor([0.0, 0.0, 4.0]).view(1, 3, 1, 1))
    assert (a - b).abs().max() > 1e-4
    # SimVP is Markov: the same experiment changes nothing
    simvp = tiny_stage2("SimVP")
    randomise_readouts(simvp)
    with torch.no_grad():
        outs = []
        for shift in (0.0, 4.0):
            a0 = atm[:, 0] + torch.tensor([0.0, 0.0, shift]).view(1, 3, 1, 1)
            _, s = simvp.step(step_fields(batch, 0, a0), mask, simvp.init_state({"ssta": ssta[:, 0]}))
            outs.append(simvp.step(step_fields(batch, 1), mask, s)[0])
    assert torch.equal(outs[0], outs[1])


def smooth_fields(n: int, h: int, w: int, seed: int) -> Tensor:
    """(n, h, w) random fields with a correlation length of a few cells, unit-ish variance."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, h, w, generator=g)
    k = torch.ones(1, 1, 5, 5) / 25.0
    for _ in range(2):
        x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="circular"), k)
    return (x / x.std())[:, 0]


def train_steps(model: nn.Module, loss_fn, steps: int, lr: float) -> tuple[float, float]:  # noqa: ANN001
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.no_grad():
        first = float(loss_fn())
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return first, float(loss_fn())


@pytest.mark.parametrize("name", ["SimVP", "ConvLSTM"])
def test_stage2_learns_advection_by_one_cell(name: str) -> None:
    """Target: the SSTA moved one cell east per day (a stand-in for advection); loss must drop well
    below persistence (the untrained model) within a few Adam steps."""
    torch.manual_seed(0)
    h, w, b, n_lead = 12, 16, 4, 2
    base = smooth_fields(b, h, w, seed=3)
    ssta = torch.stack([torch.roll(base, k, dims=-1) for k in range(n_lead + 1)], dim=1) * 0.8
    batch = make_batch(b=b, n_lead=n_lead, h=h, w=w)
    batch["ssta"], batch["mask"] = ssta, torch.ones(b, h, w, dtype=torch.bool)
    model = tiny_stage2(name)

    def loss() -> Tensor:
        return ((rollout(model, batch, n_lead) - ssta[:, 1:]) ** 2).mean()

    first, last = train_steps(model, loss, steps=40, lr=3e-3)
    assert last < 0.3 * first, (first, last)


def test_multiconv_learns_moving_field() -> None:
    """Input: 2 days of a field moving one cell per day; target: the next day."""
    torch.manual_seed(0)
    base = smooth_fields(8, 12, 16, seed=4)
    frames = torch.stack([torch.roll(base, k, dims=-1) for k in range(3)], dim=1)  # (8, 3, 12, 16)
    x = torch.stack([frames[:, :2], -frames[:, :2]], dim=2)  # (8, 2, 2, H, W): u, v
    y = torch.stack([frames[:, 2:], -frames[:, 2:]], dim=2)
    model = MultiConv(channels=2, n_in=2, n_out=1, **TINY_SIMVP)
    first, last = train_steps(model, lambda: ((model(x) - y) ** 2).mean(), steps=40, lr=3e-3)
    assert last < 0.3 * first, (first, last)


# --- configs and registry ----------------------------------------------------------------------


def test_configs_select_models_and_reject_unknown_keys() -> None:
    cfg = parse_model_config({"name": "ConvLSTM", "hidden": [4], "patch_size": 1})
    model = build_model(cfg, make_info())
    assert isinstance(model, ConvLSTM) and model.hidden == (4,)
    assert isinstance(build_model(parse_model_config("SimVP"), make_info()), SimVP)
    mc = build_model(parse_model_config({"name": "MultiConv", "N_S": 4}), velocity_info(n_in=4, n_out=1))
    assert isinstance(mc, VelocityForecaster) and isinstance(mc.net, MultiConv) and mc.net.core.factor == 4
    assert (mc.n_in, mc.n_out, mc.channels) == (4, 1, ("u_g", "v_g"))  # days and channels come from the data
    with pytest.raises(ConfigError, match="hid_s: unknown key"):
        parse_model_config({"name": "SimVP", "hid_s": 8})
    with pytest.raises(ConfigError, match="hidden"):
        parse_model_config({"name": "ConvLSTM", "hidden": "32,32"})
    assert parse_model_config("Oceane2e").name == "Oceane2e"  # the hybrid, found by the registry
    with pytest.raises(ValueError, match="unknown model 'UNet'"):
        parse_model_config("UNet")
    with pytest.raises(ValueError, match="unknown model 'UNet'"):
        model_spec("UNet")
    with pytest.raises(ConfigError, match="N_T"):
        parse_model_config({"name": "SimVP", "N_T": 0})
    # sizes live only in the config (build_model takes none beside the DataInfo); a model of the wrong
    # kind for a stage is refused
    with pytest.raises(ConfigError, match="unknown velocity model 'SimVP'"):
        parse_model_config("SimVP", kind="velocity")
