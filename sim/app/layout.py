"""The web app's page: scenario editor on the left, results in tabs on the right.

Only structure and Norwegian text; every value shown is filled in by ``sim.app.callbacks``.
Scenario fields are listed once in ``FIELDS`` (dotted scenario key, label, kind): the editor
and the callback that turns fields into a scenario dict both read that list.
"""

from __future__ import annotations

from dataclasses import dataclass

from dash import dash_table, dcc, html

from sim.app import ids
from sim.app.compute import BAND_GROUPS, TOTAL
from sim.app.scenario import COVERAGE_COLUMNS, HOUSING_COLUMNS, VALUE, YEAR
from sim.app.views import BAND_LABEL, age_label


@dataclass(frozen=True)
class Field:
    """A scenario key edited in the form: ``path`` (year table), ``number`` or ``text``."""

    key: str
    label: str
    kind: str
    help: str = ""


FIELDS = (
    Field("name", "Scenarionavn", "text"),
    Field("horizon", "Siste år (1. januar)", "number"),
    Field("refugees.settled_per_year", "Bosatte flyktninger per år", "path",
          "Personer per år, inkl. familiegjenforening; lineært mellom årene som er gitt."),
    Field("fertility.tfr", "Fruktbarhet: samlet fruktbarhetstall (SFT), nasjonal bane", "path",
          "Barn per kvinne; kommunens nivå i forhold til landet er estimert."),
    Field("mortality.improvement_multiplier", "Dødelighet: forbedring (1 = FNs middel, "
          "0 = ingen)", "number"),
    Field("mortality.e0_male", "Forventet levealder ved fødsel, menn (valgfri)", "path"),
    Field("mortality.e0_female", "Forventet levealder ved fødsel, kvinner (valgfri)", "path"),
    Field("migration.in_multiplier", "Innflytting: multiplikator på estimert nivå", "path"),
    Field("migration.out_rate_multiplier", "Utflytting: multiplikator på ratene", "path"),
    Field("services.unit_cost_growth", "Årlig realvekst i enhetskostnad (0,01 = 1 %)",
          "number"),
    Field("budget.savings_pace", "Innsparingstakt i budsjettet (f.eks. Sprint, "
          "Mellomdistanse, Maraton)", "text"),
)

MAX_UPLOAD_BYTES = 1_000_000
"""A scenario file is a few kB; larger uploads are refused by the browser component."""
YEAR_COLUMN = {"id": YEAR, "name": "År", "type": "numeric"}
NUMBER_COLUMNS = (VALUE, "boliger", "multiplikator")
"""Numbers typed as text, so a decimal comma works (``sim.app.scenario`` parses them)."""
TABLE_STYLE = {"style_table": {"maxWidth": "100%"},
               "style_cell": {"fontFamily": "inherit", "fontSize": "13px", "padding": "2px 6px"},
               "style_header": {"fontWeight": "bold"}}


DROPDOWN_LABELS = {"search": "Søk", "clear_search": "Tøm søket", "clear_selection": "Fjern valget",
                   "select_all": "Velg alle", "deselect_all": "Fjern alle"}


def dropdown(component_id: str, **props) -> dcc.Dropdown:
    """A dropdown with Norwegian labels (search field, placeholder)."""
    return dcc.Dropdown(id=component_id, labels=DROPDOWN_LABELS,
                        **{"placeholder": "Velg …", **props})


def _path_table(field: Field) -> html.Div:
    return html.Div([
        dash_table.DataTable(
            id={"type": ids.PATH_FIELD, "key": field.key},
            columns=[YEAR_COLUMN, {"id": VALUE, "name": "Verdi", "type": "text"}],
            data=[], editable=True, row_deletable=True,
            style_cell_conditional=[{"if": {"column_id": VALUE}, "textAlign": "right"}],
            **TABLE_STYLE),
        html.Button("+ år", id={"type": ids.ADD_ROW, "key": field.key}, className="small"),
    ])


def _field(field: Field) -> html.Div:
    if field.kind == "path":
        control = _path_table(field)
    else:
        control = dcc.Input(id={"type": ids.VALUE_FIELD, "key": field.key},
                            type="number" if field.kind == "number" else "text",
                            debounce=True, step="any", className="field-input")
    return html.Div([html.Label(field.label), control,
                     html.Small(field.help) if field.help else None], className="field")


