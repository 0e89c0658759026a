"""Population histories: every kommune (and zone) by year, sex and single age, as dense arrays.

The embedded history is SSB 07459 on 2024 borders for all 357 kommuner and Norway (``0000``),
2005-2024 (``population_2005_2024.parquet``), and SSB 10826 for the bydeler of Oslo, Bergen,
Stavanger and Trondheim (``bydeler_2005_2024.parquet``); see SOURCES.md. Imported histories are
CSV files in the package format ``year,kommunenummer,kommune,sex,age,persons`` (sex
``male``/``female``, ages 0..105 with 105 = 105 and older, persons on 1 January), as written by
``kommunesim data import``.

A ``PopulationHistory`` holds them as one array ``persons[region, year, sex, age]`` so that a
kommune's year is an index, not a table query.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from sim.data import data_path
from sim.demography import N_AGES, SEXES

EMBEDDED_POPULATION = "population_2005_2024.parquet"
EMBEDDED_ZONES = "bydeler_2005_2024.parquet"
NORWAY = "0000"


@dataclass(frozen=True, eq=False)
class PopulationHistory:
    """Population on 1 January by region, year, sex and age.

    Attributes:
        codes: region codes (kommunenummer, or zone codes for a zone history).
        years: [Y] sorted years covered by at least one region.
        persons: [R, Y, 2, A] persons (0 where a region lacks the year).
        present: [R, Y] True where the region has the year.
        names: region code -> name.
        parents: zone code -> kommunenummer (zone histories only).
        source: where the data came from (a file path or "embedded ...").
    """

    codes: tuple[str, ...]
    years: np.ndarray
    persons: np.ndarray
    present: np.ndarray
    names: dict[str, str]
    source: str
    parents: dict[str, str] = field(default_factory=dict)
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.codes)})

    def __contains__(self, code: str) -> bool:
        return code in self._index

    def row(self, code: str) -> int:
        """Index of a region; ``KeyError`` if absent."""
        return self._index[code]

    def years_of(self, code: str) -> list[int]:
        """Years present for a region (sorted; empty if the region is absent)."""
        if code not in self._index:
            return []
        return self.years[self.present[self._index[code]]].tolist()

    def array(self, code: str, year: int) -> np.ndarray:
        """Population [2, A] of a region on 1 January ``year`` (zeros if absent)."""
        out = np.zeros((2, N_AGES))
        i = self._index.get(code)
        pos = np.searchsorted(self.years, year)
        if i is not None and pos < len(self.years) and self.years[pos] == year:
            out[:] = self.persons[i, pos]
        return out

    def history(self, code: str, first: int, last: int) -> np.ndarray:
        """Populations [last - first + 1, 2, A] on 1 January of ``first..last``."""
        return np.stack([self.array(code, y) for y in range(first, last + 1)])

    def children(self, kommunenummer: str) -> list[str]:
        """Zone codes of a kommune, in code order."""
        return sorted(z for z, k in self.parents.items() if k == kommunenummer)

    def frame(self):
        """The history as a tidy DataFrame in the package format (present years only)."""
        import pandas as pd

        r, y = np.nonzero(self.present)
        n = len(r)
        codes = np.asarray(self.codes, dtype=object)
        cells = self.persons[r, y]  # [n, 2, A]
        reps = 2 * N_AGES
        return pd.DataFrame({
            "year": np.repeat(self.years[y], reps).astype(np.int64),
            "kommunenummer": np.repeat(codes[r], reps),
            "kommune": np.repeat(np.asarray([self.names.get(c, "") for c in codes],
                                            dtype=object)[r], reps),
            "sex": np.tile(np.repeat(np.asarray(SEXES, dtype=object), N_AGES), n),
            "age": np.tile(np.arange(N_AGES), 2 * n).astype(np.int64),
            "persons": cells.reshape(-1).round().astype(np.int64),
        })


def history_from_frame(df, source: str, code_column: str = "kommunenummer",
                       names: dict[str, str] | None = None,
                       parents: dict[str, str] | None = None) -> PopulationHistory:
    """Dense history from a validated tidy table (``year, <code>, sex, age, persons``)."""
    codes = tuple(sorted(df[code_column].astype(str).unique()))
    years = np.sort(df["year"].unique()).astype(np.int64)
    r = np.searchsorted(np.asarray(codes), df[code_column].astype(str).to_numpy())
    y = np.searchsorted(years, df["year"].to_numpy())
    s = (df["sex"].astype(str).to_numpy() == SEXES[1]).astype(np.int64)
    a = df["age"].to_numpy().astype(np.int64)
    persons = np.zeros((len(codes), len(years), 2, N_AGES))
    persons[r, y, s, a] = df["persons"].to_numpy(dtype=float)
    present = np.zeros((len(codes), len(years)), dtype=bool)
    present[r, y] = True
    if names is None and "kommune" in df.columns:
        first = df.drop_duplicates(code_column)
        names = dict(zip(first[code_column].astype(str), first["kommune"].astype(str),
                         strict=True))
    return PopulationHistory(codes, years, persons, present, names or {}, source, parents or {})


def _read_wide(name: str) -> tuple[Any, np.ndarray]:
    """An embedded wide Parquet file: key columns as a table, ages as [rows, A] int array."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(data_path(name)).read()
    ages = np.stack([_int_column(table.column(f"age_{a}")) for a in range(N_AGES)], axis=1)
    keys = table.select([c for c in table.column_names if not c.startswith("age_")])
    return keys, ages


