"""Shared helpers for fitting, calibration and back-tests.

Everything here reuses ``sim.inputs`` (``resolve``, ``estimate_levels``) and the cohort engine;
nothing re-estimates rates on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.config import Scenario, scenario_from_dict
from sim.data.population import (
    PopulationHistory,
    available_years,
    municipality_defaults,
    population_array,
    population_table,
)
from sim.demography import AGE_GROUPS

CALIBRATION_DIR = Path(__file__).resolve().parent
FITTED_DIR = CALIBRATION_DIR / "fitted"
TARGETS_DIR = CALIBRATION_DIR / "targets"

def table_for(population: str | Path | None) -> PopulationHistory:
    """The population table (embedded SSB 07459, or an imported one in the package format)."""
    return population_table(population)


def history(table: PopulationHistory, knr: str, years: range | list[int]) -> np.ndarray:
    """Observed populations [len(years), 2, 106] on 1 January."""
    return np.stack([population_array(table, knr, y) for y in years])


def defaults_for(knr: str) -> dict[str, Any]:
    """The municipality's defaults (``municipalities.toml``), empty for imported ones."""
    return municipality_defaults().get(knr, {})


def recorded_refugees(knr: str, until: int | None = None) -> dict[int, float]:
    """Settled refugees recorded in ``municipalities.toml`` (``refugees_settled``), up to ``until``.

    Used as the back-test settlement plan: the back-tests use the refugee settlement that was
    realised in the projected years, as a planner would use the settlement plan (a policy input
    known when planning); everything else is estimated from the years before the cut-off. Years
    not recorded count as 0 (before 2019 refugees are not separated from in-migration anywhere).
    """
    rec = {int(y): float(v) for y, v in defaults_for(knr).get("refugees_settled", {}).items()}
    if until is not None:
        rec = {y: v for y, v in rec.items() if y <= until}
    return rec


def make_scenario(data: dict[str, Any], source: str = "calibration") -> Scenario:
    """Validate a scenario dict (the same validation as a scenario file)."""
    return scenario_from_dict(data, source)


def group_totals(pop: np.ndarray) -> dict[str, float]:
    """Persons by planning age group (``sim.demography.AGE_GROUPS``) of a [2, 106] population."""
    by_age = pop.sum(axis=0)
    return {g: float(by_age[lo : hi + 1].sum()) for g, (lo, hi) in AGE_GROUPS.items()}


def pct(model: float, observed: float) -> float:
    """Relative error in percent, (model - observed) / observed * 100."""
    return float((model - observed) / observed * 100.0) if observed else float("nan")


def has_years(table: PopulationHistory, knr: str, first: int, last: int) -> bool:
    """True if every year ``first..last`` has a population for the municipality."""
    have = set(available_years(table, knr))
    return all(y in have for y in range(first, last + 1))
