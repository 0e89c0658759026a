"""Housing-led in-migration: profiles, the arithmetic by hand, both engines, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import folder_is_empty_or_missing

from sim.cli import app
from sim.cohort.engine import project
from sim.config import scenario_from_dict
from sim.demography.housing import (
    DWELLING_TYPES,
    DwellingProfile,
    HouseholdTemplate,
    default_profiles,
    expected_movers,
)
from sim.errors import InputError
from sim.inputs import resolve

# SSB Boforhold 1 January 2020, persons / private households by building type.
SSB_PERSONS_PER_HOUSEHOLD = {"enebolig": 2_926_023 / 1_192_639, "smahus": 632_938 / 300_214,
                             "blokk": 1_055_748 / 628_269, "other": 160_240 / 115_684}


@pytest.mark.parametrize("kind", list(SSB_PERSONS_PER_HOUSEHOLD))
def test_default_persons_per_dwelling_match_ssb(kind):
    profile = default_profiles()[kind]
    assert profile.persons_per_dwelling == pytest.approx(SSB_PERSONS_PER_HOUSEHOLD[kind],
                                                         rel=0.01)
    assert expected_movers(profile).sum() == pytest.approx(profile.persons_per_dwelling)


def test_expected_movers_by_hand():
    """One couple aged 30-31 with one child aged 0: per sex 0.5 + 0.5 adults, 0.5 children."""
    profile = DwellingProfile(templates=(HouseholdTemplate(share=1.0, adults=2,
                                                           adult_age=(30, 31), children=1,
                                                           child_age=(0, 0)),))
    got = expected_movers(profile)
    want = np.zeros((2, 106))
    want[:, 30] = want[:, 31] = 0.5
    want[:, 0] = 0.5
    np.testing.assert_array_equal(got, want)


def _scenario(**housing):
    return scenario_from_dict({"municipality": "3222", "horizon": 2028,
                               "refugees": {"settled_per_year": {2024: 0}},
                               "housing": housing})


def test_no_projects_and_baseline_pace_is_the_trend_exactly():
    trend = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2028,
                                        "refugees": {"settled_per_year": {2024: 0}}}))
    led = resolve(_scenario())
    np.testing.assert_allclose(led.in_migrants, trend.in_migrants, rtol=1e-13, atol=1e-10)


def test_housing_arithmetic_by_hand():
    """10 dwellings of a one-template type in 2025: the in-migrants grow by 10 x the movers in
    2025 only, and the next 1 January by movers x (1 - (q + o) / 2) per cell."""
    template = {"share": 1.0, "adults": 2, "adult_age": [30, 31], "children": 1,
                "child_age": [0, 0]}
    housing = {"baseline_completions_per_year": 0.0,
               "profiles": {"student": {"templates": [template]}},
               "projects": [{"name": "A", "dwelling_type": "student",
                             "completions": {2025: 10}}]}
    base = resolve(_scenario(baseline_completions_per_year=0.0))
    led = resolve(_scenario(**housing))
    movers = np.zeros((2, 106))
    movers[:, 30] = movers[:, 31] = 5.0
    movers[:, 0] = 5.0
    diff = led.in_migrants - base.in_migrants
    np.testing.assert_allclose(diff[1, 0], movers, atol=1e-9)      # 2025
    assert np.abs(diff[[0, 2, 3]]).max() < 1e-9                    # other years unchanged
    assert led.completions[1, 0, DWELLING_TYPES.index("student")] == 10
    np.testing.assert_allclose(led.project_movers[1, 0], movers, atol=1e-12)
    a, b = project(led), project(base)
    q, o = led.death_probability[1, 0], led.out_rate[1, 0]
    gain = a.population[2, 0] - b.population[2, 0]                 # 1 January 2026
    expected = movers * (1.0 - 0.5 * (q + o))
    # Age 0 also gains the births of the movers' women (none here: no women 15-49 moved in
    # except the 30-31-year-olds, whose births land at age 0 in 2026): compare ages >= 1.
    np.testing.assert_allclose(gain[:, 1:], expected[:, 1:], rtol=1e-9, atol=1e-9)


def test_slower_building_means_slower_growth():
    fast = project(resolve(_scenario(other_completions_per_year={2024: 732})))
    slow = project(resolve(_scenario(other_completions_per_year={2024: 300})))
    assert slow.population[-1].sum() < fast.population[-1].sum() - 1000


def test_zone_projects_land_in_their_zone():
    sc = scenario_from_dict({
        "municipality": "oslo", "horizon": 2027, "zones": {"source": "bydeler"},
        "housing": {"baseline_completions_per_year": 4000,
                    "projects": [{"name": "Hovinbyen", "district": "Bjerke",
                                  "dwelling_type": "blokk", "completions": {2025: 500}}]}})
    inputs = resolve(sc)
    d = inputs.districts.index("Bjerke")
    assert inputs.project_movers[1].sum(axis=(1, 2))[d] == pytest.approx(
        500 * default_profiles()["blokk"].persons_per_dwelling)
    assert np.delete(inputs.project_movers[1].sum(axis=(1, 2)), d).sum() == 0


@pytest.mark.parametrize(("housing", "extra", "message"), [
    ({"projects": [{"district": "Atlantis", "completions": {2025: 10}}]}, {},
     "unknown zone 'Atlantis'"),
    ({"projects": [{"dwelling_type": "slott", "completions": {2025: 10}}]}, {},
     "dwelling_type"),
    ({}, {"migration": {"growth_target_pct": {2025: 1.0}}}, "growth_target_pct"),
    ({"baseline_mix": {"blokk": 0.5}}, {}, "baseline_mix"),
])
def test_bad_housing_input(housing, extra, message):
    with pytest.raises(InputError, match=message):
        resolve(scenario_from_dict({"municipality": "3222", "horizon": 2028,
                                    "housing": housing, **extra}))


def test_kommune_without_baseline_must_give_one(runner, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('municipality = "Bærum"\nhorizon = 2030\n[[housing.projects]]\n'
                    'completions = { 2026 = 100 }\n')
    res = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "housing.baseline_completions_per_year" in res.output
    assert folder_is_empty_or_missing(tmp_path / "x")


def test_both_engines_agree_with_a_housing_programme():
    """The ABM moves whole households into the named projects; its mean over runs equals the
    cohort projection within 4 standard errors (total, age groups, in-migrants)."""
    from sim.run import run, run_abm_scenario

    sc = scenario_from_dict({
        "municipality": "3222", "horizon": 2028, "name": "housing",
        "housing": {"projects": [{"name": "Sentrum", "dwelling_type": "blokk",
                                  "completions": {2025: 300, 2026: 300}},
                                 {"name": "Rekkehus", "dwelling_type": "smahus",
                                  "completions": {2026: 100}}]}})
    runs = 24
    cohort = run(sc.model_copy(update={"budget": sc.budget.model_copy(
        update={"enabled": False})}))
    abm = run_abm_scenario(sc, runs, seed=3)
    groups = [(0, 105), (1, 5), (6, 15), (20, 39), (67, 105)]
    for lo, hi in groups:
        runs_total = abm.abm.population[:, :, :, :, lo:hi + 1].sum(axis=(2, 3, 4))
        mean, se = runs_total.mean(axis=0), runs_total.std(axis=0, ddof=1) / np.sqrt(runs)
        want = cohort.projection.population[:, :, :, lo:hi + 1].sum(axis=(1, 2, 3))
        assert np.all(np.abs(mean - want) <= 4 * se + 1e-6), (lo, hi, mean - want, se)
    inm = abm.abm.components[:, :, :, 2].sum(axis=(2, 3, 4))
    want = cohort.projection.components[:, :, 2].sum(axis=(1, 2, 3))
    se = inm.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(inm.mean(axis=0) - want) <= 4 * se + 1e-6)


def test_lillestrom_zones_housing_facilities_budget_both_engines():
    """The issue's done-when: a Lillestrøm scenario with zones, a housing programme and
    facilities gives zone-level users, places, gaps, whole-building investments and a budget
    that includes them, with both engines."""
    from pathlib import Path

    from sim.config import load_scenario
    from sim.run import run, run_abm_scenario

    path = (Path(__file__).parents[1] / "experiments" / "scenarios"
            / "lillestrom_zones_housing.toml")
    sc = load_scenario(path).model_copy(update={"horizon": 2034})
    cohort = run(sc)
    zones = set(cohort.inputs.districts)
    assert {"Lillestrøm by", "Strømmen", "Skjetten"} <= zones
    bh = cohort.services[cohort.services.service == "barnehage"]
    assert set(bh.district) == zones and bh.places.notna().all()
    np.testing.assert_allclose(bh.gap, bh.place_demand - bh.places)
    # whole buildings, placed in zones, and the budget's capacity investments are exactly them
    inv = cohort.investments
    assert len(inv) > 0 and (inv.places % 1 == 0).all() and set(inv.district) <= zones
    b = cohort.budget
    assert b.parameters["capacity_investments"].startswith("the run's whole buildings")
    assert b.line("investering_kapasitet").sum() > 0
    # the movers of the 600 dwellings land in Lillestrøm by
    d = cohort.inputs.districts.index("Lillestrøm by")
    moved = cohort.inputs.project_movers.sum(axis=(2, 3))
    assert moved[:, d].sum() == pytest.approx(600 * default_profiles()["blokk"]
                                              .persons_per_dwelling)
    assert np.delete(moved, d, axis=1).sum() == 0
    # the agent-based engine runs the same scenario: zone users and investments too
    abm = run_abm_scenario(sc.model_copy(update={"horizon": 2030}), runs=3, seed=5)
    assert set(abm.services.district) == zones and abm.investments is not None
    runs = abm.abm.population.sum(axis=(3, 4))                    # [R, Y+1, D]
    want = project(cohort.inputs).population.sum(axis=(2, 3))[:runs.shape[1]]
    rel = np.abs(runs.mean(axis=0) - want) / want
    assert rel[:, d].max() < 0.02                                   # same expectation
    # ... and a budget of its mean over runs, with its own whole buildings in it
    assert abm.budget is not None and abm.notes == ()
    built = abm.investments.cost_nok.sum() > 0
    label = abm.budget.parameters["capacity_investments"]
    assert label.startswith("the run's whole buildings") == (len(abm.investments) > 0)
    assert (abm.budget.line("investering_kapasitet").sum() > 0) == built
    n = len(abm.budget.years)
    np.testing.assert_allclose(abm.budget.line("skatt"), b.line("skatt")[:n], rtol=0.02)
    # integreringstilskudd counts the refugees the runs settled (their mean; whole families,
    # so not the plan), by years since settlement (rates x deflator, computed by hand here)
    cfg = abm.budget.config.integreringstilskudd
    settled = {int(y): v for y, v in (cfg.settled_history or abm.inputs.parameters[
        "refugees_settled_history"]).items()}
    drawn = abm.abm.components[:, :, :, 4].sum(axis=(2, 3, 4)).mean(axis=0)
    settled.update(zip(abm.budget.years.tolist(), drawn.tolist(), strict=True))
    defl = abm.budget.ratios["deflator_index"]
    for i, y in enumerate(abm.budget.years):
        want = sum(r * settled.get(int(y) - k, 0) for k, r in enumerate(cfg.rate_nok)) * defl[i]
        assert abm.budget.line("integreringstilskudd")[i] == pytest.approx(want, rel=1e-12)