def _int_column(column) -> np.ndarray:
    """An int32 Arrow column without nulls as numpy, read from its buffers.

    (``to_numpy`` would import pandas, a second of start-up the data load does not need.)
    """
    parts = [np.frombuffer(c.buffers()[1], dtype=np.int32, count=len(c), offset=4 * c.offset)
             for c in column.chunks]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def _cube(keys, ages: np.ndarray, code: str) -> tuple[tuple[str, ...], np.ndarray,
                                                         np.ndarray, np.ndarray]:
    codes_col = np.asarray(keys.column(code).to_pylist(), dtype=object)
    codes = tuple(sorted(set(codes_col)))
    year_col = np.asarray(keys.column("year").to_pylist(), dtype=np.int64)
    years = np.unique(year_col)
    r = np.searchsorted(np.asarray(codes, dtype=object), codes_col)
    y = np.searchsorted(years, year_col)
    s = (np.asarray(keys.column("sex").to_pylist(), dtype=object) == SEXES[1]).astype(np.int64)
    persons = np.zeros((len(codes), len(years), 2, N_AGES))
    persons[r, y, s] = ages
    present = np.zeros((len(codes), len(years)), dtype=bool)
    present[r, y] = True
    return codes, years, persons, present


@cache
def embedded_population() -> PopulationHistory:
    """All kommuner on 2024 borders and Norway, 2005-2024 (SSB 07459), read once per process."""
    from sim.data.kommuner import kommune_names

    keys, ages = _read_wide(EMBEDDED_POPULATION)
    codes, years, persons, present = _cube(keys, ages, "kommunenummer")
    return PopulationHistory(codes, years, persons, present,
                             {**kommune_names(), NORWAY: "Norge"}, "embedded SSB 07459")


@cache
def embedded_zones() -> PopulationHistory:
    """Bydeler of Oslo, Bergen, Stavanger and Trondheim, 2005-2024 (SSB 10826)."""
    keys, ages = _read_wide(EMBEDDED_ZONES)
    codes, years, persons, present = _cube(keys, ages, "zone")
    zone = keys.column("zone").to_pylist()
    names = dict(zip(zone, keys.column("zone_name").to_pylist(), strict=True))
    parents = dict(zip(zone, keys.column("kommunenummer").to_pylist(), strict=True))
    return PopulationHistory(codes, years, persons, present, names, "embedded SSB 10826",
                             parents)


def read_population_csv(path: str | Path):
    """Read and validate a population table in the package format (a DataFrame)."""
    from sim.data.ssb import read_population

    return read_population(path)


@cache
def _imported(path: str, mtime_ns: int, size: int) -> PopulationHistory:
    df = read_population_csv(path)
    return history_from_frame(df, path)


def population_table(path: str | Path | None = None) -> PopulationHistory:
    """The population history in ``path`` (package-format CSV), or the embedded one.

    Histories are cached per process; a file is read again when it changes.
    """
    if path is None:
        return embedded_population()
    from sim.schema import MAX_TABLE_BYTES, check_input_file

    p = check_input_file(path, MAX_TABLE_BYTES, "population CSV (kommunesim data import)")
    st = p.stat()
    return _imported(str(p.resolve()), st.st_mtime_ns, st.st_size)


def population_array(table: PopulationHistory, kommunenummer: str, year: int) -> np.ndarray:
    """Population [2, 106] (sex, age) of a municipality on 1 January ``year``."""
    return table.array(kommunenummer, year)


def available_years(table: PopulationHistory, kommunenummer: str) -> list[int]:
    """Years present in ``table`` for a municipality."""
    return table.years_of(kommunenummer)


def municipality_name(table: PopulationHistory, kommunenummer: str) -> str:
    """Name of the municipality (the registry's, else the table's, else its number)."""
    return table.names.get(kommunenummer) or kommunenummer


@cache
def municipality_defaults() -> dict[str, dict[str, Any]]:
    """Per-municipality defaults from ``municipalities.toml`` (keys are kommunenummer)."""
    with data_path("municipalities.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    return {
        knr: {k: ({int(y): v for y, v in val.items()} if isinstance(val, dict) else val)
              for k, val in entry.items()}
        for knr, entry in raw.items()
    }
