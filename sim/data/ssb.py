"""Import SSB Statbank table 07459 into kommunesim's base-population format.

Table 07459 ("Befolkning, etter region, kjønn, alder, statistikkvariabel og år")
counts the population on 1 January by kommune, sex and single-year age 0..104 plus
the open group "105 år eller eldre". Statbank exports it as CSV or as JSON-stat 2.0
(PxWebApi). Every CSV layout it writes is read: region and age in rows, with sex and
year each either in rows (a ``kjønn``/``sex`` or ``år``/``year`` column) or in the
value column names ("Personer 2024", "Persons 2023 Males"); with or without the title
line; ``;``, ``,`` or tab separated; UTF-8 (BOM optional), Windows-1252 or Latin-1;
Norwegian or English headers and labels. One export becomes one tidy table

    year,kommunenummer,kommune,sex,age,persons

``year`` is the year of the 1 January count, ``kommunenummer`` a 4-digit string as in
the export ("0000" = Norway, named "Norge"), ``kommune`` the export's name ("" if it has
none), ``sex`` "female"/"male", ``age`` completed years 0..105 (105 = 105 and older) and
``persons`` a head count 0..10^8. Rows are sorted by kommunenummer, year, sex, age.

A (region, year) whose every value is missing or 0 is no population (Statbank writes such
blocks for a code not in use in that year, e.g. 3209 Ullensaker before 2024); it is left
out and reported. Any other missing value is an error.

``import_exports`` merges several exports into one history per 2024 kommune, mapping old
codes with the redistricting key (``sim.data.redistricting``), and adds them to the
``population_<knr>.csv`` files of a folder. Every problem raises one
:class:`sim.errors.InputError` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.data import redistricting
from sim.demography import N_AGES, SEXES
from sim.errors import InputError

COLUMNS = ["year", "kommunenummer", "kommune", "sex", "age", "persons"]
KEYS = ["kommunenummer", "year", "sex", "age"]
MAX_AGE = 105
MAX_PERSONS = 100_000_000
"""Largest head count accepted in one cell (10^8, above Norway's whole population)."""
MAX_CELLS = 50_000_000
"""Largest JSON-stat cube read (all 07459 regions x years is about 10^7 cells)."""
_COUNTS = f"whole numbers 0..{MAX_PERSONS} (10^8) per cell"
_MISSING_VALUE = -1  # a missing cell ('..', '.', ':', empty, null) while parsing

# Column headers / JSON-stat dimension ids (lower case) for each role.
_ROLES = {
    "region": ("region",),
    "sex": ("kjønn", "kjonn", "sex"),
    "age": ("alder", "age"),
    "contents": ("statistikkvariabel", "contentscode", "contents", "statistical variable"),
    "year": ("år", "tid", "year", "time"),
}
_HEADER_NAMES = {"no": {"region": "region", "sex": "kjønn", "age": "alder", "year": "år"},
                 "en": {"region": "region", "sex": "sex", "age": "age", "year": "year"}}
_SSB_IDS = {"region": "Region", "sex": "Kjonn", "age": "Alder", "year": "Tid"}
_SEXES = {
    "menn": "male", "mann": "male", "males": "male", "male": "male", "men": "male", "1": "male",
    "kvinner": "female", "kvinne": "female", "females": "female", "female": "female",
    "women": "female", "2": "female",
}
_MISSING = {"", ".", "..", "...", ":"}
_NORWAY = {"hele landet", "norge", "norway", "the whole country"}
_AGE = re.compile(
    r"(\d{1,3})\s*(\+|år|years?)?\s*(eller eldre|og eldre|og over|or older|and older|and over)?"
)
_YEAR_IN_HEADER = re.compile(r"(?<!\d)(\d{4})(?!\d)")


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Export:
    """One Statbank export read into the package format, codes as exported.

    Attributes:
        table: the populations (``COLUMNS``, validated, sorted by ``KEYS``).
        empty: (kommunenummer, name, year) blocks left out because every value was missing
            or 0.
    """

    table: pd.DataFrame
    empty: list[tuple[str, str, int]] = field(default_factory=list)


def read_export(path: str | Path) -> Export:
    """Read an SSB 07459 export (CSV or JSON-stat 2.0); see the module docstring.

    The format is detected from the content: JSON-stat if the first non-blank character is
    ``{``, otherwise Statbank CSV.

    Raises:
        InputError: the file is unreadable, not a 07459 export, incomplete or has counts
            outside 0..10^8.
    """
    path = Path(path)
    text = _read_text(path)
    if text.lstrip().startswith("{"):
        return _read_jsonstat(text, path)
    return _read_csv(text, path)


def read_ssb_07459(path: str | Path) -> pd.DataFrame:
    """The populations of an SSB 07459 export (``read_export(path).table``)."""
    return read_export(path).table


def write_population(df: pd.DataFrame, path: str | Path) -> None:
    """Validate and write a population table as package-format CSV, atomically.

    The table is written to a temporary file in the target folder and then
    moved over ``path`` with :func:`os.replace`, so readers never see half a file.

    Args:
        df: table in the package format (see :func:`validate_population`).
        path: the CSV file to create or replace (UTF-8, comma separated).

    Raises:
        InputError: ``df`` is not a valid population table or the file cannot be written.
    """
    path = Path(path)
    validate_population(df, path)
    _write_csv(df[COLUMNS].sort_values(KEYS, kind="stable"), path)


def _write_csv(out: pd.DataFrame, path: Path) -> None:
    """Write a table as UTF-8 CSV through a temporary file and ``os.replace``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(path, None, f"cannot write file: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            out.to_csv(fh, index=False, lineterminator="\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(path, None, f"cannot write file: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_population(path: str | Path) -> pd.DataFrame:
    """Read and validate a population table in the package format (``validate_population``).

    Raises:
        InputError: the file is missing, not a CSV table, or not a valid population table.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"kommunenummer": str, "kommune": str, "sex": str})
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(path, None, f"not a readable CSV table: {exc}") from None
    validate_population(df, path)
    return df


