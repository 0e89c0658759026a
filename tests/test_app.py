"""The web app without a browser: scenario dicts, TOML round trip, callbacks as functions."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
from dash import no_update

from sim import numbers as fmt
from sim.app import callbacks, compute, ids, scenario, sweeps, views
from sim.cli import app as cli_app
from sim.demography import AGE_GROUPS
from sim.errors import InputError
from sim.io import population_table, with_kommune
from sim.run import run_abm_scenario

LORENSKOG = "3222"


@pytest.fixture(scope="module")
def main() -> dict:
    return scenario.default_scenario(LORENSKOG)


def more_refugees(data: dict, per_year: float = 400) -> dict:
    return scenario.set_in(data, "refugees.settled_per_year", {"2024": 190, "2025": per_year})


# --- formats and scenario dicts -------------------------------------------------------------

def test_norwegian_numbers():
    assert fmt.number(48188.4) == "48 188"
    assert fmt.number(1234567.891, 2) == "1 234 567,89"
    assert fmt.number(-3.06223, 1) == "\u22123,1"
    assert fmt.signed(229.4) == "+229"
    assert fmt.signed(-12) == "\u221212"
    assert fmt.signed(-0.4) == "0"  # rounds to zero: no sign
    assert fmt.number(float("nan")) == fmt.MISSING
    assert fmt.percent(8.0) == "8,0 %"


def test_available_kommuner_have_names():
    kommuner = dict(scenario.available_kommuner())
    assert kommuner[LORENSKOG] == "Lørenskog"
    assert kommuner["3205"] == "Lillestrøm"


def test_default_scenario_is_the_clis_main(main):
    from sim.scenarios import build_scenario

    cli = build_scenario(None, LORENSKOG, None, None, None)
    app = scenario.validate(main)
    assert app.model_dump(exclude={"source"}) == cli.model_dump(exclude={"source"})


def test_set_in_get_in_and_removal():
    data = {"a": {"b": {"c": 1}}, "x": 2}
    out = scenario.set_in(data, "a.b.d", 5)
    assert out["a"]["b"] == {"c": 1, "d": 5} and data["a"]["b"] == {"c": 1}
    assert scenario.get_in(out, "a.b.d") == 5 and scenario.get_in(out, "a.z", "-") == "-"
    gone = scenario.set_in(data, "a.b.c", None)
    assert gone == {"x": 2}  # empty sections are removed with the key
    assert scenario.set_in(data, "new.key", 1)["new"] == {"key": 1}


def test_year_path_rows_round_trip():
    path = {"2030": 1.5, "2024": 1.44}
    rows = scenario.path_rows(path)
    assert rows == [{"år": 2024, "verdi": "1,44"}, {"år": 2030, "verdi": "1,5"}]
    assert scenario.rows_path(rows) == {"2024": 1.44, "2030": 1.5}
    exact = {"2024": 4313.234, "2025": 190, "2026": 0.1 + 0.2}
    back = scenario.rows_path(scenario.path_rows(exact))
    assert back == exact and type(back["2025"]) is int  # text cells keep numbers exact
    typed = [{"år": "2026", "verdi": "1,6"}, {"år": 2027, "verdi": None}, {"år": None},
             {"år": 2028, "verdi": "mange"}]
    assert scenario.rows_path(typed) == {"2026": 1.6}
    assert scenario.rows_path([]) is None


def test_housing_and_coverage_rows_round_trip():
    data = {"housing": {"baseline_completions_per_year": 700.0, "projects": [
        {"name": "blokk sentrum", "dwelling_type": "blokk",
         "completions": {"2025": 150, "2026": 200}},
        {"name": "småhus", "district": "Nord", "dwelling_type": "smahus",
         "completions": {"2026": 40}}]},
        "services": {"coverage_path": {"barnehage": {"2024": 1.0, "2030": 0.9}}}}
    rows = scenario.housing_rows(data)
    assert len(rows) == 3 and rows[2] == {"prosjekt": "småhus", "sone": "Nord",
                                          "boligtype": "smahus", "år": 2026, "boliger": "40"}
    assert scenario.with_housing_rows(data, rows) == data
    assert scenario.with_coverage_rows(data, scenario.coverage_rows(data)) == data
    emptied = scenario.with_housing_rows(data, [])
    assert emptied["housing"] == {"baseline_completions_per_year": 700.0}


def test_toml_round_trip_of_the_dict(main):
    data = more_refugees(main)
    assert scenario.from_toml(scenario.to_toml(data)) == data


@pytest.mark.parametrize("text, key", [
    ('extends = "other.toml"\nmunicipality = "3222"', "extends"),
    ('municipality = "3222"\n[inputs]\npopulation = "/etc/passwd"', "inputs"),
    ('municipality = "3222"\n[budget]\nconfig = "b.toml"', "budget.config"),
    ('municipality = "3222"\n[refugees]\nsettled_per_year = { 2024 = -5 }',
     "refugees.settled_per_year"),
    ("municipality = ", None),
])
def test_uploads_that_are_refused(text, key):
    with pytest.raises(InputError) as err:
        scenario.from_toml(text, "fil.toml")
    assert err.value.source == "fil.toml" and err.value.field == key


def test_saved_toml_runs_with_the_cli_to_identical_tables(main, tmp_path, runner):
    """Round trip: a TOML saved from the app, run by `kommunesim run`, gives the app's tables."""
    data = scenario.set_in(more_refugees(main), "services.coverage_path",
                           {"barnehage": {"2024": 1.0, "2030": 0.95}})
    path = tmp_path / "fra_appen.toml"
    path.write_text(scenario.to_toml(data), encoding="utf-8")
    out = tmp_path / "run"
    res = runner.invoke(cli_app, ["run", str(path), "--out", str(out), "--no-plots"])
    assert res.exit_code == 0, res.output
    app = compute.project(data)
    knr = app.inputs.municipality
    pd.testing.assert_frame_equal(pd.read_parquet(out / "population.parquet"),
                                  population_table(app.projection, knr))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "services.parquet"),
                                  with_kommune(app.services, knr))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "budget.parquet"), app.budget.lines)


