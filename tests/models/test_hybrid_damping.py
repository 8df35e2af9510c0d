"""The hybrid's damping (relaxation) term: exact exponential decay, the source integrated with it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model_baselines.hybrid import DAMPING_PARAM_SCALE, HybridConfig, Oceane2e, relax
from tests.models.test_hybrid import H, W, _batch, _cfg, _info, _mask, _randomise


def _still(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch with the currents at rest (advection then changes nothing)."""
    return {**batch, "velocity": torch.zeros_like(batch["velocity"])}


@pytest.mark.parametrize("days", [10.0, 30.0])
def test_damping_alone_decays_the_anomaly_exactly_as_exp_of_minus_t_over_tau(days: float) -> None:
    """No current, no source, an untrained rate: C(t) = C0·exp(−t/τ) with τ = damping_init_days."""
    model = Oceane2e(_info(), _cfg(source_scale=0.0, damping="field", damping_init_days=days))
    batch = _still(_batch(20, batch=1))
    batch = {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}
    with torch.no_grad():
        out = model.double()(batch, 20)
    c0 = batch["ssta"][:, 0]
    for k in (1, 5, 20):
        torch.testing.assert_close(out[:, k - 1], c0 * math.exp(-k / days), rtol=1e-10, atol=1e-12)


def test_learned_rate_field_sets_the_decay_per_cell() -> None:
    model = Oceane2e(_info(), _cfg(source_scale=0.0, damping="field"))
    rate = torch.linspace(0.01, 0.5, H * W, dtype=torch.float64).reshape(H, W)  # λΔt per cell
    with torch.no_grad():  # softplus(raw0 + s·p) = rate
        model.damping_param.copy_(((torch.log(torch.expm1(rate)) - model.damping_raw0) / DAMPING_PARAM_SCALE).float())
    batch = _still(_batch(3, batch=1))
    with torch.no_grad():
        out = model(batch, 3)
    expected = batch["ssta"][:, 0] * torch.exp(-3 * rate).float() * batch["mask"]
    torch.testing.assert_close(out[:, 2], expected, rtol=1e-5, atol=1e-6)


def test_relax_is_the_exact_solution_of_the_linear_ode() -> None:
    """dC/dt = −λC + s (per day), constant over the day, against its closed form and a fine RK4."""
    c = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0], dtype=torch.float64)
    s = torch.tensor([0.1, 0.3, -0.2, 0.0, 0.05], dtype=torch.float64)
    lam = torch.tensor([0.0, 1e-6, 0.05, 0.7, 2.0], dtype=torch.float64)
    got = relax(c, s, lam)
    x, n = c.clone(), 10000
    h = 1.0 / n
    for _ in range(n):
        k1 = -lam * x + s
        k2 = -lam * (x + 0.5 * h * k1) + s
        k3 = -lam * (x + 0.5 * h * k2) + s
        k4 = -lam * (x + h * k3) + s
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    torch.testing.assert_close(got, x, rtol=1e-12, atol=1e-12)
    assert got[0] == c[0] + s[0]  # no damping: the paper's update


def test_a_constant_source_settles_at_source_over_rate_instead_of_growing() -> None:
    model = Oceane2e(_info(), _cfg(damping="field", damping_init_days=10.0))
    with torch.no_grad():
        model.model_S.decoder.readout.bias.fill_(0.02)  # +0.02 SSTA std per day everywhere
    batch = _still(_batch(60, batch=1))
    batch["ssta"] = torch.zeros_like(batch["ssta"])
    with torch.no_grad():
        out = model(batch, 60)
    ocean = torch.as_tensor(_mask())
    s = 0.02  # K per day (std 1 in the test statistics)
    # C_n = s·φ(λ)·(1 − e^{−nλ})/(1 − e^{−λ}) = (s/λ)·(1 − e^{−nλ}) with λ = 0.1 per day, n = 60
    np.testing.assert_allclose(out[0, -1][ocean].numpy(), s / 0.1 * (1 - math.exp(-6.0)), rtol=1e-4)


