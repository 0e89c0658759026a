"""The inntektssystem: cost key, expenditure-need index, inntektsutjevning, veksttilskudd.

Pure functions over arrays; figures come from ``sim/data`` (see ``sim/budget/SOURCES.md``).

* Criterion index of a kommune = (its count of the criterion / its population) / (the nation's
  count / the nation's population). Age criteria count inhabitants on 1 July of the year before
  the budget year; ``basis`` (basistillegg) counts one per kommune, so its index is
  (national population / number of kommuner) / the kommune's population.
* Sector index = Σ criterion weight × criterion index over the sector key; the expenditure-need
  index (kostnadsindeks) = Σ sector weight × sector index.
* Utgiftsutjevning = (index − 1) × national expenditure need per inhabitant × population.
* Inntektsutjevning per inhabitant, as a share of the national average tax T, with the
  kommune's tax level l (1 = average): −s·(l − 1) + c·max(t − l, 0) − f, where s is the
  symmetric equalisation share, c the tilleggskompensasjon below threshold t, and f the equal
  per-inhabitant deduction that finances it.
* Veksttilskudd = rate × (3-year average annual growth − threshold) × population, for growth
  above the threshold and a tax level below the ceiling.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from sim.data import data_path

COST_KEY_FILE = "kmd_kostnadsnokkel_2026.toml"
SECTOR_INDEX_FILE = "kmd_sektorindekser_2025_2026.csv"
BASIS = "basis"


@dataclass(frozen=True)
class CostKey:
    """The cost key: criteria, sectors and weights.

    ``computed`` are the criteria counted from the population (age groups, then ``basis``);
    ``age_edges`` are the first ages of the age criteria (for ``np.add.reduceat``).
    ``weights_computed`` [C, S] and ``weights_other`` [S] (sum of the other criteria's weights
    per sector) split each sector key; ``sector_weights`` [S] weigh the sectors.
    """

    year: int
    n_kommuner: int
    age_criteria: tuple[str, ...]
    age_edges: np.ndarray
    sectors: tuple[str, ...]
    sector_weights: np.ndarray
    computed: tuple[str, ...]
    weights_computed: np.ndarray
    weights_other: np.ndarray


@cache
def cost_key() -> CostKey:
    """The embedded cost key (``sim/data/kmd_kostnadsnokkel_2026.toml``)."""
    with data_path(COST_KEY_FILE).open("rb") as fh:
        raw = tomllib.load(fh)
    ages = raw["age_criteria"]
    sectors = tuple(raw["sector_weights"])
    computed = (*ages, BASIS)
    wc = np.zeros((len(computed), len(sectors)))
    other = np.zeros(len(sectors))
    for j, s in enumerate(sectors):
        for crit, w in raw["sectors"][s].items():
            if crit in computed:
                wc[computed.index(crit), j] = w
            else:
                other[j] += w
    return CostKey(year=raw["year"], n_kommuner=raw["n_kommuner"], age_criteria=tuple(ages),
                   age_edges=np.array([lo for lo, _hi in ages.values()]),
                   sectors=sectors, sector_weights=np.array(list(raw["sector_weights"].values())),
                   computed=computed, weights_computed=wc, weights_other=other)


def age_groups(persons: np.ndarray, key: CostKey | None = None) -> np.ndarray:
    """Persons by single age [..., 106] -> counts in the key's age criteria [..., G]."""
    key = key or cost_key()
    return np.add.reduceat(persons, key.age_edges, axis=-1)


def criteria_indices(local: np.ndarray, national: np.ndarray,
                     key: CostKey | None = None) -> np.ndarray:
    """Indices of the computed criteria [..., C] from persons by age [..., 106] (count date)."""
    key = key or cost_key()
    loc_total = local.sum(axis=-1, keepdims=True)
    nat_total = national.sum(axis=-1, keepdims=True)
    ages = (age_groups(local, key) / loc_total) / (age_groups(national, key) / nat_total)
    basis = (nat_total / key.n_kommuner) / loc_total
    return np.concatenate([ages, basis], axis=-1)


def sector_indices(criteria: np.ndarray, other: np.ndarray,
                   key: CostKey | None = None) -> np.ndarray:
    """Sector indices [..., S]: computed criteria [..., C] @ weights + the other criteria [S]."""
    key = key or cost_key()
    return criteria @ key.weights_computed + other


