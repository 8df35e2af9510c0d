"""The seams of docs/dev/INTERFACES.md: the registry, DataInfo, the named step with an external initial
state, the self-describing checkpoint loader, and the kernel's own per-sample sub-stepping."""

from __future__ import annotations

import dataclasses
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import model_baselines
from model_baselines import registry
from model_baselines.base import rollout
from model_baselines.hybrid import HybridConfig, KernelSection
from model_baselines.registry import build_model, model_names, parse_model_config
from oceane2e.config import ConfigError
from oceane2e.data.contract import DataContractError, GridCoords
from oceane2e.data.info import DataInfo, stage2_channels
from oceane2e.physics.grid import SphericalGrid
from oceane2e.physics.kernel import CourantError, KernelOptions, advect

REPO = Path(__file__).resolve().parents[1]
H, W = 10, 16
STATS = {"ssta": {"mean": 0.0, "std": 1.0}, "u_g": {"mean": 0.0, "std": 0.3}, "v_g": {"mean": 0.0, "std": 0.3},
         "u10": {"mean": 5.0, "std": 4.0}, "v10": {"mean": 0.0, "std": 4.0}, "t2m": {"mean": 290.0, "std": 5.0}}
SMALL = {"hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 1, "attn_kernel": 5}


pytestmark = pytest.mark.usefixtures("one_thread")


def info(**kw: object) -> DataInfo:
    mask = np.ones((H, W), bool)
    mask[:3, :2] = False
    mask[5:7, 8:10] = False
    return DataInfo(np.linspace(32.0, 36.5, H), np.linspace(-70.0, -62.5, W), mask, stage2_channels(), STATS, **kw)


def batch(n_lead: int = 3, b: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.as_tensor(info().mask)
    return {
        "ssta": torch.randn(b, n_lead + 1, H, W, generator=g) * mask,
        "velocity": torch.randn(b, n_lead + 1, 2, H, W, generator=g) * 0.4 * mask,
        "atmos": torch.randn(b, n_lead + 1, 3, H, W, generator=g) * 3 + torch.tensor([5.0, 0.0, 290.0]).view(1, 1, 3, 1, 1),
        "mask": mask.expand(b, H, W),
    }


def small_config(name: str):
    if name == "Oceane2e":
        return parse_model_config({"name": name, "gm": SMALL, "source": SMALL, "kernel": {"form": "advective"}})
    if name == "ConvLSTM":
        return parse_model_config({"name": name, "hidden": [4], "kernel_size": 3})
    return parse_model_config({"name": name, **SMALL})


def trained_like(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Random non-zero weights everywhere (the read-outs start at zero = persistence)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


# ------------------------------------------------------------------------------------- registry
def test_every_stage2_model_is_registered_and_builds_from_data_info() -> None:
    assert {"Oceane2e", "SimVP", "ConvLSTM"} <= set(model_names("ssta"))
    assert model_names("velocity") == ["MultiConv"]
    for name in model_names("ssta"):
        model = build_model(small_config(name), info())
        out = rollout(model, batch(), 2)
        assert out.shape == (3, 2, H, W) and torch.isfinite(out).all()


def test_an_unknown_or_wrong_kind_of_model_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown ssta model 'MultiConv'.*ConvLSTM"):
        parse_model_config("MultiConv", kind="ssta")
    with pytest.raises(ConfigError, match="unknown model 'Nope'"):
        parse_model_config({"name": "Nope"})


def test_adding_a_model_is_one_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worked example of docs/dev/ADDING_A_MODEL.md: a module dropped into the package is found by
    the registry, validated by the stage-2 config and trained/inferred by the same code."""
    doc = (REPO / "docs" / "dev" / "ADDING_A_MODEL.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    pkg = tmp_path / "extra"
    pkg.mkdir()
    (pkg / "damped.py").write_text(textwrap.dedent(code))
    monkeypatch.setattr(model_baselines, "__path__", [*model_baselines.__path__, str(pkg)])
    monkeypatch.setattr(registry, "_SPECS", {})
    monkeypatch.delitem(sys.modules, "model_baselines.damped", raising=False)
    from oceane2e.stage2 import Stage2Config

    cfg = Stage2Config.model_validate({
        "data": {"root": "x", "train_years": [2001], "val_years": [2002], "test_years": [2003]},
        "model": {"name": "Damped", "rate_per_day": 0.1}, "train": {"name": "Damped"}})
    model = build_model(cfg.model, info())
    b = batch()
    out = rollout(model, b, 3)
    ocean = torch.as_tensor(info().mask)
    torch.testing.assert_close(out[:, 2][:, ocean], b["ssta"][:, 0][:, ocean] * float(np.exp(-0.3)))
    # the config round-trips through a checkpoint's JSON
    assert Stage2Config.model_validate(cfg.model_dump(mode="json")).model.rate_per_day == 0.1


def test_the_kernel_section_is_derived_from_kernel_options() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(KernelOptions)}
    section = KernelSection()
    for name, value in section.model_dump().items():
        assert value == defaults[name], name
    assert HybridConfig().kernel.options() == KernelOptions()
    with pytest.raises(ConfigError):
        parse_model_config({"name": "Oceane2e", "kernel": {"scheme": "reference", "diffusivity": 1.0}})


# ------------------------------------------------------------------------------------- DataInfo
def test_data_info_round_trips_as_plain_types_and_checks_the_grid() -> None:
    a = info(n_in=4, n_out=2)
    d = a.to_dict()
    assert all(isinstance(v, (list, dict, float, int)) for v in d.values())
    b = DataInfo.from_dict(d)
    assert np.array_equal(b.mask, a.mask) and np.allclose(b.lat, a.lat) and b.channels == a.channels
    assert (b.n_in, b.n_out, b.norm_stats) == (4, 2, a.norm_stats)
    a.check_grid(GridCoords(a.lat, a.lon), a.mask, source="m.pth", data="data/GS")
    with pytest.raises(DataContractError, match=r"m\.pth: trained on a 10x16 grid.*data/GS has a 10x15"):
        a.check_grid(GridCoords(a.lat, a.lon[:-1]), a.mask[:, :-1], source="m.pth", data="data/GS")
    other = a.mask.copy()
    other[0, 5] = False
    with pytest.raises(DataContractError, match="land mask differs.*in 1 cells"):
        a.check_grid(GridCoords(a.lat, a.lon), other, source="m.pth", data="data/GS")


# ------------------------------------------------------------------------------ external initial
@pytest.mark.parametrize("name", ["Oceane2e", "SimVP", "ConvLSTM"])
def test_rollout_from_an_external_initial_state(name: str) -> None:
    """``initial`` replaces day 0 exactly as a batch holding that day 0 would; land stays 0."""
    model = trained_like(build_model(small_config(name), info()))
    b = batch()
    g = torch.Generator().manual_seed(5)
    analysis = torch.randn(3, H, W, generator=g)
    currents = {"u_g": torch.randn(3, H, W, generator=g) * 0.3, "v_g": torch.randn(3, H, W, generator=g) * 0.3}
    with torch.no_grad():
        got = rollout(model, b, 3, initial={"ssta": analysis, **currents})
        edited = {k: v.clone() for k, v in b.items()}
        edited["ssta"][:, 0] = analysis
        edited["velocity"][:, 0, 0] = currents["u_g"]
        edited["velocity"][:, 0, 1] = currents["v_g"]
        want = rollout(model, edited, 3)
        plain = rollout(model, b, 3)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert not torch.allclose(got, plain)
    assert (got[:, :, ~torch.as_tensor(info().mask)] == 0).all()
    with pytest.raises(KeyError, match="initial has \\['sst'\\]"):
        rollout(model, b, 2, initial={"sst": analysis})


def test_velocity_forecast_from_an_external_initial_state() -> None:
    cfg = parse_model_config({"name": "MultiConv", **SMALL})
    vinfo = DataInfo(info().lat, info().lon, info().mask, {"state": ("u_g", "v_g")}, STATS, n_in=3, n_out=1)
    model = trained_like(build_model(cfg, vinfo))
    g = torch.Generator().manual_seed(2)
    mask = torch.as_tensor(vinfo.mask).expand(2, H, W)
    history = torch.randn(2, 3, 2, H, W, generator=g) * 0.3 * mask[:, None, None]
    day0 = {"u_g": torch.randn(2, H, W, generator=g) * 0.3, "v_g": torch.randn(2, H, W, generator=g) * 0.3}
    with torch.no_grad():
        got = model.forecast(history, mask, 4, initial=day0)
        edited = history.clone()
        edited[:, -1, 0], edited[:, -1, 1] = day0["u_g"], day0["v_g"]
        torch.testing.assert_close(got, model.forecast(edited, mask, 4), rtol=0, atol=0)
    with pytest.raises(KeyError, match="every channel"):
        model.forecast(history, mask, 4, initial={"u_g": day0["u_g"]})


# ------------------------------------------------------------------------- kernel per-sample steps
def _grid() -> SphericalGrid:
    i = info()
    return SphericalGrid.from_coords(i.lat, i.lon, i.mask, dtype=torch.float64)


def test_per_sample_substeps_make_each_sample_independent_of_its_batch() -> None:
    g = torch.Generator().manual_seed(0)
    grid = _grid()
    c = torch.randn(4, H, W, generator=g, dtype=torch.float64)
    scale = torch.tensor([0.1, 2.0, 0.1, 0.6], dtype=torch.float64).view(4, 1, 1)  # different Courant numbers
    u = torch.randn(4, H, W, generator=g, dtype=torch.float64) * scale
    v = torch.randn(4, H, W, generator=g, dtype=torch.float64) * scale
    opts = KernelOptions(substep_policy="per_sample", time_stepper="ssp_rk2", max_courant=0.9)
    together = advect(c, u, v, grid, options=opts)
    for i in range(4):
        alone = advect(c[i : i + 1], u[i : i + 1], v[i : i + 1], grid, options=opts)
        torch.testing.assert_close(together[i : i + 1], alone, rtol=0, atol=1e-15)
    shared = advect(c, u, v, grid, options=dataclasses.replace(opts, substep_policy="batch"))
    assert not torch.allclose(shared[0], together[0], rtol=0, atol=1e-12)  # the batch policy couples them
    # the differentiable path (one pass over the batch, samples ordered by count) and its gradients
    cg, ug = c.clone().requires_grad_(True), u.clone().requires_grad_(True)
    out = advect(cg, ug, v, grid, options=opts)
    torch.testing.assert_close(out.detach(), together, rtol=0, atol=1e-13)
    (out * c).sum().backward()
    for i in (1, 3):  # a sample that moves in the order, one that keeps its place
        ci, ui = c[i : i + 1].clone().requires_grad_(True), u[i : i + 1].clone().requires_grad_(True)
        (advect(ci, ui, v[i : i + 1], grid, options=opts) * c[i : i + 1]).sum().backward()
        torch.testing.assert_close(cg.grad[i : i + 1], ci.grad, rtol=0, atol=1e-12)
        torch.testing.assert_close(ug.grad[i : i + 1], ui.grad, rtol=1e-10, atol=1e-12)


def test_per_sample_substeps_keep_the_guards() -> None:
    """Issue 15 item 5: a runaway velocity in one sample of a batch raises; NaN names its cause."""
    grid = _grid()
    c = torch.zeros(2, H, W, dtype=torch.float64)
    u = torch.zeros(2, H, W, dtype=torch.float64)
    u[1] = 1e5
    opts = KernelOptions(substep_policy="per_sample")
    with pytest.raises(CourantError, match="max_substeps"):
        advect(c, u, u * 0, grid, options=opts)
    u[1] = float("nan")
    with pytest.raises(CourantError, match="not finite"):
        advect(c, u, u * 0, grid, options=opts)
