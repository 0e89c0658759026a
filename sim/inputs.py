"""Resolve a scenario into the arrays the engines use (``ResolvedInputs``).

Defaults come from the embedded data (SSB, HMD, HFD, UN WPP) and ``sim/data/municipalities.toml``;
levels (fertility, mortality, migration) are estimated from the municipality's own population
history over the years before the base year (never after it), so the same code gives the
back-tests. Every array is indexed by cohort age (age on 1 January of the next year).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.optimize import brentq

from sim.config import Scenario, interpolate_path
from sim.data.population import (
    NORWAY,
    available_years,
    municipality_defaults,
    municipality_name,
    population_array,
    population_table,
)
from sim.demography import N_AGES
from sim.demography import fertility as fert
from sim.demography import migration as mig
from sim.demography import mortality as mort
from sim.demography import refugees as refu
from sim.errors import InputError
from sim.inputfiles import apply_overrides, read_base_population

GENERIC_GROSS_OUT_RATE = 0.0666
"""ASSUMPTION for imported municipalities without own figures: Lillestrøm's 2020-2023 rate."""
NATIONAL_LONG_RUN_REFUGEES = 10_000
"""ASSUMPTION: long-run national settlement per year, shared by population for imported
municipalities (between the pre-2022 ~5,000 and the 2022-2024 35,000-38,000)."""
ESTIMATION_YEARS = 5
"""Default migration window: the five transitions up to the base year."""
MORTALITY_LEVEL_RANGE = (0.05, 3.0)
"""Municipal mortality levels (x Norway's rates) the fit searches."""


