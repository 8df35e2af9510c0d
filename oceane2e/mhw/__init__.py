"""Marine heatwave (MHW) detection: Hobday et al. (2016) events, Hobday et al. (2018) categories.

Modules (imported on demand; nothing runs at import time):

* ``climatology``: ``compute_climatology(temp, dates, *, baseline, ...) -> (seas, thresh)`` (366, ...).
* ``detect``: ``detect(temp, dates, *, baseline | clim, ...) -> MHWResult`` (events table, daily
  flags and categories for series or grids), ``find_events``, ``mhw_flags``.
* ``events``: per-event metrics with the reference implementations' column names.
* ``categories``: Moderate / Strong / Severe / Extreme.
* ``forecast``: ``forecast_mhw(forecast, history, time0, seas, thresh, *, mask)`` for SSTA forecasts.
* ``cli``: ``oceane2e detect``; ``benchmark``: its timing on a synthetic grid.
"""
