"""PNG plots of service demand, cost per inhabitant and demografikostnader (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.services.demand import municipality_totals  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_demand(demand: pd.DataFrame, path: str | Path) -> Path:
    """Users per service over time (all districts), with capacity where known."""
    tot = municipality_totals(demand)
    services = list(dict.fromkeys(tot["service"]))
    ncol = 3
    nrow = int(np.ceil(len(services) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.8 * nrow), squeeze=False)
    for ax, key in zip(axes.ravel(), services, strict=False):
        s = tot[tot["service"] == key]
        ax.plot(s["year"], s["users"], label="users")
        if s["capacity"].notna().any():
            ax.step(s["year"], s["capacity"], where="post", ls="--", label="capacity")
            ax.legend(fontsize=7)
        ax.set_title(key, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(services):]:
        ax.set_visible(False)
    fig.suptitle("Service users (1 January)")
    return _save(fig, path)


def plot_cost_per_inhabitant(demand: pd.DataFrame, path: str | Path) -> Path:
    """Stacked cost per inhabitant by service over time (all districts)."""
    tot = municipality_totals(demand)
    wide = tot.pivot_table(index="year", columns="service", values="cost_per_inhabitant_nok",
                           sort=False)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.stackplot(wide.index, wide.to_numpy().T, labels=wide.columns)
    ax.set_ylabel(f"NOK per inhabitant ({int(tot['price_year'].max())} prices)")
    ax.set_title("Service cost per inhabitant")
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
    ax.plot(wide.index, wide.sum(axis=1), color="black", marker=".", label="total")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("NOK million per year")
    ax.set_title("Demografikostnader (TBU method): cost of population change")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, path)
