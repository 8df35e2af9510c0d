"""The kernel on a periodic sphere (issue 18): the seam is an ordinary face, polar rows can be capped.

Float64 throughout. Errors are area-weighted relative L2 norms over ocean cells.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from oceane2e.physics import KernelOptions, SphericalGrid, advect, courant_number
from oceane2e.physics.analytic import gaussian_blob, rotated_blob_centre, solid_body_velocity
from oceane2e.physics.grid import EARTH_RADIUS_M, closes_circle

R = EARTH_RADIUS_M
DAY = 86400.0
F64 = torch.float64


def _centres(first: float, step: float, n: int) -> np.ndarray:
    return first + step * np.arange(n)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))[None].clone()


def _rel_l2(c: torch.Tensor, exact: np.ndarray, grid: SphericalGrid) -> float:
    area = grid.area.numpy() * grid.mask.numpy()
    diff = c[0].detach().numpy() - exact
    return float(np.sqrt((diff**2 * area).sum() / (exact**2 * area).sum()))


# --------------------------------------------------------------------------------------------
# the grid


@pytest.mark.parametrize(
    ("lon", "periodic"),
    [
        (_centres(-179.75, 0.5, 720), True),  # the reference's global mask: 180°W first
        (_centres(0.125, 0.25, 1440), True),  # the reference's 0.25° files: 0°E first
        (_centres(-179.75, 0.5, 720).astype(np.float32), True),  # coordinates stored as float32
        (_centres(359.5, -0.5, 720), True),  # descending
        (_centres(-179.75, 0.5, 719), False),  # one column short
        (_centres(-75.875, 0.25, 96), False),  # the regional demo
    ],
)
def test_periodicity_is_detected_from_the_longitudes(lon: np.ndarray, periodic: bool) -> None:
    assert closes_circle(lon) is periodic
    grid = SphericalGrid.from_coords(np.array([-1.0, 0.0, 1.0]), lon, np.ones((3, lon.size)))
    assert grid.periodic is periodic


def test_seam_face_joins_the_last_and_first_columns() -> None:
    lon = _centres(-135.0, 90.0, 4)
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [0, 1, 1, 1]], dtype=bool)
    grid = SphericalGrid.from_coords(np.array([-10.0, 0.0, 10.0]), lon, mask)
    ox = grid.open_x.numpy()
    assert ox[0, 0] and ox[0, -1]  # ocean on both sides of the seam
    assert not ox[1, 0] and not ox[1, -1]  # land east of the seam's last column
    assert not ox[2, 0] and not ox[2, -1]


def test_explicit_periodic_flag_is_checked() -> None:
    lat = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="close the circle"):
        SphericalGrid.from_coords(lat, _centres(0.0, 1.0, 300), np.ones((2, 300)), periodic=True)
    regional = SphericalGrid.from_coords(lat, _centres(0.5, 1.0, 360), np.ones((2, 360)), periodic=False)
    assert not regional.periodic and regional.open_x[:, 0].all()


# --------------------------------------------------------------------------------------------
# across the dateline


def _band_grid(step: float = 1.0, lat_edges: tuple[float, float] = (-30.0, 30.0)) -> SphericalGrid:
    lat = _centres(lat_edges[0] + step / 2, step, round((lat_edges[1] - lat_edges[0]) / step))
    lon = _centres(-180.0 + step / 2, step, round(360 / step))
    return SphericalGrid.from_coords(lat, lon, np.ones((lat.size, lon.size)))


def test_blob_crosses_the_dateline_as_the_analytic_solution_and_as_the_run_shifted_by_180() -> None:
    # rotation about the polar axis: every row turns by the same angle, so the exact solution is the
    # initial blob moved 24° east: from 168°E across the seam (±180°) to 168°W
    grid = _band_grid()
    lat, lon = grid.lat.numpy(), grid.lon.numpy()
    days, angle = 4.0, 24.0 * math.pi / 180.0
    omega = angle / (days * DAY)
    u, v = solid_body_velocity(lat[:, None], lon[None, :], 90.0, 0.0, omega)
    c0 = gaussian_blob(lat[:, None], lon[None, :], 10.0, 168.0, 600e3)
    options = KernelOptions()
    c, uu, vv = _t(c0), _t(u), _t(v)
    out = c
    for _ in range(int(days)):
        out = advect(out, uu, vv, grid, DAY, options)
    exact = gaussian_blob(lat[:, None], lon[None, :], 10.0, 168.0 + 24.0 - 360.0, 600e3)
    err = _rel_l2(out, exact, grid)
    # measured 0.0313 (1°, σ = 600 km ≈ 5.5 cells), the same as the same blob moving across 0°E
    assert err < 0.035, f"dateline crossing error {err:.4f}"
    i, j = np.unravel_index(out[0].argmax().item(), exact.shape)
    assert (i, j) == np.unravel_index(exact.argmax(), exact.shape)
    # the same run with everything rolled by 180°: the blob now moves across 0° instead of the seam
    half = lon.size // 2
    shifted = c.roll(half, -1)
    for _ in range(int(days)):
        shifted = advect(shifted, uu.roll(half, -1), vv.roll(half, -1), grid, DAY, options)
    torch.testing.assert_close(shifted.roll(-half, -1), out, rtol=0, atol=1e-14)


def _equatorial_axis_run(step: float, sigma: float = 600e3) -> tuple[float, float, SphericalGrid]:
    """Solid-body rotation about the axis through (0°, 180°): a blob at (0°, 160°E) turns half a
    circle in 10 days to (0°, 160°W), crossing the seam at 20°S. The angular speed tapers off beyond
    3500 km from the axis (the exact solution is unchanged inside), so the fast polar flow of a
    global rotation does not set the sub-steps."""
    grid = _band_grid(step, (-45.0, 45.0))
    lat, lon = grid.lat.numpy(), grid.lon.numpy()
    days = 10
    omega = math.pi / (days * DAY)
    u, v = solid_body_velocity(lat[:, None], lon[None, :], 0.0, 180.0, omega, taper_start_m=3500e3, taper_width_m=1000e3)
    c0 = gaussian_blob(lat[:, None], lon[None, :], 0.0, 160.0, sigma)
    half_way = rotated_blob_centre(0.0, 160.0, 0.0, 180.0, omega * 5 * DAY)
    assert abs(half_way[1]) > 179.0 and abs(half_way[0]) > 19.0  # on the seam at 20°S after 5 days
    out = _t(c0)
    uu, vv = _t(u), _t(v)
    for _ in range(days):
        out = advect(out, uu, vv, grid, DAY, KernelOptions())
    end = rotated_blob_centre(0.0, 160.0, 0.0, 180.0, omega * days * DAY)
    exact = gaussian_blob(lat[:, None], lon[None, :], *end, sigma)
    err = _rel_l2(out, exact, grid)
    loss = float(out.max()) / float(c0.max())
    return err, loss, grid


def test_solid_body_rotation_about_an_equatorial_axis_crosses_the_seam() -> None:
    err, peak, _ = _equatorial_axis_run(1.0)
    # measured at 1°: relative L2 error 0.0594, peak kept 0.884 (σ = 600 km, 6 900 km travelled)
    assert err < 0.065, f"rotation error {err:.4f}"
    assert peak > 0.87


@pytest.mark.slow
def test_equatorial_axis_rotation_converges_with_resolution() -> None:
    errors = [_equatorial_axis_run(step)[0] for step in (2.0, 1.0, 0.5)]
    # measured 0.189, 0.0594, 0.0222: orders 1.67 and 1.42
    orders = [math.log2(a / b) for a, b in zip(errors[:-1], errors[1:], strict=True)]
    assert min(orders) > 1.3, f"errors {errors}, orders {orders}"


# --------------------------------------------------------------------------------------------
# conservation, land, gradients, the three code paths


def _global_with_land(step: float = 10.0) -> tuple[SphericalGrid, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A whole sphere (poles included) with land across the seam and an island; random currents."""
    lat = _centres(-90.0 + step / 2, step, round(180 / step))
    lon = _centres(-180.0 + step / 2, step, round(360 / step))
    mask = np.ones((lat.size, lon.size), dtype=bool)
    mask[:2, :] = False  # an Antarctica
    mask[8:12, -2:] = mask[8:12, :1] = False  # a continent across the seam
    mask[5, 10:12] = False  # an island
    grid = SphericalGrid.from_coords(lat, lon, mask)
    gen = torch.Generator().manual_seed(7)
    shape = (2, lat.size, lon.size)
    c = torch.randn(shape, dtype=F64, generator=gen)
    c[:, ~grid.mask] = float("nan")  # NaN over land must not leak
    u = 0.5 * torch.randn(shape, dtype=F64, generator=gen)
    v = 0.5 * torch.randn(shape, dtype=F64, generator=gen)
    return grid, c, u, v


