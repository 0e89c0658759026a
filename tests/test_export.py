"""Excel export: the workbook read back equals the CLI's Parquet tables; formats and errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.cli import app as cli_app
from sim.export import (
    HEADER_ROW,
    integer_format,
    sheet_name,
    tables_from_result,
    workbook_bytes,
)

REL = 1e-15
ROOT = Path(__file__).resolve().parents[1]
BUDGET_SHEETS = ["Frie inntekter", "Drift per sektor", "Investeringer og finansiering",
                 "Gjeld og rente", "Handlingsregler", "KØB", "Innsparingsbehov",
                 "Endringsanalyse", "Befolkning og kriterier"]
"""openpyxl writes a float with 16 significant digits: it reads back within 1e-15."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A CLI run of Lørenskog (to 2035) and its `kommunesim export` workbook."""
    from typer.testing import CliRunner

    tmp = tmp_path_factory.mktemp("export")
    run_dir, xlsx = tmp / "run", tmp / "lorenskog.xlsx"
    runner = CliRunner()
    res = runner.invoke(cli_app, ["run", "-m", "3222", "--horizon", "2035", "--out",
                                  str(run_dir), "--no-plots"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli_app, ["export", str(run_dir), "--out", str(xlsx)])
    assert res.exit_code == 0, res.output
    return run_dir, load_workbook(xlsx)


def sheet_frame(ws, label_columns: int) -> pd.DataFrame:
    """A wide sheet as a frame: label columns as index, headers as columns."""
    rows = list(ws.iter_rows(min_row=HEADER_ROW, values_only=True))
    df = pd.DataFrame(rows[1:], columns=rows[0])
    return df.set_index(list(df.columns[:label_columns]))


def test_sheets_readme_and_frozen_headers(exported):
    run_dir, wb = exported
    assert wb.sheetnames == ["Les meg", "Befolkning Lørenskog", "Tjenester",
                             "Demografikostnader", *BUDGET_SHEETS]
    readme = {r[0]: r[1] for r in wb["Les meg"].iter_rows(values_only=True) if r[0]}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert json.loads(readme["Scenario"]) == manifest["scenario"]
    assert all(name in readme for name in wb.sheetnames[1:])
    assert wb["Befolkning Lørenskog"].freeze_panes == f"C{HEADER_ROW + 1}"
    assert wb["Tjenester"].freeze_panes == f"E{HEADER_ROW + 1}"
    assert wb["Frie inntekter"].freeze_panes == f"C{HEADER_ROW + 1}"


def test_population_sheet_equals_population_parquet(exported):
    run_dir, wb = exported
    pop = pd.read_parquet(run_dir / "population.parquet")
    sheet = sheet_frame(wb["Befolkning Lørenskog"], 2)
    years = sorted(pop.year.unique())
    assert list(sheet.columns) == [f"{y} (personer)" for y in years]
    sex = {"male": "Menn", "female": "Kvinner"}
    for row in pop.sample(300, random_state=1).itertuples():
        assert sheet.at[(sex[row.sex], row.age), f"{row.year} (personer)"] == pytest.approx(
            row.persons, rel=REL, abs=0)
    assert len(sheet) == 2 * 106
    total_2024 = sheet["2024 (personer)"].sum()
    assert total_2024 == pytest.approx(48188, abs=1e-6)  # SSB 07459, 1 January 2024


def test_services_sheet_equals_services_parquet(exported):
    run_dir, wb = exported
    s = pd.read_parquet(run_dir / "services.parquet")
    ws = wb["Tjenester"]
    rows = list(ws.iter_rows(min_row=HEADER_ROW, values_only=True))
    assert rows[0][4:10] == ("Brukere (personer)", "Plassbehov", "Plasser",
                             "Avvik (plassbehov − plasser)", "Årsverk",
                             "Kostnad (1000 kr, 2024-kroner)")
    got = pd.DataFrame(rows[1:], columns=rows[0])
    assert len(got) == len(s)
    np.testing.assert_array_equal(got["År"], s.year)
    np.testing.assert_array_equal(got["Tjeneste"], s.service)
    np.testing.assert_allclose(got["Brukere (personer)"], s.users, rtol=REL)
    np.testing.assert_allclose(got["Kostnad (1000 kr, 2024-kroner)"], s.cost_nok / 1000,
                               rtol=REL)
    assert got["Plasser"].isna().all() == s.capacity.isna().all()


def test_services_sheet_places_include_new_buildings():
    """Zones with facilities and whole new buildings: 'Plasser' are all places (today's and
    new buildings) and the gap is place demand (under-3s count twice) minus them."""
    from sim.config import load_scenario
    from sim.run import run

    result = run(load_scenario(ROOT / "experiments" / "scenarios"
                               / "lillestrom_zones_housing.toml"))
    s = result.services
    assert (s.new_places > 0).any() and (s.place_demand != s.users).any()
    wb = load_workbook(io.BytesIO(workbook_bytes(tables_from_result(result))))
    rows = list(wb["Tjenester"].iter_rows(min_row=HEADER_ROW, values_only=True))
    got = pd.DataFrame(rows[1:], columns=rows[0])
    known = s.places.notna().to_numpy()
    np.testing.assert_allclose(got["Plasser"][known].astype(float), s.places[known], rtol=REL)
    np.testing.assert_allclose(got["Plassbehov"][known].astype(float), s.place_demand[known],
                               rtol=REL)
    np.testing.assert_allclose(got["Avvik (plassbehov − plasser)"][known].astype(float),
                               (s.place_demand - s.places)[known], rtol=1e-12, atol=1e-9)
    assert got["Plasser"][~known].isna().all()


def test_demografikostnader_and_budget_sheets(exported):
    run_dir, wb = exported
    dk = pd.read_parquet(run_dir / "demografikostnader.parquet")
    sheet = sheet_frame(wb["Demografikostnader"], 1)
    expected = dk.groupby(["service", "year"]).cost_change_nok.sum() / 1000
    for (service, year), value in expected.items():
        assert sheet.at[service, f"{year} (1000 kr)"] == pytest.approx(value, rel=REL)
    assert sheet.loc["I alt"].to_numpy() == pytest.approx(
        (dk.groupby("year").cost_change_nok.sum() / 1000).to_numpy(), rel=REL)
    # The budget sheets against the budget's own tidy lines (budget.parquet, NOK).
    lines = pd.read_parquet(run_dir / "budget.parquet").set_index(["line", "year"]).value_nok
    frie = sheet_frame(wb["Frie inntekter"], 2).droplevel("Enhet")
    for year in (2024, 2030):
        assert frie.at["Skatt på inntekt og formue", str(year)] == pytest.approx(
            lines[("skatt", year)] / 1000, rel=REL)
    rules = sheet_frame(wb["Handlingsregler"], 2).droplevel("Enhet")
    row = "HR1 netto driftsresultat >= 2 %: verdi"
    ndr = lines[("netto_driftsresultat", 2030)] / lines[("driftsinntekter", 2030)] * 100
    assert rules.at[row, "2030"] == pytest.approx(ndr, rel=1e-9)
    assert rules.at["HR1 netto driftsresultat >= 2 %: status", "2030"] in ("Oppfylt",
                                                                           "Ikke oppfylt")


def test_number_formats_group_thousands_with_spaces(exported):
    _run, wb = exported
    ws = wb["Frie inntekter"]
    for row in ws.iter_rows(min_row=HEADER_ROW + 1, min_col=3):
        for cell in row:
            if isinstance(cell.value, float) and ws.cell(cell.row, 2).value == "1000 kr":
                assert cell.number_format == integer_format(cell.value)
    rules = wb["Handlingsregler"]
    assert rules.cell(HEADER_ROW + 1, 2).value == "%"
    assert rules.cell(HEADER_ROW + 1, 4).number_format == "0.0"


def test_integer_format_is_excels_grouped_format():
    # Excel groups the digits with the reader's separator: "48 188" in a Norwegian Excel.
    assert integer_format(48188.2) == integer_format(1_234_567) == "#,##0"


def test_sheet_names_are_valid_and_unique():
    assert sheet_name("Befolkning a/b:c") == "Befolkning a-b-c"
    long = "Befolkning " + "x" * 40
    assert len(sheet_name(long)) == 31
    assert sheet_name(long, [sheet_name(long)]).endswith(" 2")


def test_in_memory_result_gives_the_same_workbook_content(exported):
    """The web app's download (from a RunResult) shows what the CLI export shows."""
    from sim.app import compute, scenario

    run_dir, wb = exported
    data = scenario.set_in(scenario.default_scenario("3222"), "horizon", 2035)
    app_wb = load_workbook(io.BytesIO(workbook_bytes(tables_from_result(compute.project(data)))))
    for name in wb.sheetnames[1:]:
        a = list(wb[name].iter_rows(values_only=True))
        b = list(app_wb[name].iter_rows(values_only=True))
        assert a == b, name


def test_export_errors(tmp_path, runner):
    res = runner.invoke(cli_app, ["export", str(tmp_path), "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and "not a results folder" in res.output
    assert not (tmp_path / "x.xlsx").exists()
    (tmp_path / "manifest.json").write_text(json.dumps({"engine": "magic"}))
    res = runner.invoke(cli_app, ["export", str(tmp_path), "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and "engine cohort or abm" in res.output
    (tmp_path / "manifest.json").write_text(json.dumps({"engine": "abm"}))
    res = runner.invoke(cli_app, ["export", str(tmp_path), "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and "field 'runs'" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "x.xlsx").exists()
    res = runner.invoke(cli_app, ["export", str(tmp_path), "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and ".xlsx" in res.output


# --- the agent-based engine: the workbook of the mean over runs ------------------------------

ABM_RUNS = 3


@pytest.fixture(scope="module")
def abm_exported(tmp_path_factory):
    """An ABM CLI run of Lørenskog (3 runs to 2026, with plots) and its `kommunesim export`."""
    from typer.testing import CliRunner

    tmp = tmp_path_factory.mktemp("abm_export")
    run_dir, xlsx = tmp / "run", tmp / "export.xlsx"
    runner = CliRunner()
    res = runner.invoke(cli_app, ["run", "-m", "3222", "--horizon", "2026", "--engine", "abm",
                                  "--runs", str(ABM_RUNS), "--out", str(run_dir)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli_app, ["export", str(run_dir), "--out", str(xlsx)])
    assert res.exit_code == 0, res.output
    return run_dir, load_workbook(run_dir / "kommunesim.xlsx"), load_workbook(xlsx)


def test_abm_folder_has_the_cohort_runs_tables_and_plots(abm_exported):
    run_dir, _wb, _export = abm_exported
    files = set(json.loads((run_dir / "manifest.json").read_text())["files"])
    assert {"services.parquet", "demografikostnader.parquet", "investments.parquet",
            "kommunesim.xlsx", "services_demand.png", "services_gap_by_zone.png",
            "services_cost_per_inhabitant.png", "demografikostnader.png", "age_groups.png",
            "pyramid.png", "total_population_fan.png"} <= files
    assert all((run_dir / f).exists() for f in files)
    for path in run_dir.glob("*.parquet"):
        if path.name.startswith("budget"):
            continue  # the budget's tables are per kommune by construction (one run)
        table = pd.read_parquet(path)
        assert table.columns[0] == "kommunenummer", path.name
        assert set(table.kommunenummer) == ({"3222"} if len(table) else set()), path.name


def test_abm_workbook_is_the_mean_over_runs(abm_exported):
    """The workbook's population is the runs' population summed and divided by the runs."""
    run_dir, wb, _export = abm_exported
    assert wb.sheetnames == ["Les meg", "Befolkning Lørenskog", "Tjenester",
                             "Demografikostnader", *BUDGET_SHEETS]
    label = f"snitt av {ABM_RUNS} kjøringer"
    readme = {r[0]: r[1] for r in wb["Les meg"].iter_rows(values_only=True) if r[0]}
    assert label in readme["kommunesim"] and label in readme["Tall"]
    ws = wb["Befolkning Lørenskog"]
    assert label in ws.cell(2, 1).value
    runs = pd.read_parquet(run_dir / "population.parquet")
    assert sorted(runs.run.unique()) == list(range(ABM_RUNS))
    by_hand = (runs.groupby(["sex", "age", "year"], observed=True).persons.sum()
               / ABM_RUNS).unstack("year")
    sheet = sheet_frame(ws, 2)
    sex = {"male": "Menn", "female": "Kvinner"}
    assert len(sheet) == 2 * 106 and len(by_hand) == 2 * 106
    for (s, age), row in by_hand.iterrows():
        for year, persons in row.items():
            assert sheet.at[(sex[s], age), f"{year} (personer)"] == pytest.approx(
                persons, rel=REL, abs=0)
    assert sheet["2024 (personer)"].sum() == pytest.approx(48188, abs=1e-6)
    # the same formats as a cohort run's workbook
    assert ws.cell(HEADER_ROW + 1, 3).number_format == "#,##0"
    assert wb["Tjenester"].cell(HEADER_ROW + 1, 9).number_format == "0.0"   # årsverk
    rules = wb["Handlingsregler"]
    assert rules.cell(HEADER_ROW + 1, 2).value == "%"
    assert rules.cell(HEADER_ROW + 1, 4).number_format == "0.0"
    # services are those of the mean: their inhabitants are the mean population
    s = pd.read_parquet(run_dir / "services.parquet")
    inhabitants = s.groupby("year").inhabitants.first()
    totals = runs.groupby("year").persons.sum() / ABM_RUNS
    np.testing.assert_allclose(inhabitants, totals.loc[inhabitants.index], rtol=1e-12)


def test_export_of_an_abm_folder_equals_its_workbook(abm_exported):
    _run_dir, wb, export = abm_exported
    assert export.sheetnames == wb.sheetnames
    for name in wb.sheetnames:
        a = list(wb[name].iter_rows(values_only=True))
        b = list(export[name].iter_rows(values_only=True))
        if name == "Les meg":  # the run's readme has the scenario without its source file
            a, b = [r for r in a if r[0] != "Scenario"], [r for r in b if r[0] != "Scenario"]
        assert a == b, name