# --- callbacks as functions -----------------------------------------------------------------

def test_load_fills_the_editor_from_the_main_scenario(main):
    loaded, knr, error, paths, values, housing, coverage = callbacks.on_load(
        None, LORENSKOG, None, None, None, None, None)
    assert loaded == main and knr == LORENSKOG and error == ""
    refugees = paths[callbacks.PATH_KEYS.index("refugees.settled_per_year")]
    assert refugees[0] == {"år": 2024, "verdi": "190"}
    assert values[callbacks.VALUE_KEYS.index("horizon")] == 2050
    # unchanged fields give back the loaded scenario exactly
    assert callbacks.edited_scenario(loaded, paths, values, housing, coverage) == main


@pytest.mark.parametrize("knr", ["3201", "1818"])  # Bærum; Herøy (Nordland), pooled
def test_editor_shows_the_defaults_a_kommune_without_a_scenario_file_runs(knr):
    """The editor's values are those `kommunesim run -m K` resolves, and stay unset unedited."""
    from sim.config import interpolate_path
    from sim.inputs import resolve
    from sim.scenarios import build_scenario, main_scenario_file

    assert main_scenario_file(knr) is None
    loaded, _k, error, paths, values, housing, coverage = callbacks.on_load(
        None, knr, None, None, None, None, None)
    assert error == "" and loaded == scenario.default_scenario(knr)
    shown = {**{k: scenario.rows_path(rows) for k, rows in zip(callbacks.PATH_KEYS, paths,
                                                                 strict=True)},
             **dict(zip(callbacks.VALUE_KEYS, values, strict=True))}
    run = resolve(build_scenario(None, knr, None, None, None))  # the CLI's run of the kommune
    years = run.years

    def path(key: str) -> np.ndarray:
        return interpolate_path({int(y): v for y, v in shown[key].items()}, years)

    assert shown["horizon"] == years[-1] + 1
    refugees = run.refugees.sum(axis=(1, 2, 3))  # persons settled per year
    assert refugees[0] > 0 and path("refugees.settled_per_year") == pytest.approx(refugees,
                                                                                  rel=1e-12)
    tfr = list(run.parameters["tfr_path"].values())  # rounded to 4 decimals
    assert path("fertility.tfr") == pytest.approx(tfr, abs=5e-5)
    assert shown["mortality.e0_male"] is None and shown["mortality.e0_female"] is None
    # every value shown, written into the scenario, gives the same engine inputs bit for bit
    explicit = loaded
    for key, value in shown.items():
        explicit = scenario.set_in(explicit, key, value)
    again = resolve(scenario.validate(explicit))
    for name in ("fertility", "refugees", "in_migrants", "out_rate", "death_probability"):
        assert np.array_equal(getattr(again, name), getattr(run, name)), name
    # unedited, the defaults stay unset (the scenario saves and runs as -m K); an edit is kept
    assert callbacks.edited_scenario(loaded, paths, values, housing, coverage) == loaded
    i = callbacks.PATH_KEYS.index("fertility.tfr")
    paths[i] = [*paths[i][:-1], {"år": 2040, "verdi": "1,8"}]
    edited = callbacks.edited_scenario(loaded, paths, values, housing, coverage)
    assert edited == scenario.set_in(loaded, "fertility.tfr",
                                     {"2024": 1.44, "2030": 1.57, "2040": 1.8})


