"""Sweep commands for the ``kommunesim`` CLI: ``sweep``, ``report``, ``summary``.

Plain functions with typer-annotated parameters, wrapped with ``sim.errors.clean_errors`` (bad
input: one line on stderr, exit code 2; ``sweep`` exits with code 1 when every scenario failed).
The main CLI registers them::

    app.command("sweep")(sweep_cmd); app.command("report")(report_cmd)
    app.command("summary")(summary_cmd)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sim.errors import clean_errors, console

__all__ = ["report_cmd", "summary_cmd", "sweep_cmd"]


@clean_errors
def sweep_cmd(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP.toml", help="sweep TOML file")],
    out: Annotated[Path, typer.Option("--out", help="results folder (new, or --resume)")],
    backend: Annotated[str, typer.Option(help="local (process pool) or dask")] = "local",
    workers: Annotated[int | None, typer.Option(
        help="processes / Dask LocalCluster workers (default: all cores)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address, e.g. tcp://host:8786 (with --backend dask)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue a killed sweep in OUT: "
                                         "compute only missing parts")] = False,
    engine: Annotated[str | None, typer.Option(
        help="projection engine: cohort or abm (overrides the sweep file)")] = None,
    runs: Annotated[int | None, typer.Option(
        help="ABM replicates per scenario (engine abm; overrides the sweep file)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    max_scenarios: Annotated[int | None, typer.Option(
        help="most scenarios (ABM: scenarios x runs) the sweep may have (default 100,000)")
    ] = None,
    intervals: Annotated[bool, typer.Option(
        "--intervals", help="also write intervals.parquet: prediction intervals per scenario "
        "(cohort sweeps; sim/intervals/METHOD.md)")] = False,
) -> None:
    """Run a sweep of scenarios; stream results to OUT as Parquet parts plus manifest.json."""
    from experiments.sweep import sweep

    result = sweep(sweep_file, out, backend=backend, workers=workers, scheduler=scheduler,
                   resume=resume, engine=engine, runs=runs, progress=progress,
                   max_scenarios=max_scenarios)
    console().print(f"{result.n_scenarios} scenarios ({result.n_failed} failed, "
                    f"{result.chunks_computed} parts computed) in {result.elapsed_s:.1f} s "
                    f"-> {out}/")
    if intervals:
        from experiments.intervals import sweep_intervals

        console().print(f"wrote {sweep_intervals(sweep_file, out, engine=engine)}")
    if result.n_scenarios and result.n_failed == result.n_scenarios:
        from rich.console import Console

        first = next((e["error"] for e in json.loads((out / "manifest.json").read_text())
                      ["scenarios"] if e["status"] == "failed"), "")
        Console(stderr=True).print(f"[red]error:[/red] every scenario failed (see "
                                   f"{out / 'errors.parquet'}); the first: {first}",
                                   highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@clean_errors
def report_cmd(
    out: Annotated[Path, typer.Argument(metavar="DIR", help="sweep results folder")],
    year: Annotated[int | None, typer.Option(help="year for tornado and sensitivity "
                                             "(default: the sweep's report_year or last)")] = None,
) -> None:
    """Fan charts, tornado, sensitivity heat map (PNG) and a self-contained report.html."""
    from experiments.report import report

    path = report(out, year)
    console().print(f"wrote {path}")


@clean_errors
def summary_cmd(
    out: Annotated[Path, typer.Argument(metavar="DIR", help="sweep results folder")],
    csv: Annotated[bool, typer.Option("--csv", help="write summary.csv and sensitivity.csv "
                                      "into DIR")] = False,
    year: Annotated[int | None, typer.Option(help="year shown (default: report year)")] = None,
) -> None:
    """Quantiles over the sweep's scenarios per indicator (printed for one year).

    ABM sweeps: over the scenarios' means over runs, with the mean P5/P95 over runs.
    """
    from experiments.report import _manifest, _report_year, summary

    table = summary(out, csv=csv, year=year)
    year = _report_year(_manifest(Path(out)), table, year)
    rows = table[table["year"] == year]
    from rich.table import Table

    view = Table(title=f"{out}: indicators {year}")
    cols = ["indicator", "n", "mean", "p5", "p50", "p95"]
    if "run_p5" in table.columns:  # ABM: scenario means; mean P5/P95 over runs
        cols += ["run_p5", "run_p95"]
    for c in cols:
        view.add_column(c, justify="left" if c == "indicator" else "right")
    for _, r in rows.iterrows():
        view.add_row(r["indicator"], f"{r['n']:.0f}",
                     *[f"{r[c]:,.0f}" for c in cols[2:]])
    console().print(view)
    if csv:
        console().print(f"wrote {Path(out) / 'summary.csv'} and {Path(out) / 'sensitivity.csv'}")
