"""Shared building blocks of the TOML schemas: frozen models, year paths, limits, errors.

Every config model (scenario, service catalogue, budget, sweep, housing) derives from ``Frozen``
and reports errors through ``validation_error`` so bad input always reads the same way.

Limits (checked before any work, each error says the limit): config files are regular files of
at most ``MAX_TOML_BYTES``, nested at most ``MAX_NESTING`` tables/arrays deep; input tables are
regular files of at most ``MAX_TABLE_BYTES``; a scenario has at most ``MAX_DISTRICTS`` districts;
strings (names, keys, paths) have at most ``MAX_STRING_CHARS`` characters; every number is
finite, and year-path values lie within ``MAX_ABS_VALUE`` unless a field sets a narrower,
plausible range.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from sim.errors import InputError

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_TOML_BYTES = 1_000_000
"""Largest scenario, sweep, catalogue or budget TOML file (bytes); real ones are < 10 kB."""
MAX_NESTING = 32
"""Deepest nesting of tables and arrays in a config file (real ones: 4)."""
MAX_STRING_CHARS = 1_000
"""Longest string in a config: names, keys, labels and paths (real ones: < 100)."""
MAX_ABS_VALUE = 1e15
"""Largest magnitude of any year-path value (NOK amounts included); fields narrow it."""
MAX_TABLE_BYTES = 1_000_000_000
"""Largest input table (CSV or Parquet; a full grid of 1,000 districts to 2100 is ~0.7 GB)."""
MAX_DISTRICTS = 1_000
"""Most districts in a scenario (Oslo has about 550 grunnkretser; 1,000 project in ~15 s)."""


class Frozen(BaseModel):
    """Base: immutable; unknown keys are errors; numbers finite; strings bounded.

    Lax mode: TOML tables give year keys as strings ({2030 = 1.5} has key "2030"), so numbers
    written as strings are accepted where a number is expected.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, allow_inf_nan=False,
                              str_max_length=MAX_STRING_CHARS)


def _check_path(path: dict[int, float]) -> dict[int, float]:
    if not path:
        raise ValueError("a year path needs at least one year, e.g. {2030 = 1.5}")
    for year, value in path.items():
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"year {year} outside {MIN_YEAR}..{MAX_YEAR}")
        if not math.isfinite(value):
            raise ValueError(f"{year} = {value}: must be a finite number")
    return dict(sorted(path.items()))


def _bounded_path(path: dict[int, float]) -> dict[int, float]:
    for year, value in path.items():
        if abs(value) > MAX_ABS_VALUE:
            raise ValueError(f"{year} = {value:g}: must be within "
                             f"-{MAX_ABS_VALUE:g}..{MAX_ABS_VALUE:g}")
    return path


def _scalar_path(value: Any) -> Any:
    """A plain number is the same value every year (``in_multiplier = 0.9``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {MIN_YEAR: value}
    if not isinstance(value, dict):
        raise ValueError("must be a number (the same every year) or a year path such as "
                         "{ 2024 = 1.0, 2030 = 0.9 }")
    return value


_FinitePath = Annotated[dict[int, float], BeforeValidator(_scalar_path),
                        AfterValidator(_check_path)]
YearPath = Annotated[_FinitePath, AfterValidator(_bounded_path)]
"""Values by year; linear between given years, constant before the first and after the last."""


def _nonneg_path(path: dict[int, float]) -> dict[int, float]:
    for year, value in path.items():
        if value < 0:
            raise ValueError(f"{year} = {value}: must be >= 0")
    return path


def _positive_path(path: dict[int, float]) -> dict[int, float]:
    for year, value in path.items():
        if value <= 0:
            raise ValueError(f"{year} = {value}: must be > 0")
    return path


NonNegPath = Annotated[YearPath, AfterValidator(_nonneg_path)]
PositivePath = Annotated[YearPath, AfterValidator(_positive_path)]


def dated(value: Any) -> Any:
    """Refuse a plain number where a path's first year is the year of its prices."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("an amount in kroner is carried by the price index from the year it "
                         "is given for: give that year, e.g. { 2024 = 100e6 }")
    return value


NominalPath = Annotated[YearPath, BeforeValidator(dated)]
"""Kroner by year, nominal (the budget carries them by a price index outside the years)."""
NominalNonNegPath = Annotated[NonNegPath, BeforeValidator(dated)]