@pytest.mark.parametrize("text, knr", [("baerum", "3201"), ("BÆRUM", "3201"),
                                       ("lorenskog", "3222"), ("nordre follo", "3207"),
                                       ("3201", "3201"), ("Herøy (Nordland)", "1818")])
def test_kommune_search_matches_as_the_cli(text, knr):
    from sim.data.kommuner import lookup_kommune

    assert lookup_kommune(text) == knr  # the CLI's -m finds it
    options = callbacks.on_kommune_search(text, "3205")
    found = [o["value"] for o in options if "search" in o]
    assert found == [knr]
    # the browser's filter keeps what the server found: the typed text is their search text
    assert all(o["search"] == text for o in options if o["value"] in found)
    # the chosen kommune keeps its label, without the search text (the browser hides it)
    assert options[-1] == {"label": "Lillestrøm (3205)", "value": "3205"}


def test_kommune_search_partial_empty_and_chosen():
    names = dict(scenario.available_kommuner())
    partial = callbacks.on_kommune_search("heroy", "1818")
    assert [o["value"] for o in partial] == ["1515", "1818"]  # chosen and found: listed once
    assert {o["label"] for o in partial} == {"Herøy (1515)", "Herøy (1818)"}
    everything = callbacks.on_kommune_search("  ", "3205")
    assert len(everything) == len(names) == 357
    assert all("search" not in o for o in everything)
    assert callbacks.on_kommune_search("xyzzy", "3205") == [
        {"label": "Lillestrøm (3205)", "value": "3205"}]


def test_load_keeps_the_session_scenario_on_reload(main):
    edited = more_refugees(main)
    loaded, *_ = callbacks.on_load(None, "3205", None, None, None, main, edited)
    assert loaded == edited


def test_upload_and_its_errors(main):
    text = scenario.to_toml(more_refugees(main))
    upload = "data:application/octet-stream;base64," + base64.b64encode(
        text.encode()).decode()
    loaded, knr, error, *_ = callbacks.on_load(ids.UPLOAD, "3205", upload, "x.toml", None,
                                               None, None)
    assert knr == LORENSKOG and error == "" and loaded == more_refugees(main)
    bad = "data:;base64," + base64.b64encode(b'extends = "a.toml"').decode()
    out = callbacks.on_load(ids.UPLOAD, "3205", bad, "x.toml", None, None, None)
    assert out[0] is no_update and out[2].startswith("Kan ikke lese scenarioet: x.toml")


def test_edit_runs_the_scenario_or_reports_why_not(main):
    _l, _k, _e, paths, values, housing, coverage = callbacks.on_load(
        None, LORENSKOG, None, None, None, None, None)
    i = callbacks.PATH_KEYS.index("refugees.settled_per_year")
    paths[i] = [{"år": 2024, "verdi": 190}, {"år": 2025, "verdi": 400}]
    data, toml_text, error = callbacks.on_edit(main, paths, values, housing, coverage)
    assert error == "" and data == more_refugees(main)
    assert "settled_per_year" in toml_text
    values[callbacks.VALUE_KEYS.index("budget.savings_pace")] = "Lynrask"
    data, _t, error = callbacks.on_edit(main, paths, values, housing, coverage)
    assert data is no_update and "budget.savings_pace" in error and "Maraton" in error


def test_add_year_row():
    assert callbacks.add_year_row([{"år": 2028, "verdi": "50"}])[-1] == {"år": 2029,
                                                                         "verdi": "50"}
    assert callbacks.add_year_row(None) == [{"år": 2024, "verdi": None}]


def test_key_figures_show_ssb_population_and_services(main):
    table, services_table, _notes = callbacks.on_key_figures(main, 2030)
    cells = _cells(table)
    assert cells["total-2024"] == "48 188"  # SSB 07459, Lørenskog 1 January 2024
    result = compute.project(main)
    s = result.services
    barnehage = s[(s.year == 2030) & (s.service == "barnehage")].users.sum()
    assert cells["barnehage-2030"] == fmt.number(barnehage)
    assert _cells(services_table)["barnehage-Lørenskog-2030"] == fmt.number(barnehage)


