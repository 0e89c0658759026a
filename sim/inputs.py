"""Resolve a scenario into the arrays the engines use (``ResolvedInputs``).

Defaults come from the embedded data (SSB, HMD, HFD, UN WPP) and ``sim/data/municipalities.toml``;
levels (fertility, mortality, migration) are estimated from the kommune's own population history
over the years before the base year (never after it), so the same code gives the back-tests.
Every array is indexed by cohort age (age on 1 January of the next year).

Estimation is the expensive part and depends only on the history and a few settings, so its
results are cached per process (``estimate_history``): an edit of a TFR path or a settlement
plan re-resolves in milliseconds.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from sim.config import Scenario, interpolate_path
from sim.data.population import (
    NORWAY,
    PopulationHistory,
    available_years,
    municipality_defaults,
    municipality_name,
    population_table,
)
from sim.demography import N_AGES, housing, pooling
from sim.demography import fertility as fert
from sim.demography import migration as mig
from sim.demography import mortality as mort
from sim.demography import refugees as refu
from sim.demography.zones import ZoneData, builtin_zones, history_zones
from sim.errors import InputError
from sim.inputfiles import apply_overrides, read_base_population
from sim.resolved import ResolvedInputs
from sim.roots import brentq

__all__ = ["Estimates", "ResolvedInputs", "default_paths", "estimate_history", "estimate_levels",
           "resolve"]

GENERIC_GROSS_OUT_RATE = 0.0666
"""ASSUMPTION for kommuner without own figures: Lillestrøm's 2020-2023 rate (SOURCES.md)."""
ESTIMATION_YEARS = 5
"""Default migration window: the five transitions up to the base year."""
MORTALITY_LEVEL_RANGE = (0.05, 3.0)
"""Municipal mortality levels (x Norway's rates) the fit searches."""
ESTIMATE_CACHE_SIZE = 2048
"""Estimates kept per process (one per kommune or zone and setting; ~60 kB each)."""


def _default_tfr(base_year: int) -> dict[int, float]:
    """Default TFR path: SSB's main path from 2024.

    Before 2024 (back-tests): Norway's last observed TFR before the base year, held constant,
    so a projection uses no information from its future.
    """
    if base_year >= min(fert.SSB_MAIN_TFR):
        return fert.SSB_MAIN_TFR
    return {base_year: fert.national_tfr(base_year - 1)}


@dataclass(frozen=True)
class Estimates:
    """Levels estimated from a kommune's (or zone's) history (see ``estimate_history``).

    Per-year arrays are over the window's transition years ``migration.years``.
    """

    window: tuple[int, int]
    mortality_level: float
    fertility_level: float
    migration: mig.MigrationEstimate
    in_profile: np.ndarray       # [2, A], sums to 1, refugees removed
    in_per_year: float           # the default gross in-migration level excl. refugees
    births: np.ndarray           # [T] births per year, observed or estimated
    births_observed: np.ndarray  # [T] bool
    births_national: np.ndarray  # [T] births the engine gives at Norway's TFR (level 1)
    deaths_observed: np.ndarray  # [T] published deaths (NaN where unknown)
    deaths_model: np.ndarray     # [T] deaths the engine gives at the fitted level
    in_migrants: np.ndarray      # [T] gross in-migrants excluding settled refugees
    refugees_settled: np.ndarray  # [T] settled refugees taken out of the in-migrants
    deaths_fit: np.ndarray       # [T] bool, years the mortality level was fitted on
    births_fit: np.ndarray       # [T] bool, years the fertility level was fitted on
    pooling: dict[str, Any] | None = None  # pooled net rate / log fertility (``pooling.Pooled``)


@dataclass(frozen=True)
class EstimationSettings:
    """Everything besides the data that an estimate depends on (hashable, the cache key)."""

    window: tuple[int, int]
    mortality_base_years: tuple[int, int]
    schedule_years: tuple[int, int]
    p_male: float
    gross_out_rate: float
    mortality_level: float | None      # None: fitted to the published deaths (else 1)
    mortality_level_years: str
    fertility_level: float | None      # None: estimated from births
    fertility_level_years: str
    in_level: str


def _fit_years(have: np.ndarray, which: str) -> np.ndarray:
    """Mask of the years a level is fitted on: all with data, or only the last with data."""
    if which == "all" or not have.any():
        return have.copy()
    mask = np.zeros_like(have)
    mask[np.flatnonzero(have)[-1]] = True
    return mask


