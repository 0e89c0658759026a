"""Old kommunenummer to 2024 kommuner: SSB's redistricting key and the 2024 names.

The key (``kommune_redistricting_2000_2024.csv.gz``, SSB KLASS change tables via niphr/csdata,
see SOURCES.md) lists, for every year 2000..2034, each kommunenummer in use that year and the
2024 kommune(s) it belongs to, with a weight: 1 = the code lies wholly in that 2024 kommune
(renumbered or merged), below 1 = the code was split between several 2024 kommuner (Ålesund
1507 into 1508 Ålesund and 1580 Haram, Tysfjord 1850, Snillfjord 1613/5012).

A 2024 kommune in a year is the sum of the codes that lie wholly in it (Lillestrøm 3205 in 2019 =
0226 Sørum + 0227 Fet + 0231 Skedsmo). For 2023 the key also lists each renumbered kommune's
2024 code beside the code in use then (3222 and 3029 for Lørenskog): the two name the same
territory, so the 2024 code is an *alias* there, not one more part.

Split codes cannot be divided by age: the key's weights are not population shares (it gives
Haram half of Ålesund 1507, which had about 67,500 inhabitants on 1 January 2023, while Haram had
9,357 on 1 January 2024), so the import refuses them (``sim.data.ssb``).
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from functools import cache

from sim.data import data_path

KEY_FILE = "kommune_redistricting_2000_2024.csv.gz"
NORWAY = "0000"

Targets = tuple[tuple[str, float], ...]


@cache
def _key() -> dict[int, dict[str, Targets]]:
    """The key by year and original code: ((2024 code, weight), ...), read once."""
    key: dict[int, dict[str, list[tuple[str, float]]]] = {}
    with gzip.open(data_path(KEY_FILE), "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            year = key.setdefault(int(row["year"]), {})
            year.setdefault(row["kommunenummer_original"], []).append(
                (row["kommunenummer_2024"], float(row["weighting"])))
    return {y: {c: tuple(t) for c, t in codes.items()} for y, codes in key.items()}


def key_years() -> tuple[int, int]:
    """First and last year the key covers."""
    years = sorted(_key())
    return years[0], years[-1]


def targets(code: str, year: int) -> Targets:
    """The 2024 kommuner a code in use in ``year`` belongs to, with weights (empty if unknown).

    Norway (``0000``) maps to itself.
    """
    if code == NORWAY:
        return ((NORWAY, 1.0),)
    return _key().get(year, {}).get(code, ())


@dataclass(frozen=True)
class Composition:
    """What a 2024 kommune consists of in one year, in the codes of that year.

    Attributes:
        parts: codes lying wholly in the kommune; their counts sum to it.
        alias: the 2024 code itself where it names the 2024 territory in a year it was not yet
            in use (2023 for kommuner renumbered in 2024); its counts equal the sum of
            ``parts`` (when there are parts).
        split: codes of which only a part belongs to the kommune (weight < 1).
    """

    parts: tuple[str, ...]
    alias: str | None
    split: tuple[str, ...]


@cache
def _sources() -> dict[int, dict[str, Targets]]:
    """The key by year and 2024 code: ((original code, weight), ...)."""
    out: dict[int, dict[str, list[tuple[str, float]]]] = {}
    for year, codes in _key().items():
        for code, ts in codes.items():
            for knr, weight in ts:
                out.setdefault(year, {}).setdefault(knr, []).append((code, weight))
    return {y: {k: tuple(v) for k, v in ks.items()} for y, ks in out.items()}


def _whole(knr: str, year: int) -> set[str]:
    return {c for c, w in _sources().get(year, {}).get(knr, ()) if w == 1.0}


def composition(knr: str, year: int) -> Composition:
    """The codes of ``year`` that make up 2024 kommune ``knr`` (see the module docstring).

    The 2024 code is an alias in ``year`` when it was not in use the year before and the other
    whole codes are exactly the previous year's (a renumbering seen one year early), e.g. 3222 in
    2023 beside 3029, or 1508 Ålesund in 2023 beside the split 1507. Trondheim 5001 in 2018 is
    not one: it is a part beside 5030 Klæbu, which joined it in 2020 (the year before, 2017,
    the codes were 1601 and 1663).
    """
    if knr == NORWAY:
        return Composition((NORWAY,), None, ())
    whole = _whole(knr, year)
    split = tuple(sorted(c for c, w in _sources().get(year, {}).get(knr, ()) if w < 1))
    before = _whole(knr, year - 1)
    if year - 1 in _key() and knr in whole and knr not in before and before == whole - {knr}:
        return Composition(tuple(sorted(before)), knr, split)
    return Composition(tuple(sorted(whole)), None, split)


@cache
def names_2024() -> dict[str, str]:
    """Official 2024 name by kommunenummer (SSB KLASS 131), plus ``0000`` = Norge."""
    from sim.data.kommuner import kommune_names

    return {**kommune_names(), NORWAY: "Norge"}