"""``kommunesim serve`` (the web app) and ``kommunesim export`` (Excel from a results folder).

Dash, Plotly and openpyxl are imported inside the commands, so ``kommunesim --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.errors import InputError, clean_errors


@clean_errors
def serve_cmd(
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0: the whole "
                                           "network, e.g. a kommune intranet)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8050,
    sweeps: Annotated[Path | None, typer.Option(
        help="folder whose finished sweeps the app may open (default: results/ if it exists)"
    )] = None,
) -> None:
    """Start the web app: scenario editor, live results, side by side, Excel, sweeps."""
    from sim.app.server import create_app

    root = sweeps if sweeps is not None else (Path("results") if Path("results").is_dir()
                                              else None)
    if root is not None and not root.is_dir():
        raise InputError("command line", "--sweeps", f"{root} is not a folder")
    typer.echo(f"kommunesim web app on http://{host}:{port}/ (Ctrl+C to stop)")
    create_app(root).run(host=host, port=port, debug=False)


@clean_errors
def export_cmd(
    results_dir: Annotated[Path, typer.Argument(help="results folder of 'kommunesim run'")],
    out: Annotated[Path, typer.Option(help="Excel file to write")] = Path("kommunesim.xlsx"),
) -> None:
    """Write a run's population, services, demografikostnader and budget as one Excel file."""
    from sim.export import tables_from_folder, write_xlsx
    from sim.folders import check_output_folder

    if out.suffix.lower() != ".xlsx":
        raise InputError("command line", "--out", f"{out}: the file name must end in .xlsx")
    if out.is_dir():
        raise InputError("command line", "--out", f"{out} is a folder; give an .xlsx file")
    check_output_folder(out.parent)  # before reading: below a file, read-only, no permission
    path = write_xlsx(tables_from_folder(results_dir), out)
    typer.echo(f"wrote {path}")