_ESTIMATES: OrderedDict[tuple, Estimates] = OrderedDict()


def estimate_history(pops: np.ndarray, births_obs: np.ndarray, deaths_obs: np.ndarray,
                     settled: np.ndarray, settings: EstimationSettings) -> Estimates:
    """Estimate levels and gross migration from populations on successive 1 Januaries.

    Args:
        pops: [T+1, 2, A] populations on 1 January of ``window[0] .. window[1]``.
        births_obs, deaths_obs: [T] published births and deaths (NaN where unknown).
        settled: [T] refugees settled in each year (taken out of the in-migrants).
        settings: the estimation settings.

    * Mortality: the level at which the engine's own deaths (death probabilities x exposure of
      the estimated flows) equal the published deaths over the fitted years (1 if none).
    * Fertility: published (or estimated) births / births the engine gives at Norway's observed
      TFR of each year, over the fitted years.
    * In-migration: gross in-migrants without the settled refugees; the default level is the
      window mean or its last year (``in_level``).

    Results are cached on the data and settings (they are read-only; do not modify them).
    """
    key = (settings, pops.tobytes(), births_obs.tobytes(), deaths_obs.tobytes(),
           settled.tobytes())
    hit = _ESTIMATES.get(key)
    if hit is not None:
        _ESTIMATES.move_to_end(key)
        return hit
    est = _estimate(pops, births_obs, deaths_obs, settled, settings)
    _ESTIMATES[key] = est
    if len(_ESTIMATES) > ESTIMATE_CACHE_SIZE:
        _ESTIMATES.popitem(last=False)
    return est


def _estimate(pops, births_obs, deaths_obs, settled, st: EstimationSettings) -> Estimates:
    first, last = st.window
    years = np.arange(first, last)
    mx_hist = _mx_path(first, last, st.mortality_base_years)

    def migration_at(level: float) -> tuple[np.ndarray, mig.MigrationEstimate]:
        q = mort.death_probabilities(level * mx_hist)
        est = mig.estimate_gross_migration(pops, years, q, st.gross_out_rate, None, st.p_male)
        if np.any(~np.isnan(births_obs)):
            births = np.where(np.isnan(births_obs), est.births.sum(axis=1), births_obs)
            est = mig.estimate_gross_migration(pops, years, q, st.gross_out_rate, births,
                                               st.p_male)
        return q, est

    level = st.mortality_level
    deaths_fit = _fit_years(~np.isnan(deaths_obs), st.mortality_level_years)
    if level is None:
        level = 1.0
        if deaths_fit.any():
            target = deaths_obs[deaths_fit].sum()

            def gap(lv: float) -> float:
                q, est = migration_at(lv)
                return (q * est.exposure).sum(axis=(1, 2))[deaths_fit].sum() - target

            lo, hi = MORTALITY_LEVEL_RANGE
            if gap(lo) * gap(hi) > 0:
                raise InputError("municipality data", "deaths",
                                 f"published deaths {target:.0f} cannot be reached with a "
                                 f"mortality level in {lo}..{hi} x Norway's; check the figures")
            level = float(brentq(gap, lo, hi, xtol=1e-12))
    q, est = migration_at(level)
    births = est.births.sum(axis=1)

    schedule = fert.national_schedule(*st.schedule_years)
    women = est.exposure[:, 1, :] * (1.0 - 0.5 * (q[:, 1, :] + est.out_rate[:, 1, :]))
    national = np.array([
        fert.expected_births(fert.cohort_age_rates(fert.national_tfr(int(y)) * schedule),
                             women[i]) for i, y in enumerate(years)])
    observed = ~np.isnan(births_obs)
    use = (_fit_years(observed, st.fertility_level_years) if observed.any()
           else np.ones_like(observed))
    fert_level = st.fertility_level or float(births[use].sum() / national[use].sum())

    inflow = np.clip(est.in_migrants - settled[:, None, None] * refu.default_profile(), 0.0, None)
    total = inflow.sum()
    in_profile = inflow.sum(axis=0) / total if total > 0 else np.zeros((2, N_AGES))
    per_year = inflow.sum(axis=(1, 2))
    in_level = float(per_year.mean() if st.in_level == "mean" else per_year[-1])
    return Estimates((first, last), level, fert_level, est, in_profile, in_level, births,
                     observed, national, deaths_obs, (q * est.exposure).sum(axis=(1, 2)),
                     per_year, settled, deaths_fit, use)


