"""Issue 15.10: the entry points choose a passive OpenMP wait policy before torch is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = ("import sys, os, oceane2e.entry; "
         "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")


def _probe(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | {"PYTHONPATH": str(REPO)} | env_extra
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True,
                          cwd=REPO, timeout=60).stdout.strip()


def test_entry_sets_passive_wait_policy_unless_the_user_chose() -> None:
    assert _probe({}) == "PASSIVE True"
    assert _probe({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE True"


def test_entry_scripts_import_the_entry_module_first() -> None:
    for script in ("train_vel", "inference_vel", "train_online", "inference", "train_baseline", "inference_baseline"):
        lines = [ln for ln in (REPO / f"{script}.py").read_text().splitlines()
                 if ln.startswith(("import ", "from ")) and ln != "import sys"]
        assert lines[0] == "from oceane2e.entry import run_entry", script
