"""Zones (delområder, skolekretser, bydeler): where in the kommune people live.

A kommune runs as one district unless its scenario splits it into zones. Zones come from
(first match wins):

* ``[zones] source = "bydeler"``: the built-in bydeler with real SSB data (Oslo, Bergen,
  Stavanger, Trondheim; SSB 10826), each with its own history 2005-2024;
* ``[zones] history = "file.csv"``: the kommune's own zone histories, ``year,zone,sex,age,persons``;
* ``[inputs] base_population = "file.csv"``: zones with a base population only,
  ``district,sex,age,persons``;
* ``[[districts]]`` with shares: the kommune's population split by share (same age structure).

Zones with a history get their own migration, fertility level and age structure estimated from
it (``sim.inputs``); the others share the kommune's rates. Where the zones' populations add up
to less than the kommune's (SSB counts some residents without a bydel), the remainder is its own
zone, ``REMAINDER``, so that zone results always add up to the kommune exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.demography import N_AGES, SEXES
from sim.errors import InputError

REMAINDER = "Uten bydel/sone"
"""Name of the zone holding residents the zone data do not place (SSB: 'uoppgitt bydel')."""
MAX_ZONES = 200
"""Most zones a kommune may be split into (Oslo has 15 bydeler; skolekretser rarely exceed 50)."""
HISTORY_COLUMNS = ("year", "zone", "sex", "age", "persons")


@dataclass(frozen=True)
class ZoneData:
    """The zones of one kommune.

    Attributes:
        names: zone names in output order (the remainder zone, if any, last).
        base: [Z, 2, A] persons on 1 January of the base year.
        history: [Z, Y, 2, A] zone populations on 1 January of ``years`` (None: no history).
        years: [Y] years of ``history``.
        source: where the zones came from (for messages and the manifest).
        remainder: True if the last zone is the remainder.
    """

    names: tuple[str, ...]
    base: np.ndarray
    history: np.ndarray | None
    years: np.ndarray | None
    source: str
    remainder: bool = False

    @property
    def shares(self) -> np.ndarray:
        """[Z] shares of the base population."""
        totals = self.base.sum(axis=(1, 2))
        return totals / totals.sum()

    def zone_history(self, z: int, first: int, last: int) -> np.ndarray:
        """Zone ``z`` on 1 January of ``first..last``, [T, 2, A]."""
        i0 = int(np.searchsorted(self.years, first))
        return self.history[z, i0 : i0 + (last - first + 1)]


def with_remainder(names: tuple[str, ...], zones: np.ndarray, kommune: np.ndarray,
                   source: str) -> tuple[tuple[str, ...], np.ndarray, bool]:
    """Add the remainder zone (kommune minus the zones) when the zones leave residents out.

    Args:
        zones: [Z, ..., 2, A] zone populations; kommune: [..., 2, A] the kommune's.

    Returns (names, zones with the remainder appended if needed, whether it was added). Zones
    that exceed the kommune in some cell are an error: they cannot be part of it.
    """
    rest = kommune - zones.sum(axis=0)
    if np.any(rest < -0.5):
        idx = np.unravel_index(int(np.argmin(rest)), rest.shape)
        raise InputError(source, "zones", f"the zones hold {-rest[idx]:.0f} more persons than "
                         f"the kommune at {SEXES[idx[-2]]} age {idx[-1]}; zone populations "
                         "must be part of the kommune's")
    rest = np.clip(rest, 0.0, None)
    if rest.sum() < 0.5:
        return names, zones, False
    if REMAINDER in names:
        raise InputError(source, "zones", f"the zone name '{REMAINDER}' is reserved")
    return (*names, REMAINDER), np.concatenate([zones, rest[None]]), True


def builtin_zones(kommunenummer: str, base_year: int, kommune_history, source: str) -> ZoneData:
    """The built-in bydeler of a kommune (SSB 10826) with the remainder zone."""
    from sim.data.population import embedded_zones

    table = embedded_zones()
    codes = table.children(kommunenummer)
    if not codes:
        have = sorted({table.parents[c] for c in table.codes})
        names = ", ".join(f"{k} {kommune_history.names.get(k, k)}" for k in have)
        raise InputError(source, "zones.source", f"no built-in bydeler for {kommunenummer}; "
                         f"they exist for {names}")
    years = table.years
    hist = np.stack([table.persons[table.row(c)] for c in codes])
    present = np.stack([table.present[table.row(c)] for c in codes]).all(axis=0)
    years = years[present]
    hist = hist[:, present]
    kom = np.stack([kommune_history.array(kommunenummer, int(y)) for y in years])
    names, hist, rest = with_remainder(tuple(table.names[c] for c in codes), hist, kom,
                                       "built-in bydeler (SSB 10826)")
    if base_year not in years:
        raise InputError(source, "base_year", f"the bydeler have {years[0]}..{years[-1]}, "
                         f"not {base_year}")
    base = hist[:, int(np.searchsorted(years, base_year))]
    return ZoneData(names, base, hist, years, "built-in bydeler (SSB 10826)", rest)


def read_zone_history(path: Path):
    """A zone history CSV ``year,zone,sex,age,persons`` as (names, years, [Z, Y, 2, A])."""
    import pandas as pd

    from sim.inputfiles import MAX_PERSONS_PER_CELL, names_column, read_table, to_array
    from sim.schema import MAX_YEAR, MIN_YEAR

    years_max = MAX_YEAR - MIN_YEAR + 1
    df = read_table(path, HISTORY_COLUMNS, MAX_ZONES * years_max * 2 * N_AGES,
                    f"at most {MAX_ZONES} zones x {years_max} years x 2 sexes x {N_AGES} ages")
    if df.empty:
        raise InputError(path, None, "no rows; give year,zone,sex,age,persons for every zone, "
                         "year, sex and age")
    df["zone"] = names_column(df, "zone", path)
    names = tuple(dict.fromkeys(df["zone"]))
    if len(names) > MAX_ZONES:
        raise InputError(path, "zone", f"{len(names)} zones; at most {MAX_ZONES} allowed")
    year = pd.to_numeric(df["year"], errors="coerce").to_numpy(dtype=float)
    bad = ~((year >= MIN_YEAR) & (year <= MAX_YEAR) & (year == np.round(year)))
    if bad.any():
        row = int(bad.argmax())
        raise InputError(path, "year", f"row {row + 2}: '{df['year'].iloc[row]}'; years must "
                         f"be whole numbers within {MIN_YEAR}..{MAX_YEAR}")
    years = sorted(int(y) for y in np.unique(year))
    levels = {"year": years, "zone": list(names), "sex": list(SEXES),
              "age": list(range(N_AGES))}
    arr = to_array(df, path, ("year", "zone", "sex", "age"), "persons", levels,
                   MAX_PERSONS_PER_CELL)
    if np.any(np.diff(years) != 1):
        raise InputError(path, "year", f"years must be consecutive; have {_years_text(years)}")
    hist = arr.transpose(1, 0, 2, 3)
    empty = hist.sum(axis=(2, 3)) == 0
    if empty.any():
        z, y = (int(i[0]) for i in np.nonzero(empty))
        raise InputError(path, "persons", f"zone '{names[z]}' has no residents in {years[y]}; "
                         "each zone needs residents in every year of its history (its rates "
                         "are estimated from them)")
    return names, np.asarray(years), hist


def _years_text(years: list[int]) -> str:
    """Years for an error line: all of them, or the first and last few."""
    shown = years if len(years) <= 8 else [*years[:4], "...", *years[-3:]]
    return ", ".join(str(y) for y in shown)


def history_zones(path: Path, base_year: int, kommune_history, kommunenummer: str) -> ZoneData:
    """Zones from the kommune's own zone-history CSV, with the remainder zone if needed."""
    names, years, hist = read_zone_history(path)
    if base_year not in years:
        raise InputError(path, "year", f"no zone populations for base_year {base_year}; "
                         f"have {years[0]}..{years[-1]}")
    kom = np.stack([kommune_history.array(kommunenummer, int(y)) for y in years])
    names, hist, rest = with_remainder(names, hist, kom, str(path))
    base = hist[:, int(np.searchsorted(years, base_year))]
    return ZoneData(names, base, hist, years, str(path), rest)
