"""Settings of the agent-based engine that the cohort engine does not need.

None of these change the expected population (that is fixed by the resolved inputs): they
shape households, the spread of outcomes and how arrivals are counted. Every number is labelled
sourced or ASSUMPTION.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from sim.demography import N_AGES
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
    household_move_share: float = Field(0.8, ge=0.0, le=1.0)
    """ASSUMPTION: probability that a person's out-migration decision follows the household's
    common draw (so families move together) instead of their own. Each person still leaves
    with exactly the out-migration rate of their age."""
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
    leave_home_rate: float = Field(0.2, ge=0.0, le=1.0)
    """ASSUMPTION: annual probability that a young adult (18+) living with parents moves into
    a household of their own (about half have moved out four years later)."""
    p_home_18_19: float = Field(0.9, ge=0.0, le=1.0)
    """ASSUMPTION: share of 18-19-year-olds living with parents in the base population."""
    p_home_20_24: float = Field(0.4, ge=0.0, le=1.0)
    """ASSUMPTION: share of 20-24-year-olds living with parents in the base population."""
    p_home_25_29: float = Field(0.1, ge=0.0, le=1.0)
    """ASSUMPTION: share of 25-29-year-olds living with parents in the base population."""
    p_partner_by_age: dict[int, float] = Field(
        default_factory=lambda: {18: 0.05, 25: 0.45, 30: 0.65, 40: 0.7, 67: 0.6, 80: 0.35,
                                 90: 0.1})
    """ASSUMPTION: share of women of an age living with a partner (a step function: each
    value holds from its age to the next). Shape after SSB's families and households
    statistics (couples are most common at ages 30-66, widowhood above 80)."""
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
        for age, p in self.p_partner_by_age.items():
            if not 0 <= age < N_AGES or not 0.0 <= p <= 1.0:
                raise ValueError(f"p_partner_by_age: {age} = {p} (age 0..105, share 0..1)")
        return self

    # Arrays for the kernels -------------------------------------------------------------

    def p_home(self) -> np.ndarray:
        """[A] share living with parents by age (18-29) at the start."""
        out = np.zeros(N_AGES)
        out[18:20], out[20:25], out[25:30] = self.p_home_18_19, self.p_home_20_24, self.p_home_25_29
        return out

    def p_leave(self) -> np.ndarray:
        """[A] annual probability of leaving home for young adults at home."""
        out = np.zeros(N_AGES)
        out[18:] = self.leave_home_rate
        return out

    def p_partner(self) -> np.ndarray:
        """[A] share of women living with a partner (step function of ``p_partner_by_age``)."""
        out = np.zeros(N_AGES)
        for age, p in sorted(self.p_partner_by_age.items()):
            out[age:] = p
        return out

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
