"""Back-tests and the validation report (calibration/validate.py, calibration/report.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.report import write_validation_report
from calibration.validate import ABM_GROUPS, abm_band, backtest, no_peek_scenario, validate
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


def test_backtest_estimates_only_from_before_the_cut_off():
    data = no_peek_scenario("3205", 2020, 2022, 2024)
    assert data["migration"]["estimation_years"] == [2020, 2022]
    # the one later input: the settlement realised in the projected years (the "plan")
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
    df = embedded_population().frame()
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


ABM_RUNS = 30


def test_abm_band_from_runs():
    """The P5-P95 band is computed from ABM runs with the back-test's inputs."""
    bt = backtest("3222", 2020, 2022, 2024, variant="calibrated")
    band = abm_band(bt, ABM_RUNS)
    assert band.runs == ABM_RUNS and band.years == (2023, 2024) and band.groups == ABM_GROUPS
    assert band.totals.shape == (ABM_RUNS, 2, len(ABM_GROUPS))
    assert np.all(band.p5 <= band.p50) and np.all(band.p50 <= band.p95)
    np.testing.assert_allclose(band.p5, np.quantile(band.totals, 0.05, axis=0))
    np.testing.assert_allclose(band.p95, np.quantile(band.totals, 0.95, axis=0))
    assert np.all(band.width > 0)                          # the runs differ
    # The age groups add up to the total in every run, as for the cohort projection.
    np.testing.assert_allclose(band.totals[..., 1:].sum(axis=-1), band.totals[..., 0])
    np.testing.assert_allclose(band.cohort[:, 0], [e.model_total for e in bt.errors])
    np.testing.assert_allclose(band.observed[:, 0], [e.observed_total for e in bt.errors])
    # Same rates: the ABM mean of the total is the cohort projection up to Monte Carlo error.
    se = band.sd[:, 0] / np.sqrt(ABM_RUNS)
    assert np.all(np.abs(band.mean[:, 0] - band.cohort[:, 0]) < 4 * se)
    assert np.array_equal(band.covered, (band.p5 <= band.observed) & (band.observed <= band.p95))
    assert 0.0 <= band.coverage <= 1.0
    assert band.cells[1] == 2 * (len(ABM_GROUPS) - 1)
    assert band.coverage == pytest.approx(band.cells[0] / band.cells[1])
    # Same seed -> same band.
    again = abm_band(bt, ABM_RUNS)
    np.testing.assert_array_equal(again.totals, band.totals)


def test_report_written(tmp_path):
    res = validate("3222", rolling=False, abm_runs=ABM_RUNS, abm_backtests=("short 2022",))
    assert {(b.name, b.variant) for b in res.abm} == {("short 2022", "package"),
                                                      ("short 2022", "calibrated")}
    path = write_validation_report([res], [], tmp_path)
    text = path.read_text()
    assert "short 2022" in text and "age-group MAPE" in text
    assert "tilfeldig variasjon (gitt forutsetningene), P5–P95" in text
    band = res.band("short 2022", "calibrated")
    c, n = band.cells
    assert f"| short 2022 | calibrated | {ABM_RUNS} | {c} of {n} | {band.coverage:.2f} |" in text
    assert "only demographic randomness" in text
    assert ("The back-tests use the refugee settlement that was realised in the projected years, "
            "as a planner would use the settlement plan; everything else is estimated from the "
            "years before the cut-off") in text
    assert "out of sample: every rate" not in text
    assert (tmp_path / "abm_band_3222_short_2022_calibrated.png").stat().st_size > 0
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
    result = runner.invoke(app, ["3222", "--out", str(tmp_path), "--no-calibrate-targets",
                                 "--abm-runs", "3"])
    assert result.exit_code == 0, result.output
    assert ("ABM band (tilfeldig variasjon gitt forutsetningene, P5-P95; 3 runs) covers"
            in result.output)
    assert "ABM" in (tmp_path / "validation.md").read_text()
    off = runner.invoke(app, ["3222", "--out", str(tmp_path / "off"), "--no-calibrate-targets",
                              "--abm-runs", "0"])
    assert off.exit_code == 0, off.output
    assert "not computed" in (tmp_path / "off" / "validation.md").read_text()
    bad = runner.invoke(app, ["3222", "--population", str(tmp_path / "missing.csv")])
    assert bad.exit_code == 2
