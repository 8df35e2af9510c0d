"""The learned analysis as a network: gridding of records, the exact no-observation identity, any grid
size, land 0, and gradients that reach it through the kernel in end-to-end training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_baselines.analysis import AnalysisUNet, AnalysisUNetConfig
from model_baselines.base import rollout
from model_baselines.hybrid import BackboneSizes, HybridConfig, KernelSection, Oceane2e
from oceane2e.assim.gridding import DailyObsGrid, grid_records
from oceane2e.data.contract import GridCoords
from oceane2e.data.info import DataInfo, stage2_channels
from oceane2e.data.observations import ObsRecords
from oceane2e.stage_da import AssimSystem, _day_slice, analysis_info, segments, smooth_noise, swap_obs_masks

STATS = {"ssta": {"mean": 0.0, "std": 0.8}, "zos": {"mean": 0.0, "std": 0.2}, "u_g": {"mean": 0.0, "std": 0.3},
         "v_g": {"mean": 0.0, "std": 0.3}, "u10": {"mean": 5.0, "std": 4.0}, "v10": {"mean": 0.0, "std": 4.0},
         "t2m": {"mean": 290.0, "std": 5.0}}
PLATFORMS = ("sst_l3", "drifter", "argo", "altimetry")


pytestmark = pytest.mark.usefixtures("one_thread")


def _grid_info(h: int = 12, w: int = 16) -> DataInfo:
    mask = np.ones((h, w), bool)
    mask[:3, :2] = False
    mask[h // 2, w // 2] = False
    return DataInfo(np.linspace(30, 33, h), np.linspace(-70, -66, w), mask, stage2_channels(), STATS)


def _net(h: int = 12, w: int = 16, seed: int = 0, **cfg: object) -> AnalysisUNet:
    torch.manual_seed(seed)
    net = AnalysisUNet(analysis_info(_grid_info(h, w), PLATFORMS, 2),
                       AnalysisUNetConfig(base_channels=6, max_channels=12, levels=3, **cfg))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # a trained-looking network: the zero read-out made non-zero
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return net


def _obs(b: int, h: int, w: int, density: float = 0.3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    seen = (torch.rand(b, 2, 4, h, w, generator=g) < density).float()
    value = torch.randn(b, 2, 4, h, w, generator=g) * seen
    ivar = seen * 10.0
    return torch.stack([value, seen, ivar], dim=3)


def test_grid_records_weights_by_inverse_variance_and_drops_land() -> None:
    coords = GridCoords(lat=np.array([30.0, 31.0, 32.0]), lon=np.array([-70.0, -69.0]))
    mask = np.array([[True, True], [True, False], [True, True]])
    rec = ObsRecords(time=np.array(["2003-01-01T01", "2003-01-01T02", "2003-01-01T03", "2003-01-02T00"],
                                   dtype="datetime64[s]"),
                     lat=[30.1, 29.9, 31.0, 32.0], lon=[-70.0, -70.1, -69.0, -69.0], value=[1.0, 2.0, 5.0, 7.0],
                     error_std=[1.0, 0.5, 0.1, 0.1], platform=["sst_l3"] * 4, variable=["ssta"] * 4)
    g = grid_records(rec, coords, mask)
    np.testing.assert_allclose(g[0, 0, 0], (1.0 * 1 + 2.0 * 4) / 5, rtol=1e-6)  # Σ(y/σ²) / Σ(1/σ²)
    assert g[1, 0, 0] == 2 and g[2, 0, 0] == pytest.approx(5.0)
    assert g[1, 1, 1] == 0 and g[0, 1, 1] == 0, "a record on a land cell is dropped"
    daily = DailyObsGrid(rec, coords, mask, ("sst_l3", "altimetry"))
    win = daily.window(np.datetime64("2003-01-02"), 2)
    assert win.shape == (2, 2, 3, 3, 2)
    assert win[0, 0, 0, 2, 1] == pytest.approx(7.0) and win[0, 0, 1].sum() == 1, "today first"
    assert win[1, 0, 1].sum() == 2 and win[:, 1].sum() == 0, "yesterday second; no altimetry records"
    smoother = daily.window(np.datetime64("2003-01-01"), 1, future_days=1)  # a smoother's: today, then tomorrow
    assert smoother.shape == (2, 2, 3, 3, 2)
    np.testing.assert_array_equal(smoother[0], win[1])
    np.testing.assert_array_equal(smoother[1], win[0])


def test_gridded_days_are_kept_and_give_what_gridding_each_time_gives() -> None:
    """The day cache (windows overlap) changes nothing: windows equal those of a grid without a cache, and
    writing into a returned day does not reach the cache."""
    coords = GridCoords(lat=np.linspace(30.0, 33.0, 6), lon=np.linspace(-70.0, -67.0, 5))
    mask = np.ones((6, 5), bool)
    rng = np.random.default_rng(0)
    n = 400
    rec = ObsRecords(time=np.datetime64("2003-01-01T00", "s") + rng.integers(0, 12 * 86400, n),
                     lat=rng.uniform(30, 33, n), lon=rng.uniform(-70, -67, n), value=rng.normal(size=n),
                     error_std=rng.uniform(0.1, 0.5, n), platform=rng.choice(["sst_l3", "argo"], n),
                     variable=["ssta"] * n)
    cached = DailyObsGrid(rec, coords, mask, ("sst_l3", "argo"))
    plain = DailyObsGrid(rec, coords, mask, ("sst_l3", "argo"), cache_bytes=0)
    for day in ("2003-01-05", "2003-01-06", "2003-01-05", "2003-01-11"):  # overlapping windows, one again
        d = np.datetime64(day)
        np.testing.assert_array_equal(cached.window(d, 4, future_days=1), plain.window(d, 4, future_days=1))
    assert len(cached._cache) == 11 and not plain._cache  # days 2 .. 12, each once
    mine = cached.grid(np.datetime64("2003-01-05"))
    assert mine.any()
    mine[:] = -1.0
    np.testing.assert_array_equal(cached.grid(np.datetime64("2003-01-05")), plain.grid(np.datetime64("2003-01-05")))
    small = DailyObsGrid(rec, coords, mask, ("sst_l3", "argo"), cache_bytes=3 * 2 * 3 * 6 * 5 * 4)
    small.window(np.datetime64("2003-01-11"), 6)
    assert len(small._cache) == 3, "the cache holds what its bytes allow, no more"


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_split_first_convolution_is_the_convolution_of_the_whole_input(channels_last: bool) -> None:
    """The U-Net's first convolution runs as two (the observation channels, which need no input gradient, and
    the prior's): the same output and parameter gradients as one convolution of the concatenated input, in
    either memory layout of the weights (channels-last is the CPU engine's), at a grid size that is padded."""
    from oceane2e.engine.trainer import fast_layout

    net = _net(13, 21)
    if channels_last:
        net = fast_layout(net, "cpu")
        assert net.down[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, net.down[0][0].in_channels - 1, 13, 21, generator=g)
    learned = torch.randn(2, 1, 13, 21, generator=g, requires_grad=True)
    whole = net.unet(torch.cat([x, learned], dim=1))
    grads_whole = torch.autograd.grad(whole.square().sum(), [learned, *net.parameters()], allow_unused=True)
    split = net.unet(x, learned)
    grads_split = torch.autograd.grad(split.square().sum(), [learned, *net.parameters()], allow_unused=True)
    torch.testing.assert_close(split, whole, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_split, grads_whole, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert float(whole.abs().max()) > 0


def test_no_observation_gives_the_background_exactly() -> None:
    net = _net()
    bg = torch.randn(3, 12, 16) * torch.as_tensor(net.data_info.mask)
    none = torch.zeros(3, 2, 4, 3, 12, 16)
    analysis, std = net(bg, none, torch.as_tensor(net.data_info.mask))
    assert torch.equal(analysis, bg), "no observation: the analysis is the background, bit for bit"
    assert std is not None and torch.all(std[:, net.data_info.mask] > 0)
    with_obs, _ = net(bg, _obs(3, 12, 16), torch.as_tensor(net.data_info.mask))
    assert not torch.equal(with_obs, bg)


@pytest.mark.parametrize("shape", [(12, 16), (13, 21), (40, 24)])
def test_runs_at_any_grid_size_and_keeps_land_zero(shape: tuple[int, int]) -> None:
    h, w = shape
    net = _net(*shape)
    mask = torch.as_tensor(net.data_info.mask)
    bg = torch.randn(2, h, w)
    analysis, std = net(bg, _obs(2, h, w), mask)
    assert analysis.shape == (2, h, w) and std is not None and std.shape == (2, h, w)
    assert torch.all(analysis[:, ~mask] == 0) and torch.all(std[:, ~mask] == 0)
    assert torch.isfinite(analysis).all()


def test_an_untrained_network_moves_towards_the_observations() -> None:
    """The U-Net read-out starts at zero: an untrained analysis is the background plus the prior, the
    multi-scale normalised convolution of the innovations, which pulls every observed cell towards its
    observation without reaching it."""
    torch.manual_seed(0)
    net = AnalysisUNet(analysis_info(_grid_info(), PLATFORMS, 2), AnalysisUNetConfig(base_channels=6, uncertainty=False))
    mask = torch.as_tensor(net.data_info.mask)
    bg = torch.zeros(1, 12, 16)
    obs = torch.zeros(1, 2, 4, 3, 12, 16)
    obs[0, 0, 0, :, 5, 7] = torch.tensor([1.0, 1.0, 100.0])  # one L3 record of +1 K today
    with torch.no_grad():
        analysis, std = net(bg, obs, mask)
    assert std is None
    assert 0 < float(analysis[0, 5, 7]) < 1, "pulled towards the observation"
    assert float(analysis[0, 5, 7]) > float(analysis[0, 5, 10]) > 0, "less so further away"
    assert float(analysis.abs().max()) == pytest.approx(float(analysis[0, 5, 7]))


def _system() -> AssimSystem:
    info = _grid_info()
    small = BackboneSizes(hid_S=4, hid_T=8, N_S=2, N_T=1, attn_kernel=5)
    torch.manual_seed(0)
    hybrid = Oceane2e(info, HybridConfig(gm=small, source=small, kernel=KernelSection(form="advective")))
    return AssimSystem(_net(), hybrid, joint=False)


def _window_batch(k: int, n: int, b: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    h, w = 12, 16
    mask = torch.as_tensor(_grid_info().mask)
    t = k + n + 1
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    ssta = (1.5 * torch.exp(-(xx**2 + yy**2) / 0.2)).expand(b, t, h, w) * mask
    vel = torch.stack([0.5 * torch.exp(-(yy / 0.3) ** 2), 0.1 * torch.ones_like(yy)]).expand(b, t, 2, h, w) * mask
    atmos = torch.stack([5 + torch.randn(b, t, h, w, generator=g), torch.randn(b, t, h, w, generator=g),
                         290 + torch.randn(b, t, h, w, generator=g)], dim=2)
    obs = torch.stack([_obs(b, h, w, seed=s) for s in range(k)], dim=1)
    return {"ssta": ssta.clone(), "velocity": vel.clone(), "atmos": atmos, "obs": obs, "mask": mask.expand(b, h, w)}


def test_gradients_reach_the_analysis_through_the_kernel_end_to_end() -> None:
    system = _system()
    batch = _window_batch(k=2, n=3)
    out = system(batch, batch["ssta"][:, 0], n_forecast=3, grad_from=1)
    assert out["forecast"].shape == (2, 3, 12, 16) and out["analysis"].shape == (2, 2, 12, 16)
    # the loss sees only the forecast (days 3..5): any gradient of the network went through the kernel
    out["forecast"].square().mean().backward()
    grads = [p.grad for p in system.analysis.parameters()]
    assert all(gr is not None for gr in grads) and sum(float(gr.abs().sum()) for gr in grads) > 0
    assert all(p.grad is None for p in system.forecaster.parameters()), "the frozen forecaster gets no gradient"
    system.zero_grad(set_to_none=True)
    system.set_joint(True)
    system(batch, batch["ssta"][:, 0], n_forecast=2, grad_from=1)["forecast"].sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in system.forecaster.parameters())


def test_mask_swap_and_perturbation_helpers() -> None:
    obs = _window_batch(k=2, n=0, b=3)["obs"]
    truth = torch.randn(3, 2, 12, 16)
    mask = torch.ones(3, 12, 16, dtype=torch.bool)
    torch.manual_seed(0)
    swapped = swap_obs_masks(obs, truth, mask, [True, True, True, False], prob=1.0)
    assert torch.equal(swapped[:, :, 1:], obs[:, :, 1:]), "past days stay as observed"
    seen = swapped[1, :, 0, 0, 1] > 0
    assert torch.equal(seen, obs[0, :, 0, 0, 1] > 0), "sample 1 gets sample 0's pattern"
    err = (swapped[1, :, 0, 0, 0] - truth[1])[seen]
    assert err.abs().max() < 5 / np.sqrt(10.0), "values are the sample's own truth plus the cell's error"
    assert torch.equal(swapped[:, :, 0, 3], obs[:, :, 0, 3]), "sea level keeps its own records"
    noise = smooth_noise((4, 20, 30), 0.3, 5)
    assert noise.shape == (4, 20, 30) and abs(float(noise.std()) - 0.3) < 1e-4


def test_segments_cover_the_period_once() -> None:
    assert segments(10, None, 5) == [segments(10, None, 5)[0]] and segments(10, None, 5)[0].stop == 10
    segs = segments(100, 30, 7)
    assert [(s.start, s.stop, s.spinup) for s in segs] == [(0, 30, 0), (30, 60, 7), (60, 90, 7), (90, 100, 7)]


def test_a_current_analysis_without_observations_returns_its_first_guess() -> None:
    """``currents: true``: the first-guess currents go in, the analysed ones come out, gated like the SSTA —
    no observation gives the first guess bit for bit; observations move them; no first guess is an error."""
    net = _net(currents=True)
    mask = torch.as_tensor(net.data_info.mask)
    bg = torch.randn(3, 12, 16) * mask
    first = torch.randn(3, 2, 12, 16) * 0.3 * mask
    analysis, std, currents = net(bg, torch.zeros(3, 2, 4, 3, 12, 16), mask, first)
    assert torch.equal(analysis, bg) and torch.equal(currents, first)
    analysis, std, currents = net(bg, _obs(3, 12, 16), mask, first)
    assert not torch.equal(currents, first) and torch.all(currents[:, :, ~mask] == 0)
    assert torch.isfinite(currents).all() and currents.shape == (3, 2, 12, 16)
    with pytest.raises(ValueError, match="first-guess currents"):
        net(bg, _obs(3, 12, 16), mask)
    # an SSTA-only network keeps the state dict of the checkpoints written before the option existed
    ssta_only = set(_net().state_dict())
    assert "vel_scale" not in ssta_only and set(net.state_dict()) == ssta_only | {"vel_scale"}


def test_the_forecast_loss_reaches_a_current_analysis_through_its_day_zero_currents() -> None:
    """End to end, the forecast starts from the analysed currents: a loss on the forecast alone gives the
    network's current read-out a gradient, and the window's currents are its first guess."""
    system = _system()
    system.analysis = _net(currents=True)
    batch = _window_batch(k=2, n=3)
    out = system(batch, batch["ssta"][:, 0], n_forecast=3, grad_from=1)
    assert out["currents"].shape == (2, 2, 2, 12, 16)
    out["forecast"].square().mean().backward()
    head = system.analysis.head.weight.grad
    assert head is not None and float(head[system.analysis._currents_at :].abs().sum()) > 0
    no_obs = {**batch, "obs": torch.zeros_like(batch["obs"])}
    with torch.no_grad():
        quiet = system(no_obs, batch["ssta"][:, 0], n_forecast=0)
    assert torch.equal(quiet["currents"], batch["velocity"][:, 1:3])


def test_backgrounds_advected_by_the_analysed_currents_of_the_day_before() -> None:
    """``background_currents: analysis``: the background of window day 2 is the forecast from day 1's analysis with
    day 1's *analysed* currents (the first day's, which has no analysis before it, with the first guess); the default
    keeps the first guess; an SSTA-only network has no analysed currents, so the option changes nothing there."""
    batch = _window_batch(k=2, n=0)
    system = _system()
    system.analysis = _net(currents=True)
    with torch.no_grad():
        plain = system(batch, batch["ssta"][:, 0])
        system.background_currents = "analysis"
        moved = system(batch, batch["ssta"][:, 0])
        by_hand = rollout(system.forecaster, _day_slice(batch, 1, 1), 1,
                          initial={"ssta": moved["analysis"][:, 0], "u_g": moved["currents"][:, 0, 0],
                                   "v_g": moved["currents"][:, 0, 1]})[:, 0]
    assert torch.equal(moved["background"][:, 0], plain["background"][:, 0]), "day 1: the first guess"
    assert not torch.allclose(moved["currents"][:, 0], batch["velocity"][:, 1]), "the analysis moved the currents"
    torch.testing.assert_close(moved["background"][:, 1], by_hand)
    assert not torch.allclose(moved["background"][:, 1], plain["background"][:, 1])
    ssta_only = _system()
    ssta_only.background_currents = "analysis"
    with torch.no_grad():
        torch.testing.assert_close(ssta_only(batch, batch["ssta"][:, 0])["background"],
                                   _system()(batch, batch["ssta"][:, 0])["background"])
