"""One projection from scenario to results folder: resolve, project, write tables and plots."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim import plots
from sim.abm.config import no_growth_target
from sim.abm.montecarlo import AbmResult, run_abm, write_abm
from sim.budget import (
    BudgetConfig,
    BudgetResult,
    available_budget_defaults,
    default_budget_config,
    load_budget_config,
    project_budget,
    write_budget,
)
from sim.cohort.engine import Projection, project
from sim.cohort.kernel import REFUGEES
from sim.config import Scenario
from sim.data.population import municipality_defaults
from sim.demography import AGE_GROUPS
from sim.errors import InputError
from sim.inputs import ResolvedInputs, resolve
from sim.io import (
    components_table,
    package_version,
    population_table,
    with_kommune,
    write_atomically,
)
from sim.services import (
    Catalogue,
    check_districts,
    default_catalogue,
    load_catalogue,
    services_tables,
)
from sim.services import plots as service_plots
from sim.services.catalogue import available_defaults


@dataclass(frozen=True)
class RunResult:
    """A finished cohort projection with its inputs, service tables and timings (seconds).

    ``services``/``demografikostnader`` are None when the municipality has no catalogue,
    ``budget`` when it has no budget config (or the scenario disables it).
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


def scenario_catalogue(scenario: Scenario, districts: tuple[str, ...]) -> Catalogue | None:
    """The scenario's service catalogue (file or built-in default), checked against districts."""
    path = scenario.services.catalogue
    if path is None:
        if scenario.municipality not in available_defaults():
            return None
        catalogue = default_catalogue(scenario.municipality)
    else:
        catalogue = load_catalogue(path)
    check_districts(catalogue, districts, path or "default catalogue")
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
                                       municipality=inputs.municipality)
    t3 = time.perf_counter()
    result = RunResult(scenario, inputs, proj, catalogue, services, dk, None,
                       {"resolve_s": t1 - t0, "project_s": t2 - t1, "services_s": t3 - t2},
                       refugee_history_notes(catalogue, inputs))
    config = scenario_budget_config(scenario, services is not None)
    if config is not None:
        try:
            result = replace(result, budget=project_budget(result, config))
        except InputError as exc:
            if scenario.budget.config is not None:
                raise
            # The built-in configs are calibrated on 2024 and need its data years; a scenario
            # they cannot cover (e.g. a base year before 2020, or a horizon before 2024) runs
            # without a budget, and says so. Base years 2020-2023 use them as they are.
            result = replace(result, notes=(*result.notes, f"budget skipped: the built-in "
                                            f"budget config does not fit this scenario "
                                            f"({exc.line()})"))
        result.timings["budget_s"] = time.perf_counter() - t3
    return result


def refugee_history_notes(catalogue: Catalogue | None,
                          inputs: ResolvedInputs) -> tuple[str, ...]:
    """Notes for recent-refugee services lacking recorded settlement before the base year.

    Unrecorded years count as zero, so those services' users are too low in the first years.
    """
    if catalogue is None:
        return ()
    recorded = municipality_defaults().get(inputs.municipality, {}).get("refugees_settled", {})
    notes = []
    for key, service in catalogue.services.items():
        if service.driver != "recent_refugees":
            continue
        missing = [y for y in range(inputs.base_year - service.driver_years, inputs.base_year)
                   if y not in recorded]
        if missing:
            notes.append(f"{key}: no recorded refugee settlement for "
                         f"{', '.join(map(str, missing))} (sim/data/municipalities.toml); "
                         "counted as 0, so users are too low in the first years")
    return tuple(notes)


