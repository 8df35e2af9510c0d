"""Fixtures shared by the network tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every model test runs on one thread (the shared fixture of tests/conftest.py)."""
    yield
