"""Household targets of the ABM and the published household sizes they are calibrated to.

Every adult (18+) is in one of three living arrangements: with parents (``home``), with another
adult (``couple``: a partner, or a flatmate, as SSB's multi-family households), or ``single``
(heading a household alone or as a lone parent). The national shares by sex and single age
are built from SSB's published figures (``sim/abm/SOURCES.md``):

* ``single = alone + lone parent + other``: the share living alone by sex and single age
  16-72 is SSB's (1 January 2020); above 72 it rises linearly to a value at age 90 chosen so
  that the 80+ share equals SSB's "two of three women, one of three men" (2019); lone parents
  are an ASSUMPTION profile scaled to SSB's 2019 household counts; ``other`` (67+ living with
  adult children or others, ``OTHER_67_PLUS``) heads a household of its own in the ABM;
* ``home``: an ASSUMPTION logistic profile (Nordic median age of leaving home ~21, Eurostat);
* ``couple`` is the rest.

A municipality (or district) differs from Norway by one factor ``k`` on the single shares,
calibrated so that the expected persons per private household of its base population equals
the published figure on the published path (``published_path``); the freed (or taken) share
is given to ``home`` and ``couple`` in their national proportions. Over the projection the
factor follows the national behavioural trend ``exp(tau * years)`` fitted to SSB's 2005 and
2019 national means net of the change in age structure (``fit_national``).

The expected number of households of a population ``P[sex, age]`` under the targets is
``sum_a W_a (1 - home_w) + M_a (1 - home_m) - W_a couple_w`` (every adult not at home heads a
household, except the men who live with a woman's household: couples are formed by women).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.demography import N_AGES
from sim.roots import brentq

ADULT_AGE = 18

# SSB, "Flere bor alene" (2020-06-25), figure 1: share of persons in private households who
# live alone, by sex and age, 1 January 2020 (per cent), ages 16..72.
ALONE_2020_PCT = (
    (0.596384, 1.197795, 3.90184, 10.20863, 18.26669, 26.61929, 30.87028, 33.91591, 33.19615,
     32.73622, 30.92132, 30.83718, 29.7159, 28.84871, 27.2023, 26.31932, 24.95104, 24.00958,
     22.91548, 23.63611, 23.4789, 23.00967, 22.35006, 21.71152, 20.97875, 20.65881, 20.6706,
     20.51804, 19.94616, 19.98183, 20.12316, 20.11543, 20.18993, 20.46983, 20.3119, 20.58679,
     21.17832, 21.76565, 22.22978, 22.36166, 22.65273, 22.12816, 22.5337, 22.75639, 22.59996,
     22.6572, 22.55256, 22.37214, 22.59026, 21.9367, 21.669, 21.62172, 21.05627, 21.45972,
     20.94561, 20.75799, 21.30111),
    (0.655727, 1.145139, 3.27789, 11.63721, 21.66914, 35.59169, 33.21765, 30.18226, 26.4619,
     23.84797, 23.60381, 22.86384, 21.46774, 19.43555, 17.65438, 15.40535, 14.13543, 12.68016,
     11.71782, 11.30562, 11.35058, 10.51447, 9.951137, 10.04051, 10.0848, 9.681943, 9.32206,
     9.652164, 10.15569, 9.988353, 10.5657, 11.25293, 12.15995, 13.18241, 14.12004, 14.51901,
     15.72301, 16.99158, 17.89247, 19.25615, 20.88187, 21.70138, 22.27923, 23.42991, 23.9513,
     24.81127, 25.52732, 26.02807, 26.25403, 26.91988, 28.16316, 28.05971, 29.00778, 30.19431,
     30.65962, 31.66743, 32.9765),
)
ALONE_FIRST_AGE = 16
ALONE_AT_90 = (0.3855, 0.7848)
"""Share living alone at age 90+ (men, women): the end of a linear rise from age 72 chosen so
that the 80+ share with Norway's 2019 population is SSB's 1/3 (men) and 2/3 (women) ("1 av 3
eldre bor alene", 2019); ``test_abm_households`` re-derives it. With it the 67+ shares are
25.2 % and 45.6 %, against SSB's published 23.8 % and 44.6 % (same article)."""

LONE_PARENT_PEAK = (0.0310, 0.1338)
"""Share of men and women who are lone parents at the peak ages of ``lone_parent_share``:
scaled so that Norway's 2019 population has 35,000 lone fathers and 140,000 lone mothers.
ASSUMPTION built on SSB 2019 household counts: 110,578 "mor/far med barn 0-17 år" households
plus an assumed 35 % of the 182,848 one-family households with adult children only (the rest
are couples), 80 % of them mothers."""

OTHER_67_PLUS = 0.05
"""Share of persons 67+ living neither alone nor with a partner (with adult children or in
multi-family households), counted as single: SSB 2019 ("1 av 3 eldre bor alene", figure 1),
67+ in private households: multi-family households without children 3.4 % (men) and 3.8 %
(women), one-family households with adult children 5.3 % and 4.3 % (ASSUMPTION: a third of
these as lone parents). Reached linearly from 0 at age 60."""

HOME_MEDIAN_AGE = (21.8, 20.8)
"""ASSUMPTION: age at which half of men and women have left the parental home. Eurostat gives
21.3-21.7 years as the mean age of leaving for Finland, Sweden and Denmark (2022; Norway is not
covered); women leave earlier than men in every EU country (1.9 years on EU average; one year
assumed here for the Nordic pattern)."""
HOME_FLOOR = 0.03
"""ASSUMPTION: share of adults 25-40 living with parents (Eurostat: under 5 % of 25-34-year-olds
in Denmark and Finland, 2019); it falls linearly to 0 at age 60."""

# Persons per private household (SSB table 06070 / "Privathusholdninger, personer i
# privathusholdninger og personer per privathusholdning", 1 January).
NORWAY_PPH = {2005: 2.27, 2006: 2.26, 2007: 2.25, 2008: 2.23, 2009: 2.22, 2010: 2.22,
              2011: 2.22, 2012: 2.22, 2013: 2.21, 2014: 2.20, 2015: 2.20, 2017: 2.19,
              2018: 2.17, 2019: 2.16, 2020: 2.15, 2021: 2.13}
PPH_2019 = {
    "0000": 2.16, "0301": 1.98, "3222": 2.28, "3201": 2.31, "3209": 2.29,
    "3205": 2.31,  # Lillestrøm = Skedsmo 54,990/24,529 + Fet 11,662/4,789 + Sørum 17,942/7,333
}
"""Persons per private household on 1 January 2019 by kommune (2024 codes: 0230 Lørenskog ->
3222, 0219 Bærum -> 3201, 0235 Ullensaker -> 3209; Lillestrøm 3205 is the sum of its three
former kommuner: 84,594 persons in 36,651 households)."""
BYDEL_PPH_2019 = {"0301": {
    "Gamle Oslo": 1.80, "Grünerløkka": 1.73, "Sagene": 1.68, "St. Hanshaugen": 1.66,
    "Frogner": 1.69, "Ullern": 2.12, "Vestre Aker": 2.27, "Nordre Aker": 2.11, "Bjerke": 2.18,
    "Grorud": 2.13, "Stovner": 2.42, "Alna": 2.20, "Østensjø": 2.16, "Nordstrand": 2.22,
}}
"""Oslo's bydeler, 1 January 2019 (same SSB table). Søndre Nordstrand and the unallocated
remainder have no figure here: they share one factor chosen so that Oslo as a whole has its
published figure."""
PUBLISHED_YEAR = 2019
PPH_LATEST = {"0301": (2024, 1.95)}
"""Later published figures: Oslo 1.95 on 1 January 2024 (SSB, "Husholdningene blir stadig
mindre", 2024)."""
TREND_PER_YEAR = math.log(NORWAY_PPH[2019] / NORWAY_PPH[2005]) / (2019 - 2005)
"""The published path after the last figure: Norway's 2005-2019 trend, -0.355 % a year
(log-linear). Checks against later SSB figures: Norway 2021 2.145 (published 2.13), Oslo 2024
1.945 (1.95), Akershus 2024 2.28 (2.26)."""
OWN_TREND_PER_YEAR = {"0301": math.log(1.95 / 1.97) / 10}
"""Where SSB publishes an area's own ten-year change it replaces the national trend: Oslo fell
by 0.02 persons per household from 2014 to 2024, to 1.95 (same SSB article; -0.10 % a
year)."""


def _alone_share() -> np.ndarray:
    """[2, A] share living alone by sex and age (SSB 2020; see ``ALONE_AT_90``)."""
    out = np.zeros((2, N_AGES))
    ages = np.arange(N_AGES)
    for s, pct in enumerate(ALONE_2020_PCT):
        last = ALONE_FIRST_AGE + len(pct) - 1
        out[s, ALONE_FIRST_AGE:last + 1] = np.asarray(pct) / 100.0
        out[s, last + 1:] = np.interp(ages[last + 1:], [last, 90], [out[s, last], ALONE_AT_90[s]])
    return out


def lone_parent_share() -> np.ndarray:
    """[2, A] share of lone parents by sex and age (ASSUMPTION shape, ``LONE_PARENT_PEAK``)."""
    ages = np.arange(N_AGES)
    men = np.interp(ages, [22, 40, 55, 70], [0.0, 1.0, 1.0, 0.0])
    women = np.interp(ages, [19, 36, 48, 62, 75], [0.0, 1.0, 1.0, 0.2, 0.0])
    return np.stack([men * LONE_PARENT_PEAK[0], women * LONE_PARENT_PEAK[1]])


def home_share() -> np.ndarray:
    """[2, A] share of adults living with parents (``HOME_MEDIAN_AGE``, ``HOME_FLOOR``)."""
    ages = np.arange(N_AGES, dtype=float)
    taper = np.interp(ages, [40, 60], [HOME_FLOOR, 0.0])
    out = np.stack([taper + (0.97 - HOME_FLOOR) / (1.0 + np.exp((ages - m) / 1.3))
                    for m in HOME_MEDIAN_AGE])
    out[:, :ADULT_AGE] = 1.0
    return out


def national_shares() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(single, home, couple) [2, A] for Norway; ages under 18 are all ``home``."""
    other = np.interp(np.arange(N_AGES), [60, 67], [0.0, OTHER_67_PLUS])
    single = np.minimum(_alone_share() + lone_parent_share() + other[None, :], 1.0)
    home = np.minimum(home_share(), 1.0 - single)
    couple = 1.0 - single - home
    single[:, :ADULT_AGE], home[:, :ADULT_AGE], couple[:, :ADULT_AGE] = 0.0, 1.0, 0.0
    return single, home, couple


def targets(k: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(home, couple) [..., 2, A] with single shares scaled by ``k`` (scalar or [...]).

    ``single' = min(k single, 1)``; ``home`` and ``couple`` share the rest in their national
    proportions.
    """
    single, home, couple = national_shares()
    k = np.asarray(k, dtype=float)[..., None, None]
    single_k = np.minimum(k * single, 1.0)
    rest = (1.0 - single_k) / np.maximum(home + couple, 1e-12)
    return home * rest, couple * rest


def expected_pph(pop: np.ndarray, k: float) -> float:
    """Expected persons per household of ``pop`` [2, A] under ``targets(k)``."""
    home, couple = targets(k)
    adults = np.arange(N_AGES) >= ADULT_AGE
    heads = (pop[:, adults] * (1.0 - home[:, adults])).sum() - (pop[1, adults]
                                                                * couple[1, adults]).sum()
    return float(pop.sum() / heads)


def calibrate_k(pop: np.ndarray, pph: float) -> float:
    """The factor ``k`` that gives ``pop`` [2, A] the expected persons per household ``pph``."""
    lo, hi = 0.05, 8.0
    f_lo, f_hi = expected_pph(pop, lo) - pph, expected_pph(pop, hi) - pph
    if f_lo * f_hi > 0:  # unreachable: the nearest bound
        return lo if abs(f_lo) < abs(f_hi) else hi
    return float(brentq(lambda k: expected_pph(pop, k) - pph, lo, hi, xtol=1e-10))


def calibrate_districts(base: np.ndarray, pph: np.ndarray, total: float | None) -> np.ndarray:
    """[D] factors for districts ``base`` [D, 2, A] with targets ``pph`` [D] (NaN = unknown).

    Districts with a figure get their own factor; the others share one factor chosen so that
    the municipality reaches ``total`` (or 1, national behaviour, when ``total`` is None or
    every district has a figure).
    """
    known = ~np.isnan(pph)
    k = np.ones(len(pph))
    for d in np.nonzero(known)[0]:
        k[d] = calibrate_k(base[d], pph[d])
    rest = ~known
    if total is None or not rest.any() or not base[rest].sum() > 0:
        return k
    adults = np.arange(N_AGES) >= ADULT_AGE

    def heads(d: int, kd: float) -> float:
        home, couple = targets(kd)
        return float((base[d][:, adults] * (1.0 - home[:, adults])).sum()
                     - (base[d][1, adults] * couple[1, adults]).sum())

    fixed = sum(heads(d, k[d]) for d in np.nonzero(known)[0])
    persons = base.sum()

    def gap(kr: float) -> float:
        return persons / (fixed + sum(heads(d, kr) for d in np.nonzero(rest)[0])) - total

    lo, hi = 0.05, 8.0
    if gap(lo) * gap(hi) < 0:
        k[rest] = brentq(gap, lo, hi, xtol=1e-10)
    return k


def published_path(municipality: str, district: str | None, years) -> np.ndarray | None:
    """Published persons per private household in ``years`` (None if no figure is known).

    The latest published level of the municipality (``PPH_LATEST``, else 2019), times the
    district's 2019 ratio to its municipality for Oslo's bydeler, moved to the requested
    years along the area's own published trend (``OWN_TREND_PER_YEAR``) or else Norway's
    2005-2019 trend (``TREND_PER_YEAR``).
    """
    if municipality not in PPH_2019:
        return None
    year0, level = PPH_LATEST.get(municipality, (PUBLISHED_YEAR, PPH_2019[municipality]))
    own = BYDEL_PPH_2019.get(municipality, {})
    if district in own:
        level *= own[district] / PPH_2019[municipality]
    trend = OWN_TREND_PER_YEAR.get(municipality, TREND_PER_YEAR)
    return level * np.exp(trend * (np.asarray(years, dtype=float) - year0))


def fit_national(pop_2005: np.ndarray, pop_2019: np.ndarray) -> tuple[float, float]:
    """(k, tau) for Norway from its 2005 and 2019 populations [2, A].

    ``k`` gives 2019 its published mean; ``tau`` (per year) gives 2005 its published mean
    with the factor ``k exp(tau (year - 2019))``.
    """
    k = calibrate_k(pop_2019, NORWAY_PPH[2019])
    k_2005 = calibrate_k(pop_2005, NORWAY_PPH[2005])
    return k, math.log(k / k_2005) / (2019 - 2005)


@dataclass(frozen=True)
class HouseholdPlan:
    """Calibrated living-arrangement targets of one run.

    Attributes:
        factor: [D] single-share factor ``k`` of each district in the base year.
        published: [Y+1] the municipality's published path of persons per private household
            on 1 January of each year (NaN where no figure is known).
        home, couple: [Y+1, D, 2, A] targets on 1 January of each year (``targets``).
    """

    factor: np.ndarray
    published: np.ndarray
    home: np.ndarray
    couple: np.ndarray


def household_plan(municipality: str, districts: tuple[str, ...], base: np.ndarray,
                   years: np.ndarray, override: float | dict[str, float] | None,
                   trend: float) -> HouseholdPlan:
    """Targets for a run: factors calibrated on ``base`` [D, 2, A] in ``years[0]``.

    ``override`` replaces the published base-year figure: one value for the municipality, or
    values by district name. The factor of year ``y`` is ``k exp(trend (y - years[0]))``.
    """
    years = np.asarray(years, dtype=float)
    path = published_path(municipality, None, years)
    if isinstance(override, (int, float)):
        trend = OWN_TREND_PER_YEAR.get(municipality, TREND_PER_YEAR)
        path = float(override) * np.exp(trend * (years - years[0]))
    total = None if path is None else float(path[0])
    pph = np.full(len(districts), np.nan)
    if len(districts) == 1:
        pph[0] = np.nan if total is None else total
    else:
        for d, name in enumerate(districts):
            if name in BYDEL_PPH_2019.get(municipality, {}):
                pph[d] = published_path(municipality, name, years[:1])[0]
    if isinstance(override, dict):
        for d, name in enumerate(districts):
            if name in override:
                pph[d] = override[name]
    k = calibrate_districts(base, pph, total)
    factor = k[None, :] * np.exp(trend * (years - years[0]))[:, None]
    home, couple = targets(factor)
    published = np.full(len(years), np.nan) if path is None else path
    return HouseholdPlan(k, published, home, couple)
