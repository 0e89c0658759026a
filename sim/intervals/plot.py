"""Fan charts of prediction intervals (bokmål labels, Norwegian number format)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sim.demography import AGE_GROUPS  # noqa: E402
from sim.numbers import axis  # noqa: E402


def _fan(ax, iv, d: int, g: int) -> None:
    years = iv.years
    ax.fill_between(years, iv.q(0.10)[:, d, g], iv.q(0.90)[:, d, g], color="#4C72B0",
                    alpha=0.30, lw=0, label="80 % prediksjonsintervall")
    ax.fill_between(years, iv.q(0.25)[:, d, g], iv.q(0.75)[:, d, g], color="#4C72B0",
                    alpha=0.35, lw=0, label="50 % prediksjonsintervall")
    ax.plot(years, iv.q(0.50)[:, d, g], color="#1F3B73", lw=1.6, label="median")
    ax.grid(alpha=0.3)
    axis(ax)


def fan_chart(iv, indicator: str | None, path: Path, title: str | None = None) -> None:
    """Fan chart of one indicator (``"total"``) or, with ``None``, every planning age group.

    Drawn for the whole kommune (the last district). The caption says how the band was made
    (``sim.intervals.HOW_MADE``).
    """
    from sim.intervals import HOW_MADE

    d = len(iv.districts) - 1
    name = title or iv.districts[d]
    if indicator is not None:
        fig, ax = plt.subplots(figsize=(8, 5))
        _fan(ax, iv, d, iv.indicators.index(indicator))
        ax.set_ylabel("innbyggere 1. januar")
        ax.set_title(f"{name}: folketall med 80 % prediksjonsintervall")
        ax.legend(loc="upper left", fontsize=9)
    else:
        fig, grid = plt.subplots(3, 3, figsize=(11, 9), sharex=True)
        for ax, group in zip(grid.ravel(), ("total", *AGE_GROUPS), strict=True):
            _fan(ax, iv, d, iv.indicators.index(group))
            ax.set_title("i alt" if group == "total" else f"{group} år", fontsize=10)
        grid[0, 0].legend(loc="upper left", fontsize=7)
        fig.suptitle(f"{name}: aldersgrupper med 80 % prediksjonsintervall", fontsize=12)
    fig.text(0.01, 0.01, _wrap(HOW_MADE, 120 if indicator is None else 95), fontsize=8,
             va="bottom")
    fig.tight_layout(rect=(0, 0.07 if indicator is None else 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
