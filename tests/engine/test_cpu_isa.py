"""The entry points leave the CPU vector paths to the libraries, or with ``OCEANE2E_CPU_ISA=avx2`` hold torch / MKL / oneDNN /
numpy / OpenBLAS at AVX2, so x86 CPUs with and without AVX-512 take the same vector paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oceane2e import cpu_isa
from oceane2e.cpu_isa import (
    SWITCH,
    cpu_has_avx2,
    numpy_avx512_targets,
    pin_cpu_vector_paths,
    vector_path_pins,
    vector_paths_choice,
)

REPO = Path(__file__).resolve().parents[2]
TRAIN = """
import hashlib, torch
torch.manual_seed(0); torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(2, 16, 3, padding=1), torch.nn.GELU(), torch.nn.Conv2d(16, 1, 3, padding=1))
opt = torch.optim.AdamW(net.parameters(), 1e-3)
x, y = torch.randn(4, 2, 32, 32), torch.randn(4, 1, 32, 32)
for _ in range(5):
    loss = ((net(x) - y) ** 2).mean(); opt.zero_grad(); loss.backward(); opt.step()
print(hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest())
"""


def _child(code: str, env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in vector_path_pins() and k != SWITCH} | {"PYTHONPATH": str(REPO)} | env_extra
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                          cwd=REPO, timeout=120).stdout.strip()


def test_the_pins_are_set_when_asked_for_on_a_cpu_with_avx2() -> None:
    env: dict[str, str] = {}
    assert pin_cpu_vector_paths(env, has_avx2=True) == {} and env == {}  # the default: the libraries choose
    for env in ({SWITCH: "native"}, {SWITCH: " Native "}):
        assert pin_cpu_vector_paths(env, has_avx2=True) == {} and set(env) == {SWITCH}
    expected = vector_path_pins()
    env = {SWITCH: "avx2"}
    assert pin_cpu_vector_paths(env, has_avx2=True) == expected and env == {SWITCH: "avx2"} | expected
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and "AVX512_ICL" in env["NPY_DISABLE_CPU_FEATURES"]
    env = {SWITCH: " AVX2", "MKL_CBWR": "COMPATIBLE"}
    assert "MKL_CBWR" not in pin_cpu_vector_paths(env, has_avx2=True) and env["MKL_CBWR"] == "COMPATIBLE"
    assert env["ATEN_CPU_CAPABILITY"] == "avx2"
    env = {SWITCH: "avx2"}
    assert pin_cpu_vector_paths(env, has_avx2=False) == {} and env == {SWITCH: "avx2"}


def test_a_wrong_switch_value_is_an_error_naming_the_variable_and_the_choices() -> None:
    with pytest.raises(SystemExit) as err:
        pin_cpu_vector_paths({SWITCH: "avx512"}, has_avx2=True)
    assert all(s in str(err.value) for s in (SWITCH, "'avx512'", "'avx2'", "'native'"))
    assert vector_paths_choice({}) == "native" and vector_paths_choice({SWITCH: "AVX2 "}) == "avx2"


def test_avx2_is_read_from_the_cpu_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "cpuinfo"
    monkeypatch.setattr(cpu_isa.platform, "machine", lambda: "x86_64")
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx fma avx2 bmi2\n")
    assert cpu_has_avx2(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx fma avx2_like\n")
    assert not cpu_has_avx2(info)
    assert not cpu_has_avx2(tmp_path / "missing")
    monkeypatch.setattr(cpu_isa.platform, "machine", lambda: "arm64")
    info.write_text("flags\t: avx2\n")
    assert not cpu_has_avx2(info)


def test_the_entry_module_pins_the_paths_when_asked_which_keeps_an_avx2_cpus_own_bits() -> None:
    """What the children of an entry point see by default (nothing set: the libraries choose) and under
    ``avx2``, why the pin exists (another vector path gives other weights after 5 steps) and why it costs nothing
    on a CPU with AVX2 and without AVX-512 (the same weights)."""
    probe = ("import os, oceane2e.entry, torch; print(os.environ.get('ATEN_CPU_CAPABILITY'), "
             "os.environ.get('MKL_CBWR'), os.environ.get('ONEDNN_MAX_CPU_ISA'), torch.backends.cpu.get_cpu_capability())")
    pinned = _child(probe + TRAIN, {SWITCH: "avx2"}).split()
    native = _child(probe + TRAIN, {}).split()
    other_path = _child(TRAIN, {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"})
    assert native[:3] == ["None"] * 3 and other_path != native[-1]
    if cpu_has_avx2():
        assert pinned[:4] == ["avx2", "AVX2", "AVX2", "AVX2"]
        flags = Path("/proc/cpuinfo").read_text()
        if "avx512" not in flags:
            assert pinned[-1] == native[-1]


def test_numpy_and_openblas_are_held_at_avx2_too() -> None:
    """Under ``avx2``: on an AVX-512 box the torch pins alone left the OI (OpenBLAS's SkylakeX kernels, numpy's AVX-512 loops) with
    other last bits than an AVX2 box's, and the learned analysis trained on it moved by 0.6 %. Under the entry
    module numpy dispatches to none of its AVX-512 targets (and does not warn about their names); OpenBLAS runs its Haswell
    kernels: a matrix product has the bits it has with ``OPENBLAS_CORETYPE=Haswell`` asked for by hand."""
    matmul = ("import hashlib, numpy as np; r = np.random.default_rng(0); a, b = r.standard_normal((2, 97, 131)); "
              "print(hashlib.sha1((a @ b.T).tobytes() + np.exp(a).tobytes()).hexdigest()[:12])")
    probe = ("import warnings; warnings.simplefilter('error', ImportWarning)\n"
             "import oceane2e.entry, numpy\n"
             "from numpy._core._multiarray_umath import __cpu_features__ as f\n"
             f"print(','.join(k for k in {numpy_avx512_targets().split()!r} if f.get(k)) or '-')\n")
    pinned = _child(probe + matmul, {SWITCH: "avx2"}).split()
    native = _child(probe + matmul, {}).split()
    by_hand = _child(matmul, {"OPENBLAS_CORETYPE": "Haswell",
                              "NPY_DISABLE_CPU_FEATURES": numpy_avx512_targets()})
    if cpu_has_avx2():
        assert pinned[0] == "-" and pinned[1] == by_hand
        if "avx512f" in Path("/proc/cpuinfo").read_text():
            assert native[0] != "-"  # the machine has them: the pin is what turned them off
    else:
        assert pinned == native