def number(x: float) -> str:
    """A limit for an error message: ``1,000,000`` for whole numbers, else ``0.5``, ``1e-09``."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def path_within(low: float, high: float, what: str, low_open: bool = False) -> Any:
    """A year-path type whose values lie in ``low..high`` (``(low..high`` if ``low_open``).

    ``what`` names the quantity and unit for the error, e.g. "TFR (births per woman)".
    """
    allowed = (f"above {number(low)} and at most {number(high)}" if low_open
               else f"within {number(low)}..{number(high)}")

    def check(path: dict[int, float]) -> dict[int, float]:
        for year, value in path.items():
            if not (low < value if low_open else low <= value) or value > high:
                raise ValueError(f"{year} = {value:g}: {what} must be {allowed}")
        return path

    return Annotated[_FinitePath, AfterValidator(check)]


def interpolate_path(path: dict[int, float], years: np.ndarray) -> np.ndarray:
    """Evaluate a year path at ``years`` (linear between points, flat outside)."""
    xs = np.array(list(path.keys()), dtype=float)
    ys = np.array(list(path.values()), dtype=float)
    return np.interp(np.asarray(years, dtype=float), xs, ys)


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the last element of ``loc`` (skipping dict keys and indices)."""
    parts = list(loc[:-1])
    cur: Any = model
    while parts:
        part = parts.pop(0)
        field = cur.model_fields.get(str(part)) if isinstance(cur, type) else None
        if field is None:
            return None
        ann = field.annotation
        if get_origin(ann) in (Union, UnionType):
            ann = next(a for a in get_args(ann) if a is not type(None))
        if get_origin(ann) in (dict, tuple):
            if parts:
                parts.pop(0)
            args = get_args(ann)
            ann = args[1] if get_origin(ann) is dict else args[0]
        cur = ann
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def _message(err: dict[str, Any], model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        allowed = sorted(k for k in (owner.model_fields if owner else {}) if k != "source")
        return f"unknown key; allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and not isinstance(err["input"], dict | list):
        message += f" (got {_short(repr(err['input']))})"
    return message


def _short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (an error line must stay one short line)."""
    return text if len(text) <= limit else f"{text[:limit - 15]}... ({len(text):,} chars)"


def validation_error(
    exc: ValidationError, source: str | Path, model: type[BaseModel],
) -> InputError:
    """Turn the first pydantic error into an ``InputError`` naming file and field."""
    errors = exc.errors()
    # A typo ("shar" for "share") gives "unknown key" and "missing": name the typo.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    return InputError(source, _field_name(loc), _message(err, model, loc))


def check_input_file(path: str | Path, max_bytes: int, what: str,
                     source: str | Path | None = None, field: str | None = None) -> Path:
    """``path`` if it is a regular file of at most ``max_bytes``; else ``InputError``.

    Devices (``/dev/zero``), FIFOs and folders are refused before anything reads them. The error
    names ``source``/``field`` (the file and key that gave the path) when given, else the path.
    """
    path = Path(path)

    def fail(message: str) -> InputError:
        if source is None:
            return InputError(path, field, message)
        return InputError(source, field, f"{message} ({path})")

    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise fail("file not found") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
        raise fail(f"is {kind}, not a regular file; give a {what}")
    if info.st_size > max_bytes:
        raise fail(f"too large ({info.st_size / 1e6:,.1f} MB); a {what} may have at most "
                   f"{max_bytes / 1e6:g} MB")
    if not os.access(path, os.R_OK):
        raise fail("cannot read: permission denied")
    return path


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file (UTF-8, a BOM allowed), raising ``InputError`` for any bad file.

    Refused: missing, unreadable or non-regular files, files above ``MAX_TOML_BYTES``, invalid
    TOML and nesting deeper than ``MAX_NESTING``.
    """
    path = check_input_file(path, MAX_TOML_BYTES, "TOML file")
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)  # a file may grow after the check
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_TOML_BYTES:
        raise InputError(path, None, f"a TOML file may have at most {MAX_TOML_BYTES / 1e6:g} MB")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # Windows editors write a BOM
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, f"not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(path, None, f"nested too deeply; at most {MAX_NESTING} levels of "
                         "tables and arrays") from None
    if _depth(data) > MAX_NESTING:
        raise InputError(path, None, f"nested too deeply; at most {MAX_NESTING} levels of "
                         "tables and arrays")
    return data


def _depth(value: Any) -> int:
    """Nesting depth of dicts and lists (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                stack.extend((v, depth) for v in (node.values() if isinstance(node, dict)
                                                  else node))
    return deepest




_LOADED: dict[tuple, Any] = {}


def load_cached(loader: Callable[[Path], Any], path: str | Path) -> Any:
    """``loader(path)`` of a file, cached until the file changes (for frozen config objects).

    Catalogues and budget configs are read on every run; the web app runs on every edit.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return loader(p)  # the loader reports the missing file
    key = (loader, str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _LOADED:
        if len(_LOADED) > 256:
            _LOADED.clear()
        _LOADED[key] = loader(p)
    return _LOADED[key]