@lru_cache(maxsize=64)
def _mx_path(first: int, last: int, base_years: tuple[int, int]) -> np.ndarray:
    """National death rates of the transition years ``first .. last-1`` (shared, read-only)."""
    mx = mort.mx_path(np.arange(first, last), base_years)
    mx.flags.writeable = False
    return mx


def estimation_window(scenario: Scenario, have: list[int]) -> tuple[int, int]:
    """The years (first, last) of 1 January populations migration is estimated from."""
    first, last = scenario.migration.estimation_years or (
        max(have[0], scenario.base_year - ESTIMATION_YEARS), scenario.base_year)
    if last > scenario.base_year:
        raise InputError(scenario.source, "migration.estimation_years",
                         f"must end at or before base_year {scenario.base_year} (no peeking)")
    missing = [y for y in range(first, last + 1) if y not in have]
    if last - first < 1 or missing:
        raise InputError(scenario.source, "migration.estimation_years",
                         f"needs two or more consecutive years of population data; have "
                         f"{have[0]}..{have[-1]}, asked {first}..{last}")
    return first, last


def estimation_settings(scenario: Scenario, window: tuple[int, int],
                        defaults: dict[str, Any], mortality_level: float | None = None,
                        ) -> EstimationSettings:
    """The scenario's estimation settings (``mortality_level`` overrides the scenario's)."""
    gross_out = scenario.migration.gross_out_rate
    if gross_out is None:
        gross_out = defaults.get("gross_out_rate", GENERIC_GROSS_OUT_RATE)
    return EstimationSettings(
        window=window,
        mortality_base_years=scenario.mortality_base_years,
        schedule_years=scenario.fertility_schedule_years,
        p_male=fert.p_male_birth(scenario.fertility.sex_ratio_at_birth),
        gross_out_rate=float(gross_out),
        mortality_level=(mortality_level if mortality_level is not None
                         else scenario.mortality.level),
        mortality_level_years=scenario.mortality.level_years,
        fertility_level=scenario.fertility.level,
        fertility_level_years=scenario.fertility.level_years,
        in_level=scenario.migration.in_level)


def _series(record: dict[int, float], years: np.ndarray, fill: float = np.nan) -> np.ndarray:
    return np.array([record.get(int(y), fill) for y in years], dtype=float)


def settlement_share(table: PopulationHistory, knr: str, year: int) -> float:
    """The kommune's share of Norway's refugee settlement in ``year``.

    ``pooling.settlement_share`` of its population (population ** 0.73 over the same summed
    over the 357 embedded kommuner; SOURCES.md, "National refugee settlement").
    """
    return pooling.settlement_share(float(table.array(knr, year).sum()), year)


def refugees_settled_history(knr: str, table: PopulationHistory,
                             defaults: dict[str, Any]) -> tuple[dict[int, float], str]:
    """Refugees settled per year in the kommune and where the figures come from.

    The kommune's own record in ``municipalities.toml`` where it has one, with the years
    before its record starts (and every year for other kommuner) from the national settlement
    (``[0000] refugees_settled``) times its ``settlement_share``. An empty own record means
    none settled.
    """
    national = municipality_defaults().get(NORWAY, {}).get("refugees_settled", {})
    last = max(table.years_of(knr), default=None)
    hist = {} if last is None else {y: v * settlement_share(table, knr, min(y, last))
                                    for y, v in national.items()}
    own = defaults.get("refugees_settled")
    if own is None:
        return hist, "national settlement (IMDi) x size-weighted share"
    before = {y: v for y, v in hist.items() if own and y < min(own)}
    label = "municipalities.toml"
    if before:
        label += (f"; {min(before)}-{max(before)}: national settlement (IMDi) x size-weighted "
                  "share")
    return {**before, **own}, label


