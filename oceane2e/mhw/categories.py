"""Hobday et al. (2018) MHW categories: multiples of the local difference ``thresh - seas``.

A day with temperature ``temp`` has the *category number*
``floor(1 + (temp - thresh) / (thresh - seas))``: 1 Moderate (between 1x and 2x the difference
above ``seas``), 2 Strong, 3 Severe, 4 and above Extreme. With an anomaly ``ssta = temp - seas``
the same number is ``floor(ssta / (thresh - seas))``.
"""

from __future__ import annotations

import numpy as np

CATEGORY_NAMES: tuple[str, ...] = ("Moderate", "Strong", "Severe", "Extreme")
NO_MHW = 0
MODERATE, STRONG, SEVERE, EXTREME = 1, 2, 3, 4


def category_number(temp: np.ndarray, seas: np.ndarray, thresh: np.ndarray) -> np.ndarray:
    """Unclipped category number ``floor(1 + (temp - thresh) / (thresh - seas))`` (float, same shape).

    Values <= 0 mean "below the threshold"; NaN where any input is NaN.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.floor(1.0 + (temp - thresh) / (thresh - seas))


def daily_category(number: np.ndarray, in_event: np.ndarray) -> np.ndarray:
    """Daily category code (int8): 0 outside MHW events, 1..4 (Moderate..Extreme) on event days.

    Days inside an event that are below the threshold (the joined gaps of at most ``max_gap``
    days) are counted as Moderate, so ``category >= 1`` is exactly the event flag.

    Args:
        number: category numbers from :func:`category_number`, any shape.
        in_event: bool event flags, same shape.
    """
    cat = np.clip(np.nan_to_num(number, nan=1.0, posinf=4.0, neginf=1.0), MODERATE, EXTREME)
    return np.where(in_event, cat, NO_MHW).astype(np.int8)


def category_name(code: int) -> str:
    """Name of a category code 1..4 (``"Moderate"`` .. ``"Extreme"``); 0 gives ``"None"``."""
    return "None" if code <= 0 else CATEGORY_NAMES[min(int(code), EXTREME) - 1]
