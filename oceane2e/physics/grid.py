"""Spherical latitude-longitude grid metrics for the dynamic kernel (DESIGN.md §5).

The grid is built from the data's own cell-centre coordinates (degrees) and ocean mask, never from
hard-coded bounds. Cells are the finite volumes of the advection scheme; faces sit half-way between
neighbouring centres, and the outer faces half a spacing outside the first/last centre.

Conventions (index space): axis ``-1`` (``W``) follows the longitude array, axis ``-2`` (``H``) the
latitude array. Face arrays have one more entry along their normal axis: x-faces ``(H, W + 1)``
(face ``j`` is the west face of cell ``j``), y-faces ``(H + 1, W)`` (face ``i`` is the face between
cells ``i - 1`` and ``i``). Descending coordinates are allowed; ``x_sign`` / ``y_sign`` turn
east/north velocities into index-direction velocities.

Periodic grids: when the longitudes close the circle (equal spacing Δλ with ``W·Δλ = 360°``,
detected from the coordinates, or ``periodic=True``), x is periodic: face 0 and face ``W`` are the
same face, the *seam* between the last and the first column, open when both cells are ocean. The
kernel then exchanges fluxes across the seam; there are no zonal region edges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

EARTH_RADIUS_M = 6.371e6
#: relative tolerance on ``W·Δλ = 360°`` (and on equal spacing) for a grid to close the circle
PERIODIC_RTOL = 1e-6

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]


def _as_1d_float64(values: ArrayLike, name: str) -> np.ndarray:
    arr = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    arr = arr.astype(np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"SphericalGrid: {name} must be a 1-D array of at least 2 cell centres (degrees), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"SphericalGrid: {name} contains NaN/inf; pass the data file's coordinate variable")
    steps = np.diff(arr)
    if not (np.all(steps > 0) or np.all(steps < 0)):
        raise ValueError(f"SphericalGrid: {name} must be strictly monotonic (cell centres in degrees)")
    return arr


def closes_circle(lon_deg: np.ndarray, rtol: float = PERIODIC_RTOL) -> bool:
    """True when the cell-centre longitudes (W,) (degrees) are equally spaced and ``W·|Δλ| = 360°``.

    Equal spacing and the closure are checked to ``rtol`` (relative to 360°), so coordinates
    stored in float32 (e.g. ``-179.75 + 0.5 j``) are recognised.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    if lon.ndim != 1 or lon.size < 3:
        return False
    steps = np.diff(lon)
    step = float(np.mean(steps))
    if np.max(np.abs(steps - step)) > rtol * 360.0:
        return False
    return abs(lon.size * abs(step) - 360.0) <= rtol * 360.0


