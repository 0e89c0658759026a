"""Prediction intervals (sim/intervals): ordering, zero variance, nominal coverage on synthetic
data from the fitted process, the scale fit by hand, the CLI and the output table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.cli import app
from sim.cohort.engine import project, project_batch
from sim.config import scenario_from_dict
from sim.data.population import embedded_population
from sim.demography.pooling import crude_flows
from sim.inputs import refugees_settled_history, resolve
from sim.intervals import (
    PROBS,
    indicator_weights,
    intervals_table,
    run_intervals,
    simulate,
    unit_scales,
)
from sim.intervals.process import (
    Volatility,
    ar1_paths,
    draw_multipliers,
    kommune_volatility,
    migration_turnover,
)
from sim.intervals.scales import LEVELS, cover_ratio, fit_scales
from sim.run import run

KNR = "3412"  # Løten, ~7,700 inhabitants: small enough to be quick


@pytest.fixture(scope="module")
def case():
    sc = scenario_from_dict({"municipality": KNR, "base_year": 2024, "horizon": 2034})
    result = run(sc)
    inputs = result.inputs
    births = float(np.sum(inputs.parameters["births_estimation_window"]))
    w0, w1 = inputs.parameters["estimation_window"]
    settled, _ = refugees_settled_history(KNR, embedded_population(), {})
    vol = kommune_volatility(embedded_population(), KNR, 2024, births, w1 - w0, settled)
    return result, vol


def test_quantiles_are_ordered_and_start_at_the_base_population(case):
    result, _ = case
    iv = run_intervals(result, n_paths=500, scales=unit_scales())
    q = iv.quantiles
    assert np.all(np.diff(q, axis=0) >= -1e-9)                 # q05 <= q10 <= ... <= q95
    base = result.projection.population[0, 0].sum()
    assert np.allclose(q[:, 0, -1, 0], base)                   # 1 January of the base year
    assert np.all(q[-1, 1:, -1, 0] > q[0, 1:, -1, 0])           # a real spread afterwards
    # the median follows the point projection (symmetric shocks, small nonlinearity)
    point = result.projection.population.sum(axis=(1, 2, 3))
    assert np.allclose(iv.q(0.5)[:, -1, 0], point, rtol=0.01)


def test_zero_variance_collapses_onto_the_point_projection(case):
    result, vol = case
    names, weights, mix = indicator_weights()
    q, qdev, _ = simulate(result.inputs, result.projection, vol.scaled(0.0), unit_scales(),
                          weights, mix, n_paths=50, seed=1)
    point = np.einsum("ydsa,sag->ydg", result.projection.population, weights)
    assert np.abs(qdev).max() < 1e-12
    for p in range(len(PROBS)):
        assert np.allclose(q[p], point, rtol=1e-12, atol=1e-9)


def test_coverage_on_synthetic_data_from_the_process_is_nominal(case):
    """Observations drawn from the fitted process itself (another seed) fall inside the
    unscaled 80 % and 50 % intervals at their nominal rates, within Monte Carlo error."""
    result, vol = case
    names, weights, mix = indicator_weights()
    n_obs, n_paths = 2000, 2000
    q, _, _ = simulate(result.inputs, result.projection, vol, unit_scales(), weights, mix,
                       n_paths=n_paths, seed=11)
    shared = result.inputs
    mult = draw_multipliers(vol, migration_turnover(shared), n_obs + 1, len(shared.years), 99)
    truth = project_batch(shared, mult, weights)[1:, :, 0]      # [N, Y+1, G], path 0 dropped
    for level, lo, hi in ((0.8, 0.10, 0.90), (0.5, 0.25, 0.75)):
        inside = (truth >= q[PROBS.index(lo), :, 0]) & (truth <= q[PROBS.index(hi), :, 0])
        cover = inside[:, 1:].mean(axis=0)                       # [Y, G]
        # binomial error of the observations plus that of the estimated quantiles
        sd = np.sqrt(level * (1 - level) * (1 / n_obs + 1 / n_paths))
        assert np.all(np.abs(cover - level) < 4.5 * sd), (level, cover.round(3))


def test_multiplier_paths_are_reproducible_and_serially_correlated():
    vol = Volatility(0.01, 0.002, 0.6, 0.003, 0.5, 0.03, 0.01, 0.02, 0.001, 0.02, 0.1, 0.4,
                     0.5)
    a = draw_multipliers(vol, 0.1, 400, 12, seed=5)
    b = draw_multipliers(vol, 0.1, 400, 12, seed=5)
    c = draw_multipliers(vol, 0.1, 400, 12, seed=6)
    for key in a:
        assert np.array_equal(a[key], b[key])
        assert not np.array_equal(a[key], c[key])
        assert np.all(a[key][0] == 1.0)                           # path 0: the point
    # in and out shocks are opposite: log(in) = -log(out)
    assert np.allclose(np.log(a["in_migrants"]), -np.log(a["out_rate"]))
    x = ar1_paths(np.random.default_rng(3), 20000, 2, 1.0, 0.6)
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] == pytest.approx(0.6, abs=4 / np.sqrt(20000))
    assert x.std(axis=0) == pytest.approx([1.0, 1.0], abs=0.03)


def test_crude_net_migration_is_zero_without_migration():
    """A population that only ages, dies at Norway's rates and has births: net 0 (by hand)."""
    from sim.demography.ageing import age_on
    from sim.demography.pooling import _national_q

    rng = np.random.default_rng(0)
    pops = [rng.uniform(10, 50, size=(2, 106))]
    for year in (2015, 2016, 2017):
        nxt = age_on(pops[-1]) * (1 - _national_q(year))
        nxt[:, 0] = (30.0, 28.0)
        pops.append(nxt)
    net, births, _ = crude_flows(np.stack(pops), 2015)
    assert np.allclose(net, 0.0, atol=1e-9)
    assert np.allclose(births, 58.0)


