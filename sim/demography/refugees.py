"""Refugee settlement: a plan of persons per year and an age/sex profile.

Settled refugees enter the population as their own component; afterwards they follow the same
fertility, mortality and out-migration as everyone else (see ``sim/cohort/METHOD.md``).
"""

from __future__ import annotations

import numpy as np

from sim.demography import N_AGES

# Figures from SSB, "Nesten åtte av ti nyankomne flyktninger er fra Ukraina" (2023): Ukrainian
# refugees settled in Norway in 2022: 29,000 persons, of whom 5,500 men and 13,700 women aged 18+,
# and almost 10,000 under 18, split about evenly by sex; median age 34 (women).
SETTLED_2022 = 29_000
ADULT_MEN_2022 = 5_500
ADULT_WOMEN_2022 = 13_700
ADULT_AGE_MEAN = 38.0
"""Assumption: adult ages follow a normal shape (mean 38, sd 14) truncated to 18..85; this
reproduces the published median age of 34 for women (children included) to within two years."""
ADULT_AGE_SD = 14.0


def default_profile() -> np.ndarray:
    """Age/sex distribution of settled refugees, shape [2, 106], summing to 1.

    Children 0-17 uniform over ages with equal sexes (share 1 - adults = 0.336); adults 18-85
    by sex in the published 2022 proportions, with the normal age shape above. Persons aged
    0-24 make up about 41 %, matching "omkring 40 prosent ... barn og unge" (seed 002, l. 1412).
    """
    profile = np.zeros((2, N_AGES))
    child_share = 1.0 - (ADULT_MEN_2022 + ADULT_WOMEN_2022) / SETTLED_2022
    profile[:, 0:18] = child_share / 2.0 / 18.0
    ages = np.arange(18, 86)
    shape = np.exp(-0.5 * ((ages - ADULT_AGE_MEAN) / ADULT_AGE_SD) ** 2)
    shape /= shape.sum()
    profile[0, 18:86] = ADULT_MEN_2022 / SETTLED_2022 * shape
    profile[1, 18:86] = ADULT_WOMEN_2022 / SETTLED_2022 * shape
    return profile / profile.sum()


def settlement(settled_per_year: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Settled refugees by year, sex and age: ``settled[t] * profile[s, a]``, shape [Y, 2, 106]."""
    return np.asarray(settled_per_year, dtype=float)[:, None, None] * profile[None, :, :]
