"""Scenarios as the command line (and the web app) build them: a file, a kommune, overrides.

``scenario_for(...)`` is the one place that turns "a scenario file and/or a kommune (number or
name) plus options" into a validated ``Scenario``; the CLI's ``run``, ``inputs``, ``budget`` and
the web app all use it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from sim.config import Scenario, load_scenario, scenario_from_dict
from sim.data.kommuner import lookup_kommune
from sim.errors import InputError

CLI = "command line"
KOMMUNE_SPECIFIC = ("fertility.level", "mortality.level", "migration.in_per_year",
                    "migration.gross_out_rate", "migration.estimation_years",
                    "refugees.settled_per_year", "inputs", "zones.history", "districts",
                    "housing", "services.catalogue", "budget.config")
"""Scenario keys whose values belong to one kommune (fitted levels, its plans, its files)."""


def kommune_specific(data: dict[str, Any]) -> list[str]:
    """The ``KOMMUNE_SPECIFIC`` keys a scenario dict sets (not None, not empty)."""
    found = []
    for key in KOMMUNE_SPECIFIC:
        value: Any = data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value not in (None, {}, (), []):
            found.append(key)
    return found


def main_scenario_file(kommunenummer: str) -> Path | None:
    """``experiments/scenarios/<name>_main.toml`` named in ``municipalities.toml``, if any."""
    from sim.data.population import municipality_defaults

    name = municipality_defaults().get(kommunenummer, {}).get("main_scenario")
    if name is None:
        return None
    return Path(str(resources.files("experiments").joinpath("scenarios", name)))


def scenario_for(path: Path | None, municipality: str | None = None, horizon: int | None = None,
                 base_year: int | None = None, population: Path | None = None,
                 zones: str | None = None) -> tuple[Scenario, list[str]]:
    """A scenario from a file (or a kommune's defaults) with command-line overrides.

    Args:
        path: scenario TOML (or a built-in scenario's name, e.g. ``lorenskog_housing``), or
            None for the kommune's main scenario (or plain defaults).
        municipality: kommunenummer or name (overrides the file's).
        horizon, base_year: override the file's.
        population: a population history CSV (``kommunesim data import``); without a base year,
            the file's last year becomes the base year (and a note says so).
        zones: ``"bydeler"`` for the built-in zones.

    Returns:
        (scenario, notes): the notes say what was chosen on the user's behalf.

    Raises:
        InputError: naming the command-line option or the file at fault.
    """
    notes: list[str] = []
    knr = lookup_kommune(municipality, CLI, "--municipality") if municipality else None
    if path is not None and not Path(path).exists():  # a built-in scenario by name
        from sim.config import builtin_scenarios

        path = builtin_scenarios().get(str(path), path)
    if path is None and knr is None:
        raise InputError(CLI, None, "give a scenario file or --municipality/-m (a "
                         "kommunenummer or name such as 3222 or Lørenskog, or 'all'); "
                         "'kommunesim kommuner' lists them")
    if path is None and population is None and base_year is None and zones is None:
        # The kommune's main scenario (calibrated on the years up to 2024), if it has one;
        # another base year re-estimates everything from the years before it instead.
        path = main_scenario_file(knr)
    scenario = load_scenario(path) if path else None
    data: dict[str, Any] = (scenario.model_dump(exclude={"source"}, exclude_none=True)
                            if scenario else {"name": "default (main)", "municipality": knr})
    if scenario is not None and knr is not None and knr != scenario.municipality:
        own = kommune_specific(data)
        if own:
            raise InputError(CLI, "--municipality", f"{path} is a scenario for "
                             f"{scenario.municipality} with settings of that kommune "
                             f"({', '.join(own)}); run -m {knr} without the file, or write a "
                             f"scenario for {knr}")
    cli: dict[str, Any] = {"municipality": knr, "horizon": horizon, "base_year": base_year}
    data.update({k: v for k, v in cli.items() if v is not None})
    if zones is not None:
        data.setdefault("zones", {})["source"] = zones
    if population is not None:
        data.setdefault("inputs", {})["population"] = str(population.resolve())
        explicit = base_year is not None or (scenario is not None
                                             and "base_year" in scenario.model_fields_set)
        if not explicit:
            last = _last_year(population, data["municipality"])
            if last is not None and last != data.get("base_year", 2024):
                data["base_year"] = last
                notes.append(f"base year {last}: the last year in {population} "
                             "(set --base-year to choose another)")
    changed = any(v is not None for v in cli.values()) or population is not None \
        or zones is not None
    if not changed and scenario is not None:
        return scenario, notes
    source = str(path) if path else CLI
    try:
        return scenario_from_dict(data, source), notes
    except InputError as exc:
        option = {"horizon": "--horizon", "base_year": "--base-year"}.get(exc.field or "")
        if option and cli.get(exc.field) is not None:  # the bad value came from the CLI
            raise InputError(CLI, option, exc.message) from None
        raise


def build_scenario(path: Path | None, municipality: str | None, horizon: int | None,
                   base_year: int | None, population: Path | None) -> Scenario:
    """``scenario_for`` without the notes (for callers that print none)."""
    return scenario_for(path, municipality, horizon, base_year, population)[0]


def _last_year(population: Path, kommunenummer: str) -> int | None:
    from sim.data.population import available_years, population_table

    years = available_years(population_table(population), kommunenummer)
    return years[-1] if years else None
