"""The command line: outputs of `run` and `inputs`, and bad input -> one line, exit 2, no output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import folder_is_empty_or_missing

from sim.cli import app
from sim.demography.ageing import age_on


def test_run_writes_tables_plots_manifest(runner, tmp_path):
    out = tmp_path / "res"
    result = runner.invoke(app, ["run", "--municipality", "3222", "--horizon", "2030",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"population.parquet", "components.parquet", "manifest.json", "pyramid.png",
            "total_population.png", "age_groups.png"} <= names
    pop = pd.read_parquet(out / "population.parquet")
    comp = pd.read_parquet(out / "components.parquet")
    assert list(pop.columns) == ["kommunenummer", "year", "district", "sex", "age", "persons"]
    assert list(comp.columns) == ["kommunenummer", "year", "district", "sex", "age", "births",
                                  "deaths", "in_migrants", "out_migrants", "refugees"]
    assert pop[pop.year == 2024].persons.sum() == pytest.approx(48_188)
    assert (pop.persons >= 0).all()
    # Balance identity from the written tables alone.
    cube = pop.pivot_table(index=["year", "sex"], columns="age", values="persons").sort_index()
    for year in range(2024, 2030):
        for sex in ("male", "female"):
            start = cube.loc[(year, sex)].to_numpy()
            end = cube.loc[(year + 1, sex)].to_numpy()
            c = comp[(comp.year == year) & (comp.sex == sex)].sort_values("age")
            flows = (c.births + c.in_migrants + c.refugees - c.deaths - c.out_migrants).to_numpy()
            np.testing.assert_allclose(end, age_on(start) + flows, rtol=1e-12, atol=1e-9)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["municipality"] == "3222"
    assert len(manifest["resolved_input_sha256"]) == 64
    assert "Lørenskog" in result.output


def test_same_scenario_same_bits(runner, tmp_path):
    for name in ("a", "b"):
        assert runner.invoke(app, ["run", "-m", "3205", "--horizon", "2028", "--no-plots",
                                   "--out", str(tmp_path / name)]).exit_code == 0
    a = pd.read_parquet(tmp_path / "a" / "population.parquet")
    b = pd.read_parquet(tmp_path / "b" / "population.parquet")
    assert a.equals(b)


def test_inputs_command_writes_documented_csv(runner, tmp_path):
    out = tmp_path / "inputs"
    result = runner.invoke(app, ["inputs", "-m", "3205", "--horizon", "2030", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("base_population", "fertility", "death_probability", "out_rate",
                 "in_migrants", "refugees"):
        assert (out / f"{name}.csv").exists()
        assert name in (out / "README.md").read_text()
    params = json.loads((out / "parameters.json").read_text())
    assert 0.5 < params["p_male_birth"] < 0.52


def _scenario(tmp_path, text: str):
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


BAD_SCENARIOS = {
    "unknown key": ('municipality = "3222"\nhorizont = 2040\n', "horizont"),
    "wrong type": ('municipality = "3222"\nhorizon = "soon"\n', "horizon"),
    "negative rate": ('municipality = "3222"\n[fertility]\ntfr = { 2030 = -1.5 }\n',
                      "fertility.tfr"),
    "horizon before base": ('municipality = "3222"\nbase_year = 2024\nhorizon = 2020\n', "horizon"),
    "unknown municipality": ('municipality = "9999"\n', "municipality"),
    "base year without data": ('municipality = "3222"\nbase_year = 2030\nhorizon = 2040\n',
                               "base_year"),
    "bad toml": ('municipality = "3222\n', None),
    "negative out multiplier": ('municipality = "3222"\n[migration]\n'
                                'out_rate_multiplier = { 2030 = -1 }\n',
                                "migration.out_rate_multiplier"),
    "district shares": ('municipality = "3222"\n[[districts]]\nname = "A"\nshare = 0.5\n',
                        "districts"),
    "district key typo": ('municipality = "3222"\n[[districts]]\nname = "A"\nshar = 1.0\n',
                          "districts.0.shar"),
    "HFD years outside data": ('municipality = "3222"\n[fertility]\n'
                               'schedule_years = [1980, 1985]\n', "fertility.schedule_years"),
    "HMD years reversed": ('municipality = "3222"\n[mortality]\nbase_years = [2023, 2019]\n',
                           "mortality.base_years"),
    "life expectancy 200": ('municipality = "3222"\n[mortality]\ne0_male = { 2030 = 200 }\n',
                            "mortality.e0_male"),
    "unknown service in coverage path": ('municipality = "3222"\n[services]\n'
                                         'coverage_path = { skole = { 2030 = 0.5 } }\n',
                                         "services.coverage_path.skole"),
}


@pytest.mark.parametrize("case", BAD_SCENARIOS)
def test_bad_scenario_one_line_exit_2_no_output(runner, tmp_path, case):
    text, field = BAD_SCENARIOS[case]
    path = _scenario(tmp_path, text)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(path) in lines[0].replace("\n", "")
    if field:
        assert f"'{field}'" in lines[0]
    assert "Traceback" not in result.output
    assert folder_is_empty_or_missing(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]


def _write_override(tmp_path, name, mutate):
    """Export the default inputs, mutate one table, and return a scenario using it."""
    from sim.config import scenario_from_dict
    from sim.inputfiles import write_inputs
    from sim.inputs import resolve

    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2027}))
    folder = tmp_path / "inputs"
    write_inputs(inputs, folder)
    csv = folder / f"{name}.csv"
    df = pd.read_csv(csv)
    df = mutate(df)
    if df is not None:
        df.to_csv(csv, index=False)
    return _scenario(tmp_path, f'municipality = "3222"\nhorizon = 2027\n[inputs]\n'
                               f'{name} = "inputs/{name}.csv"\n'), csv


def _set(col, value, row=5):
    def mutate(df):
        if isinstance(value, str):
            df[col] = df[col].astype(object)
        df.loc[row, col] = value
        return df
    return mutate


BAD_FILES = {
    "probability above 1": ("death_probability", _set("probability", 1.5), "probability"),
    "negative rate": ("out_rate", _set("rate", -0.1), "rate"),
    "age table with gaps": ("base_population", lambda df: df[df.age != 17], "district,sex,age"),
    "unknown district": ("in_migrants", _set("district", "Atlantis"), "district"),
    "not a number": ("fertility", _set("births_per_woman", "abc"), "births_per_woman"),
    "missing column": ("refugees", lambda df: df.drop(columns="persons"), "persons"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_override_file(runner, tmp_path, case):
    name, mutate, field = BAD_FILES[case]
    scenario, csv = _write_override(tmp_path, name, mutate)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(csv) in lines[0] and f"'{field}'" in lines[0]
    assert folder_is_empty_or_missing(out)


def test_corrupt_csv_and_parquet(runner, tmp_path):
    out = tmp_path / "out"
    corrupt = tmp_path / "population.csv"
    corrupt.write_bytes(b"\x00\x01garbage\xff\xfe;;;\n\x00")
    result = runner.invoke(app, ["run", "-m", "3222", "--population", str(corrupt),
                                 "--out", str(out)])
    assert result.exit_code == 2
    assert "population.csv" in result.output and len(result.output.strip().splitlines()) == 1
    parquet = tmp_path / "inputs" / "in_migrants.parquet"
    parquet.parent.mkdir()
    parquet.write_bytes(b"PAR1 this is not parquet")
    scenario = _scenario(tmp_path, 'municipality = "3222"\n[inputs]\n'
                                   'in_migrants = "inputs/in_migrants.parquet"\n')
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 2
    assert "in_migrants.parquet" in result.output and "Parquet" in result.output
    assert folder_is_empty_or_missing(out)


def test_parquet_override_accepted(runner, tmp_path):
    scenario, csv = _write_override(tmp_path, "refugees", lambda df: None)
    pq_path = csv.with_suffix(".parquet")
    pd.read_csv(csv).to_parquet(pq_path)
    scenario.write_text(scenario.read_text().replace("refugees.csv", "refugees.parquet"))
    result = runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output


def test_data_import_then_run(runner, tmp_path):
    """An SSB export imported with the CLI runs like an embedded municipality."""
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "ssb" / "07459_lorenskog_wide_cp1252.csv"
    data = tmp_path / "data"
    result = runner.invoke(app, ["data", "import", str(fixture), "--out", str(data)])
    assert result.exit_code == 0, result.output
    written = data / "population_3222.csv"
    assert written.exists()
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "-m", "3222", "--population", str(written),
                                 "--horizon", "2027", "--no-plots", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pop = pd.read_parquet(out / "population.parquet")
    assert pop[pop.year == 2024].persons.sum() == pytest.approx(48_188)


def test_data_import_bad_file(runner, tmp_path):
    bad = tmp_path / "07459.csv"
    bad.write_text('"region";"kjønn";"alder";"år";"Personer"\n"3222 Lørenskog";"Menn";"0 år";'
                   '"2024";"..";\n')
    out = tmp_path / "data"
    result = runner.invoke(app, ["data", "import", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "07459.csv" in result.output and len(result.output.strip().splitlines()) == 1
    assert folder_is_empty_or_missing(out)


def test_run_abm_engine_writes_runs_and_quantiles(runner, tmp_path):
    out = tmp_path / "abm"
    result = runner.invoke(app, ["run", "-m", "3222", "--horizon", "2026", "--engine", "abm",
                                 "--runs", "3", "--no-plots", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pop = pd.read_parquet(out / "population.parquet")
    assert sorted(pop.run.unique()) == [0, 1, 2]
    # Every run starts from the SSB base population.
    assert (pop[pop.year == 2024].groupby("run").persons.sum() == 48_188).all()
    q = pd.read_parquet(out / "population_quantiles.parquet")
    assert {"mean", "p5", "p50", "p95"} <= set(q.columns)
    assert (q.p5 <= q.p50).all() and (q.p50 <= q.p95).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"] == "abm" and manifest["runs"] == 3
    # the budget of the mean over runs: its population is the runs' mean
    assert manifest["budget"]["of"] == "the mean over runs"
    assert {"budget.parquet", "budget.xlsx"} <= set(manifest["files"])
    people = pd.read_csv(out / "budget_befolkning_og_kriterier.csv", sep=";",
                         encoding="utf-8-sig").set_index("Post")
    mean_2025 = pop[pop.year == 2025].persons.sum() / 3
    assert float(people.loc["Innbyggere 1.1.", "2025"]) == pytest.approx(mean_2025, abs=0.5)


def test_unknown_engine_exit_2(runner, tmp_path):
    result = runner.invoke(app, ["run", "--engine", "magic", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--engine" in result.output
    assert not (tmp_path / "x").exists()


def test_rerun_into_same_folder_removes_stale_outputs(runner, tmp_path):
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", "-m", "3222", "--horizon", "2027", "--no-plots",
                               "--out", str(out)]).exit_code == 0
    assert (out / "budget.parquet").exists()
    (out / "my_notes.txt").write_text("keep me")
    scenario = tmp_path / "s.toml"
    scenario.write_text('municipality = "3222"\nhorizon = 2027\n[budget]\nenabled = false\n')
    assert runner.invoke(app, ["run", str(scenario), "--no-plots",
                               "--out", str(out)]).exit_code == 0
    assert not (out / "budget.parquet").exists()
    assert (out / "my_notes.txt").read_text() == "keep me"
    listed = set(json.loads((out / "manifest.json").read_text())["files"])
    assert listed == {p.name for p in out.iterdir()} - {"my_notes.txt"}


def test_services_check_bad_driver_one_line_exit_2(runner, tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text('municipality = "3205"\n[services.intro]\nlabel = "Intro"\n'
                    'sector = "sosialhjelp"\nunit_cost_nok = 140257\nprice_year = 2024\n'
                    'staff_per_user = 0.02\ndriver = "refugee_arrivals"\n'
                    'age_groups = [{ ages = [18, 55], coverage = 0.74 }]\n', encoding="utf-8")
    result = runner.invoke(app, ["services", str(path), "--check"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(path) in lines[0] and "'services.intro.driver'" in lines[0]
    assert "'population' or 'recent_refugees'" in lines[0] and "Traceback" not in result.output
    # a good recent-refugee service passes and the summary names the driver
    path.write_text(path.read_text(encoding="utf-8").replace(
        '"refugee_arrivals"', '"recent_refugees"\ndriver_years = 3'), encoding="utf-8")
    result = runner.invoke(app, ["services", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert "refugees settled in the last 3 years" in result.output


def test_notes_for_missing_refugee_history_and_budget(runner, tmp_path):
    out = tmp_path / "out"
    # Lørenskog's own record starts in 2019, the national one (its share before) in 2005
    result = runner.invoke(app, ["run", "-m", "3222", "--base-year", "2006", "--horizon", "2009",
                                 "--no-plots", "--out", str(out)])
    assert result.exit_code == 0, result.output
    notes = json.loads((out / "manifest.json").read_text())["notes"]
    assert any(n.startswith("introduksjonsprogram: no refugee settlement figures for 2004 ")
               for n in notes)
    assert any(n.startswith("budget skipped") for n in notes)
    assert not (out / "budget.parquet").exists()


def test_abm_settings_in_a_cohort_run_are_a_note(runner, tmp_path):
    """Issue 11: a section the engine cannot use is never dropped silently."""
    path = tmp_path / "sc.toml"
    path.write_text('extends = "lorenskog_main"\nname = "x"\n[abm]\npersons_per_household = 2.0\n',
                    encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--horizon", "2026", "--no-plots",
                                 "--no-xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    note = ("abm: persons_per_household are settings of the agent-based engine (--engine abm); "
            "this cohort run does not use them")
    assert note in json.loads((out / "manifest.json").read_text())["notes"]
    plain = runner.invoke(app, ["run", "-m", "3222", "--horizon", "2026", "--no-plots",
                                "--no-xlsx", "--out", str(tmp_path / "plain")])
    assert "abm:" not in plain.output


def test_rerun_never_deletes_files_of_a_foreign_manifest(runner, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("mine")
    (out / "a").write_text("mine too")
    (out / "manifest.json").write_text(json.dumps({"name": "data package",
                                                   "files": ["thesis.docx", "a"]}))
    assert runner.invoke(app, ["run", "-m", "3222", "--horizon", "2026", "--no-plots",
                               "--out", str(out)]).exit_code == 0
    assert (out / "thesis.docx").read_text() == "mine" and (out / "a").exists()
    # A string instead of a list in a kommunesim manifest is not trusted either.
    (out / "manifest.json").write_text(json.dumps({"kommunesim_version": "0", "files": "a"}))
    assert runner.invoke(app, ["run", "-m", "3222", "--horizon", "2026", "--no-plots",
                               "--out", str(out)]).exit_code == 0
    assert (out / "a").exists()


def test_builtin_scenario_by_name(runner, tmp_path):
    """`run lorenskog_main` runs the shipped scenario file of that name."""
    from sim.config import builtin_scenarios

    result = runner.invoke(app, ["run", "lorenskog_main", "--horizon", "2026", "--no-plots",
                                 "--no-xlsx", "--no-budget", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["scenario"]["municipality"] == "3222"
    assert "lorenskog_main" in builtin_scenarios()


def test_plain_number_is_a_constant_year_path():
    """`in_multiplier = 0.9` means 0.9 every year; a string names the field and the forms."""
    from sim.config import scenario_from_dict
    from sim.errors import InputError
    from sim.schema import interpolate_path

    plain = scenario_from_dict({"municipality": "3222", "migration": {"in_multiplier": 0.9}})
    path = scenario_from_dict({"municipality": "3222",
                               "migration": {"in_multiplier": {2024: 0.9}}})
    years = np.arange(2000, 2101)
    assert plain.migration.in_multiplier is not None
    np.testing.assert_array_equal(interpolate_path(plain.migration.in_multiplier, years),
                                  interpolate_path(path.migration.in_multiplier, years))
    with pytest.raises(InputError, match="migration.in_multiplier.*year path"):
        scenario_from_dict({"municipality": "3222", "migration": {"in_multiplier": "high"}},
                           "s.toml")


def test_abm_notes_missing_refugee_history_as_the_cohort_run_does(runner, tmp_path):
    """Both engines count the same settlement record, so they note the same missing years."""
    notes = {}
    for engine in ("cohort", "abm"):
        out = tmp_path / engine
        result = runner.invoke(app, ["run", "-m", "3222", "--base-year", "2006", "--horizon",
                                     "2008", "--engine", engine, "--runs", "2", "--no-plots",
                                     "--no-xlsx", "--out", str(out)])
        assert result.exit_code == 0, result.output
        notes[engine] = [n for n in json.loads((out / "manifest.json").read_text())["notes"]
                         if "no refugee settlement figures" in n]
    assert notes["abm"] == notes["cohort"]
    assert any(n.startswith("introduksjonsprogram: no refugee settlement figures for 2004 ")
               for n in notes["abm"])
    assert "introduksjonsprogram: no refugee settlement figures" in result.output
