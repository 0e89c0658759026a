"""Norway's population by single age on 1 January, the denominator of the cost-key criteria.

The inntektssystem compares a kommune's age structure with the nation's in the same year, so a
long budget horizon needs Norway's future age structure too. ``national_population()`` reads
``sim/data/norway_population_2005_2100.csv``: SSB 07459 for 2005-2024 (``source = ssb``) and,
from 2025, kommunesim's own cohort projection of Norway (``source = kommunesim``), made by
``write_national_table()`` (``python -m sim.budget.national``): Norway's SSB history run as one
municipality through the same engine and default estimates as any kommune (migration from its
cohort changes, national fertility and mortality paths, the default national refugee
settlement). Run it again when the engine's defaults change.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

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


def write_national_table(path: Path | None = None) -> Path:
    """Project Norway with the cohort engine and write the national table (slow: ~30 s)."""
    import tempfile

    from sim.config import scenario_from_dict
    from sim.data.population import NORWAY, available_years, population_array, population_table
    from sim.demography import SEXES
    from sim.run import run

    table = population_table()
    history = {y: population_array(table, NORWAY, y) for y in available_years(table, NORWAY)}
    rows = [pd.DataFrame({"year": y, "kommunenummer": "9999", "kommune": "Norge",
                          "sex": np.repeat(SEXES, N_AGES), "age": np.tile(np.arange(N_AGES), 2),
                          "persons": persons.ravel().round().astype(int)})
            for y, persons in history.items()]
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "norway.csv"
        # The engine refuses '0000' as a municipality; the same numbers under another number
        # run through the import path like any imported kommune.
        pd.concat(rows).to_csv(csv, index=False)
        result = run(scenario_from_dict({"municipality": "9999", "horizon": LAST_YEAR,
                                         "inputs": {"population": str(csv)},
                                         "budget": {"enabled": False}}))
    projected = np.asarray(result.projection.population).sum(axis=(1, 2))  # [Y+1, A]
    years_p = np.asarray(result.projection.years, dtype=int)
    rows = [pd.DataFrame({"year": y, "age": np.arange(N_AGES), "persons": p.sum(axis=0),
                          "source": "ssb"}) for y, p in history.items()]
    for y, persons in zip(years_p[1:], projected[1:], strict=True):
        rows.append(pd.DataFrame({"year": y, "age": np.arange(N_AGES),
                                  "persons": np.round(persons, 1), "source": "kommunesim"}))
    out = pd.concat(rows, ignore_index=True)
    path = path or Path(__file__).parents[1] / "data" / NATIONAL_FILE
    out.to_csv(path, index=False)
    return path


if __name__ == "__main__":
    print(write_national_table())
