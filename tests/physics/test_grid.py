"""SphericalGrid: metrics against closed-form spherical geometry, face masks, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from oceane2e.physics import EARTH_RADIUS_M, SphericalGrid

R = EARTH_RADIUS_M
DEG = math.pi / 180.0


def _demo_coords() -> tuple[np.ndarray, np.ndarray]:
    # 1/4° cell centres over 32–44N, 76–52W (the demo grid)
    return 32.125 + 0.25 * np.arange(48), -75.875 + 0.25 * np.arange(96)


def test_metrics_match_spherical_formulas() -> None:
    lat, lon = _demo_coords()
    grid = SphericalGrid.from_coords(lat, lon, np.ones((48, 96)))
    dlat = dlon = 0.25 * DEG
    np.testing.assert_allclose(grid.dy.numpy(), R * dlat, rtol=1e-12)
    np.testing.assert_allclose(grid.dx.numpy()[:, 0], R * np.cos(lat * DEG) * dlon, rtol=1e-12)
    # areas sum to the exact area of the 32–44N, 76–52W box
    box = R**2 * (24 * DEG) * (math.sin(44 * DEG) - math.sin(32 * DEG))
    assert grid.area.sum().item() == pytest.approx(box, rel=1e-12)
    # each cell's area is close to dx*dy (the centre-point approximation)
    np.testing.assert_allclose(grid.area.numpy(), (grid.dx * grid.dy).numpy(), rtol=1e-5)
    # y-face length at the southern edge uses the face latitude 32N
    assert grid.len_y[0, 0].item() == pytest.approx(R * math.cos(32 * DEG) * dlon, rel=1e-12)


def test_faces_open_only_between_two_ocean_cells() -> None:
    lat, lon = np.array([10.0, 11.0, 12.0]), np.array([0.0, 1.0, 2.0, 3.0])
    mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 1]])
    grid = SphericalGrid.from_coords(lat, lon, mask)
    ox, oy = grid.open_x.numpy(), grid.open_y.numpy()
    assert ox.shape == (3, 5) and oy.shape == (4, 4)
    # row 0: cells O O L O -> faces: edge(O)=1, O|O=1, O|L=0, L|O=0, edge(O)=1
    assert ox[0].tolist() == [True, True, False, False, True]
    # row 2 starts with land: its west edge face is closed
    assert ox[2].tolist() == [False, False, True, True, True]
    # column 0: O O L -> south edge open, O|O open, O|L closed, north edge (land) closed
    assert oy[:, 0].tolist() == [True, True, False, False]


def test_to_changes_dtype_but_keeps_masks_bool() -> None:
    lat, lon = _demo_coords()
    grid = SphericalGrid.from_coords(lat, lon, np.ones((48, 96)))
    g32 = grid.to(dtype=torch.float32)
    assert g32.area.dtype == torch.float32 and g32.mask.dtype == torch.bool and g32.open_x.dtype == torch.bool
    assert g32.shape == (48, 96) and grid.dtype == torch.float64


def test_descending_latitude_sets_sign() -> None:
    lat, lon = _demo_coords()
    grid = SphericalGrid.from_coords(lat[::-1].copy(), lon, np.ones((48, 96)))
    assert grid.y_sign == -1.0 and grid.x_sign == 1.0
    np.testing.assert_allclose(grid.area.numpy()[::-1], SphericalGrid.from_coords(lat, lon, np.ones((48, 96))).area.numpy())


@pytest.mark.parametrize(
    ("lat", "lon", "mask", "message"),
    [
        ([10.0, 10.0, 11.0], [0.0, 1.0], np.ones((3, 2)), "strictly monotonic"),
        ([10.0, np.nan], [0.0, 1.0], np.ones((2, 2)), "NaN"),
        ([10.0, 11.0], [0.0, 1.0], np.ones((3, 2)), "mask shape"),
        ([10.0, 11.0], [0.0, 1.0], np.full((2, 2), 2.0), "only 0"),
        ([89.0, 91.0], [0.0, 1.0], np.ones((2, 2)), r"\[-90, 90\]"),
        ([10.0, 11.0], [0.0, 360.0], np.ones((2, 2)), "360"),
    ],
)
def test_bad_coordinates_raise_with_a_message(lat, lon, mask, message) -> None:
    with pytest.raises(ValueError, match=message):
        SphericalGrid.from_coords(np.asarray(lat), np.asarray(lon), mask)


def test_heat_content_ignores_land_nan() -> None:
    lat, lon = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    grid = SphericalGrid.from_coords(lat, lon, np.array([[1, 0], [1, 1]]))
    c = torch.tensor([[[2.0, float("nan")], [1.0, 1.0]]], dtype=torch.float64)
    area = grid.area
    expected = 2 * area[0, 0] + area[1, 0] + area[1, 1]
    assert grid.heat_content(c).item() == pytest.approx(expected.item(), rel=1e-14)
