"""Embedded data, resolution of scenarios and the inputs export/override round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.cohort.engine import project
from sim.config import scenario_from_dict
from sim.data.population import embedded_population, population_array
from sim.demography.ageing import age_on
from sim.inputfiles import write_inputs
from sim.inputs import resolve


@pytest.mark.parametrize(("knr", "year", "total"), [
    ("3222", 2024, 48_188),   # data README; seed 004 l.676
    ("3205", 2020, 85_983),   # seed 003 l.618
    ("3205", 2021, 86_953),
    ("3205", 2022, 89_095),
    ("3205", 2023, 91_515),
    ("3205", 2024, 94_201),   # seed 003 l.638
    ("0000", 2024, 5_550_203),
])
def test_embedded_population_totals(knr, year, total):
    assert population_array(embedded_population(), knr, year).sum() == total


@pytest.mark.parametrize(("knr", "total"), [("3222", 48_188), ("3205", 94_201)])
def test_resolved_base_population(knr, total):
    inputs = resolve(scenario_from_dict({"municipality": knr, "horizon": 2030}))
    assert inputs.base_population.sum() == total
    assert inputs.base_population.shape == (1, 2, 106)
    assert inputs.death_probability.shape == (6, 1, 2, 106)


def test_fertility_level_reproduces_lillestrom_births():
    """The fitted level reproduces observed births 2020-2023 (seed 003 l.620) in the window."""
    sc = scenario_from_dict({"municipality": "3205", "horizon": 2030,
                             "migration": {"estimation_years": (2020, 2024)}})
    inputs = resolve(sc)
    assert inputs.parameters["births_observed"] == [True] * 4
    # The estimation used the observed births: 829, 880, 851, 883.
    assert inputs.parameters["births_estimation_window"] == [829.0, 880.0, 851.0, 883.0]


def test_migration_estimate_reproduces_history():
    """Projecting a window year with its own estimated flows gives the next SSB population."""
    from sim.data.population import municipality_defaults
    from sim.inputs import estimate_levels

    sc = scenario_from_dict({"municipality": "3222", "horizon": 2030})
    table = embedded_population()
    est = estimate_levels(sc, table, "3222", municipality_defaults()["3222"])
    m = est.migration
    p2023 = population_array(table, "3222", 2023)
    i = list(m.years).index(2023)
    aged = age_on(p2023)
    aged[:, 0] = m.births[i]
    next_pop = population_array(table, "3222", 2024)
    out = m.out_rate[i] * m.exposure[i]
    deaths = aged + m.in_migrants[i] - out - next_pop
    np.testing.assert_allclose(m.exposure[i], aged + 0.5 * m.in_migrants[i], rtol=1e-12)
    # The implied deaths are national death probabilities x exposure (Lørenskog level = 1).
    from sim.demography.mortality import cohort_death_probability, mx_path

    mx = mx_path(np.array([2023]), (2019, 2023))[0]
    q = np.stack([cohort_death_probability(mx[s], s) for s in range(2)])
    np.testing.assert_allclose(deaths, q * m.exposure[i], rtol=1e-9, atol=1e-9)


def test_scenario_paths_change_inputs():
    base = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2030}))
    high = resolve(scenario_from_dict({
        "municipality": "3222", "horizon": 2030,
        "fertility": {"tfr": {2024: 2.0}},
        "migration": {"in_multiplier": {2024: 2.0}},
        "refugees": {"settled_per_year": {2024: 0}},
    }))
    np.testing.assert_allclose(high.in_migrants, 2 * base.in_migrants, rtol=1e-12)
    assert high.refugees.sum() == 0
    # fertility is proportional to the TFR path: 2.0 against the default path
    ratio = high.fertility.sum(axis=(1, 2)) / base.fertility.sum(axis=(1, 2))
    tfr = np.array([base.parameters["tfr_path"][y] for y in base.years.tolist()])
    np.testing.assert_allclose(ratio, 2.0 / tfr, rtol=1e-3)


def test_e0_path_is_hit():
    from sim.demography.mortality import life_expectancy  # noqa: F401

    sc = scenario_from_dict({"municipality": "3222", "horizon": 2027,
                             "mortality": {"e0_male": {2024: 83.0}, "e0_female": {2024: 86.0}}})
    inputs = resolve(sc)
    # survivorship ratios reproduce e0: e0 = sum of L_x = product chain of (1 - q)
    for s, target in ((0, 83.0), (1, 86.0)):
        q = inputs.death_probability[0, 0, s]
        # L0 = 1 - q0, L_x = L_{x-1}(1 - q_x); e0 = sum L_0..L_104 + T105,
        # open group: T105 = L104 (1 - q105) / q105
        L = np.cumprod(1 - q[:105])
        e0 = L.sum() + L[-1] * (1 - q[105]) / q[105]
        assert e0 == pytest.approx(target, abs=1e-6)


def test_inputs_round_trip_through_override_files(tmp_path):
    """Exported inputs read back as overrides give a bit-identical projection."""
    sc = scenario_from_dict({"municipality": "3222", "horizon": 2030})
    inputs = resolve(sc)
    write_inputs(inputs, tmp_path)
    files = {name: str(tmp_path / f"{name}.csv") for name in
             ("fertility", "death_probability", "out_rate", "in_migrants", "refugees",
              "base_population")}
    sc2 = scenario_from_dict({"municipality": "3222", "horizon": 2030, "inputs": files})
    inputs2 = resolve(sc2)
    a, b = project(inputs), project(inputs2)
    np.testing.assert_array_equal(a.population, b.population)
    df = pd.read_csv(tmp_path / "death_probability.csv")
    assert list(df.columns) == ["year", "district", "sex", "age", "probability"]
    assert len(df) == 6 * 1 * 2 * 106


def test_districts_from_base_population_file(tmp_path):
    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2026}))
    base = inputs.base_population[0]
    rows = []
    for name, share in (("Fjellhamar", 0.3), ("Sentrum", 0.7)):
        for s, sex in enumerate(("male", "female")):
            for a in range(106):
                rows.append((name, sex, a, base[s, a] * share))
    path = tmp_path / "base.csv"
    pd.DataFrame(rows, columns=["district", "sex", "age", "persons"]).to_csv(path, index=False)
    sc = scenario_from_dict({"municipality": "3222", "horizon": 2026,
                             "inputs": {"base_population": str(path)}})
    d = resolve(sc)
    assert d.districts == ("Fjellhamar", "Sentrum")
    np.testing.assert_allclose(d.in_migrants.sum(axis=1), inputs.in_migrants[:, 0], rtol=1e-12)
    np.testing.assert_allclose(d.in_migrants[:, 0].sum() / d.in_migrants.sum(), 0.3, rtol=1e-12)
    # Same rates everywhere and arrivals split by share: districts add up to the one-district run.
    np.testing.assert_allclose(project(d).population.sum(axis=1),
                               project(inputs).population[:, 0], rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("knr", ["1508", "1580"])
def test_split_kommuner_are_estimated_on_their_old_territory(knr):
    """Before 2024 the embedded history gives Ålesund and Haram the same half of the old
    Ålesund; estimated on their own, the 2024 jump (+73 % / -72 %) would be read as migration.
    Estimated on the pair's sum, both grow as the old territory did (under 3 % a year)."""
    proj = project(resolve(scenario_from_dict({"municipality": knr, "horizon": 2026})))
    totals = proj.population.sum(axis=(1, 2, 3))
    assert np.all(np.abs(totals[1:] / totals[:-1] - 1) < 0.03)


