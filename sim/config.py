"""Scenario schema: frozen, validated objects loaded from TOML, with one-line errors.

A scenario names a municipality, a base year and horizon, and the assumptions that differ from
the municipality's defaults. Year paths (``{2024 = 1.44, 2030 = 1.57}``) are interpolated
linearly between the years given and held constant outside them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sim.errors import InputError

MIN_YEAR, MAX_YEAR = 2000, 2100


class Frozen(BaseModel):
    """Base: immutable, unknown keys are errors, no silent type coercion from strings."""

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


class Fertility(Frozen):
    """Fertility assumptions."""

    tfr: PositivePath | None = Field(
        None, description="national TFR path (births per woman); default: SSB main assumption")
    level: float | None = Field(
        None, gt=0, le=3, description="municipal fertility relative to the TFR path; "
        "default: estimated from the municipality's births")
    schedule_years: tuple[int, int] = Field(
        (2018, 2022), description="HFD years averaged for the age schedule")
    sex_ratio_at_birth: float = Field(1.055, gt=0.9, lt=1.2, description="boys per girl")


class Mortality(Frozen):
    """Mortality assumptions."""

    e0_male: PositivePath | None = Field(None, description="life expectancy at birth, men")
    e0_female: PositivePath | None = Field(None, description="life expectancy at birth, women")
    improvement_multiplier: float = Field(
        1.0, ge=0, le=5, description="scales UN WPP 2024 improvement (0 = none)")
    level: float | None = Field(
        None, gt=0, le=3, description="mortality relative to Norway; default from municipality")
    base_years: tuple[int, int] = Field((2019, 2023), description="HMD years averaged")


class Migration(Frozen):
    """Gross migration assumptions (refugees are separate)."""

    in_per_year: NonNegPath | None = Field(
        None, description="gross in-migrants per year excluding refugees; default: estimated")
    in_multiplier: NonNegPath | None = Field(
        None, description="multiplier on the default (estimated) in-migration level; default 1")
    out_rate_multiplier: NonNegPath | None = Field(
        None, description="multiplier on the estimated out-migration rates; default 1")
    growth_target_pct: YearPath | None = Field(
        None, description="total population growth per year in %; in-migration is scaled to hit it")
    estimation_years: tuple[int, int] | None = Field(
        None, description="1 January populations (first, last) used to estimate migration; "
        "default: the five years up to the base year")
    gross_out_rate: float | None = Field(
        None, ge=0, le=0.5, description="out-migrants per inhabitant per year used for the gross "
        "split; default from the municipality's data")


class Refugees(Frozen):
    """Refugee settlement plan."""

    settled_per_year: NonNegPath | None = Field(
        None, description="refugees settled per year (incl. family reunification)")


class District(Frozen):
    """A district: share of the base population and of arrivals."""

    name: str = Field(min_length=1)
    share: float = Field(gt=0, le=1)


class InputFiles(Frozen):
    """Files that replace resolved inputs (the formats ``kommunesim inputs`` writes)."""

    population: Path | None = Field(
        None, description="population history in the package format (kommunesim data import)")
    base_population: Path | None = Field(
        None, description="base population by district,sex,age (defines the districts)")
    fertility: Path | None = None
    death_probability: Path | None = None
    in_migrants: Path | None = None
    out_rate: Path | None = None
    refugees: Path | None = None


class Scenario(Frozen):
    """A projection scenario."""

    name: str = Field("default", min_length=1)
    municipality: str = Field(pattern=r"^\d{4}$", description="kommunenummer, e.g. '3222'")
    base_year: int = Field(2024, ge=MIN_YEAR, le=MAX_YEAR)
    horizon: int = Field(2050, ge=MIN_YEAR, le=MAX_YEAR, description="last year projected (1 Jan)")
    seed: int = Field(20240101, ge=0)
    fertility: Fertility = Fertility()
    mortality: Mortality = Mortality()
    migration: Migration = Migration()
    refugees: Refugees = Refugees()
    districts: tuple[District, ...] = ()
    inputs: InputFiles = InputFiles()
    source: str | None = Field(None, description="file the scenario was read from (set on load)")

    @field_validator("horizon")
    @classmethod
    def _after_base(cls, horizon: int, info: ValidationInfo) -> int:
        base = info.data.get("base_year")
        if base is not None and horizon <= base:
            raise ValueError(f"{horizon} must be after base_year ({base})")
        return horizon

    @field_validator("districts")
    @classmethod
    def _districts(cls, districts: tuple[District, ...]) -> tuple[District, ...]:
        if districts:
            total = sum(d.share for d in districts)
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"district shares must sum to 1 (they sum to {total:g})")
            names = [d.name for d in districts]
            if len(set(names)) != len(names):
                raise ValueError("district names must be unique")
        return districts

    @property
    def years(self) -> np.ndarray:
        """Projection years t = base_year .. horizon - 1 (flows of year t give 1 Jan t+1)."""
        return np.arange(self.base_year, self.horizon)


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _message(err: dict[str, Any], model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        parent: Any = model
        for part in loc[:-1]:
            field = parent.model_fields.get(str(part)) if hasattr(parent, "model_fields") else None
            ann = getattr(field, "annotation", None)
            parent = next((a for a in getattr(ann, "__args__", (ann,))
                           if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if parent is None:
                break
        allowed = sorted(parent.model_fields) if parent is not None else []
        allowed = [a for a in allowed if a != "source"]
        return f"unknown key; allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    return err["msg"].removeprefix("Value error, ")


def validation_error(exc: ValidationError, source: str | Path, model: type[BaseModel]) -> InputError:
    """Turn the first pydantic error into an ``InputError`` naming file and field."""
    err = exc.errors()[0]
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


def scenario_from_dict(data: dict[str, Any], source: str | Path = "scenario") -> Scenario:
    """Validate a dict into a ``Scenario``; relative input paths resolve against the file's folder."""
    try:
        scenario = Scenario.model_validate({**data, "source": str(source)})
    except ValidationError as exc:
        raise validation_error(exc, source, Scenario) from None
    base = Path(source).parent
    files = {k: (base / v if v is not None and not Path(v).is_absolute() else v)
             for k, v in scenario.inputs.model_dump().items()}
    return scenario.model_copy(update={"inputs": InputFiles(**files)})


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario TOML file."""
    return scenario_from_dict(read_toml(path), path)