@pytest.mark.parametrize("limiter", ["van_leer", "minmod", "none"])
def test_heat_content_is_conserved_on_the_periodic_sphere_with_land(limiter: str) -> None:
    grid, c, u, v = _global_with_land()
    options = KernelOptions(limiter=limiter, diffusivity=2e3, polar_cap_deg=80.0)
    out = advect(c, u, v, grid, 5 * DAY, options)
    capped = grid.with_polar_cap(80.0)
    before, after = capped.heat_content(c), capped.heat_content(out)
    torch.testing.assert_close(after, before, rtol=1e-13, atol=1e-13 * float(capped.area.sum()))
    land = ~grid.mask
    assert torch.isnan(out[:, land]).all()  # land returned as given
    assert torch.isfinite(out[:, grid.mask]).all()
    polar = (grid.lat.abs() > 80.0)[:, None] & grid.mask
    torch.testing.assert_close(out[:, polar], c[:, polar], rtol=0, atol=0)  # the cap rows are held
    assert not torch.equal(out[:, capped.mask], c[:, capped.mask])


def test_no_grad_and_autograd_paths_agree_on_a_periodic_grid() -> None:
    grid, c, u, v = _global_with_land()
    for options in (
        KernelOptions(polar_cap_deg=80.0),
        KernelOptions(limiter="superbee", diffusivity=1e3, polar_cap_deg=80.0),
        KernelOptions(limiter="none", time_stepper="ssp_rk1", polar_cap_deg=80.0),
        KernelOptions(form="advective", time_stepper="ssp_rk2", polar_cap_deg=80.0),
    ):
        with torch.no_grad():
            fast = advect(c, u, v, grid, DAY, options)
        ref = advect(c.clone().requires_grad_(True), u, v, grid, DAY, options).detach()
        torch.testing.assert_close(fast, ref, rtol=1e-13, atol=1e-13, equal_nan=True)


