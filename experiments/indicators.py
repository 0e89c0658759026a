"""Sweep indicators: municipality totals per year from population counts by weight group.

A projection is reduced to counts ``[Y+1, G]`` over the weight groups of ``weights`` (total, the
planning age groups, then every (service, age group) of the catalogue); everything a sweep keeps
(population, users, staff, cost, demografikostnader) follows from those counts with the same
formulas as ``sim.services.demand`` (users = count x coverage x coverage multiplier; cost = users
x unit cost x (1 + unit-cost growth) ** (year - first year); demografikostnader = change in the
age-group counts since the base year x base coverage x unit cost).
"""

from __future__ import annotations

import numpy as np

from sim.config import Scenario
from sim.demography import AGE_GROUPS, N_AGES, age_group_weights
from sim.services import Catalogue
from sim.services.catalogue import group_table
from sim.services.demand import coverage_multipliers, group_indicator

N_POP = 1 + len(AGE_GROUPS)
"""Weight groups before the service groups: the total and the planning age groups."""


def indicator_weights(catalogue: Catalogue | None) -> np.ndarray:
    """0/1 weights [2, 106, G]: total, age groups, then each (service, age group)."""
    parts = [np.ones((2, N_AGES, 1)), age_group_weights()]
    if catalogue is not None:
        parts.append(group_indicator(catalogue))
    return np.concatenate(parts, axis=2)


def indicators(counts: np.ndarray, years: np.ndarray, catalogue: Catalogue | None,
               scenario: Scenario, outputs: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Indicator names and values [Y+1, I] from counts [Y+1, G] (see ``indicator_weights``).

    Raises ``InputError`` for a bad ``services.coverage_path`` of the scenario.
    """
    names: list[str] = []
    cols: list[np.ndarray] = []
    if "population" in outputs:
        names.append("population.total")
        cols.append(counts[:, 0])
    if "age_groups" in outputs:
        for g, label in enumerate(AGE_GROUPS):
            names.append(f"population.{label}")
            cols.append(counts[:, 1 + g])
    service_outputs = {"users", "staff", "cost", "demografikostnader"} & set(outputs)
    if catalogue is not None and service_outputs:
        groups = group_table(catalogue)
        by_group = counts[:, N_POP:]
        cov = np.array([g.coverage for _k, _key, g, _c in groups])
        unit = np.array([c for *_x, c in groups])
        mult = coverage_multipliers(catalogue, years, scenario.services.coverage_path,
                                    scenario.source or "scenario")
        users_g = by_group * (cov[None, :] * mult)
        cost_g = users_g * unit
        services = list(catalogue.services.values())
        members = [[g for g, row in enumerate(groups) if row[0] == k]
                   for k in range(len(services))]
        users = np.stack([_ordered_sum(users_g, m) for m in members], axis=1)
        growth = (1.0 + scenario.services.unit_cost_growth) ** (
            np.asarray(years, dtype=float) - float(years[0]))
        cost = np.stack([_ordered_sum(cost_g, m) for m in members], axis=1) * growth[:, None]
        keys = catalogue.keys
        if "users" in outputs:
            names += [f"users.{k}" for k in keys]
            cols += list(users.T)
        if "staff" in outputs:
            staff = users * np.array([s.staff_per_user for s in services])
            names += [f"staff.{k}" for k in keys]
            cols += list(staff.T)
        if "cost" in outputs:
            names += [f"cost_nok.{k}" for k in keys] + ["cost_nok.total"]
            cols += [*cost.T, _ordered_sum(cost, range(cost.shape[1]))]
        if "demografikostnader" in outputs:
            change = (by_group - by_group[0]) * (cov * unit)
            names.append("demografikostnader_nok.total")
            cols.append(_ordered_sum(change, range(change.shape[1])))
    return names, np.stack(cols, axis=1) if cols else np.empty((len(years), 0))


def _ordered_sum(arr: np.ndarray, columns) -> np.ndarray:
    """Sum of columns left to right (a fixed order: the same bits on every machine)."""
    out = np.zeros(arr.shape[0])
    for c in columns:
        out = out + arr[:, c]
    return out
