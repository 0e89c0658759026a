"""Import SSB Statbank table 07459 into kommunesim's base-population format.

Table 07459 ("Befolkning, etter region, kjønn, alder, statistikkvariabel og år")
counts the population on 1 January by municipality, sex and single-year age
0..104 plus the open group "105 år eller eldre". Statbank exports it as a
semicolon CSV (long or wide layout) or as JSON-stat 2.0 (PxWebApi). Both are
converted to one tidy table with the columns

    year,kommunenummer,kommune,sex,age,persons

``year`` is the year of the 1 January count, ``kommunenummer`` a 4-digit
string ("0000" = Norway, named "Norge"), ``kommune`` the name ("" if the
export has none), ``sex`` "female"/"male", ``age`` completed years 0..105
(105 = 105 and older) and ``persons`` a head count. Rows are sorted by
kommunenummer, year, sex, age. Every problem raises one
:class:`sim.errors.InputError` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import InputError

COLUMNS = ["year", "kommunenummer", "kommune", "sex", "age", "persons"]
KEYS = ["kommunenummer", "year", "sex", "age"]
MAX_AGE = 105

# Column headers / JSON-stat dimension ids (lower case) for each role.
_ROLES = {
    "region": ("region",),
    "sex": ("kjønn", "kjonn", "sex"),
    "age": ("alder", "age"),
    "contents": ("statistikkvariabel", "contentscode", "contents", "statistical variable"),
    "year": ("år", "tid", "year", "time"),
}
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


def read_ssb_07459(path: str | Path) -> pd.DataFrame:
    """Read an SSB 07459 export (CSV or JSON-stat 2.0) into the package format.

    The format is detected from the content: JSON-stat if the first non-blank
    character is ``{``, otherwise Statbank CSV (UTF-8 with or without BOM, or
    Windows-1252; semicolon, comma or tab separated; long or wide layout).

    Args:
        path: the exported file.

    Returns:
        A validated DataFrame with columns ``COLUMNS`` (persons on 1 January,
        ages 0..105 with 105 = 105 and older), sorted by kommunenummer, year,
        sex, age.

    Raises:
        InputError: the file is unreadable, not a 07459 export, or incomplete.
    """
    path = Path(path)
    text = _read_text(path)
    if text.lstrip().startswith("{"):
        return _read_jsonstat(text, path)
    return _read_csv(text, path)


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
    out = df[COLUMNS].sort_values(KEYS, kind="stable")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(path, None, f"cannot write file: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            out.to_csv(fh, index=False, lineterminator="\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
    first_bad(df["persons"] < 0, "persons", "whole numbers >= 0")

    dup = df.duplicated(KEYS)
    if dup.any():
        row = df[dup].iloc[0]
        raise InputError(source, "kommunenummer,year,sex,age",
                         f"duplicate rows for {_where_row(row)}; each combination must appear once")
    sexes = df.groupby(["kommunenummer", "year"])["sex"].unique()
    for (number, year), found in sexes.items():
        if len(found) < 2:
            lacking = ({"female", "male"} - set(found)).pop()
            raise InputError(source, "sex", f"{number} {year}: no rows for {lacking}; "
                             "both female and male are required")
    ages = df.groupby(["kommunenummer", "year", "sex"])["age"].unique()
    for (number, year, sex), found in ages.items():
        if len(found) <= MAX_AGE:
            gaps = sorted(set(range(MAX_AGE + 1)) - set(found.tolist()))
            shown = ", ".join(map(str, gaps[:12])) + (", …" if len(gaps) > 12 else "")
            raise InputError(source, "age", f"{number} {year} {sex}: ages 0..{MAX_AGE} required, "
                             f"missing {shown}")


# --------------------------------------------------------------------------- value parsers
# Each takes one raw label/value and returns the package value or raises ValueError(reason).


def _parse_region(text: str) -> tuple[str, str]:
    """'3222 Lørenskog', 'K-3222 Lørenskog', '3222', '0 Hele landet' -> (number, name)."""
    text = text.strip()
    if text.lower() in _NORWAY:
        return "0000", "Norge"
    m = re.fullmatch(r"(?:K-)?(\d{4}|0)(?:\s+(.*))?", text, flags=re.IGNORECASE)
    if not m:
        raise ValueError(f"region {text!r} is not a municipality; expected '3222 Lørenskog', "
                         "'K-3222', '3222' or '0 Hele landet'")
    number = m.group(1).zfill(4)
    return number, "Norge" if number == "0000" else (m.group(2) or "").strip()


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
    """A head count; SSB's '-' means nil (0), '.', '..', ':' and null mean missing."""
    if value is None:
        raise ValueError("missing value (null); the population table must be complete")
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if text in _MISSING:
            raise ValueError(f"missing value {value!r}; the population table must be complete")
        if text == "-":
            return 0
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a number; allowed: whole numbers >= 0") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"missing or non-numeric value {value!r}; allowed: whole numbers >= 0")
    if not number.is_integer() or number < 0:
        raise ValueError(f"{value!r} not allowed; allowed: whole numbers >= 0")
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
        if value not in cache:
            try:
                cache[value] = parse(value)
            except ValueError as exc:
                name = field if isinstance(field, str) else field[i]
                raise InputError(source, name, f"{where(i)}: {exc}") from None
        out.append(cache[value])
    return out


# --------------------------------------------------------------------------- readers


def _read_text(path: Path) -> str:
    """Decode the file: UTF-16 (BOM), else UTF-8 (BOM optional), else Windows-1252."""
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
    """Locate the header row (after an optional title line) and its delimiter."""
    required = {"region": "region", "sex": "kjønn", "age": "alder"}
    partial = None
    for n, line in enumerate(lines[:50]):
        for delimiter in ";,\t":
            fields = [f.strip() for f in next(csv.reader([line], delimiter=delimiter), [])]
            roles = {_role(f) for f in fields}
            if set(required) <= roles:
                return n, delimiter, fields
            if partial is None and len(fields) > 1 and roles - {None}:
                partial = roles
    if partial is None:
        raise InputError(source, None, "no header row with columns region, kjønn, alder; "
                         "expected an SSB 07459 export (semicolon CSV or JSON-stat)")
    lacking = [name for role, name in required.items() if role not in partial]
    raise InputError(source, lacking[0], f"missing column(s) {', '.join(lacking)}; required: "
                     "region, kjønn (sex), alder (age), and år (year) or one column per year")


def _read_csv(text: str, source: Path) -> pd.DataFrame:
    lines = text.splitlines()
    at, delimiter, header = _find_header(lines, source)
    roles: dict[str, int] = {}
    for j, name in enumerate(header):
        if (role := _role(name)) and role not in roles:
            roles[role] = j

    value_cols = [j for j in range(len(header)) if j not in roles.values()]
    if "year" in roles:  # long layout: one value column
        if len(value_cols) != 1:
            raise InputError(source, header[roles["year"]], "long layout (with a year column) "
                             f"needs exactly one value column, found {len(value_cols)}")
        columns = [(value_cols[0], None)]
    else:  # wide layout: one value column per year ("Personer 2024", "2024 Personer")
        columns, seen = [], {}
        for j in value_cols:
            m = _YEAR_IN_HEADER.search(header[j])
            if not m:
                raise InputError(source, header[j], "no year in column name; wide layout needs one "
                                 "column per year such as 'Personer 2024'")
            if m.group(1) in seen:
                raise InputError(source, header[j], f"year {m.group(1)} also in column "
                                 f"{seen[m.group(1)]!r}; each year may appear once")
            seen[m.group(1)] = header[j]
            columns.append((j, m.group(1)))
        if not columns:
            raise InputError(source, "år", "no 'år' (year) column and no per-year value columns "
                             "such as 'Personer 2024'")

    keys = ("line", "region", "sex", "age", "year", "persons", "field", "contents")
    raw: dict[str, list[Any]] = {k: [] for k in keys}
    rows = csv.reader(lines[at + 1 :], delimiter=delimiter)
    for line_no, row in enumerate(rows, start=at + 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            field = header[len(row)] if len(row) < len(header) else header[-1]
            raise InputError(source, field, f"line {line_no}: {len(row)} fields, header has "
                             f"{len(header)} (truncated or damaged file?)")
        for j, year in columns:
            raw["line"].append(line_no)
            for role in ("region", "sex", "age"):
                raw[role].append(row[roles[role]])
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
        "sex": _convert(raw["sex"], _parse_sex, source, names["sex"], where),
        "age": _convert(raw["age"], _parse_age, source, names["age"], where),
        "persons": _convert(raw["persons"], _parse_persons, source, raw["field"], where),
    }
    return _finish(parsed, source, where)


def _read_jsonstat(text: str, source: Path) -> pd.DataFrame:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, None, f"not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}); expected JSON-stat 2.0") from None
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

    total = int(np.prod(sizes))
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

    # Parse each category label once, then spread over the row-major grid of cells.
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
    return _finish(parsed, source, where)


def _categories(source: Path, dim_id: str, dim: Any, size: int) -> tuple[list[str], list[str]]:
    """Category codes in position order and their labels (label defaults to code)."""
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


def _finish(parsed: dict[str, Any], source: Path, where: Callable[[int], str]) -> pd.DataFrame:
    """Build, check for repeated rows (naming both locations), sort and validate."""
    df = pd.DataFrame({c: parsed[c] for c in COLUMNS})
    for col in ("year", "age", "persons"):
        df[col] = df[col].astype(np.int64)
    dup = df.duplicated(KEYS)
    if dup.any():
        second = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((df[KEYS] == df.loc[second, KEYS]).all(axis=1))[0])
        raise InputError(source, "region/sex/age/year", f"{where(second)} repeats {where(first)} "
                         f"({_where_row(df.loc[second])}); each combination must appear once")
    df = df.sort_values(KEYS, kind="stable").reset_index(drop=True)
    validate_population(df, source)
    return df


def _where_row(row: pd.Series) -> str:
    return f"{row['kommunenummer']} {row['year']} {row['sex']} age {row['age']}"