def _table_editor(table_id: str, add_id: str, columns: tuple[str, ...], title: str,
                  help_text: str) -> html.Div:
    return html.Div([
        html.Label(title),
        dash_table.DataTable(
            id=table_id, data=[], editable=True, row_deletable=True,
            columns=[YEAR_COLUMN if c == YEAR else {"id": c, "name": c.capitalize(),
                                                    "type": "text"} for c in columns],
            style_cell_conditional=[{"if": {"column_id": c}, "textAlign": "right"}
                                    for c in columns if c in NUMBER_COLUMNS],
            **TABLE_STYLE),
        html.Button("+ rad", id=add_id, className="small"),
        html.Small(help_text),
    ], className="field")


START_KOMMUNE = "3205"
"""The kommune the app opens with (Lillestrøm, one of the two with the richest defaults)."""


def start_kommune(kommuner: list[tuple[str, str]]) -> str | None:
    """``START_KOMMUNE`` if it is offered, else the first kommune."""
    numbers = [knr for knr, _name in kommuner]
    return START_KOMMUNE if START_KOMMUNE in numbers else (numbers[0] if numbers else None)


def kommune_options(kommuner: list[tuple[str, str]], search: str | None = None) -> list[dict]:
    """Options of the kommune picker, labelled "Bærum (3201)".

    ``search``: the text typed in the picker, given as every option's search text (the server
    chose them, ``callbacks.on_kommune_search``; the browser's own filter keeps them all).
    """
    return [{"label": f"{name} ({knr})", "value": knr, **({"search": search} if search else {})}
            for knr, name in kommuner]


def editor(kommuner: list[tuple[str, str]]) -> html.Div:
    """The scenario editor: kommune, assumptions, housing, coverage, load/save."""
    return html.Div([
        html.H3("Scenario"),
        html.Div([html.Label("Kommune"), dropdown(
            ids.KOMMUNE, options=kommune_options(kommuner), value=start_kommune(kommuner),
            clearable=False, search_order="original")], className="field"),
        html.Div([
            dcc.Upload(html.Button("Last opp scenario (TOML)"), id=ids.UPLOAD, accept=".toml",
                       max_size=MAX_UPLOAD_BYTES),
            html.Button("Last ned scenario (TOML)", id=ids.DOWNLOAD_TOML_BUTTON),
            html.Button("Tilbakestill til hovedalternativet", id=ids.RESET),
        ], className="buttons"),
        html.Div(id=ids.LOAD_ERROR, className="error"),
        html.Div(id=ids.SCENARIO_ERROR, className="error"),
        *(_field(f) for f in FIELDS),
        _table_editor(ids.HOUSING, ids.HOUSING_ADD, HOUSING_COLUMNS, "Boligprogram",
                      "Ferdigstilte boliger per prosjekt, sone og år (boligtype: blokk, "
                      "smahus, enebolig, omsorgsbolig, student, other). Hver ny bolig gir "
                      "innflyttere etter boligtypens profil; ellers bygges det i samme takt "
                      "som 2020–2022. Brukes av begge modellene."),
        _table_editor(ids.COVERAGE, ids.COVERAGE_ADD, COVERAGE_COLUMNS,
                      "Dekningsgrad: hva om? (multiplikator per tjeneste og år)",
                      "Tjeneste som nøkkel (barnehage) eller tjeneste/aldersgruppe "
                      "(institusjon/90+); 0,9 = 10 % lavere dekningsgrad."),
        html.Details([
            html.Summary("Hele scenarioet som TOML (avansert)"),
            dcc.Textarea(id=ids.TOML_TEXT, className="toml"),
            html.Button("Bruk denne TOML-teksten", id=ids.TOML_APPLY),
        ]),
        dcc.Download(id=ids.DOWNLOAD_TOML),
    ], className="editor")


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config={"displaylogo": False})


def _tab(label: str, children: list) -> dcc.Tab:
    return dcc.Tab(label=label, value=label, children=html.Div(children, className="tab"))


