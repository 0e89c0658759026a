"""The check behind ``kommunesim services CATALOGUE --check``: validate and summarise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.services.catalogue import Service, check_districts, load_catalogue


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
        groups = ", ".join(f"{g.label}: {g.coverage:.3g}"
                           + (f" ({g.places_per_user:g} places/user)"
                              if g.places_per_user != 1 else "") for g in s.age_groups)
        places = sum(f.places for f in s.facilities)
        cap = f", {places:g} places in {len(s.facilities)} facilities" if s.facilities else ""
        of = (f" of refugees settled in the last {s.driver_years} years"
              if s.driver == "recent_refugees" else "")
        typer.echo(f"  {key:<22} {s.unit_cost_nok:>11,.0f} NOK/user ({s.price_year}), "
                   f"{s.staff_per_user:.3g} årsverk/user; coverage {groups}{of}{cap}")
        for line in capacity_lines(s):
            typer.echo(f"      {line}")


def capacity_lines(service: Service) -> list[str]:
    """Today's places, facilities by zone (with opening and closing years) and the building."""
    lines = []
    if service.capacity_scope == "kommune":
        lines.append("places serve the whole kommune: new buildings follow the kommune's gap")
    if service.existing_capacity == "base_year_demand":
        lines.append("places today: the base year's place demand in every zone (ASSUMPTION)"
                     + (", changed by the facilities below" if service.facilities else ""))
    zones: dict[str, list[str]] = {}
    for f in service.facilities:
        when = ", ".join(w for w in (f.kind or "", f"opens {f.opens}" if f.opens else "",
                                     f"closes {f.closes}" if f.closes else "") if w)
        zones.setdefault(f.district, []).append(f"{f.name} {f.places:g}"
                                                + (f" ({when})" if when else ""))
    for zone, names in zones.items():
        lines.append(f"zone {zone}: " + "; ".join(names))
    b = service.building
    if b is not None:
        lines.append(f"new building: {b.name}, {b.places} places, {b.cost_nok:,.0f} NOK "
                     f"({service.price_year}), when a zone's gap exceeds {b.threshold:g} places "
                     f"after the openings planned within {b.look_ahead_years} years"
                     + (f", from {b.first_year}" if b.first_year else "")
                     + (f", built in {b.zone}" if b.zone else ""))
    return lines