def validate_population(df: pd.DataFrame, source: str | Path) -> None:
    """Check that ``df`` is a complete population table in the package format.

    Requires exactly the columns ``year, kommunenummer, kommune, sex, age,
    persons``; integer year/age/persons; kommunenummer as 4-digit strings; sex
    "female"/"male"; persons >= 0; one row per (kommunenummer, year, sex, age)
    and all ages 0..105 for both sexes in every (kommunenummer, year).
    Row order is not checked.

    Args:
        df: the table to check.
        source: file name used in error messages.

    Raises:
        InputError: on the first problem found.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(source, missing[0], f"missing column(s) {', '.join(missing)}; "
                         f"required: {', '.join(COLUMNS)}")
    extra = [str(c) for c in df.columns if c not in COLUMNS]
    if extra:
        raise InputError(source, extra[0], f"unexpected column; allowed: {', '.join(COLUMNS)}")
    if df.empty:
        raise InputError(source, None, "no rows; ages 0..105 for both sexes are required")
    for col in COLUMNS:
        if df[col].isna().any():
            raise InputError(source, col, "empty values are not allowed")
    for col in ("year", "age", "persons"):
        if not pd.api.types.is_integer_dtype(df[col]):
            raise InputError(source, col, f"must be integers, found dtype {df[col].dtype}")
    for col in ("kommunenummer", "kommune", "sex"):
        if pd.api.types.infer_dtype(df[col], skipna=False) != "string":
            hint = " (read CSVs with dtype={'kommunenummer': str})" if col == KEYS[0] else ""
            raise InputError(source, col, f"must be text, found dtype {df[col].dtype}{hint}")

    def first_bad(mask: pd.Series, col: str, allowed: str) -> None:
        if mask.any():
            row = df[mask].iloc[0]
            raise InputError(source, col, f"{row[col]!r} in {_where_row(row)}; allowed: {allowed}")

    first_bad(~df["kommunenummer"].str.fullmatch(r"\d{4}"), "kommunenummer",
              "4 digits such as '3222' or '0301' ('0000' = Norway)")
    first_bad(~df["sex"].isin(["female", "male"]), "sex", "'female', 'male'")
    first_bad(~df["age"].between(0, MAX_AGE), "age", "0..105 (105 = 105 and older)")
    first_bad(~df["persons"].between(0, MAX_PERSONS), "persons", _COUNTS)

    dup = df.duplicated(KEYS)
    if dup.any():
        row = df[dup].iloc[0]
        raise InputError(source, "kommunenummer,year,sex,age",
                         f"duplicate rows for {_where_row(row)}; each combination must appear once")
    counts = df.groupby(["kommunenummer", "year", "sex"]).size()  # ages per block
    n_sexes = counts.groupby(level=[0, 1]).size()
    if (n_sexes < 2).any():
        number, year = n_sexes[n_sexes < 2].index[0]
        lacking = ({"female", "male"} - set(counts.loc[(number, year)].index)).pop()
        raise InputError(source, "sex", f"{number} {year}: no rows for {lacking}; "
                         "both female and male are required")
    if (counts <= MAX_AGE).any():
        number, year, sex = counts[counts <= MAX_AGE].index[0]
        found = df.loc[(df["kommunenummer"] == number) & (df["year"] == year)
                       & (df["sex"] == sex), "age"]
        gaps = sorted(set(range(MAX_AGE + 1)) - set(found.tolist()))
        shown = ", ".join(map(str, gaps[:12])) + (", …" if len(gaps) > 12 else "")
        raise InputError(source, "age", f"{number} {year} {sex}: ages 0..{MAX_AGE} required, "
                         f"missing {shown}")


# --------------------------------------------------------------------------- value parsers
# Each takes one raw label/value and returns the package value or raises ValueError(reason).


def _parse_region(text: str) -> tuple[str, str]:
    """'3222 Lørenskog', 'K-3222 Lørenskog', '3222', '0 Hele landet' -> (number, name).

    A validity suffix is dropped from the name: 'K-3033 Ullensaker (2020-2023)' -> Ullensaker.
    """
    text = text.strip()
    if text.lower() in _NORWAY:
        return "0000", "Norge"
    m = re.fullmatch(r"(?:K-)?(\d{4}|0)(?:\s+(.*))?", text, flags=re.IGNORECASE)
    if not m:
        raise ValueError(f"region {text!r} is not a municipality; expected '3222 Lørenskog', "
                         "'K-3222', '3222' or '0 Hele landet'")
    number = m.group(1).zfill(4)
    name = re.sub(r"\s*\(\s*\d{0,4}\s*-\s*\d{0,4}\s*\)$", "", (m.group(2) or "").strip())
    return number, "Norge" if number == "0000" else name


def _parse_sex(text: str) -> str:
    key = text.strip().lower()
    m = re.fullmatch(r"\d\s+(.+)", key)  # "1 Menn"
    key = m.group(1) if m else key
    if key not in _SEXES:
        raise ValueError(f"unknown sex {text!r}; allowed: Menn, Kvinner "
                         "(also '1 Menn', '2 Kvinner', codes 1, 2, Males, Females)")
    return _SEXES[key]


def _parse_age(text: str) -> int:
    m = _AGE.fullmatch(text.strip().lower())
    if not m:
        raise ValueError(f"cannot read age {text!r}; expected '0 år' … '105 år eller eldre', "
                         "codes '000' … '105+' or '0 years' … '105 years or older'")
    age = int(m.group(1))
    is_open = m.group(2) == "+" or m.group(3) is not None
    if age > MAX_AGE or (is_open and age != MAX_AGE):
        raise ValueError(f"age {text!r} not allowed; single years 0..104 and the open group "
                         f"{MAX_AGE} ('105 år eller eldre', '105+')")
    return age


def _parse_year(text: str) -> int:
    if not re.fullmatch(r"\d{4}", text.strip()):
        raise ValueError(f"year {text!r} is not a 4-digit year such as '2024'")
    return int(text)


def _parse_persons(value: Any) -> int:
    """A head count 0..10^8; SSB's '-' is nil (0); '.', '..', ':', '' and null are missing."""
    if value is None:
        return _MISSING_VALUE
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if text in _MISSING:
            return _MISSING_VALUE
        if text == "-":
            return 0
        try:
            number = float(text) if "_" not in text else math.nan
        except ValueError:
            raise ValueError(f"{value!r} is not a number; allowed: {_COUNTS}") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    else:
        raise ValueError(f"{value!r} is not a number; allowed: {_COUNTS}")
    if not 0 <= number <= MAX_PERSONS or number != int(number):  # NaN fails the range
        raise ValueError(f"{value!r} persons not allowed; allowed: {_COUNTS}")
    return int(number)