def results() -> html.Div:
    """Key figures and the result tabs."""
    return html.Div([
        html.Div([
            html.Label("År i tabellene"),
            dropdown(ids.YEAR, clearable=False, className="year-select"),
            html.Button("Last ned Excel", id=ids.DOWNLOAD_XLSX_BUTTON),
            dcc.Download(id=ids.DOWNLOAD_XLSX),
        ], className="buttons"),
        dcc.Loading(html.Div(id=ids.KEY_FIGURES), delay_show=400),
        html.Div(id=ids.NOTES, className="notes"),
        dcc.Tabs(id=ids.TABS, value="Befolkning", children=[
            _tab("Befolkning", [
                _graph(ids.POPULATION), _graph(ids.AGE_GROUPS),
                html.Label("År i pyramiden"),
                dcc.Slider(id=ids.PYRAMID_YEAR, step=1, marks=None,
                           tooltip={"placement": "bottom", "always_visible": True}),
                _graph(ids.PYRAMID)]),
            _tab("Tjenester", [
                dropdown(ids.SERVICE, clearable=False), _graph(ids.SERVICES),
                html.Div(id=ids.SERVICES_TABLE), _graph(ids.DEMOGRAFI)]),
            _tab("Økonomi", [_graph(ids.BUDGET_FIGURE), html.Div(id=ids.BUDGET_TABLES)]),
            _tab("Usikkerhet", [
                html.P(f"Den agentbaserte modellen trekker personers hendelser tilfeldig; "
                       f"båndet viser {BAND_LABEL}, ikke usikkerheten i forutsetningene."),
                html.Div([
                    html.Label("Kjøringer"),
                    dcc.Input(id=ids.ABM_RUNS, type="number", value=20, min=2, max=200,
                              step=1, className="field-input"),
                    html.Button("Kjør agentbasert modell", id=ids.ABM_START),
                    html.Span(id=ids.ABM_PROGRESS, className="progress"),
                ], className="buttons"),
                dcc.Interval(id=ids.ABM_TICK, interval=200, disabled=True),
                dropdown(ids.ABM_GROUP, value=TOTAL, clearable=False, options=[
                    {"label": "Folketall" if g == TOTAL else age_label(g), "value": g}
                    for g in BAND_GROUPS]),
                _graph(ids.ABM_BAND)]),
            _tab("Sammenlign", [
                html.P("Fest scenarioer for å se dem side om side. Det første festede er "
                       "referansen. Forskjellene er mellom forventede verdier fra "
                       "kohortmodellen og skyldes bare forutsetningene."),
                html.Div([
                    dcc.Input(id=ids.PIN_NAME, type="text", placeholder="navn på scenarioet",
                              className="field-input"),
                    html.Button("Fest dette scenarioet", id=ids.PIN),
                    html.Button("Fest hovedalternativet", id=ids.PIN_MAIN),
                ], className="buttons"),
                html.Div(id=ids.PINNED_LIST),
                html.Ul(id=ids.COMPARE_SENTENCES, className="sentences"),
                html.Div(id=ids.COMPARE_TABLE),
                dropdown(ids.COMPARE_KEY, value=TOTAL, clearable=False),
                _graph(ids.COMPARE_FIGURE)]),
            _tab("Sweeper", [
                dropdown(ids.SWEEP, placeholder="Velg en ferdig sweep"),
                html.Div(id=ids.SWEEP_INFO),
                dropdown(ids.SWEEP_INDICATOR, placeholder="Indikator"),
                _graph(ids.SWEEP_FAN), html.Div(id=ids.SWEEP_SENSITIVITY)]),
        ]),
    ], className="results")


def layout(kommuner: list[tuple[str, str]]) -> html.Div:
    """The whole page with the per-session stores."""
    return html.Div([
        dcc.Store(id=ids.LOADED, storage_type="session"),
        dcc.Store(id=ids.SCENARIO, storage_type="session"),
        dcc.Store(id=ids.PINNED, storage_type="session", data=[]),
        dcc.Store(id=ids.ABM, storage_type="memory"),
        html.Header([html.H1("kommunesim"),
                     html.Span("befolkning, tjenester og økonomi – hva om?")]),
        html.Main([editor(kommuner), results()], className="page"),
    ])


STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{display:flex;gap:1em;align-items:baseline;padding:.4em 1em;background:#1F3A68;color:#fff}
header h1{margin:0;font-size:1.4em}
.page{display:grid;grid-template-columns:400px 1fr;gap:1em;padding:1em}
.editor{background:#fff;padding:.5em 1em;border:1px solid #ddd;max-height:92vh;overflow:auto}
.results{background:#fff;padding:.5em 1em;border:1px solid #ddd;min-width:0}
.field{margin:.7em 0}.field label{display:block;font-weight:600;margin-bottom:.2em}
.field small{display:block;color:#666}.field-input{width:10em}
.buttons{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:.5em 0}
button{padding:.3em .7em;cursor:pointer}button.small{font-size:.8em;margin-top:.2em}
.year-select{width:8em}.error{color:#b00020;font-weight:600}.notes{color:#8a6d00}
table.tall{border-collapse:collapse;font-size:13px;margin:.5em 0}
table.tall td,table.tall th{border:1px solid #ddd;padding:2px 8px;text-align:right;
white-space:nowrap}table.tall th{white-space:normal;vertical-align:bottom}
table.tall td:first-child,table.tall th:first-child{text-align:left}
.toml{width:100%;height:20em;font-family:monospace;font-size:12px}
.tab{text-align:left;overflow-x:auto}.progress{font-weight:600}.sentences li{margin:.2em 0}
"""
"""Page style (inlined in the page: the app ships no asset files)."""