@dataclass(frozen=True)
class ResolvedInputs:
    """Everything an engine needs for one projection; arrays are float64.

    Shapes: D districts, Y projection years, A = 106 cohort ages.
    """

    municipality: str
    municipality_name: str
    districts: tuple[str, ...]
    years: np.ndarray             # [Y] projection years t (flows of t give 1 Jan t+1)
    base_population: np.ndarray   # [D, 2, A] persons on 1 Jan of years[0]
    fertility: np.ndarray         # [Y, D, A] births per woman-year, cohort age
    p_male_birth: float           # share of births that are boys
    death_probability: np.ndarray  # [Y, D, 2, A]
    out_rate: np.ndarray          # [Y, D, 2, A] out-migrants per person-year of exposure
    in_migrants: np.ndarray       # [Y, D, 2, A] persons (excluding refugees)
    refugees: np.ndarray          # [Y, D, 2, A] persons settled
    growth_target: np.ndarray     # [Y] total growth rate to hit by scaling in-migration; NaN = none
    seed: int = 0
    scenario_name: str = "default"
    parameters: dict[str, Any] = field(default_factory=dict)  # estimated levels, for the manifest

    @property
    def base_year(self) -> int:
        """Year of the base population (1 January)."""
        return int(self.years[0])

    @property
    def horizon(self) -> int:
        """Last 1 January projected."""
        return int(self.years[-1]) + 1

    @cached_property
    def digest(self) -> str:
        """SHA-256 of every array and scalar the engine reads (the resolved-input hash)."""
        h = hashlib.sha256()
        for arr in (self.years, self.base_population, self.fertility, self.death_probability,
                    self.out_rate, self.in_migrants, self.refugees, self.growth_target):
            h.update(np.ascontiguousarray(arr, dtype=float).tobytes())
        h.update(repr((self.p_male_birth, self.districts, self.seed)).encode())
        return h.hexdigest()

    def check(self, source: str = "resolved inputs") -> None:
        """Raise ``InputError`` for NaN, negative values, probabilities above 1 or wrong shapes."""
        n_year, n_dist = len(self.years), len(self.districts)
        shapes = {
            "base_population": (self.base_population, (n_dist, 2, N_AGES)),
            "fertility": (self.fertility, (n_year, n_dist, N_AGES)),
            "death_probability": (self.death_probability, (n_year, n_dist, 2, N_AGES)),
            "out_rate": (self.out_rate, (n_year, n_dist, 2, N_AGES)),
            "in_migrants": (self.in_migrants, (n_year, n_dist, 2, N_AGES)),
            "refugees": (self.refugees, (n_year, n_dist, 2, N_AGES)),
        }
        for name, (arr, shape) in shapes.items():
            if arr.shape != shape:
                raise InputError(source, name, f"shape {arr.shape}, expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise InputError(source, name, "contains NaN or infinite values")
            if np.any(arr < 0):
                raise InputError(source, name, "negative values; must be >= 0")
        if np.any(self.death_probability > 1):
            raise InputError(source, "death_probability", "probabilities must be <= 1")
        if np.any(self.death_probability + self.out_rate > 1 + 1e-12):
            raise InputError(source, "out_rate",
                             "death probability + out-migration rate must be <= 1")
        if not 0 < self.p_male_birth < 1:
            raise InputError(source, "p_male_birth", "must be between 0 and 1")


def _history(table, knr: str, first: int, last: int) -> np.ndarray:
    return np.stack([population_array(table, knr, y) for y in range(first, last + 1)])


def _default_tfr(base_year: int) -> dict[int, float]:
    """Default TFR path: SSB's main path from 2024.

    Before 2024 (back-tests): Norway's last observed TFR before the base year, held constant,
    so a projection uses no information from its future.
    """
    if base_year >= min(fert.SSB_MAIN_TFR):
        return fert.SSB_MAIN_TFR
    return {base_year: fert.national_tfr(base_year - 1)}


def _path_or(default: dict[int, float] | None, given: dict[int, float] | None) -> dict | None:
    return given if given is not None else default


@dataclass(frozen=True)
class Estimates:
    """Levels estimated from a municipality's history (see ``estimate_levels``).

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


def _fit_years(have: np.ndarray, which: str) -> np.ndarray:
    """Mask of the years a level is fitted on: all with data, or only the last with data."""
    if which == "all" or not have.any():
        return have.copy()
    mask = np.zeros_like(have)
    mask[np.flatnonzero(have)[-1]] = True
    return mask


def estimate_levels(
    scenario: Scenario, table, knr: str, defaults: dict[str, Any],
) -> Estimates:
    """Estimate mortality and fertility levels and gross migration from the history window.

    * Mortality: the level at which the engine's own deaths (death probabilities x exposure of
      the estimated flows) equal the published deaths, summed over the fitted years.
    * Fertility: published (or estimated) births / births the engine gives at Norway's observed
      TFR of each year, over the fitted years.
    * In-migration: gross in-migrants without the settled refugees; the default level is the
      window mean or its last year (``migration.in_level``).
    """
    have = available_years(table, knr)
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
    pops = _history(table, knr, first, last)
    years = np.arange(first, last)
    mx_hist = mort.mx_path(years, scenario.mortality_base_years)
    p_male = fert.p_male_birth(scenario.fertility.sex_ratio_at_birth)

    def series(key: str, fill: float = np.nan) -> np.ndarray:
        return np.array([defaults.get(key, {}).get(int(y), fill) for y in years], dtype=float)

    births_obs, deaths_obs = series("births"), series("deaths")
    gross_out = scenario.migration.gross_out_rate
    if gross_out is None:
        gross_out = defaults.get("gross_out_rate", GENERIC_GROSS_OUT_RATE)

    def migration_at(level: float) -> tuple[np.ndarray, mig.MigrationEstimate]:
        q = mort.death_probabilities(level * mx_hist)
        est = mig.estimate_gross_migration(pops, years, q, gross_out, None, p_male)
        if np.any(~np.isnan(births_obs)):
            births = np.where(np.isnan(births_obs), est.births.sum(axis=1), births_obs)
            est = mig.estimate_gross_migration(pops, years, q, gross_out, births, p_male)
        return q, est

    def engine_deaths(level: float) -> np.ndarray:
        q, est = migration_at(level)
        return (q * est.exposure).sum(axis=(1, 2))

    level = scenario.mortality.level
    deaths_fit = _fit_years(~np.isnan(deaths_obs), scenario.mortality.level_years)
    if level is None:
        level = 1.0
        if deaths_fit.any():
            target = deaths_obs[deaths_fit].sum()

            def gap(lv: float) -> float:
                return engine_deaths(lv)[deaths_fit].sum() - target

            lo, hi = MORTALITY_LEVEL_RANGE
            if gap(lo) * gap(hi) > 0:
                raise InputError("municipality data", "deaths",
                                 f"published deaths {target:.0f} cannot be reached with a "
                                 f"mortality level in {lo}..{hi} x Norway's; check the figures")
            level = float(brentq(gap, lo, hi, xtol=1e-12))
    q, est = migration_at(level)
    births = est.births.sum(axis=1)

    schedule = fert.national_schedule(*scenario.fertility_schedule_years)
    women = est.exposure[:, 1, :] * (1.0 - 0.5 * (q[:, 1, :] + est.out_rate[:, 1, :]))
    national = np.array([
        fert.expected_births(fert.cohort_age_rates(fert.national_tfr(int(y)) * schedule),
                             women[i]) for i, y in enumerate(years)])
    observed = ~np.isnan(births_obs)
    use = (_fit_years(observed, scenario.fertility.level_years) if observed.any()
           else np.ones_like(observed))
    fert_level = scenario.fertility.level or float(births[use].sum() / national[use].sum())

    settled = series("refugees_settled", 0.0)
    inflow = np.clip(est.in_migrants - settled[:, None, None] * refu.default_profile(), 0.0, None)
    total = inflow.sum()
    in_profile = inflow.sum(axis=0) / total if total > 0 else np.zeros((2, N_AGES))
    per_year = inflow.sum(axis=(1, 2))
    in_level = float(per_year.mean() if scenario.migration.in_level == "mean" else per_year[-1])
    return Estimates((first, last), level, fert_level, est, in_profile, in_level, births,
                     observed, national, deaths_obs, (q * est.exposure).sum(axis=(1, 2)),
                     per_year, settled, deaths_fit, use)


def resolve(scenario: Scenario) -> ResolvedInputs:
    """Resolve a scenario into engine inputs (raises ``InputError`` for bad input)."""
    knr = scenario.municipality
    table = population_table(scenario.inputs.population) if scenario.inputs.population \
        else population_table()
    source = scenario.source
    if knr == NORWAY or knr not in set(table.kommunenummer.unique()):
        known = sorted(set(table.kommunenummer.unique()) - {NORWAY})
        raise InputError(source, "municipality",
                         f"unknown municipality {knr}; available: {', '.join(known)} "
                         "(import others with 'kommunesim data import')")
    have = available_years(table, knr)
    if scenario.base_year not in have:
        raise InputError(source, "base_year",
                         f"no population for {scenario.base_year}; have {have[0]}..{have[-1]}")
    defaults = municipality_defaults().get(knr, {})
    name = defaults.get("name") or municipality_name(table, knr)
    years = scenario.years
    est = estimate_levels(scenario, table, knr, defaults)

    # Mortality.
    mx = mort.mx_path(years, scenario.mortality_base_years, est.mortality_level,
                      scenario.mortality.improvement_multiplier)
    for s, path in enumerate((scenario.mortality.e0_male, scenario.mortality.e0_female)):
        if path is not None:
            targets = interpolate_path(path, years)
            for t in range(len(years)):
                try:
                    mx[t, s] = mort.scale_to_e0(mx[t, s], s, targets[t])
                except ValueError as exc:
                    raise InputError(source, f"mortality.e0_{('male', 'female')[s]}",
                                     str(exc)) from None
    dprob = mort.death_probabilities(mx)

    # Fertility.
    tfr = interpolate_path(_path_or(_default_tfr(scenario.base_year), scenario.fertility.tfr),
                           years)
    schedule = fert.national_schedule(*scenario.fertility_schedule_years)
    phi = fert.cohort_age_rates(est.fertility_level * tfr[:, None] * schedule[None, :])

    # Migration.
    out_mult = interpolate_path(scenario.migration.out_rate_multiplier or {2000: 1.0}, years)
    out_rate = out_mult[:, None, None] * est.migration.mean_out_rate()[None]
    out_rate = np.minimum(out_rate, 1.0 - dprob)
    in_level = (interpolate_path(scenario.migration.in_per_year, years)
                if scenario.migration.in_per_year is not None
                else np.full(len(years), est.in_per_year))
    in_level = in_level * interpolate_path(scenario.migration.in_multiplier or {2000: 1.0}, years)
    in_migrants = in_level[:, None, None] * est.in_profile[None]
    growth = (interpolate_path(scenario.migration.growth_target_pct, years) / 100.0
              if scenario.migration.growth_target_pct is not None
              else np.full(len(years), np.nan))

    # Refugees.
    plan = scenario.refugees.settled_per_year or defaults.get("refugee_plan")
    if plan is None:
        nat = population_array(table, NORWAY, scenario.base_year).sum() \
            if NORWAY in set(table.kommunenummer.unique()) else 5_550_203.0
        share = population_array(table, knr, scenario.base_year).sum() / nat
        plan = {scenario.base_year: NATIONAL_LONG_RUN_REFUGEES * share}
    refugees = refu.settlement(interpolate_path(plan, years), refu.default_profile())

    base = population_array(table, knr, scenario.base_year)
    districts, shares, base_d = _districts(scenario, name, base)
    n = len(districts)

    def spread(arr: np.ndarray) -> np.ndarray:  # [Y, 2, A] -> [Y, D, 2, A], split by share
        return arr[:, None] * shares[None, :, None, None]

    def same(arr: np.ndarray) -> np.ndarray:  # [Y, ...] -> [Y, D, ...], same in every district
        return np.repeat(arr[:, None], n, axis=1)

    resolved = ResolvedInputs(
        municipality=knr,
        municipality_name=name,
        districts=districts,
        years=years,
        base_population=base_d,
        fertility=same(phi),
        p_male_birth=fert.p_male_birth(scenario.fertility.sex_ratio_at_birth),
        death_probability=same(dprob),
        out_rate=same(out_rate),
        in_migrants=spread(in_migrants),
        refugees=spread(refugees),
        growth_target=growth,
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
        },
    )
    resolved = apply_overrides(resolved, scenario)
    resolved.check(source or "scenario")
    return resolved


def _districts(scenario: Scenario, name: str, base: np.ndarray):
    """District names, shares [D] and base population [D, 2, A].

    From ``inputs.base_population`` when given (shares = district totals), else the scenario's
    ``districts`` splitting every age by share (ASSUMPTION: same age structure), else one district.
    """
    if scenario.inputs.base_population is not None:
        names, base_d = read_base_population(scenario.inputs.base_population)
        totals = base_d.sum(axis=(1, 2))
        return names, totals / totals.sum(), base_d
    if not scenario.districts:
        return (name,), np.ones(1), base[None].copy()
    shares = np.array([d.share for d in scenario.districts])
    return (tuple(d.name for d in scenario.districts), shares,
            shares[:, None, None] * base[None])
