"""Shared pytest fixtures.

The tests compute with the vector paths the entry points choose (oceane2e.cpu_isa): under
``OCEANE2E_CPU_ISA=avx2`` set before numpy and torch load, so that this process and the entry points it starts
(torchrun's workers in the two-process tests) compute the same bits also on an AVX-512 machine.
"""

from __future__ import annotations

import sys

from oceane2e.cpu_isa import pin_cpu_vector_paths, vector_paths_choice

# a plugin that loaded numpy or torch first would leave this process on other paths than its children
if vector_paths_choice() == "avx2" and {"numpy", "torch"} & set(sys.modules):
    raise RuntimeError("tests/conftest.py: numpy or torch was imported before the CPU vector paths were pinned "
                       "(a pytest plugin?); run with -p no:<plugin> or unset OCEANE2E_CPU_ISA (the native paths)")
pin_cpu_vector_paths()

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
REALDATA = SHARED / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real reference data beside the project (../shared/realdata). Required, never skipped."""
    if not REALDATA.is_dir():
        raise FileNotFoundError(
            f"{REALDATA} not found: the tests need ../shared/realdata beside the repository"
        )
    return REALDATA


@pytest.fixture
def one_thread():
    """Tiny convolutions run fastest on one thread; several threads thrash on a shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
