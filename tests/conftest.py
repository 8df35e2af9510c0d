"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

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
