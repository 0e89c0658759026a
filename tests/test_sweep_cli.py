"""Sweep files with mistakes: one clear line naming the file and field, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from experiments.cli import report_cmd, summary_cmd, sweep_cmd
from experiments.sweep_config import load_sweep
from sim.config import load_scenario
from sim.run import run, write_run

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "experiments" / "scenarios" / "lorenskog_main.toml"


def app() -> typer.Typer:
    local = typer.Typer()
    local.command("sweep")(sweep_cmd)
    local.command("report")(report_cmd)
    local.command("summary")(summary_cmd)
    return local


GOOD_AXIS = '[axes."migration.in_multiplier"]\nvalues = [0.9, 1.1]\n'
CASES = {
    "unknown axis": ('[axes."fertility.tfrr"]\nvalues = [1.5]\n',
                     "axes.fertility.tfrr", "unknown scenario key"),
    "empty range": ('[design]\nmethod = "lhs"\nsamples = 4\n'
                    '[axes."fertility.tfr"]\nrange = [1.9, 1.2]\n', "axes.fertility.tfr.range",
                    "empty range"),
    "sample size 0": ('[design]\nmethod = "sobol"\nsamples = 0\n'
                      '[axes."fertility.tfr"]\nrange = [1.2, 1.9]\n', "design.samples",
                      "greater than or equal to 1"),
    "unknown output": (GOOD_AXIS + '[outputs]\nindicators = ["population", "queues"]\n',
                       "outputs.indicators", "unknown output 'queues'"),
    "empty values": ('[axes."migration.in_multiplier"]\nvalues = []\n',
                     "axes.migration.in_multiplier.values", "at least one value"),
    "bad value": ('[axes."migration.in_multiplier"]\nvalues = { neg = -1.0 }\n',
                  "axes.migration.in_multiplier.values.neg", "must be within 0..10"),
    "abm engine without runs": ('engine = "abm"\n' + GOOD_AXIS, "runs",
                                "required for engine 'abm'"),
    "unknown engine": ('engine = "agent"\n' + GOOD_AXIS, "engine", "unknown engine 'agent'"),
    "abm runs 0": ('engine = "abm"\nruns = 0\n' + GOOD_AXIS, "runs",
                   "greater than or equal to 1"),
    "abm axis with cohort": ('[axes."abm.reunification_rate"]\nvalues = [0.9]\n',
                             "axes.abm.reunification_rate", "only in the agent-based engine"),
    "values in lhs": ('[design]\nmethod = "lhs"\nsamples = 4\n' + GOOD_AXIS,
                      "axes.migration.in_multiplier.values", "method = 'grid'"),
    "sobol not power of 2": ('[design]\nmethod = "sobol"\nsamples = 12\n'
                             '[axes."fertility.tfr"]\nrange = [1.2, 1.9]\n', "design.samples",
                             "power of 2"),
    "no axes": ("[axes]\n", "axes", "at least one axis"),
    "kept year after an axis's horizon": ('[axes.horizon]\nvalues = [2030, 2040]\n'
                                          '[outputs]\nyears = [2040]\n', "outputs.years",
                                          "2040 is after the horizon 2030 of "
                                          "axes.horizon.values.2030"),
    "kept year before an axis's base year": ('[axes.base_year]\nvalues = [2020, 2024]\n'
                                             '[outputs]\nyears = [2022, 2030]\n',
                                             "outputs.years", "2022 is before the base year "
                                             "2024 of axes.base_year.values.2024"),
    "kept year after the base's horizon": (GOOD_AXIS + '[outputs]\nyears = [2030, 2060]\n',
                                           "outputs.years",
                                           "2060 is after the horizon 2050 of the base scenario"),
    "unknown service": ('[axes."services.coverage_path.nosuch"]\nvalues = [0.9]\n',
                        "axes.services.coverage_path.nosuch",
                        "unknown service or age group 'nosuch'"),
    "unknown age group": ('[axes."services.coverage_path.institusjon/95+"]\nvalues = [0.9]\n',
                          "axes.services.coverage_path.institusjon/95+",
                          "unknown service or age group 'institusjon/95+'"),
    "unknown service in a whole coverage table": (
        '[axes."services.coverage_path"]\nvalues = { a = { institusjon = { 2024 = 0.9 } }, '
        'b = { sfo = { 2024 = 1.1 }, nosuch = { 2024 = 0.8 } } }\n', "axes.services.coverage_path",
        "unknown service or age group 'nosuch'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_sweep_file_one_line_exit_2(tmp_path, case):
    body, field, message = CASES[case]
    path = tmp_path / "bad.toml"
    top, rest = (body, "") if body.startswith("engine") else ("", body)
    if top:
        top, rest = body.split("\n", 1)[0] + "\n", body.split("\n", 1)[1]
    path.write_text(f'{top}base = "{BASE}"\n{rest}', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app(), ["sweep", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert str(path) in lines[0].replace("\n", "")
    assert f"field '{field}'" in lines[0] and message in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_errors_for_options_and_folders(tmp_path):
    sweep_file = ROOT / "experiments" / "sweeps" / "lorenskog_refugees_growth.toml"
    runner = CliRunner()
    r = runner.invoke(app(), ["sweep", str(sweep_file), "--out", str(tmp_path / "o"),
                              "--backend", "spark"])
    assert r.exit_code == 2 and "unknown backend 'spark'" in r.output
    r = runner.invoke(app(), ["report", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "not a sweep folder" in r.output
    r = runner.invoke(app(), ["sweep", str(tmp_path / "missing.toml"), "--out",
                              str(tmp_path / "o")])
    assert r.exit_code == 2 and "file not found" in r.output


@pytest.mark.parametrize("args, field, message", [
    (["--engine", "abm"], "runs", "required for engine 'abm'"),
    (["--engine", "abm", "--runs", "0"], "runs", "0: must be >= 1"),
    (["--runs", "3"], "runs", "only with engine abm"),
    (["--engine", "pde"], "engine", "unknown engine 'pde'"),
])
def test_cli_engine_runs_options_one_line_exit_2(tmp_path, args, field, message):
    sweep_file = ROOT / "experiments" / "sweeps" / "lorenskog_refugees_growth.toml"
    out = tmp_path / "o"
    r = CliRunner().invoke(app(), ["sweep", str(sweep_file), "--out", str(out), "--no-progress",
                                   *args])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and f"field '{field}'" in lines[0] and message in lines[0], r.output
    assert not out.exists()


def test_cli_abm_sweep_summary(tmp_path):
    sweep_file = ROOT / "experiments" / "sweeps" / "lorenskog_housing_abm.toml"
    out = tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(app(), ["sweep", str(sweep_file), "--out", str(out), "--workers", "1",
                              "--runs", "2", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "6 scenarios (0 failed" in r.output
    r = runner.invoke(app(), ["summary", str(out)])
    assert r.exit_code == 0 and "run_p95" in r.output, r.output


def test_cli_sweep_report_summary(tmp_path):
    sweep_file = ROOT / "experiments" / "sweeps" / "lillestrom_refugees_growth.toml"
    out = tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(app(), ["sweep", str(sweep_file), "--out", str(out), "--workers", "1",
                              "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "12 scenarios (0 failed" in r.output
    r = runner.invoke(app(), ["sweep", str(sweep_file), "--out", str(out), "--workers", "1"])
    assert r.exit_code == 2 and "--resume" in r.output
    r = runner.invoke(app(), ["sweep", str(sweep_file), "--out", str(out), "--workers", "1",
                              "--resume", "--no-progress"])
    assert r.exit_code == 0 and "0 parts computed" in r.output
    r = runner.invoke(app(), ["summary", str(out), "--csv"])
    assert r.exit_code == 0, r.output
    assert (out / "summary.csv").exists() and (out / "sensitivity.csv").exists()
    r = runner.invoke(app(), ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report" / "report.html").exists()
    r = runner.invoke(app(), ["summary", str(out), "--year", "2199"])
    assert r.exit_code == 2 and "2199" in r.output


def test_years_within_every_horizon_and_known_services_load(tmp_path):
    """A horizon axis past the base's horizon may keep years only it has; valid service names."""
    path = tmp_path / "ok.toml"
    path.write_text(f'base = "{BASE}"\n[axes.horizon]\nvalues = [2055, 2060]\n'
                    '[axes."services.coverage_path.institusjon/90+"]\nvalues = [0.9, 1.0]\n'
                    '[outputs]\nyears = [2030, 2055]\n', encoding="utf-8")
    assert load_sweep(path).outputs.years == (2030, 2055)
    path.write_text(f'base = "{BASE}"\n[axes."services.coverage_path"]\n'
                    'values = [{ barnehage = { 2030 = 0.95 } }]\n', encoding="utf-8")
    load_sweep(path)


