"""Build the example zone base populations for Lillestrøm and Lørenskog (1 January 2024).

SSB publishes no sub-municipal populations for these two kommuner that the package holds, so the
zones are EXAMPLES: each zone's total is an ASSUMPTION (reasoning in experiments/zones/README.md)
and its age structure is the kommune's tilted by a few age-band factors (ASSUMPTION, e.g. more
young adults and small children in the centres, where the seeds place the growth and the
kindergarten pressure). The split is made exact: iterative proportional fitting to the kommune's
SSB 07459 population by sex and age (every cell) and to the zone totals, then whole persons by
largest remainder within each sex and age, so the zones add up to the kommune exactly.

Run ``python experiments/zones/make_zones.py`` to rewrite ``lillestrom_zones.csv`` and
``lorenskog_zones.csv`` (columns ``district,sex,age,persons``, the ``[inputs] base_population``
format); the output is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.data.population import embedded_population
from sim.demography import N_AGES, SEXES

HERE = Path(__file__).parent
BASE_YEAR = 2024
BANDS = {"0-5": (0, 5), "6-15": (6, 15), "16-19": (16, 19), "20-39": (20, 39),
         "40-66": (40, 66), "67+": (67, N_AGES - 1)}
"""Age bands of the tilt factors (ages on 1 January)."""

ZONES = {
    "3205": ("lillestrom_zones.csv", {
        # zone: (persons, {band: tilt}); all ASSUMPTION, see README.md
        "Lillestrøm by": (19_500, {"0-5": 1.15, "20-39": 1.25, "67+": 0.85}),
        "Strømmen": (13_500, {"0-5": 1.15, "20-39": 1.20, "67+": 0.90}),
        "Skjetten": (10_000, {"0-5": 0.95, "20-39": 0.95, "67+": 1.15}),
        "Kjeller": (8_000, {"0-5": 1.10, "20-39": 1.10}),
        "Skedsmokorset": (12_200, {"0-5": 0.85, "40-66": 1.05, "67+": 1.10}),
        "Fet": (12_000, {"6-15": 1.10, "20-39": 0.85, "40-66": 1.10, "67+": 1.05}),
        "Sørum": (19_001, {"6-15": 1.10, "20-39": 0.85, "40-66": 1.10, "67+": 1.05}),
    }),
    "3222": ("lorenskog_zones.csv", {
        "Sentrum og Kjenn": (17_000, {"0-5": 1.15, "20-39": 1.25, "67+": 0.85}),
        "Fjellhamar": (9_500, {"0-5": 1.05}),
        "Hammer, Kurland og Finstad": (11_000, {"0-5": 0.90, "20-39": 0.90, "67+": 1.15}),
        "Løkenåsen og Åsen": (10_688, {"0-5": 0.95, "6-15": 1.10}),
    }),
}


def tilt(factors: dict[str, float]) -> np.ndarray:
    """Tilt factors by age [A] from age-band factors (1 outside the bands named)."""
    out = np.ones(N_AGES)
    for band, f in factors.items():
        lo, hi = BANDS[band]
        out[lo : hi + 1] = f
    return out


def split(kommune: np.ndarray, totals: np.ndarray, tilts: np.ndarray,
          iterations: int = 500) -> np.ndarray:
    """Whole persons [Z, 2, A] adding up to ``kommune`` [2, A] in every cell.

    Iterative proportional fitting of ``kommune × share × tilt`` to the cell sums and the zone
    totals, then largest-remainder rounding within each cell (ties to the earlier zone).
    """
    m = kommune[None] * (totals / totals.sum())[:, None, None] * tilts[:, None, :]
    for _ in range(iterations):
        cells = m.sum(axis=0)
        m *= np.divide(kommune, cells, out=np.zeros_like(cells), where=cells > 0)[None]
        m *= (totals / m.sum(axis=(1, 2)))[:, None, None]
    cells = m.sum(axis=0)
    m *= np.divide(kommune, cells, out=np.zeros_like(cells), where=cells > 0)[None]
    whole = np.floor(m)
    left = (kommune - whole.sum(axis=0)).round().astype(int)        # [2, A] persons to place
    order = np.argsort(-(m - whole), axis=0, kind="stable")          # [Z, 2, A]
    rank = np.argsort(order, axis=0, kind="stable")
    return whole + (rank < left[None]).astype(float)


def zone_table(knr: str) -> pd.DataFrame:
    """The example zones of a kommune as a ``district,sex,age,persons`` table."""
    _file, zones = ZONES[knr]
    kommune = embedded_population().array(knr, BASE_YEAR)
    names = list(zones)
    totals = np.array([zones[z][0] for z in names], dtype=float)
    if totals.sum() != kommune.sum():
        raise ValueError(f"{knr}: zone totals {totals.sum():.0f} != {kommune.sum():.0f}")
    persons = split(kommune, totals, np.stack([tilt(zones[z][1]) for z in names]))
    z, s, a = np.meshgrid(np.arange(len(names)), np.arange(2), np.arange(N_AGES),
                          indexing="ij")
    return pd.DataFrame({"district": np.array(names)[z.ravel()],
                         "sex": np.array(SEXES)[s.ravel()],
                         "age": a.ravel(), "persons": persons.ravel().astype(int)})


def main() -> None:
    """Write the zone CSVs and print each zone's total and 0-5 / 80+ counts."""
    for knr, (file, _zones) in ZONES.items():
        table = zone_table(knr)
        table.to_csv(HERE / file, index=False)
        summary = table.groupby("district", sort=False).apply(
            lambda d: pd.Series({"persons": d.persons.sum(),
                                 "0-5": d[d.age <= 5].persons.sum(),
                                 "80+": d[d.age >= 80].persons.sum()}), include_groups=False)
        print(f"{file}\n{summary.to_string()}")


if __name__ == "__main__":
    main()
