"""The check behind ``kommunesim services CATALOGUE --check``: validate and summarise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.services.catalogue import check_districts, load_catalogue


def check(
    catalogue: Annotated[Path, typer.Argument(help="service catalogue TOML file")],
    districts: Annotated[list[str] | None, typer.Option(
        "--districts", help="district names facilities may use (repeat the option)")] = None,
) -> None:
    """Validate a service catalogue and print a short summary.

    Bad input raises ``InputError``; the CLI's ``clean_errors`` prints it (one line, exit 2).
    """
    cat = load_catalogue(catalogue)
    if districts:
        check_districts(cat, districts, catalogue)
    title = f"{cat.name or ''} ({cat.municipality})".strip()
    typer.echo(f"{catalogue}: OK, {len(cat.services)} services for {title}")
    for key, s in cat.services.items():
        groups = ", ".join(f"{g.label}: {g.coverage:.3g}" for g in s.age_groups)
        places = sum(f.places for f in s.facilities)
        cap = f", {places:g} places in {len(s.facilities)} facilities" if s.facilities else ""
        of = (f" of refugees settled in the last {s.driver_years} years"
              if s.driver == "recent_refugees" else "")
        typer.echo(f"  {key:<22} {s.unit_cost_nok:>11,.0f} NOK/user ({s.price_year}), "
                   f"{s.staff_per_user:.3g} årsverk/user; coverage {groups}{of}{cap}")
