"""Service demand, cost and demographic cost change (demografikostnader) from a projection.

Pure functions over population arrays ``[Y+1, D, 2, A]`` (persons on 1 January of ``years``,
districts, sex 0 male 1 female, ages 0..105). Results are tidy pandas tables.

* Demand: users = Σ_age population × coverage (coverage from the catalogue, optionally scaled by
  a multiplier path per service or per age group), staff = users × staff per user, cost = users ×
  unit cost × (1 + real unit-cost growth) ** (year − first year). Costs are in the service's
  ``price_year`` kroner (fixed prices; no inflation).
* Services with ``driver = "recent_refugees"`` (introduksjonsprogram) count, instead of the
  population of an age group, the refugees of that age group settled in the last
  ``driver_years`` years: users on 1 January t = Σ coverage × settled in years t−N .. t−1
  (``recent_refugee_counts``). Settlement during the projection years comes from the caller
  (the run's refugee flows); settlement before the first (base) year from the municipality's
  recorded history (``refugee_history``).
* Capacity by zone: place demand = Σ users × places_per_user of their age group (barnehage:
  a child under 3 takes two places); ``capacity`` = places of today's and planned facilities
  (or the base year's place demand, ``existing_capacity = "base_year_demand"``). Where a service
  has a ``building``, whole buildings are placed in a zone in the first year its gap (place
  demand − places) exceeds the building's threshold, enough to close it, and count as places
  from then on (``place_buildings``): ``new_places`` (cumulative), ``places`` = capacity +
  new_places, ``gap`` = place_demand − places, ``shortage`` = max(gap, 0). A service with
  ``capacity_scope = "kommune"`` (sykehjem) places buildings on the kommune's total gap; its
  zone rows then show where places and users are, not a local balance.
  ``investments_table`` lists one row per building.
* Demografikostnader (the TBU method as described in DESIGN.md): for every year, the change in
  each age group's count since the previous 1 January × the cost per inhabitant of that age
  group (= unit cost × coverage), with coverage and unit cost held at their catalogue (base)
  values, so only demography moves the result. Recent-refugee services are left out: TBU's
  demografikostnader are about the counts of the population's age groups, and a service
  driven by refugee settlement (a policy decision) is not a demographic cost in that sense.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim.data.population import municipality_defaults
from sim.demography.refugees import default_profile
from sim.errors import InputError
from sim.schema import interpolate_path
from sim.services.catalogue import (
    MAX_BUILDINGS,
    MAX_DRIVER_YEARS,
    N_AGES,
    Building,
    Catalogue,
    check_districts,
    facility_places,
    group_table,
)

CoveragePath = Mapping[str, Mapping[int, float]]
"""Coverage multipliers by year for a service (``"institusjon"``) or one of its age groups
(``"institusjon/90+"``): ``{"institusjon": {2024: 1.0, 2040: 0.8}}``; linear between the
years given, constant outside. Service and group multipliers multiply."""

SERVICE_COLUMNS = ("year", "district", "service", "sector", "users", "staff", "cost_nok",
                   "price_year", "place_demand", "capacity", "new_places", "places", "gap",
                   "shortage", "inhabitants", "cost_per_inhabitant_nok")
INVESTMENT_COLUMNS = ("year", "district", "service", "facility", "places", "cost_nok")
DK_COLUMNS = ("year", "service", "sector", "age_group", "change_persons", "cost_change_nok",
              "price_year")


def _check_population(population: np.ndarray, years, districts=None) -> np.ndarray:
    pop = np.asarray(population, dtype=float)
    if pop.ndim != 4 or pop.shape[2:] != (2, N_AGES):
        raise ValueError(f"population must be [Y+1, D, 2, {N_AGES}], got {pop.shape}")
    if len(years) != pop.shape[0]:
        raise ValueError(f"{len(years)} years for {pop.shape[0]} population rows")
    if districts is not None and len(districts) != pop.shape[1]:
        raise ValueError(f"{len(districts)} districts for {pop.shape[1]} population columns")
    return pop


def group_indicator(catalogue: Catalogue) -> np.ndarray:
    """0/1 weights [2, 106, G] summing the population into every (service, age group)."""
    groups = group_table(catalogue)
    ind = np.zeros((2, N_AGES, len(groups)))
    for g, (_k, _key, group, _cost) in enumerate(groups):
        lo, hi = group.ages
        ind[:, lo : hi + 1, g] = 1.0
    return ind


_LAYOUTS: dict[int, tuple[Catalogue, np.ndarray, np.ndarray, tuple]] = {}


def _refugee_layout(catalogue: Catalogue) -> tuple[Catalogue, np.ndarray, np.ndarray, tuple]:
    """The catalogue's recent-refugee layout, cached per catalogue object.

    Returns (catalogue, windows [G], indicator [2, A, G_r] of the recent-refugee groups,
    ((N, columns), ...) per distinct ``driver_years``); sweeps ask for it once per scenario.
    """
    hit = _LAYOUTS.get(id(catalogue))
    if hit is None or hit[0] is not catalogue:  # the entry keeps the object, so ids are unique
        win = np.array([catalogue.services[key].window
                        for _k, key, _g, _c in group_table(catalogue)], dtype=int)
        ind = np.ascontiguousarray(group_indicator(catalogue)[:, :, np.flatnonzero(win)])
        runs = tuple((int(n), np.flatnonzero(win == n)) for n in np.unique(win[win > 0]))
        for arr in (win, ind, *(c for _n, c in runs)):
            arr.flags.writeable = False
        if len(_LAYOUTS) >= 32:
            _LAYOUTS.clear()
        hit = _LAYOUTS[id(catalogue)] = (catalogue, win, ind, runs)
    return hit


def group_windows(catalogue: Catalogue) -> np.ndarray:
    """Settlement years counted by each (service, age group), [G] int: 0 = population-driven.

    Read-only (cached per catalogue).
    """
    return _refugee_layout(catalogue)[1]


def refugee_group_indicator(catalogue: Catalogue) -> np.ndarray:
    """0/1 weights [2, 106, G_r] of the recent-refugee groups (``np.flatnonzero(windows)``)."""
    return _refugee_layout(catalogue)[2]


def refugee_history(municipality: str | None, first_year: int,
                    n_years: int = MAX_DRIVER_YEARS,
                    record: Mapping[int, float] | None = None) -> np.ndarray:
    """Refugees settled in years ``first_year − n_years .. first_year − 1``, [n_years, 2, A].

    The municipality's recorded settlement, ``refugees_settled`` in ``sim/data/municipalities
    .toml`` (persons per year), spread over sex and age with the national settlement profile
    ``sim.demography.refugees.default_profile`` (the same profile the projection's settlement
    uses). Years without a record, and municipalities without any (imported with ``kommunesim
    data import``), count as zero settled: their recent-refugee services start from zero users
    on the base date. ``record`` (year -> persons) replaces the lookup: the run passes the
    history its resolved inputs used (``estimated_parameters.refugees_settled_history``).
    """
    if record is None:
        record = municipality_defaults().get(municipality, {}).get("refugees_settled", {}) \
            if municipality is not None else {}
    settled = np.array([float(record.get(y, 0.0))
                        for y in range(first_year - n_years, first_year)])
    return settled[:, None, None] * default_profile()[None]


def recent_refugee_counts(settled_by_group: np.ndarray, years, catalogue: Catalogue,
                          ) -> np.ndarray:
    """Recently settled refugees per (service, age group) on 1 January of ``years``.

    Args:
        settled_by_group: [H + Y, ..., G] persons settled per year and group (summed over the
            group's ages), for the consecutive years ``years[0] − H .. years[-1] − 1`` (H history
            years before the first 1 January, then one row per year of ``years`` but the last).
        years: the Y+1 consecutive 1-January years.
        catalogue: the service catalogue (each group's ``driver_years`` N).

    Returns:
        [Y+1, ..., G]: for a recent-refugee group, the sum of its rows for the settlement years
        t−N .. t−1 (1 January t); 0 for population-driven groups.
    """
    years = np.asarray(years)
    if len(years) > 1 and np.any(np.diff(years) != 1):
        raise ValueError("recent-refugee services need consecutive years")
    _cat, win, _ind, runs = _refugee_layout(catalogue)
    settled = np.asarray(settled_by_group, dtype=float)
    n_y = len(years)
    hist = settled.shape[0] - (n_y - 1)
    if runs and hist < runs[-1][0]:
        raise ValueError(f"settlement for {settled.shape[0]} years covers {hist} years before "
                         f"{years[0]}; driver_years needs {runs[-1][0]}")
    out = np.zeros((n_y,) + settled.shape[1:])
    for n, cols in runs:
        # 1 January years[i] counts settlement rows hist+i-n .. hist+i-1, added in that order
        for j in range(n, 0, -1):
            out[..., cols] += settled[hist - j : hist - j + n_y, ..., cols]
    return out


def recent_refugees(refugees: np.ndarray | None, years, catalogue: Catalogue,
                    municipality: str | None, shares,
                    record: Mapping[int, float] | None = None) -> np.ndarray:
    """Recently settled refugees per district and (service, age group), [Y+1, D, G].

    ``refugees`` [Y, D, 2, A] are the persons settled during ``years[:-1]`` (None is allowed
    only for a single year, which counts the history alone); before ``years[0]`` the recorded
    history (``refugee_history``) split over districts by ``shares`` [D] (the district shares
    of the first year's population; ASSUMPTION: recent arrivals live where everyone else does).
    """
    years = np.asarray(years)
    shares = np.asarray(shares, dtype=float)
    n_d = len(shares)
    if refugees is None:
        if len(years) > 1:
            raise ValueError("the catalogue has recent-refugee services: give the refugees "
                             "settled during the projection years (refugees=[Y, D, 2, A])")
        refugees = np.zeros((0, n_d, 2, N_AGES))
    refugees = np.asarray(refugees, dtype=float)
    if refugees.shape != (len(years) - 1, n_d, 2, N_AGES):
        raise ValueError(f"refugees must be [{len(years) - 1}, {n_d}, 2, {N_AGES}] (settled "
                         f"during years[:-1]), got {refugees.shape}")
    win = group_windows(catalogue)
    history = refugee_history(municipality, int(years[0]), int(win.max(initial=1)), record)
    settled = np.concatenate([history[:, None] * shares[None, :, None, None], refugees])
    by_group = np.zeros(settled.shape[:2] + win.shape)
    by_group[..., np.flatnonzero(win)] = np.einsum("tdsa,sag->tdg", settled,
                                                   refugee_group_indicator(catalogue))
    return recent_refugee_counts(by_group, years, catalogue)


def coverage_multipliers(catalogue: Catalogue, years, coverage_path: CoveragePath | None,
                         source: str | None = "coverage_path") -> np.ndarray:
    """Multipliers [Y, G] on each (service, age group) coverage; 1 where no path is given.

    Errors name ``source`` (the scenario file) and the key as ``services.coverage_path.<key>``.
    """
    groups = group_table(catalogue)
    mult = np.ones((len(years), len(groups)))
    if not coverage_path:
        return mult
    names = {}
    for g, (_k, key, group, _cost) in enumerate(groups):
        names.setdefault(key, []).append(g)
        names[f"{key}/{group.label}"] = [g]
    for name, path in coverage_path.items():
        field = f"services.coverage_path.{name}"
        if name not in names:
            raise InputError(source, field, "unknown service or age group; allowed: "
                             + ", ".join(names))
        if not path:
            raise InputError(source, field, "needs at least one year, e.g. {2030 = 0.9}")
        for year, value in path.items():
            if value < 0:
                raise InputError(source, f"{field}.{year}", f"multiplier {value} must be >= 0")
        values = interpolate_path(dict(sorted(path.items())), np.asarray(years))
        for g in names[name]:
            mult[:, g] *= values
    for g, (_k, key, group, _cost) in enumerate(groups):
        cov = group.coverage * mult[:, g]
        if (cov > 1 + 1e-12).any():
            i = int(np.argmax(cov))
            raise InputError(source, f"services.coverage_path.{key}/{group.label}",
                             f"coverage {group.coverage:g} × "
                             f"multiplier = {cov[i]:.4g} in {years[i]}; coverage must be <= 1")
    return mult


def _growth_factors(catalogue: Catalogue, years, unit_cost_growth) -> np.ndarray:
    """Unit-cost factors [Y, K]: (1 + g) ** (year − first year)."""
    keys = catalogue.keys
    if isinstance(unit_cost_growth, Mapping):
        unknown = set(unit_cost_growth) - set(keys)
        if unknown:
            raise InputError("unit_cost_growth", sorted(unknown)[0],
                             f"unknown service; allowed: {', '.join(keys)}")
        rates = np.array([float(unit_cost_growth.get(k, 0.0)) for k in keys])
    else:
        rates = np.full(len(keys), float(unit_cost_growth))
    if (rates <= -1).any():
        raise InputError("unit_cost_growth", None, "annual growth must be > -1 (e.g. 0.01)")
    t = np.asarray(years, dtype=float) - float(years[0])
    return (1.0 + rates)[None, :] ** t[:, None]


def service_demand(population: np.ndarray, years, districts, catalogue: Catalogue,
                   coverage_path: CoveragePath | None = None,
                   unit_cost_growth: float | Mapping[str, float] = 0.0,
                   source: str | None = "coverage_path",
                   refugees: np.ndarray | None = None,
                   municipality: str | None = None,
                   refugee_record: Mapping[int, float] | None = None) -> pd.DataFrame:
    """Users, staff, cost and capacity gap per year, district and service.

    Args:
        population: [Y+1, D, 2, A] persons on 1 January of ``years``.
        years: the Y+1 1-January years of ``population``.
        districts: the D district names (facilities must name one of them).
        catalogue: the service catalogue.
        coverage_path: what-if coverage multipliers by year per service or ``service/age``.
        unit_cost_growth: annual real unit-cost growth (0.01 = 1 %), one rate or per service.
        refugees: [Y, D, 2, A] refugees settled during ``years[:-1]`` by cohort age; needed when
            the catalogue has a recent-refugee service and there is more than one year.
        municipality: kommunenummer whose recorded settlement counts before ``years[0]``
            (default: the catalogue's); none recorded counts as zero (``refugee_history``).
        refugee_record: refugees settled per year before ``years[0]`` (replaces the lookup).

    Returns:
        One row per year, district and service with ``SERVICE_COLUMNS``: ``place_demand`` =
        Σ users × places_per_user; ``capacity`` = today's and planned places (see the
        catalogue's ``existing_capacity``); ``new_places`` = places of the buildings placed so
        far (``place_buildings``); ``places`` = capacity + new_places; ``gap`` = place_demand −
        places and ``shortage`` = max(gap, 0) (NaN for kommune-wide capacity, see
        ``zone_shortage``); the capacity columns are NaN for services whose places are unknown.
        ``cost_per_inhabitant_nok`` = cost / all inhabitants of the district.
    """
    years = np.asarray(years)
    districts = tuple(districts)
    pop = _check_population(population, years, districts)
    check_districts(catalogue, districts)
    groups = group_table(catalogue)
    n_k = len(catalogue.services)
    counts = np.einsum("ydsa,sag->ydg", pop, group_indicator(catalogue))
    win = group_windows(catalogue)
    if win.any():
        total = pop[0].sum()
        shares = (pop[0].sum(axis=(1, 2)) / total if total > 0
                  else np.full(len(districts), 1.0 / len(districts)))
        recent = recent_refugees(refugees, years, catalogue,
                                 municipality or catalogue.municipality, shares, refugee_record)
        counts = np.where(win > 0, recent, counts)
    cov = np.array([g.coverage for _k, _key, g, _c in groups])
    users_g = counts * (cov[None, :] * coverage_multipliers(catalogue, years, coverage_path,
                                                                source))[
        :, None, :]
    unit = np.array([c for *_x, c in groups])
    to_service = np.zeros((len(groups), n_k))
    for g, (k, *_rest) in enumerate(groups):
        to_service[g, k] = 1.0
    users = users_g @ to_service
    per_place = np.array([g.places_per_user for _k, _key, g, _c in groups])
    place_demand = (users_g * per_place) @ to_service
    growth = _growth_factors(catalogue, years, unit_cost_growth)
    cost = (users_g * unit) @ to_service * growth[:, None, :]
    services = list(catalogue.services.values())
    staff = users * np.array([s.staff_per_user for s in services])
    cap, new = capacity_and_buildings(place_demand, catalogue, districts, years)
    places = cap + new
    gap = place_demand - places
    inhabitants = pop.sum(axis=(2, 3))
    n_y, n_d = len(years), len(districts)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_inh = np.where(inhabitants[:, :, None] > 0, cost / inhabitants[:, :, None], np.nan)
    frame = pd.DataFrame({
        "year": np.repeat(years, n_d * n_k),
        "district": np.tile(np.repeat(np.array(districts, dtype=object), n_k), n_y),
        "service": np.tile(np.array(catalogue.keys, dtype=object), n_y * n_d),
        "sector": np.tile(np.array([s.sector for s in services], dtype=object), n_y * n_d),
        "users": users.ravel(),
        "staff": staff.ravel(),
        "cost_nok": cost.ravel(),
        "price_year": np.tile(np.array([s.price_year for s in services]), n_y * n_d),
        "place_demand": place_demand.ravel(),
        "capacity": cap.ravel(),
        "new_places": new.ravel(),
        "places": places.ravel(),
        "gap": gap.ravel(),
        "shortage": zone_shortage(gap, catalogue).ravel(),
        "inhabitants": np.repeat(inhabitants.ravel(), n_k),
        "cost_per_inhabitant_nok": per_inh.ravel(),
    })
    return frame


def zone_shortage(gap: np.ndarray, catalogue: Catalogue) -> np.ndarray:
    """Places short per zone, max(gap, 0), [Y, D, K]; NaN for kommune-wide capacity.

    A zone's gap of a kommune-wide service (sykehjem) is not a local shortage: its users are
    served anywhere in the kommune, so only the kommune's total gap counts
    (``municipality_totals``).
    """
    out = np.clip(gap, 0.0, None)
    for k, service in enumerate(catalogue.services.values()):
        if service.capacity_scope == "kommune":
            out[:, :, k] = np.nan
    return out


def capacity_and_buildings(place_demand: np.ndarray, catalogue: Catalogue, districts,
                           years) -> tuple[np.ndarray, np.ndarray]:
    """Today's and planned places and the places of new buildings, each [Y, D, K].

    ``capacity``: the facilities open each year; for ``existing_capacity = "base_year_demand"``
    the first year's place demand plus the change in facility places since the first year.
    ``new``: cumulative places of the buildings ``place_buildings`` places, by zone, or for
    ``capacity_scope = "kommune"`` on the kommune's totals, each building put in
    ``building.zone`` (default: the zone with the most place demand that year). 0 for a service
    without a building; both arrays are NaN for a service whose places are unknown.
    """
    years = np.asarray(years)
    districts = tuple(districts)
    cap = facility_places(catalogue, districts, years)
    new = np.zeros_like(cap)
    for k, service in enumerate(catalogue.services.values()):
        if not service.has_capacity:
            cap[:, :, k] = new[:, :, k] = np.nan
            continue
        if service.existing_capacity == "base_year_demand":
            cap[:, :, k] = place_demand[0, :, k] + cap[:, :, k] - cap[0, :, k]
        b = service.building
        if b is None:
            continue
        if service.capacity_scope == "zone":
            new[:, :, k] = place_buildings(place_demand[:, :, k], cap[:, :, k], years, b)
            continue
        total = place_buildings(place_demand[:, :, k].sum(axis=1, keepdims=True),
                                cap[:, :, k].sum(axis=1, keepdims=True), years, b)[:, 0]
        added = np.diff(total, prepend=0.0)
        for t in np.flatnonzero(added):
            z = (districts.index(b.zone) if b.zone is not None
                 else int(np.argmax(place_demand[t, :, k])))
            new[t:, z, k] += added[t]
    for k, (key, service) in enumerate(catalogue.services.items()):
        b = service.building   # ``new`` is cumulative: its last year holds every building
        count = np.nansum(new[-1, :, k]) / b.places if b is not None else 0.0
        if count > MAX_BUILDINGS:
            raise InputError(catalogue.source or "catalogue", f"services.{key}.building.places",
                             f"{b.places} places per building make {count:,.0f} buildings in "
                             f"this run (at most {MAX_BUILDINGS:,}): give the standard building "
                             "more places, or a larger threshold")
    return cap, new


def place_buildings(demand: np.ndarray, capacity: np.ndarray, years,
                    building: Building) -> np.ndarray:
    """Cumulative places of whole new buildings, [Y, D], placed where places run short.

    In each year t (from ``building.first_year``, default the first year) and district, the gap
    = demand − planned − places built before t, where planned = the most places capacity
    reaches in t..t + ``building.look_ahead_years`` (openings already planned count as there;
    a closing counts from its year); where it exceeds ``building.threshold``,
    ceil(gap / building.places) buildings open on 1 January t. Built places count from then on
    (a gap closed once stays closed until demand grows or capacity closes).

    Args:
        demand: [Y, D] place demand on 1 January of ``years``.
        capacity: [Y, D] places without new buildings.
        years: the Y years.
        building: the service's standard building.
    """
    years = np.asarray(years)
    built = np.zeros(demand.shape[1])
    out = np.zeros(demand.shape)
    first = years[0] if building.first_year is None else building.first_year
    ahead = building.look_ahead_years
    for t, year in enumerate(years):
        if year >= first:
            planned = capacity[t:t + ahead + 1].max(axis=0)   # includes year t itself
            gap = demand[t] - planned - built
            # 1e-9: a gap of exactly k buildings (up to rounding) needs k, not k + 1
            need = np.where(gap > building.threshold,
                            np.ceil(gap / building.places - 1e-9), 0.0)
            built = built + need * building.places
        out[t] = built
    return out


def investments_table(services: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """One row per new building: ``INVESTMENT_COLUMNS`` (cost in the service's price_year NOK).

    Buildings are read off the increase of ``new_places`` (``service_demand``) per district and
    service; a year with n buildings gives n rows, named "<building>, <district> <year>" (with
    " nr. i" when n > 1).
    """
    rows = []
    built = services[services["new_places"].fillna(0.0) > 0]
    for (district, key), part in built.groupby(["district", "service"], sort=False):
        b = catalogue.services[key].building
        part = part.sort_values("year")
        added = np.diff(part["new_places"].to_numpy(), prepend=0.0)
        for year, places in zip(part["year"].to_numpy(), added, strict=True):
            n = int(round(places / b.places))
            for i in range(n):
                suffix = f" nr. {i + 1}" if n > 1 else ""
                rows.append((int(year), district, key, f"{b.name}, {district} {year}{suffix}",
                             b.places, b.cost_nok))
    table = pd.DataFrame(rows, columns=list(INVESTMENT_COLUMNS))
    table["places"] = table["places"].astype(int)
    table["cost_nok"] = table["cost_nok"].astype(float)
    return table.sort_values(["year", "district", "service"], kind="stable").reset_index(
        drop=True)


def municipality_totals(demand: pd.DataFrame) -> pd.DataFrame:
    """Sum a ``service_demand`` table over districts (unknown capacity stays NaN).

    ``gap`` = place_demand − places of the whole kommune (a surplus in one zone offsets a
    shortage in another); ``shortage`` = the places short summed over the zones short of them
    (for kommune-wide capacity, max(gap, 0) of the kommune).
    """
    def known(s: pd.Series) -> float:
        return s.sum(min_count=len(s))

    agg = demand.groupby(["year", "service", "sector", "price_year"], sort=False).agg(
        users=("users", "sum"), staff=("staff", "sum"), cost_nok=("cost_nok", "sum"),
        place_demand=("place_demand", "sum"), capacity=("capacity", known),
        new_places=("new_places", known), places=("places", known),
        shortage=("shortage", known), inhabitants=("inhabitants", "sum")).reset_index()
    agg["gap"] = agg["place_demand"] - agg["places"]
    # kommune-wide capacity: the kommune's own shortage (zone rows have none)
    agg["shortage"] = agg["shortage"].fillna(agg["gap"].clip(lower=0.0))
    agg["cost_per_inhabitant_nok"] = agg["cost_nok"] / agg["inhabitants"]
    return agg


def demografikostnader(population: np.ndarray, years, catalogue: Catalogue) -> pd.DataFrame:
    """Demographic cost change by year, service and age group (TBU method).

    For year ``years[t]`` (t >= 1) and each (service, age group):
    ``change_persons`` = N(1 Jan years[t]) − N(1 Jan years[t-1]) summed over districts and sex,
    ``cost_change_nok`` = change_persons × coverage × unit cost, with the catalogue's (base)
    coverage and unit cost held constant.

    Services with ``driver = "recent_refugees"`` are excluded (no rows): TBU's demografikostnader
    are the cost of changes in the age groups' counts, while such a service follows refugee
    settlement (a policy decision), not the size of an age group. Their cost change is in the
    ``service_demand`` table.

    Args:
        population: [Y+1, D, 2, A] (or [Y+1, 2, A]) persons on 1 January of ``years``.
        years: the Y+1 1-January years.
        catalogue: the service catalogue (base-year coverage and unit costs).

    Returns:
        Rows for years[1:], columns ``DK_COLUMNS``. ``demografikostnader_totals`` sums them.
    """
    years = np.asarray(years)
    pop = np.asarray(population, dtype=float)
    if pop.ndim == 3:
        pop = pop[:, None]
    pop = _check_population(pop, years)
    keep = np.flatnonzero(group_windows(catalogue) == 0)
    groups = [group_table(catalogue)[g] for g in keep]
    counts = np.einsum("ydsa,sag->yg", pop, group_indicator(catalogue)[:, :, keep])
    change = np.diff(counts, axis=0)
    per_inh = np.array([g.coverage * c for _k, _key, g, c in groups])
    services = catalogue.services
    n_y, n_g = change.shape
    return pd.DataFrame({
        "year": np.repeat(years[1:], n_g),
        "service": np.tile(np.array([key for _k, key, _g, _c in groups], dtype=object), n_y),
        "sector": np.tile(np.array([services[key].sector for _k, key, _g, _c in groups],
                                   dtype=object), n_y),
        "age_group": np.tile(np.array([g.label for _k, _key, g, _c in groups], dtype=object),
                             n_y),
        "change_persons": change.ravel(),
        "cost_change_nok": (change * per_inh).ravel(),
        "price_year": np.tile(np.array([services[key].price_year for _k, key, _g, _c in groups]),
                              n_y),
    })


def demografikostnader_totals(dk: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Yearly total of a ``demografikostnader`` table (optionally also ``by`` sector/service).

    Columns: year, [by,] cost_change_nok, cumulative_cost_change_nok (since the first year).
    """
    keys = ["year"] if by is None else ["year", by]
    out = dk.groupby(keys, sort=True)["cost_change_nok"].sum().reset_index()
    if by is None:
        out["cumulative_cost_change_nok"] = out["cost_change_nok"].cumsum()
    else:
        out["cumulative_cost_change_nok"] = out.groupby(by)["cost_change_nok"].cumsum()
    return out


def services_tables(projection, catalogue: Catalogue,
                    coverage_path: CoveragePath | None = None,
                    unit_cost_growth: float | Mapping[str, float] = 0.0,
                    source: str | None = "coverage_path",
                    refugees: np.ndarray | None = None,
                    municipality: str | None = None,
                    refugee_record: Mapping[int, float] | None = None,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``services.parquet`` and ``demografikostnader.parquet`` tables of a projection.

    Args:
        projection: a ``sim.cohort.engine.Projection`` (years, districts, population,
            components).
        catalogue: the service catalogue.
        coverage_path: see ``service_demand``.
        unit_cost_growth: see ``service_demand``.
        source: the file the coverage paths came from (named in errors).
        refugees: [Y, D, 2, A] refugees settled during the projection years, for recent-refugee
            services; default: the projection's own ``refugees`` component.
        municipality: see ``service_demand`` (default: the catalogue's municipality).
        refugee_record: see ``service_demand``.
    """
    if refugees is None and group_windows(catalogue).any():
        refugees = projection.component("refugees")
    demand = service_demand(projection.population, projection.years, projection.districts,
                            catalogue, coverage_path, unit_cost_growth, source, refugees,
                            municipality, refugee_record)
    return demand, demografikostnader(projection.population, projection.years, catalogue)
