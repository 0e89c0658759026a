"""Back-tests and the validation report (calibration/validate.py, calibration/report.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from calibration.report import write_validation_report
from calibration.validate import backtest, no_peek_scenario, validate
from sim.config import scenario_from_dict
from sim.data.population import embedded_population
from sim.demography import fertility as fert
from sim.errors import InputError
from sim.inputs import resolve


@pytest.mark.parametrize("knr", ["3205", "3222"])
def test_backtest_2022_to_2024_total_error_below_one_percent(knr):
    """Fit on 2020-2022, project from 1 January 2022: total error on 1 January 2024 < 1 %."""
    bt = backtest(knr, 2020, 2022, 2024, variant="calibrated", in_level="last")
    e2024 = bt.errors[-1]
    assert e2024.year == 2024 and e2024.horizon == 2
    assert abs(e2024.total_error_pct) < 1.0
    assert 0.0 < e2024.age_group_mape < 10.0   # computed and reported (see validation.md)
    assert set(e2024.groups) == {"0", "1-5", "6-15", "16-19", "20-66", "67-79", "80-89", "90+"}


def test_backtest_uses_no_later_information():
    data = no_peek_scenario("3205", 2020, 2022, 2024)
    assert data["migration"]["estimation_years"] == [2020, 2022]
    assert data["refugees"]["settled_per_year"] == {2022: 364.0, 2023: 389.0}
    sc = scenario_from_dict(data)                         # the package defaults for 2022:
    assert sc.mortality_base_years == (2017, 2021)
    assert sc.fertility_schedule_years == (2017, 2021)
    inputs = resolve(sc)                                  # TFR held at the 2021 national TFR
    assert inputs.parameters["tfr_path"] == {2022: round(fert.national_tfr(2021), 4),
                                             2023: round(fert.national_tfr(2021), 4)}
    with pytest.raises(InputError):                       # estimate_levels refuses to peek
        backtest("3205", 2020, 2024, 2024)


def test_validate_imported_municipality(tmp_path):
    """Any municipality in an imported table works; missing years are skipped, not errors."""
    df = embedded_population()
    sub = df[(df.kommunenummer == "3222") & (df.year >= 2019)].copy()
    sub["kommunenummer"] = "9998"
    sub["kommune"] = "Kopi"
    path = tmp_path / "pop.csv"
    sub.to_csv(path, index=False)
    res = validate("9998", path, rolling=False)
    assert {b.name for b in res.backtests} == {"short 2022", "short 2023"}
    assert res.skipped and "long 2014" in res.skipped[0]
    ref = backtest("3222", 2020, 2022, 2024, variant="package")
    got = res.get("short 2022", "package")
    # Same populations, but no births/deaths/refugee records for 9998: close, not identical.
    assert got.errors[-1].model_total == pytest.approx(ref.errors[-1].model_total, rel=0.02)


def test_report_written(tmp_path):
    res = validate("3222", rolling=False)
    path = write_validation_report([res], [], tmp_path)
    text = path.read_text()
    assert "short 2022" in text and "age-group MAPE" in text and "ABM" in text
    assert (tmp_path / "pyramid_3222_2024_from_2022_calibrated.png").stat().st_size > 0
    assert (tmp_path / "error_by_horizon_long.png").stat().st_size > 0
    long = res.get("long 2014", "package")
    assert [e.horizon for e in long.errors] == list(range(1, 11))
    assert isinstance(pd.DataFrame([e.__dict__ for e in long.errors]), pd.DataFrame)


def test_validate_cli(runner, tmp_path):
    import typer

    from calibration.cli import validate_cmd

    app = typer.Typer()
    app.command()(validate_cmd)
    result = runner.invoke(app, ["3222", "--out", str(tmp_path), "--no-calibrate-targets"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "validation.md").exists()
    bad = runner.invoke(app, ["3222", "--population", str(tmp_path / "missing.csv")])
    assert bad.exit_code == 2