def scenario_budget_config(scenario: Scenario, have_services: bool) -> BudgetConfig | None:
    """The scenario's budget config (file or built-in default), or None when there is none.

    A budget needs service costs: a config given explicitly without a catalogue is an error.
    """
    if not scenario.budget.enabled:
        return None
    path = scenario.budget.config
    if path is None:
        if not have_services or scenario.municipality not in available_budget_defaults():
            return None
        return _with_pace(default_budget_config(scenario.municipality), scenario)
    if not have_services:
        raise InputError(scenario.source, "budget.config",
                         "the budget needs service costs: give services.catalogue too")
    return _with_pace(load_budget_config(path), scenario)


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
    count the mean over runs of the refugees the runs settled.
    """

    scenario: Scenario
    inputs: ResolvedInputs
    abm: AbmResult
    catalogue: Catalogue | None = None
    services: pd.DataFrame | None = None
    demografikostnader: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


def run_abm_scenario(scenario: Scenario, runs: int, workers: int = 1,
                     seed: int | None = None) -> AbmRunResult:
    """Resolve a scenario and run ``runs`` ABM replicates (seed: the scenario's by default)."""
    t0 = time.perf_counter()
    inputs = resolve(scenario)
    if np.any(~np.isnan(inputs.growth_target)):
        raise no_growth_target(scenario.source)
    catalogue = scenario_catalogue(scenario, inputs.districts)
    t1 = time.perf_counter()
    abm_in, housing = abm_inputs(scenario, inputs)
    result = run_abm(abm_in, runs, seed=seed, workers=workers, config=scenario.abm,
                     housing=housing)
    t2 = time.perf_counter()
    services = dk = None
    if catalogue is not None:
        services, dk = services_tables(result.mean_projection(), catalogue,
                                       scenario.services.coverage_path,
                                       scenario.services.unit_cost_growth, scenario.source,
                                       refugees=result.components[:, :, :, REFUGEES].mean(axis=0),
                                       municipality=inputs.municipality)
    return AbmRunResult(scenario, inputs, result, catalogue, services, dk,
                        {"resolve_s": t1 - t0, "abm_s": t2 - t1,
                         "services_s": time.perf_counter() - t2})


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
    for p in housing.projects:
        if p.dwelling_type not in ABM_TYPES:
            raise InputError(scenario.source, "housing.projects.dwelling_type",
                             f"project '{p.name}': the agent-based engine has no "
                             f"'{p.dwelling_type}' dwellings; allowed: {', '.join(ABM_TYPES)}")
    housing = housing.model_copy(update={"profiles": {
        t: prof for t, prof in housing.profiles.items() if t in ABM_TYPES}})
    return replace(inputs, in_migrants=inputs.in_migrants - inputs.project_movers), housing


def write_abm_run(result: AbmRunResult, out_dir: str | Path,
                  with_plots: bool = True) -> list[Path]:
    """Write per-run tables, quantiles, services of the mean, plots and manifest atomically."""
    name = f"{result.inputs.municipality_name}: {result.scenario.name}"

    def fill(w) -> None:
        write_abm(w, result.abm)
        mean = result.abm.mean_projection()
        if result.services is not None:
            w.parquet("services.parquet", result.services)
            w.parquet("demografikostnader.parquet", result.demografikostnader)
        if with_plots:
            plots.pyramid(mean, f"{name}, befolkningspyramide (ABM, mean of "
                          f"{result.abm.runs} runs)", w.path("pyramid.png"))
            plots.fan_total(result.abm.population, result.abm.years,
                            f"{name}: folketall, {result.abm.runs} kjøringer (tilfeldig "
                            "variasjon gitt forutsetningene, P5-P95)",
                            w.path("total_population_fan.png"))
        files = [*w.files, "manifest.json"]
        w.json("manifest.json", {
            "kommunesim_version": package_version(),
            "engine": "abm",
            "runs": result.abm.runs,
            "run_seeds": [str(s) for s in result.abm.seeds],
            "bytes_per_person": result.abm.bytes_per_person.tolist(),
            "scenario": result.scenario.model_dump(mode="json"),
            "resolved_input_sha256": result.inputs.digest,
            "seed": result.inputs.seed,
            "timings_s": {**result.timings, **result.abm.timings},
            "files": files,
        })

    return write_atomically(out_dir, fill)


def manifest(result: RunResult, files: list[str]) -> dict:
    """The run's manifest: scenario, resolved-input hash, seed, version, timings, files."""
    return {
        "kommunesim_version": package_version(),
        "engine": "cohort",
        "scenario": result.scenario.model_dump(mode="json"),
        "municipality": result.inputs.municipality,
        "municipality_name": result.inputs.municipality_name,
        "base_year": result.inputs.base_year,
        "horizon": result.inputs.horizon,
        "districts": list(result.inputs.districts),
        "seed": result.inputs.seed,
        "resolved_input_sha256": result.inputs.digest,
        "estimated_parameters": result.inputs.parameters,
        "in_migration_scale": result.projection.in_scale.tolist(),
        "service_catalogue": (result.catalogue.source if result.catalogue is not None
                              else "none (no catalogue for this municipality)"),
        "budget": ({"config": str(result.scenario.budget.config or "built-in default"),
                    **result.budget.parameters} if result.budget is not None else None),
        "timings_s": result.timings,
        "notes": list(result.notes),
        "files": files,
    }


def write_run(result: RunResult, out_dir: str | Path, with_plots: bool = True) -> list[Path]:
    """Write population/components Parquet, plots and manifest into ``out_dir`` atomically."""
    name = f"{result.inputs.municipality_name}: {result.scenario.name}"

    def fill(w) -> None:
        t = time.perf_counter()
        knr = result.inputs.municipality
        w.parquet("population.parquet", population_table(result.projection, knr))
        w.parquet("components.parquet", components_table(result.projection, knr))
        if with_plots:
            plots.pyramid(result.projection, f"{name}, befolkningspyramide",
                          w.path("pyramid.png"))
            plots.total_population(result.projection, f"{name}, folketall",
                                   w.path("total_population.png"))
            plots.age_groups(result.projection, f"{name}, aldersgrupper",
                             w.path("age_groups.png"))
        if result.services is not None:
            w.parquet("services.parquet", with_kommune(result.services, knr))
            w.parquet("demografikostnader.parquet", with_kommune(result.demografikostnader, knr))
            if with_plots:
                service_plots.plot_demand(result.services, w.path("services_demand.png"))
                service_plots.plot_cost_per_inhabitant(result.services,
                                                       w.path("services_cost_per_inhabitant.png"))
                service_plots.plot_demografikostnader(result.demografikostnader,
                                                      w.path("demografikostnader.png"))
        if result.budget is not None:
            write_budget(w, result.budget, with_plots=with_plots)
        result.timings["write_s"] = time.perf_counter() - t
        files = [*w.files, "manifest.json"]
        w.json("manifest.json", manifest(result, files))

    return write_atomically(out_dir, fill)


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