def _convert(
    values: Sequence[Any],
    parse: Callable[[Any], Any],
    source: Path,
    field: str | Sequence[str],
    where: Callable[[int], str],
) -> list[Any]:
    """Parse each value (each distinct value once); errors name the field and location."""
    cache: dict[Any, Any] = {}
    out = []
    for i, value in enumerate(values):
        key = (type(value), value)
        if key not in cache:
            try:
                cache[key] = parse(value)
            except ValueError as exc:
                name = field if isinstance(field, str) else field[i]
                raise InputError(source, name, f"{where(i)}: {exc}") from None
        out.append(cache[key])
    return out


# --------------------------------------------------------------------------- readers


def _read_text(path: Path) -> str:
    """Decode the file: UTF-16 (BOM), else UTF-8 (BOM optional), else Windows-1252/Latin-1."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"cannot read file: {exc.strerror or exc}") from None
    if not data.strip():
        raise InputError(path, None, "file is empty; expected an SSB 07459 CSV or JSON-stat export")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in data[:4096]:
        raise InputError(path, None, "binary file (Excel or zip?); export from Statbank as "
                         "semicolon CSV or JSON-stat")
    else:
        encodings = ("utf-8-sig", "cp1252", "latin-1")
    for encoding in encodings:
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode(encoding)
    raise InputError(path, None, "cannot decode text; expected UTF-8, UTF-16 or Windows-1252")


def _role(name: str) -> str | None:
    key = name.strip().lower()
    return next((role for role, names in _ROLES.items() if key in names), None)


def _find_header(lines: list[str], source: Path) -> tuple[int, str, list[str]]:
    """Locate the header row (after an optional title line) and its delimiter.

    The header is the first line with a region and an age column.
    """
    partial = None
    for n, line in enumerate(lines[:50]):
        for delimiter in ";,\t":
            fields = [f.strip() for f in next(csv.reader([line], delimiter=delimiter), [])]
            roles = {_role(f) for f in fields}
            if {"region", "age"} <= roles:
                return n, delimiter, fields
            if partial is None and len(fields) > 1 and roles - {None}:
                partial = roles
    if partial is None:
        raise InputError(source, None, "no header row with columns region, kjønn, alder; "
                         "expected an SSB 07459 export (semicolon CSV or JSON-stat)")
    lacking = [name for role, name in (("region", "region"), ("age", "alder"))
               if role not in partial]
    raise InputError(source, lacking[0], f"missing column(s) {', '.join(lacking)}; required: "
                     "region, alder (age), and kjønn (sex) and år (year) as columns or in the "
                     "value column names")


def _header_sex_year(name: str) -> tuple[str | None, str | None]:
    """Sex ('male'/'female') and year named in a value column header, or None for each."""
    years = set(_YEAR_IN_HEADER.findall(name))
    words = re.findall(r"[^\W\d_]+", name.lower())
    sexes = {_SEXES[w] for w in words if w in _SEXES}
    return (sexes.pop() if len(sexes) == 1 else None), (years.pop() if len(years) == 1 else None)


def _value_columns(header: list[str], roles: dict[str, int],
                   source: Path) -> list[tuple[int, str | None, str | None]]:
    """(column, sex, year) of each value column; sex/year None where a row column gives it."""
    lang = "en" if "age" in {h.strip().lower() for h in header} else "no"
    names = _HEADER_NAMES[lang]
    value_cols = [j for j in range(len(header)) if j not in roles.values()]
    wanted = [r for r in ("sex", "year") if r not in roles]
    if not wanted:  # long layout: sex and year in rows, one value column
        if len(value_cols) != 1:
            raise InputError(source, header[roles["year"]], f"with {names['sex']} and "
                             f"{names['year']} columns exactly one value column is allowed, "
                             f"found {len(value_cols)}")
        return [(value_cols[0], None, None)]
    example = "'Persons 2023 Males'" if lang == "en" else "'Personer 2023 Menn'"
    out: list[tuple[int, str | None, str | None]] = []
    seen: dict[tuple[str | None, str | None], str] = {}
    for j in value_cols:
        sex, year = _header_sex_year(header[j])
        lacking = [names[r] for r, got in (("sex", sex), ("year", year)) if r in wanted and not got]
        if lacking:
            raise InputError(source, lacking[0], f"missing column(s) {', '.join(lacking)}; "
                             f"required: {names['region']}, {names['age']}, and "
                             f"{names['sex']} and {names['year']} as columns or in the value "
                             f"column names such as {example} (column {header[j]!r} has none)")
        key = (sex if "sex" in wanted else None, year if "year" in wanted else None)
        if key in seen:
            what = " and ".join(f"{r} {v}" for r, v in zip(("sex", "year"), key, strict=True)
                                if v)
            raise InputError(source, header[j], f"{what} also in column {seen[key]!r}; each "
                             "sex and year may appear once")
        seen[key] = header[j]
        out.append((j, *key))
    if not out:
        raise InputError(source, names[wanted[0]], f"no {names[wanted[0]]} column and no value "
                         f"columns such as {example}")
    return out


def _read_csv(text: str, source: Path) -> Export:
    lines = text.splitlines()
    at, delimiter, header = _find_header(lines, source)
    roles: dict[str, int] = {}
    for j, name in enumerate(header):
        if (role := _role(name)) and role not in roles:
            roles[role] = j
    columns = _value_columns(header, roles, source)

    keys = ("line", "region", "sex", "age", "year", "persons", "field", "contents")
    raw: dict[str, list[Any]] = {k: [] for k in keys}
    rows = csv.reader(lines[at + 1 :], delimiter=delimiter)
    for line_no, row in enumerate(rows, start=at + 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            bad = header[len(row)] if len(row) < len(header) else header[-1]
            raise InputError(source, bad, f"line {line_no}: {len(row)} fields, header has "
                             f"{len(header)} (truncated or damaged file?)")
        for j, sex, year in columns:
            raw["line"].append(line_no)
            raw["region"].append(row[roles["region"]])
            raw["age"].append(row[roles["age"]])
            raw["sex"].append(row[roles["sex"]] if sex is None else sex)
            raw["year"].append(row[roles["year"]] if year is None else year)
            raw["contents"].append(row[roles["contents"]] if "contents" in roles else "")
            raw["persons"].append(row[j])
            raw["field"].append(header[j])
    if not raw["line"]:
        raise InputError(source, None, "no data rows below the header")
    if len(variables := set(raw["contents"])) > 1:
        raise InputError(source, header[roles["contents"]],
                         f"several variables {sorted(variables)}; export only 'Personer'")

    def where(i: int) -> str:
        return f"line {raw['line'][i]}"

    names = {role: header[j] for role, j in roles.items()}
    regions = _convert(raw["region"], _parse_region, source, names["region"], where)
    parsed = {
        "year": _convert(raw["year"], _parse_year, source, names.get("year", "år"), where),
        "kommunenummer": [r[0] for r in regions],
        "kommune": [r[1] for r in regions],
        "sex": _convert(raw["sex"], _parse_sex, source, names.get("sex", "kjønn"), where),
        "age": _convert(raw["age"], _parse_age, source, names["age"], where),
        "persons": _convert(raw["persons"], _parse_persons, source, raw["field"], where),
    }
    return _finish(parsed, raw["persons"], raw["field"], source, where)


def _read_jsonstat(text: str, source: Path) -> Export:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, None, f"not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}); expected JSON-stat 2.0") from None
    except RecursionError:
        raise InputError(source, None, "JSON nested too deeply; expected JSON-stat 2.0") from None
    if isinstance(doc, dict) and "dimension" not in doc and isinstance(doc.get("dataset"), dict):
        doc = doc["dataset"]  # JSON-stat 1.x bundle {"dataset": {...}}
    if not isinstance(doc, dict) or not isinstance(doc.get("dimension"), dict):
        raise InputError(source, "dimension", "not a JSON-stat dataset; expected an object with "
                         "'id', 'size', 'dimension' and 'value'")
    dims = doc["dimension"]
    ids, sizes = doc.get("id", dims.get("id")), doc.get("size", dims.get("size"))  # 2.0 or 1.x
    if not (isinstance(ids, list) and isinstance(sizes, list) and len(ids) == len(sizes)
            and all(isinstance(d, str) for d in ids)
            and all(isinstance(s, int) and s >= 0 for s in sizes)):
        raise InputError(source, "size", "'id' and 'size' must be lists of equal length "
                         "(dimension ids and category counts)")
    total = math.prod(sizes)
    if total > MAX_CELLS:
        raise InputError(source, "size", f"{total} cells; at most {MAX_CELLS} are read (export "
                         "fewer regions or years per file)")

    pairs = zip(ids, sizes, strict=True)
    categories = [_categories(source, d, dims.get(d), n) for d, n in pairs]
    role_dims: dict[str, int] = {}
    for k, dim_id in enumerate(ids):
        role = _role(str(dim_id))
        if role in _SSB_IDS and role not in role_dims:
            role_dims[role] = k
        elif sizes[k] != 1:
            raise InputError(source, str(dim_id), f"{sizes[k]} categories; select one "
                             "(ContentsCode 'Personer1'); allowed: Region, Kjonn, Alder, Tid")
    for role, ssb_id in _SSB_IDS.items():
        if role not in role_dims:
            raise InputError(source, ssb_id, "dimension missing; 07459 JSON-stat needs dimensions "
                             f"Region, Kjonn, Alder and Tid (found: {', '.join(map(str, ids))})")

    value = doc.get("value")
    if isinstance(value, dict):  # sparse {"pos": value}; absent positions are missing
        dense: list[Any] = [None] * total
        for key, v in value.items():
            if not (str(key).isdigit() and int(key) < total):
                raise InputError(source, "value", f"position {key!r} outside 0..{total - 1}")
            dense[int(key)] = v
        value = dense
    if not isinstance(value, list):
        raise InputError(source, "value", "missing; expected a list or {position: number}")
    if len(value) != total:
        raise InputError(source, "value", f"{len(value)} values but size {sizes} needs {total}")

    # Parse each category label once, then spread over the row-major grid of cells: the cell
    # at flat position i has category grid[k][i] (an index position) in dimension k.
    grid = np.indices(sizes).reshape(len(sizes), -1)
    parsed: dict[str, Any] = {}
    for role, parse in (("region", _parse_region), ("sex", _parse_sex), ("age", _parse_age),
                        ("year", _parse_year)):
        k = role_dims[role]
        codes, labels = categories[k]
        texts = [_category_text(role, c, lab) for c, lab in zip(codes, labels, strict=True)]
        per_cat = _convert(texts, parse, source, str(ids[k]),
                           lambda i, k=k: f"category {categories[k][0][i]!r}")
        parsed[role] = [per_cat[i] for i in grid[k]]
    regions = parsed.pop("region")
    parsed["kommunenummer"] = [r[0] for r in regions]
    parsed["kommune"] = [r[1] for r in regions]

    def where(i: int) -> str:
        cell = ", ".join(f"{d}={categories[k][0][grid[k][i]]}" for k, d in enumerate(ids))
        return f"value[{i}] ({cell})"

    parsed["persons"] = _convert(value, _parse_persons, source, "value", where)
    return _finish(parsed, value, "value", source, where)


def _categories(source: Path, dim_id: str, dim: Any, size: int) -> tuple[list[str], list[str]]:
    """Category codes in index-position order and their labels (label defaults to code).

    An ``index`` object gives each code's position; its key order carries no meaning.
    """
    cat = dim.get("category") if isinstance(dim, dict) else None
    if not isinstance(cat, dict):
        raise InputError(source, dim_id, "dimension has no 'category' object")
    labels = cat.get("label") if isinstance(cat.get("label"), dict) else {}
    index = cat.get("index", list(labels))
    if isinstance(index, dict):
        if sorted(p for p in index.values() if isinstance(p, int)) != list(range(len(index))):
            raise InputError(source, dim_id, "category index positions must be 0..n-1")
        codes = sorted(index, key=index.__getitem__)
    elif isinstance(index, list):
        codes = [str(c) for c in index]
    else:
        raise InputError(source, dim_id, "category index must be an object or a list")
    if len(codes) != size:
        raise InputError(source, "size", f"dimension {dim_id!r} has {len(codes)} categories "
                         f"but size says {size}")
    return codes, [str(labels.get(c, c)) for c in codes]


def _category_text(role: str, code: str, label: str) -> str:
    """Text to parse for one JSON-stat category: codes for age/year, code + label otherwise."""
    if role in ("age", "year") or label == code:
        return code
    if role == "region" and re.match(r"(?:K-)?\d", label):
        return label  # label already carries the number, "3222 Lørenskog"
    if role == "sex" and not code.isdigit():
        return label
    return f"{code} {label}"  # "3222 Lørenskog", "0 Hele landet", "1 Menn"


def _finish(parsed: dict[str, Any], raw: Sequence[Any], fields: str | Sequence[str],
            source: Path, where: Callable[[int], str]) -> Export:
    """Check repeats, leave out blocks without counts, refuse other gaps, sort and validate."""
    df = pd.DataFrame({c: parsed[c] for c in COLUMNS})
    for col in ("year", "age", "persons"):
        df[col] = df[col].astype(np.int64)
    dup = df.duplicated(KEYS)
    if dup.any():
        second = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((df[KEYS] == df.loc[second, KEYS]).all(axis=1))[0])
        raise InputError(source, "region/sex/age/year", f"{where(second)} repeats {where(first)} "
                         f"({_where_row(df.loc[second])}); each combination must appear once")
    counted = (df["persons"] > 0).groupby([df["kommunenummer"], df["year"]]).transform("any")
    gaps = np.flatnonzero(counted & (df["persons"] == _MISSING_VALUE))
    if len(gaps):
        i = int(gaps[0])
        raise InputError(source, fields if isinstance(fields, str) else fields[i],
                         f"{where(i)}: missing value {'null' if raw[i] is None else repr(raw[i])} "
                         f"in {_where_row(df.loc[i])}; "
                         f"the population must be complete (allowed: {_COUNTS}, '-' = 0)")
    empty = (df.loc[~counted, ["kommunenummer", "kommune", "year"]].drop_duplicates()
             .sort_values(["kommunenummer", "year"]))
    df = df[counted].sort_values(KEYS, kind="stable").reset_index(drop=True)
    if df.empty:
        raise InputError(source, None, "no counts: every value is missing or 0")
    validate_population(df, source)
    return Export(df, [(str(k), str(n), int(y)) for k, n, y in empty.itertuples(index=False)])


def _where_row(row: pd.Series) -> str:
    return f"{row['kommunenummer']} {row['year']} {row['sex']} age {row['age']}"


# --------------------------------------------------------------------------- import to a folder


@dataclass(frozen=True)
class _Block:
    """One region-year of an export: persons [2, A] (sex in ``SEXES`` order, age)."""

    persons: np.ndarray
    source: str
    name: str


@dataclass(frozen=True)
class ImportResult:
    """What ``import_exports`` wrote and what it did, one line each (for the user)."""

    written: dict[str, Path]
    lines: list[str]


def import_exports(files: Sequence[str | Path], out: str | Path) -> ImportResult:
    """Merge SSB 07459 exports into one history per 2024 kommune in ``out``.

    Each region-year is mapped to its 2024 kommune with the redistricting key: a renumbered
    code is relabelled (3033 Ullensaker -> 3209), merged kommuner are summed (Lillestrøm 3205 in
    2019 = 0226 + 0227 + 0231, all three required). Codes split in 2024 (weight < 1 in the key)
    are refused: persons by age cannot be divided. The same kommune and year may come more than
    once (two files, an old and a new code, a ``population_<knr>.csv`` already in ``out``) only
    with identical counts. The result is written to ``out/population_<knr>.csv`` (package format,
    2024 names) after every file has been read and checked, each file atomically.

    Raises:
        InputError: a file is bad, a code cannot be mapped, or two sources disagree.
    """
    out = Path(out)
    blocks: dict[tuple[str, int], _Block] = {}
    lines: list[str] = []
    for f in files:
        export = read_export(f)
        for code, name, years in _by_code(export.empty):
            lines.append(f"{f}: {code} {name}: no counts in {years} (code not in use then?), "
                         "left out")
        for (code, year), block in _blocks(export.table, str(f)):
            seen = blocks.setdefault((code, year), block)
            if seen is not block:
                _check_same(seen, block, f"{code} {block.name} {year}")

    groups: dict[tuple[str, int], dict[str, _Block]] = {}
    mapped: dict[tuple[str, str, str], list[int]] = {}
    for (code, year), block in sorted(blocks.items()):
        knr = _target(code, year, block)
        groups.setdefault((knr, year), {})[code] = block
        if knr != code:
            mapped.setdefault((code, block.name, knr), []).append(year)
    names = redistricting.names_2024()
    for (code, name, knr), years in mapped.items():
        lines.append(f"mapped {code} {name} to {knr} {names.get(knr, '')}: {year_ranges(years)}")

    histories: dict[str, dict[int, _Block]] = {}
    for (knr, year), codes in groups.items():
        histories.setdefault(knr, {})[year] = _compose(knr, year, codes)
    tables = {}
    for knr, years in sorted(histories.items()):
        path = out / f"population_{knr}.csv"
        held = _add_existing(path, knr, years)
        tables[knr] = _table(knr, names.get(knr, ""), years)
        total = int(years[max(years)].persons.sum())
        added = sorted(set(years) - set(held or ()))
        note = ("" if held is None else f" (added {year_ranges(added)} to {path.name})" if added
                else f" (nothing new for {path.name})")
        lines.append(f"{knr} {names.get(knr, '')}: {year_ranges(sorted(years))}{note}, "
                     f"{total:,} persons in {max(years)} -> {path}")
    _make_folder(out)
    from sim.folders import write_atomically

    def fill(w) -> None:  # all files or none (staged in OUT, then moved in)
        for knr, table in tables.items():  # complete by construction from checked blocks
            table.to_csv(w.path(f"population_{knr}.csv"), index=False, lineterminator="\n")

    write_atomically(out, fill, prune=False)
    return ImportResult({knr: out / f"population_{knr}.csv" for knr in tables}, lines)


def _blocks(table: pd.DataFrame, source: str) -> list[tuple[tuple[str, int], _Block]]:
    """A complete table's region-years as persons arrays (the table sorted by ``KEYS``)."""
    sexes = sorted(SEXES)  # the table's order within a region-year
    persons = table["persons"].to_numpy().reshape(-1, 2, N_AGES)[:, [sexes.index(s)
                                                                     for s in SEXES]]
    first = table.iloc[:: 2 * N_AGES]
    return [((str(k), int(y)), _Block(persons[i], source, str(name)))
            for i, (k, y, name) in enumerate(zip(first["kommunenummer"], first["year"],
                                                 first["kommune"], strict=True))]


