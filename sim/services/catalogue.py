"""The service catalogue: frozen, validated services read from TOML, with one-line errors.

A catalogue lists services (barnehage, grunnskole, hjemmetjenester, ...). Each service serves
non-overlapping age groups with a coverage (dekningsgrad: the share of the age group's
population that uses the service), has a unit cost per user in NOK of ``price_year``, staff
(årsverk) per user and optional facilities with places by district.

What a service's users are counted from is its ``driver``:

* ``driver = "population"`` (the default): users = Σ population of the age group × coverage.
* ``driver = "recent_refugees"`` with ``driver_years = N`` (1..10, default 2): users on
  1 January of year t = Σ over the age groups of coverage × the refugees settled in years
  t−N .. t−1 who are in the age group; coverage is then the participation share among recently
  settled refugees of those ages (e.g. introduksjonsprogram). Ages are the settlement component's
  cohort ages (age on 1 January after the settlement year); ageing in the N years since, and
  later deaths or moves, are ignored (the participation share absorbs them). See
  ``sim.services.demand`` for where the settlement comes from.

Capacity (places by zone) and investments in whole buildings:

* Each age group's users take ``places_per_user`` places (default 1; barnehage: 2 for a child
  under 3, as the staffing norm counts them). Place demand = Σ users × places_per_user.
* ``existing_capacity = "facilities"`` (the default): places on 1 January t are the places of the
  ``facilities`` open then (``opens`` <= t < ``closes``), by district (zone); a service without
  facilities has no capacity (NaN). ``existing_capacity = "base_year_demand"``: today's places
  equal the place demand of the first (base) year in every zone (ASSUMPTION: no spare or missing
  places today), changed by the facilities that open or close later.
* A ``building`` (a standard new building: name, whole places, cost) is placed in a zone in the
  first year its gap (place demand − places) exceeds ``threshold``; enough whole buildings to
  close the gap, counted as places from then on (see ``sim.services.demand``). Places a
  facility already planned will add within ``look_ahead_years`` (default 3) count as there: a
  planner does not build for a shortage a planned opening closes (it stays a gap until then). With
  ``capacity_scope = "kommune"`` (sykehjem: places are allocated kommune-wide) the kommune's
  gap decides, and new buildings go to ``building.zone`` (default: the zone with the most
  place demand that year).

A catalogue may ``extends`` another (a path relative to the file, or ``"default:KNR"`` for the
built-in catalogue of a kommune) or a list of them (merged in order); its tables are merged key by
key over the parents' (lists such as ``age_groups`` and ``facilities`` replace the parents').
``extends = ["default:0000", "default:3205"]`` gives Lillestrøm's figures with the national
standard buildings and today's places = the base year's place demand.

Format (see ``catalogue_3205.toml`` for a commented example)::

    municipality = "3205"
    name = "Lillestrøm"

    [services.barnehage]
    label = "Barnehage"
    sector = "barnehage"
    unit_cost_nok = 232_809
    price_year = 2024
    staff_per_user = 0.172
    age_groups = [
      { ages = [1, 2], coverage = 0.821, places_per_user = 2 },
      { ages = [3, 5], coverage = 0.9432 },
    ]
    building = { name = "6-avdelings barnehage", places = 108, cost_nok = 78_750_000 }
    facilities = [{ name = "Nordby", district = "Nord", places = 120, opens = 2027 }]

    [services.introduksjonsprogram]
    label = "Introduksjonsprogram"
    sector = "sosialhjelp"
    unit_cost_nok = 140_257
    price_year = 2024
    staff_per_user = 0.02
    driver = "recent_refugees"   # users from the refugees settled in the last driver_years
    driver_years = 2
    age_groups = [{ ages = [18, 55], coverage = 0.7398 }]

Long facility lists read better as ``[[services.barnehage.facilities]]`` tables (one key per
line; see ``experiments/catalogues/lillestrom_facilities.toml``).

``catalogue_0000.toml`` is the national default (``municipality = "0000"``), used for every
kommune without a catalogue of its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from sim.errors import InputError
from sim.schema import Frozen, read_toml, validation_error

N_AGES = 106
MAX_AGE = N_AGES - 1
CATALOGUE_DIR = Path(__file__).parent
NATIONAL = "0000"
"""Kommunenummer of the national default catalogue (``catalogue_0000.toml``)."""
SERVICE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_DRIVER_YEARS = 10
"""Longest ``driver_years``: the settlement history a recent-refugee service may look back on."""

MAX_UNIT_COST_NOK = 100_000_000
"""Largest cost per user and year (NOK); the costliest users (ressurskrevende tjenester) cost
about 10 million a year."""
MAX_PLACES_PER_USER = 10.0
"""Largest places (or årsverk) per user (barnehage: 2 places for a child under 3)."""
MAX_PLACES = 100_000
MAX_BUILDINGS = 10_000
"""New buildings one service may place over a run (one row each in ``investments``)."""
"""Most places in one facility or building, or in a building threshold (the largest: ~2,000)."""
MAX_BUILDING_COST_NOK = 100_000_000_000
"""Largest investment per building (NOK; a new sykehjem costs about 1 billion)."""


class AgeGroup(Frozen):
    """An age group served, with its coverage (share of the group's population using it)."""

    ages: tuple[int, int] = Field(description="first and last age, inclusive, within 0..105")
    coverage: float = Field(ge=0, le=1, description="users per inhabitant of the age group")
    unit_cost_nok: float | None = Field(
        None, ge=0, le=MAX_UNIT_COST_NOK,
        description="unit cost for this group; default: the service's unit cost")
    places_per_user: float = Field(
        1.0, ge=0, le=MAX_PLACES_PER_USER,
        description="places one user takes (barnehage: 2 for a child under 3)")
    note: str | None = None

    @field_validator("ages")
    @classmethod
    def _ages(cls, ages: tuple[int, int]) -> tuple[int, int]:
        lo, hi = ages
        if not 0 <= lo <= hi <= MAX_AGE:
            raise ValueError(f"ages [{lo}, {hi}] not allowed: need 0 <= first <= last <= "
                             f"{MAX_AGE} (105 is the open group 105+)")
        return ages

    @property
    def label(self) -> str:
        """The group as text: ``"1-5"``, ``"0"``, ``"90+"``."""
        lo, hi = self.ages
        if hi == MAX_AGE and lo > 0:
            return f"{lo}+"
        return str(lo) if lo == hi else f"{lo}-{hi}"


class Facility(Frozen):
    """A facility (building, unit) with a number of places in one district (zone)."""

    name: str = Field(min_length=1)
    district: str = Field(min_length=1, description="the zone (district) it serves")
    places: float = Field(ge=0, le=MAX_PLACES, description="places it has (see places_per_user)")
    kind: str | None = Field(None, description="what it is, e.g. 'sykehjem', 'omsorgsbolig "
                             "med heldøgns tjenester', 'ungdomsskole', 'paviljong'")
    opens: int | None = Field(None, ge=1900, le=2100,
                              description="first year (1 January) the places count")
    closes: int | None = Field(None, ge=1900, le=2100,
                               description="first year the places no longer count")
    note: str | None = None

    @model_validator(mode="after")
    def _opens_before_closes(self) -> Facility:
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens})")
        return self

    def open_in(self, years: np.ndarray) -> np.ndarray:
        """True for the years (1 January) in which the facility's places count."""
        open_ = np.ones(len(years), dtype=bool)
        if self.opens is not None:
            open_ &= years >= self.opens
        if self.closes is not None:
            open_ &= years < self.closes
        return open_


