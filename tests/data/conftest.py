"""Fixtures writing tiny contract folders (see ``oceane2e.testing.folders``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from oceane2e.data.config import DataConfig
from oceane2e.testing.folders import TinyFolder, write_tiny_folder

YEARS = (2001, 2002, 2003, 2004)


@pytest.fixture(scope="session")
def tiny_master(tmp_path_factory: pytest.TempPathFactory) -> TinyFolder:
    """A valid four-year tiny folder, written once per session; never modify it (use ``tiny``)."""
    return write_tiny_folder(tmp_path_factory.mktemp("tiny_master"), years=YEARS)


@pytest.fixture
def tiny(tiny_master: TinyFolder, tmp_path: Path) -> TinyFolder:
    """A private copy of the tiny folder that a test may corrupt."""
    root = tmp_path / "data"
    shutil.copytree(tiny_master.root, root)
    copy = TinyFolder(
        root=root,
        years=list(tiny_master.years),
        coords=tiny_master.coords,
        mask=tiny_master.mask.copy(),
        geo={y: root / p.name for y, p in tiny_master.geo.items()},
        mhw={y: root / p.name for y, p in tiny_master.mhw.items()},
        mask_path=root / tiny_master.mask_path.name,
        clim_path=root / tiny_master.clim_path.name,
        shape=tiny_master.shape,
        seed=tiny_master.seed,
    )
    return copy


@pytest.fixture
def tiny_cfg(tiny_master: TinyFolder) -> Callable[..., DataConfig]:
    """Factory of a DataConfig over the (read-only) tiny folder: 2001-2002 train, 2003 val, 2004 test."""

    def make(**overrides) -> DataConfig:
        fields = dict(root=tiny_master.root, train_years=[2001, 2002], val_years=[2003], test_years=[2004])
        fields.update(overrides)
        return DataConfig(**fields)

    return make