def default_refugee_plan(knr: str, base_year: int, table: PopulationHistory,
                         defaults: dict[str, Any]) -> tuple[dict[int, float], str]:
    """The default settlement plan (year path) and its source label.

    The kommune's plan (``municipalities.toml``) or the national plan times its size-weighted
    share, to 0.1 person (a planner's table shows 413.2, not 413.1966644644124). For a base
    year before the plan starts (a run from 2019, say), the years before it take the
    settlement that happened (``refugees_settled_history``), as a planner of today would enter
    it; the plan follows.
    """
    own = defaults.get("refugee_plan")
    if own is not None:
        plan, label = dict(own), "municipalities.toml"
    else:
        share = settlement_share(table, knr, base_year)
        national = municipality_defaults().get(NORWAY, {}).get("refugee_plan", {})
        plan = {y: round(v * share, 1) for y, v in national.items() if y >= base_year} or {
            base_year: round(list(national.values())[-1] * share, 1)}
        label = "ASSUMPTION: national plan x size-weighted share (to 0.1 person)"
    first = min(plan)
    if base_year < first:
        settled, _ = refugees_settled_history(knr, table, defaults)
        before = {y: float(settled.get(y, 0.0)) for y in range(base_year, first)}
        plan = {**before, **plan}
        label += f"; {base_year}-{first - 1}: the settlement that happened"
    return plan, label


def default_paths(scenario: Scenario) -> dict[str, dict[int, float]]:
    """The year paths a run of ``scenario`` uses where it gives none (dotted key -> path).

    What ``resolve`` fills in: SSB's TFR path (``_default_tfr``), the kommune's default
    settlement plan (``default_refugee_plan``) and in- and out-migration multipliers of 1.
    The web app's editor shows them for a kommune without a scenario file of its own.
    """
    table = population_history(scenario)
    check_kommune(scenario, table)
    knr, base_year = scenario.municipality, scenario.base_year
    plan, _label = default_refugee_plan(knr, base_year, table,
                                        municipality_defaults().get(knr, {}))
    return {"fertility.tfr": dict(_default_tfr(base_year)),
            "refugees.settled_per_year": plan,
            "migration.in_multiplier": {base_year: 1.0},
            "migration.out_rate_multiplier": {base_year: 1.0}}


def estimate_levels(scenario: Scenario, table: PopulationHistory, knr: str,
                    defaults: dict[str, Any]) -> Estimates:
    """Estimate a kommune's levels and migration from its history window (cached).

    A kommune with ``estimate_with = [...]`` in ``municipalities.toml`` (one whose history
    before a split is not its own) is estimated on the group's summed history; its
    in-migrants are the group's times its share of the group's base-year population.
    """
    window = estimation_window(scenario, available_years(table, knr))
    years = np.arange(window[0], window[1])
    group = defaults.get("estimate_with") if scenario.inputs.population is None else None
    if group:  # a split kommune: the old territory's history, pro rata (not pooled: large)
        pops = sum(table.history(k, *window) for k in group)
        share = table.array(knr, window[1]).sum() / pops[-1].sum()
        settled = sum(_series(refugees_settled_history(k, table, municipality_defaults()
                                                       .get(k, {}))[0], years, 0.0)
                      for k in group)
        est = estimate_history(pops, _series(defaults.get("births", {}), years),
                               _series(defaults.get("deaths", {}), years), settled,
                               estimation_settings(scenario, window, defaults))
        return replace(est, in_per_year=est.in_per_year * share,
                       in_migrants=est.in_migrants * share,
                       refugees_settled=est.refugees_settled * share)
    settled, _ = refugees_settled_history(knr, table, defaults)
    pops = table.history(knr, *window)
    settled_years = _series(settled, years, 0.0)
    est = estimate_history(pops, _series(defaults.get("births", {}), years),
                           _series(defaults.get("deaths", {}), years),
                           settled_years, estimation_settings(scenario, window, defaults))
    if not pooling.enabled() or pops[-1].sum() >= pooling.POOL_BELOW:
        return est
    have = available_years(table, knr)
    start = min(max(have[0], window[1] - pooling.VOLATILITY_YEARS), window[0])
    if not all(y in have for y in range(start, window[1] + 1)):
        start = window[0]
    history = table.history(knr, start, window[1])
    settled_history = _series(settled, np.arange(start, window[1]), 0.0)
    return pooled_estimates(est, scenario, pops, window[0], history, settled_history)


