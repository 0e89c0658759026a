"""Resolved inputs as CSV files: written by ``kommunesim inputs``, read back as overrides.

Overrides may also be Parquet files with the same columns (suffix ``.parquet``).

Every table is long and tidy, one value per row, ages are cohort ages (age on 1 January of the
next year; see ``sim/cohort/METHOD.md``). The same formats are accepted in a scenario's
``[inputs]`` table to replace any default input. Values must be finite and within the table's
range (``TABLES``; persons below ``MAX_PERSONS_PER_CELL`` per cell, rates and probabilities
0..1); a table has at most one row per cell of its grid and at most ``MAX_DISTRICTS`` districts.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.demography import N_AGES, SEXES
from sim.errors import InputError
from sim.schema import MAX_DISTRICTS, MAX_STRING_CHARS, number

if TYPE_CHECKING:
    from sim.config import Scenario
    from sim.resolved import ResolvedInputs

MAX_PERSONS_PER_CELL = 1_000_000
"""Most persons in one cell (year, district, sex, age); Oslo's largest cell is about 8,000."""

# name -> (key columns, value column, largest value allowed, description)
TABLES: dict[str, tuple[tuple[str, ...], str, float, str]] = {
    "fertility": (("year", "district", "age"), "births_per_woman", 1.0,
                  "births per woman-year to women of cohort age `age` in `year`"),
    "death_probability": (("year", "district", "sex", "age"), "probability", 1.0,
                          "probability of dying in `year` for the cohort reaching `age` on "
                          "1 January of year+1 (age 0 = born in `year`)"),
    "out_rate": (("year", "district", "sex", "age"), "rate", 1.0,
                 "out-migrants per person-year of exposure"),
    "in_migrants": (("year", "district", "sex", "age"), "persons", MAX_PERSONS_PER_CELL,
                    "gross in-migrants excluding refugees, persons"),
    "refugees": (("year", "district", "sex", "age"), "persons", MAX_PERSONS_PER_CELL,
                 "settled refugees, persons"),
}
BASE_COLUMNS = ("district", "sex", "age")


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to a temporary name beside ``path`` and rename (mode 0666 minus umask)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        df.to_csv(tmp, index=False, float_format="%.17g")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _long(arr: np.ndarray, years, districts, with_sex: bool, value: str) -> pd.DataFrame:
    dims = [("year", list(years)), ("district", list(districts))]
    if with_sex:
        dims.append(("sex", list(SEXES)))
    dims.append(("age", list(range(N_AGES))))
    index = pd.MultiIndex.from_product([v for _, v in dims], names=[k for k, _ in dims])
    return pd.DataFrame({value: arr.reshape(-1)}, index=index).reset_index()


def write_inputs(inputs: ResolvedInputs, out_dir: Path) -> list[Path]:
    """Write every resolved input as CSV into ``out_dir`` (plus parameters.json and a README)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    base = _long(inputs.base_population[None], [inputs.base_year], inputs.districts, True,
                 "persons").drop(columns="year")
    _atomic_csv(base, out_dir / "base_population.csv")
    written.append(out_dir / "base_population.csv")
    for name, (keys, value, _, _) in TABLES.items():
        df = _long(getattr(inputs, name), inputs.years, inputs.districts, "sex" in keys, value)
        _atomic_csv(df, out_dir / f"{name}.csv")
        written.append(out_dir / f"{name}.csv")
    params = {
        "municipality": inputs.municipality,
        "municipality_name": inputs.municipality_name,
        "base_year": inputs.base_year,
        "horizon": inputs.horizon,
        "p_male_birth": inputs.p_male_birth,
        "growth_target": {int(y): (None if np.isnan(g) else float(g))
                          for y, g in zip(inputs.years, inputs.growth_target, strict=True)},
        "estimated": inputs.parameters,
        "resolved_input_sha256": inputs.digest,
    }
    (out_dir / "parameters.json").write_text(json.dumps(params, indent=2, ensure_ascii=False))
    lines = ["# Resolved inputs", "",
             "Ages are cohort ages: the age reached on 1 January of year+1 (see "
             "sim/cohort/METHOD.md). Sex is `male`/`female`.", "",
             "| file | columns | meaning |", "|---|---|---|",
             "| base_population.csv | district, sex, age, persons | population on 1 January "
             "of the base year (age = completed age) |"]
    for name, (keys, value, _, desc) in TABLES.items():
        lines.append(f"| {name}.csv | {', '.join(keys + (value,))} | {desc} |")
    lines += ["| parameters.json | | p_male_birth, growth targets, estimated levels, "
              "resolved-input hash |", ""]
    (out_dir / "README.md").write_text("\n".join(lines))
    return written + [out_dir / "parameters.json", out_dir / "README.md"]


def read_table(path: Path, columns: tuple[str, ...], max_rows: int,
                cells: str = "one per cell of the grid") -> pd.DataFrame:
    """Read an input table from CSV or Parquet (by suffix) and check its columns.

    ``max_rows``: the most rows the table may have (``cells`` says why); a longer table is
    refused before it is read in full (a Parquet file by its metadata).
    """
    too_long = InputError(path, None, f"more than {max_rows:,} rows ({cells})")
    if path.suffix == ".parquet":
        from sim.io import read_parquet

        if _parquet_rows(path) > max_rows:
            raise too_long
        df = read_parquet(path)
        for col in ("district", "sex"):
            if col in df.columns:
                df[col] = df[col].astype(str)
    else:
        try:
            df = pd.read_csv(path, dtype={"district": str, "sex": str}, nrows=max_rows + 1)
        except FileNotFoundError:
            raise InputError(path, None, "file not found") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
                OSError, ValueError) as exc:
            raise InputError(path, None, f"not a readable CSV table: {exc}") from None
        if len(df) > max_rows:
            raise too_long
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(path, missing[0],
                         f"missing column; required columns: {', '.join(columns)}")
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise InputError(path, extra[0], f"unknown column; allowed: {', '.join(columns)}")
    return df


def _parquet_rows(path: Path) -> int:
    """Rows of a Parquet file from its metadata (0 if unreadable: ``read_parquet`` says why)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except Exception:  # noqa: BLE001 - the full read reports a corrupt file with its reason
        return 0