class Building(Frozen):
    """A standard new building for a service, placed in whole units where places run short."""

    name: str = Field(min_length=1, description="e.g. '6-avdelings barnehage'")
    places: int = Field(gt=0, le=MAX_PLACES, description="places one building adds (whole "
                        "places)")
    cost_nok: float = Field(gt=0, le=MAX_BUILDING_COST_NOK, description="investment per "
                            "building, NOK of the service's price_year")
    threshold: float = Field(0.0, ge=0, le=MAX_PLACES, description="build when a zone's gap "
                             "(place demand − places) exceeds this many places")
    first_year: int | None = Field(None, ge=2000, le=2100, description="first year (1 January) "
                                   "a new building can count; default: the first projection year")
    look_ahead_years: int = Field(3, ge=0, le=10, description="a gap that places already "
                                  "planned to open within this many years will close is left "
                                  "open until then (shown as a gap), not built for")
    zone: str | None = Field(None, min_length=1, description="where new buildings go when the "
                             "service's capacity is kommune-wide; default: the zone with the "
                             "most place demand that year")
    note: str | None = None


class Service(Frozen):
    """One municipal service."""

    label: str = Field(min_length=1)
    sector: str = Field(min_length=1, description="sector for totals and demografikostnader, "
                        "e.g. barnehage, grunnskole, pleie og omsorg")
    unit_cost_nok: float = Field(ge=0, le=MAX_UNIT_COST_NOK,
                                 description="net operating cost per user per year")
    price_year: int = Field(ge=2000, le=2100, description="the year whose kroner the cost is in")
    staff_per_user: float = Field(ge=0, le=MAX_PLACES_PER_USER, description="årsverk per user")
    age_groups: tuple[AgeGroup, ...] = Field(min_length=1)
    facilities: tuple[Facility, ...] = ()
    existing_capacity: Literal["facilities", "base_year_demand"] = Field(
        "facilities", description="today's places: the facilities' places, or the base year's "
        "place demand in every zone (then facilities change it as they open and close)")
    capacity_scope: Literal["zone", "kommune"] = Field(
        "zone", description="'zone': each zone's places serve its own users (barnehage, "
        "skole); 'kommune': places serve the whole kommune (sykehjem), so new buildings follow "
        "the kommune's gap")
    building: Building | None = Field(
        None, description="the standard new building placed where the gap exceeds its "
        "threshold")
    driver: Literal["population", "recent_refugees"] = Field(
        "population", description="what users are counted from: the population of the age "
        "groups, or the refugees settled in the last driver_years years (recent_refugees)")
    driver_years: int = Field(2, ge=1, le=MAX_DRIVER_YEARS, description="settlement years a "
                              "recent_refugees service counts (1 January t: years t-N..t-1)")
    note: str | None = None

    @model_validator(mode="after")
    def _driver_years_only_for_refugees(self) -> Service:
        if "driver_years" in self.model_fields_set and self.driver != "recent_refugees":
            raise ValueError('driver_years only applies to driver = "recent_refugees"')
        return self

    @model_validator(mode="after")
    def _capacity(self) -> Service:
        if (self.building is not None and self.existing_capacity == "facilities"
                and not self.facilities):
            raise ValueError("a building needs today's capacity: list the facilities, or set "
                             'existing_capacity = "base_year_demand"')
        if (self.building is not None and self.building.zone is not None
                and self.capacity_scope != "kommune"):
            raise ValueError('building.zone only applies to capacity_scope = "kommune" (with '
                             "zone capacity, buildings go where the gap is)")
        names = [f"{f.name} ({f.district})" for f in self.facilities]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise ValueError(f"facility {dup} is listed twice")
        return self

    @property
    def has_capacity(self) -> bool:
        """True if the service's places are known (facilities or base-year demand)."""
        return bool(self.facilities) or self.existing_capacity == "base_year_demand"

    @property
    def window(self) -> int:
        """Settlement years counted: ``driver_years`` for recent_refugees, 0 for population."""
        return self.driver_years if self.driver == "recent_refugees" else 0

    @field_validator("age_groups")
    @classmethod
    def _no_overlap(cls, groups: tuple[AgeGroup, ...]) -> tuple[AgeGroup, ...]:
        ordered = sorted(groups, key=lambda g: g.ages)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.ages[0] <= a.ages[1]:
                raise ValueError(f"age groups {a.label} and {b.label} overlap; the age groups "
                                 "of a service must not overlap")
        return groups


