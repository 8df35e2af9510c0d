"""The torch.compile-fused sub-steps (KernelOptions(compile=True)) give the eager kernel's results.

The first compilation in a process pays TorchInductor's start-up (~10 s cold on 2 shared cores, ~2 s
with a warm disk cache); the default run compiles two configurations, the slow-marked cases two more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch._dynamo.utils

from oceane2e.physics import KernelOptions, SphericalGrid, advect
from oceane2e.physics import compiled as compiled_mod

DAY = 86400.0
REPO = Path(__file__).resolve().parents[2]
LAT = 32.25 + 0.5 * np.arange(16)
LON = -75.75 + 0.5 * np.arange(20)


def _case(dtype: torch.dtype) -> tuple[SphericalGrid, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 16×20 grid with an island and a land strip, random anomaly (K) and velocity (m/s), batch 2."""
    mask = np.ones((16, 20), dtype=bool)
    mask[6:9, 8:12] = False
    mask[:, :2] = False
    grid = SphericalGrid.from_coords(LAT, LON, mask, dtype=dtype)
    gen = torch.Generator().manual_seed(3)
    c = torch.randn(2, 16, 20, dtype=torch.float64, generator=gen)
    c[:, ~torch.as_tensor(mask)] = float("nan")  # land NaN must not leak
    u, v = (0.4 * torch.randn(2, 16, 20, dtype=torch.float64, generator=gen) for _ in range(2))
    return grid, c.to(dtype), u.to(dtype), v.to(dtype)


@pytest.mark.parametrize(
    ("opts", "dtype", "tol"),
    [
        (KernelOptions(compile=True), torch.float64, 1e-12),
        pytest.param(
            KernelOptions(time_stepper="ssp_rk2", limiter="minmod", diffusivity=300.0, compile=True),
            torch.float64,
            1e-12,
            marks=pytest.mark.slow,  # each configuration compiles anew (~2-3 s)
        ),
        pytest.param(
            KernelOptions(limiter="none", time_stepper="ssp_rk1", max_courant=1.0, form="advective", compile=True),
            torch.float64,
            1e-12,
            marks=pytest.mark.slow,
        ),
        (KernelOptions(time_stepper="ssp_rk2", max_courant=1.0, compile=True), torch.float32, 1e-5),
    ],
    ids=["rk3-vanleer-f64", "rk2-minmod-diffusion-f64", "upwind-advective-f64", "rk2-vanleer-c1-f32"],
)
def test_compiled_path_matches_the_differentiable_path(opts: KernelOptions, dtype: torch.dtype, tol: float) -> None:
    grid, c, u, v = _case(dtype)
    eager = advect(c.clone().requires_grad_(True), u, v, grid, DAY, opts).detach()  # autograd: never compiled
    with torch.no_grad():
        fused = advect(c, u, v, grid, DAY, opts)
    ocean = grid.mask
    assert torch.isfinite(fused[:, ocean]).all()
    assert torch.equal(fused[:, ~ocean].isnan(), c[:, ~ocean].isnan())  # land keeps its input
    scale = c[:, ocean].abs().max().item()
    torch.testing.assert_close(fused, eager, rtol=0, atol=tol * scale, equal_nan=True)


def test_changing_the_substep_count_does_not_recompile() -> None:
    grid, c, u, v = _case(torch.float64)
    opts = KernelOptions(compile=True)  # same configuration as the first parametrised case above
    stats = torch._dynamo.utils.counters["stats"]
    with torch.no_grad():
        advect(c, u, v, grid, DAY, opts)
        graphs = stats["unique_graphs"]
        assert graphs >= 1
        for dt in (0.5 * DAY, 2 * DAY, 3 * DAY):  # other numbers of sub-steps and step sizes
            advect(c, u, v, grid, dt, opts)
    assert stats["unique_graphs"] == graphs


def test_failed_compilation_warns_and_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    grid, c, u, v = _case(torch.float64)
    opts = KernelOptions(time_stepper="ssp_rk2", limiter="superbee", compile=True)

    def broken(*args: object, **kwargs: object) -> torch.Tensor:
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(compiled_mod, "_COMPILED", [broken])
    monkeypatch.setattr(compiled_mod, "_FAILED", set())
    with torch.no_grad(), pytest.warns(RuntimeWarning, match="torch.compile of the sub-step failed"):
        out = advect(c, u, v, grid, DAY, opts)
    with torch.no_grad():
        eager = advect(c, u, v, grid, DAY, KernelOptions(time_stepper="ssp_rk2", limiter="superbee"))
    torch.testing.assert_close(out, eager, rtol=0, atol=0, equal_nan=True)
    assert ("ssp_rk2", "superbee", False) in compiled_mod._FAILED


PROBE = """
import json, numpy as np, torch, torch._dynamo.utils
from oceane2e.physics import KernelOptions, SphericalGrid, advect
from oceane2e.physics.compiled import _vector_width_options
mask = np.ones((16, 20), dtype=bool); mask[6:9, 8:12] = False
grid = SphericalGrid.from_coords(32.25 + 0.5 * np.arange(16), -75.75 + 0.5 * np.arange(20), mask, dtype=torch.float64)
gen = torch.Generator().manual_seed(3)
c, u, v = (torch.randn(2, 16, 20, dtype=torch.float64, generator=gen) for _ in range(3))
with torch.no_grad():
    out = advect(c, 0.4 * u, 0.4 * v, grid, 86400.0, KernelOptions(compile=True))
assert torch.isfinite(out[:, torch.as_tensor(mask)]).all()
print(json.dumps({"options": _vector_width_options(), "inductor": dict(torch._dynamo.utils.counters["inductor"])}))
"""


def _probe(cache: Path, extra: dict[str, str]) -> dict:
    from oceane2e.cpu_isa import SWITCH, vector_path_pins

    env = {k: v for k, v in os.environ.items() if k not in vector_path_pins() and k != SWITCH}
    env |= {"PYTHONPATH": str(REPO), "TORCHINDUCTOR_CACHE_DIR": str(cache)} | extra
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_graph_cached_at_one_vector_width_is_not_reused_at_another(tmp_path: Path) -> None:
    """Inductor's disk cache keyed its graphs on the compile options, not on the vector width it picked from
    ``ATEN_CPU_CAPABILITY``: on an AVX-512 box a graph cached under the AVX2 pins was reused without them, its
    kernels rebuilt for 512-bit vectors, and the process died of heap corruption. The width is now an option:
    a run at another width compiles its own graph; one at the same width reuses the cache."""
    pinned = _probe(tmp_path, {"ATEN_CPU_CAPABILITY": "avx2"})
    native = _probe(tmp_path, {})
    if not pinned["options"]:  # Inductor does not vectorise on this CPU: nothing to tell apart
        pytest.skip("TorchInductor picks no vector ISA on this machine")
    assert pinned["options"] == {"cpp.simdlen": 256} and pinned["inductor"].get("fxgraph_cache_miss") == 1
    if native["options"] != pinned["options"]:
        assert native["inductor"].get("fxgraph_cache_miss") == 1 and not native["inductor"].get("fxgraph_cache_hit")
    else:
        assert native["inductor"].get("fxgraph_cache_hit") == 1
