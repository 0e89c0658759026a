"""PNG plots of service demand, zone gaps, cost per inhabitant and demografikostnader.

matplotlib Agg; labels in Norwegian bokmål with Norwegian number formats (what a planner sees).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.numbers import axis  # noqa: E402
from sim.services.demand import municipality_totals  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_demand(demand: pd.DataFrame, path: str | Path) -> Path:
    """Users per service over time (all zones), with place demand and places where known."""
    tot = municipality_totals(demand)
    services = list(dict.fromkeys(tot["service"]))
    ncol = 3
    nrow = int(np.ceil(len(services) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.8 * nrow), squeeze=False)
    for ax, key in zip(axes.ravel(), services, strict=False):
        s = tot[tot["service"] == key]
        ax.plot(s["year"], s["users"], label="brukere")
        if s["places"].notna().any():
            if not np.allclose(s["place_demand"], s["users"]):
                ax.plot(s["year"], s["place_demand"], ls=":", label="plassbehov")
            ax.step(s["year"], s["places"], where="post", ls="--", label="plasser")
            ax.legend(fontsize=7)
        ax.set_title(key, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
        axis(ax)
    for ax in axes.ravel()[len(services):]:
        ax.set_visible(False)
    fig.suptitle("Tjenestebrukere (1. januar)")
    return _save(fig, path)


def plot_zone_gaps(demand: pd.DataFrame, path: str | Path) -> Path:
    """Places short (+) or spare (−) by zone and year, one panel per service with places.

    The gap is after the new buildings (``new_places``); markers show the years buildings open.
    Services with kommune-wide capacity (no zone shortage) show the kommune's gap.
    """
    have = demand[demand["places"].notna()]
    services = list(dict.fromkeys(have["service"])) or ["(ingen tjenester med plasser)"]
    ncol = min(3, len(services))
    nrow = int(np.ceil(len(services) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.5 * ncol, 3.2 * nrow), squeeze=False)
    for ax, key in zip(axes.ravel(), services, strict=False):
        part = have[have["service"] == key]
        if len(part) and part["shortage"].isna().all():
            # kommune-wide capacity (sykehjem): only the kommune's gap is a shortage
            part = municipality_totals(part).assign(district="Hele kommunen")
        for zone, z in part.groupby("district", sort=False):
            line, = ax.plot(z["year"], z["gap"], label=str(zone))
            opened = z["year"][np.diff(z["new_places"].to_numpy(), prepend=0.0) > 0]
            ax.plot(opened, z.set_index("year").loc[opened, "gap"], "o",
                    color=line.get_color(), ms=4)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(key, fontsize=9)
        ax.tick_params(labelsize=7)
        axis(ax)
        if len(part):
            ax.legend(fontsize=6)
    for ax in axes.ravel()[len(services):]:
        ax.set_visible(False)
    fig.suptitle("Plasser som mangler (+) eller er ledige (−) etter sone; o = nybygg åpner")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(fig, path)


def plot_cost_per_inhabitant(demand: pd.DataFrame, path: str | Path) -> Path:
    """Stacked cost per inhabitant by service over time (all districts)."""
    tot = municipality_totals(demand)
    wide = tot.pivot_table(index="year", columns="service", values="cost_per_inhabitant_nok",
                           sort=False)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.stackplot(wide.index, wide.to_numpy().T, labels=wide.columns)
    ax.set_ylabel(f"kr per innbygger ({int(tot['price_year'].max())}-kroner)")
    ax.set_title("Tjenestekostnad per innbygger")
    axis(ax)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, path)


def plot_demografikostnader(dk: pd.DataFrame, path: str | Path) -> Path:
    """Stacked bars of yearly demographic cost change by sector (NOK million), with total."""
    wide = dk.pivot_table(index="year", columns="sector", values="cost_change_nok",
                          aggfunc="sum", sort=False) / 1e6
    fig, ax = plt.subplots(figsize=(8, 4.5))
    pos = np.zeros(len(wide))
    neg = np.zeros(len(wide))
    for col in wide.columns:
        v = wide[col].to_numpy()
        base = np.where(v >= 0, pos, neg)
        ax.bar(wide.index, v, bottom=base, label=col)
        pos += np.clip(v, 0, None)
        neg += np.clip(v, None, 0)
    ax.plot(wide.index, wide.sum(axis=1), color="black", marker=".", label="sum")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("mill. kr per år")
    ax.set_title("Demografikostnader (TBU-metoden): kostnad av befolkningsendring")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, path)
