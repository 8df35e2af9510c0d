"""The entry points keep freed memory with the process (glibc's malloc thresholds), so tensors made and freed step
after step reuse pages instead of faulting fresh ones in from the OS each time."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oceane2e import memory
from oceane2e.memory import SETTINGS, SWITCH, keep_freed_memory

REPO = Path(__file__).resolve().parents[2]

#: page faults of 10 rounds of 20 arrays of 4 MiB made and freed, after one round to warm up (numpy's large
#: arrays come from the C library's malloc, as torch's CPU tensors do)
ROUNDS = """
import resource, numpy as np
from oceane2e.memory import keep_freed_memory
keep_freed_memory()
def rounds(n):
    for _ in range(n):
        xs = [np.ones(1024 * 1024, np.float32) for _ in range(20)]
        del xs
rounds(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(10)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

TRAIN = """
import hashlib, torch
from oceane2e.memory import keep_freed_memory
keep_freed_memory()
torch.manual_seed(0); torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(2, 16, 3, padding=1), torch.nn.GroupNorm(2, 16), torch.nn.SiLU(),
                          torch.nn.Conv2d(16, 1, 3, padding=1)).to(memory_format=torch.channels_last)
opt = torch.optim.AdamW(net.parameters(), 1e-3)
x, y = torch.randn(8, 2, 64, 64), torch.randn(8, 1, 64, 64)
for _ in range(5):
    loss = ((net(x) - y) ** 2).mean(); opt.zero_grad(); loss.backward(); opt.step()
print(hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest())
"""


def _child(code: str, choice: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in (SWITCH, "GLIBC_TUNABLES")}
    env |= {SWITCH: choice, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                          cwd=REPO, timeout=120).stdout.strip()


class _FakeLibc:
    def __init__(self, accepts: bool = True) -> None:
        self.calls: list[tuple[int, int]] = []
        self.accepts = accepts

    def mallopt(self, param: ctypes.c_int, value: ctypes.c_int) -> int:
        self.calls.append((param.value, value.value))
        return 1 if self.accepts else 0


def test_the_thresholds_are_set_unless_the_user_chose_glibcs_own() -> None:
    libc = _FakeLibc()
    assert keep_freed_memory({}, libc=libc) == SETTINGS
    assert dict(libc.calls) == SETTINGS
    assert SETTINGS[memory.M_TRIM_THRESHOLD] == -1 and SETTINGS[memory.M_MMAP_THRESHOLD] == 32 * 1024**2
    for env in ({SWITCH: "default"}, {SWITCH: " Default "},
                {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"},
                {"GLIBC_TUNABLES": "glibc.cpu.x86_rep_movsb_threshold=1:glibc.malloc.mmap_threshold=65536"}):
        libc = _FakeLibc()
        assert keep_freed_memory(env, libc=libc) == {} and libc.calls == []
    # another tunable leaves the choice to this module; a refused setting is not reported as set
    libc = _FakeLibc(accepts=False)
    assert keep_freed_memory({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"}, libc=libc) == {}
    assert len(libc.calls) == len(SETTINGS)


def test_a_wrong_switch_value_is_an_error_naming_the_variable_and_the_choices() -> None:
    with pytest.raises(SystemExit) as err:
        keep_freed_memory({SWITCH: "jemalloc"}, libc=_FakeLibc())
    assert all(s in str(err.value) for s in (SWITCH, "'jemalloc'", "'keep'", "'default'"))


@pytest.mark.skipif(memory._glibc() is None, reason="glibc's malloc only (Linux)")
def test_memory_freed_and_made_again_faults_far_fewer_pages_in() -> None:
    kept, default = int(_child(ROUNDS, "keep")), int(_child(ROUNDS, "default"))
    # 10 rounds x 80 MiB = 200k pages of 4 KiB if every round faults its memory in afresh
    assert default > 50_000, f"glibc's own thresholds faulted only {default} pages: the test no longer measures"
    assert kept * 5 < default, f"keep: {kept} page faults, default: {default}"


@pytest.mark.skipif(memory._glibc() is None, reason="glibc's malloc only (Linux)")
def test_training_is_bit_for_bit_the_same_with_memory_kept() -> None:
    assert _child(TRAIN, "keep") == _child(TRAIN, "default")


def test_every_entry_point_keeps_freed_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the scripts (oceane2e.entry.run_entry) and `oceane2e <command>` / `python -m oceane2e` (oceane2e.cli.main)
    from oceane2e import cli, entry

    calls: list[str] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("cli"))
    monkeypatch.setattr(entry, "keep_freed_memory", lambda: calls.append("entry"))
    assert cli.main(["--help"]) == 0
    config = tmp_path / "c.yaml"
    config.write_text("{}")
    ran: list[str] = []
    assert entry.run_entry(["--config", str(config)], "test", config, lambda path, overrides: {},
                           lambda cfg, args, info: ran.append("action")) == 0
    assert calls == ["cli", "entry"] and ran == ["action"]