def test_scale_fit_recovers_a_known_inflation():
    """Errors k times wider than the simulated normal spread give scales of k at every level."""
    rng = np.random.default_rng(1)
    n, k, sd = 40000, 1.7, 0.02
    from scipy.stats import norm

    z = {lv: norm.ppf((1 + lv) / 2) for lv in LEVELS}
    lo = np.stack([np.full((n, 9), -sd * z[lv]) for lv in LEVELS], axis=1)
    hi = -lo
    err = rng.normal(0, k * sd, size=(n, 9))
    scales = fit_scales(err, lo, hi, np.zeros(n, dtype=int), np.ones(n, dtype=int))
    assert scales.lam[:, 0, :, 0] == pytest.approx(np.full((3, 9), k), rel=0.03)
    assert np.all(scales.lam[:, 0, :, 1:] == scales.lam[:, 0, :, :1])   # carried forward
    # the cover ratio by hand: an error of +0.03 against an upper deviation of 0.02 needs 1.5
    assert cover_ratio(np.array([0.03, -0.01]), np.array([-0.02, -0.02]),
                       np.array([0.02, 0.02])).tolist() == [1.5, 0.5]


def test_scaled_interval_is_the_point_times_scaled_deviation(case):
    result, vol = case
    names, weights, mix = indicator_weights()
    scales = unit_scales()
    lam = scales.lam.copy()
    lam[:] = 2.0
    two = type(scales)(lam, {})
    q1, qdev, _ = simulate(result.inputs, result.projection, vol, scales, weights, mix, 300, 4)
    q2, _, _ = simulate(result.inputs, result.projection, vol, two, weights, mix, 300, 4)
    point = np.einsum("ydsa,sag->ydg", result.projection.population, weights)
    i = PROBS.index(0.9)
    assert np.allclose(q2[i], point * np.exp(2.0 * qdev[i]))
    assert np.allclose(q1[i], point * np.exp(qdev[i]))


