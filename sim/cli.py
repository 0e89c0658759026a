"""The ``kommunesim`` command line (typer). Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from sim.config import Scenario, load_scenario, scenario_from_dict
from sim.errors import InputError, clean_errors
from sim.errors import console as make_console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Population and service-demand projections for Norwegian municipalities.")
data_app = typer.Typer(no_args_is_help=True, help="Import population data (SSB table 07459).")
app.add_typer(data_app, name="data")
console = make_console()
DEFAULT_MUNICIPALITY = "3222"


def build_scenario(path: Path | None, municipality: str | None, horizon: int | None,
                   base_year: int | None, population: Path | None) -> Scenario:
    """Scenario from a file (or the defaults) with command-line overrides, validated again."""
    knr = municipality or DEFAULT_MUNICIPALITY
    if path is None and population is None and base_year is None:
        # The municipality's main scenario (calibrated on the years up to 2024), if it has one;
        # another base year re-estimates everything from the years before it instead.
        path = main_scenario_file(knr)
    scenario = load_scenario(path) if path else None
    data = scenario.model_dump(exclude={"source"}, exclude_none=True) if scenario else {
        "name": "default (main)", "municipality": knr}
    cli = {"municipality": municipality, "horizon": horizon, "base_year": base_year}
    data.update({k: v for k, v in cli.items() if v is not None})
    if population is not None:
        data.setdefault("inputs", {})["population"] = str(population.resolve())
    if not any(v is not None for v in cli.values()) and population is None:
        return scenario if scenario is not None else scenario_from_dict(data, "defaults")
    return scenario_from_dict(data, str(path) if path else "command line")


def main_scenario_file(kommunenummer: str) -> Path | None:
    """``experiments/scenarios/<name>_main.toml`` named in ``municipalities.toml``, if any."""
    from importlib import resources

    from sim.data.population import municipality_defaults

    name = municipality_defaults().get(kommunenummer, {}).get("main_scenario")
    if name is None:
        return None
    return Path(str(resources.files("experiments").joinpath("scenarios", name)))


ScenarioArg = Annotated[Path | None, typer.Argument(help="scenario TOML (default: main defaults)")]
MunicipalityOpt = Annotated[str | None, typer.Option("--municipality", "-m",
                                                     help="kommunenummer, e.g. 3222")]
HorizonOpt = Annotated[int | None, typer.Option(help="last year projected (1 January)")]
BaseYearOpt = Annotated[int | None, typer.Option(help="base year (1 January population)")]
PopulationOpt = Annotated[Path | None, typer.Option(
    help="population history CSV from 'kommunesim data import' (other municipalities)")]


@app.command("run")
@clean_errors
def run_cmd(
    scenario: ScenarioArg = None,
    municipality: MunicipalityOpt = None,
    horizon: HorizonOpt = None,
    base_year: BaseYearOpt = None,
    population: PopulationOpt = None,
    out: Annotated[Path, typer.Option(help="results folder")] = Path("results/run"),
    plots: Annotated[bool, typer.Option(help="write PNG plots")] = True,
    engine: Annotated[str, typer.Option(help="cohort (expected values) or abm (persons)")] =
        "cohort",
    runs: Annotated[int, typer.Option(min=1, help="ABM replicates")] = 20,
    workers: Annotated[int, typer.Option(min=1, help="ABM worker processes")] = 1,
    seed: Annotated[int | None, typer.Option(help="master seed (default: the scenario's)")] =
        None,
) -> None:
    """Project a scenario; write population, components, services, plots and manifest to OUT."""
    from sim.run import run, run_abm_scenario, summary_rows, write_abm_run, write_run

    if engine not in ("cohort", "abm"):
        raise InputError("command line", "--engine", f"'{engine}' unknown; allowed: cohort, abm")
    sc = build_scenario(scenario, municipality, horizon, base_year, population)
    if engine == "abm":
        result = run_abm_scenario(sc, runs, workers, seed)
        files = write_abm_run(result, out, with_plots=plots)
        tot = result.abm.population.reshape(runs, len(result.abm.years), -1).sum(axis=2)
        p5, p50, p95 = np.quantile(tot, [0.05, 0.5, 0.95], axis=0)
        for i in sorted({0, len(result.abm.years) // 2, len(result.abm.years) - 1}):
            console.print(f"{result.abm.years[i]}: total population P5 {p5[i]:,.0f}  "
                          f"P50 {p50[i]:,.0f}  P95 {p95[i]:,.0f}  ({runs} runs)")
    else:
        if seed is not None:
            sc = sc.model_copy(update={"seed": seed})
        result = run(sc)
        files = write_run(result, out, with_plots=plots)
        _print_summary(result, summary_rows(result))
        for note in result.notes:
            console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    console.print(f"wrote {len(files)} files to {out}/")


def _print_summary(result, rows) -> None:
    inp = result.inputs
    table = Table(title=f"{inp.municipality_name} ({inp.municipality}) - {result.scenario.name}")
    keys = ["year", "total", "0", "1-5", "6-15", "16-19", "20-66", "67-79", "80-89", "90+",
            "births", "deaths", "net_migration", "refugees"]
    for k in keys:
        table.add_column(k, justify="right")
    for row in rows:
        table.add_row(*[(str(row[k]) if k == "year" else
                         f"{row[k]:,.0f}" if k in row else "") for k in keys])
    console.print(table)


@app.command("services")
@clean_errors
def services_cmd(
    catalogue: Annotated[Path, typer.Argument(help="service catalogue TOML")],
    check: Annotated[bool, typer.Option(
        "--check", help="validate and summarise (the command's only mode)")] = True,
    districts: Annotated[list[str] | None, typer.Option(
        "--districts", help="district names facilities may use (repeat the option)")] = None,
) -> None:
    """Validate a service catalogue (coverage, costs, age groups, districts) and summarise it."""
    from sim.services.cli import check as check_catalogue

    check_catalogue(catalogue, districts)


@app.command("budget")
@clean_errors
def budget_cmd(
    scenario: ScenarioArg = None,
    municipality: MunicipalityOpt = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="budget TOML (default: the municipality's built-in one)")] = None,
    pace: Annotated[str | None, typer.Option(
        help="savings pace from the budget config, e.g. Sprint, Mellomdistanse, Maraton")] = None,
    out: Annotated[Path, typer.Option(help="results folder")] = Path("results/budget"),
    plots: Annotated[bool, typer.Option(help="write PNG plots")] = True,
) -> None:
    """Project a scenario with its long-term budget (revenue, costs, debt, rules); write XLSX."""
    from sim.budget.cli import budget_command

    result, files = budget_command(scenario, municipality, config, out, with_plots=plots,
                                   pace=pace)
    table = Table(title=f"{result.inputs.municipality_name}: handlingsregler "
                  f"{result.budget.years[0]}-{result.budget.years[-1]}")
    for col in ("rule", "first year met", "first year broken", "years met"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for row in result.budget.rules_summary.itertuples():
        table.add_row(row.rule, _year(row.first_year_met), _year(row.first_year_broken),
                      f"{row.years_met} of {row.years}")
    console.print(table)
    console.print(f"wrote {len(files)} files to {out}/")


def _year(value) -> str:
    """A year for a table cell, '-' when missing (None, NaN or pandas NA)."""
    import pandas as pd

    return "-" if pd.isna(value) else str(int(value))


@app.command("inputs")
@clean_errors
def inputs_cmd(
    scenario: ScenarioArg = None,
    municipality: MunicipalityOpt = None,
    horizon: HorizonOpt = None,
    base_year: BaseYearOpt = None,
    population: PopulationOpt = None,
    out: Annotated[Path, typer.Option(help="folder for the CSV files")] = Path("results/inputs"),
) -> None:
    """Write every resolved input the engine uses as CSV (columns documented in README.md)."""
    from sim.inputfiles import write_inputs
    from sim.inputs import resolve
    from sim.io import package_version, write_atomically

    inputs = resolve(build_scenario(scenario, municipality, horizon, base_year, population))

    def fill(w) -> None:
        write_inputs(inputs, w.stage)
        w.files.extend(p.name for p in sorted(w.stage.iterdir()))
        files = [*w.files, "manifest.json"]
        w.json("manifest.json", {"kommunesim_version": package_version(), "kind": "inputs",
                                 "resolved_input_sha256": inputs.digest, "files": files})

    files = write_atomically(out, fill)
    console.print(f"wrote {len(files)} files to {out}/")


@data_app.command("import")
@clean_errors
def data_import(
    file: Annotated[Path, typer.Argument(help="SSB 07459 export: semicolon CSV or JSON-stat 2.0")],
    out: Annotated[Path, typer.Option(help="folder for population_<kommunenummer>.csv")] = Path(
        "kommunesim-data"),
) -> None:
    """Convert an SSB Statbank export of table 07459 to the package's population format."""
    from sim.data.ssb import read_ssb_07459, write_population

    df = read_ssb_07459(file)
    out.mkdir(parents=True, exist_ok=True)
    for knr, part in df.groupby("kommunenummer", sort=True):
        path = out / f"population_{knr}.csv"
        write_population(part, path)
        years = sorted(part.year.unique())
        console.print(f"{knr} {part.kommune.iloc[0]}: {years[0]}..{years[-1]}, "
                      f"{int(part[part.year == years[-1]].persons.sum()):,} persons in {years[-1]}"
                      f" -> {path}")
        console.print(f"  run it: kommunesim run --municipality {knr} --population {path}")


def _register_subcommands() -> None:
    """Commands whose code lives in experiments/ and calibration/ (imported lazily inside)."""
    from calibration.cli import calibrate_cmd, fit_cmd, validate_cmd
    from experiments.cli import report_cmd, summary_cmd, sweep_cmd
    from sim.app.cli import export_cmd, serve_cmd

    app.command("sweep")(sweep_cmd)
    app.command("report")(report_cmd)
    app.command("summary")(summary_cmd)
    app.command("calibrate")(calibrate_cmd)
    app.command("validate")(validate_cmd)
    app.command("fit")(fit_cmd)
    app.command("serve")(serve_cmd)
    app.command("export")(export_cmd)


_register_subcommands()


def main() -> None:  # pragma: no cover - console entry point helper
    """Entry point used by ``python -m sim.cli``."""
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