def _target(code: str, year: int, block: _Block) -> str:
    """The 2024 kommune a code of ``year`` lies in; split and unknown codes are refused."""
    targets = redistricting.targets(code, year)
    first, last = redistricting.key_years()
    label = f"{code} {block.name}".strip()
    if not targets:
        allowed = (f"years {first}..{last}" if not first <= year <= last
                   else f"the kommunenummer in use in {year}")
        raise InputError(block.source, "region", f"{label} in {year} is not in SSB's "
                         f"redistricting key; allowed: {allowed}")
    if len(targets) > 1 or targets[0][1] != 1.0:
        names = redistricting.names_2024()
        into = ", ".join(f"{k} {names.get(k, '')} ({w:g})" for k, w in targets)
        raise InputError(block.source, "region", f"{label} in {year} was split between 2024 "
                         f"kommuner ({into}); persons by age cannot be divided by the key's "
                         "weights: leave this code out of the export")
    return targets[0][0]


def _compose(knr: str, year: int, codes: dict[str, _Block]) -> _Block:
    """2024 kommune ``knr`` in ``year`` from the codes given for it (see ``redistricting``)."""
    comp = redistricting.composition(knr, year)
    name = f"{knr} {redistricting.names_2024().get(knr, '')}".strip()
    parts = [codes[c] for c in comp.parts if c in codes]
    whole = _Block(sum(p.persons for p in parts), ", ".join(dict.fromkeys(
        p.source for p in parts)), name) if len(parts) == len(comp.parts) and parts else None
    if comp.alias in codes:
        alias = codes[comp.alias]
        if whole is not None:
            _check_same(whole, alias, f"{name} {year} (code {comp.alias} against "
                        f"{' + '.join(comp.parts)})")
        return _Block(alias.persons, alias.source, name)
    some = next(iter(codes.values()))
    if comp.split:
        raise InputError(some.source, "region", f"{name} in {year} includes part of "
                         f"{', '.join(comp.split)} (split between 2024 kommuner); persons by age "
                         "cannot be divided: leave this year out of the export")
    if whole is None:
        missing = [c for c in comp.parts if c not in codes]
        raise InputError(some.source, "region", f"{name} in {year} is the sum of "
                         f"{', '.join(comp.parts)} (SSB's redistricting key); missing "
                         f"{', '.join(missing)}: export all of them or leave {year} out")
    return whole