class Catalogue(Frozen):
    """A municipality's service catalogue."""

    municipality: str = Field(pattern=r"^\d{4}$", description="kommunenummer")
    name: str | None = None
    services: dict[str, Service]
    source: str | None = Field(None, description="file the catalogue was read from (set on load)")

    @field_validator("services")
    @classmethod
    def _services(cls, services: dict[str, Service]) -> dict[str, Service]:
        if not services:
            raise ValueError("the catalogue needs at least one service, e.g. [services.barnehage]")
        for key in services:
            if not SERVICE_KEY.match(key):
                raise ValueError(f"service name '{key}' not allowed: use lower-case letters, "
                                 "digits and _ (starting with a letter)")
        return services

    @property
    def keys(self) -> tuple[str, ...]:
        """Service names in catalogue order."""
        return tuple(self.services)


def catalogue_from_dict(data: dict[str, Any], source: str | Path = "catalogue") -> Catalogue:
    """Validate a dict into a ``Catalogue`` (raises ``InputError`` naming source and field)."""
    try:
        return Catalogue.model_validate({**data, "source": str(source)})
    except ValidationError as exc:
        raise validation_error(exc, source, Catalogue) from None


def load_catalogue(path: str | Path) -> Catalogue:
    """Load and validate a service catalogue TOML file (following ``extends``)."""
    return catalogue_from_dict(read_catalogue_dict(path), path)