def pooled_estimates(est: Estimates, scenario: Scenario, pops: np.ndarray, first: int,
                     history: np.ndarray, settled_history: np.ndarray) -> Estimates:
    """The estimates with net migration and fertility pulled toward the kommune's size class.

    ``sim.demography.pooling``: the window's mean net migration rate and the fertility level
    are shrunk toward the mean of kommuner of the same size, by how noisy the kommune's own
    figures are (net migration without the settled refugees ``settled_history``, one per
    transition of ``history``, which ends at the window's end). The net change goes to the
    in-migrants (with the estimated age profile); a fertility level set in the scenario is
    kept.
    """
    net = pooling.pooled_net_rate(pops, first, history, settled_history)
    base = float(pops[-1].sum())
    in_per_year = max(est.in_per_year + (net.value - net.own) * base, 0.0)
    level = est.fertility_level
    if scenario.fertility.level is None:
        log_f = pooling.pooled_log_fertility(pops, first)
        if np.isfinite(log_f.own):
            level *= float(np.exp(log_f.value - log_f.own))
    return replace(est, in_per_year=in_per_year, fertility_level=level,
                   pooling={"net_rate": net, "log_fertility": log_f
                            if scenario.fertility.level is None else None})


@lru_cache(maxsize=256)
def _death_probabilities(years: tuple[int, ...], base_years: tuple[int, int], level: float,
                         improvement: float) -> np.ndarray:
    q = mort.death_probabilities(mort.mx_path(np.asarray(years), base_years, level, improvement))
    q.flags.writeable = False
    return q


def death_probabilities(scenario: Scenario, years: np.ndarray, level: float) -> np.ndarray:
    """Death probabilities [Y, 2, A] of the scenario's mortality at a municipal level."""
    m = scenario.mortality
    if m.e0_male is None and m.e0_female is None:
        return _death_probabilities(tuple(years.tolist()), scenario.mortality_base_years,
                                    float(level), float(m.improvement_multiplier))
    mx = mort.mx_path(years, scenario.mortality_base_years, level, m.improvement_multiplier)
    for s, path in enumerate((m.e0_male, m.e0_female)):
        if path is not None:
            targets = interpolate_path(path, years)
            for t in range(len(years)):
                try:
                    mx[t, s] = mort.scale_to_e0(mx[t, s], s, targets[t])
                except ValueError as exc:
                    raise InputError(scenario.source, f"mortality.e0_{('male', 'female')[s]}",
                                     str(exc)) from None
    return mort.death_probabilities(mx)


def population_history(scenario: Scenario) -> PopulationHistory:
    """The scenario's population history: imported (``inputs.population``) or embedded."""
    return population_table(scenario.inputs.population)


def check_kommune(scenario: Scenario, table: PopulationHistory) -> None:
    """``InputError`` unless the kommune and its base year are in the history."""
    knr, source = scenario.municipality, scenario.source
    if knr == NORWAY or knr not in table:
        if scenario.inputs.population is None:
            raise InputError(source, "municipality",
                             f"unknown kommunenummer {knr}: not a 2024 kommune ('kommunesim "
                             "kommuner' lists them; import older codes with 'kommunesim data "
                             "import')")
        known = sorted(set(table.codes) - {NORWAY})
        raise InputError(source, "municipality",
                         f"kommune {knr} is not in {scenario.inputs.population}; it has "
                         f"{', '.join(known[:10])}{' ...' if len(known) > 10 else ''}")
    have = available_years(table, knr)
    if scenario.base_year not in have:
        hint = (f"; use --base-year {have[-1]}" if scenario.base_year > have[-1] else "")
        raise InputError(source, "base_year",
                         f"no population for {scenario.base_year}; have {have[0]}..{have[-1]}"
                         f"{hint}")


def scenario_zones(scenario: Scenario, name: str, base: np.ndarray,
                   table: PopulationHistory) -> ZoneData:
    """The kommune's zones (see ``sim.demography.zones``); one zone when none are given."""
    z, knr = scenario.zones, scenario.municipality
    if z.source == "bydeler":
        return builtin_zones(knr, scenario.base_year, table, scenario.source or "scenario")
    if z.history is not None:
        return history_zones(z.history, scenario.base_year, table, knr)
    if scenario.inputs.base_population is not None:
        names, base_d = read_base_population(scenario.inputs.base_population)
        return ZoneData(names, base_d, None, None, str(scenario.inputs.base_population))
    if scenario.districts:
        shares = np.array([d.share for d in scenario.districts])
        return ZoneData(tuple(d.name for d in scenario.districts),
                        shares[:, None, None] * base[None], None, None,
                        "districts by share (ASSUMPTION: the kommune's age structure)")
    return ZoneData((name,), base[None].copy(), None, None, "the whole kommune")