def _check_same(first: _Block, second: _Block, what: str) -> None:
    """Refuse two different counts for the same kommune and year, naming both sources."""
    diff = np.argwhere(first.persons != second.persons)
    if len(diff):
        s, a = diff[0]
        other = "elsewhere in the file" if first.source == second.source else f"in {first.source}"
        raise InputError(second.source, "persons", f"{what}: {SEXES[s]} age {a} is "
                         f"{second.persons[s, a]} here but {first.persons[s, a]} {other}; a "
                         "kommune and year may come twice only with identical counts")


def _add_existing(path: Path, knr: str, years: dict[int, _Block]) -> list[int] | None:
    """Add the years of an existing ``population_<knr>.csv`` to ``years`` (in place).

    Returns the years the file held (None if there is no file).
    """
    if not path.exists():
        return None
    df = read_population(path)
    others = sorted(set(df["kommunenummer"]) - {knr})
    if others:
        raise InputError(path, "kommunenummer", f"{others[0]} in a file for {knr}; "
                         f"population_{knr}.csv may hold only {knr}")
    held = []
    for (_, year), block in _blocks(df.sort_values(KEYS), str(path)):
        if year in years:
            _check_same(block, years[year], f"{knr} {block.name} {year}")
        years[year] = block
        held.append(year)
    return held


