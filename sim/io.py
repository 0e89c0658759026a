"""Results store: tidy Parquet tables plus ``manifest.json``, written atomically.

Every run writes into a staging folder beside ``out_dir`` and moves the finished files in, so a
failed run leaves no partial output. Tables are long: ``year, district, sex, age, value...``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
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
from sim.errors import InputError


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


class ResultWriter:
    """Collects files in a staging folder and moves them into ``out_dir`` on ``commit``."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.stage = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.tmp-",
                                           dir=self.out_dir.parent))
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        """Staging path for a file that will end up as ``out_dir/name``."""
        self.files.append(name)
        return self.stage / name

    def parquet(self, name: str, df: pd.DataFrame) -> None:
        """Stage a table as Parquet."""
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), self.path(name))

    def json(self, name: str, data: dict[str, Any]) -> None:
        """Stage a JSON document."""
        self.path(name).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def commit(self) -> list[Path]:
        """Move staged files into ``out_dir`` (each by atomic rename) and drop the stage.

        Files that an earlier run's ``manifest.json`` in ``out_dir`` listed and this run does
        not write are removed, so the folder never mixes two runs; other files are left alone.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name in set(_listed_files(self.out_dir / "manifest.json")) - set(self.files):
            stale = self.out_dir / name
            if stale.parent == self.out_dir and stale.is_file():
                stale.unlink()
        moved = []
        for name in self.files:
            os.replace(self.stage / name, self.out_dir / name)
            moved.append(self.out_dir / name)
        shutil.rmtree(self.stage, ignore_errors=True)
        return moved

    def abort(self) -> None:
        """Drop the staging folder; ``out_dir`` is untouched."""
        shutil.rmtree(self.stage, ignore_errors=True)


def _listed_files(manifest: Path) -> list[str]:
    """Files an earlier kommunesim manifest in the folder lists; [] for anything else.

    Only a manifest kommunesim wrote (a JSON object with ``kommunesim_version`` and a list of
    plain file names under ``files``) is trusted, so no other tool's file is ever removed.
    """
    try:
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(doc, dict) or "kommunesim_version" not in doc:
        return []
    files = doc.get("files")
    if not isinstance(files, list):
        return []
    return [f for f in files if isinstance(f, str) and f not in ("", ".", "..")
            and Path(f).name == f]


def write_atomically(out_dir: str | Path, fill: Callable[[ResultWriter], None]) -> list[Path]:
    """Run ``fill(writer)`` and commit; on any error nothing reaches ``out_dir``."""
    writer = ResultWriter(out_dir)
    try:
        fill(writer)
    except BaseException:
        writer.abort()
        raise
    return writer.commit()