@dataclass(frozen=True)
class ZoneRates:
    """Per-zone arrays from the zones' own histories: [Z, ...]."""

    fertility_level: np.ndarray   # [Z]
    in_per_year: np.ndarray       # [Z] default gross in-migrants excl. refugees
    in_profile: np.ndarray        # [Z, 2, A]
    out_rate: np.ndarray          # [Z, 2, A] mean out-migration rate of the window


def zone_rates(scenario: Scenario, zones: ZoneData, window: tuple[int, int],
               settled: np.ndarray, defaults: dict[str, Any],
               mortality_level: float) -> ZoneRates:
    """Estimate each zone's own migration and fertility level from its history.

    Zones have no published births or deaths: births come from their age-0 populations, the
    mortality level is the kommune's (ASSUMPTION), refugees settled in the window are the
    kommune's split by zone population, and the gross out-rate is the kommune's.
    """
    first, last = window
    if zones.years is None or first < zones.years[0] or last > zones.years[-1]:
        have = ("no zone history" if zones.years is None
                else f"zones have {zones.years[0]}..{zones.years[-1]}")
        raise InputError(scenario.source, "migration.estimation_years",
                         f"zone estimation needs {first}..{last}; {have}")
    settings = estimation_settings(scenario, window, defaults, mortality_level)
    settings = replace(settings, fertility_level=None)
    nan = np.full(last - first, np.nan)
    out = []
    for z in range(len(zones.names)):
        pops = zones.zone_history(z, first, last)
        share = pops[-1].sum() / max(sum(zones.zone_history(k, last, last).sum()
                                         for k in range(len(zones.names))), 1.0)
        out.append(estimate_history(pops, nan, nan, settled * share, settings))
    return ZoneRates(np.array([e.fertility_level for e in out]),
                     np.array([e.in_per_year for e in out]),
                     np.stack([e.in_profile for e in out]),
                     np.stack([e.migration.mean_out_rate() for e in out]))