def read_catalogue_dict(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a catalogue TOML merged over the catalogue(s) it ``extends`` (the file's keys win).

    ``extends`` is a path relative to the file, ``"default:KNR"`` (a kommune's built-in
    catalogue, else the national one), or a list of them, merged in order (later ones win).
    """
    from sim.config import deep_merge

    path = Path(path).resolve()
    if path in _seen:
        raise InputError(path, "extends", "circular 'extends' chain")
    data = read_toml(path)
    parents = data.pop("extends", [])
    parents = [parents] if isinstance(parents, str) else parents
    if not isinstance(parents, list) or not all(isinstance(p, str) and p for p in parents):
        raise InputError(path, "extends", 'must be a path to another catalogue TOML file, '
                         '"default:KNR" (a kommune\'s built-in catalogue) or a list of them')
    merged: dict[str, Any] = {}
    for parent in parents:
        if parent.startswith("default:"):
            parent_path = default_catalogue_path(parent.removeprefix("default:"), path)
        else:
            parent_path = path.parent / parent
            if not parent_path.exists():
                raise InputError(path, "extends", f"file not found: {parent_path}")
        merged = deep_merge(merged, read_catalogue_dict(parent_path, (*_seen, path)))
    return deep_merge(merged, data)


def default_catalogue_path(kommunenummer: str, source: str | Path | None = None) -> Path:
    """The built-in catalogue file of a kommune: its own, else the national ``catalogue_0000``."""
    if not re.fullmatch(r"\d{4}", kommunenummer):
        raise InputError(source, "municipality", f"'{kommunenummer}' is not a kommunenummer "
                         "(four digits, e.g. 3205)")
    own = CATALOGUE_DIR / f"catalogue_{kommunenummer}.toml"
    return own if own.exists() else CATALOGUE_DIR / f"catalogue_{NATIONAL}.toml"


def default_catalogue(kommunenummer: str) -> Catalogue:
    """The built-in catalogue of a kommune (3205, 3222), else the national default (0000)."""
    return load_catalogue(default_catalogue_path(kommunenummer))


def check_districts(catalogue: Catalogue, districts: tuple[str, ...] | list[str],
                    source: str | Path | None = None) -> None:
    """Raise ``InputError`` if a facility or building names a district not in ``districts``."""
    known = tuple(districts)
    for key, service in catalogue.services.items():
        zone = service.building.zone if service.building is not None else None
        if zone is not None and zone not in known:
            raise InputError(source or catalogue.source, f"services.{key}.building.zone",
                             f"unknown zone '{zone}'; zones (districts) in the projection: "
                             f"{', '.join(known)}")
        for i, fac in enumerate(service.facilities):
            if fac.district not in known:
                raise InputError(source or catalogue.source, f"services.{key}.facilities.{i}."
                                 "district", f"unknown zone '{fac.district}'; zones (districts) "
                                 f"in the projection: {', '.join(known)}")


def group_table(catalogue: Catalogue) -> list[tuple[int, str, AgeGroup, float]]:
    """All (service index, service key, age group, unit cost) in catalogue order."""
    rows = []
    for k, (key, service) in enumerate(catalogue.services.items()):
        for group in service.age_groups:
            cost = service.unit_cost_nok if group.unit_cost_nok is None else group.unit_cost_nok
            rows.append((k, key, group, cost))
    return rows


def coverage_weights(catalogue: Catalogue) -> np.ndarray:
    """Coverage by sex and age for each service, [2, 106, K] (users = population @ weights).

    Coverage is the same for both sexes. Ages outside a service's groups get 0.
    """
    weights = np.zeros((2, N_AGES, len(catalogue.services)))
    for k, _key, group, _cost in group_table(catalogue):
        lo, hi = group.ages
        weights[:, lo : hi + 1, k] = group.coverage
    return weights


def facility_places(catalogue: Catalogue, districts: tuple[str, ...],
                    years: np.ndarray) -> np.ndarray:
    """Places [Y, D, K] of the facilities open on 1 January of each year (0 where none)."""
    years = np.asarray(years)
    out = np.zeros((len(years), len(districts), len(catalogue.services)))
    index = {d: i for i, d in enumerate(districts)}
    for k, service in enumerate(catalogue.services.values()):
        for fac in service.facilities:
            out[fac.open_in(years), index[fac.district], k] += fac.places
    return out
