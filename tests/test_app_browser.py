"""The web app as a planner uses it, in a real headless Chromium (Debian's, via Playwright).

One server (a thread, free port) and one browser for the module. The scenario: open the app,
pick Lørenskog, change the refugee settlement, see the 2030 barnehage figure change, pin the
main and the changed scenario and read their difference, download the scenario TOML and the
Excel file, run the TOML with the CLI and check the Excel numbers against its Parquet tables;
run the ABM band with its progress; open a sweep; find Bærum by typing "baerum" and see
the defaults its run uses. Screenshots of the main views go to
``$KOMMUNESIM_SCREENSHOTS`` (``make screenshots``-style: ``KOMMUNESIM_SCREENSHOTS=docs``) or
the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from sim import numbers as fmt
from sim.app import compute, scenario
from sim.cli import app as cli_app
from sim.config import interpolate_path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 90_000
"""Longest wait for the page (the first run loads numba's caches)."""

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} missing in CI: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} missing (make chromium installs it)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(sweep_root):
    from werkzeug.serving import make_server

    from sim.app.server import create_app

    srv = make_server("127.0.0.1", 0, create_app(sweep_root).server, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}/"
    srv.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def page(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1050},
                                      accept_downloads=True, locale="nb-NO")
        pg = context.new_page()
        pg.set_default_timeout(WAIT_MS)
        pg.goto(server)
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("KOMMUNESIM_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


def cell(page, name: str) -> str:
    return page.inner_text(f"[data-cell='{name}']").strip()


def wait_for_cell(page, name: str, text: str) -> None:
    """Wait until the cell ``data-cell=name`` shows ``text``."""
    page.wait_for_function(
        "([sel, text]) => { const e = document.querySelector(sel);"
        " return e !== null && e.innerText.trim() === text; }",
        arg=[f"[data-cell='{name}']", text])


def open_tab(page, label: str) -> None:
    page.locator("#tabs").get_by_text(label, exact=True).click()


def barnehage_2030(data: dict) -> float:
    s = compute.project(data).services
    return float(s[(s.year == 2030) & (s.service == "barnehage")].users.sum())


def test_planner_session(page, shots, tmp_path, runner):
    # open the app and pick Lørenskog
    page.wait_for_selector("[data-cell='total-2024']")
    page.click("#kommune")
    page.get_by_placeholder("Søk").fill("Lørenskog")  # 357 kommuner: search the list
    page.get_by_role("option", name="Lørenskog (3222)").click()
    wait_for_cell(page, "total-2024", "48 188")  # SSB 07459: Lørenskog 1 January 2024
    main = scenario.default_scenario("3222")
    before = cell(page, "barnehage-2030")
    assert before == fmt.number(barnehage_2030(main))
    page.screenshot(path=str(shots / "webapp_befolkning.png"), full_page=True)

    # pin the main scenario (the reference)
    open_tab(page, "Sammenlign")
    page.get_by_role("button", name="Fest hovedalternativet").click()
    page.wait_for_selector("text=hovedalternativet (3222)")

    # change the settlement: 2025 from 155 to 400 refugees
    table = page.locator(".field", has_text="Bosatte flyktninger per år")
    value = table.locator("td[data-dash-column='verdi']").nth(1)
    value.click()
    page.keyboard.type("400")
    page.keyboard.press("Enter")
    changed = scenario.set_in(main, "refugees.settled_per_year",
                              {**main["refugees"]["settled_per_year"], "2025": 400})
    after = fmt.number(barnehage_2030(changed))
    assert after != before and barnehage_2030(changed) > barnehage_2030(main)
    wait_for_cell(page, "barnehage-2030", after)

    # pin it and read the difference
    page.fill("#pin-name", "mer bosetting")
    page.get_by_role("button", name="Fest dette scenarioet").click()
    diff = barnehage_2030(changed) - barnehage_2030(main)
    sentence = f"mer bosetting: {fmt.signed(diff)} barnehagebarn i 2030 vs hovedalternativet"
    page.wait_for_selector(f"text={sentence}")
    assert cell(page, "diff-1-barnehage-2030") == fmt.signed(diff)
    page.screenshot(path=str(shots / "webapp_sammenlign.png"), full_page=True)

    # download the scenario and the Excel file; run the scenario with the CLI
    with page.expect_download() as dl:
        page.get_by_role("button", name="Last ned scenario (TOML)").click()
    toml_path = tmp_path / "mer_bosetting.toml"
    dl.value.save_as(toml_path)
    assert scenario.from_toml(toml_path.read_text(encoding="utf-8")) == changed
    with page.expect_download() as dl:
        page.get_by_role("button", name="Last ned Excel").click()
    xlsx = tmp_path / "mer_bosetting.xlsx"
    dl.value.save_as(xlsx)
    assert dl.value.suggested_filename == "main_MMMM.xlsx"  # the scenario's name
    out = tmp_path / "cli"
    res = runner.invoke(cli_app, ["run", str(toml_path), "--out", str(out), "--no-plots"])
    assert res.exit_code == 0, res.output
    wb = load_workbook(xlsx)
    services = pd.read_parquet(out / "services.parquet")
    rows = list(wb["Tjenester"].iter_rows(min_row=4, values_only=True))
    got = {(r[0], r[2]): r[4] for r in rows}
    for r in services.itertuples():
        assert got[(r.year, r.service)] == pytest.approx(r.users, rel=1e-15)
    pop = pd.read_parquet(out / "population.parquet")
    sheet = wb["Befolkning Lørenskog"]
    header = [c.value for c in sheet[3]]
    col = header.index("2030 (personer)")
    total_2030 = sum(r[col] for r in sheet.iter_rows(min_row=4, values_only=True))
    assert total_2030 == pytest.approx(pop[pop.year == 2030].persons.sum(), rel=1e-12)


def test_views_and_abm_band(page, shots):
    open_tab(page, "Tjenester")
    page.wait_for_selector("[data-cell^='barnehage-Lørenskog-']")
    page.screenshot(path=str(shots / "webapp_tjenester.png"), full_page=True)
    open_tab(page, "Økonomi")
    page.wait_for_selector("text=HR1 netto driftsresultat")
    page.screenshot(path=str(shots / "webapp_okonomi.png"), full_page=True)
    open_tab(page, "Usikkerhet")
    page.fill("#abm-runs-input", "10")
    page.get_by_role("button", name="Kjør agentbasert modell").click()
    page.wait_for_selector("text=10 av 10 kjøringer ferdig", timeout=180_000)
    page.wait_for_selector("text=P5–P95 over 10 kjøringer")
    page.screenshot(path=str(shots / "webapp_usikkerhet.png"), full_page=True)


def test_sweep_browser(page, shots, sweep_root):
    open_tab(page, "Sweeper")
    page.click("#sweep")
    page.get_by_role("option", name=re.compile("flyktninger")).click()
    page.wait_for_selector("text=12 av 12 scenarioer fullført")
    page.wait_for_selector("text=Sensitivitet")
    page.screenshot(path=str(shots / "webapp_sweep.png"), full_page=True)


def test_bad_upload_says_why(page, tmp_path):
    bad = tmp_path / "feil.toml"
    bad.write_text('municipality = "3222"\n[refugees]\nsettled_per_year = { 2024 = -5 }\n')
    page.set_input_files("#upload-scenario input[type=file]", str(bad))
    page.wait_for_selector("text=Kan ikke lese scenarioet: feil.toml")



def test_decimal_comma_in_tables(page):
    """A Norwegian user types 1,8 for the TFR: the scenario gets 1.8."""
    tfr = page.locator(".field", has_text="Fruktbarhet: samlet fruktbarhetstall")
    cell_ = tfr.locator("td[data-dash-column='verdi']").nth(2)
    cell_.click()
    page.keyboard.type("1,8")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#toml-text').value"
                           ".includes('2040 = 1.8\\n')")


