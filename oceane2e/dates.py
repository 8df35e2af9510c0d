"""Calendar helpers shared by the data contract and the MHW detection (no dependency on either).

Dates are ``numpy.datetime64[D]``. The day-of-year convention is Hobday's 366-day calendar
(:func:`leap_doy_index`), used by every climatology of the project.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

#: The length of a day in seconds: the forecast step of every model and the kernel's default interval.
SECONDS_PER_DAY = 86400.0

__all__ = ["SECONDS_PER_DAY", "date_to_year_day", "days_in_year", "leap_doy_index", "to_datetime", "year_dates"]


def days_in_year(year: int) -> int:
    """Number of calendar days in ``year`` (365 or 366)."""
    return 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365


def year_dates(year: int) -> np.ndarray:
    """All dates of ``year`` as ``datetime64[D]``."""
    start = np.datetime64(f"{year:04d}-01-01", "D")
    return start + np.arange(days_in_year(year))


def leap_doy_index(dates: np.ndarray) -> np.ndarray:
    """0-based day-of-year on the 366-day (leap-year) calendar for ``dates``.

    The Hobday convention: in non-leap years days after 28 February are shifted by one, so
    1 March is always index 60 and 29 February (index 59) exists only in leap years.
    """
    dates = np.asarray(dates, dtype="datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    doy0 = (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(int)
    leap = np.array([days_in_year(int(y)) == 366 for y in np.atleast_1d(years)]).reshape(np.shape(years))
    return np.where(~leap & (doy0 >= 59), doy0 + 1, doy0)


def date_to_year_day(date: np.datetime64) -> tuple[int, int]:
    """Split a ``datetime64[D]`` into (year, 0-based day within the year)."""
    d = np.datetime64(date, "D")
    year = int(d.astype("datetime64[Y]").astype(int) + 1970)
    return year, int((d - np.datetime64(f"{year:04d}-01-01", "D")).astype(int))


def to_datetime(date: np.datetime64) -> _dt.date:
    """``datetime64[D]`` -> ``datetime.date``."""
    return np.datetime64(date, "D").astype(object)