def test_default_settlement_before_the_plan_is_what_happened():
    """A run from 2019 settles, in 2019-2023, the refugees that were settled (the kommune's
    record, or the national figures x its share), and the plan from 2024 on."""
    from sim.data.population import embedded_population, municipality_defaults
    from sim.inputs import refugees_settled_history

    for knr in ("3222", "3201"):
        inputs = resolve(scenario_from_dict({"municipality": knr, "base_year": 2019,
                                             "horizon": 2027}))
        per_year = inputs.refugees.sum(axis=(1, 2, 3))
        history, _ = refugees_settled_history(knr, embedded_population(),
                                              municipality_defaults().get(knr, {}))
        np.testing.assert_allclose(per_year[:5], [history[y] for y in range(2019, 2024)],
                                   rtol=1e-12)
        late = resolve(scenario_from_dict({"municipality": knr, "base_year": 2024,
                                           "horizon": 2027})).refugees.sum(axis=(1, 2, 3))
        if knr == "3222":  # its own plan: the same numbers from 2024
            np.testing.assert_allclose(per_year[5:], late, rtol=1e-12)


def test_settlement_before_a_kommunes_own_record_is_the_national_share():
    """Lørenskog's own record starts in 2019; a run from 2015 settles, in 2015-2018, the
    national settlement (IMDi) times its size-weighted share, not zero."""
    from sim.data.population import NORWAY, embedded_population, municipality_defaults
    from sim.inputs import settlement_share

    table, defaults = embedded_population(), municipality_defaults()
    assert min(defaults["3222"]["refugees_settled"]) == 2019
    inputs = resolve(scenario_from_dict({"municipality": "3222", "base_year": 2015,
                                         "horizon": 2020}))
    per_year = inputs.refugees.sum(axis=(1, 2, 3))
    national = defaults[NORWAY]["refugees_settled"]
    want = [national[y] * settlement_share(table, "3222", y) for y in range(2015, 2019)]
    np.testing.assert_allclose(per_year[:4], want, rtol=1e-12)
    assert min(want) > 10
    assert per_year[4] == defaults["3222"]["refugees_settled"][2019]
