"""Population tables in the package's own format and the municipality registry.

Format (CSV): ``year,kommunenummer,kommune,sex,age,persons`` with sex ``male``/``female`` and
ages 0..105 (105 = 105 and older), population on 1 January. The embedded table is SSB 07459
for Lillestrøm (3205), Lørenskog (3222) and Norway (0000), 2005-2024.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.data import data_path
from sim.demography import N_AGES, SEXES
from sim.errors import InputError

EMBEDDED_POPULATION = "ssb_07459_population_2005_2024.csv"
NORWAY = "0000"


def read_population_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a population table in the package format."""
    from sim.data.ssb import validate_population

    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"kommunenummer": str, "kommune": str, "sex": str})
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(path, None, f"not a readable CSV table: {exc}") from None
    validate_population(df, path)
    return df


@cache
def embedded_population() -> pd.DataFrame:
    """The embedded SSB 07459 table (validated once per process)."""
    return read_population_csv(data_path(EMBEDDED_POPULATION))


def population_table(path: str | Path | None = None) -> pd.DataFrame:
    """The population table at ``path``, or the embedded one."""
    return embedded_population() if path is None else read_population_csv(path)


def population_array(table: pd.DataFrame, kommunenummer: str, year: int) -> np.ndarray:
    """Population [2, 106] (sex, age) of a municipality on 1 January ``year``."""
    sel = table[(table.kommunenummer == kommunenummer) & (table.year == year)]
    out = np.zeros((2, N_AGES))
    sex = sel["sex"].map({s: i for i, s in enumerate(SEXES)}).to_numpy()
    out[sex, sel["age"].to_numpy()] = sel["persons"].to_numpy(dtype=float)
    return out


def available_years(table: pd.DataFrame, kommunenummer: str) -> list[int]:
    """Years present in ``table`` for a municipality."""
    return sorted(table.loc[table.kommunenummer == kommunenummer, "year"].unique().tolist())


def municipality_name(table: pd.DataFrame, kommunenummer: str) -> str:
    """Name of the municipality as written in the table (may be empty)."""
    names = table.loc[table.kommunenummer == kommunenummer, "kommune"].dropna().unique()
    return str(names[0]) if len(names) else kommunenummer


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
