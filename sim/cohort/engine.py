"""The cohort-component engine: ``project(inputs) -> Projection`` (expected values)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.cohort.kernel import (
    COMPONENTS,
    project_batch_kernel,
    project_kernel,
)
from sim.resolved import ResolvedInputs


@dataclass(frozen=True)
class Projection:
    """A projection's result arrays.

    Attributes:
        years: [Y+1] the 1 January dates of ``population``.
        population: [Y+1, D, 2, A] persons on 1 January.
        components: [Y, D, 5, 2, A] flows during year t by cohort age (``COMPONENTS`` order).
        in_scale: [Y] the in-migration multiplier used (1 unless a growth target is set).
    """

    years: np.ndarray
    districts: tuple[str, ...]
    population: np.ndarray
    components: np.ndarray
    in_scale: np.ndarray

    def component(self, name: str) -> np.ndarray:
        """One component [Y, D, 2, A] by name (births, deaths, in_migrants, ...)."""
        return self.components[:, :, COMPONENTS.index(name)]


def project(inputs: ResolvedInputs) -> Projection:
    """Run the cohort-component projection for the resolved inputs.

    With ``inputs.municipal`` (top-down zones), the kommune is projected first and the zones
    are raked to it every year (``sim.cohort.constrained``).
    """
    if inputs.municipal is not None:
        return _project_constrained(inputs)
    n_year = len(inputs.years)
    n_dist = inputs.base_population.shape[0]
    pop = np.empty((n_year + 1,) + inputs.base_population.shape)
    comp = np.empty((n_year, n_dist, len(COMPONENTS)) + inputs.base_population.shape[1:])
    births = np.empty((n_year, n_dist))
    scale = np.empty(n_year)
    project_kernel(inputs.base_population, inputs.fertility, inputs.p_male_birth,
                   inputs.death_probability, inputs.out_rate, inputs.in_migrants,
                   inputs.refugees, inputs.growth_target, pop, comp, births, scale)
    years = np.append(inputs.years, inputs.years[-1] + 1)
    return Projection(years, inputs.districts, pop, comp, scale)


def _project_constrained(inputs: ResolvedInputs) -> Projection:
    from sim.cohort.constrained import project_constrained_kernel

    kommune = project(inputs.municipal)
    n_year, n_dist = len(inputs.years), inputs.base_population.shape[0]
    pop = np.empty((n_year + 1,) + inputs.base_population.shape)
    comp = np.empty((n_year, n_dist, len(COMPONENTS)) + inputs.base_population.shape[1:])
    births = np.empty((n_year, n_dist))
    project_constrained_kernel(inputs.base_population, inputs.fertility, inputs.p_male_birth,
                               inputs.death_probability, inputs.out_rate, inputs.in_migrants,
                               inputs.refugees, kommune.in_scale,
                               np.ascontiguousarray(kommune.population[:, 0]), pop, comp, births)
    years = np.append(inputs.years, inputs.years[-1] + 1)
    return Projection(years, inputs.districts, pop, comp, kommune.in_scale)


def project_batch(inputs: ResolvedInputs, multipliers: dict[str, np.ndarray],
                  weights: np.ndarray) -> np.ndarray:
    """Project many scenarios that share ``inputs`` and differ by per-year multipliers.

    Args:
        inputs: the shared resolved inputs (growth targets are not used here).
        multipliers: any of ``fertility``, ``mortality``, ``in_migrants``, ``out_rate``,
            ``refugees``, each [S, Y] (missing = 1). Mortality and out-rate multipliers are
            capped so that d <= 1 and d + o <= 1.
        weights: [2, A, G] indicator weights over sex and age.

    Returns:
        [S, Y+1, D, G] indicators on 1 January of each year.
    """
    names = ("fertility", "mortality", "in_migrants", "out_rate", "refugees")
    unknown = set(multipliers) - set(names)
    if unknown:
        raise ValueError(f"unknown multipliers {sorted(unknown)}; allowed {names}")
    n_scen = next(iter(multipliers.values())).shape[0] if multipliers else 1
    shape = (n_scen, len(inputs.years))
    ks = [np.ascontiguousarray(np.broadcast_to(multipliers.get(n, np.ones(shape)), shape),
                               dtype=float) for n in names]
    seg = weight_segments(weights)
    out = np.empty((n_scen, len(inputs.years) + 1, len(inputs.districts), weights.shape[2]))
    project_batch_kernel(inputs.base_population, inputs.fertility, inputs.p_male_birth,
                         inputs.death_probability, inputs.out_rate, inputs.in_migrants,
                         inputs.refugees, *ks, *seg, out)
    return out


def weight_segments(weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Indicator weights [2, A, G] as runs of equal non-zero weight over consecutive ages.

    Returns (sex, first age, last age, weight, indicator) arrays, one entry per run.
    """
    rows = []
    n_sex, n_age, n_group = weights.shape
    for g in range(n_group):
        for s in range(n_sex):
            w = weights[s, :, g]
            a = 0
            while a < n_age:
                if w[a] == 0.0:
                    a += 1
                    continue
                end = a
                while end + 1 < n_age and w[end + 1] == w[a]:
                    end += 1
                rows.append((s, a, end, w[a], g))
                a = end + 1
    if not rows:
        rows = [(0, 0, 0, 0.0, 0)]
    sex, lo, hi, w, g = zip(*rows, strict=True)
    ints = (np.array(v, dtype=np.int64) for v in (sex, lo, hi))
    return (*ints, np.array(w, dtype=float), np.array(g, dtype=np.int64))