def _table(knr: str, name: str, years: dict[int, _Block]) -> pd.DataFrame:
    """The package-format table of one kommune's history, in ``KEYS`` order."""
    ys = sorted(years)
    sexes = sorted(SEXES)
    persons = np.stack([years[y].persons for y in ys])[:, [SEXES.index(s) for s in sexes]]
    n = 2 * N_AGES
    return pd.DataFrame({
        "year": np.repeat(np.asarray(ys, dtype=np.int64), n),
        "kommunenummer": knr,
        "kommune": name,
        "sex": np.tile(np.repeat(np.asarray(sexes, dtype=object), N_AGES), len(ys)),
        "age": np.tile(np.arange(N_AGES, dtype=np.int64), 2 * len(ys)),
        "persons": persons.reshape(-1).astype(np.int64),
    })


def _make_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(out, "--out", f"cannot create folder: {exc.strerror or exc}") from None


def _by_code(empty: list[tuple[str, str, int]]) -> list[tuple[str, str, str]]:
    """(code, name, years text) per code of the left-out blocks."""
    years: dict[tuple[str, str], list[int]] = {}
    for code, name, year in empty:
        years.setdefault((code, name), []).append(year)
    return [(code, name, year_ranges(ys)) for (code, name), ys in years.items()]


def year_ranges(years: Sequence[int]) -> str:
    """Years as ranges: 2005..2010, 2021..2024, 2030."""
    ys = sorted(set(years))
    runs: list[list[int]] = []
    for y in ys:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