def resolve(scenario: Scenario) -> ResolvedInputs:
    """Resolve a scenario into engine inputs (raises ``InputError`` for bad input)."""
    knr, source = scenario.municipality, scenario.source
    table = population_history(scenario)
    check_kommune(scenario, table)
    defaults = municipality_defaults().get(knr, {})
    name = defaults.get("name") or municipality_name(table, knr)
    years = scenario.years
    est = estimate_levels(scenario, table, knr, defaults)
    labels = default_labels(scenario, defaults, est)

    dprob = death_probabilities(scenario, years, est.mortality_level)
    tfr = interpolate_path(scenario.fertility.tfr or _default_tfr(scenario.base_year), years)
    schedule = fert.national_schedule(*scenario.fertility_schedule_years)
    out_mult = interpolate_path(scenario.migration.out_rate_multiplier or {2000: 1.0}, years)
    in_mult = interpolate_path(scenario.migration.in_multiplier or {2000: 1.0}, years)
    growth = (interpolate_path(scenario.migration.growth_target_pct, years) / 100.0
              if scenario.migration.growth_target_pct is not None
              else np.full(len(years), np.nan))
    plan = scenario.refugees.settled_per_year
    if plan is None:
        plan, labels["refugee_plan"] = default_refugee_plan(knr, scenario.base_year, table,
                                                            defaults)
    refugees = refu.settlement(interpolate_path(plan, years), refu.default_profile())

    base = table.array(knr, scenario.base_year)
    zones = scenario_zones(scenario, name, base, table)
    n = len(zones.names)
    shares = zones.shares
    if zones.history is not None:
        rates = zone_rates(scenario, zones, est.window, est.refugees_settled, defaults,
                           est.mortality_level)
        # A kommune-level fertility.level scales every zone's own level alike.
        fert_level = rates.fertility_level * (est.fertility_level / _kommune_fertility_level(
            scenario, table, knr, defaults, est))
        out_base = rates.out_rate                             # [Z, 2, A]
        in_zone = rates.in_per_year[:, None, None] * rates.in_profile    # [Z, 2, A]
        labels["zones"] = f"{zones.source}: migration and fertility estimated per zone"
    else:
        fert_level = np.full(n, est.fertility_level)
        out_base = np.repeat(est.migration.mean_out_rate()[None], n, axis=0)
        in_zone = shares[:, None, None] * (est.in_per_year * est.in_profile)[None]
        labels["zones"] = zones.source
    # Migration knobs are relative to the kommune's estimated level: an absolute in_per_year
    # scales every zone's estimated in-migrants by in_per_year / the kommune's estimate (zone
    # in-migrants also count moves between zones, so their sum exceeds the kommune's).
    level = (interpolate_path(scenario.migration.in_per_year, years) / est.in_per_year
             if scenario.migration.in_per_year is not None and est.in_per_year > 0
             else np.ones(len(years)))
    in_migrants = level[:, None, None, None] * in_zone[None]
    movers = completions = None
    if scenario.housing is not None:
        in_migrants, movers, completions, labels["housing"] = housing_led(
            scenario, defaults, zones.names, years, in_migrants, in_mult)
    else:
        in_migrants = in_mult[:, None, None, None] * in_migrants
    out_rate = np.minimum(out_mult[:, None, None, None] * out_base[None], 1.0 - dprob[:, None])
    phi = fert.cohort_age_rates(tfr[:, None, None] * fert_level[None, :, None]
                                * schedule[None, None, :])

    resolved = ResolvedInputs(
        municipality=knr,
        municipality_name=name,
        districts=zones.names,
        years=years,
        base_population=zones.base,
        fertility=phi,
        p_male_birth=fert.p_male_birth(scenario.fertility.sex_ratio_at_birth),
        death_probability=np.repeat(dprob[:, None], n, axis=1),
        out_rate=out_rate,
        in_migrants=in_migrants,
        refugees=refugees[:, None] * shares[None, :, None, None],
        growth_target=growth,
        project_movers=movers,
        completions=completions,
        seed=scenario.seed,
        scenario_name=scenario.name,
        parameters={
            "estimation_window": list(est.window),
            "mortality_level": est.mortality_level,
            "fertility_level": est.fertility_level,
            "out_migration_level": est.migration.out_level,
            "gross_out_rate": float(est.migration.out_migrants.sum()
                                    / est.migration.exposure.sum()),
            "in_migrants_per_year_estimated": est.in_per_year,
            "births_estimation_window": est.births.round(1).tolist(),
            "births_observed": est.births_observed.tolist(),
            "tfr_path": dict(zip(years.tolist(), tfr.round(4).tolist(), strict=True)),
            "refugees_settled_history": {
                int(y): float(v) for y, v in
                refugees_settled_history(knr, table, defaults)[0].items()
                if scenario.base_year - 10 <= y < scenario.base_year},
            "zones": {"source": zones.source, "names": list(zones.names),
                      "fertility_level": np.round(fert_level, 6).tolist()},
            "defaults": labels,
        },
    )
    resolved = apply_overrides(resolved, scenario)
    resolved.check(source or "scenario")
    if scenario.zones.constrain == "municipality" and n > 1:
        resolved = replace(resolved, municipal=resolve(municipal_scenario(scenario)))
    return resolved


def municipal_scenario(scenario: Scenario) -> Scenario:
    """The scenario without its zones: the kommune's own projection for top-down zones.

    Housing projects keep their completions but lose their zone; zone files are dropped.
    """
    housing = scenario.housing
    if housing is not None:
        housing = housing.model_copy(update={"projects": tuple(
            p.model_copy(update={"district": None}) for p in housing.projects)})
    inputs = scenario.inputs.model_copy(update={"base_population": None})
    return scenario.model_copy(update={"zones": scenario.zones.model_copy(update={
        "source": None, "history": None, "constrain": "none"}), "districts": (),
        "inputs": inputs, "housing": housing})