def _cells(component) -> dict[str, str]:
    """data-cell -> text of every marked cell in a Dash component tree."""
    found = {}

    def walk(node):
        if isinstance(node, list | tuple):
            for n in node:
                walk(n)
            return
        props = getattr(node, "_prop_names", None)
        if props is None:
            return
        cell = getattr(node, "data-cell", None)
        if cell is not None:
            found[cell] = node.children
        walk(getattr(node, "children", None))

    walk(component)
    return found


def test_pin_and_compare_say_the_difference(main):
    pinned = callbacks.on_pin(ids.PIN_MAIN, None, None, [], LORENSKOG)
    pinned = callbacks.on_pin(ids.PIN, "mer bosetting", more_refugees(main), pinned, LORENSKOG)
    assert [p["name"] for p in pinned] == ["hovedalternativet", "mer bosetting"]
    _list, sentences, table, _fig = callbacks.on_compare(pinned, "total")
    texts = [li.children for li in sentences]
    s_main, s_more = compute.project(main).services, compute.project(more_refugees(main)).services
    diff = (s_more[(s_more.year == 2030) & (s_more.service == "barnehage")].users.sum()
            - s_main[(s_main.year == 2030) & (s_main.service == "barnehage")].users.sum())
    assert diff > 0  # 210 more refugees in 2025, about 7 % of them aged 1-5
    assert f"mer bosetting: {fmt.signed(diff)} barnehagebarn i 2030 vs hovedalternativet" \
        in texts
    assert _cells(table)["diff-1-barnehage-2030"] == fmt.signed(diff)
    assert callbacks.on_pin({"type": ids.UNPIN, "index": 0}, None, None, pinned, None) == \
        pinned[1:]


def test_pyramid_bars_sum_to_the_population(main):
    result = compute.project(main)
    fig = views.pyramid_figure(result, 2040)
    i = list(result.projection.years).index(2040)
    women = result.projection.population[i, :, 1].sum()
    men = result.projection.population[i, :, 0].sum()
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    assert np.sum(bars[1]["x"]) == pytest.approx(women, rel=1e-12)
    assert -np.sum(bars[0]["x"]) == pytest.approx(men, rel=1e-12)
    assert fig["layout"]["separators"] == ", "
    ticks = np.asarray(fig["layout"]["xaxis"]["tickvals"])
    step = ticks[1] - ticks[0]
    assert step / 10 ** np.floor(np.log10(step)) in (1, 2, 5)  # round ticks
    assert 0 in ticks and np.abs(ticks).max() <= np.abs(fig["layout"]["xaxis"]["range"][1])


def test_budget_views_show_the_plan_tables(main):
    from sim.export import budget_tables

    result = compute.project(main)
    tables = budget_tables(result.budget)
    rules = tables["Handlingsregler"].set_index("Post")
    i2030 = list(result.budget.years).index(2030)
    ndr = result.budget.ratios["netto_driftsresultat_pct"][i2030]
    name = "HR1 netto driftsresultat >= 2 %: verdi"
    assert rules.at[name, "2030"] == ndr
    fig = views.budget_figure(tables)
    traces = {t["name"]: t for t in fig["data"]}
    years = views.year_columns(tables["Handlingsregler"])
    assert traces[name]["y"][years.index("2030")] == ndr
    assert "grense 2 %" in traces  # the rule's limit, dashed
    view = str(views.budget_tables_view(tables))
    assert fmt.number(ndr, 1) in view and "Frie inntekter" in view
    # rows the budget module may add (other units, text cells) render too
    extra = pd.DataFrame({"Post": ["HR1: status", "Kostnadsindeks"], "Enhet": ["", "indeks"],
                          **{y: ["Oppfylt", 0.9551] for y in views.plan_years(tables)}})
    more = {**tables, "Handlingsregler": pd.concat([tables["Handlingsregler"], extra])}
    assert "Oppfylt" in str(views.budget_tables_view(more)) and "0,9551" in str(
        views.budget_tables_view(more))
    assert views.plan_years(tables)[:4] == ["2024", "2025", "2026", "2027"]
    assert "Ingen budsjettmodell" in str(views.budget_tables_view({}))
    assert views.budget_figure({})["layout"]["annotations"]


