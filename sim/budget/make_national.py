"""Maintenance: write ``sim/data/norway_population_2005_2100.csv`` (see ``sim.budget.national``).

Norway's SSB history is run through the cohort engine like any kommune; run this again when the
engine's defaults change (``python -m sim.budget.make_national``). It is not imported by the
model: it sits at the end of the data flow, after ``sim.run``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.budget.national import LAST_YEAR, NATIONAL_FILE
from sim.demography import N_AGES


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


if __name__ == "__main__":  # pragma: no cover - maintenance script
    print(write_national_table())
