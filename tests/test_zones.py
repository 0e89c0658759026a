"""Zones: built-in bydeler, zone histories, the remainder zone, bottom-up and top-down."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import folder_is_empty_or_missing

from sim.cli import app
from sim.cohort.engine import project
from sim.config import scenario_from_dict
from sim.data.population import embedded_population, embedded_zones
from sim.demography.ageing import age_on
from sim.demography.zones import REMAINDER
from sim.errors import InputError
from sim.inputs import resolve

OSLO = {"municipality": "oslo", "horizon": 2030, "zones": {"source": "bydeler"}}


def _balance_error(proj) -> float:
    """Largest violation of P[t+1] = aged P[t] + flows over every zone, sex and age."""
    pop, comp = proj.population, proj.components
    worst = 0.0
    for t in range(len(proj.years) - 1):
        flows = comp[t, :, 0] + comp[t, :, 2] + comp[t, :, 4] - comp[t, :, 1] - comp[t, :, 3]
        worst = max(worst, float(np.abs(pop[t + 1] - age_on(pop[t]) - flows).max()))
    return worst


def test_bydeler_base_adds_up_to_the_kommune_exactly():
    inputs = resolve(scenario_from_dict(OSLO))
    assert len(inputs.districts) == 16 and inputs.districts[-1] == REMAINDER
    kommune = embedded_population().array("0301", 2024)
    np.testing.assert_array_equal(inputs.base_population.sum(axis=0), kommune)
    zones = embedded_zones()
    gamle = zones.array("030101", 2024)
    np.testing.assert_array_equal(inputs.base_population[0], gamle)


def test_bottom_up_zones_balance_and_differ_in_structure():
    inputs = resolve(scenario_from_dict(OSLO))
    proj = project(inputs)
    assert _balance_error(proj) < 1e-8
    assert proj.population.min() >= 0
    # Zones age and grow differently: their fertility levels and growth are their own.
    levels = inputs.parameters["zones"]["fertility_level"]
    assert max(levels) / min(levels) > 1.3
    growth = proj.population[-1].sum(axis=(1, 2)) / proj.population[0].sum(axis=(1, 2))
    assert growth[:-1].max() - growth[:-1].min() > 0.05


def test_zone_estimates_reproduce_each_zones_history():
    """A window year projected with the zone's own estimated flows gives its next population."""
    from sim.demography import mortality as mort
    from sim.demography.zones import builtin_zones
    from sim.inputs import estimate_history, estimation_settings

    sc = scenario_from_dict(OSLO)
    zones = builtin_zones("0301", 2024, embedded_population(), "test")
    settings = estimation_settings(sc, (2019, 2024), {}, 1.0)
    q = mort.death_probabilities(mort.mx_path(np.arange(2019, 2024), sc.mortality_base_years))
    nan = np.full(5, np.nan)
    for z in (0, 7, 15):  # Gamle Oslo, Vestre Aker, the remainder
        pops = zones.zone_history(z, 2019, 2024)
        m = estimate_history(pops, nan, nan, np.zeros(5), settings).migration
        for i in range(5):
            aged = age_on(pops[i])
            aged[:, 0] = m.births[i]
            nxt = aged + m.in_migrants[i] - (q[i] + m.out_rate[i]) * m.exposure[i]
            np.testing.assert_allclose(nxt, pops[i + 1], atol=1e-6)


def test_top_down_zones_add_up_to_the_kommune_projection():
    td = resolve(scenario_from_dict({**OSLO, "zones": {"source": "bydeler",
                                                       "constrain": "municipality"}}))
    proj = project(td)
    kommune = project(resolve(scenario_from_dict({"municipality": "0301", "horizon": 2030})))
    np.testing.assert_allclose(proj.population.sum(axis=1), kommune.population[:, 0],
                               rtol=1e-12, atol=1e-8)
    assert _balance_error(proj) < 1e-8
    assert proj.population.min() >= 0


def _zone_history(tmp_path, shares=(0.6, 0.3)) -> str:
    """A two-zone history of Lørenskog 2019-2024 (shares vary with age; the rest unallocated)."""
    table = embedded_population()
    rows = []
    for year in range(2019, 2025):
        pop = table.array("3222", year)
        ages = np.arange(106)
        tilt = 0.1 * (ages - 50) / 50
        for z, (name, share) in enumerate(zip(("Nord", "Sør"), shares, strict=True)):
            part = np.floor(pop * np.clip(share + (tilt if z == 0 else -tilt), 0, 1))
            for s, sex in enumerate(("male", "female")):
                rows += [(year, name, sex, a, part[s, a]) for a in range(106)]
    path = tmp_path / "zones.csv"
    pd.DataFrame(rows, columns=["year", "zone", "sex", "age", "persons"]).to_csv(path,
                                                                                index=False)
    return str(path)


def test_zone_history_csv_with_remainder(tmp_path):
    path = _zone_history(tmp_path)
    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2030,
                                         "zones": {"history": path}}))
    assert inputs.districts == ("Nord", "Sør", REMAINDER)
    np.testing.assert_array_equal(inputs.base_population.sum(axis=0),
                                  embedded_population().array("3222", 2024))
    proj = project(inputs)
    assert _balance_error(proj) < 1e-8


def test_zones_larger_than_the_kommune_are_refused(tmp_path):
    path = _zone_history(tmp_path, shares=(0.7, 0.6))
    with pytest.raises(InputError, match="more persons than the kommune"):
        resolve(scenario_from_dict({"municipality": "3222", "horizon": 2030,
                                    "zones": {"history": path}}))


def test_run_zones_from_the_command_line(runner, tmp_path):
    out = tmp_path / "oslo"
    res = runner.invoke(app, ["run", "-m", "oslo", "--zones", "bydeler", "--horizon", "2027",
                              "--no-plots", "--out", str(out)])
    assert res.exit_code == 0, res.output
    pop = pd.read_parquet(out / "population.parquet")
    assert pop.district.nunique() == 16
    assert pop[pop.year == 2024].persons.sum() == 717_710


@pytest.mark.parametrize(("args", "message"), [
    (["-m", "3222", "--zones", "bydeler"], "no built-in bydeler for 3222"),
    (["-m", "oslo", "--zones", "skolekretser"], "zones.source"),
])
def test_bad_zone_input(runner, tmp_path, args, message):
    res = runner.invoke(app, ["run", *args, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert folder_is_empty_or_missing(tmp_path / "x")
