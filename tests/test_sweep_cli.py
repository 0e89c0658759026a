"""Sweep files with mistakes: one clear line naming the file and field, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from experiments.cli import report_cmd, summary_cmd, sweep_cmd

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
                  "axes.migration.in_multiplier.values.neg", "must be >= 0"),
    "abm engine without runs": ('engine = "abm"\n' + GOOD_AXIS, "runs",
                                "required for engine 'abm'"),
    "unknown engine": ('engine = "agent"\n' + GOOD_AXIS, "engine", "unknown engine 'agent'"),
    "abm runs 0": ('engine = "abm"\nruns = 0\n' + GOOD_AXIS, "runs",
                   "greater than or equal to 1"),
    "housing axis with cohort": ('[axes."housing.trend_in_migration_scale"]\nvalues = [0.9]\n',
                                 "axes.housing.trend_in_migration_scale",
                                 "only in the agent-based engine"),
    "values in lhs": ('[design]\nmethod = "lhs"\nsamples = 4\n' + GOOD_AXIS,
                      "axes.migration.in_multiplier.values", "method = 'grid'"),
    "sobol not power of 2": ('[design]\nmethod = "sobol"\nsamples = 12\n'
                             '[axes."fertility.tfr"]\nrange = [1.2, 1.9]\n', "design.samples",
                             "power of 2"),
    "no axes": ("[axes]\n", "axes", "at least one axis"),
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
