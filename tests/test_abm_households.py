"""Household realism of the ABM against SSB's household statistics (``sim/abm/SOURCES.md``).

Known answers: the targets re-derived from the published figures they were fitted to; the
published path against SSB figures published later; the national trend fit checked on years
it was not fitted to; Norway's share living alone by age (not a target); the base households
of Lørenskog against its published size; then the projected path every year, no minors
alone, and whole households into new dwellings.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import brentq
from test_abm import check_households, scaled

from sim.abm import households as hh
from sim.abm import kernels as k
from sim.abm.config import AbmConfig
from sim.abm.model import INDICATORS, AbmModel
from sim.abm.montecarlo import run_abm
from sim.config import scenario_from_dict
from sim.data.population import population_array, population_table
from sim.demography.housing import HousingProgramme, HousingProject
from sim.inputs import resolve

PPH = INDICATORS.index("persons_per_household")


@pytest.fixture(scope="module")
def norway():
    table = population_table()
    return {y: population_array(table, "0000", y) for y in (2005, 2014, 2019, 2020, 2021)}


@pytest.fixture(scope="module")
def lorenskog():
    return resolve(scenario_from_dict({"municipality": "3222", "horizon": 2040}))


# ---------------------------------------------------------------------------------------------
# Targets against the published figures
# ---------------------------------------------------------------------------------------------

def test_alone_shares_reproduce_ssb(norway):
    """16-72: SSB's single-age figures; 80+: the value at 90 solves SSB's 1/3 (men) and 2/3
    (women) with Norway's 2019 population; 67+ then lands near SSB's 23.8 % and 44.6 %."""
    alone = hh._alone_share()
    for s in range(2):
        np.testing.assert_allclose(alone[s, 16:73], np.array(hh.ALONE_2020_PCT[s]) / 100)
    pop = norway[2019]

    def share(a, lo):
        return (a[:, lo:] * pop[:, lo:]).sum(axis=1) / pop[:, lo:].sum(axis=1)

    np.testing.assert_allclose(share(alone, 80), [1 / 3, 2 / 3], atol=3e-4)
    assert np.all(np.abs(share(alone, 67) - [0.238, 0.446]) < 0.015)
    ages = np.arange(73, 106)
    for s, top in enumerate((1 / 3, 2 / 3)):   # the value at 90, solved independently

        def gap(v, s=s, top=top):
            a = alone[s].copy()
            a[73:] = np.interp(ages, [72, 90], [a[72], v])
            return (a[80:] * pop[s, 80:]).sum() / pop[s, 80:].sum() - top

        assert abs(brentq(gap, 0.1, 1.0) - hh.ALONE_AT_90[s]) < 1e-3


def test_lone_parents_match_the_assumed_totals(norway):
    """35,000 lone fathers and 140,000 lone mothers in Norway 2019 (``LONE_PARENT_PEAK``)."""
    lone = hh.lone_parent_share() * norway[2019]
    np.testing.assert_allclose(lone.sum(axis=1), [35_000, 140_000], rtol=2e-3)


def test_shares_are_complete_and_k_scales_singles():
    single, home, couple = hh.national_shares()
    np.testing.assert_allclose(single + home + couple, 1.0)
    assert np.all((single >= 0) & (home >= 0) & (couple >= 0))
    for factor in (0.5, 1.0, 2.0):
        h, c = hh.targets(factor)
        np.testing.assert_allclose(1 - h - c, np.minimum(factor * single, 1), atol=1e-12)
        assert np.all((h >= 0) & (c >= -1e-12))


def test_trend_fit_reproduces_years_it_was_not_fitted_to(norway):
    """Fitted to 2005 (2.27) and 2019 (2.16) with Norway's populations; the default trend is
    the fit, and 2014, 2020 and 2021 (published 2.20, 2.15, 2.13) come out within 1 %."""
    factor, tau = hh.fit_national(norway[2005], norway[2019])
    assert abs(tau - AbmConfig().single_trend_per_year) < 1e-6
    for year, published in ((2014, 2.20), (2020, 2.15), (2021, 2.13)):
        model = hh.expected_pph(norway[year], factor * np.exp(tau * (year - 2019)))
        assert abs(model / published - 1) < 0.01, (year, model)


def test_published_path():
    # Lillestrøm = Skedsmo + Fet + Sørum (2019), by hand
    assert hh.PPH_2019["3205"] == round((54_990 + 11_662 + 17_942) / (24_529 + 4_789 + 7_333), 2)
    # the national trend against figures SSB published after 2019
    assert abs(hh.published_path("0000", None, [2021])[0] / 2.13 - 1) < 0.01
    assert abs(1.98 * np.exp(5 * hh.TREND_PER_YEAR) / 1.95 - 1) < 0.01    # Oslo 2024
    assert abs(2.32 * np.exp(5 * hh.TREND_PER_YEAR) / 2.26 - 1) < 0.01    # Akershus 2024
    # Oslo: its 2024 figure and own ten-year trend (1.97 in 2014); a bydel keeps its 2019
    # ratio to Oslo; a district without a figure gets the municipality's path
    oslo = hh.published_path("0301", None, [2014, 2024])
    np.testing.assert_allclose(oslo, [1.97, 1.95])
    stovner = hh.published_path("0301", "Stovner", [2024, 2030])
    np.testing.assert_allclose(stovner, hh.published_path("0301", None, [2024, 2030]) * 2.42
                               / 1.98)
    np.testing.assert_allclose(hh.published_path("0301", "Søndre Nordstrand", [2030]),
                               hh.published_path("0301", None, [2030]))
    assert hh.published_path("9999", None, [2024]) is None
    path = hh.published_path("3222", None, np.arange(2019, 2045))
    np.testing.assert_allclose(np.diff(np.log(path)), hh.TREND_PER_YEAR)


def test_district_factors_hit_district_and_municipal_figures(lorenskog):
    """Two districts with figures get their own factor; the one without shares the factor
    that gives the municipality its total (expected persons per household, exact)."""
    base = lorenskog.base_population[0]
    three = np.stack([base * 0.5, base * 0.3, base * 0.2])
    k3 = hh.calibrate_districts(three, np.array([1.68, 2.42, np.nan]), 2.0)
    assert abs(hh.expected_pph(three[0], k3[0]) - 1.68) < 1e-8
    assert abs(hh.expected_pph(three[1], k3[1]) - 2.42) < 1e-8
    heads = sum(three[d].sum() / hh.expected_pph(three[d], k3[d]) for d in range(3))
    assert abs(three.sum() / heads - 2.0) < 1e-8
    np.testing.assert_array_equal(hh.calibrate_districts(three, np.full(3, np.nan), None),
                                  np.ones(3))


# ---------------------------------------------------------------------------------------------
# The agents
# ---------------------------------------------------------------------------------------------

def test_norway_living_alone_by_age_is_near_ssb(lorenskog, norway):
    """Not a target: the ABM places children with women and pairs women with men, and what
    remains alone is compared with SSB's 2020 shares (a 2 % sample of Norway, calibrated to
    the published 2.15). Measured: 17.1 % of persons alone (SSB 18.3 %), 36.7 % one-person
    households (SSB 39.4 %); the age groups below within 7 points. Men 80+ are more often in
    couples than SSB shows (20 % alone against 33 %), noted in SOURCES.md."""
    pop = norway[2020]
    inp = dataclasses.replace(scaled(lorenskog, years=1), municipality="0000",
                              base_population=np.round(pop * 0.02)[None])
    m = AbmModel(inp, 1, AbmConfig(persons_per_household=2.15))
    P = m.state.persons
    age, sex, house = P.view("age"), P.view("sex"), P.view("household")
    size = np.bincount(house)
    alone = size[house] == 1
    assert abs(P.n / m.state.households.n / 2.15 - 1) < 0.01
    assert abs(alone.mean() - 0.183) < 0.02
    assert abs((size == 1).mean() - 0.394) < 0.04
    ssb = hh._alone_share()
    for lo, hi in ((20, 24), (25, 29), (30, 34), (35, 44), (45, 54), (55, 66), (67, 79)):
        for s in range(2):
            sel = (age >= lo) & (age <= hi) & (sex == s)
            w = pop[s, lo:hi + 1]
            published = (ssb[s, lo:hi + 1] * w).sum() / w.sum()
            assert abs(alone[sel].mean() - published) < 0.07, (lo, hi, s)


def test_base_households_match_published_size(lorenskog):
    m = AbmModel(lorenskog, 3)
    published = m.plan.published[0]
    assert abs(published - 2.28 * np.exp(5 * hh.TREND_PER_YEAR)) < 1e-12
    assert abs(m.state.persons.n / m.state.households.n / published - 1) < 0.01
    check_households(m)


@pytest.mark.slow
def test_household_size_follows_published_path_lorenskog(lorenskog):
    """Lørenskog 2024-2040 (16 years), 4 runs: the mean persons per household is within 3 %
    of the published path every year and each run within 4 %; no household of minors alone;
    the compensation of out-migration leaves under 1 person a year unmatched."""
    res = run_abm(lorenskog, runs=4, seed=11)
    dev = res.indicators[:, :, PPH] / hh.published_path("3222", None, res.years) - 1
    assert np.all(np.abs(dev.mean(axis=0)) < 0.03), np.round(100 * dev.mean(axis=0), 2)
    assert np.all(np.abs(dev) < 0.04)
    assert np.all(res.indicator("households_without_adult") == 0)
    assert np.all(res.indicator("out_migration_unmatched") < 1.0)


@pytest.mark.slow
def test_household_size_follows_published_path_lillestrom():
    """Lillestrøm 2024-2044 (20 years), 3 runs: within 3 % every year (measured: 1.6 %)."""
    inp = resolve(scenario_from_dict({"municipality": "3205", "horizon": 2044}))
    res = run_abm(inp, runs=3, seed=5)
    dev = res.indicators[:, :, PPH] / hh.published_path("3205", None, res.years) - 1
    assert np.all(np.abs(dev) < 0.03), np.round(100 * dev, 2)


def test_no_minors_alone_every_year_even_when_persons_leave_alone(lorenskog):
    """With individual out-migration children are left behind often; they are rehoused with
    a woman of the district, so no household is without an adult, and invariants hold."""
    inp = scaled(lorenskog, scale=0.2, years=6)
    m = AbmModel(inp, 4, AbmConfig(out_migration="persons"))
    while m.t < len(inp.years):
        m.step()
        check_households(m)
    assert m.indicators[1:, INDICATORS.index("rehoused_households")].sum() > 20
    assert np.all(m.indicators[:, INDICATORS.index("households_without_adult")] == 0)


def test_new_dwellings_get_whole_households(lorenskog):
    """Each dwelling completed in 2025 holds, on 1 January 2026, one household that moved in
    together: in-migrants who arrived in 2025 (and their babies born in 2025), no more than
    the largest profile template."""
    inp = scaled(lorenskog, years=3)
    housing = HousingProgramme(projects=(HousingProject(dwelling_type="blokk",
                                                        completions={2025: 60}),))
    m = AbmModel(inp, 6, housing=housing)
    m.step()
    m.step()
    P, H, W = m.state.persons, m.state.households, m.state.dwellings
    new = np.nonzero(W.view("dw_year") == 2025)[0]
    occupied = W.view("dw_household")[new]
    occupied = occupied[occupied >= 0]
    assert len(occupied) > 40     # a few households die out or leave in the first year
    house = P.view("household")
    sizes = {t.size for t in housing.profiles["blokk"].templates}
    for h in occupied:
        members = house == h
        assert H.view("hh_kind")[h] == k.HH_HOUSING
        assert np.all(np.isin(P.view("origin")[members], (k.IN_MIGRANT, k.BORN)))
        assert np.all(P.view("arr_year")[members] == 2025)
        assert (members & (P.view("origin") == k.IN_MIGRANT)).sum() <= max(sizes)
