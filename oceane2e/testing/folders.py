"""Tiny, valid data folders for tests anywhere in the project.

``write_tiny_folder(tmp_path)`` writes a complete contract folder (``geo_YYYY.nc``,
``mhw_YYYY.nc``, ``mask.npy``, ``clim.nc``) of a few years on a small grid in well under a
second, with values that are a deterministic function of ``(seed, kind, year)`` so that a test can
compare what a reader returns with :func:`tiny_year_data` independently of the reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oceane2e.data.contract import (
    CLIM_FILE,
    CONTENTS_FILE,
    KIND_CHANNELS,
    MASK_FILE,
    VARIABLE,
    GridCoords,
    days_in_year,
    write_clim,
    write_mask,
    write_year,
    year_path,
)

TINY_LAT_BOUNDS: tuple[float, float] = (30.0, 32.0)
TINY_LON_BOUNDS: tuple[float, float] = (-70.0, -67.0)

# (mean, std) of each channel in tiny folders, in physical units; distinct means make
# normalisation tests meaningful.
_CHANNEL_MOMENTS: dict[str, tuple[float, float]] = {
    "u_g": (0.05, 0.2),
    "v_g": (-0.02, 0.15),
    "ssta": (0.3, 1.0),
    "zos": (0.1, 0.3),
    "u10": (5.0, 3.0),
    "v10": (-1.0, 2.5),
    "t2m": (290.0, 5.0),
}


@dataclass
class TinyFolder:
    """What :func:`write_tiny_folder` wrote.

    Attributes:
        root: the data folder.
        years: the years written.
        coords: grid coordinates (degrees).
        mask: (H, W) bool, True over the ocean.
        geo, mhw: year -> path of the yearly files.
        mask_path, clim_path: paths of ``mask.npy`` and ``clim.nc``.
        shape, seed: as passed.
    """

    root: Path
    years: list[int]
    coords: GridCoords
    mask: np.ndarray
    geo: dict[int, Path] = field(default_factory=dict)
    mhw: dict[int, Path] = field(default_factory=dict)
    mask_path: Path | None = None
    clim_path: Path | None = None
    shape: tuple[int, int] = (8, 12)
    seed: int = 0

    def paths(self, kind: str) -> dict[int, Path]:
        """Year -> path of the ``kind`` files."""
        return self.geo if kind == "geo" else self.mhw

    def data(self, kind: str, year: int) -> np.ndarray:
        """The (T, C, H, W) float32 values written for ``kind``/``year`` (NaN on land)."""
        return tiny_year_data(kind, year, self.shape, self.seed, self.mask)


def tiny_mask(shape: Sequence[int]) -> np.ndarray:
    """(H, W) bool mask with land along the west edge, the north-west corner and one island cell."""
    h, w = shape
    mask = np.ones((h, w), dtype=bool)
    mask[:, 0] = False
    mask[h - 2 :, : max(2, w // 4)] = False
    mask[h // 2, w // 2] = False
    return mask


def tiny_year_data(
    kind: str, year: int, shape: Sequence[int], seed: int = 0, mask: np.ndarray | None = None
) -> np.ndarray:
    """Deterministic (T, C, H, W) float32 values for one tiny year, NaN where ``mask`` is land.

    Each channel is its mean plus a smooth seasonal cycle plus noise, in the channel's units.
    """
    names = KIND_CHANNELS[kind]
    kind_id = list(KIND_CHANNELS).index(kind)
    rng = np.random.default_rng([seed, year, kind_id])
    n = days_in_year(year)
    h, w = shape
    doy = np.arange(n, dtype=np.float64)[:, None, None]
    out = np.empty((n, len(names), h, w), dtype=np.float32)
    for c, name in enumerate(names):
        mean, std = _CHANNEL_MOMENTS[name]
        season = 0.5 * std * np.sin(2 * np.pi * doy / 365.25)
        out[:, c] = mean + season + std * rng.standard_normal((n, h, w))
    if mask is not None:
        out[:, :, ~np.asarray(mask, dtype=bool)] = np.nan
    return out


def write_reference_layout_year(path: str | Path, data: np.ndarray) -> Path:
    """Write a file as the reference release does: only ``mhws_variables`` (T, C, H, W), no
    coordinates, no channel names, no attributes."""
    import netCDF4

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t, c, h, w = data.shape
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        for name, size in zip(("time", "channel", "lat", "lon"), (t, c, h, w), strict=True):
            ds.createDimension(name, size)
        var = ds.createVariable(VARIABLE, "f4", ("time", "channel", "lat", "lon"))
        var.set_auto_maskandscale(False)
        var[:] = np.asarray(data, dtype=np.float32)
    return path


def write_tiny_folder(
    root: str | Path,
    years: Sequence[int] = (2001, 2002, 2003),
    shape: Sequence[int] = (8, 12),
    seed: int = 0,
    *,
    lat_bounds: tuple[float, float] = TINY_LAT_BOUNDS,
    lon_bounds: tuple[float, float] = TINY_LON_BOUNDS,
    reference_layout: bool = False,
    clim: bool = True,
    sst_only: bool = False,
) -> TinyFolder:
    """Write a tiny, valid data folder and return what was written.

    Args:
        root: folder to write into (created).
        years: calendar years; one ``geo_YYYY.nc`` and one ``mhw_YYYY.nc`` each.
        shape: grid (H, W).
        seed: values are a deterministic function of ``(seed, kind, year)``.
        lat_bounds, lon_bounds: edges of the region in degrees; cell centres fill them.
        reference_layout: write the yearly files as the reference release does (only
            ``mhws_variables``); readers then need ``lat_bounds``/``lon_bounds``.
        clim: also write ``clim.nc`` (SST climatology, 15 degC mean plus a seasonal cycle).
        sst_only: write the folder ``prepare-data`` makes from SST alone: ``mhw_YYYY.nc`` with the
            single channel ``ssta`` (the first channel of :func:`tiny_year_data`), no geo files, and
            every other channel declared absent (file attribute and ``contents.json``).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shape = (int(shape[0]), int(shape[1]))
    coords = GridCoords.from_bounds(lat_bounds, lon_bounds, shape)
    mask = tiny_mask(shape)
    tiny = TinyFolder(root=root, years=[int(y) for y in years], coords=coords, mask=mask, shape=shape, seed=seed)
    absent = [c for kind in ("geo", "mhw") for c in KIND_CHANNELS[kind] if c != "ssta"]
    for year in tiny.years:
        for kind in ("mhw",) if sst_only else ("geo", "mhw"):
            data = tiny_year_data(kind, year, shape, seed, mask)
            path = year_path(root, kind, year)
            if sst_only:
                write_year(path, kind, year, data[:, :1], coords, mask=mask, channels=("ssta",),
                           attrs={"synthetic": True, "source": "tiny SST-only test folder",
                                  "absent_channels": ",".join(absent)})
            elif reference_layout:
                write_reference_layout_year(path, data)
            else:
                write_year(path, kind, year, data, coords, mask=mask, attrs={"synthetic": True, "source": "tiny test folder"})
            tiny.paths(kind)[year] = path
    if sst_only:
        import json

        (root / CONTENTS_FILE).write_text(json.dumps({"years": tiny.years, "absent_channels": absent}) + "\n")
    tiny.mask_path = write_mask(root, mask)
    assert tiny.mask_path == root / MASK_FILE
    if clim:
        doy = np.arange(366, dtype=np.float64)[:, None, None]
        seas = 15.0 + 3.0 * np.sin(2 * np.pi * doy / 366.0) + np.zeros((1, *shape))
        thresh = seas + 1.5
        tiny.clim_path = write_clim(
            root / CLIM_FILE,
            seas,
            thresh,
            coords,
            variable="sst",
            baseline=(tiny.years[0], tiny.years[-1]),
            window_half_width=5,
            smooth_width=31,
            percentile=90.0,
            mask=mask,
        )
    return tiny
