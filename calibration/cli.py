"""Command-line functions: ``fit``, ``calibrate`` and ``validate`` (typer).

The main CLI registers ``calibrate_cmd`` and ``validate_cmd`` as ``kommunesim calibrate`` and
``kommunesim validate``; ``python -m calibration.cli`` runs them standalone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.errors import clean_errors

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fit, calibrate and back-test kommunesim projections.")

MunicipalityArg = Annotated[str, typer.Argument(help="kommunenummer, e.g. 3222")]
PopulationOpt = Annotated[Path | None, typer.Option(
    help="population history CSV in the package format (other municipalities)")]


@app.command("fit")
@clean_errors
def fit_cmd(
    municipality: MunicipalityArg,
    base_year: Annotated[int, typer.Option(help="last population year of the window")] = 2024,
    out: Annotated[Path, typer.Option(
        help="folder for <knr>.toml and <knr>_fit.json (the shipped levels are "
        "calibration/fitted: give it to replace them)")] = Path("results/fitted"),
    population: PopulationOpt = None,
) -> None:
    """Fit the default levels and write the partial scenario and its fit errors."""
    from calibration.fit import fit_defaults

    res = fit_defaults(municipality, base_year=base_year, out_dir=out, population=population)
    p = res.report["parameters"]
    typer.echo(f"fertility.level = {res.fit.fertility_level:.4f} "
               f"(births MAPE {p['fertility.level']['mape_pct']} %), mortality.level = "
               f"{res.fit.mortality_level:.4f} (deaths MAPE {p['mortality.level']['mape_pct']} %), "
               f"in_per_year = {res.fit.in_per_year:.0f}")
    typer.echo(f"wrote {res.toml_path} and {res.json_path}")


@app.command("calibrate")
@clean_errors
def calibrate_cmd(
    municipality: MunicipalityArg,
    targets: Annotated[Path | None, typer.Option(
        help="targets TOML (default: calibration/targets/<knr>.toml)")] = None,
    out: Annotated[Path, typer.Option(help="folder for the calibrated scenario and report")] =
        Path("results/calibration"),
    population: PopulationOpt = None,
) -> None:
    """Fit the targets file's knobs to its targets; write scenario, JSON and Markdown."""
    from calibration.calibrate import calibrate, calibration_markdown, write_calibration
    from calibration.common import TARGETS_DIR

    path = targets or TARGETS_DIR / f"{municipality}.toml"
    res = calibrate(municipality, path, population)
    files = write_calibration(res, out)
    typer.echo(calibration_markdown(res))
    typer.echo("wrote " + ", ".join(str(f) for f in files))


@app.command("validate")
@clean_errors
def validate_cmd(
    municipality: Annotated[list[str] | None, typer.Argument(
        help="kommunenummer (several allowed); default 3205 3222")] = None,
    out: Annotated[Path, typer.Option(help="folder for validation.md and plots")] = Path(
        "results/validation"),
    population: PopulationOpt = None,
    calibrate_targets: Annotated[bool, typer.Option(
        help="also calibrate to calibration/targets/<knr>.toml when present")] = True,
    abm_runs: Annotated[int, typer.Option(
        min=0, help="ABM runs for the P5-P95 band of the 2022 and 2014 back-tests; 0 disables")
    ] = 100,
    abm_workers: Annotated[int, typer.Option(min=1, help="processes for the ABM runs")] = 1,
    all_kommuner: Annotated[bool, typer.Option(
        "--all", help="back-test every kommune (2019->2024, 2022->2024) and the bydeler; "
        "writes country_validation.md")] = False,
    intervals: Annotated[bool, typer.Option(
        "--intervals", help="with --all: rolling-origin check of the prediction intervals "
        "(jump-offs 2007-2023, several minutes) and refit sim/intervals/scales.json")] = False,
) -> None:
    """Back-test (2022->2024, 2023->2024, 2014->2024) and write out/validation.md with plots.

    With ``--abm-runs N`` (default 100) the agent-based engine is run N times with each
    back-test's inputs and the observed values are compared with its ABM band (tilfeldig
    variasjon gitt forutsetningene). ``--all`` back-tests every kommune instead,
    from 2019 and 2022 to 2024, and the bydeler (``calibration.country``), and writes
    ``country_validation.md``; with ``--intervals`` also the prediction intervals' check.
    """
    if all_kommuner:
        from calibration.country_report import write_country_report
        from sim.errors import InputError

        given = [name for name, v in (("MUNICIPALITY", municipality),
                                      ("--population", population)) if v]
        if given:
            raise InputError("command line", given[0], "--all back-tests every kommune of the "
                             "embedded history; leave out the kommuner and --population")

        path = write_country_report(out, with_intervals=intervals,
                                    echo=lambda line: typer.echo(line))
        typer.echo(f"wrote {path}")
        return
    if intervals:
        from sim.errors import InputError

        raise InputError("command line", "--intervals", "the interval check runs over every "
                         "kommune: use it with --all")
    from sim.run import MAX_WORKERS

    if not 1 <= abm_workers <= MAX_WORKERS:
        from sim.errors import InputError

        raise InputError("command line", "--abm-workers", f"{abm_workers}: must be within "
                         f"1..{MAX_WORKERS:,}")
    from calibration.calibrate import calibrate
    from calibration.common import FITTED_DIR, TARGETS_DIR
    from calibration.report import write_validation_report
    from calibration.validate import reproduce_year, validate

    knrs = municipality or ["3205", "3222"]
    results, cals, reps = [], [], {}
    for knr in knrs:
        res = validate(knr, population, abm_runs=abm_runs, abm_workers=abm_workers)
        results.append(res)
        bt = next((b for b in res.backtests if b.name == "short 2022"), None)
        for b in res.backtests:
            if b.name == "short 2022":
                e = b.errors[-1]
                typer.echo(f"{knr} {b.variant}: total error 1 Jan {e.year} from 2022 = "
                           f"{e.total_error_pct:+.2f} %, age-group MAPE {e.age_group_mape:.2f} %")
        for band in res.abm:
            c, n = band.cells
            t, ty = band.total_covered
            typer.echo(f"{knr} {band.name} {band.variant}: ABM band (tilfeldig variasjon gitt "
                       f"forutsetningene, P5-P95; {band.runs} runs) "
                       f"covers {c} of {n} age-group x year cells ({band.coverage:.0%}), "
                       f"the total in {t} of {ty} years")
        if bt is None:
            typer.echo(f"{knr}: " + "; ".join(res.skipped))
        if population is None and (FITTED_DIR / f"{knr}.toml").exists():
            reps[knr] = [reproduce_year(knr, 2023, use_fitted=False), reproduce_year(knr, 2023)]
        target = TARGETS_DIR / f"{knr}.toml"
        if calibrate_targets and population is None and target.exists():
            cals.append(calibrate(knr, target))
    path = write_validation_report(results, cals, out, reps)
    typer.echo(f"wrote {path}")


if __name__ == "__main__":
    app()