def to_array(df: pd.DataFrame, path: Path, keys: tuple[str, ...], value: str,
              levels: dict[str, list], upper: float) -> np.ndarray:
    """Dense array over ``levels`` from a long table; complete grid, no duplicates, valid values.

    Values must be finite and within ``0..upper``.
    """
    values = pd.to_numeric(df[value], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().argmax())
        raise InputError(path, value, f"row {row + 2}: not a number")
    bad = ~np.isfinite(values.to_numpy(dtype=float)) | (values < 0).to_numpy() \
        | (values > upper).to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise InputError(path, value, f"row {row + 2}: {values.iloc[row]:g}; must be within "
                         f"0..{number(upper)}")
    codes = []
    for key in keys:
        allowed = levels[key]
        col = df[key]
        if key in ("year", "age"):
            col = pd.to_numeric(col, errors="coerce")
        pos = pd.Index(allowed).get_indexer(col)
        if (pos < 0).any():
            bad = col[pos < 0].iloc[0]
            shown = (f"{allowed[0]}..{allowed[-1]}" if key in ("year", "age")
                     else ", ".join(map(str, allowed)))
            raise InputError(path, key, f"value {bad!r} not allowed; allowed: {shown}")
        codes.append(pos)
    shape = tuple(len(levels[k]) for k in keys)
    flat = np.ravel_multi_index(codes, shape)
    if len(np.unique(flat)) != len(flat):
        raise InputError(path, ",".join(keys), "duplicate rows")
    if len(flat) != int(np.prod(shape)):
        missing = np.setdiff1d(np.arange(int(np.prod(shape))), flat)[:3]
        first = [levels[k][i] for k, i in zip(keys, np.unravel_index(missing[0], shape),
                                                strict=True)]
        raise InputError(path, ",".join(keys),
                         f"table has gaps: {int(np.prod(shape)) - len(flat)} "
                         f"rows missing, first {dict(zip(keys, first, strict=True))}")
    out = np.empty(int(np.prod(shape)))
    out[flat] = values.to_numpy(dtype=float)
    return out.reshape(shape)


def names_column(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``df[column]`` as names (str); ``InputError`` for an empty cell.

    pandas reads an empty cell (and "NA", "nan", "None") as missing, so such a name is refused.
    """
    blank = df[column].isna().to_numpy() | (df[column].astype(str).str.strip() == "").to_numpy()
    if blank.any():
        raise InputError(path, column, f"row {int(blank.argmax()) + 2}: empty or missing name "
                         "(pandas reads empty cells, 'NA', 'nan' and 'None' as missing); every "
                         "row needs one")
    return df[column].astype(str)


def read_base_population(path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """Base population override: district names (file order) and [D, 2, A] persons."""
    path = Path(path)
    df = read_table(path, BASE_COLUMNS + ("persons",), MAX_DISTRICTS * 2 * N_AGES,
                     f"at most {MAX_DISTRICTS:,} districts x 2 sexes x {N_AGES} ages")
    df["district"] = names_column(df, "district", path)
    districts = list(dict.fromkeys(df["district"]))
    if len(districts) > MAX_DISTRICTS:
        raise InputError(path, "district", f"{len(districts):,} districts; at most "
                         f"{MAX_DISTRICTS:,} allowed")
    longest = max(districts, key=len, default="")
    if len(longest) > MAX_STRING_CHARS:
        raise InputError(path, "district", f"a name of {len(longest):,} characters; at most "
                         f"{MAX_STRING_CHARS:,} allowed")
    levels = {"district": districts, "sex": list(SEXES), "age": list(range(N_AGES))}
    return tuple(districts), to_array(df, path, BASE_COLUMNS, "persons", levels,
                                       MAX_PERSONS_PER_CELL)


def apply_overrides(inputs: ResolvedInputs, scenario: Scenario) -> ResolvedInputs:
    """Replace resolved arrays by the scenario's ``[inputs]`` files (complete grids required)."""
    changes = {}
    levels = {"year": inputs.years.tolist(), "district": list(inputs.districts),
              "sex": list(SEXES), "age": list(range(N_AGES))}
    for name, (keys, value, upper, _) in TABLES.items():
        path = getattr(scenario.inputs, name)
        if path is None:
            continue
        cells = int(np.prod([len(levels[k]) for k in keys]))
        df = read_table(Path(path), keys + (value,), cells)
        changes[name] = to_array(df, Path(path), keys, value, levels, upper)
    return dataclasses.replace(inputs, **changes) if changes else inputs
