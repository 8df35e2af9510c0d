"""Marine heatwave (MHW) detection: Hobday et al. (2016) events, Hobday et al. (2018) categories.

Modules (imported on demand; nothing runs at import time):

* ``climatology``: ``compute_climatology(temp, dates, *, baseline, ...) -> (seas, thresh)`` (366, ...).
* ``detect``: ``detect(temp, dates, *, baseline | clim, cold_spells, ...) -> MHWResult`` (events
  table, daily flags and categories for series or grids; marine cold spells with negative
  intensities), ``find_events``, ``mhw_flags``.
* ``events``: per-event metrics with the reference implementations' column names.
* ``categories``: Moderate / Strong / Severe / Extreme.
* ``annual``: ``block_average(result, temp) -> BlockStats`` (statistics per year, the reference's
  blockAverage) and ``mean_trend(block) -> TrendStats`` (mean and trend per decade).
* ``outputs``: the climatology, annual and trend files of ``oceane2e detect`` (CSV / NetCDF).
* ``forecast``: ``forecast_mhw(forecast, history, time0, seas, thresh, *, mask)`` for SSTA forecasts.
* ``cli``: ``oceane2e detect``; ``benchmark``: its timing on a synthetic grid.
"""