def test_compile_falls_back_to_the_eager_kernel_on_periodic_grids() -> None:
    from oceane2e.physics import compiled

    compiled._WARNED_PERIODIC.clear()
    grid, c, u, v = _global_with_land()
    with torch.no_grad():
        eager = advect(c, u, v, grid, DAY, KernelOptions(polar_cap_deg=80.0))
        with pytest.warns(RuntimeWarning, match="periodic"):
            fused = advect(c, u, v, grid, DAY, KernelOptions(polar_cap_deg=80.0, compile=True))
    torch.testing.assert_close(fused, eager, rtol=0, atol=0, equal_nan=True)


def test_gradcheck_on_a_small_periodic_grid() -> None:
    lat = np.array([-10.0, 0.0, 10.0, 20.0])
    lon = _centres(-157.5, 45.0, 8)
    mask = np.ones((4, 8), dtype=bool)
    mask[1, 7] = mask[2, 0] = False  # land on both sides of the seam
    grid = SphericalGrid.from_coords(lat, lon, mask)
    gen = torch.Generator().manual_seed(3)
    c = torch.randn(1, 4, 8, dtype=F64, generator=gen, requires_grad=True)
    u = (3.0 + torch.randn(1, 4, 8, dtype=F64, generator=gen)).requires_grad_(True)  # flows across the seam
    v = torch.randn(1, 4, 8, dtype=F64, generator=gen, requires_grad=True)
    options = KernelOptions(diffusivity=1e5, substeps=4, max_courant=10.0)

    def f(c: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return advect(c, u, v, grid, 6 * 3600.0, options)

    assert torch.autograd.gradcheck(f, (c, u, v), eps=1e-6, atol=1e-6)


def test_reference_scheme_wraps_around_the_seam() -> None:
    grid, c, u, v = _global_with_land()
    grid = SphericalGrid.from_coords(grid.lat, grid.lon, np.ones(grid.shape))  # no land: a pure roll test
    c = torch.nan_to_num(c)
    options = KernelOptions(scheme="reference", reference_substep_s=3600.0)
    out = advect(c, 0.02 * u, 0.02 * v, grid, DAY, options)
    half = grid.shape[1] // 2
    rolled = advect(c.roll(half, -1), 0.02 * u.roll(half, -1), 0.02 * v.roll(half, -1), grid, DAY, options)
    torch.testing.assert_close(rolled.roll(-half, -1), out, rtol=0, atol=1e-14)
    # a zonally uniform field stays zonally uniform: the filter wraps instead of damping the seam
    # columns (only the north/south region edges, zero-padded as in the release, decay)
    flat = advect(torch.ones_like(c), 0.0 * u, 0.0 * v, grid, DAY, options)
    torch.testing.assert_close(flat, flat[..., :1].expand_as(flat), rtol=0, atol=1e-14)


# --------------------------------------------------------------------------------------------
# the polar rows


def test_polar_cap_keeps_the_substeps_of_a_global_grid_bounded() -> None:
    step = 0.5
    lat = _centres(-90.0 + step / 2, step, 360)
    lon = _centres(-180.0 + step / 2, step, 720)
    grid = SphericalGrid.from_coords(lat, lon, np.ones((360, 720)))
    u = torch.full((1, 360, 720), 0.5, dtype=F64)
    v = torch.zeros_like(u)
    free = float(courant_number(u, v, grid, DAY)[0])
    capped = float(courant_number(u, v, grid, DAY, polar_cap_deg=80.0)[0])
    # 0.5 m/s across the 242 m wide cells next to the pole: Courant ~180; ~4.5 with the cap at 80°
    assert free > 150 and capped < 5.0
    assert capped == pytest.approx(0.5 * DAY / (R * math.cos(math.radians(79.75)) * math.radians(step)), rel=1e-4)
    with pytest.raises(ValueError, match="polar_cap_deg"):
        KernelOptions(polar_cap_deg=95.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = advect(torch.zeros_like(u), u, v, grid, DAY, KernelOptions(polar_cap_deg=80.0))
    assert torch.count_nonzero(out) == 0
