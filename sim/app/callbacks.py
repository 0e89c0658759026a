"""The web app's callbacks: each reads the session's stores, calls the run API, renders views.

``register(app, sweeps_root)`` attaches them. The scenario lives in the browser
(``ids.SCENARIO``, a scenario dict); callbacks turn it into results with
``sim.app.compute.project`` and into figures with ``sim.app.views``. The ``on_*`` functions are
plain functions of the callbacks' values, so tests call them without a browser.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any

import dash
from dash import ALL, MATCH, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from sim.app import compute, ids, scenario, sweeps, views
from sim.app.layout import FIELDS, kommune_options
from sim.data.kommuner import search_kommuner
from sim.errors import InputError
from sim.export import budget_tables, tables_from_result, workbook_bytes

PATH_KEYS = [f.key for f in FIELDS if f.kind == "path"]
VALUE_KEYS = [f.key for f in FIELDS if f.kind != "path"]
COMPARE_KEYS = ("total", "barnehage", "grunnskole", "hjemmetjenester", "institusjon")
"""Series compared in sentences and the difference table (when the catalogue has them)."""
MAX_PINNED = 6
TICK_MS, PAUSED_MS = 200, 24 * 3600 * 1000
"""ABM progress: the next chunk starts this long after the last one finished."""


# --- scenario editing -----------------------------------------------------------------------

def on_load(trigger: str | None, kommune: str, upload: str | None, filename: str | None,
            toml_text: str | None, loaded: dict | None, edited: dict | None) -> tuple:
    """The scenario to load and the editor's field values.

    Returns (loaded, kommune, error, path rows, values, housing rows, coverage rows).
    """
    try:
        if trigger == ids.UPLOAD:
            text = base64.b64decode(upload.split(",", 1)[1]).decode("utf-8")
            data = scenario.from_toml(text, filename or "opplastet fil")
        elif trigger == ids.TOML_APPLY:
            data = scenario.from_toml(toml_text or "", "TOML-teksten")
        elif trigger == ids.KOMMUNE and loaded and loaded.get("municipality") == kommune:
            raise PreventUpdate
        elif trigger is None and (edited or loaded):
            data = edited or loaded  # a reload of the page keeps the session's scenario
        else:
            data = scenario.default_scenario(kommune)
    except InputError as exc:
        return (no_update,) * 2 + (f"Kan ikke lese scenarioet: {exc.line()}",) + \
            (no_update,) * 4
    except UnicodeDecodeError:
        return (no_update,) * 2 + ("Kan ikke lese filen: ikke UTF-8-tekst",) + (no_update,) * 4
    shown = scenario.run_values(data, PATH_KEYS + VALUE_KEYS)
    return (data, data["municipality"], "",
            [scenario.path_rows(shown[k]) for k in PATH_KEYS],
            [shown[k] for k in VALUE_KEYS],
            scenario.housing_rows(data), scenario.coverage_rows(data))


def edited_scenario(loaded: dict, paths: list, values: list, housing: list | None,
                    coverage: list | None) -> dict[str, Any]:
    """The loaded scenario with the editor's fields written into it.

    A field the loaded scenario leaves unset that still shows the run's default stays unset, so
    an unedited kommune default runs (and saves) as ``kommunesim run -m K`` does.
    """
    shown = scenario.run_values(loaded, PATH_KEYS + VALUE_KEYS)
    fields = [*zip(PATH_KEYS, map(scenario.rows_path, paths), strict=True),
              *zip(VALUE_KEYS, (None if v in ("", None) else v for v in values), strict=True)]
    data = loaded
    for key, value in fields:
        if scenario.get_in(loaded, key) is None and value == shown[key]:
            continue
        data = scenario.set_in(data, key, value)
    data = scenario.with_housing_rows(data, housing)
    return scenario.with_coverage_rows(data, coverage)


def on_edit(loaded: dict | None, paths: list, values: list, housing: list | None,
            coverage: list | None) -> tuple:
    """(scenario, its TOML, error): the edited scenario if it runs, else the error only."""
    if not loaded:
        raise PreventUpdate
    data = edited_scenario(loaded, paths, values, housing, coverage)
    try:
        compute.project(data)
    except InputError as exc:
        return no_update, no_update, f"Scenarioet kan ikke kjøres: {exc.line()}"
    return data, scenario.to_toml(data), ""


def on_kommune_search(text: str | None, value: str | None) -> list[dict]:
    """The kommune picker's options for the typed text, matched as the CLI's ``-m`` matches.

    ``search_kommuner`` (case and diacritics ignored: "baerum", "BÆRUM", "3201"). The chosen
    kommune stays among the options (so it keeps its label) without the search text, so the
    browser's filter hides it unless it matches the text too.
    """
    kommuner = scenario.available_kommuner()
    if not text or not text.strip():
        return kommune_options(kommuner)
    found = set(search_kommuner(text))
    return [*kommune_options([k for k in kommuner if k[0] in found], text),
            *kommune_options([k for k in kommuner if k[0] == value and value not in found])]


def add_year_row(rows: list | None) -> list:
    """A year-path table with one more row: the year after the last, same value."""
    rows = list(rows or [])
    last = rows[-1] if rows else {scenario.YEAR: 2023, scenario.VALUE: None}
    return [*rows, {scenario.YEAR: int(last.get(scenario.YEAR) or 2023) + 1,
                    scenario.VALUE: last.get(scenario.VALUE)}]


def file_name(name: str, suffix: str) -> str:
    """A safe download name from a scenario name."""
    stem = re.sub(r"[^\w\-]+", "_", name, flags=re.UNICODE).strip("_") or "scenario"
    return f"{stem}{suffix}"


# --- results --------------------------------------------------------------------------------

def on_scenario_years(data: dict | None, year: int | None, pyramid_year: int | None,
                      service: str | None) -> tuple:
    """Options and values of the year, pyramid, service and comparison selectors."""
    if not data:
        raise PreventUpdate
    result = compute.project(data)
    years = [int(y) for y in result.projection.years]
    report = views.report_years(result)
    default = 2030 if 2030 in years else report[-1]
    services = views.service_options(result)
    _table, labels, _nouns = views.indicators(result)
    return ([{"label": str(y), "value": y} for y in years],
            year if year in years else default,
            years[0], years[-1], pyramid_year if pyramid_year in years else years[-1],
            services, service if service in {o["value"] for o in services} else
            (services[0]["value"] if services else None),
            [{"label": label, "value": k} for k, label in labels.items()])


def on_key_figures(data: dict | None, year: int | None) -> tuple:
    """Key figures table (report years and the chosen year), services table, notes."""
    if not data or year is None:
        raise PreventUpdate
    result = compute.project(data)
    years = sorted({*views.report_years(result), int(year)})
    notes = [html.Li(n) for n in result.notes]
    return (views.key_figures(result, years), views.services_table(result, int(year)),
            html.Ul(notes) if notes else None)


# --- ABM band -------------------------------------------------------------------------------

def on_abm(trigger: str | None, runs: int | None, state: dict | None,
           data: dict | None) -> tuple:
    """(ABM store, interval disabled, progress text): start, or add the next chunk of runs."""
    if not data:
        raise PreventUpdate
    key = scenario.canonical(data)
    if trigger == ids.ABM_START:
        runs = max(2, min(200, int(runs or 20)))
        return ({"key": key, "runs": runs, "chunks": None}, False,
                f"0 av {runs} kjøringer ferdig")
    if not state or trigger != ids.ABM_TICK:
        raise PreventUpdate
    done = len(state["chunks"]["runs"]["total"]) if state["chunks"] else 0
    if state["key"] != key:
        return no_update, True, "Scenarioet er endret: start den agentbaserte modellen på nytt."
    if done >= state["runs"]:
        return no_update, True, f"{done} av {state['runs']} kjøringer ferdig"
    count = min(math.ceil(state["runs"] / 10), state["runs"] - done)
    try:
        chunk = compute.abm_chunk(data, done, count)
    except InputError as exc:
        return no_update, True, f"Den agentbaserte modellen kan ikke kjøre: {exc.line()}"
    state = {**state, "chunks": compute.merge_chunks(state["chunks"], chunk)}
    done += count
    return state, done >= state["runs"], f"{done} av {state['runs']} kjøringer ferdig"


def on_band(state: dict | None, group: str, data: dict | None):
    """The band figure (ABM runs only if they belong to the current scenario)."""
    if not data:
        raise PreventUpdate
    chunks = state["chunks"] if state and state["key"] == scenario.canonical(data) else None
    return views.band_figure(compute.project(data), chunks, group)


# --- side by side ---------------------------------------------------------------------------

def on_pin(trigger: Any, name: str | None, data: dict | None, pinned: list | None,
           kommune: str | None) -> list:
    """The pinned list after pinning this scenario, the main one, or unpinning one."""
    pinned = list(pinned or [])
    if trigger == ids.PIN and data:
        pinned.append({"name": name or data.get("name") or f"scenario {len(pinned) + 1}",
                       "scenario": data})
    elif trigger == ids.PIN_MAIN and kommune:
        pinned.append({"name": "hovedalternativet",
                       "scenario": scenario.default_scenario(kommune)})
    elif isinstance(trigger, dict) and trigger.get("type") == ids.UNPIN:
        pinned = [p for i, p in enumerate(pinned) if i != trigger["index"]]
    else:
        raise PreventUpdate
    return pinned[-MAX_PINNED:]


def on_compare(pinned: list | None, key: str | None) -> tuple:
    """(pinned list, difference sentences, difference table, figure)."""
    pinned = pinned or []
    items = [html.Li([f"{p['name']} ({p['scenario'].get('municipality')})",
                      html.Button("fjern", id={"type": ids.UNPIN, "index": i},
                                  className="small")]) for i, p in enumerate(pinned)]
    if len(pinned) < 2:
        return (html.Ul(items), [html.Li("Fest minst to scenarioer for å sammenligne.")],
                None, views.message_figure("Fest minst to scenarioer"))
    named = [(p["name"], compute.project(p["scenario"])) for p in pinned]
    years = views.report_years(named[0][1])
    keys = [k for k in COMPARE_KEYS if k in views.indicators(named[0][1])[0].columns]
    sentences = views.compare_sentences(named, [y for y in years if y != years[0]], keys)
    return (html.Ul(items), [html.Li(s) for s in sentences] or
            [html.Li("Ingen forskjeller i de viste tallene.")],
            views.compare_table(named, years, keys),
            views.compare_figure(named, key or "total"))


# --- wiring ---------------------------------------------------------------------------------

def register(app: dash.Dash, sweeps_root: str | None = None) -> None:
    """Attach every callback to ``app``; ``sweeps_root``: folder whose sweeps can be opened."""
    path_fields = Output({"type": ids.PATH_FIELD, "key": ALL}, "data")
    value_fields = Output({"type": ids.VALUE_FIELD, "key": ALL}, "value")

    @app.callback(
        Output(ids.LOADED, "data"), Output(ids.KOMMUNE, "value"), Output(ids.LOAD_ERROR,
                                                                          "children"),
        path_fields, value_fields, Output(ids.HOUSING, "data"), Output(ids.COVERAGE, "data"),
        Input(ids.KOMMUNE, "value"), Input(ids.UPLOAD, "contents"), Input(ids.RESET,
                                                                          "n_clicks"),
        Input(ids.TOML_APPLY, "n_clicks"),
        State(ids.UPLOAD, "filename"), State(ids.TOML_TEXT, "value"), State(ids.LOADED, "data"),
        State(ids.SCENARIO, "data"))
    def load(kommune, upload, _reset, _apply, filename, toml_text, loaded, edited):
        out = on_load(dash.ctx.triggered_id, kommune, upload, filename, toml_text, loaded,
                      edited)
        if out[3] is no_update:
            return out[:3] + ([no_update] * len(PATH_KEYS), [no_update] * len(VALUE_KEYS)) \
                + out[5:]
        return out

    @app.callback(Output(ids.KOMMUNE, "options"), Input(ids.KOMMUNE, "search_value"),
                  State(ids.KOMMUNE, "value"), prevent_initial_call=True)
    def kommune_search(text, value):
        return on_kommune_search(text, value)

    @app.callback(
        Output(ids.SCENARIO, "data"), Output(ids.TOML_TEXT, "value"),
        Output(ids.SCENARIO_ERROR, "children"),
        Input(ids.LOADED, "data"), Input({"type": ids.PATH_FIELD, "key": ALL}, "data"),
        Input({"type": ids.VALUE_FIELD, "key": ALL}, "value"), Input(ids.HOUSING, "data"),
        Input(ids.COVERAGE, "data"))
    def edit(loaded, paths, values, housing, coverage):
        return on_edit(loaded, paths, values, housing, coverage)

    @app.callback(Output({"type": ids.PATH_FIELD, "key": MATCH}, "data", allow_duplicate=True),
                  Input({"type": ids.ADD_ROW, "key": MATCH}, "n_clicks"),
                  State({"type": ids.PATH_FIELD, "key": MATCH}, "data"),
                  prevent_initial_call=True)
    def add_row(_clicks, rows):
        return add_year_row(rows)

    @app.callback(Output(ids.HOUSING, "data", allow_duplicate=True),
                  Input(ids.HOUSING_ADD, "n_clicks"), State(ids.HOUSING, "data"),
                  prevent_initial_call=True)
    def add_housing(_clicks, rows):
        return [*(rows or []), {"prosjekt": "nytt prosjekt", "sone": "", "boligtype": "blokk",
                                scenario.YEAR: 2027, "boliger": "100"}]

    @app.callback(Output(ids.COVERAGE, "data", allow_duplicate=True),
                  Input(ids.COVERAGE_ADD, "n_clicks"), State(ids.COVERAGE, "data"),
                  prevent_initial_call=True)
    def add_coverage(_clicks, rows):
        return [*(rows or []), {"tjeneste": "barnehage", scenario.YEAR: 2030,
                                "multiplikator": "1,0"}]

    @app.callback(Output(ids.DOWNLOAD_TOML, "data"), Input(ids.DOWNLOAD_TOML_BUTTON, "n_clicks"),
                  State(ids.SCENARIO, "data"), prevent_initial_call=True)
    def download_toml(_clicks, data):
        return dcc.send_string(scenario.to_toml(data), file_name(data.get("name", ""),
                                                                 ".toml"))

    @app.callback(Output(ids.DOWNLOAD_XLSX, "data"), Input(ids.DOWNLOAD_XLSX_BUTTON, "n_clicks"),
                  State(ids.SCENARIO, "data"), prevent_initial_call=True)
    def download_xlsx(_clicks, data):
        content = workbook_bytes(tables_from_result(compute.project(data)))
        return dcc.send_bytes(content, file_name(data.get("name", ""), ".xlsx"))

    @app.callback(
        Output(ids.YEAR, "options"), Output(ids.YEAR, "value"), Output(ids.PYRAMID_YEAR, "min"),
        Output(ids.PYRAMID_YEAR, "max"), Output(ids.PYRAMID_YEAR, "value"),
        Output(ids.SERVICE, "options"), Output(ids.SERVICE, "value"),
        Output(ids.COMPARE_KEY, "options"),
        Input(ids.SCENARIO, "data"), State(ids.YEAR, "value"), State(ids.PYRAMID_YEAR, "value"),
        State(ids.SERVICE, "value"))
    def selectors(data, year, pyramid_year, service):
        return on_scenario_years(data, year, pyramid_year, service)

    @app.callback(Output(ids.KEY_FIGURES, "children"), Output(ids.SERVICES_TABLE, "children"),
                  Output(ids.NOTES, "children"),
                  Input(ids.SCENARIO, "data"), Input(ids.YEAR, "value"))
    def key_figures(data, year):
        return on_key_figures(data, year)

    @app.callback(Output(ids.POPULATION, "figure"), Output(ids.AGE_GROUPS, "figure"),
                  Output(ids.DEMOGRAFI, "figure"), Output(ids.BUDGET_FIGURE, "figure"),
                  Output(ids.BUDGET_TABLES, "children"), Input(ids.SCENARIO, "data"))
    def overview(data):
        if not data:
            raise PreventUpdate
        result = compute.project(data)
        budget = budget_tables(result.budget)
        return (views.population_figure(result), views.age_groups_figure(result),
                views.demografikostnader_figure(result), views.budget_figure(budget),
                views.budget_tables_view(budget))

    @app.callback(Output(ids.PYRAMID, "figure"), Input(ids.SCENARIO, "data"),
                  Input(ids.PYRAMID_YEAR, "value"))
    def pyramid(data, year):
        if not data or year is None:
            raise PreventUpdate
        return views.pyramid_figure(compute.project(data), int(year))

    @app.callback(Output(ids.SERVICES, "figure"), Input(ids.SCENARIO, "data"),
                  Input(ids.SERVICE, "value"))
    def services(data, service):
        if not data:
            raise PreventUpdate
        return views.services_figure(compute.project(data), service)

    @app.callback(Output(ids.ABM, "data"), Output(ids.ABM_TICK, "disabled"),
                  Output(ids.ABM_PROGRESS, "children"),
                  Input(ids.ABM_START, "n_clicks"), Input(ids.ABM_TICK, "n_intervals"),
                  State(ids.ABM_RUNS, "value"), State(ids.ABM, "data"),
                  State(ids.SCENARIO, "data"), prevent_initial_call=True,
                  # no tick while a chunk runs: a newer tick would discard its result
                  running=[(Output(ids.ABM_TICK, "interval"), PAUSED_MS, TICK_MS)])
    def abm(_start, _tick, runs, state, data):
        return on_abm(dash.ctx.triggered_id, runs, state, data)

    @app.callback(Output(ids.ABM_BAND, "figure"), Input(ids.ABM, "data"),
                  Input(ids.ABM_GROUP, "value"), Input(ids.SCENARIO, "data"))
    def band(state, group, data):
        return on_band(state, group, data)

    @app.callback(Output(ids.PINNED, "data"),
                  Input(ids.PIN, "n_clicks"), Input(ids.PIN_MAIN, "n_clicks"),
                  Input({"type": ids.UNPIN, "index": ALL}, "n_clicks"),
                  State(ids.PIN_NAME, "value"), State(ids.SCENARIO, "data"),
                  State(ids.PINNED, "data"), State(ids.KOMMUNE, "value"),
                  prevent_initial_call=True)
    def pin(_pin, _main, _unpin, name, data, pinned, kommune):
        if not dash.ctx.triggered or not dash.ctx.triggered[0]["value"]:
            raise PreventUpdate  # unpin buttons appearing (n_clicks None) are no click
        return on_pin(dash.ctx.triggered_id, name, data, pinned, kommune)

    @app.callback(Output(ids.PINNED_LIST, "children"), Output(ids.COMPARE_SENTENCES,
                                                              "children"),
                  Output(ids.COMPARE_TABLE, "children"), Output(ids.COMPARE_FIGURE, "figure"),
                  Input(ids.PINNED, "data"), Input(ids.COMPARE_KEY, "value"))
    def compare(pinned, key):
        return on_compare(pinned, key)

    @app.callback(Output(ids.SWEEP, "options"), Input(ids.TABS, "value"))
    def sweep_list(_tab):
        return [{"label": sweeps.label(s, sweeps_root), "value": s}
                for s in sweeps.list_sweeps(sweeps_root)]

    @app.callback(Output(ids.SWEEP_INFO, "children"), Output(ids.SWEEP_INDICATOR, "options"),
                  Output(ids.SWEEP_INDICATOR, "value"), Input(ids.SWEEP, "value"),
                  State(ids.SWEEP_INDICATOR, "value"))
    def sweep_info(folder, indicator):
        path = sweeps.checked(folder, sweeps_root)
        if path is None:
            return html.P("Ingen sweep valgt." if sweeps_root else
                          "Start appen med --sweeps MAPPE for å bla i sweeper."), [], None
        options = sweeps.indicator_options(path)
        codes = [o["value"] for o in options]
        value = indicator if indicator in codes else (
            "population.total" if "population.total" in codes else codes[0])
        return sweeps.info(path), options, value

    @app.callback(Output(ids.SWEEP_FAN, "figure"), Output(ids.SWEEP_SENSITIVITY, "children"),
                  Input(ids.SWEEP, "value"), Input(ids.SWEEP_INDICATOR, "value"))
    def sweep_fan(folder, indicator):
        path = sweeps.checked(folder, sweeps_root)
        if path is None or not indicator:
            return views.message_figure("Velg en sweep"), None
        return sweeps.fan_figure(path, indicator), sweeps.sensitivity_table(path, indicator)
