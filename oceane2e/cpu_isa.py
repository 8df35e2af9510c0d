"""The same bits on every x86 CPU: torch's vector code paths held at AVX2.

torch, MKL and oneDNN each pick their vector instructions at run time from the CPU: AVX2 on one
machine, AVX-512 on another. The sums then round differently in the last bit, and a chaotic
training (the learned analysis' SGD) turns that into differences of a seed's size (docs/benchmarks.md,
"Reproducibility"). Measured on this project's AVX2 box, a 20-step conv training ends with other weights
under ``ATEN_CPU_CAPABILITY=default``, ``MKL_CBWR=COMPATIBLE`` or ``ONEDNN_MAX_CPU_ISA=SSE41`` than with
the native choice, and with the same weights when each is held at AVX2: so holding them at AVX2 changes
nothing on an AVX2 machine and makes an AVX-512 one compute the same paths.

:func:`pin_cpu_vector_paths` sets the three variables (a value already in the environment wins), on
x86 CPUs that have AVX2 only. The libraries read them when they start, so the entry points call it before
``import torch``; child processes (the pipeline's second lane, torchrun's workers) inherit them.
``OCEANE2E_CPU_ISA=native`` leaves the choice to the libraries (faster on AVX-512 machines; results then
depend on the CPU). numpy's own dispatch is left alone: the synthetic ocean and the classical scores came
out byte for byte on both kinds of box.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import MutableMapping
from pathlib import Path

SWITCH = "OCEANE2E_CPU_ISA"
PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
CHOICES = ("avx2", "native")


def cpu_has_avx2(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True on an x86-64 CPU whose flags list AVX2 (Linux); False elsewhere (unknown: leave it alone)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return "avx2" in line.split(":", 1)[-1].split()
    return False


def pin_cpu_vector_paths(environ: MutableMapping[str, str] | None = None, has_avx2: bool | None = None) -> dict[str, str]:
    """Hold torch / MKL / oneDNN at AVX2 unless ``OCEANE2E_CPU_ISA=native``; return what was set."""
    env = os.environ if environ is None else environ
    choice = env.get(SWITCH, "avx2").strip().lower()
    if choice not in CHOICES:
        sys.exit(f"error: {SWITCH}={env[SWITCH]!r}: expected 'avx2' (the default: the same bits on every x86 CPU "
                 f"with AVX2) or 'native' (the libraries choose; results depend on the CPU). Fix or unset it.")
    if choice == "native" or not (cpu_has_avx2() if has_avx2 is None else has_avx2):
        return {}
    set_now = {k: v for k, v in PINS.items() if k not in env}
    env.update(set_now)
    return set_now
