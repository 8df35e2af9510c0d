"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

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
