"""Regridding of regular lat-lon fields onto the target grid of a data folder.

Both methods are separable: the output is ``A @ field @ B.T`` with a latitude matrix ``A``
(H, Hs) and a longitude matrix ``B`` (W, Ws), each row summing to one, so a day of a 1/12 deg
box is two small matrix products.

* ``bilinear``: linear interpolation between the two neighbouring source centres on each axis
  (for smooth fields when the target is as fine as or finer than the source). A target cell is
  NaN as soon as any source cell with a non-zero weight is NaN, so land never leaks into the
  ocean and the land mask grows by at most one source cell.
* ``area``: the area-weighted mean of the source cells overlapping the target cell (weights are
  overlap lengths in longitude and in sin(latitude), i.e. exact spherical areas), used when
  coarsening. A target cell is ocean when at least half of its area is ocean in the source;
  the mean is then over the ocean part.
* ``auto`` picks ``area`` on an axis whose target spacing is at least 1.5 times the source
  spacing, ``bilinear`` otherwise.

Longitudes of every source are first brought to -180..180 and sorted (:func:`unify_longitudes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oceane2e.data.contract import DataContractError, GridCoords

METHODS = ("auto", "bilinear", "area")
_COARSEN_RATIO = 1.5  # target spacing / source spacing from which `auto` area-averages


def wrap_longitude(lon: np.ndarray) -> np.ndarray:
    """Longitudes (deg) mapped to [-180, 180)."""
    return (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0


def unify_longitudes(lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wrap ``lon`` to -180..180 and sort it.

    Returns:
        ``(sorted_lon, order)``: the increasing wrapped longitudes and the permutation of the
        source columns that produces them (``field[..., order]``).
    """
    wrapped = wrap_longitude(lon)
    order = np.argsort(wrapped, kind="stable")
    return wrapped[order], order


