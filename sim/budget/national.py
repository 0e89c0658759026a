"""Norway's population by single age on 1 January, the denominator of the cost-key criteria.

The inntektssystem compares a kommune's age structure with the nation's in the same year, so a
long budget horizon needs Norway's future age structure too. ``national_population()`` reads
``sim/data/norway_population_2005_2100.csv``: SSB 07459 for 2005-2024 (``source = ssb``) and,
from 2025, kommunesim's own cohort projection of Norway (``source = kommunesim``), made by
``python -m sim.budget.make_national``: Norway's SSB history run as one
municipality through the same engine and default estimates as any kommune (migration from its
cohort changes, national fertility and mortality paths, the default national refugee
settlement). Run it again when the engine's defaults change.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from sim.data import data_path
from sim.demography import N_AGES

NATIONAL_FILE = "norway_population_2005_2100.csv"
LAST_YEAR = 2100
"""Last 1 January in the table (the largest horizon a scenario may have)."""


@cache
def national_population() -> tuple[np.ndarray, np.ndarray]:
    """``(years [Y], persons [Y, 106])``: Norway on 1 January, both sexes, ages 0..105+."""
    df = pd.read_csv(data_path(NATIONAL_FILE))
    years = np.sort(df.year.unique())
    out = np.zeros((len(years), N_AGES))
    out[np.searchsorted(years, df.year.to_numpy()), df.age.to_numpy()] = df.persons.to_numpy()
    return years, out


def national_on(years: np.ndarray) -> np.ndarray:
    """Norway's persons by age [len(years), 106] on 1 January of ``years`` (clipped to the file)."""
    have, persons = national_population()
    idx = np.searchsorted(have, np.clip(np.asarray(years, dtype=int), have[0], have[-1]))
    return persons[idx]
