"""Every kommune from the command line: names, batches, lists and defaults."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import folder_is_empty_or_missing

from sim.cli import app
from sim.data.population import embedded_population


def test_run_by_name_is_the_same_as_by_number(runner, tmp_path):
    for name, m in (("a", "Lørenskog"), ("b", "3222"), ("c", "lorenskog")):
        res = runner.invoke(app, ["run", "-m", m, "--horizon", "2027", "--no-plots",
                                  "--out", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
    a, b, c = (pd.read_parquet(tmp_path / n / "population.parquet") for n in "abc")
    assert a.equals(b) and a.equals(c)


def test_run_without_kommune_or_scenario_is_an_error(runner, tmp_path):
    res = runner.invoke(app, ["run", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "give a scenario file or --municipality" in res.output
    assert folder_is_empty_or_missing(tmp_path / "x")


def test_unknown_name_lists_closest(runner, tmp_path):
    res = runner.invoke(app, ["run", "-m", "Lorenskg", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "closest: Lørenskog (3222)" in res.output
    assert "Traceback" not in res.output


def test_any_kommune_runs_with_labelled_defaults(runner, tmp_path):
    out = tmp_path / "baerum"
    res = runner.invoke(app, ["run", "-m", "baerum", "--horizon", "2030", "--no-plots",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    pop = pd.read_parquet(out / "population.parquet")
    assert set(pop.kommunenummer) == {"3201"}
    assert pop[pop.year == 2024].persons.sum() == embedded_population().array("3201",
                                                                              2024).sum()
    labels = json.loads((out / "manifest.json").read_text())["estimated_parameters"]["defaults"]
    assert labels["mortality_level"].startswith("ASSUMPTION")
    assert labels["refugee_plan"].startswith("ASSUMPTION")
    assert "0-year-olds" in labels["fertility_level"]


def test_batch_equals_single_runs(runner, tmp_path):
    """A list of kommuner in one process gives each kommune's single-run tables exactly."""
    out = tmp_path / "many"
    res = runner.invoke(app, ["run", "-m", "3222,Nesodden", "--horizon", "2030",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "2 kommuner projected (0 failed)" in res.output
    many = pd.read_parquet(out / "population.parquet")
    assert list(many.columns) == ["kommunenummer", "year", "district", "sex", "age", "persons"]
    for knr in ("3222", "3212"):
        one_dir = tmp_path / knr
        assert runner.invoke(app, ["run", "-m", knr, "--horizon", "2030", "--no-plots",
                                   "--no-budget", "--out", str(one_dir)]).exit_code == 0
        one = pd.read_parquet(one_dir / "population.parquet")
        part = many[many.kommunenummer == knr]
        np.testing.assert_array_equal(part.persons.to_numpy(), one.persons.to_numpy())
    summary = pd.read_csv(out / "summary.csv", dtype={"kommunenummer": str})
    assert list(summary.kommunenummer) == ["3222", "3212"]
    comp = pd.read_parquet(out / "components.parquet")
    assert set(comp.kommunenummer) == {"3222", "3212"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kommuner"] == ["3222", "3212"] and manifest["failed"] == {}


def test_fylke_batch(runner, tmp_path):
    out = tmp_path / "oslo"
    res = runner.invoke(app, ["run", "--fylke", "Oslo", "--horizon", "2026", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = pd.read_csv(out / "summary.csv", dtype={"kommunenummer": str})
    assert list(summary.kommunenummer) == ["0301"]
    assert summary.persons_base.iloc[0] == 717_710


@pytest.mark.parametrize(("args", "field"), [
    (["run", "-m", "all", "--engine", "abm"], "--engine"),
    (["run", "-m", "all", "--plots"], "--plots"),
    (["run", "--fylke", "Atlantis"], "--fylke"),
    (["run", "-m", "bergen,lorenskog", "--fylke", "Akershus"], "--fylke"),   # Bergen is not
    (["run", "-m", "3201,9999"], "--municipality"),        # refused before any kommune runs
    (["run", "-m", "all", "--zones", "bydeler"], "--zones"),   # bydeler only in four
])
def test_batch_refusals(runner, tmp_path, args, field):
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert field in res.output
    assert folder_is_empty_or_missing(tmp_path / "x")


def test_cli_horizon_is_blamed_on_the_command_line(runner, tmp_path):
    res = runner.invoke(app, ["run", "-m", "3222", "--horizon", "2020", "--out",
                              str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "command line: field '--horizon'" in res.output


def test_population_file_ending_before_2024_sets_the_base_year(runner, tmp_path):
    df = embedded_population().frame()
    df = df[(df.kommunenummer == "3222") & (df.year <= 2022)]
    path = tmp_path / "pop.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "r"
    res = runner.invoke(app, ["run", "-m", "3222", "--population", str(path), "--horizon",
                              "2030", "--no-plots", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "base year 2022: the last year in" in res.output
    pop = pd.read_parquet(out / "population.parquet")
    assert pop.year.min() == 2022
    # An explicit later base year names the way out.
    res = runner.invoke(app, ["run", "-m", "3222", "--population", str(path), "--base-year",
                              "2024", "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "have 2005..2022" in res.output


def test_kommuner_lists_all(runner):
    res = runner.invoke(app, ["kommuner", "--csv"])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert lines[0] == "kommunenummer,kommune,fylke,population_2024"
    assert len(lines) == 358
    assert "3222,Lørenskog,Akershus,48188" in lines


def test_a_scenario_file_keeps_its_kommune(runner, tmp_path):
    """-m on a file of another kommune with fitted levels is refused (they would be wrong);
    a generic file (only paths and multipliers) may be run for any kommune."""
    from pathlib import Path

    main = Path(__file__).parents[1] / "experiments" / "scenarios" / "lorenskog_main.toml"
    res = runner.invoke(app, ["run", str(main), "-m", "3205", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "is a scenario for 3222" in res.output and "fertility.level" in res.output
    generic = tmp_path / "g.toml"
    generic.write_text('municipality = "3222"\nhorizon = 2027\n[fertility]\n'
                       'tfr = { 2024 = 1.5 }\n')
    res = runner.invoke(app, ["run", str(generic), "-m", "Bærum", "--no-plots", "--no-xlsx",
                              "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    assert pd.read_parquet(tmp_path / "g" / "population.parquet").kommunenummer.iloc[0] == "3201"


def test_a_sweep_over_kommuner_needs_a_generic_base(tmp_path):
    from experiments.sweep_config import load_sweep
    from sim.errors import InputError

    sw = tmp_path / "s.toml"
    sw.write_text('base = "lorenskog_main"\n[axes.municipality]\nvalues = ["3222", "3205"]\n')
    with pytest.raises(InputError, match="settings of that kommune"):
        load_sweep(sw)
    sw.write_text('[base]\nmunicipality = "3222"\nhorizon = 2030\n'
                  '[axes.municipality]\nvalues = ["3222", "3205"]\n')
    assert load_sweep(sw).axes["municipality"]


def test_kommuner_listed_with_their_fylke_are_the_selection():
    from sim.data.kommuner import select_kommuner

    assert select_kommuner("lorenskog,baerum", "Akershus") == ["3222", "3201"]
    assert len(select_kommuner("all", "Akershus")) == len(select_kommuner(None, "Akershus")) > 2
