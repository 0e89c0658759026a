"""The scenario a web-app user edits: a plain dict in the shape of the CLI's scenario TOML.

The dict is what ``sim.config.read_scenario_dict`` returns (``extends`` already merged, year
keys as strings, tuples as lists), so it serialises to JSON (the browser's ``dcc.Store``) and to
TOML (``kommunesim run FILE``) unchanged. Editing helpers read and write nested keys
(``"refugees.settled_per_year"``) and convert year paths to table rows and back; only
``run_values`` asks the model (for the defaults a run uses), so new scenario sections (zones,
housing) need no change here.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Sequence
from typing import Any

import tomli_w

from sim.config import Scenario, read_scenario_dict, scenario_from_dict
from sim.errors import InputError

APP_SOURCE = "nettappen"
"""``source`` of scenarios built in the app (named in error messages)."""

FILE_KEYS = (("extends",), ("inputs",), ("services", "catalogue"), ("budget", "config"))
"""Keys naming files on the server: not accepted from an uploaded scenario."""

YEAR, VALUE = "år", "verdi"
"""Column ids of a year-path table (``path_rows``)."""


def available_kommuner() -> list[tuple[str, str]]:
    """(kommunenummer, name) of every 2024 kommune (the registry), sorted by name."""
    from sim.data.kommuner import kommuner

    return sorted(((k.number, k.name) for k in kommuner()), key=lambda k: (k[1], k[0]))


def default_scenario(kommunenummer: str) -> dict[str, Any]:
    """The kommune's main scenario as the CLI runs it (``kommunesim run -m K``), as a dict."""
    from sim.scenarios import main_scenario_file

    path = main_scenario_file(kommunenummer)
    if path is None:
        return {"name": "hovedalternativ", "municipality": kommunenummer}
    return read_scenario_dict(path)