def test_intervals_table_columns(case):
    result, _ = case
    iv = run_intervals(result, n_paths=100, scales=unit_scales())
    df = intervals_table(iv)
    assert list(df.columns) == ["year", "kommunenummer", "district", "indicator", "q05", "q10",
                                "q25", "q50", "q75", "q90", "q95"]
    groups = {"total", "0", "1-5", "6-15", "16-19", "20-66", "67-79", "80-89", "90+"}
    # every kommune has a catalogue (its own or the national one): its population-driven
    # services' users are indicators too
    services = {k for k, s in result.catalogue.services.items() if s.driver == "population"}
    assert set(df.indicator) == groups | services
    assert len(df) == 11 * len(groups | services) and (df.kommunenummer == KNR).all()


def test_run_intervals_cli_single(runner, tmp_path):
    out = tmp_path / "r"
    res = runner.invoke(app, ["run", "-m", "lorenskog", "--intervals", "--horizon", "2030",
                              "--no-budget", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out / "intervals.parquet")
    services = {"helsestasjon", "barnehage", "grunnskole", "sfo", "barnevern", "sosialhjelp",
                "hjemmetjenester", "institusjon", "kommunehelse"}
    assert services <= set(df.indicator)                        # introduksjonsprogram: not
    assert "introduksjonsprogram" not in set(df.indicator)      # population-driven
    assert (out / "intervals_total.png").exists() and (out / "intervals_age_groups.png").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"intervals.parquet", "intervals_total.png"} <= set(manifest["files"])
    assert manifest["intervals"]["3222"]["paths"] == 1000
    srv = pd.read_parquet(out / "services.parquet")
    b = srv[(srv.service == "barnehage") & (srv.year == 2030)].users.sum()
    row = df[(df.indicator == "barnehage") & (df.year == 2030)]
    assert float(row.q10.iloc[0]) < b < float(row.q90.iloc[0])


def test_run_intervals_cli_batch_and_abm_refused(runner, tmp_path):
    out = tmp_path / "b"
    res = runner.invoke(app, ["run", "-m", "3412,1151", "--intervals", "--horizon", "2027",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out / "intervals.parquet")
    assert set(df.kommunenummer.astype(str)) == {"3412", "1151"}
    assert set(df.year) == {2024, 2025, 2026, 2027}
    res = runner.invoke(app, ["run", "-m", "3412", "--engine", "abm", "--intervals",
                              "--out", str(tmp_path / "a")])
    assert res.exit_code == 2
    assert "tilfeldig variasjon" in res.output and "Traceback" not in res.output


def test_zones_get_intervals_and_the_kommune_row():
    sc = scenario_from_dict({"municipality": "5001", "base_year": 2024, "horizon": 2027,
                             "zones": {"source": "bydeler"}})
    result = run(sc)
    iv = run_intervals(result, n_paths=100, scales=unit_scales())
    assert iv.districts[-1] == result.inputs.municipality_name
    assert len(iv.districts) == len(result.inputs.districts) + 1
    # the kommune row's median ~ the sum of the zones' points
    total = project(result.inputs).population.sum(axis=(1, 2, 3))
    assert np.allclose(iv.q(0.5)[:, -1, 0], total, rtol=0.01)
    assert resolve(sc).districts == result.inputs.districts


def test_sweep_carries_intervals_per_scenario(runner, tmp_path):
    """``sweep --intervals``: one interval table per scenario, centred on each scenario."""
    from pathlib import Path

    import experiments

    scenarios = Path(experiments.__file__).parent / "scenarios"
    sweep = tmp_path / "s.toml"
    sweep.write_text(f"""
name = "two"
seed = 1
engine = "cohort"
base = "{scenarios / 'lorenskog_main.toml'}"
[design]
method = "grid"
[axes."migration.in_multiplier"]
values = {{ low = 0.8, high = 1.2 }}
""", encoding="utf-8")
    out = tmp_path / "out"
    res = runner.invoke(app, ["sweep", str(sweep), "--out", str(out), "--no-progress",
                              "--workers", "1", "--intervals"])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out / "intervals.parquet")
    assert sorted(df.scenario.unique()) == [0, 1]
    last = df.year.max()
    med = df[(df.indicator == "total") & (df.year == last)].set_index("scenario").q50
    assert med[1] > med[0]                          # more in-migration, higher centre