def open_faces(mask: np.ndarray, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Open x-faces (H, W + 1) and y-faces (H + 1, W) of an ocean mask (H, W) bool.

    An interior face is open when both neighbours are ocean; a region-edge face when its one cell is
    ocean; with ``periodic`` the x edge faces 0 and W are the seam, open when both the first and the
    last cell of the row are ocean.
    """
    h, w = mask.shape
    open_x = np.zeros((h, w + 1), dtype=bool)
    open_x[:, 1:-1] = mask[:, 1:] & mask[:, :-1]
    if periodic:
        open_x[:, 0] = open_x[:, -1] = mask[:, 0] & mask[:, -1]
    else:
        open_x[:, 0] = mask[:, 0]
        open_x[:, -1] = mask[:, -1]
    open_y = np.zeros((h + 1, w), dtype=bool)
    open_y[1:-1, :] = mask[1:, :] & mask[:-1, :]
    open_y[0, :] = mask[0, :]
    open_y[-1, :] = mask[-1, :]
    return open_x, open_y


def _face_coords(centres: np.ndarray) -> np.ndarray:
    """Face coordinates (n + 1,) half-way between centres, outer faces half a spacing outside."""
    mid = 0.5 * (centres[1:] + centres[:-1])
    first = centres[0] - 0.5 * (centres[1] - centres[0])
    last = centres[-1] + 0.5 * (centres[-1] - centres[-2])
    return np.concatenate([[first], mid, [last]])


@dataclass(frozen=True)
class SphericalGrid:
    """Finite-volume metrics of a regional lat-lon grid on a sphere of radius ``radius`` (m).

    All float tensors share one dtype/device (``.to()`` moves them); masks are bool.

    Attributes:
        lat, lon: cell-centre coordinates (H,), (W,) in degrees.
        mask: (H, W) bool, True over ocean.
        dx: (H, W) m, zonal cell width ``R cos(lat) |dlon|`` at the cell centre.
        dy: (H, W) m, meridional cell height ``R |dlat|``.
        area: (H, W) m², exact spherical cell area ``R² |dlon| |sin(lat_n) - sin(lat_s)|``.
        len_x: (H, W + 1) m, length of the x-faces (``R |dlat|`` of the row).
        len_y: (H + 1, W) m, length of the y-faces (``R cos(lat_face) |dlon|``).
        dist_x: (H, W - 1) m, centre-to-centre distance across the interior x-faces.
        dist_y: (H - 1, W) m, centre-to-centre distance across the interior y-faces.
        open_x: (H, W + 1) bool; an interior face is open only when both neighbouring cells are ocean,
            a region-edge face is open (zero-gradient inflow/outflow) when its one cell is ocean.
        open_y: (H + 1, W) bool, same for y-faces.
        x_sign, y_sign: +1.0 when lon/lat ascend along the index, -1.0 when they descend.
        radius: sphere radius (m).
        periodic: True when x is periodic (the longitudes close the circle): ``open_x[:, 0]`` and
            ``open_x[:, -1]`` then both describe the seam face between the last and first column.
    """

    lat: torch.Tensor
    lon: torch.Tensor
    mask: torch.Tensor
    dx: torch.Tensor
    dy: torch.Tensor
    area: torch.Tensor
    len_x: torch.Tensor
    len_y: torch.Tensor
    dist_x: torch.Tensor
    dist_y: torch.Tensor
    open_x: torch.Tensor
    open_y: torch.Tensor
    x_sign: float
    y_sign: float
    radius: float
    periodic: bool = False

    @classmethod
    def from_coords(
        cls,
        lat_deg: ArrayLike,
        lon_deg: ArrayLike,
        mask: ArrayLike,
        radius: float = EARTH_RADIUS_M,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
        periodic: bool | None = None,
    ) -> SphericalGrid:
        """Build the metrics from cell-centre coordinates and an ocean mask.

        Args:
            lat_deg: (H,) cell-centre latitudes in degrees, strictly monotonic, within [-90, 90].
            lon_deg: (W,) cell-centre longitudes in degrees, strictly monotonic, spanning < 360°
                (a periodic grid's last centre lies one spacing short of the first + 360°).
            mask: (H, W) 1/True over ocean, 0/False over land (e.g. ``mask.npy``).
            radius: sphere radius in metres.
            dtype, device: of the float tensors (metrics are computed in float64 first).
            periodic: None detects it from the coordinates (:func:`closes_circle`); True requires
                longitudes that close the circle; False treats even a closing circle as a region
                with open east/west edges.
        """
        lat = _as_1d_float64(lat_deg, "lat_deg")
        lon = _as_1d_float64(lon_deg, "lon_deg")
        if np.any(np.abs(lat) > 90.0):
            raise ValueError("SphericalGrid: lat_deg must lie within [-90, 90] degrees")
        if abs(lon[-1] - lon[0]) >= 360.0:
            raise ValueError(
                "SphericalGrid: lon_deg spans 360° or more (a column repeated?); a periodic grid has W "
                "centres spaced 360°/W apart, e.g. -179.75 + 0.5 j for j = 0..719"
            )
        closes = closes_circle(lon)
        if periodic is None:
            periodic = closes
        elif periodic and not closes:
            raise ValueError(
                f"SphericalGrid: periodic=True but the {lon.size} longitudes ({lon[0]:g}..{lon[-1]:g}) do not "
                "close the circle (equal spacing with W·Δλ = 360°)"
            )
        if not radius > 0:
            raise ValueError(f"SphericalGrid: radius must be positive (m), got {radius}")
        m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if m.shape != (lat.size, lon.size):
            raise ValueError(
                f"SphericalGrid: mask shape {m.shape} does not match (len(lat), len(lon)) = {(lat.size, lon.size)}; "
                "the mask must be (lat, lon) with 1 over ocean"
            )
        if m.dtype != np.bool_:
            if not np.all(np.isin(m, (0, 1))):
                raise ValueError("SphericalGrid: mask must hold only 0 (land) and 1 (ocean) or booleans")
            m = m.astype(bool)

        deg = math.pi / 180.0
        lat_f = np.clip(_face_coords(lat), -90.0, 90.0) * deg  # (H+1,) rad
        lon_f = _face_coords(lon) * deg  # (W+1,) rad
        dlat = np.abs(np.diff(lat_f))  # (H,)
        dlon = np.abs(np.diff(lon_f))  # (W,)
        lat_c = lat * deg
        h, w = m.shape

        dx = radius * np.cos(lat_c)[:, None] * dlon[None, :]
        dy = np.broadcast_to(radius * dlat[:, None], (h, w))
        area = radius**2 * np.abs(np.diff(np.sin(lat_f)))[:, None] * dlon[None, :]
        len_x = np.broadcast_to(radius * dlat[:, None], (h, w + 1))
        len_y = radius * np.cos(lat_f)[:, None] * dlon[None, :]
        dist_x = radius * np.cos(lat_c)[:, None] * np.abs(np.diff(lon * deg))[None, :]
        dist_y = np.broadcast_to(radius * np.abs(np.diff(lat * deg))[:, None], (h - 1, w))
        open_x, open_y = open_faces(m, bool(periodic))

        def f(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

        def b(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.bool, device=device)

        return cls(
            lat=f(lat),
            lon=f(lon),
            mask=b(m),
            dx=f(dx),
            dy=f(dy),
            area=f(area),
            len_x=f(len_x),
            len_y=f(len_y),
            dist_x=f(dist_x),
            dist_y=f(dist_y),
            open_x=b(open_x),
            open_y=b(open_y),
            x_sign=1.0 if lon[1] > lon[0] else -1.0,
            y_sign=1.0 if lat[1] > lat[0] else -1.0,
            radius=float(radius),
            periodic=bool(periodic),
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W), the number of cells along latitude and longitude."""
        return (int(self.mask.shape[0]), int(self.mask.shape[1]))

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the float metrics."""
        return self.area.dtype

    @property
    def device(self) -> torch.device:
        """Device of every tensor of the grid."""
        return self.area.device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> SphericalGrid:
        """A copy on ``device`` with float metrics cast to ``dtype`` (masks stay bool)."""
        changes: dict[str, Any] = {}
        for fld in fields(self):
            value = getattr(self, fld.name)
            if isinstance(value, torch.Tensor):
                target_dtype = None if value.dtype == torch.bool else dtype
                changes[fld.name] = value.to(device=device, dtype=target_dtype)
        return replace(self, **changes)

    def with_polar_cap(self, cap_deg: float) -> SphericalGrid:
        """The grid with every row poleward of ±``cap_deg`` (cell centre) turned into land.

        Those cells then keep their values in :func:`~oceane2e.physics.kernel.advect` and the faces
        to them are closed like coasts, so the narrow cells near a pole (dx = R cos φ Δλ → 0) never
        set the Courant number. Tensor operations only (cheap, on the grid's device); returns
        ``self`` when no ocean row is poleward of the cap.
        """
        if not 0.0 < cap_deg <= 90.0:
            raise ValueError(f"SphericalGrid.with_polar_cap: cap_deg must be in (0, 90] degrees, got {cap_deg}")
        keep = self.lat.abs() <= cap_deg  # (H,) bool
        if bool(keep.all()):
            return self
        keep_y = torch.cat([keep[:1], keep[1:] & keep[:-1], keep[-1:]])  # (H + 1,) faces between kept rows
        return replace(
            self,
            mask=self.mask & keep[:, None],
            open_x=self.open_x & keep[:, None],
            open_y=self.open_y & keep_y[:, None],
        )

    def heat_content(self, c: torch.Tensor) -> torch.Tensor:
        """Σ area·C over ocean cells: (B, H, W) K -> (B,) K m². Land values (even NaN) are ignored."""
        area = self.area.to(device=c.device, dtype=c.dtype)
        return torch.where(self.mask.to(c.device), c, torch.zeros((), dtype=c.dtype, device=c.device)).mul(area).sum(
            dim=(-2, -1)
        )
