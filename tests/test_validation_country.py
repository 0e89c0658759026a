"""Country-wide back-tests, bydel back-tests, pooling and the interval check on a few kommuner
(the committed report covers all of them; ``kommunesim validate --all``)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.cli import app as calibration_app
from calibration.country import (
    METHODS,
    CountryBacktest,
    bydel_backtest,
    country_backtest,
    group_matrix,
    naive_forecasts,
    settlement_plan,
    summary,
)
from calibration.country_report import write_country_report
from calibration.intervals import Check, Records, scales_until
from sim.cohort.engine import project
from sim.config import scenario_from_dict
from sim.data.kommuner import kommuner
from sim.data.population import embedded_population, municipality_defaults
from sim.demography import pooling
from sim.inputs import resolve, settlement_share
from sim.intervals import PROBS

FEW = ("3412", "1151", "5001")   # Løten, Utsira, Trondheim


def test_country_backtest_matches_a_projection_by_hand():
    bt = country_backtest(2022, 2024, FEW)
    table = embedded_population()
    groups = group_matrix()
    for i, knr in enumerate(bt.knrs):
        sc = scenario_from_dict({"municipality": knr, "base_year": 2022, "horizon": 2024,
                                 "refugees": {"settled_per_year":
                                              settlement_plan(knr, 2022, 2024, table)}})
        model = project(resolve(sc)).population.sum(axis=(1, 2)) @ groups
        obs = table.history(knr, 2022, 2024).sum(axis=1) @ groups
        assert np.allclose(bt.forecasts["model"][i], model)
        assert np.allclose(bt.observed[i], obs)
        assert bt.error_pct()[i, 2, 0] == pytest.approx((model[2, 0] - obs[2, 0]) / obs[2, 0]
                                                        * 100)
        assert np.allclose(bt.forecasts["no change"][i], obs[0])   # the jump-off, held


def test_naive_baselines_by_hand():
    hist = np.array([[100.0, 110.0, 121.0, 133.1, 146.41, 161.051]])[:, :, None]
    base = naive_forecasts(hist, cut_index=5, horizon=2)
    assert base["no change"][0, :, 0].tolist() == [161.051] * 3
    assert base["last growth"][0, :, 0] == pytest.approx([161.051, 177.1561, 194.87171])


def test_summary_statistics_by_hand():
    obs = np.array([[[100.0]], [[1000.0]], [[10000.0]], [[60000.0]]]).repeat(3, axis=1)
    obs = np.repeat(obs, 7, axis=2)                       # [K=4, H+1=3, G=7]
    model = obs.copy()
    model[:, 2, 0] = obs[:, 2, 0] * np.array([1.10, 0.98, 1.01, 0.96])   # +10, -2, +1, -4 %
    bt = CountryBacktest(2022, 2024, ("a", "b", "c", "d"), obs,
                         {m: (model if m == "model" else obs) for m in METHODS})
    s = summary(bt, 2)
    assert s.n.tolist() == [2, 0, 1, 0, 1, 4]             # size classes by jump-off population
    assert s.mape[0, -1, 0] == pytest.approx((10 + 2 + 1 + 4) / 4)
    assert s.mdape[0, -1, 0] == pytest.approx(3.0)
    assert s.bias[0, -1, 0] == pytest.approx((10 - 2 + 1 - 4) / 4)
    assert s.within[0, -1] == pytest.approx(0.75) and s.too_low[0, -1] == pytest.approx(0.5)
    assert s.mape[0, 0, 0] == pytest.approx(6.0)          # the two under 2,000: 10 and 2
    assert s.mape[1, -1, 0] == 0.0                        # "no change" = observed here


def test_settlement_plans():
    table = embedded_population()
    national = municipality_defaults()["0000"]["refugees_settled"]
    share = settlement_share(table, "3412", 2022)
    assert settlement_plan("3412", 2022, 2024, table) == pytest.approx(
        {2022: national[2022] * share, 2023: national[2023] * share})
    assert settlement_plan("3412", 2022, 2024, table, "held") == pytest.approx(
        {2022: national[2021] * share, 2023: national[2021] * share})
    assert settlement_plan("3205", 2022, 2024, table) == {2022: 364.0, 2023: 389.0}  # own


def test_settlement_shares_add_up_and_match_the_ministry():
    """Shares over the 357 kommuner sum to 1; the four largest settle 0.3 % in 2022."""
    table = embedded_population()
    codes = [k.number for k in kommuner()]
    shares = np.array([settlement_share(table, k, 2022) for k in codes])
    assert shares.sum() == pytest.approx(1.0, rel=1e-12)
    pops = np.array([table.array(k, 2022).sum() for k in codes])
    big = np.argsort(-pops)[:4]
    national = municipality_defaults()["0000"]["refugees_settled"][2022]
    assert national * shares[big].sum() / pops[big].sum() == pytest.approx(0.003, abs=0.0002)


def test_split_histories_are_left_out():
    bt = country_backtest(2022, 2024, ("1508", "3412"))
    assert bt.knrs == ("3412",)
    assert bt.failed[0][0] == "1508" and "split" in bt.failed[0][1]


def test_bydel_backtest_adds_up_to_the_kommune():
    zb = bydel_backtest(2022, 2024, ("5001",))
    kommune = embedded_population().history("5001", 2022, 2024).sum(axis=(1, 2))
    assert np.allclose(zb.observed.sum(axis=0), kommune)        # zones incl. the remainder
    assert zb.remainder.sum() == 1 and zb.zone[-1] == "Uten bydel/sone"
    sc = scenario_from_dict({"municipality": "5001", "base_year": 2022, "horizon": 2024,
                             "refugees": {"settled_per_year": settlement_plan(
                                 "5001", 2022, 2024, embedded_population())}})
    alone = project(resolve(sc)).population.sum(axis=(1, 2, 3))
    # bottom-up zones are not the kommune's own projection, but close to it
    assert zb.forecasts["model"].sum(axis=0) == pytest.approx(alone, rel=0.01)
    assert np.allclose(zb.forecasts["no change"], zb.observed[:, :1])


def test_pool_by_hand():
    p = pooling._pool(4.0, 1.0, np.array([0.0, 1.0, 2.0, 3.0]), np.full(4, 2.0 / 3.0))
    # between-kommune variance 5/3, less the mean sampling variance 2/3: tau^2 = 1
    assert p.prior == pytest.approx(1.5) and p.weight == pytest.approx(0.5)
    assert p.value == pytest.approx(1.5 + 0.5 * 2.5)


def test_pooling_moves_only_small_kommuner():
    small = scenario_from_dict({"municipality": "1151"})
    large = scenario_from_dict({"municipality": "3412"})   # over 5,000: not pooled
    with pooling.disabled():
        own_small, own_large = resolve(small), resolve(large)
    pooled_small, pooled_large = resolve(small), resolve(large)
    assert np.array_equal(own_large.in_migrants, pooled_large.in_migrants)
    info = pooled_small.parameters["defaults"]["pooling"]
    assert "weight" in info
    assert not np.allclose(own_small.in_migrants, pooled_small.in_migrants)
    # the in-migrants move by (pooled - own net rate) x population, with the same age profile
    ratio = pooled_small.in_migrants[0].sum() / own_small.in_migrants[0].sum()
    assert np.allclose(pooled_small.in_migrants, ratio * own_small.in_migrants)


def _records(cuts, errs):
    """Synthetic records: one kommune per cut, point 100, a normal spread of sd 0.01."""
    n, n_h, n_g = len(cuts), 11, 9
    from scipy.stats import norm

    qdev = np.broadcast_to(np.array([norm.ppf(p) * 0.01 for p in PROBS])[None, :, None, None],
                           (n, len(PROBS), n_h, n_g)).copy()
    point = np.full((n, n_h, n_g), 100.0)
    obs = point * np.exp(np.asarray(errs))[:, None, None]
    return Records(np.array(["x"] * n), np.array(cuts), np.zeros(n, dtype=int), obs, point,
                   qdev, point.copy())


def test_real_time_scales_ignore_later_back_tests():
    rng = np.random.default_rng(0)
    errs = list(rng.normal(0, 0.02, 60)) + [5.0] * 20          # the last 20 come later
    cuts = [2008] * 60 + [2015] * 20
    rec = _records(cuts, errs)
    early = scales_until(rec, 2010)
    clean = scales_until(rec.select(np.array(cuts) == 2008), 2010)
    assert np.array_equal(early.lam, clean.lam)
    assert early.lam[1, 0, 0, 0] == pytest.approx(2.0, rel=0.35)   # errors twice the spread
    assert scales_until(rec, 2024).lam[1, 0, 0, 0] > 10            # ... unless they ended


def test_interval_score_by_hand():
    rec = _records([2010], [0.0])
    lower = np.full((1, 3, 11, 9), 90.0)
    upper = np.full((1, 3, 11, 9), 95.0)            # observed 100 lies 5 above the upper
    chk = Check(rec, lower, upper, lower, upper)
    score = chk.interval_score_pct()[0, 1, 1, 0]    # 80 %: alpha = 0.2
    assert score == pytest.approx((5 + 2 / 0.2 * 5) / 100 * 100)
    assert chk.covered()[0, 1, 1, 0] == 0.0
    assert chk.width_pct()[0, 1, 1, 0] == pytest.approx(5.0)


def test_country_report_on_a_few_kommuner(tmp_path):
    path = write_country_report(tmp_path, knrs=FEW, echo=lambda _line: None)
    text = path.read_text()
    assert "## Goals" in text and "## Bydeler" in text and "Choices made after" in text
    assert (tmp_path / "country_errors.png").exists()


def test_validate_intervals_needs_all(runner):
    res = runner.invoke(calibration_app, ["validate", "3222", "--intervals"])
    assert res.exit_code == 2 and "--all" in res.output
