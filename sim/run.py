"""One projection from scenario to results folder: resolve, project, write tables and plots."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.abm.config import no_growth_target
from sim.budget import (
    BudgetConfig,
    BudgetResult,
    default_budget_config,
    load_budget_config,
    project_budget,
    write_budget,
)
from sim.cohort.engine import Projection, project
from sim.cohort.kernel import REFUGEES
from sim.config import MAX_SEED, Scenario
from sim.demography import AGE_GROUPS
from sim.errors import InputError
from sim.inputs import ResolvedInputs, resolve
from sim.io import (
    ResultWriter,
    components_table,
    package_version,
    population_table,
    with_kommune,
    write_atomically,
)
from sim.schema import load_cached
from sim.services import (
    Catalogue,
    check_districts,
    investments_table,
    load_catalogue,
    services_tables,
)
from sim.services.catalogue import default_catalogue_path

if TYPE_CHECKING:
    from sim.abm.montecarlo import AbmResult

MAX_RUNS = 100_000
"""Most ABM replicates of one run (as for a sweep's ``runs``)."""
MAX_WORKERS = 1_024
"""Most local processes a run or sweep starts."""


@dataclass(frozen=True)
class RunResult:
    """A finished cohort projection with its inputs, service tables and timings (seconds).

    ``services``/``demografikostnader``/``investments`` are None when there is no catalogue,
    ``budget`` when it has no budget config (or the scenario disables it). ``investments``:
    one row per new building (``sim.services.demand.investments_table``).
    """

    scenario: Scenario
    inputs: ResolvedInputs
    projection: Projection
    catalogue: Catalogue | None = None
    services: pd.DataFrame | None = None
    demografikostnader: pd.DataFrame | None = None
    budget: BudgetResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what was skipped and why (printed, kept in the manifest)
    investments: pd.DataFrame | None = None


def scenario_catalogue(scenario: Scenario, districts: tuple[str, ...]) -> Catalogue:
    """The scenario's service catalogue, checked against districts.

    Its file, else the kommune's built-in one, else the national default (catalogue_0000.toml).
    """
    path = scenario.services.catalogue
    catalogue = load_cached(load_catalogue, default_catalogue_path(scenario.municipality)
                            if path is None else path)
    check_districts(catalogue, districts, path or catalogue.source)
    return catalogue


def run(scenario: Scenario) -> RunResult:
    """Resolve, project and compute service demand for a scenario (``InputError`` on bad input)."""
    t0 = time.perf_counter()
    inputs = resolve(scenario)
    catalogue = scenario_catalogue(scenario, inputs.districts)
    t1 = time.perf_counter()
    proj = project(inputs)
    t2 = time.perf_counter()
    services = dk = None
    if catalogue is not None:
        # Recent-refugee services count the settlement of the resolved inputs (persons settled
        # during each projection year) and, before the base year, the recorded history.
        services, dk = services_tables(proj, catalogue, scenario.services.coverage_path,
                                       scenario.services.unit_cost_growth, scenario.source,
                                       refugees=inputs.refugees,
                                       municipality=inputs.municipality,
                                       refugee_record=settled_record(inputs))
    t3 = time.perf_counter()
    result = RunResult(scenario, inputs, proj, catalogue, services, dk, None,
                       {"resolve_s": t1 - t0, "project_s": t2 - t1, "services_s": t3 - t2},
                       (*growth_target_notes(inputs, proj),
                        *refugee_history_notes(catalogue, inputs),
                        *abm_settings_notes(scenario)),
                       investments_table(services, catalogue) if services is not None else None)
    budget, notes = run_budget(result)
    result = replace(result, budget=budget, notes=(*result.notes, *notes))
    result.timings["budget_s"] = time.perf_counter() - t3
    return result


def run_budget(result: RunResult | AbmRunResult) -> tuple[BudgetResult | None, tuple[str, ...]]:
    """The run's budget (either engine's result), or None and why.

    None without a note when the scenario disables the budget. The built-in configs are
    calibrated on 2024 and need its data years; a scenario they cannot cover (e.g. a base year
    before 2020, or a horizon before 2024) runs without a budget, and says so. A budget file
    the scenario names must fit (``InputError`` otherwise).
    """
    scenario = result.scenario
    config = scenario_budget_config(scenario, result.inputs.municipality_name)
    if config is None:
        return None, ()
    try:
        return project_budget(result, config), ()
    except InputError as exc:
        if scenario.budget.config is not None:
            raise
        return None, (f"budget skipped: the built-in budget config does not fit this scenario "
                      f"({exc.line()})",)


def abm_settings_notes(scenario: Scenario) -> tuple[str, ...]:
    """A note when the scenario changes ``[abm]`` settings (keys that differ from defaults).

    Only the agent-based engine uses them; a cohort run says so instead of dropping them.
    """
    default = type(scenario.abm)()
    given = sorted(k for k in type(default).model_fields
                   if getattr(scenario.abm, k) != getattr(default, k))
    if not given:
        return ()
    return (f"abm: {', '.join(given)} are settings of the agent-based engine (--engine abm); "
            "this cohort run does not use them",)


def growth_target_notes(inputs: ResolvedInputs, proj: Projection) -> tuple[str, ...]:
    """Notes for years whose growth target the engine could not meet (METHOD.md, k).

    Scaling in-migration by k >= 0 cannot reach a target below the growth without any
    in-migrant (k clamped at 0), nor move the total when there are no in-migrants to scale
    (k = 1). A target counts as met within half a person.
    """
    totals = proj.population.sum(axis=(1, 2, 3))
    reached = totals[1:] / totals[:-1] - 1.0
    target = inputs.growth_target
    given = ~np.isnan(target)
    missed = given & (np.abs(totals[1:] - (1.0 + np.where(given, target, 0.0)) * totals[:-1])
                      > 0.5)
    reasons = {True: "below the growth without any in-migrant; in-migration set to 0",
               False: "no in-migrants to scale"}
    notes = []
    for clamped, reason in reasons.items():
        years = np.flatnonzero(missed & ((proj.in_scale == 0.0) == clamped))
        if len(years):
            t = years[0]
            notes.append(f"migration.growth_target_pct not met in {len(years)} year(s) from "
                         f"{inputs.years[t]}: {100 * target[t]:.2f} % asked, "
                         f"{100 * reached[t]:.2f} % reached ({reason})")
    return tuple(notes)


def settled_record(inputs: ResolvedInputs) -> dict[int, float] | None:
    """Refugees settled per year before the base year, as the resolved inputs used them."""
    return inputs.parameters.get("refugees_settled_history")


def refugee_history_notes(catalogue: Catalogue | None,
                          inputs: ResolvedInputs) -> tuple[str, ...]:
    """Notes for recent-refugee services lacking settlement figures before the base year.

    Years without figures count as zero, so those services' users are too low at first.
    """
    if catalogue is None:
        return ()
    recorded = settled_record(inputs) or {}
    notes = []
    for key, service in catalogue.services.items():
        if service.driver != "recent_refugees":
            continue
        missing = [y for y in range(inputs.base_year - service.driver_years, inputs.base_year)
                   if y not in recorded]
        if missing:
            notes.append(f"{key}: no refugee settlement figures for "
                         f"{', '.join(map(str, missing))} (sim/data/municipalities.toml); "
                         "counted as 0, so users are too low in the first years")
    return tuple(notes)


def scenario_budget_config(scenario: Scenario, name: str | None = None) -> BudgetConfig | None:
    """The scenario's budget config (file, the kommune's own default, or national defaults).

    None when the scenario disables the budget. Without a service catalogue the budget costs
    the services at the inntektssystem's expenditure need (see sim/budget/model.py).
    """
    if not scenario.budget.enabled:
        return None
    path = scenario.budget.config
    if path is None:
        return _with_pace(_default_budget(scenario.municipality, name), scenario)
    return _with_pace(load_cached(load_budget_config, path), scenario)


@lru_cache(maxsize=512)
def _default_budget(kommunenummer: str, name: str | None) -> BudgetConfig:
    """The built-in budget config (frozen), made once per kommune and process."""
    return default_budget_config(kommunenummer, name)


def _with_pace(config: BudgetConfig, scenario: Scenario) -> BudgetConfig:
    """The budget config with the scenario's savings pace, if it names one."""
    pace = scenario.budget.savings_pace
    if pace is None:
        return config
    if pace not in config.savings.paces:
        raise InputError(scenario.source, "budget.savings_pace",
                         f"'{pace}' unknown; paces in {config.source}: "
                         f"{', '.join(config.savings.paces) or '(none)'}")
    savings = config.savings.model_copy(update={"pace": pace, "amount_nok": None})
    return config.model_copy(update={"savings": savings})


@dataclass(frozen=True)
class AbmRunResult:
    """Monte Carlo replicates of the agent-based engine for a scenario.

    Services are computed on the mean over runs (demand is linear in the population and in the
    runs' settled refugees, so this equals the mean of the runs' demand); recent-refugee services
    count the mean over runs of the refugees the runs settled. The budget is that of the mean
    over runs (its population, services and whole buildings), as for the cohort engine.
    ``notes``: as the cohort engine's (missing refugee history, a skipped budget).
    """

    scenario: Scenario
    inputs: ResolvedInputs
    abm: AbmResult
    catalogue: Catalogue | None = None
    services: pd.DataFrame | None = None
    demografikostnader: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    investments: pd.DataFrame | None = None
    budget: BudgetResult | None = None
    notes: tuple[str, ...] = ()

    @property
    def projection(self) -> Projection:
        """The mean over runs as a cohort-engine ``Projection``."""
        return self.abm.mean_projection()


def check_seed(seed: int) -> int:
    """A command line's ``--seed``: 0..MAX_SEED, else ``InputError``."""
    if not 0 <= seed <= MAX_SEED:
        raise InputError("command line", "--seed", f"{seed}: must be within 0..{MAX_SEED}")
    return seed


def with_seed(scenario: Scenario, seed: int) -> Scenario:
    """The scenario with a command line's ``--seed`` (``check_seed``)."""
    return scenario.model_copy(update={"seed": check_seed(seed)})


def run_abm_scenario(scenario: Scenario, runs: int, workers: int = 1,
                     seed: int | None = None, first_run: int = 0,
                     population_only: bool = False) -> AbmRunResult:
    """Resolve a scenario and run ``runs`` ABM replicates (seed: the scenario's by default).

    ``first_run``: see ``sim.abm.montecarlo.run_abm`` (replicates in chunks). A caller that only
    wants the runs' population (the web app's chunks) passes ``population_only=True``: no
    services, investments, budget or notes are computed (they are None, resp. empty).
    """
    t0 = time.perf_counter()
    if not 1 <= runs <= MAX_RUNS:
        raise InputError("command line", "--runs", f"{runs}: must be within 1..{MAX_RUNS:,}")
    if not 1 <= workers <= MAX_WORKERS:
        raise InputError("command line", "--workers", f"{workers}: must be within "
                         f"1..{MAX_WORKERS:,}")
    if seed is not None:  # the seed used is the scenario's in every record of the run
        scenario = with_seed(scenario, seed)
    inputs = resolve(scenario)
    if np.any(~np.isnan(inputs.growth_target)):
        raise no_growth_target(scenario.source)
    catalogue = scenario_catalogue(scenario, inputs.districts)
    t1 = time.perf_counter()
    from sim.abm.montecarlo import run_abm

    abm_in, housing = abm_inputs(scenario, inputs)
    result = run_abm(abm_in, runs, seed=scenario.seed, workers=workers, config=scenario.abm,
                     housing=housing, first_run=first_run)
    t2 = time.perf_counter()
    if population_only:
        return AbmRunResult(scenario, inputs, result, catalogue,
                            timings={"resolve_s": t1 - t0, "abm_s": t2 - t1})
    services = dk = None
    if catalogue is not None:
        services, dk = services_tables(result.mean_projection(), catalogue,
                                       scenario.services.coverage_path,
                                       scenario.services.unit_cost_growth, scenario.source,
                                       refugees=result.components[:, :, :, REFUGEES].mean(axis=0),
                                       municipality=inputs.municipality,
                                       refugee_record=settled_record(inputs))
    t3 = time.perf_counter()
    out = AbmRunResult(scenario, inputs, result, catalogue, services, dk,
                       {"resolve_s": t1 - t0, "abm_s": t2 - t1, "services_s": t3 - t2},
                       investments_table(services, catalogue) if services is not None else None,
                       notes=refugee_history_notes(catalogue, inputs))
    budget, notes = run_budget(out)
    out = replace(out, budget=budget, notes=(*out.notes, *notes))
    out.timings["budget_s"] = time.perf_counter() - t3
    return out


def abm_inputs(scenario: Scenario, inputs: ResolvedInputs):
    """The ABM's inputs and housing programme.

    The ABM's trend arrivals exclude the movers into the named projects, which it moves in as
    whole households drawn from the same profiles.
    """
    from sim.abm.kernels import DWELLING_TYPES as ABM_TYPES

    if inputs.municipal is not None:
        raise InputError(scenario.source, "zones.constrain",
                         "'municipality' (zones raked to the kommune each year) is for the "
                         "cohort engine; the agent-based engine projects zones bottom-up")
    housing = scenario.housing
    if housing is None or inputs.project_movers is None:
        return inputs, None
    for i, p in enumerate(housing.projects):
        if p.dwelling_type not in ABM_TYPES:
            raise InputError(scenario.source, f"housing.projects.{i}.dwelling_type",
                             f"project '{p.name}': the agent-based engine has no "
                             f"'{p.dwelling_type}' dwellings; allowed: {', '.join(ABM_TYPES)}")
    return replace(inputs, in_migrants=inputs.in_migrants - inputs.project_movers), housing


def write_abm_run(result: AbmRunResult, out_dir: str | Path,
                  with_plots: bool = True, with_xlsx: bool = True) -> list[Path]:
    """Write the runs, their quantiles, the mean's services, budget, workbook, plots, manifest.

    Atomically, as ``write_run``; what is derived from the population (services, budget,
    ``kommunesim.xlsx`` and their plots) is that of the mean over runs.
    """
    name = f"{result.inputs.municipality_name}: {result.scenario.name}"

    def population(w) -> None:
        from sim.abm.montecarlo import write_abm
        from sim.export import mean_label
        from sim.numbers import number

        write_abm(w, result.abm, result.inputs.municipality)
        if with_plots:
            from sim import plots

            mean, label = result.projection, mean_label(result.abm.runs)
            plots.pyramid(mean, f"{name}, befolkningspyramide (ABM, {label})",
                          w.path("pyramid.png"))
            plots.age_groups(mean, f"{name}, aldersgrupper (ABM, {label})",
                             w.path("age_groups.png"))
            plots.fan_total(result.abm.population, result.abm.years,
                            f"{name}: folketall, {number(result.abm.runs)} kjøringer "
                            "(tilfeldig variasjon gitt forutsetningene, P5-P95)",
                            w.path("total_population_fan.png"))

    return _write(result, out_dir, population, with_plots, with_xlsx)


def write_run(result: RunResult, out_dir: str | Path, with_plots: bool = True,
              with_xlsx: bool = False) -> list[Path]:
    """Write the tables, plots, the planner's workbook and the manifest into ``out_dir``.

    Atomically: everything or nothing. ``with_xlsx`` writes ``kommunesim.xlsx`` (population by
    zone, services, demografikostnader and the økonomiplan tables; ``sim.export``).
    """
    name = f"{result.inputs.municipality_name}: {result.scenario.name}"

    def population(w) -> None:
        knr = result.inputs.municipality
        w.parquet("population.parquet", population_table(result.projection, knr))
        w.parquet("components.parquet", components_table(result.projection, knr))
        if with_plots:
            from sim import plots

            plots.pyramid(result.projection, f"{name}, befolkningspyramide",
                          w.path("pyramid.png"))
            plots.total_population(result.projection, f"{name}, folketall",
                                   w.path("total_population.png"))
            plots.age_groups(result.projection, f"{name}, aldersgrupper",
                             w.path("age_groups.png"))

    return _write(result, out_dir, population, with_plots, with_xlsx)


def _write(result: RunResult | AbmRunResult, out_dir: str | Path,
           population: Callable[[ResultWriter], None], with_plots: bool,
           with_xlsx: bool) -> list[Path]:
    """Write a run of either engine atomically.

    First the engine's own population tables and plots (``population``), then what both derive
    from one projection (the cohort's, or the ABM's mean over runs): the services with their
    plots, the budget, the workbook and the manifest.
    """

    def fill(w: ResultWriter) -> None:
        t = time.perf_counter()
        population(w)
        write_services(w, result, with_plots)
        if result.budget is not None:
            write_budget(w, result.budget, with_plots=with_plots, with_xlsx=with_xlsx)
        if with_xlsx:
            from sim.export import tables_from_result, workbook

            workbook(tables_from_result(result)).save(w.path("kommunesim.xlsx"))
        result.timings["write_s"] = time.perf_counter() - t
        files = [*w.files, "manifest.json"]
        w.json("manifest.json", manifest(result, files))

    return write_atomically(out_dir, fill)


def write_services(w: ResultWriter, result: RunResult | AbmRunResult, with_plots: bool) -> None:
    """Stage the service tables (with ``kommunenummer`` first) and their plots, if any."""
    if result.services is None:
        return
    knr = result.inputs.municipality
    w.parquet("services.parquet", with_kommune(result.services, knr))
    w.parquet("demografikostnader.parquet", with_kommune(result.demografikostnader, knr))
    w.parquet("investments.parquet", with_kommune(result.investments, knr))
    if with_plots:
        from sim.services import plots as service_plots

        service_plots.plot_demand(result.services, w.path("services_demand.png"))
        service_plots.plot_zone_gaps(result.services, w.path("services_gap_by_zone.png"))
        service_plots.plot_cost_per_inhabitant(result.services,
                                               w.path("services_cost_per_inhabitant.png"))
        service_plots.plot_demografikostnader(result.demografikostnader,
                                              w.path("demografikostnader.png"))


def manifest(result: RunResult | AbmRunResult, files: list[str]) -> dict:
    """The run's manifest: scenario, resolved-input hash, seed, version, timings, files.

    An ABM run adds its runs, their seeds and memory use; its services and budget are those of
    the mean over runs (``budget.of``).
    """
    inputs = result.inputs
    if isinstance(result, AbmRunResult):
        engine = {"engine": "abm", "runs": result.abm.runs,
                  "run_seeds": [str(s) for s in result.abm.seeds],
                  "bytes_per_person": result.abm.bytes_per_person.tolist()}
        of, scale = {"of": "the mean over runs"}, {}
        timings = {**result.timings, **result.abm.timings}
    else:
        engine = {"engine": "cohort"}
        of, scale = {}, {"in_migration_scale": result.projection.in_scale.tolist()}
        timings = result.timings
    return {
        "kommunesim_version": package_version(),
        **engine,
        "scenario": result.scenario.model_dump(mode="json"),
        "municipality": inputs.municipality,
        "municipality_name": inputs.municipality_name,
        "base_year": inputs.base_year,
        "horizon": inputs.horizon,
        "districts": list(inputs.districts),
        "seed": inputs.seed,
        "resolved_input_sha256": inputs.digest,
        "estimated_parameters": inputs.parameters,
        **scale,
        "service_catalogue": (result.catalogue.source if result.catalogue is not None
                              else "none (no catalogue for this municipality)"),
        "budget": ({"config": str(result.scenario.budget.config or "built-in default"),
                    **of, **result.budget.parameters} if result.budget is not None else None),
        "timings_s": timings,
        "notes": list(result.notes),
        "files": files,
    }


def summary_rows(result: RunResult, every: int = 5) -> list[dict[str, float]]:
    """Rows for the printed summary: totals, age groups and flows at intervals of years."""
    proj = result.projection
    pop = proj.population.sum(axis=(1, 2))
    flows = proj.components.sum(axis=(1, 3, 4))  # [Y, 5]
    rows = []
    idx = sorted(set(range(0, len(proj.years), every)) | {len(proj.years) - 1})
    for i in idx:
        row = {"year": int(proj.years[i]), "total": float(pop[i].sum())}
        for g, (lo, hi) in AGE_GROUPS.items():
            row[g] = float(pop[i, lo : hi + 1].sum())
        if i < len(proj.years) - 1:
            b, d, inn, out, ref = flows[i]
            row.update(births=b, deaths=d, net_migration=inn - out, refugees=ref)
        rows.append(row)
    return rows