def run_values(data: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The value a run of ``data`` uses for each dotted key: the scenario's own or the default.

    Defaults are the scenario model's (``horizon`` 2050) and, for year paths the scenario
    leaves unset, the ones ``resolve`` estimates for the kommune (``sim.inputs.default_paths``:
    SSB's TFR path, the settlement plan, multipliers of 1), with years as text keys like the
    scenario dict's. The editor shows these, so every kommune shows what it runs. A scenario
    that does not resolve gets its own values only (the editor shows its error).
    """
    from sim.inputs import default_paths

    own = {key: get_in(data, key) for key in keys}
    try:
        valid = validate(data)
        paths = default_paths(valid)
    except InputError:
        return own
    dump = valid.model_dump()
    out = {}
    for key, value in own.items():
        if value is None:
            value = get_in(dump, key)
        if value is None:
            value = paths.get(key)
        out[key] = {str(y): v for y, v in value.items()} if isinstance(value, dict) else value
    return out


def validate(data: dict[str, Any]) -> Scenario:
    """The validated scenario (``InputError`` naming the field when something is wrong)."""
    return scenario_from_dict(data, APP_SOURCE)


def canonical(data: dict[str, Any]) -> str:
    """A stable text key of a scenario dict (sorted JSON): equal dicts, equal keys."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def to_toml(data: dict[str, Any]) -> str:
    """The scenario as TOML text that ``kommunesim run FILE`` reads."""
    header = ("# Scenario saved from kommunesim's web app (kommunesim serve).\n"
              "# Run it with: kommunesim run THIS_FILE --out results/my_run\n")
    return header + tomli_w.dumps(_tomlable(data))


def _tomlable(value: Any) -> Any:
    """Drop None values (TOML has no null) recursively."""
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_tomlable(v) for v in value]
    return value


def from_toml(text: str, source: str = "opplastet fil") -> dict[str, Any]:
    """A scenario dict from uploaded TOML text, validated (``InputError`` if it is not valid).

    Files on the server cannot be named from the web (``extends``, ``[inputs]``, catalogue and
    budget config files): such a scenario is rejected with a message saying so.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, None, f"ikke gyldig TOML: {exc}") from None
    for key in FILE_KEYS:
        if get_in(data, ".".join(key)) is not None:
            raise InputError(source, ".".join(key), "filhenvisninger kan ikke lastes opp i "
                             "nettappen; kjør slike scenarioer med kommunesim run")
    data.pop("source", None)
    scenario_from_dict(data, source)
    return data


def get_in(data: dict[str, Any], key: str, default: Any = None) -> Any:
    """The value at a dotted key (``"refugees.settled_per_year"``), or ``default``."""
    cur: Any = data
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def set_in(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``key`` set (``None`` removes it, and sections left empty)."""
    out = copy.deepcopy(data)
    *parents, last = key.split(".")
    chain = [out]
    for part in parents:
        nxt = chain[-1].get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            chain[-1][part] = nxt
        chain.append(nxt)
    if value is None:
        chain[-1].pop(last, None)
        for parent, part in zip(reversed(chain[:-1]), reversed(parents), strict=True):
            if parent[part]:
                break
            del parent[part]
    else:
        chain[-1][last] = value
    return out


def path_rows(path: dict[str, float] | None) -> list[dict[str, Any]]:
    """Rows ``{"år": 2030, "verdi": "1,5"}`` of a year path (sorted by year).

    Values are text with a decimal comma, as a Norwegian user reads and types them;
    ``rows_path`` reads them back to the same numbers.
    """
    return [{YEAR: int(y), VALUE: cell_text(v)}
            for y, v in sorted((path or {}).items(), key=lambda kv: int(kv[0]))]


def cell_text(value: float | None) -> str | None:
    """A number as table text: ``190``, ``1,44`` (exact: ``_number`` reads it back)."""
    if value is None:
        return None
    return str(value) if isinstance(value, int) else repr(float(value)).replace(".", ",")


def rows_path(rows: list[dict[str, Any]] | None) -> dict[str, float] | None:
    """The year path of table rows; rows without a year or value are skipped, none -> None."""
    path = {}
    for row in rows or []:
        year, value = _number(row.get(YEAR)), _number(row.get(VALUE))
        if year is not None and value is not None:
            path[str(int(year))] = value
    return dict(sorted(path.items())) or None


def _number(value: Any) -> float | None:
    """A number typed in a table cell (decimal comma allowed), or None if it is not one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-").replace(" ", "").replace(",", ".")
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            return None
    return None


HOUSING_COLUMNS = ("prosjekt", "sone", "boligtype", YEAR, "boliger")
"""Columns of the housing-programme table: one row per project and completion year."""


def housing_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``[[housing.projects]]``: project, zone, dwelling type, year, dwellings."""
    rows = []
    for p in get_in(data, "housing.projects", []) or []:
        for year, n in sorted(p.get("completions", {}).items(), key=lambda kv: int(kv[0])):
            rows.append({"prosjekt": p.get("name", "prosjekt"), "sone": p.get("district") or "",
                         "boligtype": p.get("dwelling_type", "blokk"), YEAR: int(year),
                         "boliger": cell_text(n)})
    return rows


def with_housing_rows(data: dict[str, Any], rows: list[dict[str, Any]] | None,
                      ) -> dict[str, Any]:
    """``data`` with ``housing.projects`` rebuilt from table rows (other housing keys kept).

    Rows of one (project, zone, type) are one project; rows missing a year or a number of
    dwellings are skipped. No rows left: the projects key is removed.
    """
    projects: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in rows or []:
        year, n = _number(row.get(YEAR)), _number(row.get("boliger"))
        if year is None or n is None:
            continue
        key = (str(row.get("prosjekt") or "prosjekt"), str(row.get("sone") or ""),
               str(row.get("boligtype") or "blokk"))
        projects.setdefault(key, {})[str(int(year))] = n
    value = [{"name": name, **({"district": zone} if zone else {}), "dwelling_type": kind,
              "completions": dict(sorted(done.items()))}
             for (name, zone, kind), done in projects.items()] or None
    return set_in(data, "housing.projects", value)


COVERAGE_COLUMNS = ("tjeneste", YEAR, "multiplikator")
"""Columns of the coverage what-if table (``services.coverage_path``)."""


def coverage_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``services.coverage_path``: service (or service/age group), year, multiplier."""
    return [{"tjeneste": name, YEAR: row[YEAR], "multiplikator": row[VALUE]}
            for name, path in (get_in(data, "services.coverage_path", {}) or {}).items()
            for row in path_rows(path)]


def with_coverage_rows(data: dict[str, Any], rows: list[dict[str, Any]] | None,
                       ) -> dict[str, Any]:
    """``data`` with ``services.coverage_path`` rebuilt from table rows."""
    paths: dict[str, list[dict[str, Any]]] = {}
    for row in rows or []:
        if row.get("tjeneste"):
            paths.setdefault(str(row["tjeneste"]), []).append(
                {YEAR: row.get(YEAR), VALUE: row.get("multiplikator")})
    value = {k: p for k, rs in paths.items() if (p := rows_path(rs))} or None
    return set_in(data, "services.coverage_path", value)