def test_every_scenario_failed_exit_1_then_report_summary_exit_2(tmp_path):
    """Each axis value works with the base, but every combination fails (the window of one
    axis ends after the base year of the other): the sweep runs, records them, exits 1."""
    path = tmp_path / "all_fail.toml"
    path.write_text('[base]\nmunicipality = "3222"\n[axes.base_year]\nvalues = [2018, 2019]\n'
                    '[axes."migration.estimation_years"]\n'
                    'values = { a = [2019, 2024], b = [2020, 2024] }\n', encoding="utf-8")
    out = tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(app(), ["sweep", str(path), "--out", str(out), "--workers", "1",
                              "--no-progress"])
    assert r.exit_code == 1, r.output
    assert "4 scenarios (4 failed" in r.output
    assert "every scenario failed" in r.output and "migration.estimation_years" in r.output
    assert "Traceback" not in r.output
    for cmd in ("summary", "report"):
        r = runner.invoke(app(), [cmd, str(out)])
        assert r.exit_code == 2, r.output
        lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and "no successful scenarios" in lines[0], r.output


def test_report_and_summary_on_a_run_folder_exit_2(tmp_path):
    out = tmp_path / "run"
    write_run(run(load_scenario(BASE)), out, with_plots=False)
    for cmd in ("report", "summary"):
        r = CliRunner().invoke(app(), [cmd, str(out)])
        assert r.exit_code == 2, r.output
        lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and "not a sweep folder" in lines[0], r.output
