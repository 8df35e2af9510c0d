"""The atmosphere a forecast may use beyond a lead: observed (oracle), climatology or (damped) persistence.

The reference release drives every forecast with the observed atmosphere (u10, v10, t2m) of all the
future days — an oracle no operational forecast has beyond a week or two. An operational forecast
knows the atmosphere up to its start date (and, with a weather forecast, a few days beyond); after
that the best it can assume without a weather model is the climatology, or the last known anomaly
held or decaying towards it:

* ``observed``: the observed atmosphere at every lead (the oracle; the reference release's setting);
* ``climatology``: the day-of-year climatology of the training years after the last known day;
* ``persistence``: climatology plus the last known day's anomaly, held;
* ``damped_persistence``: climatology plus the last known anomaly decaying as exp(−Δt/τ).

The last known day is lead ``observed_days`` (0: the start date itself). The climatology is the
mean of each 366-day calendar day (:func:`oceane2e.dates.leap_doy_index`) over the training years,
smoothed by a circular running mean (a few years of daily weather are noisy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from oceane2e.data.config import DataConfig
from oceane2e.data.contract import ATMOS_CHANNELS
from oceane2e.dates import leap_doy_index, year_dates

AtmosphereMode = Literal["observed", "climatology", "persistence", "damped_persistence"]
ATMOSPHERE_MODES: tuple[str, ...] = ("observed", "climatology", "persistence", "damped_persistence")
DOY = 366


def atmosphere_climatology(
    data_cfg: DataConfig,
    years: Sequence[int] | None = None,
    channels: Sequence[str] = ATMOS_CHANNELS,
    smooth_days: int = 31,
) -> np.ndarray:
    """Day-of-year mean of the atmosphere over ``years`` (default: the training years).

    Args:
        data_cfg: the ``data`` config section (root, years, region bounds).
        years: years to average (default ``data_cfg.train_years``).
        channels: atmosphere channels of ``mhw_YYYY.nc``.
        smooth_days: width of the circular running mean over the calendar (odd; 1 = none).

    Returns:
        (366, C, H, W) float32 in the channels' units (m s⁻¹, K), land 0. 29 February (index 59)
        comes from the leap years, or from its neighbours' mean when there is none.
    """
    from oceane2e.data.datasets import DataFolder

    years = sorted(int(y) for y in (data_cfg.train_years if years is None else years))
    folder = DataFolder.from_config(data_cfg, years, kinds=("mhw",))
    h, w = folder.shape
    total = np.zeros((DOY, len(channels), h, w), dtype=np.float64)
    count = np.zeros(DOY, dtype=np.int64)
    try:
        for year in years:
            dates = year_dates(year)
            block = folder.read("mhw", dates[0], dates.size, tuple(channels))
            idx = leap_doy_index(dates)
            np.add.at(total, idx, block)
            np.add.at(count, idx, 1)
    finally:
        folder.close()
    if count[59] == 0:  # no leap year: 29 February from its neighbours
        total[59] = 0.5 * (total[58] / count[58] + total[60] / count[60])
        count[59] = 1
    clim = total / count[:, None, None, None]
    if smooth_days > 1:
        half = smooth_days // 2
        padded = np.concatenate([clim[-half:], clim, clim[:half]])
        csum = np.cumsum(padded, axis=0)
        csum = np.concatenate([np.zeros_like(csum[:1]), csum])
        clim = (csum[smooth_days:] - csum[:-smooth_days]) / smooth_days
    clim[:, :, ~folder.mask] = 0.0
    return clim.astype(np.float32)


def apply_atmosphere_mode(
    atmos: np.ndarray,
    time0: np.ndarray,
    mode: str,
    climatology: np.ndarray | None,
    observed_days: int = 0,
    tau_days: float = 5.0,
) -> np.ndarray:
    """The atmosphere of a forecast window under ``mode``.

    Args:
        atmos: (B, T, C, H, W) the observed atmosphere of days time0 .. time0 + T − 1 (index = lead).
        time0: (B,) start dates (datetime64[D] or int days since 1970-01-01).
        mode: one of :data:`ATMOSPHERE_MODES`.
        climatology: (366, C, H, W) from :func:`atmosphere_climatology` (unused for ``observed``).
        observed_days: leads 0..observed_days keep the observed values (0: the start date only).
        tau_days: e-folding time (days) of the anomaly in ``damped_persistence``.

    Returns:
        (B, T, C, H, W) float32; ``atmos`` itself for ``observed`` or when no lead lies beyond
        ``observed_days``.
    """
    if mode not in ATMOSPHERE_MODES:
        raise ValueError(f"atmosphere mode {mode!r} is not one of {ATMOSPHERE_MODES}")
    if observed_days < 0:
        raise ValueError(f"observed_days must be >= 0, got {observed_days}")
    n_days = atmos.shape[1]
    if mode == "observed" or observed_days >= n_days - 1:
        return atmos
    if climatology is None:
        raise ValueError(f"atmosphere mode {mode!r} needs the climatology")
    if tau_days <= 0:
        raise ValueError(f"tau_days must be > 0, got {tau_days}")
    t0 = np.asarray(time0).astype("datetime64[D]")
    out = np.array(atmos, dtype=np.float32, copy=True)
    leads = np.arange(observed_days + 1, n_days)
    for b in range(out.shape[0]):
        clim = climatology[leap_doy_index(t0[b] + leads)]  # (L', C, H, W)
        if mode == "climatology":
            out[b, leads] = clim
            continue
        last = observed_days
        anomaly = atmos[b, last] - climatology[leap_doy_index(t0[b] + last)]
        if mode == "persistence":
            out[b, leads] = clim + anomaly[None]
        else:
            decay = np.exp(-(leads - last) / tau_days).astype(np.float32)
            out[b, leads] = clim + decay[:, None, None, None] * anomaly[None]
    return out


__all__ = ["ATMOSPHERE_MODES", "AtmosphereMode", "apply_atmosphere_mode", "atmosphere_climatology"]
