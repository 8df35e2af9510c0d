"""Day-of-year moments of the observed SSTA of some years (ensemble amplitudes, climatological references).

:func:`ssta_doy_moments` reads the SSTA of whole years through :class:`~oceane2e.data.datasets.DataFolder`
(one year in memory at a time) and returns, per day of the 366-day calendar and cell, the count, sum and
sum of squares, from which a per-cell standard deviation (:meth:`DoyMoments.cell_std`) or a smoothed
day-of-year climatological distribution (:meth:`DoyMoments.windowed`) follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oceane2e.dates import days_in_year, leap_doy_index


@dataclass
class DoyMoments:
    """Sums per day of year (366, H, W) of the SSTA (K): ``count`` (366,), ``total`` and ``squares`` float64."""

    count: np.ndarray
    total: np.ndarray
    squares: np.ndarray
    mask: np.ndarray

    @classmethod
    def from_series(cls, ssta: np.ndarray, dates: np.ndarray, mask: np.ndarray) -> DoyMoments:
        """Sums of a daily series ``ssta`` (T, H, W) K on ``dates`` (T,) datetime64 (NaN counts as 0 on land)."""
        h, w = ssta.shape[1:]
        count, total, squares = np.zeros(366), np.zeros((366, h, w)), np.zeros((366, h, w))
        doy = leap_doy_index(np.asarray(dates, dtype="datetime64[D]"))
        x = np.where(np.asarray(mask, dtype=bool), np.nan_to_num(np.asarray(ssta, dtype=np.float64)), 0.0)
        np.add.at(count, doy, 1)
        np.add.at(total, doy, x)
        np.add.at(squares, doy, x * x)
        return cls(count, total, squares, np.asarray(mask, dtype=bool).copy())

    def cell_std(self) -> np.ndarray:
        """(H, W) standard deviation of the SSTA over all days (K); 0 on land."""
        n = self.count.sum()
        mean = self.total.sum(axis=0) / n
        var = np.maximum(self.squares.sum(axis=0) / n - mean**2, 0.0)
        return np.where(self.mask, np.sqrt(var), 0.0)

    def __add__(self, other: DoyMoments) -> DoyMoments:
        return DoyMoments(self.count + other.count, self.total + other.total, self.squares + other.squares, self.mask)

    def windowed(self, half_width: int = 15) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation per day of year and cell, pooled over ±``half_width`` days (circular).

        Returns:
            (mean, std), each (366, H, W) K (land 0).
        """
        kernel_days = np.arange(-half_width, half_width + 1)

        def smooth(x: np.ndarray) -> np.ndarray:
            return sum(np.roll(x, -k, axis=0) for k in kernel_days)

        n = smooth(self.count.astype(np.float64))
        n = n.reshape(-1, *([1] * (self.total.ndim - 1)))
        mean = smooth(self.total) / np.maximum(n, 1)
        var = np.maximum(smooth(self.squares) / np.maximum(n, 1) - mean**2, 0.0)
        return np.where(self.mask, mean, 0.0), np.where(self.mask, np.sqrt(var), 0.0)


def ssta_doy_moments(root: str | Path, years: Sequence[int], *, lat_bounds: Sequence[float] | None = None,
                     lon_bounds: Sequence[float] | None = None) -> DoyMoments:
    """Day-of-year sums of the observed SSTA of ``years`` in the data folder ``root``."""
    from oceane2e.data.datasets import DataFolder

    folder = DataFolder(root, years, kinds=("mhw",), channels={"mhw": ("ssta",)},
                        lat_bounds=lat_bounds, lon_bounds=lon_bounds)
    try:
        total: DoyMoments | None = None
        for year in folder.years:
            n = days_in_year(year)
            first = np.datetime64(f"{year:04d}-01-01", "D")
            part = DoyMoments.from_series(folder.read("mhw", first, n, ("ssta",))[:, 0], first + np.arange(n),
                                          folder.mask)
            total = part if total is None else total + part
        assert total is not None
        return total
    finally:
        folder.close()


__all__ = ["DoyMoments", "ssta_doy_moments"]