def test_network_rate_gets_gradients_and_starts_equal_to_the_field() -> None:
    field = Oceane2e(_info(), _cfg(damping="field"))
    net = Oceane2e(_info(), _cfg(damping="network"))
    batch = _batch(3)
    with torch.no_grad():
        torch.testing.assert_close(net(batch, 3), field(batch, 3), rtol=1e-5, atol=1e-6)
    target = torch.roll(batch["ssta"][:, 1:], shifts=1, dims=-1)
    (net(batch, 3) - target).pow(2).mean().backward()
    assert net.damping_param.grad is not None and net.damping_param.grad.abs().sum() > 0
    assert net.model_S.decoder.readout.weight.grad[1].abs().sum() > 0, "no gradient reached the rate channel"


def test_no_kernel_ablation_ignores_the_currents() -> None:
    model = Oceane2e(_info(), _cfg(advection=False, damping="network"))
    _randomise(model)
    batch = _batch(2)
    with torch.no_grad():
        torch.testing.assert_close(model(batch, 2), model(_still(batch), 2))


def test_old_configs_have_no_damping() -> None:
    """Checkpoints and configs written before the damping existed rebuild the paper's hybrid."""
    assert HybridConfig().damping == "none" and HybridConfig().advection
    assert not any(name.startswith("damping") for name, _ in Oceane2e(_info(), _cfg()).named_parameters())


def test_streamfunction_correction_is_non_divergent_and_conserves_the_mean() -> None:
    """A curl of ψ: a uniform ψ gradient gives a uniform flow, and in a closed basin the flux-form step
    with the correction alone keeps Σ area·C to round-off while the anomaly moves."""
    from model_baselines.hybrid import curl
    from oceane2e.physics.grid import SphericalGrid
    from tests.models.test_hybrid import LAT, LON

    grid = SphericalGrid.from_coords(LAT, LON, _mask(), dtype=torch.float64)
    y = torch.cumsum(grid.dy, dim=0) - grid.dy[0]
    u, v = curl((-0.2 * y)[None], grid)  # ψ = −U y: eastward U = 0.2 m/s
    torch.testing.assert_close(u[0], torch.full_like(u[0], 0.2), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(v[0], torch.zeros_like(v[0]), rtol=0, atol=1e-12)
    # a smooth eddy field: in flux form, a uniform anomaly stays uniform where the flow is non-divergent
    from oceane2e.physics.kernel import KernelOptions, advect

    ocean = np.ones((H, W), dtype=bool)
    grid = SphericalGrid.from_coords(LAT, LON, ocean, dtype=torch.float64)
    yy, xx = torch.meshgrid(torch.linspace(0, 2 * math.pi, H, dtype=torch.float64),
                            torch.linspace(0, 3 * math.pi, W, dtype=torch.float64), indexing="ij")
    psi = (3e4 * torch.sin(yy) * torch.cos(xx))[None]  # m²/s: ~0.2 m/s swirls on this grid
    u, v = curl(psi, grid)
    divergent = (u * (1 + 0.5 * torch.sin(xx)), v)  # the same flow made divergent
    one = torch.ones(1, H, W, dtype=torch.float64)
    flux = KernelOptions(form="flux")
    inner = (slice(None), slice(2, -2), slice(2, -2))
    kept = advect(one, u, v, grid, 86400.0, flux)[inner]
    broken = advect(one, *divergent, grid, 86400.0, flux)[inner]
    assert (kept - 1).abs().max() < 0.02 < (broken - 1).abs().max()


def test_streamfunction_correction_enters_the_hybrid() -> None:
    model = Oceane2e(_info(), _cfg(correction_form="streamfunction", source_scale=0.0, velocity_time="now"))
    batch = _batch(1)
    base = model(batch, 1)
    with torch.no_grad():
        model.model_gm.decoder.readout.weight.normal_(0, 0.5)
    corr = model.correction({"ssta": batch["ssta"][:, 0], "u_g": batch["velocity"][:, 0, 0],
                             "v_g": batch["velocity"][:, 0, 1]}, batch["mask"])
    assert corr.shape == (2, 2, H, W) and (corr[:, :, ~torch.as_tensor(_mask())] == 0).all()
    assert 0.01 < corr.abs().max() < 1.0
    assert (model(batch, 1) - base).abs().max() > 1e-4
