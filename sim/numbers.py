"""Norwegian number formats for what planners read: ``48 188``, ``1,5 %``, ``-229``.

Thousands are separated by a no-break space and decimals by a comma (Språkrådet's rules).
Excel formats use the locale-aware ``#,##0``: a Norwegian Excel shows ``48 188``.
"""

from __future__ import annotations

import math

NBSP = "\u00a0"
NB_INT_FORMAT = "#,##0"
"""Excel number format for whole numbers (shown with the reader's thousands separator)."""
NB_DEC1_FORMAT = "#,##0.0"
NB_PCT_FORMAT = "0.0%"


def nb_number(value: float, decimals: int = 0, sign: bool = False) -> str:
    """``value`` with Norwegian separators: ``48 188``, ``0,72``; ``sign`` adds a leading +."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:+,.{decimals}f}" if sign else f"{value:,.{decimals}f}"
    text = text.replace(",", NBSP).replace(".", ",")
    return text.replace("-", "−")


def nb_int(value: float, sign: bool = False) -> str:
    """A whole number with Norwegian separators (rounded)."""
    return nb_number(value, 0, sign)


def nb_pct(value: float, decimals: int = 1, sign: bool = False) -> str:
    """A percentage: ``nb_pct(1.5)`` -> ``1,5 %``."""
    return f"{nb_number(value, decimals, sign)}{NBSP}%"


def nb_axis(ax, which: str = "y") -> None:
    """Format a matplotlib axis with Norwegian thousands separators."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: nb_int(v))
    (ax.yaxis if which == "y" else ax.xaxis).set_major_formatter(fmt)
