"""The CPU vector paths of torch, MKL, oneDNN, numpy and OpenBLAS: each library's own choice, or all held at AVX2.

torch, MKL, oneDNN, numpy and OpenBLAS each pick their vector instructions at run time from the CPU: AVX2 on
one machine, AVX-512 on another. The sums then round differently in the last bit, and a chaotic training (the
learned analysis' SGD) turns that into differences of a seed's size (docs/benchmarks.md, "Reproducibility").
``OCEANE2E_CPU_ISA=avx2`` holds every library at AVX2 on x86 CPUs that have it: torch, MKL and oneDNN by their
variables (measured on an AVX2 box: a 20-step conv training ends with other weights under
``ATEN_CPU_CAPABILITY=default``, ``MKL_CBWR=COMPATIBLE`` or ``ONEDNN_MAX_CPU_ISA=SSE41`` than with the native
choice, and with the same weights when each is held at AVX2), numpy and OpenBLAS too (on an AVX-512 box the
optimal interpolation, which feeds the learned analysis, came out with other last bits under OpenBLAS's SkylakeX
kernels and numpy's AVX-512 loops). Even so the learned analysis differed by ~1.5 % between an Intel AVX-512 box
and an AMD Zen 3 one, by a cause not found on one machine (the blocking oneDNN / MKL choose from the cache sizes?).

The default is ``native``, the libraries' own choice: measured on the AVX-512 box (docs/benchmarks.md, "The
vector paths: native by default"), the main command took 16.4 min instead of 18.2 and wrote every RMSE of the skill
table to the printed digit as with the pins, except the learned analysis' — which the pins did not hold across
CPUs either. ``avx2`` stays for comparing runs across machines (e.g. an AMD and an Intel box) as closely as can be.

:func:`pin_cpu_vector_paths` applies the choice: under ``avx2`` it sets the variables of :func:`vector_path_pins` (a
value already in the environment wins) on x86 CPUs that have AVX2. The libraries read them when they load, so the
entry points call it before ``import numpy`` / ``import torch``; child processes (the pipeline's second lane,
torchrun's workers) inherit them.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

SWITCH = "OCEANE2E_CPU_ISA"
PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own kernels
    "MKL_CBWR": "AVX2",  # MKL (torch's BLAS on x86)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's convolutions)
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scipy's OpenBLAS: its AVX2 kernels, also AMD Zen's
}
CHOICES = ("native", "avx2")  # the first is the default


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


def numpy_avx512_targets() -> str:
    """numpy's dispatch targets above AVX2, by the installed release (read from its metadata: numpy must not be
    imported before the variable is set). numpy 2.4 groups them as X86_V4 and two more; earlier releases name
    each, and warn (ImportWarning, hidden by default) about names their build does not dispatch."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(x) for x in version("numpy").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return ""
    if (major, minor) >= (2, 4):
        return "X86_V4 AVX512_ICL AVX512_SPR"
    return "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"


def vector_path_pins() -> dict[str, str]:
    """The variables and values that hold every library at AVX2: :data:`PINS` and numpy's (it has no fixed name set)."""
    npy = numpy_avx512_targets()
    return dict(PINS, NPY_DISABLE_CPU_FEATURES=npy) if npy else dict(PINS)


def vector_paths_choice(environ: Mapping[str, str] | None = None) -> str:
    """``native`` or ``avx2``: the user's ``OCEANE2E_CPU_ISA``, else the default; a wrong value ends the program
    with a message naming the variable and the choices."""
    env = os.environ if environ is None else environ
    choice = env.get(SWITCH, CHOICES[0]).strip().lower()
    if choice not in CHOICES:
        sys.exit(f"error: {SWITCH}={env[SWITCH]!r}: expected 'native' (the default: each library chooses its vector "
                 f"instructions from the CPU) or 'avx2' (the same vector paths on every x86 CPU with AVX2; slower on "
                 f"AVX-512 CPUs). Fix or unset it.")
    return choice


def pin_cpu_vector_paths(environ: MutableMapping[str, str] | None = None, has_avx2: bool | None = None) -> dict[str, str]:
    """Under ``OCEANE2E_CPU_ISA=avx2``, hold torch / MKL / oneDNN / OpenBLAS / numpy at AVX2; return what was set."""
    env = os.environ if environ is None else environ
    if vector_paths_choice(env) != "avx2" or not (cpu_has_avx2() if has_avx2 is None else has_avx2):
        return {}
    set_now = {k: v for k, v in vector_path_pins().items() if k not in env}
    env.update(set_now)
    return set_now