def test_abm_chunks_are_the_runs_of_one_call(main):
    """Progress in chunks gives the replicates `kommunesim run --engine abm` would give."""
    data = scenario.set_in(main, "horizon", 2030)
    state, disabled, text = callbacks.on_abm(ids.ABM_START, 3, None, data)
    assert state["runs"] == 3 and not disabled and text == "0 av 3 kjøringer ferdig"
    steps = 0
    while not disabled:
        state, disabled, text = callbacks.on_abm(ids.ABM_TICK, None, state, data)
        steps += 1
    assert steps == 3 and text == "3 av 3 kjøringer ferdig"
    whole = run_abm_scenario(scenario.validate(data), 3)
    totals = whole.abm.population.sum(axis=(2, 3, 4))
    np.testing.assert_array_equal(np.array(state["chunks"]["runs"]["total"]), totals)
    fig = callbacks.on_band(state, "total", data)
    assert views.BAND_LABEL in fig["layout"]["title"]["text"]
    changed = scenario.set_in(data, "horizon", 2031)
    _s, stopped, text = callbacks.on_abm(ids.ABM_TICK, None, state, changed)
    assert stopped and "endret" in text


def test_abm_chunk_skips_services_and_keeps_the_population(main):
    """A chunk computes no services or budget; its runs are bit-identical to a full call's."""
    data = scenario.set_in(main, "horizon", 2027)
    sc = scenario.validate(data)
    only = run_abm_scenario(sc, 2, first_run=1, population_only=True)
    full = run_abm_scenario(sc, 2, first_run=1)
    np.testing.assert_array_equal(only.abm.population, full.abm.population)
    np.testing.assert_array_equal(only.abm.components, full.abm.components)
    assert only.services is None and only.investments is None and only.budget is None
    assert full.services is not None and full.budget is not None
    chunk = compute.abm_chunk(data, 1, 2)
    pop = full.abm.population.sum(axis=(2, 3))                    # [R, Y+1, A]
    np.testing.assert_array_equal(np.array(chunk["runs"]["total"]), pop.sum(axis=2))
    for name, (lo, hi) in AGE_GROUPS.items():                     # by hand, whole persons
        np.testing.assert_array_equal(np.array(chunk["runs"][name]),
                                      pop[:, :, lo : hi + 1].sum(axis=2))


def test_abm_reports_what_it_cannot_run(main):
    data = scenario.set_in(main, "migration.growth_target_pct", {"2024": 1.0})
    state, _disabled, _text = callbacks.on_abm(ids.ABM_START, 2, None, data)
    _s, stopped, text = callbacks.on_abm(ids.ABM_TICK, None, state, data)
    assert stopped and text.startswith("Den agentbaserte modellen kan ikke kjøre")
    assert "growth_target_pct" in text


# --- sweeps ---------------------------------------------------------------------------------

def test_sweep_browsing(sweep_root, tmp_path):
    from experiments.report import summary

    found = sweeps.list_sweeps(sweep_root)
    assert found == [str((sweep_root / "flyktninger").resolve())]
    assert sweeps.checked(found[0], sweep_root) is not None
    assert sweeps.label(found[0], sweep_root) == "flyktninger"
    assert sweeps.checked(str(tmp_path), sweep_root) is None  # not under the root
    assert sweeps.checked("/etc", sweep_root) is None
    folder = sweeps.checked(found[0], sweep_root)
    options = {o["value"]: o["label"] for o in sweeps.indicator_options(folder)}
    assert options["population.total"] == "Folketall"
    assert options["users.barnehage"] == "Brukere barnehage"
    assert sweeps.indicator_label("population.1-5@Nord") == "Innbyggere 1–5 år, Nord"
    assert sweeps.indicator_label("cost_nok.total") == "Kostnad (kr) i alt"
    fig = sweeps.fan_figure(folder, "users.barnehage")
    s = summary(folder)
    s = s[s.indicator == "users.barnehage"]
    median = next(t for t in fig["data"] if t.get("name") == "Median")
    np.testing.assert_array_equal(median["y"], s.p50.to_numpy())
    assert "12 av 12 scenarioer" in str(sweeps.info(folder))
    assert "hovedeffekt" in str(sweeps.sensitivity_table(folder, "users.barnehage"))
    assert "modell: kohortmodellen" in str(sweeps.info(folder))


def test_serve_command_starts_the_app(tmp_path):
    """`kommunesim serve --host --port` answers with the page and the app's layout."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--sweeps", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not answer within 60 s"
                time.sleep(0.5)
        assert '<html lang="nb">' in page and "<title>kommunesim</title>" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=5) as r:
            layout = json.dumps(json.loads(r.read()), ensure_ascii=False)
        assert "Lørenskog (3222)" in layout and "Bosatte flyktninger per år" in layout
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_rejects_a_missing_sweeps_folder(tmp_path, runner):
    res = runner.invoke(cli_app, ["serve", "--sweeps", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "is not a folder" in res.output
