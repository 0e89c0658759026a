"""A small kommune on paper: every line of two budget years computed by hand.

The paper kommune "9999" has 1 000 inhabitants aged 30 on 1 January 2024, 1 100 on 1 January
2025 and 1 200 on 1 January 2026; 800, 850, 900 and 950 on 1 January 2020-2023. Prices are flat
(deflator 0 %), no real growth. One service costs 50 mill. (2024) and 55 mill. (2025). The
expected values below are written as arithmetic on those paper figures, not taken from the code.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.budget import budget_from_dict, project_budget
from sim.budget import inntektssystem as inn
from sim.budget.model import carried
from sim.cohort.engine import Projection

YEARS = np.array([2024, 2025])


def paper_config(**edits) -> object:
    data = {
        "municipality": "9999", "name": "Papirkommune", "price_year": 2024,
        "prices": {"deflator_pct": {2024: 0.0}},
        "growth": {"national_demography": False},
        "tax": {"national_per_inhabitant_nok": {2024: 40_000}, "level_pct": {2024: 80.0},
                "equalisation_share_pct": {2024: 60.0}, "extra_compensation_pct": 35.0,
                "extra_threshold_pct": 90.0, "extra_financing_pct": 0.5},
        "rammetilskudd": {"innbyggertilskudd_per_inhabitant_nok": {2024: 30_000},
                          "expenditure_need_per_inhabitant_nok": {2024: 60_000},
                          "kostnadsindeks": {"fixed": 1.1},
                          "population_history": {2020: 800, 2021: 850, 2022: 900, 2023: 950}},
        "veksttilskudd": {"threshold_pct": 1.4, "tax_ceiling_pct": 140.0,
                          "rate_nok": {2024: 60_000}},
        "integreringstilskudd": {"rate_nok": [0, 0, 0, 0, 0]},
        "other_revenue": {"interest_income_nok": {2024: 1e6}},
        "operating": {"other_net_costs_per_inhabitant_nok": 2_000},
        "debt": {"opening_nok": 100e6, "interest_rate_pct": {2024: 4.0},
                 "repayment_years": 20.0},
        "investments": {"programme_nok": {2024: 10e6}, "mva_share": 0.2, "loan_share": 1.0},
        "fund": {"opening_nok": 2e6},
        "rules": [{"name": "NDR >= 2 %", "metric": "netto_driftsresultat_pct", "op": ">=",
                   "threshold_pct": 2.0}],
    }
    for path, value in edits.items():
        *head, last = path.split(".")
        node = data
        for key in head:
            node = node.setdefault(key, {})
        node[last] = value
    return budget_from_dict(data, "paper.toml")


def paper_run(service_cost=(50e6, 55e6, 60e6)) -> SimpleNamespace:
    pop = np.zeros((3, 1, 2, 106))
    pop[:, 0, 0, 30] = [1000, 1100, 1200]
    services = pd.DataFrame({
        "year": [2024, 2025, 2026], "district": "Sentrum", "service": "skole",
        "sector": "grunnskole", "users": 0.0, "staff": 0.0, "cost_nok": list(service_cost),
        "price_year": 2024, "capacity": np.nan, "gap": np.nan})
    inputs = SimpleNamespace(municipality="9999", municipality_name="Papirkommune",
                             districts=("Sentrum",), years=YEARS,
                             refugees=np.zeros((2, 1, 2, 106)), parameters={})
    projection = Projection(np.arange(2024, 2027), ("Sentrum",), pop,
                            np.zeros((2, 1, 5, 2, 106)), np.ones(2))   # no flows, no refugees
    return SimpleNamespace(inputs=inputs, projection=projection,
                           services=services, catalogue=SimpleNamespace(keys=("skole",), services={
                               "skole": SimpleNamespace(building=None)}),
                           scenario=SimpleNamespace(inputs=SimpleNamespace(population=None)))


@pytest.fixture(scope="module")
def paper():
    return project_budget(paper_run(), paper_config())


def test_tax_and_skatteutjevning_by_hand(paper):
    L = paper.line
    # skatt = 80 % x 40 000 x population 1 January
    np.testing.assert_allclose(L("skatt"), [0.8 * 40_000 * 1000, 0.8 * 40_000 * 1100])
    # inntektsutjevning per inhabitant = 60 % of the gap to the average (0.2 x 40 000 = 8 000)
    # + 35 % of the gap to 90 % (0.1 x 40 000 = 4 000) - 0.5 % of 40 000 financing
    per_inh = 0.6 * 8_000 + 0.35 * 4_000 - 0.005 * 40_000
    assert per_inh == pytest.approx(6_000)
    np.testing.assert_allclose(L("inntektsutjevning"), [6_000 * 1000, 6_000 * 1100])


def test_inntektsutjevning_is_symmetric_above_the_average():
    # a kommune at 130 %: gives 60 % of the 30 % above, no tilleggskompensasjon, pays financing
    share = inn.inntektsutjevning_share(np.array([1.3]), np.array([60.0]), 35.0, 90.0, 0.5)
    assert share[0] == pytest.approx(-0.6 * 0.3 - 0.005)
    # at exactly 90 %: only the symmetric part
    share = inn.inntektsutjevning_share(np.array([0.9]), np.array([60.0]), 35.0, 90.0, 0.0)
    assert share[0] == pytest.approx(0.06)


def test_rammetilskudd_by_hand(paper):
    L = paper.line
    # 1 July of the year before = mean of 1 January: 2024 -> (950 + 1000)/2, 2025 -> 1050
    july = np.array([975.0, 1050.0])
    np.testing.assert_allclose(L("innbyggertilskudd"), 30_000 * july)
    np.testing.assert_allclose(L("utgiftsutjevning"), (1.1 - 1) * 60_000 * july)
    # veksttilskudd: 3-year growth to 1 January t-1; 2024: (950/800)^(1/3) - 1 = 5.896 %
    g24 = (950 / 800) ** (1 / 3) - 1
    g25 = (1000 / 850) ** (1 / 3) - 1
    np.testing.assert_allclose(L("veksttilskudd"),
                               [60_000 * (g24 - 0.014) * 950, 60_000 * (g25 - 0.014) * 1000])


def test_debt_avdrag_and_interest_on_mean_debt_by_hand(paper):
    L = paper.line
    # programme 10 mill., mva 20 % -> borrowing 8 mill. each year
    np.testing.assert_allclose(L("laneopptak"), [8e6, 8e6])
    # avdrag = opening debt / 20: 5.0 mill., then 103 / 20 = 5.15 mill.
    np.testing.assert_allclose(L("avdrag"), [5e6, 5.15e6])
    np.testing.assert_allclose(L("lanegjeld_utgaende"), [103e6, 105.85e6])
    # interest = 4 % x mean of opening and closing debt (opening debt would give 4.0 and 4.12)
    np.testing.assert_allclose(L("renteutgifter"), [0.04 * (100e6 + 103e6) / 2,
                                                    0.04 * (103e6 + 105.85e6) / 2])
    np.testing.assert_allclose(L("renteutgifter"), [4.06e6, 4.177e6])


def test_result_and_fund_by_hand(paper):
    L = paper.line
    revenue = np.array([
        32e6 + 6e6 + 30_000 * 975 + 0.1 * 60_000 * 975
        + 60_000 * ((950 / 800) ** (1 / 3) - 1 - 0.014) * 950,
        35.2e6 + 6.6e6 + 30_000 * 1050 + 0.1 * 60_000 * 1050
        + 60_000 * ((1000 / 850) ** (1 / 3) - 1 - 0.014) * 1000])
    costs = np.array([50e6 + 2_000 * 1050, 55e6 + 2_000 * 1150])   # mean population of the year
    finance = np.array([4.06e6 - 1e6 + 5e6, 4.177e6 - 1e6 + 5.15e6])
    np.testing.assert_allclose(L("driftsinntekter"), revenue)
    ndr = revenue - costs - finance
    np.testing.assert_allclose(L("netto_driftsresultat"), ndr)
    assert (ndr > 0).all()
    np.testing.assert_allclose(L("disposisjonsfond_utgaende"), 2e6 + np.cumsum(ndr))
    np.testing.assert_allclose(paper.ratios["netto_driftsresultat_pct"], 100 * ndr / revenue)


def test_merforbruk_is_covered_within_two_years_and_flagged():
    # Services 30 mill. dearer in 2024 only: a deficit beyond the 2 mill. fund.
    b = project_budget(paper_run((80e6, 55e6, 60e6)), paper_config())
    base = project_budget(paper_run(), paper_config())
    L = b.line
    ndr_before = base.line("netto_driftsresultat")[0] - 30e6
    assert ndr_before < -2e6
    mer = -ndr_before - 2e6                       # what the fund cannot take
    assert L("bruk_disposisjonsfond")[0] == pytest.approx(2e6)
    assert L("merforbruk")[0] == pytest.approx(mer)
    assert L("disposisjonsfond_utgaende")[0] == 0
    assert b.ratios["robek"][0] == 1              # a year with merforbruk: ROBEK (§ 28-1)
    # 2025: half the merforbruk is due; the year's own result is positive, so it covers it
    # without extra measures, and the rest goes to the fund.
    ndr25 = base.line("netto_driftsresultat")[1]
    if ndr25 >= mer / 2:
        assert L("inndekning")[1] == 0
        assert L("dekning_merforbruk")[1] == pytest.approx(min(mer, ndr25))
    assert L("akkumulert_merforbruk")[1] == pytest.approx(max(mer - ndr25, 0.0))
    assert (L("disposisjonsfond_utgaende") >= 0).all()


def test_merforbruk_cover_forces_measures_when_the_next_year_is_also_short():
    # Both years 80 mill.: 2025 cannot cover half the 2024 merforbruk on its own result.
    b = project_budget(paper_run((80e6, 85e6, 90e6)), paper_config())
    base = project_budget(paper_run(), paper_config())
    L = b.line
    mer = -(base.line("netto_driftsresultat")[0] - 30e6) - 2e6
    own25 = base.line("netto_driftsresultat")[1] - 30e6       # the 2025 result before cover
    assert own25 < 0
    # measures close the 2025 deficit and cover half the merforbruk (one cover year is left)
    assert L("inndekning")[1] == pytest.approx(-own25 + mer / 2)
    assert L("netto_driftsresultat")[1] == pytest.approx(mer / 2)
    assert L("akkumulert_merforbruk")[1] == pytest.approx(mer / 2)
    assert L("merforbruk")[1] == 0 and L("disposisjonsfond_utgaende")[1] == 0


def test_carried_path_by_hand():
    index = np.ones(102)
    index[2024 - 2000:] = 1.1 ** np.arange(102 - 24)     # 10 % a year from 2024 (1 in 2024)
    path = {2025: 100.0, 2027: 200.0}
    got = carried(path, np.array([2024, 2025, 2026, 2027, 2028]), index)
    # before: 100 / 1.1; between: linear; after: 200 x 1.1
    np.testing.assert_allclose(got, [100 / 1.1, 100, 150, 200, 220])


def test_savings_and_premiefond_reduce_costs_one_to_one(paper):
    b = project_budget(paper_run(), paper_config(**{
        "savings.amount_nok": {2024: 1e6, 2025: 3e6},
        "operating.premiefond_use_nok": {2024: 0.5e6}}))
    diff = b.line("netto_driftsresultat") - paper.line("netto_driftsresultat")
    np.testing.assert_allclose(diff, [1.5e6, 3.5e6])


def test_kostnadsindeks_of_the_nation_is_one():
    # Norway's own age structure against itself: every criterion index is 1 (basis aside).
    from sim.budget.national import national_on

    nat = national_on(np.array([2024]))
    crit = inn.criteria_indices(nat, nat)
    np.testing.assert_allclose(crit[0, :-1], 1.0)
    # basis: (national population / 357) / the kommune's population = 1/357 for the nation
    assert crit[0, -1] == pytest.approx(1 / 357)


def test_symmetric_growth_does_not_drift_over_30_years():
    """Constant population, 3 % deflator, no debt: the result stays the same share of revenue.

    With real revenue growth above real cost growth the share rises year by year: the
    asymmetry the defaults avoid.
    """
    n = 30
    years = np.arange(2024, 2024 + n)
    pop = np.zeros((n + 1, 1, 2, 106))
    pop[:, 0, 0, 30] = 1000.0
    services = pd.DataFrame({
        "year": np.arange(2024, 2025 + n), "district": "Sentrum", "service": "skole",
        "sector": "grunnskole", "users": 0.0, "staff": 0.0, "cost_nok": 50e6,
        "price_year": 2024, "capacity": np.nan, "gap": np.nan})
    res = paper_run()
    res.inputs.years = years
    res.inputs.refugees = np.zeros((n, 1, 2, 106))
    res.projection = Projection(np.arange(2024, 2025 + n), ("Sentrum",), pop,
                                np.zeros((n, 1, 5, 2, 106)),
                                np.ones(n))
    res.services = services
    history = {2020: 1000, 2021: 1000, 2022: 1000, 2023: 1000}
    common = {"prices.deflator_pct": {2024: 3.0}, "debt.opening_nok": 0.0,
              "investments.programme_nok": {2024: 0.0}, "other_revenue.interest_income_nok":
              {2024: 0.0}, "rammetilskudd.population_history": history}
    flat = project_budget(res, paper_config(**common)).ratios["netto_driftsresultat_pct"]
    np.testing.assert_allclose(flat, flat[0], rtol=1e-9)
    drift = project_budget(res, paper_config(**common, **{
        "growth.revenue_pct": {2024: 0.5}})).ratios["netto_driftsresultat_pct"]
    assert (np.diff(drift) > 0).all()
