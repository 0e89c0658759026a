"""Plots for planners: population pyramid, total population, broad age groups (PNG, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sim.cohort.engine import Projection  # noqa: E402
from sim.demography import AGE_GROUPS, N_AGES  # noqa: E402
from sim.numbers import axis, number  # noqa: E402


def pyramid_compare(bars: np.ndarray, line: np.ndarray, bar_label: str, line_label: str,
                    title: str, path: Path) -> None:
    """Population pyramid: ``bars`` [2, A] filled (men left, women right), ``line`` outlined."""
    ages = np.arange(N_AGES)
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.barh(ages, -bars[0], height=1.0, color="#4C72B0", alpha=0.6, label=f"menn {bar_label}")
    ax.barh(ages, bars[1], height=1.0, color="#DD8452", alpha=0.6,
            label=f"kvinner {bar_label}")
    ax.step(-line[0], ages, where="mid", color="black", lw=1, label=line_label)
    ax.step(line[1], ages, where="mid", color="black", lw=1)
    lim = max(bars.max(), line.max()) * 1.05
    ax.set_xlim(-lim, lim)
    ticks = ax.get_xticks()
    ax.set_xticks(ticks)
    ax.set_xticklabels([number(abs(t)) for t in ticks])
    ax.set_ylim(-0.5, N_AGES - 0.5)
    ax.set_xlabel("personer (menn til venstre, kvinner til høyre)")
    ax.set_ylabel("alder (105 = 105 år og eldre)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pyramid(proj: Projection, title: str, path: Path) -> None:
    """Population pyramid, base year (outline) against the last year (bars), all districts."""
    pop = proj.population.sum(axis=1)  # [Y+1, 2, A]
    pyramid_compare(pop[-1], pop[0], str(proj.years[-1]), str(proj.years[0]), title, path)


def total_population(proj: Projection, title: str, path: Path) -> None:
    """Total population on 1 January by year."""
    tot = proj.population.sum(axis=(1, 2, 3))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(proj.years, tot, marker="o", ms=3)
    ax.set_ylabel("innbyggere 1. januar")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    axis(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def age_groups(proj: Projection, title: str, path: Path) -> None:
    """Broad age groups relative to the base year (index, base = 100)."""
    pop = proj.population.sum(axis=(1, 2))  # [Y+1, A]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, (lo, hi) in AGE_GROUPS.items():
        series = pop[:, lo : hi + 1].sum(axis=1)
        ax.plot(proj.years, 100 * series / series[0], label=f"{name} år")
    ax.axhline(100, color="grey", lw=0.8)
    ax.set_ylabel(f"indeks, {proj.years[0]} = 100")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fan_total(population: np.ndarray, years: np.ndarray, title: str, path: Path) -> None:
    """Total population over runs: median, P5-P95 band and every run faintly ([R, Y+1, ...])."""
    totals = population.reshape(population.shape[0], population.shape[1], -1).sum(axis=2)
    p5, p50, p95 = np.quantile(totals, [0.05, 0.5, 0.95], axis=0)
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in totals[:200]:
        ax.plot(years, run, color="#4C72B0", alpha=0.05, lw=0.8)
    ax.fill_between(years, p5, p95, color="#4C72B0", alpha=0.25,
                    label="tilfeldig variasjon (gitt forutsetningene), P5-P95")
    ax.plot(years, p50, color="#4C72B0", lw=2, label="median")
    ax.set_ylabel("innbyggere 1. januar")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    axis(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
