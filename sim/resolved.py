"""The resolved inputs of one projection: every array an engine reads, nothing else.

``sim.inputs.resolve`` makes them from a scenario; the cohort and agent-based engines read them;
``kommunesim inputs`` writes them as CSV (``sim.inputfiles``). This module depends only on numpy,
so every stage of the data flow can import it without reaching back up the chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from sim.demography import N_AGES
from sim.errors import InputError


@dataclass(frozen=True)
class ResolvedInputs:
    """Everything an engine needs for one projection; arrays are float64.

    Shapes: D districts, Y projection years, A = 106 cohort ages.
    """

    municipality: str
    municipality_name: str
    districts: tuple[str, ...]
    years: np.ndarray             # [Y] projection years t (flows of t give 1 Jan t+1)
    base_population: np.ndarray   # [D, 2, A] persons on 1 Jan of years[0]
    fertility: np.ndarray         # [Y, D, A] births per woman-year, cohort age
    p_male_birth: float           # share of births that are boys
    death_probability: np.ndarray  # [Y, D, 2, A]
    out_rate: np.ndarray          # [Y, D, 2, A] out-migrants per person-year of exposure
    in_migrants: np.ndarray       # [Y, D, 2, A] persons (excluding refugees)
    refugees: np.ndarray          # [Y, D, 2, A] persons settled
    growth_target: np.ndarray     # [Y] total growth rate to hit by scaling in-migration; NaN = none
    seed: int = 0
    scenario_name: str = "default"
    parameters: dict[str, Any] = field(default_factory=dict)  # estimated levels, for the manifest
    project_movers: np.ndarray | None = None  # [Y, D, 2, A] expected movers into the housing
    #   programme's named projects, included in ``in_migrants`` (the ABM moves them as households)
    completions: np.ndarray | None = None     # [Y, D, T] dwellings completed by type (all)
    municipal: ResolvedInputs | None = None   # top-down zones: the kommune's own inputs, whose
    #   projection the zones are raked to each year (``sim.cohort.constrained``)

    @property
    def base_year(self) -> int:
        """Year of the base population (1 January)."""
        return int(self.years[0])

    @property
    def horizon(self) -> int:
        """Last 1 January projected."""
        return int(self.years[-1]) + 1

    @cached_property
    def digest(self) -> str:
        """SHA-256 of every array and scalar the engine reads (the resolved-input hash)."""
        h = hashlib.sha256()
        for arr in (self.years, self.base_population, self.fertility, self.death_probability,
                    self.out_rate, self.in_migrants, self.refugees, self.growth_target,
                    self.project_movers, self.completions):
            if arr is not None:
                h.update(np.ascontiguousarray(arr, dtype=float).tobytes())
        h.update(repr((self.p_male_birth, self.districts, self.seed)).encode())
        if self.municipal is not None:
            h.update(self.municipal.digest.encode())
        return h.hexdigest()

    def check(self, source: str = "resolved inputs") -> None:
        """Raise ``InputError`` for NaN, negative values, probabilities above 1 or wrong shapes."""
        n_year, n_dist = len(self.years), len(self.districts)
        shapes = {
            "base_population": (self.base_population, (n_dist, 2, N_AGES)),
            "fertility": (self.fertility, (n_year, n_dist, N_AGES)),
            "death_probability": (self.death_probability, (n_year, n_dist, 2, N_AGES)),
            "out_rate": (self.out_rate, (n_year, n_dist, 2, N_AGES)),
            "in_migrants": (self.in_migrants, (n_year, n_dist, 2, N_AGES)),
            "refugees": (self.refugees, (n_year, n_dist, 2, N_AGES)),
        }
        for name, (arr, shape) in shapes.items():
            if arr.shape != shape:
                raise InputError(source, name, f"shape {arr.shape}, expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise InputError(source, name, "contains NaN or infinite values")
            if np.any(arr < 0):
                raise InputError(source, name, "negative values; must be >= 0")
        if np.any(self.death_probability > 1):
            raise InputError(source, "death_probability", "probabilities must be <= 1")
        if np.any(self.death_probability + self.out_rate > 1 + 1e-12):
            raise InputError(source, "out_rate",
                             "death probability + out-migration rate must be <= 1")
        if not 0 < self.p_male_birth < 1:
            raise InputError(source, "p_male_birth", "must be between 0 and 1")