def regular_grid(
    lat_bounds: tuple[float, float], lon_bounds: tuple[float, float], resolution: float
) -> GridCoords:
    """Cell centres of a regular grid of ``resolution`` degrees filling the edge bounds.

    The bounds must be a whole number of cells apart (e.g. 20..60 N, -80..-30 E at 1/12 deg
    gives 480 x 600 cells); longitudes are given in -180..180.
    """
    if resolution <= 0:
        raise DataContractError(f"resolution must be positive (degrees), got {resolution}")
    shape = []
    for name, (lo, hi) in (("lat", lat_bounds), ("lon", lon_bounds)):
        n = (hi - lo) / resolution
        if hi <= lo or abs(n - round(n)) > 1e-6 * max(1.0, n):
            raise DataContractError(
                f"{name} bounds {lo}..{hi} are not a positive whole number of {resolution} deg cells; "
                f"adjust the bounds or the resolution"
            )
        shape.append(int(round(n)))
    if not (-90.0 <= lat_bounds[0] and lat_bounds[1] <= 90.0):
        raise DataContractError(f"lat bounds {lat_bounds} outside -90..90")
    if not (-180.0 <= lon_bounds[0] and lon_bounds[1] <= 180.0):
        raise DataContractError(f"lon bounds {lon_bounds} must lie within -180..180 (degrees east)")
    return GridCoords.from_bounds(lat_bounds, lon_bounds, shape)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges of a (nearly) regular axis of centres: midpoints, extrapolated at both ends."""
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate(
        [[centres[0] - (mid[0] - centres[0])], mid, [centres[-1] + (centres[-1] - mid[-1])]]
    )


def _bilinear_matrix(src: np.ndarray, dst: np.ndarray, what: str) -> np.ndarray:
    """(len(dst), len(src)) linear-interpolation weights; targets may lie up to half a source
    cell beyond the outermost centres (they take the edge value)."""
    half = 0.5 * abs(src[1] - src[0])
    if dst[0] < src[0] - half - 1e-9 or dst[-1] > src[-1] + half + 1e-9:
        raise DataContractError(
            f"the target {what} range {dst[0]:.4f}..{dst[-1]:.4f} is not covered by the source "
            f"({src[0]:.4f}..{src[-1]:.4f}); choose a region inside the source files"
        )
    x = np.clip(dst, src[0], src[-1])
    i = np.clip(np.searchsorted(src, x, side="right") - 1, 0, src.size - 2)
    frac = (x - src[i]) / (src[i + 1] - src[i])
    mat = np.zeros((dst.size, src.size))
    rows = np.arange(dst.size)
    mat[rows, i] += 1.0 - frac
    mat[rows, i + 1] += frac
    mat[np.abs(mat) < 1e-12] = 0.0
    return mat


def _area_matrix(src: np.ndarray, dst: np.ndarray, what: str, transform=None) -> np.ndarray:
    """(len(dst), len(src)) overlap weights of target cells with source cells, rows normalised."""
    src_e, dst_e = _edges(src), _edges(dst)
    if transform is not None:
        src_e, dst_e = transform(np.clip(src_e, -90, 90)), transform(np.clip(dst_e, -90, 90))
    lo = np.maximum(dst_e[:-1, None], src_e[None, :-1])
    hi = np.minimum(dst_e[1:, None], src_e[None, 1:])
    overlap = np.clip(hi - lo, 0.0, None)
    covered = overlap.sum(axis=1) / (dst_e[1:] - dst_e[:-1])
    if np.any(covered < 0.99):
        bad = int(np.flatnonzero(covered < 0.99)[0])
        raise DataContractError(
            f"target {what} cell at {dst[bad]:.4f} is not covered by the source "
            f"({src[0]:.4f}..{src[-1]:.4f}); choose a region inside the source files"
        )
    return overlap / overlap.sum(axis=1, keepdims=True)


def _spacing(values: np.ndarray) -> float:
    return float(np.median(np.abs(np.diff(values))))


@dataclass
class Regridder:
    """Maps (..., Hs, Ws) fields on the source centres to (..., H, W) on ``target``.

    Args (via :meth:`build`):
        src_lat: (Hs,) increasing latitudes of the source (deg N).
        src_lon: (Ws,) increasing longitudes, same convention as the target (-180..180).
        target: the output grid.
        method: ``"auto"``, ``"bilinear"`` or ``"area"``.
    """

    lat_matrix: np.ndarray  # (H, Hs)
    lon_matrix: np.ndarray  # (W, Ws)
    lat_method: str
    lon_method: str

    @classmethod
    def build(
        cls, src_lat: np.ndarray, src_lon: np.ndarray, target: GridCoords, method: str = "auto"
    ) -> Regridder:
        if method not in METHODS:
            raise ValueError(f"unknown regrid method {method!r}; choose one of {METHODS}")
        src_lat, src_lon = np.asarray(src_lat, float), np.asarray(src_lon, float)
        if src_lat.size < 2 or src_lon.size < 2:
            raise DataContractError(
                "the source covers fewer than 2x2 cells of the region; choose a larger region"
            )
        methods = []
        for src, dst in ((src_lat, target.lat), (src_lon, target.lon)):
            if method == "auto":
                methods.append("area" if _spacing(dst) >= _COARSEN_RATIO * _spacing(src) else "bilinear")
            else:
                methods.append(method)
        lat_m = (
            _area_matrix(src_lat, target.lat, "latitude", transform=lambda e: np.sin(np.deg2rad(e)))
            if methods[0] == "area"
            else _bilinear_matrix(src_lat, target.lat, "latitude")
        )
        lon_m = (
            _area_matrix(src_lon, target.lon, "longitude")
            if methods[1] == "area"
            else _bilinear_matrix(src_lon, target.lon, "longitude")
        )
        return cls(lat_matrix=lat_m, lon_matrix=lon_m, lat_method=methods[0], lon_method=methods[1])

    @property
    def method(self) -> str:
        return (
            self.lat_method if self.lat_method == self.lon_method else f"{self.lat_method}/{self.lon_method}"
        )

    def __post_init__(self) -> None:
        # sparse copies: a few non-zeros per row, and scipy.sparse products run single-threaded
        # (dense BLAS on tiny matrices is 20x slower on a loaded machine, from thread spinning)
        from scipy import sparse

        self._lat = sparse.csr_matrix(self.lat_matrix)
        self._lon = sparse.csr_matrix(self.lon_matrix)
        self._lat_pos = sparse.csr_matrix((self.lat_matrix > 0).astype(np.float64))
        self._lon_pos = sparse.csr_matrix((self.lon_matrix > 0).astype(np.float64))

    @staticmethod
    def _apply(a, b, x: np.ndarray) -> np.ndarray:
        """``a @ x @ b.T`` for sparse ``a`` (H, Hs), ``b`` (W, Ws) and dense ``x`` (Hs, Ws)."""
        return np.asarray((b @ np.asarray(a @ x).T).T)

    def __call__(self, field: np.ndarray) -> np.ndarray:
        """Regrid ``field`` (Hs, Ws) (NaN = land/no data) -> (H, W) float32, NaN where undefined."""
        field = np.asarray(field, dtype=np.float64)
        valid = np.isfinite(field)
        filled = np.where(valid, field, 0.0)
        num = self._apply(self._lat, self._lon, filled)
        if valid.all():
            return num.astype(np.float32)
        wv = self._apply(self._lat, self._lon, valid.astype(np.float64))
        if self.lat_method == "bilinear" and self.lon_method == "bilinear":
            # NaN as soon as one positively weighted neighbour is NaN
            ok = self._apply(self._lat_pos, self._lon_pos, (~valid).astype(np.float64)) == 0
        else:
            # ocean when at least half of the target cell's area is ocean in the source
            ok = wv >= 0.5
        out = np.full(num.shape, np.nan)
        out[ok] = num[ok] / wv[ok]
        return out.astype(np.float32)
