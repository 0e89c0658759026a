"""Sweep indicators: municipality totals per year from population counts by weight group.

A projection is reduced to counts ``[Y+1, G]`` over the weight groups of ``weights`` (total, the
planning age groups, then every (service, age group) of the catalogue); everything a sweep keeps
(population, users, staff, cost, demografikostnader) follows from those counts with the same
formulas as ``sim.services.demand`` (users = count x coverage x coverage multiplier; cost = users
x unit cost x (1 + unit-cost growth) ** (year - first year); demografikostnader = change in the
age-group counts since the base year x base coverage x unit cost).

Recent-refugee services (``driver = "recent_refugees"``, introduksjonsprogram) count refugees
recently settled instead of a population age group: the sweep passes those counts
(``recent_refugee_totals`` of the scenario's settlement: the resolved refugees times the
scenario's per-year refugee multiplier, or an ABM run's settled refugees; before the base year
the recorded history) and they replace the group's population count. They are left out of
demografikostnader, as in ``sim.services.demand.demografikostnader``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sim.config import Scenario
from sim.demography import AGE_GROUPS, N_AGES, age_group_weights
from sim.services import Catalogue
from sim.services.catalogue import group_table
from sim.services.demand import (
    coverage_multipliers,
    group_indicator,
    group_windows,
    recent_refugee_counts,
    refugee_group_indicator,
    refugee_history,
)

N_POP = 1 + len(AGE_GROUPS)
"""Weight groups before the service groups: the total and the planning age groups."""
USER_OUTPUTS = frozenset({"users", "staff", "cost"})
"""Outputs that count users (recent-refugee services then need the settlement)."""


def indicator_weights(catalogue: Catalogue | None) -> np.ndarray:
    """0/1 weights [2, 106, G]: total, age groups, then each (service, age group)."""
    parts = [np.ones((2, N_AGES, 1)), age_group_weights()]
    if catalogue is not None:
        parts.append(group_indicator(catalogue))
    return np.concatenate(parts, axis=2)


@lru_cache(maxsize=64)
def _history(municipality: str | None, first_year: int, n_years: int,
             record: tuple[tuple[int, float], ...] | None) -> np.ndarray:
    out = refugee_history(municipality, first_year, n_years,
                          None if record is None else dict(record))
    out.flags.writeable = False
    return out


def needs_refugees(catalogue: Catalogue | None, outputs: tuple[str, ...] | None = None) -> bool:
    """True if the catalogue has a recent-refugee service (and ``outputs`` count users)."""
    if catalogue is None or (outputs is not None and not USER_OUTPUTS & set(outputs)):
        return False
    return bool(group_windows(catalogue).any())


def recent_refugee_totals(catalogue: Catalogue | None, municipality: str | None, years,
                          settled: np.ndarray, scale: np.ndarray | None = None,
                          record: dict[int, float] | None = None) -> np.ndarray | None:
    """Recently settled refugees per (service, age group), municipality total [Y+1, G].

    Args:
        catalogue: the service catalogue (None or no recent-refugee service: returns None).
        municipality: kommunenummer of the recorded settlement before ``years[0]``
            (``sim.services.demand.refugee_history``).
        years: the Y+1 consecutive 1-January years.
        settled: [Y, 2, A] or [Y, D, 2, A] refugees settled during ``years[:-1]``.
        scale: optional [S, Y] per-year multipliers of ``settled`` (scenarios of a sweep):
            then [S, Y+1, G], row s that of ``settled * scale[s][:, None, None]``; each
            distinct row is computed once.
        record: refugees settled per year before ``years[0]`` as the resolved inputs used
            them (``sim.run.settled_record``); replaces the lookup by ``municipality``.
    """
    if not needs_refugees(catalogue):
        return None
    settled = np.asarray(settled, dtype=float)
    if settled.ndim == 4:
        settled = settled.sum(axis=1)
    years = np.asarray(years)
    if settled.shape != (len(years) - 1, 2, N_AGES):
        raise ValueError(f"settled must be [{len(years) - 1}, (D,) 2, {N_AGES}], got "
                         f"{settled.shape}")
    win = group_windows(catalogue)
    history = _history(municipality, int(years[0]), int(win.max()),
                       None if record is None else tuple(sorted(record.items())))
    rows, inverse = (None, None) if scale is None else np.unique(scale, axis=0,
                                                                 return_inverse=True)
    n_rows = 1 if rows is None else len(rows)
    by_group = np.zeros((len(history) + len(settled), n_rows, len(win)))  # population groups 0
    cols = np.flatnonzero(win)
    for u in range(n_rows):
        mine = settled if rows is None else settled * rows[u][:, None, None]
        by_group[:, u, cols] = np.einsum("tsa,sag->tg", np.concatenate([history, mine]),
                                         refugee_group_indicator(catalogue))
    counts = recent_refugee_counts(by_group, years, catalogue)  # [Y+1, rows, G]
    if rows is None:
        return counts[:, 0]
    return counts.transpose(1, 0, 2)[inverse.reshape(-1)]


def indicators(counts: np.ndarray, years: np.ndarray, catalogue: Catalogue | None,
               scenario: Scenario, outputs: tuple[str, ...],
               refugees: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """Indicator names and values [..., Y+1, I] from counts [..., Y+1, G].

    Leading axes (scenarios sharing ``scenario``'s service settings, runs) are kept: every
    value is the same arithmetic, element by element, as for a single [Y+1, G] array, so a
    scenario's numbers do not depend on what else is in the batch.

    ``refugees``: recently settled refugees per (service, age group) [..., Y+1, G]
    (``recent_refugee_totals``); required when ``needs_refugees(catalogue, outputs)``.
    Raises ``InputError`` for a bad ``services.coverage_path`` of the scenario.
    """
    names: list[str] = []
    cols: list[np.ndarray] = []
    if "population" in outputs:
        names.append("population.total")
        cols.append(counts[..., 0])
    if "age_groups" in outputs:
        for g, label in enumerate(AGE_GROUPS):
            names.append(f"population.{label}")
            cols.append(counts[..., 1 + g])
    service_outputs = {"users", "staff", "cost", "demografikostnader"} & set(outputs)
    if catalogue is not None and service_outputs:
        groups = group_table(catalogue)
        by_group = counts[..., N_POP:]
        win = group_windows(catalogue)
        if needs_refugees(catalogue, outputs):
            if refugees is None:
                raise ValueError("the catalogue has recent-refugee services: pass refugees "
                                 "(recent_refugee_totals of the scenario's settlement)")
            users_from = np.where(win > 0, refugees, by_group)
        else:
            users_from = by_group
        cov = np.array([g.coverage for _k, _key, g, _c in groups])
        unit = np.array([c for *_x, c in groups])
        mult = coverage_multipliers(catalogue, years, scenario.services.coverage_path,
                                    scenario.source or "scenario")
        users_g = users_from * (cov[None, :] * mult)
        cost_g = users_g * unit
        services = list(catalogue.services.values())
        members = [[g for g, row in enumerate(groups) if row[0] == k]
                   for k in range(len(services))]
        users = np.stack([_ordered_sum(users_g, m) for m in members], axis=-1)
        growth = (1.0 + scenario.services.unit_cost_growth) ** (
            np.asarray(years, dtype=float) - float(years[0]))
        cost = np.stack([_ordered_sum(cost_g, m) for m in members], axis=-1) * growth[:, None]
        keys = catalogue.keys
        if "users" in outputs:
            names += [f"users.{k}" for k in keys]
            cols += list(np.moveaxis(users, -1, 0))
        if "staff" in outputs:
            staff = users * np.array([s.staff_per_user for s in services])
            names += [f"staff.{k}" for k in keys]
            cols += list(np.moveaxis(staff, -1, 0))
        if "cost" in outputs:
            names += [f"cost_nok.{k}" for k in keys] + ["cost_nok.total"]
            cols += [*np.moveaxis(cost, -1, 0), _ordered_sum(cost, range(cost.shape[-1]))]
        if "demografikostnader" in outputs:
            # population-driven groups only (recent-refugee services are no demographic cost)
            change = (by_group - by_group[..., :1, :]) * (cov * unit)
            names.append("demografikostnader_nok.total")
            cols.append(_ordered_sum(change, np.flatnonzero(win == 0)))
    if not cols:
        return names, np.empty(counts.shape[:-1] + (0,))
    return names, np.stack(cols, axis=-1)


def _ordered_sum(arr: np.ndarray, columns) -> np.ndarray:
    """Sum of columns (last axis) left to right (a fixed order: the same bits everywhere)."""
    out = np.zeros(arr.shape[:-1])
    for c in columns:
        out = out + arr[..., c]
    return out


def zone_indicators(counts: np.ndarray, years: np.ndarray, catalogue: Catalogue | None,
                    scenario: Scenario, districts: tuple[str, ...],
                    ) -> tuple[list[str], np.ndarray]:
    """Per-zone indicators [..., Y+1, I] from per-zone counts [..., Y+1, D, G].

    ``population.total@<zone>`` and ``users.<service>@<zone>`` of the population-driven
    services (recent-refugee services are counted for the kommune only). Empty for one zone.
    """
    if len(districts) < 2:
        return [], np.zeros(counts.shape[:-2] + (0,))
    outputs = ("population", "users") if catalogue is not None else ("population",)
    per_zone = np.moveaxis(counts, -2, 0)                     # [D, ..., Y+1, G]
    kept = catalogue
    if catalogue is not None and group_windows(catalogue).any():
        keys = [k for k, s in catalogue.services.items() if s.driver == "population"]
        kept = catalogue.model_copy(update={"services": {k: catalogue.services[k]
                                                         for k in keys}})
        groups = group_table(catalogue)
        keep = [g for g, row in enumerate(groups) if row[1] in keys]
        per_zone = np.concatenate([per_zone[..., :N_POP], per_zone[..., N_POP:][..., keep]],
                                  axis=-1)
    names, values = indicators(per_zone, years, kept, scenario, outputs)
    names = [f"{n}@{z}" for z in districts for n in names]
    values = np.concatenate(list(values), axis=-1)            # zones after each other
    return names, values