def total_index(sectors: np.ndarray, key: CostKey | None = None) -> np.ndarray:
    """The expenditure-need index [...] from sector indices [..., S]."""
    key = key or cost_key()
    return sectors @ key.sector_weights


@cache
def _published() -> dict[tuple[int, str], dict[str, float]]:
    df = pd.read_csv(data_path(SECTOR_INDEX_FILE), dtype={"kommunenummer": str})
    out: dict[tuple[int, str], dict[str, float]] = {}
    for year, knr, sector, index in df.itertuples(index=False):
        out.setdefault((int(year), knr), {})[sector] = float(index)
    return out


def published_indices(kommunenummer: str, year: int) -> dict[str, float]:
    """KDD's published sector indices and total ('samlet') for a kommune ({} if none)."""
    return dict(_published().get((int(year), kommunenummer), {}))


def other_criteria(kommunenummer: str, year: int, criteria: np.ndarray,
                   key: CostKey | None = None) -> tuple[np.ndarray, str]:
    """The non-computed part of each sector index [S] in ``year``, and where it comes from.

    Published sector index minus its recomputed part (``criteria`` [C]: the computed criteria
    in that year); with only the published total, the difference of totals is added to every
    sector; with nothing published, the other criteria are at the national level (index 1).
    """
    key = key or cost_key()
    pub = published_indices(kommunenummer, year)
    computed = criteria @ key.weights_computed
    if all(s in pub for s in key.sectors):
        other = np.array([pub[s] for s in key.sectors]) - computed
        return other, (f"KDDs sektorindekser {year} (Grønt hefte) minus den beregnede "
                       "aldersdelen")
    if "samlet" in pub:
        gap = pub["samlet"] - total_index(computed + key.weights_other, key)
        return (key.weights_other + gap,
                f"KDDs samlede indeks {year} (Grønt hefte, tabell A-k) minus den beregnede "
                "aldersdelen")
    return key.weights_other.copy(), ("ANTAKELSE: kriteriene utenom alder på landsnivå "
                                      f"(ingen publisert indeks for {kommunenummer})")


def inntektsutjevning_share(level: np.ndarray, share_pct: np.ndarray, extra_pct: float,
                            threshold_pct: float, financing_pct: float) -> np.ndarray:
    """Inntektsutjevning per inhabitant as a share of the national average tax.

    ``level`` is the tax level (1 = national average); the result is positive when received.
    """
    extra = extra_pct / 100 * np.maximum(threshold_pct / 100 - level, 0.0)
    return -share_pct / 100 * (level - 1.0) + extra - financing_pct / 100


def growth_3yr(totals: np.ndarray) -> np.ndarray:
    """Average annual growth over three years to t−1, for totals [Y+4] on 1 January t−4..t−1.

    ``totals[i]`` is 1 January of year ``first − 4 + i``; the result [Y] is for years
    ``first..``: (P(t−1) / P(t−4))^(1/3) − 1.
    """
    return (totals[3:] / totals[:-3]) ** (1 / 3) - 1


def veksttilskudd(growth: np.ndarray, prev_total: np.ndarray, level: np.ndarray,
                  threshold_pct: float, ceiling_pct: float, rate_nok: np.ndarray) -> np.ndarray:
    """Veksttilskudd [Y]: rate × (growth − threshold) × population on 1 January t−1."""
    above = np.maximum(growth - threshold_pct / 100, 0.0)
    return np.where(level * 100 < ceiling_pct, rate_nok * above * prev_total, 0.0)


@cache
def national_need_factor(first: int, last: int, ref_year: int) -> np.ndarray:
    """Norway's expenditure need per inhabitant relative to ``ref_year``, years first..last.

    The cost key applied to the nation's own age structure (1 July t−1) against the reference
    year, the other criteria held at 1: how much the national demografikostnader per
    inhabitant grow. The state's revenue frame is assumed to cover them (TBU practice), so
    national per-inhabitant revenue amounts grow with this factor.
    """
    from sim.budget.national import national_on

    key = cost_key()
    years = np.arange(first, last + 1)
    july = 0.5 * (national_on(years - 1) + national_on(years))
    ref = 0.5 * (national_on(np.array([ref_year - 1])) + national_on(np.array([ref_year])))
    crit = criteria_indices(july, np.broadcast_to(ref, july.shape), key)
    crit[:, -1] = 1.0  # the number of kommuner does not change the national need
    ones = total_index(sector_indices(np.ones(len(key.computed)), key.weights_other, key), key)
    return total_index(sector_indices(crit, key.weights_other, key), key) / ones
