"""The same vector code paths on every x86 CPU: those of torch, MKL, oneDNN, numpy and OpenBLAS held at AVX2.

torch, MKL, oneDNN, numpy and OpenBLAS each pick their vector instructions at run time from the CPU: AVX2 on
one machine, AVX-512 on another. The sums then round differently in the last bit, and a chaotic training (the
learned analysis' SGD) turns that into differences of a seed's size (docs/benchmarks.md, "Reproducibility").
Measured on this project's AVX2 box, a 20-step conv training ends with other weights under
``ATEN_CPU_CAPABILITY=default``, ``MKL_CBWR=COMPATIBLE`` or ``ONEDNN_MAX_CPU_ISA=SSE41`` than with the native
choice, and with the same weights when each is held at AVX2. On an AVX-512 box (an Intel Xeon with AVX512-FP16) the
torch pins alone were not enough: the optimal interpolation, which feeds the learned analysis, came out with
other last bits under OpenBLAS's SkylakeX kernels than under its Haswell ones (which AMD Zen runs too), and
under numpy's AVX-512 loops than under its AVX2 ones; the pipeline's learned analysis then moved by 0.6 %.
So numpy and OpenBLAS are held too. That was not all: with every pin here the learned analysis still differed
by ~1.5 % between that box and an AMD Zen 3 one (every other output the same to the printed digit), by a cause not
found on one machine (the blocking oneDNN / MKL choose from the cache sizes?).

:func:`pin_cpu_vector_paths` sets the variables of :func:`vector_path_pins` (a value already in the environment wins), on
x86 CPUs that have AVX2 only. The libraries read them when they load, so the entry points call it before
``import numpy`` / ``import torch``; child processes (the pipeline's second lane, torchrun's workers) inherit
them. ``OCEANE2E_CPU_ISA=native`` leaves the choice to the libraries (13-15 % faster training on an AVX-512
machine; results then depend on the CPU).
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import MutableMapping
from pathlib import Path

SWITCH = "OCEANE2E_CPU_ISA"
PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own kernels
    "MKL_CBWR": "AVX2",  # MKL (torch's BLAS on x86)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's convolutions)
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scipy's OpenBLAS: its AVX2 kernels, also AMD Zen's
}
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


def pin_cpu_vector_paths(environ: MutableMapping[str, str] | None = None, has_avx2: bool | None = None) -> dict[str, str]:
    """Hold torch / MKL / oneDNN / OpenBLAS / numpy at AVX2 unless ``OCEANE2E_CPU_ISA=native``; return what was set."""
    env = os.environ if environ is None else environ
    choice = env.get(SWITCH, "avx2").strip().lower()
    if choice not in CHOICES:
        sys.exit(f"error: {SWITCH}={env[SWITCH]!r}: expected 'avx2' (the default: the same vector paths on every x86 CPU "
                 f"with AVX2) or 'native' (the libraries choose; results depend on the CPU). Fix or unset it.")
    if choice == "native" or not (cpu_has_avx2() if has_avx2 is None else has_avx2):
        return {}
    set_now = {k: v for k, v in vector_path_pins().items() if k not in env}
    env.update(set_now)
    return set_now
