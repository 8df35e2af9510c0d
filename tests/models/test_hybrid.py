"""The Ocean-E2E hybrid: physics inside, networks around it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_baselines.hybrid import BackboneSizes, HybridConfig, KernelSection, Oceane2e
from oceane2e.data.info import DataInfo, stage2_channels
from oceane2e.physics.grid import SphericalGrid
from oceane2e.physics.kernel import KernelOptions, advect

H, W = 12, 20
LAT = np.linspace(32.25, 43.75, H)
LON = np.linspace(-75.5, -52.5, W)
STATS = {
    "ssta": {"mean": 0.0, "std": 1.0},
    "u_g": {"mean": 0.0, "std": 0.3},
    "v_g": {"mean": 0.0, "std": 0.3},
    "u10": {"mean": 5.0, "std": 4.0},
    "v10": {"mean": 0.0, "std": 4.0},
    "t2m": {"mean": 290.0, "std": 5.0},
}


def _cfg(**kwargs: object) -> HybridConfig:
    """Small networks: these tests are about the coupling, not capacity. The kernel in the advective
    form, as in the shipped hybrid configs."""
    small = BackboneSizes(hid_S=4, hid_T=8, N_S=2, N_T=1, attn_kernel=5)
    kwargs.setdefault("kernel", KernelSection(form="advective"))
    return HybridConfig(gm=small, source=small, **kwargs)


def _mask() -> np.ndarray:
    mask = np.ones((H, W), dtype=bool)
    mask[:4, :3] = False  # a coast
    mask[6:8, 10:12] = False  # an island
    return mask


def _info() -> DataInfo:
    return DataInfo(LAT, LON, _mask(), stage2_channels(), STATS)


def _batch(n_lead: int, batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.as_tensor(_mask())
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    ssta = 1.5 * torch.exp(-(xx**2 + yy**2) / 0.2)
    ssta = ssta.expand(batch, n_lead + 1, H, W).clone()
    jet = 1.2 * torch.exp(-(yy / 0.3) ** 2)
    vel = torch.stack([jet, 0.1 * torch.ones_like(jet)]).expand(batch, n_lead + 1, 2, H, W).clone()
    atmos = torch.stack([
        5 + torch.randn(batch, n_lead + 1, H, W, generator=g),
        torch.randn(batch, n_lead + 1, H, W, generator=g),
        290 + 3 * torch.randn(batch, n_lead + 1, H, W, generator=g),
    ], dim=2)
    return {"ssta": ssta * mask, "velocity": vel * mask[None, None, None], "atmos": atmos,
            "mask": mask.expand(batch, H, W)}


def _randomise(model: torch.nn.Module, scale: float = 0.05, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))


def test_untrained_hybrid_is_pure_advection_by_the_geostrophic_current() -> None:
    """Both networks start at exactly zero output: the hybrid is the kernel alone."""
    model = Oceane2e(_info(), _cfg(velocity_time="now"))
    batch = _batch(3)
    out = model(batch, 3)
    grid = SphericalGrid.from_coords(LAT, LON, _mask(), dtype=torch.float32)
    c = batch["ssta"][:, 0]
    options = _cfg().kernel.options()
    for k in range(3):
        c = advect(c, batch["velocity"][:, k, 0], batch["velocity"][:, k, 1], grid, 86400.0, options)
        c = c * batch["mask"]
        torch.testing.assert_close(out[:, k], c, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out[:, -1], batch["ssta"][:, 0]), "advection by a 1 m/s jet must move the anomaly"


def test_zero_scales_switch_networks_off_even_with_trained_weights() -> None:
    cfg = _cfg(correction_scale=0.0, source_scale=0.0, velocity_time="mean")
    model = Oceane2e(_info(), cfg)
    _randomise(model)
    batch = _batch(2)
    out = model(batch, 1)
    grid = SphericalGrid.from_coords(LAT, LON, _mask(), dtype=torch.float32)
    vel = 0.5 * (batch["velocity"][:, 0] + batch["velocity"][:, 1])
    expected = advect(batch["ssta"][:, 0], vel[:, 0], vel[:, 1], grid, 86400.0, KernelOptions(form="advective"))
    torch.testing.assert_close(out[:, 0], expected * batch["mask"], rtol=1e-5, atol=1e-6)


def test_gradients_reach_both_networks_through_the_kernel() -> None:
    model = Oceane2e(_info(), _cfg())
    batch = _batch(3)
    target = torch.roll(batch["ssta"][:, 1:], shifts=1, dims=-1)
    loss = (model(batch, 3) - target).pow(2).mean()
    loss.backward()
    gm_grad = model.model_gm.decoder.readout.weight.grad
    s_grad = model.model_S.decoder.readout.weight.grad
    assert gm_grad is not None and gm_grad.abs().sum() > 0, "no gradient reached model_gm through advect()"
    assert s_grad is not None and s_grad.abs().sum() > 0, "no gradient reached model_S"


def test_correction_velocity_changes_the_advection() -> None:
    """A non-zero model_gm output must enter the kernel (not only the source)."""
    cfg = _cfg(source_scale=0.0, velocity_time="now")
    model = Oceane2e(_info(), cfg)
    batch = _batch(1)
    base = model(batch, 1)
    with torch.no_grad():
        model.model_gm.decoder.readout.bias.fill_(1.0)  # +0.1 m/s in both directions over the ocean
    moved = model(batch, 1)
    assert (moved - base).abs().max() > 1e-3


def test_forty_day_rollout_stays_finite_and_land_stays_land() -> None:
    model = Oceane2e(_info(), _cfg())
    _randomise(model, scale=0.02)
    batch = _batch(40, batch=1)
    with torch.no_grad():
        out = model(batch, 40)
    assert out.shape == (1, 40, H, W)
    assert torch.isfinite(out).all()
    assert (out[:, :, ~torch.as_tensor(_mask())] == 0).all()
    assert out.abs().max() < 50.0, "a 40-day rollout of small random networks must not blow up"


def test_kernel_stays_float32_under_bf16_autocast() -> None:
    model = Oceane2e(_info(), _cfg())
    batch = _batch(2)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = model(batch, 2)
    assert out.dtype == torch.float32
    reference = model(batch, 2)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip(tmp_path) -> None:
    model = Oceane2e(_info(), _cfg())
    _randomise(model)
    torch.save(model.state_dict(), tmp_path / "m.pth")
    other = Oceane2e(_info(), _cfg())
    other.load_state_dict(torch.load(tmp_path / "m.pth", weights_only=True))
    batch = _batch(2)
    with torch.no_grad():
        torch.testing.assert_close(model(batch, 2), other(batch, 2))


def test_unknown_config_key_fails() -> None:
    from oceane2e.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match="correction_scal"):
        validate_config(HybridConfig, {"correction_scal": 0.1})


def test_forecast_of_a_sample_does_not_depend_on_its_batch_mates() -> None:
    """Sub-steps are chosen per sample: a fast-current sample must not change a slow one's forecast."""
    model = Oceane2e(_info(), _cfg())
    slow = _batch(1, batch=1)
    fast = _batch(1, batch=1, seed=3)
    fast["velocity"] = fast["velocity"] * 3.0  # three times the Courant number: more sub-steps
    both = {k: torch.cat([slow[k], fast[k]]) for k in slow}
    with torch.no_grad():
        alone = model(slow, 1)
        together = model(both, 1)
    torch.testing.assert_close(together[:1], alone, rtol=0, atol=0)
