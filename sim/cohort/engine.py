"""The cohort-component engine: ``project(inputs) -> Projection`` (expected values)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.cohort.kernel import COMPONENTS, project_batch_kernel, project_kernel
from sim.inputs import ResolvedInputs


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
    """Run the cohort-component projection for the resolved inputs."""
    n_year = len(inputs.years)
    pop = np.empty((n_year + 1,) + inputs.base_population.shape)
    n_dist = inputs.base_population.shape[0]
    comp = np.empty((n_year, n_dist, len(COMPONENTS)) + inputs.base_population.shape[1:])
    scale = np.empty(n_year)
    project_kernel(inputs.base_population, inputs.fertility, inputs.p_male_birth,
                   inputs.death_probability, inputs.out_rate, inputs.in_migrants,
                   inputs.refugees, inputs.growth_target, pop, comp, scale)
    years = np.append(inputs.years, inputs.years[-1] + 1)
    return Projection(years, inputs.districts, pop, comp, scale)


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
    n_group = weights.shape[2]
    by_group = np.asarray(weights, dtype=float).reshape(-1, n_group).T  # [G, cells]
    group, cell = np.nonzero(by_group)  # row-major: sorted by group (CSR)
    start = np.searchsorted(group, np.arange(n_group + 1)).astype(np.int64)
    out = np.empty((n_scen, len(inputs.years) + 1, len(inputs.districts), n_group))
    project_batch_kernel(inputs.base_population, inputs.fertility, inputs.p_male_birth,
                         inputs.death_probability, inputs.out_rate, inputs.in_migrants,
                         inputs.refugees, *ks, start, cell.astype(np.int64),
                         by_group[group, cell].copy(), out)
    return out
