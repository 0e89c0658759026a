"""Results store: tidy Parquet tables (``year, district, sex, age, value...``).

Tables are written through ``sim.folders`` (staged, committed atomically, into a checked and
locked output folder); its names are re-exported here for the callers that write results.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.cohort.engine import Projection
from sim.cohort.kernel import COMPONENTS
from sim.demography import N_AGES, SEXES
from sim.errors import InputError, disk_error, is_disk_error
from sim.folders import (
    LOCK_NAME,
    STAGE_PREFIX,
    ResultWriter,
    check_output_folder,
    output_folder,
    write_atomically,
)


def package_version() -> str:
    """Installed kommunesim version (or 'unknown' when run from a bare source tree)."""
    try:
        return version("kommunesim")
    except PackageNotFoundError:
        return "unknown"


def grid(years, districts, kommunenummer: str | None = None) -> dict[str, Any]:
    """Key columns (year, district, sex, age) of a tidy table over [Y, D, 2, A], in C order.

    Text columns are categoricals (Parquet dictionary columns): a table of every kommune has
    millions of rows but only a few hundred distinct names. With ``kommunenummer`` the table
    starts with that column, so tables of several kommuner concatenate.
    """
    years = np.asarray(years)
    n_dist = len(districts)
    n = len(years) * n_dist * 2 * N_AGES
    cols: dict[str, Any] = {}
    if kommunenummer is not None:
        cols["kommunenummer"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                                          [kommunenummer])
    cols["year"] = np.repeat(years.astype(np.int32), n_dist * 2 * N_AGES)
    cols["district"] = pd.Categorical.from_codes(
        np.tile(np.repeat(np.arange(n_dist, dtype=np.int32), 2 * N_AGES), len(years)),
        list(dict.fromkeys(districts)) if len(set(districts)) == n_dist else districts)
    cols["sex"] = pd.Categorical.from_codes(
        np.tile(np.repeat(np.arange(2, dtype=np.int8), N_AGES), len(years) * n_dist),
        list(SEXES))
    cols["age"] = np.tile(np.arange(N_AGES, dtype=np.int16), len(years) * n_dist * 2)
    return cols


def population_table(proj: Projection, kommunenummer: str | None = None) -> pd.DataFrame:
    """Persons on 1 January: [kommunenummer,] year, district, sex, age, persons."""
    cols = grid(proj.years, proj.districts, kommunenummer)
    cols["persons"] = proj.population.reshape(-1)
    return pd.DataFrame(cols)


def components_table(proj: Projection, kommunenummer: str | None = None) -> pd.DataFrame:
    """Flows during ``year`` by cohort age (age on 1 January of year+1)."""
    cols = grid(proj.years[:-1], proj.districts, kommunenummer)
    for name in COMPONENTS:
        cols[name] = proj.component(name).reshape(-1)
    return pd.DataFrame(cols)


def with_kommune(df: pd.DataFrame, kommunenummer: str) -> pd.DataFrame:
    """``df`` with a first column ``kommunenummer`` (a categorical of one value)."""
    out = df.copy()
    out.insert(0, "kommunenummer", pd.Categorical.from_codes(np.zeros(len(df), dtype=np.int8),
                                                             [kommunenummer]))
    return out


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a results table, raising ``InputError`` for a missing or corrupt file."""
    path = Path(path)
    try:
        return pq.read_table(path).to_pandas()
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(path, None, f"not a valid Parquet file: {exc}") from None


__all__ = ["LOCK_NAME", "STAGE_PREFIX", "ResultWriter", "check_output_folder", "components_table",
           "disk_error", "grid", "is_disk_error", "output_folder", "package_version",
           "population_table", "read_parquet", "with_kommune", "write_atomically"]
