"""Norwegian number formats for what planners read: ``48 188``, ``1,57``, ``+229``, ``−3,1 %``.

Text (tables, sentences, plots, the web app): thousands grouped with a space, decimals after a
comma, negative numbers with the minus sign (U+2212), as in SSB's tables; missing values (None,
NaN) print as an en dash. Excel cells keep their exact numbers and get the standard formats
``#,##0`` / ``0.0``: Excel shows them with the reader's separators, so a Norwegian Excel shows
``48 188`` and ``1,6`` (and sums, sorts and charts the numbers as numbers).
"""

from __future__ import annotations

import math

MINUS = "\u2212"
MISSING = "\u2013"
PLOTLY_SEPARATORS = ", "
"""Plotly's ``layout.separators``: decimal comma, space between thousands."""
EXCEL_INT = "#,##0"
"""Excel format of whole numbers (persons, 1000 kr): ``48 188`` in a Norwegian Excel."""
README_SHEET = "Les meg"
"""The first sheet of every workbook: what the other sheets hold, units, sources."""


def number(value: float | None, decimals: int = 0, sign: bool = False) -> str:
    """``value`` with ``decimals`` decimals in Norwegian notation (``sign``: always +/−)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    text = f"{abs(value):,.{decimals}f}".replace(",", " ").replace(".", ",")
    rounded = round(value, decimals)
    if rounded < 0:
        return MINUS + text
    return f"+{text}" if sign and rounded > 0 else text


def signed(value: float | None, decimals: int = 0) -> str:
    """A difference: ``+229``, ``−12``, ``0``."""
    return number(value, decimals, sign=True)


def percent(value: float | None, decimals: int = 1, sign: bool = False) -> str:
    """A percentage: ``−3,1 %``."""
    text = number(value, decimals, sign)
    return text if text == MISSING else f"{text} %"


def tick(value: float, step: float | None = None) -> str:
    """An axis tick label: ``48 188``, ``2,5``, ``0,25``.

    ``step``, the spacing between the axis's ticks, sets the decimals: as many as the step
    needs (0.25 -> 2), so that neighbouring ticks never print the same. Without it: whole
    numbers and values from 100 with none, smaller fractions with one.
    """
    if step is None or not step > 0:
        return number(value, 0 if abs(value) >= 100 or value == int(value) else 1)
    decimals = next((d for d in range(7) if abs(round(step, d) - step) <= 1e-9 * step), 6)
    return number(value, decimals)


def axis(ax, which: str = "y") -> None:
    """Format a matplotlib axis with Norwegian numbers (see ``tick``)."""
    from matplotlib.ticker import Formatter

    class NorwegianTicks(Formatter):
        def __call__(self, x, pos=None):
            locs = sorted(self.axis.get_majorticklocs()) if self.axis is not None else []
            steps = [b - a for a, b in zip(locs, locs[1:], strict=False) if b > a]
            return tick(x, min(steps) if steps else None)

    (ax.yaxis if which == "y" else ax.xaxis).set_major_formatter(NorwegianTicks())