def test_search_finds_a_kommune_without_a_scenario_file(page):
    """ "baerum" (ASCII) finds Bærum; its editor shows the defaults its run uses."""
    from sim.data.population import population_table as ssb
    from sim.inputs import resolve
    from sim.scenarios import build_scenario

    page.click("#kommune")
    page.get_by_placeholder("Søk").fill("baerum")
    page.get_by_role("option", name="Bærum (3201)").click()
    wait_for_cell(page, "total-2024", fmt.number(ssb(None).array("3201", 2024).sum()))
    run = resolve(build_scenario(None, "3201", None, None, None))
    # the run's refugees per year (exact) and its TFR path (rounded to 4 decimals)
    for label, want, rel in (
            ("Bosatte flyktninger per år", run.refugees.sum(axis=(1, 2, 3)), 1e-12),
            ("Fruktbarhet: samlet fruktbarhetstall", list(run.parameters["tfr_path"].values()),
             1e-4)):
        rows = page.locator(".field", has_text=label).locator("tr:has(td)")
        shown = scenario.rows_path([
            {"år": r.locator("td[data-dash-column='år']").inner_text().strip(),
             "verdi": r.locator("td[data-dash-column='verdi']").inner_text().strip()}
            for r in rows.all()])
        assert shown is not None and min(map(int, shown)) == 2024
        path = interpolate_path({int(y): v for y, v in shown.items()}, run.years)
        assert path == pytest.approx(want, rel=rel), label
