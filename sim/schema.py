"""Shared building blocks of the TOML schemas: frozen models, year paths, error formatting.

Every config model (scenario, service catalogue, budget, sweep, housing) derives from ``Frozen``
and reports errors through ``validation_error`` so bad input always reads the same way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from sim.errors import InputError

MIN_YEAR, MAX_YEAR = 2000, 2100


class Frozen(BaseModel):
    """Base: immutable; unknown keys are errors.

    Lax mode: TOML tables give year keys as strings ({2030 = 1.5} has key "2030"), so numbers
    written as strings are accepted where a number is expected.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


def _check_path(path: dict[int, float]) -> dict[int, float]:
    if not path:
        raise ValueError("a year path needs at least one year, e.g. {2030 = 1.5}")
    for year in path:
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"year {year} outside {MIN_YEAR}..{MAX_YEAR}")
    return dict(sorted(path.items()))


YearPath = Annotated[dict[int, float], AfterValidator(_check_path)]
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
        message += f" (got {err['input']!r})"
    return message


def validation_error(
    exc: ValidationError, source: str | Path, model: type[BaseModel],
) -> InputError:
    """Turn the first pydantic error into an ``InputError`` naming file and field."""
    errors = exc.errors()
    # A typo ("shar" for "share") gives "unknown key" and "missing": name the typo.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    return InputError(source, _field_name(loc), _message(err, model, loc))


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, raising ``InputError`` for a missing or malformed file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read: {exc}") from None




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
