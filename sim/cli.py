"""The ``kommunesim`` command line (typer). Bad input: one line on stderr, exit code 2.

Imports of the model (numpy, numba, pandas, matplotlib) happen inside the commands, so that
``kommunesim --help`` starts in a fraction of a second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sim.errors import InputError, LazyConsole, clean_errors
from sim.folders import writes_to

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Population and service-demand projections for Norwegian kommuner.")
data_app = typer.Typer(no_args_is_help=True, help="Import population data (SSB table 07459).")
app.add_typer(data_app, name="data")
console = LazyConsole()

ScenarioArg = Annotated[Path | None, typer.Argument(
    help="scenario TOML (default: the kommune's main scenario, or its defaults)")]
MunicipalityOpt = Annotated[str | None, typer.Option(
    "--municipality", "-m", help="kommunenummer or name (Lørenskog, baerum, 'Nordre Follo'); "
    "for run also a comma list or 'all'")]
HorizonOpt = Annotated[int | None, typer.Option(help="last year projected (1 January)")]
BaseYearOpt = Annotated[int | None, typer.Option(help="base year (1 January population)")]
PopulationOpt = Annotated[Path | None, typer.Option(
    help="population history CSV from 'kommunesim data import' (base year: its last year)")]
ZonesOpt = Annotated[str | None, typer.Option(
    help="built-in zones: 'bydeler' (Oslo, Bergen, Stavanger, Trondheim)")]


def _is_batch(municipality: str | None, fylke: str | None) -> bool:
    if fylke is not None:
        return True
    return municipality is not None and ("," in municipality
                                         or municipality.strip().lower() == "all")


@app.command("run")
@clean_errors
@writes_to("out")
def run_cmd(
    scenario: ScenarioArg = None,
    municipality: MunicipalityOpt = None,
    fylke: Annotated[str | None, typer.Option(help="all kommuner of a fylke (e.g. Akershus)")]
        = None,
    zones: ZonesOpt = None,
    horizon: HorizonOpt = None,
    base_year: BaseYearOpt = None,
    population: PopulationOpt = None,
    out: Annotated[Path, typer.Option(help="results folder")] = Path("results/run"),
    plots: Annotated[bool | None, typer.Option(
        "--plots/--no-plots", help="write PNG plots (default: on for one kommune, off for many)")]
        = None,
    xlsx: Annotated[bool | None, typer.Option(
        "--xlsx/--no-xlsx", help="write kommunesim.xlsx, the planner's workbook (default: on "
        "for one kommune, off for many)")] = None,
    budget: Annotated[bool | None, typer.Option(
        "--budget/--no-budget", help="project the budget (default: on for one kommune, off "
        "for many)")] = None,
    engine: Annotated[str, typer.Option(help="cohort (expected values) or abm (persons)")] =
        "cohort",
    runs: Annotated[int, typer.Option(min=1, help="ABM replicates")] = 20,
    workers: Annotated[int, typer.Option(min=1, help="ABM worker processes")] = 1,
    seed: Annotated[int | None, typer.Option(help="master seed (default: the scenario's)")] =
        None,
    intervals: Annotated[bool, typer.Option(
        "--intervals", help="80 %/50 %/90 % prediction intervals (cohort engine): "
        "intervals.parquet and fan charts (sim/intervals/METHOD.md)")] = False,
) -> None:
    """Project a scenario or kommuner; write population, components, services, plots, manifest."""
    if engine not in ("cohort", "abm"):
        raise InputError("command line", "--engine", f"'{engine}' unknown; allowed: cohort, abm")
    if intervals and engine != "cohort":
        raise InputError("command line", "--intervals", "prediction intervals come from the "
                         "cohort engine; the ABM's band is only 'tilfeldig variasjon (gitt "
                         "forutsetningene)'")
    if _is_batch(municipality, fylke):
        if scenario is not None:
            raise InputError("command line", "SCENARIO", "a scenario file runs one kommune; "
                             "-m all/a list/--fylke run each kommune's main scenario")
        if engine != "cohort":
            raise InputError("command line", "--engine", "the agent-based engine runs one "
                             "kommune at a time; use -m with one kommune")
        if xlsx:
            raise InputError("command line", "--xlsx", "the workbook is written for one kommune "
                             "at a time; run -m <kommune> (or 'kommunesim export')")
        return _run_batch(municipality, fylke, zones, horizon, base_year, population, out,
                          bool(plots), bool(budget), seed, intervals)
    _run_one(scenario, municipality, zones, horizon, base_year, population, out,
             True if plots is None else plots, budget, engine, runs, workers, seed, intervals,
             True if xlsx is None else xlsx)


def _run_one(scenario, municipality, zones, horizon, base_year, population, out, plots,
             budget, engine, runs, workers, seed, intervals=False, xlsx=True) -> None:
    import numpy as np

    from sim.numbers import number
    from sim.run import (
        run,
        run_abm_scenario,
        summary_rows,
        with_seed,
        write_abm_run,
        write_run,
    )
    from sim.scenarios import scenario_for

    sc, notes = scenario_for(scenario, municipality, horizon, base_year, population, zones)
    if budget is not None:
        sc = sc.model_copy(update={"budget": sc.budget.model_copy(update={"enabled": budget})})
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if engine == "abm":
        result = run_abm_scenario(sc, runs, workers, seed)
        files = write_abm_run(result, out, with_plots=plots, with_xlsx=xlsx)
        tot = result.abm.population.reshape(runs, len(result.abm.years), -1).sum(axis=2)
        p5, p50, p95 = np.quantile(tot, [0.05, 0.5, 0.95], axis=0)
        for i in sorted({0, len(result.abm.years) // 2, len(result.abm.years) - 1}):
            console.print(f"{result.abm.years[i]}: total population P5 {number(p5[i])}  "
                          f"P50 {number(p50[i])}  P95 {number(p95[i])}  ({runs} runs)")
        for note in result.notes:
            console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    else:
        if seed is not None:
            sc = with_seed(sc, seed)
        result = run(sc)
        ivs = _intervals([result]) if intervals else []
        files = write_run(result, out, with_plots=plots, with_xlsx=xlsx)
        files += _write_intervals(out, ivs, plots)
        _print_summary(result, summary_rows(result))
        for note in result.notes:
            console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    console.print(f"wrote {len(files)} files to {out}/")


def _intervals(results) -> list:
    from sim.intervals import run_intervals

    return [run_intervals(r) for r in results]


def _write_intervals(out, ivs, plots) -> list:
    from sim.intervals import add_to_results

    return add_to_results(out, ivs, plots) if ivs else []


def _check_batch(numbers: list[str], municipality, fylke, zones: str | None,
                 population) -> None:
    """Refuse, before any work, a selection a batch cannot run.

    No kommune at all, kommuner not in the population history used, or without the built-in
    zones asked for.
    """
    from sim.data.population import embedded_zones, population_table

    if not numbers:
        given = " and ".join(f"{k} '{v}'" for k, v in (("-m", municipality), ("--fylke", fylke))
                             if v is not None)
        raise InputError("command line", "--municipality", f"{given} selects no kommune; give "
                         "kommunenummer or names separated by commas, 'all' or a fylke")
    table = population_table(population)
    unknown = [n for n in numbers if n not in table]
    if unknown:
        raise InputError(population or "command line", "--municipality",
                         f"unknown kommunenummer {', '.join(unknown[:5])}"
                         f"{' ...' if len(unknown) > 5 else ''}: not in {table.source}; "
                         "'kommunesim kommuner' lists the 2024 kommuner")
    if zones == "bydeler":
        zone_table = embedded_zones()
        zoned = {zone_table.parents[c] for c in zone_table.codes}
        without = [k for k in numbers if k not in zoned]
        if without:
            raise InputError("command line", "--zones", f"no built-in bydeler for "
                             f"{len(without)} of the {len(numbers)} kommuner selected "
                             f"({', '.join(without[:5])}{' ...' if len(without) > 5 else ''}); "
                             f"they exist for {', '.join(sorted(zoned))}")


def _run_batch(municipality, fylke, zones, horizon, base_year, population, out, plots, budget,
               seed, intervals=False) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from sim.batch import run_many, write_many
    from sim.data.kommuner import select_kommuner
    from sim.errors import console as make

    numbers = select_kommuner(municipality, fylke)
    if plots:
        raise InputError("command line", "--plots", "plots are written for one kommune at a "
                         "time; run -m <kommune> for plots")
    _check_batch(numbers, municipality, fylke, zones, population)
    if seed is not None:
        from sim.run import check_seed

        check_seed(seed)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=make(stderr=True), transient=True) as bar:
        task = bar.add_task("projecting", total=len(numbers))
        batch = run_many(numbers, horizon, base_year, zones, seed, budget, population,
                         progress=lambda knr: bar.update(task, advance=1, description=knr))
    options = {"municipality": municipality, "fylke": fylke, "zones": zones,
               "horizon": horizon, "base_year": base_year, "seed": seed, "budget": budget,
               "population": str(population) if population else None, "intervals": intervals}
    t0 = time.perf_counter()
    ivs = _intervals(batch.results) if intervals else []
    t1 = time.perf_counter()
    files = write_many(batch, out, options)
    files += _write_intervals(out, ivs, False)
    t2 = time.perf_counter()
    for knr, message in batch.failed:
        console.print(f"[red]failed:[/red] {knr}: {message}", highlight=False)
    extra = f", intervals {t1 - t0:.1f} s" if intervals else ""
    console.print(f"{len(batch.results)} kommuner projected ({len(batch.failed)} failed) in "
                  f"{batch.timings['run_s']:.1f} s{extra}, written in {t2 - t1:.1f} s; "
                  f"wrote {len(files)} files to {out}/")
    if batch.failed:
        raise typer.Exit(1)


def _print_summary(result, rows) -> None:
    from rich.table import Table

    from sim.numbers import number

    inp = result.inputs
    table = Table(title=f"{inp.municipality_name} ({inp.municipality}) - {result.scenario.name}")
    keys = ["year", "total", "0", "1-5", "6-15", "16-19", "20-66", "67-79", "80-89", "90+",
            "births", "deaths", "net_migration", "refugees"]
    for k in keys:
        table.add_column(k, justify="right")
    for row in rows:
        table.add_row(*[(str(row[k]) if k == "year" else
                         number(row[k]) if k in row else "") for k in keys])
    console.print(table)


@app.command("compare")
@clean_errors
@writes_to("out")
def compare_cmd(
    scenarios: Annotated[list[Path], typer.Argument(
        help="two or more scenario TOML files; the first is the reference")],
    years: Annotated[str, typer.Option(help="comma-separated years (1 January)")] =
        "2030,2035",
    services: Annotated[str, typer.Option(help="comma-separated services")] =
        "barnehage,grunnskole",
    out: Annotated[Path, typer.Option(help="results folder")] = Path("results/compare"),
) -> None:
    """Compare scenarios: users, places and gaps by zone and year, and the differences."""
    from rich.table import Table

    from sim.compare import compare_table, summary_lines, write_compare
    from sim.numbers import number, signed
    from sim.run import run
    from sim.scenarios import scenario_for

    if len(scenarios) < 2:
        raise InputError("command line", "SCENARIOS", "give two or more scenario files")
    try:
        wanted = [int(y) for y in years.split(",") if y.strip()]
    except ValueError:
        raise InputError("command line", "--years", f"'{years}': comma-separated years, "
                         "e.g. 2030,2035") from None
    if not wanted:
        raise InputError("command line", "--years", f"'{years}' names no year; give "
                         "comma-separated years, e.g. 2030,2035")
    chosen = [scenario_for(path)[0] for path in scenarios]
    kommuner = {s.municipality for s in chosen}
    if len(kommuner) > 1:
        raise InputError("command line", "SCENARIOS", "compare needs scenarios of one kommune "
                         f"(its zones and services); got {', '.join(sorted(kommuner))}")
    results = [run(sc) for sc in chosen]
    table = compare_table(results, wanted, tuple(s.strip() for s in services.split(",")))
    files = write_compare(table, out)
    view = Table(title=f"Mot «{results[0].scenario.name}»")
    for col in ("scenario", "år", "sone", "tjeneste", "brukere", "endring", "plassbehov",
                "plasser i dag", "nye plasser", "mangler (+) / ledige (−)"):
        view.add_column(col, justify="left" if col in ("scenario", "sone", "tjeneste")
                        else "right")
    for row in table[table.scenario != results[0].scenario.name].itertuples():
        view.add_row(row.scenario, str(row.year), row.district, row.service, number(row.users),
                     signed(row.users_diff), number(getattr(row, "place_demand", None)),
                     number(row.capacity), number(getattr(row, "new_places", None)),
                     signed(row.gap))
    console.print(view)
    for line in summary_lines(table):
        console.print(line, highlight=False)
    console.print(f"wrote {len(files)} files to {out}/")


@app.command("kommuner")
@clean_errors
def kommuner_cmd(
    fylke: Annotated[str | None, typer.Option(help="only this fylke")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout instead of a table")] = False,
) -> None:
    """List the 357 kommuner: number, name, fylke and population on 1 January 2024."""
    from rich.table import Table

    from sim.data.kommuner import fylke_name, kommuner, select_kommuner
    from sim.data.population import embedded_population

    chosen = set(select_kommuner("all", fylke))
    table = embedded_population()
    rows = [(k.number, k.name, fylke_name(k.fylke), int(table.array(k.number, 2024).sum()))
            for k in kommuner() if k.number in chosen]
    if csv:
        sys.stdout.write("kommunenummer,kommune,fylke,population_2024\n")
        for row in rows:
            sys.stdout.write(",".join(f'"{v}"' if isinstance(v, str) and "," in v else str(v)
                                      for v in row) + "\n")
        return
    out = Table(title=f"{len(rows)} kommuner (SSB 07459, 1 January 2024)")
    for col, just in (("kommunenummer", "left"), ("kommune", "left"), ("fylke", "left"),
                      ("population 2024", "right")):
        out.add_column(col, justify=just)
    for number, name, fy, persons in rows:
        out.add_row(number, name, fy, f"{persons:,}")
    console.print(out)


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
@writes_to("out")
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
    from sim.budget.analysis import project_paces
    from sim.budget.cli import budget_command, print_budget

    result, files = budget_command(scenario, municipality, config, out, with_plots=plots,
                                   pace=pace)
    print_budget(console, result.budget, project_paces(result, result.budget.config))
    console.print(f"wrote {len(files)} files to {out}/")


@app.command("inputs")
@clean_errors
@writes_to("out")
def inputs_cmd(
    scenario: ScenarioArg = None,
    municipality: MunicipalityOpt = None,
    zones: ZonesOpt = None,
    horizon: HorizonOpt = None,
    base_year: BaseYearOpt = None,
    population: PopulationOpt = None,
    out: Annotated[Path, typer.Option(help="folder for the CSV files")] = Path("results/inputs"),
) -> None:
    """Write every resolved input the engine uses as CSV (columns documented in README.md)."""
    from sim.inputfiles import write_inputs
    from sim.inputs import resolve
    from sim.io import package_version, write_atomically
    from sim.scenarios import scenario_for

    sc, notes = scenario_for(scenario, municipality, horizon, base_year, population, zones)
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    inputs = resolve(sc)

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
@writes_to("out")
def data_import(
    files: Annotated[list[Path], typer.Argument(
        help="SSB 07459 exports (Statbank CSV in any layout, or JSON-stat 2.0); several files "
             "are merged")],
    out: Annotated[Path, typer.Option(help="folder for population_<kommunenummer>.csv")] = Path(
        "kommunesim-data"),
) -> None:
    """Merge SSB Statbank exports of table 07459 into one history per 2024 kommune.

    Old kommunenummer are mapped to the 2024 kommune (SSB's redistricting key); years already
    in OUT/population_<kommunenummer>.csv are kept and the new ones added.
    """
    from sim.data.ssb import import_exports

    result = import_exports(files, out)
    for line in result.lines:
        console.print(line, highlight=False, soft_wrap=True)
    knr, path = next(iter(result.written.items()))
    console.print(f"run it: kommunesim run --municipality {knr} --population {path}",
                  highlight=False, soft_wrap=True)


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


def main() -> None:
    """The ``kommunesim`` entry point: usage errors, too, are one ``error:`` line (exit 2).

    (Typer would print them in a box over several lines.) ``--help`` and a command without
    arguments still print their help.
    """
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        print(exc.ctx.get_help())
        sys.exit(0)
    except UsageError as exc:
        message = " ".join(exc.format_message().split())
        where = f"'{exc.ctx.command_path}'" if exc.ctx is not None else "command line"
        print(f"error: command line: {message} (see {where} --help)", file=sys.stderr)
        sys.exit(2)
    except ClickException as exc:
        print(f"error: command line: {' '.join(exc.format_message().split())}",
              file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
