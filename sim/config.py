"""Scenario schema: frozen, validated objects loaded from TOML, with one-line errors.

A scenario names a municipality, a base year and horizon, and the assumptions that differ from
the municipality's defaults. Year paths (``{2024 = 1.44, 2030 = 1.57}``) are interpolated
linearly between the years given and held constant outside them. Every number has a finite,
plausible range, and the error for a value outside it says the range.

``extends = "other.toml"`` (a path relative to the file) or ``extends = "lorenskog_main"`` (a
scenario or fitted file shipped with the package, by name) starts from another scenario: the
file's keys win, tables merge key by key, and a year path (a table keyed by years) is one value,
so a child's path replaces the parent's whole.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.abm.config import AbmConfig
from sim.demography.housing import HousingProgramme
from sim.errors import InputError
from sim.schema import (
    MAX_DISTRICTS,
    MAX_NESTING,
    MAX_TABLE_BYTES,
    MAX_TOML_BYTES,
    MAX_YEAR,
    MIN_YEAR,
    Frozen,
    PositivePath,
    check_input_file,
    interpolate_path,
    path_within,
    read_toml,
    validation_error,
)

LAST_HMD_YEAR = 2023
LAST_HFD_YEAR = 2022

__all__ = ["Scenario", "builtin_scenarios", "deep_merge", "extends_file", "interpolate_path",
           "load_scenario", "scenario_from_dict"]

MAX_PERSONS_PER_YEAR = 200_000
"""Largest gross in-migration per year (Oslo, Norway's largest kommune: about 60,000)."""
MAX_REFUGEES_PER_YEAR = 100_000
"""Largest settlement per year (all of Norway settled at most about 38,000, in 2023)."""
MAX_MULTIPLIER = 10.0
"""Largest multiplier on an estimated level or a coverage."""
MAX_GROWTH_PCT = 10.0
"""Largest growth target, % per year either way (the fastest-growing kommuner: about 5 %)."""
MAX_SEED = 2**63 - 1

TfrPath = path_within(0, 10, "TFR (births per woman)", low_open=True)
InPath = path_within(0, MAX_PERSONS_PER_YEAR, "in-migrants per year")
RefugeePath = path_within(0, MAX_REFUGEES_PER_YEAR, "settled refugees per year")
MultiplierPath = path_within(0, MAX_MULTIPLIER, "a multiplier")
GrowthPath = path_within(-MAX_GROWTH_PCT, MAX_GROWTH_PCT, "growth (% per year)")


class Fertility(Frozen):
    """Fertility assumptions."""

    tfr: TfrPath | None = Field(
        None, description="national TFR path (births per woman); default: SSB main assumption")
    level: float | None = Field(
        None, gt=0, le=3, description="municipal fertility relative to the TFR path; "
        "default: estimated from the municipality's births")
    schedule_years: Annotated[tuple[int, int] | None,
                              _year_window(1990, LAST_HFD_YEAR, "HFD's years")] = Field(
        None, description="HFD years averaged for the age schedule; default: the five years "
        "before the base year (at most 2018-2022)")
    level_years: Literal["all", "last"] = Field(
        "all", description="fit the level to all window years with births, or the last one")
    sex_ratio_at_birth: float = Field(1.055, gt=0.9, lt=1.2, description="boys per girl")


def _year_window(first_allowed: int, last_allowed: int, what: str):
    """Validator for a (first, last) window of data years."""
    def check(value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is None:
            return value
        first, last = value
        if not first_allowed <= first <= last <= last_allowed:
            raise ValueError(f"({first}, {last}): needs first <= last within {what} "
                             f"{first_allowed}..{last_allowed}")
        return value
    return AfterValidator(check)


def _e0_bounds(path: dict[int, float] | None) -> dict[int, float] | None:
    for year, value in (path or {}).items():
        if not 40 <= value <= 110:
            raise ValueError(f"{year} = {value}: life expectancy must be within 40..110 years")
    return path


E0Path = Annotated[PositivePath, AfterValidator(_e0_bounds)]


class Mortality(Frozen):
    """Mortality assumptions."""

    e0_male: E0Path | None = Field(None, description="life expectancy at birth, men")
    e0_female: E0Path | None = Field(None, description="life expectancy at birth, women")
    improvement_multiplier: float = Field(
        1.0, ge=0, le=5, description="scales UN WPP 2024 improvement (0 = none)")
    level: float | None = Field(
        None, gt=0, le=3, description="mortality relative to Norway's rates of base_years "
        "(set base_years too, so the level keeps its meaning); default: fitted to deaths")
    base_years: Annotated[tuple[int, int] | None,
                          _year_window(1990, LAST_HMD_YEAR, "HMD's years")] = Field(
        None, description="HMD years averaged; default: the five years before the base year "
        "(at most 2019-2023)")
    level_years: Literal["all", "last"] = Field(
        "all", description="fit the level to all window years with deaths, or the last one")


class Migration(Frozen):
    """Gross migration assumptions (refugees are separate)."""

    in_per_year: InPath | None = Field(
        None, description="gross in-migrants per year excluding refugees; default: estimated")
    in_multiplier: MultiplierPath | None = Field(
        None, description="multiplier on the default (estimated) in-migration level; default 1")
    out_rate_multiplier: MultiplierPath | None = Field(
        None, description="multiplier on the estimated out-migration rates; default 1")
    growth_target_pct: GrowthPath | None = Field(
        None, description="total population growth per year in %; in-migration is scaled to hit "
        "it (a note says so when it cannot be met)")
    estimation_years: tuple[int, int] | None = Field(
        None, description="1 January populations (first, last) used to estimate migration; "
        "default: the five years up to the base year")
    in_level: Literal["mean", "last"] = Field(
        "mean", description="default in-migration level: the window's mean or its last year")
    gross_out_rate: float | None = Field(
        None, ge=0, le=0.5, description="out-migrants per inhabitant per year used for the gross "
        "split; default from the municipality's data")


class Refugees(Frozen):
    """Refugee settlement plan."""

    settled_per_year: RefugeePath | None = Field(
        None, description="refugees settled per year (incl. family reunification)")


class Services(Frozen):
    """Service catalogue and what-if knobs for demand and cost."""

    catalogue: Path | None = Field(
        None, description="service catalogue TOML; default: the municipality's built-in one")
    coverage_path: dict[str, MultiplierPath] | None = Field(
        None, description="coverage multipliers by year per service ('institusjon') or "
        "age group ('institusjon/90+')")
    unit_cost_growth: float = Field(
        0.0, gt=-0.5, lt=0.5, description="annual real unit-cost growth (0.01 = 1 %)")


class Budget(Frozen):
    """The long-term budget model (see sim/budget)."""

    config: Path | None = Field(
        None, description="budget TOML; default: the municipality's built-in one, if any")
    enabled: bool = Field(True, description="project the budget when a config is available")
    savings_pace: str | None = Field(
        None, description="savings pace defined in the budget config (Lørenskog: Sprint, "
        "Mellomdistanse, Maraton); default: the config's choice")


class Zones(Frozen):
    """Zones with their own populations and histories (see ``sim.demography.zones``)."""

    source: Literal["bydeler"] | None = Field(
        None, description="built-in zones with real data: 'bydeler' (Oslo, Bergen, Stavanger, "
        "Trondheim; SSB 10826)")
    history: Path | None = Field(
        None, description="the kommune's own zone histories, CSV year,zone,sex,age,persons")
    constrain: Literal["none", "municipality"] = Field(
        "none", description="'municipality': zones are raked each year to the kommune's own "
        "projection (top-down); 'none': the kommune is the sum of its zones (bottom-up)")

    @model_validator(mode="after")
    def _one_source(self) -> Zones:
        if self.source is not None and self.history is not None:
            raise ValueError("give zones.source or zones.history, not both")
        return self


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
    municipality: str = Field(pattern=r"^\d{4}$", description="kommunenummer or name, e.g. "
                              "'3222' or 'Lørenskog' (stored as the number)")
    base_year: int = Field(2024, ge=MIN_YEAR, le=MAX_YEAR)
    horizon: int = Field(2050, ge=MIN_YEAR, le=MAX_YEAR, description="last year projected (1 Jan)")
    seed: int = Field(20240101, ge=0, le=MAX_SEED)
    fertility: Fertility = Fertility()
    mortality: Mortality = Mortality()
    migration: Migration = Migration()
    refugees: Refugees = Refugees()
    services: Services = Services()
    budget: Budget = Budget()
    abm: AbmConfig = AbmConfig()
    housing: HousingProgramme | None = Field(
        None, description="housing programme: dwellings completed by zone, year and type "
        "(housing-led in-migration, both engines)")
    zones: Zones = Zones()
    districts: tuple[District, ...] = ()
    inputs: InputFiles = InputFiles()
    source: str | None = Field(None, description="file the scenario was read from (set on load)")

    @field_validator("municipality", mode="before")
    @classmethod
    def _kommune(cls, value: Any) -> Any:
        """Accept a kommune's name (case- and diacritic-insensitive) for its number."""
        if isinstance(value, str) and not value.strip().isdigit():
            from sim.data.kommuner import lookup_kommune

            try:
                return lookup_kommune(value)
            except InputError as exc:
                raise ValueError(exc.message) from None
        return value

    @field_validator("horizon")
    @classmethod
    def _after_base(cls, horizon: int, info: ValidationInfo) -> int:
        base = info.data.get("base_year")
        if base is not None and horizon <= base:
            raise ValueError(f"{horizon} must be after base_year ({base})")
        return horizon

    @field_validator("districts", mode="before")
    @classmethod
    def _few_districts(cls, districts: Any) -> Any:
        if isinstance(districts, list | tuple) and len(districts) > MAX_DISTRICTS:
            raise ValueError(f"{len(districts):,} districts; at most {MAX_DISTRICTS:,} allowed")
        return districts

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
    def mortality_base_years(self) -> tuple[int, int]:
        """HMD years of the base mortality: given, or the five years before the base year."""
        end = min(self.base_year, LAST_HMD_YEAR + 1) - 1
        return self.mortality.base_years or (end - 4, end)

    @property
    def fertility_schedule_years(self) -> tuple[int, int]:
        """HFD years of the age schedule: given, or the five years before the base year."""
        end = min(self.base_year, LAST_HFD_YEAR + 1) - 1
        return self.fertility.schedule_years or (end - 4, end)

    @property
    def years(self) -> np.ndarray:
        """Projection years t = base_year .. horizon - 1 (flows of year t give 1 Jan t+1)."""
        return np.arange(self.base_year, self.horizon)


def scenario_from_dict(
    data: dict[str, Any], source: str | Path = "scenario",
) -> Scenario:
    """Validate a dict into a ``Scenario``; relative paths resolve against the file's folder.

    Files named in ``[inputs]`` must be regular files within ``MAX_TABLE_BYTES`` (checked here,
    before any work).
    """
    try:
        scenario = Scenario.model_validate({**data, "source": str(source)})
    except ValidationError as exc:
        raise validation_error(exc, source, Scenario) from None
    base = Path(source).parent
    files = {k: (base / v if v is not None and not Path(v).is_absolute() else v)
             for k, v in scenario.inputs.model_dump().items()}
    for key, path in files.items():
        if path is not None:
            check_input_file(path, MAX_TABLE_BYTES, "CSV or Parquet table", source,
                             f"inputs.{key}")
    update: dict[str, Any] = {"inputs": InputFiles(**files)}
    cat = scenario.services.catalogue
    if cat is not None and not cat.is_absolute():
        update["services"] = scenario.services.model_copy(update={"catalogue": base / cat})
    bud = scenario.budget.config
    if bud is not None and not bud.is_absolute():
        update["budget"] = scenario.budget.model_copy(update={"config": base / bud})
    hist = scenario.zones.history
    if hist is not None:
        hist = hist if hist.is_absolute() else base / hist
        check_input_file(hist, MAX_TABLE_BYTES, "zone history CSV", source, "zones.history")
        update["zones"] = scenario.zones.model_copy(update={"history": hist})
    return scenario.model_copy(update=update)


_PATH_KEYS = {*InputFiles.model_fields, "catalogue", "config", "history"}
_YEAR_KEY = re.compile(r"^\d+$")


def _is_year_path(value: Any) -> bool:
    """True for a table keyed by years ({2024 = 190, 2028 = 50}): one value, never merged."""
    return isinstance(value, dict) and all(_YEAR_KEY.match(str(k)) for k in value)


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Merge ``top`` into ``base`` recursively (``top`` wins); neither is modified.

    Tables merge key by key, but a year path in ``top`` replaces the one in ``base`` whole: a
    child's ``settled_per_year = {2024 = 190, 2026 = 100}`` does not keep the parent's 2028.
    """
    out = dict(base)
    for key, value in top.items():
        merge = (isinstance(value, dict) and isinstance(out.get(key), dict)
                 and not _is_year_path(value))
        out[key] = deep_merge(out[key], value) if merge else value
    return out


def builtin_scenarios() -> dict[str, Path]:
    """Scenario files shipped with the package, by name.

    ``experiments/scenarios/<name>.toml`` (e.g. ``lorenskog_main``) and the fitted levels
    ``calibration/fitted/<kommunenummer>.toml`` (e.g. ``3222``).
    """
    found: dict[str, Path] = {}
    for package, folder in (("calibration", "fitted"), ("experiments", "scenarios")):
        for entry in resources.files(package).joinpath(folder).iterdir():
            if entry.name.endswith(".toml"):
                found[entry.name.removesuffix(".toml")] = Path(str(entry))
    return dict(sorted(found.items()))


def extends_file(value: Any, source: str | Path, field: str = "extends") -> Path:
    """The file an ``extends`` (or a sweep's ``base``) names, checked before it is read.

    A name without a folder or ``.toml`` (``"lorenskog_main"``, ``"3222"``) is a built-in
    scenario or fitted file (``builtin_scenarios``); anything else is a path relative to the
    folder of ``source``.
    """
    if not isinstance(value, str) or not value:
        raise InputError(source, field, "must be a scenario file (a path to a .toml file) or "
                         f"a built-in scenario name: {', '.join(builtin_scenarios())}")
    if "/" not in value and "\\" not in value and not value.endswith(".toml"):
        builtin = builtin_scenarios()
        if value not in builtin:
            raise InputError(source, field, f"no built-in scenario '{value}'; built-in: "
                             f"{', '.join(builtin)} (or give a path to a .toml file)")
        return builtin[value]
    path = Path(source).parent / value
    return check_input_file(path, MAX_TOML_BYTES, "scenario TOML file", source, field)


def read_scenario_dict(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario TOML, following ``extends`` (see the module docstring).

    Relative paths in ``[inputs]`` are made absolute against the file that names them.
    """
    path = check_input_file(path, MAX_TOML_BYTES, "scenario TOML file").resolve()
    if path in _seen:
        raise InputError(path, "extends", "circular 'extends' chain")
    if len(_seen) >= MAX_NESTING:
        raise InputError(path, "extends", f"chain of more than {MAX_NESTING} files")
    data = read_toml(path)
    for section in ("inputs", "services", "budget", "zones"):
        table = data.get(section)
        if isinstance(table, dict):
            data[section] = {k: (str(path.parent / v) if k in _PATH_KEYS and isinstance(v, str)
                                 and not Path(v).is_absolute() else v) for k, v in table.items()}
    if "extends" not in data:
        return data
    parent = extends_file(data.pop("extends"), path)
    return deep_merge(read_scenario_dict(parent, (*_seen, path)), data)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario TOML file (following ``extends``)."""
    return scenario_from_dict(read_scenario_dict(path), path)