def housing_led(scenario: Scenario, defaults: dict[str, Any], zones: tuple[str, ...],
                years: np.ndarray, trend: np.ndarray, in_mult: np.ndarray):
    """In-migrants of a housing programme (``sim.demography.housing``).

    ``trend`` [Y, D, 2, A] are the estimated in-migrants. The movers into the baseline
    completions (spread over the zones by their share of the trend) are taken out of it, the
    rest (the existing stock's turnover) is scaled by ``migration.in_multiplier``, and the
    movers into the programme's completions are added; cells that end below zero (building
    far below the baseline) are set to zero.

    Returns (in-migrants, movers into the named projects, completions [Y, D, T], a label).
    """
    programme = scenario.housing
    if scenario.migration.growth_target_pct is not None:
        raise InputError(scenario.source, "migration.growth_target_pct",
                         "cannot be combined with a housing programme: the programme sets "
                         "the in-migration (remove one of them)")
    for i, p in enumerate(programme.projects):
        if p.district is not None and p.district not in zones:
            raise InputError(scenario.source, f"housing.projects.{i}.district",
                             f"project '{p.name}': unknown zone '{p.district}'; zones: "
                             f"{', '.join(zones)}")
    baseline = programme.baseline_completions_per_year
    label = "housing.baseline_completions_per_year"
    if baseline is None:
        baseline = defaults.get("dwellings_completed_per_year")
        label = "municipalities.toml"
        if baseline is None:
            raise InputError(scenario.source, "housing.baseline_completions_per_year",
                             f"needed for kommune {scenario.municipality}: the dwellings "
                             "completed per year in the estimation window (SSB table 05940), "
                             "whose movers the trend in-migration already contains")
    per_zone = trend.sum(axis=(0, 2, 3))
    weights = per_zone / per_zone.sum() if per_zone.sum() > 0 else np.full(len(zones),
                                                                           1 / len(zones))
    base = housing.baseline_movers(programme, baseline)              # [2, A] per year
    # Not clipped here: at ages where the baseline's movers exceed the trend, the programme's
    # movers add them back, so with the default other completions (= the baseline) the
    # in-migrants are exactly the trend plus the named projects' movers.
    stock = trend - weights[None, :, None, None] * base[None, None]
    completions = housing.completions_array(programme, zones, years, weights, baseline)
    per_dwelling = housing.movers_per_dwelling(programme)            # [T, 2, A]
    movers = np.einsum("ydt,tsa->ydsa", completions, per_dwelling)
    named = housing.completions_array(
        programme.model_copy(update={"other_completions_per_year": {int(years[0]): 0.0}}),
        zones, years, weights, 0.0)
    project_movers = np.einsum("ydt,tsa->ydsa", named, per_dwelling)
    in_migrants = np.clip(in_mult[:, None, None, None] * stock + movers, 0.0, None)
    return (in_migrants, project_movers, completions,
            f"housing-led: baseline {baseline:g} dwellings a year ({label})")


def _kommune_fertility_level(scenario: Scenario, table: PopulationHistory, knr: str,
                             defaults: dict[str, Any], est: Estimates) -> float:
    """The kommune's estimated fertility level (``est``'s unless the scenario fixed it)."""
    if scenario.fertility.level is None:
        return est.fertility_level
    free = scenario.model_copy(update={"fertility": scenario.fertility.model_copy(
        update={"level": None})})
    return estimate_levels(free, table, knr, defaults).fertility_level


def default_labels(scenario: Scenario, defaults: dict[str, Any],
                   est: Estimates) -> dict[str, str]:
    """Where each default comes from, for the manifest (published figure or ASSUMPTION)."""
    labels = {}
    if scenario.fertility.level is None:
        labels["fertility_level"] = (
            "fitted to published births" if est.births_observed.any()
            else "ASSUMPTION-free estimate: births inferred from the 0-year-olds of the next "
                 "1 January relative to women 15-49 (no published births in the package)")
    if scenario.mortality.level is None:
        labels["mortality_level"] = ("fitted to published deaths" if est.deaths_fit.any()
                                     else "ASSUMPTION: national mortality (no published deaths)")
    if scenario.migration.gross_out_rate is None:
        labels["gross_out_rate"] = ("municipalities.toml" if "gross_out_rate" in defaults
                                    else "ASSUMPTION: Lillestrøm's 2020-2023 rate 0.0666")
    labels["migration"] = f"estimated from SSB populations {est.window[0]}-{est.window[1]}"
    if est.pooling is not None:
        net, fert_ = est.pooling["net_rate"], est.pooling["log_fertility"]
        labels["pooling"] = (
            f"under {pooling.POOL_BELOW} inhabitants: net migration rate {net.own:+.4f} pulled "
            f"to {net.value:+.4f} (weight {net.weight:.2f} on its own, the rest on its size "
            "class)" + (f"; fertility level weight {fert_.weight:.2f} on its own"
                        if fert_ is not None and np.isfinite(fert_.own) else ""))
    return labels
