"""Norwegian number formats for what a planner reads: ``48 188``, ``1,57``, ``+229``, ``−3,1``.

Thousands are grouped with a space, decimals follow a comma and negative numbers take the minus
sign (U+2212), as in SSB's tables. Missing values (None, NaN) print as an en dash.
"""

from __future__ import annotations

import math

MINUS = "\u2212"
MISSING = "\u2013"
PLOTLY_SEPARATORS = ", "
"""Plotly's ``layout.separators``: decimal comma, space between thousands."""


def number(value: float | None, decimals: int = 0, sign: bool = False) -> str:
    """``value`` with ``decimals`` decimals in Norwegian notation (``sign``: always +/−)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    text = f"{abs(value):,.{decimals}f}".replace(",", " ").replace(".", ",")
    negative = round(value, decimals) < 0
    if negative:
        return MINUS + text
    return f"+{text}" if sign and round(value, decimals) > 0 else text


def signed(value: float | None, decimals: int = 0) -> str:
    """A difference: ``+229``, ``−12``, ``0``."""
    return number(value, decimals, sign=True)


def percent(value: float | None, decimals: int = 1) -> str:
    """A percentage: ``−3,1 %``."""
    text = number(value, decimals)
    return text if text == MISSING else f"{text} %"
