"""Settings of the agent-based engine that the cohort engine does not need.

None of these change the expected population (that is fixed by the resolved inputs): they
shape households, the spread of outcomes and how arrivals are counted. Every number is labelled
sourced or ASSUMPTION.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from sim.schema import Frozen

DWELLING_SHARES_LORENSKOG = {"enebolig": 0.27, "smahus": 0.25, "blokk": 0.43, "other": 0.05}
"""Sourced: Lørenskog's dwelling stock by building type, 19,097 dwellings (perspektivmelding
2022, seed 002, "27 prosent i enebolig, 25 prosent i småhus, 43 prosent i boligblokk og 5
prosent i andre bygningstyper"). Used for every municipality unless overridden (ASSUMPTION)."""


class AbmConfig(Frozen):
    """Household and randomness settings of the ABM (defaults documented per field)."""

    arrivals: Literal["poisson", "round"] = "poisson"
    """How the expected in-migrants/refugees of a (district, sex, age) cell become persons:
    a Poisson draw (the natural model of independent movers) or stochastic rounding
    (floor + Bernoulli of the fraction, the smallest variance with the same mean)."""
    out_migration: Literal["households", "persons"] = "households"
    """How residents leave: ``households`` (families with children under 18 move together;
    every (district, sex, age) cell still loses its out-migration rate in expectation through
    compensating draws, ``sim.abm.kernels.out_migration``) or ``persons`` (each person decides
    alone, as the plain-mesa reference model; children left alone are rehoused)."""
    p_couple_in_migrants: float = Field(0.5, ge=0.0, le=1.0)
    """ASSUMPTION: probability that an adult woman arriving as in-migrant arrives with a
    partner (when a man within ten years of her age arrives in the same district and year)."""
    p_couple_refugees: float = Field(0.4, ge=0.0, le=1.0)
    """Derived from SSB 2022 (Ukrainian refugees settled: 5,500 adult men per 13,700 adult
    women, ``sim/demography/refugees.py``): at most 40 % of adult women can have a partner."""
    reunification_rate: float = Field(0.1, ge=0.0)
    """ASSUMPTION: family-reunification units per eligible refugee household per year. A unit
    is a household formed by the year's settled refugees; it joins an earlier refugee household
    instead of living alone. Reunified persons are part of the settlement plan (Lillestrøm's
    settled 389 refugees in 2023 "inkluderer familiegjenforeninger", seed 003), so the
    numbers of persons by age and sex do not change."""
    reunification_window_years: int = Field(3, ge=1, le=50)
    """ASSUMPTION: refugee households settled this many years ago or less receive reunified
    family."""
    persons_per_household: float | dict[str, float] | None = Field(None)
    """Persons per private household in the base year to calibrate the base households to:
    one figure for the municipality, or one per district name. None: the published SSB figure
    where the package has one (``sim.abm.households.published_path``: Lørenskog, Lillestrøm,
    Oslo and its bydeler, Bærum, Ullensaker), else Norway's living arrangements by age."""
    single_trend_per_year: float = Field(0.001541, ge=-0.05, le=0.05)
    """Relative change per year of the shares of adults living single (alone or as lone
    parents) at each age. Fitted (``sim.abm.households.fit_national``): Norway's populations of
    2005 and 2019 give SSB's published 2.27 and 2.16 persons per household with this trend;
    the rest of the decline is the change in age structure. Continued as an ASSUMPTION."""
    p_child_with_couple: float = Field(0.83, ge=0.0, le=1.0)
    """Share of children 0-17 placed with a woman living with a partner in the base
    population. Sourced: SSB 2011, 74.7 % of children live with both parents, 6.6 % with mother
    and step-parent, 1.3 % with father and step-parent (82.6 %). Children living with a lone
    father (2.9 %) are placed with a single woman (ASSUMPTION: the ABM gives children to
    women)."""
    dwelling_shares: dict[Literal["enebolig", "smahus", "blokk", "other"], float] = Field(
        default_factory=lambda: dict(DWELLING_SHARES_LORENSKOG))
    """Shares of the base dwelling stock by type (sourced for Lørenskog, see above)."""
    mother_age_mean: float = Field(31.0, ge=18.0, le=45.0)
    """Sourced (approximately): mothers' mean age at birth in Norway is about 31 (SSB
    fødte 2023). Used to place base-population children with a woman of plausible age; the
    age gap is triangular with this mode and half-width 12 (ASSUMPTION)."""

    @model_validator(mode="after")
    def _check(self) -> AbmConfig:
        total = sum(self.dwelling_shares.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"dwelling_shares must sum to 1, got {total:g}")
        pph = self.persons_per_household
        values = pph.values() if isinstance(pph, dict) else [] if pph is None else [pph]
        if any(not 1.0 <= v <= 8.0 for v in values):
            raise ValueError("persons_per_household must be between 1 and 8")
        return self

    # Arrays for the kernels -------------------------------------------------------------

    def gap_cum(self) -> np.ndarray:
        """Cumulative distribution of the mother-child age gap over gaps 0..50."""
        gaps = np.arange(51, dtype=float)
        w = np.clip(1.0 - np.abs(gaps - self.mother_age_mean) / 12.0, 0.0, None)
        w[gaps < 18] = 0.0
        return np.cumsum(w) / w.sum()

    def dwelling_cum(self) -> np.ndarray:
        """Cumulative shares over ``DWELLING_TYPES`` order."""
        from sim.abm.kernels import DWELLING_TYPES

        return np.cumsum([self.dwelling_shares.get(t, 0.0) for t in DWELLING_TYPES])


def no_growth_target(source, field: str = "migration.growth_target_pct"):
    """The error for a growth target given to the ABM (it takes in-migration as persons)."""
    from sim.errors import InputError

    return InputError(source, field, "growth targets are not supported by the ABM engine; use "
                      "migration.in_per_year")
