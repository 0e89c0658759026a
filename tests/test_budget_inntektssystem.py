"""The inntektssystem against published figures: kostnadsindeks, cost key, tax, veksttilskudd.

What each test compares with what:
* The 2026 kostnadsindeks of Lørenskog (0.9551) and Lillestrøm (0.9614), KDD's published
  totals, recomputed: the age criteria and the basistillegg from the population (SSB 1 January
  2024 and the cohort projection, 1 July 2025 as the mean of 1 January 2025 and 2026), the
  other criteria of each sector held at what the **2025** published sector indices imply
  (published 2025 sector index minus the age part recomputed for 1 July 2024). The 2026 figure
  is not used to calibrate anything, so the test can fail.
* Lørenskog's grunnskole and kommunehelse sector indices (2026) with no residual at all: every
  criterion in those two keys is either counted from the population or published for
  Lørenskog (innvandrere 6-15, reiseavstand sone and nabo).
* Transcription checks (they check the copying of published tables, nothing more): the cost
  key's sector weights times the published sector indices give the published total index.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from sim.budget import inntektssystem as inn
from sim.budget.national import national_on
from sim.data import data_path
from sim.data.population import population_array, population_table
from sim.run import run
from sim.scenarios import build_scenario

# Lørenskog's published criterion indices 2026 for the grunnskole key (Grønt hefte 2026, table
# E-k, as quoted in vegard1104/kommunebarometer scripts/generer-dki-sektor-breakdown.mjs:
# "0,6227×1,0405 + 0,2776×0,9362 + 0,0348×1,013 + 0,0211×0,3091 + 0,0219×0,412 + 0,0219×0,5183
# = 0,9700"): innb_6_12, innb_13_15, innv_6_15, basis, reise_sone, reise_nabo.
LORENSKOG_2026 = {"innb_6_12": 1.0405, "innb_13_15": 0.9362, "innv_6_15": 1.013,
                  "basis": 0.3091, "reise_sone": 0.412, "reise_nabo": 0.5183}


@pytest.fixture(scope="module")
def populations():
    """1 January 2023 (SSB) and 2024-2026 (SSB base + projection), persons by age."""
    out = {}
    table = population_table()
    for knr in ("3222", "3205"):
        sc = build_scenario(None, knr, 2027, None, None)
        res = run(sc.model_copy(update={"budget": sc.budget.model_copy(
            update={"enabled": False})}))
        pop = res.projection.population.sum(axis=(1, 2))
        years = list(res.projection.years)
        out[knr] = {2023: population_array(table, knr, 2023).sum(axis=0),
                    **{y: pop[years.index(y)] for y in (2024, 2025, 2026)}}
    return out


def _criteria(pop: dict[int, np.ndarray], year: int) -> np.ndarray:
    """Computed criteria for the budget year ``year`` (counted on 1 July of year - 1)."""
    local = 0.5 * (pop[year - 1] + pop[year])
    nat = 0.5 * (national_on(np.array([year - 1])) + national_on(np.array([year])))[0]
    return inn.criteria_indices(local, nat)


@pytest.mark.parametrize("knr,published", [("3222", 0.9551), ("3205", 0.9614)])
def test_kostnadsindeks_2026_recomputed_from_population(populations, knr, published):
    key = inn.cost_key()
    crit25, crit26 = _criteria(populations[knr], 2025), _criteria(populations[knr], 2026)
    other, source = inn.other_criteria(knr, 2025, crit25)
    assert "2025" in source and "sektorindekser" in source
    index26 = inn.total_index(inn.sector_indices(crit26, other, key), key)
    assert published == inn.published_indices(knr, 2026)["samlet"]
    print(f"\n[kostnadsindeks] {knr} 2026: recomputed {index26:.4f}, published {published} "
          f"({100 * (index26 / published - 1):+.2f} %)")
    assert index26 == pytest.approx(published, rel=0.01)


def test_lorenskog_school_and_health_indices_without_residual(populations):
    key = inn.cost_key()
    crit = dict(zip(key.computed, _criteria(populations["3222"], 2026), strict=True))
    published = {**crit, "innv_6_15": LORENSKOG_2026["innv_6_15"],
                 "reise_sone": LORENSKOG_2026["reise_sone"],
                 "reise_nabo": LORENSKOG_2026["reise_nabo"]}
    raw = tomllib.loads(data_path(inn.COST_KEY_FILE).read_text(encoding="utf-8"))
    for sector, expected in (("grunnskole", 0.9700), ("kommunehelse", 0.8948)):
        value = sum(w * published[c] for c, w in raw["sectors"][sector].items())
        print(f"\n[sector index] Lørenskog {sector} 2026: {value:.4f} vs {expected}")
        assert value == pytest.approx(expected, rel=0.01)
    # the population counts themselves: within 2 % of KDD's (the projection, not SSB, gives
    # 1 January 2025 and 2026, so small cohorts differ by the projection error)
    for c in ("innb_6_12", "innb_13_15", "basis"):
        assert crit[c] == pytest.approx(LORENSKOG_2026[c], rel=0.02), c


def test_cost_key_transcription_reproduces_published_totals():
    """Transcription check: sector weights x published sector indices = published total."""
    key = inn.cost_key()
    assert key.sector_weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (key.weights_computed.sum(axis=0) + key.weights_other) == pytest.approx(1.0, abs=2e-4)
    checked = 0
    for (year, knr), pub in inn._published().items():
        if year != 2026 or not all(s in pub for s in key.sectors) or "samlet" not in pub:
            continue
        total = sum(w * pub[s] for w, s in zip(key.sector_weights, key.sectors, strict=True))
        assert total == pytest.approx(pub["samlet"], abs=6e-4), knr
        checked += 1
    assert checked == 350


def test_national_need_factor_is_one_in_the_reference_year():
    f = inn.national_need_factor(2020, 2060, 2024)
    assert f[2024 - 2020] == pytest.approx(1.0)
    # Norway ages: the need per inhabitant at fixed weights is higher in 2060 than in 2024
    assert f[-1] > 1.03


def test_national_tax_per_inhabitant_matches_lillestrom_accounts():
    """Two independent sources: the state budget's national tax and Lillestrøm's accounts.

    Innst. 440 S (2023-2024): skatt på inntekt og formue, kommunene 2023 210 495 mill.; SSB:
    Norway 5 488 984 on 1 January 2023. Lillestrøm 2023: tax 3 367 544 kNOK (003:2014) at
    96.0 % of the national average (003:2804) with 91 515 inhabitants (SSB 1 January 2023).
    """
    national = 210_495e6 / national_on(np.array([2023]))[0].sum()
    from_lillestrom = 3_367_544e3 / 0.960 / 91_515
    assert from_lillestrom == pytest.approx(national, rel=0.005)


def test_veksttilskudd_2024_lorenskog_matches_the_seed():
    """004:1548: veksttilskudd 2024 85,7 mill. From SSB totals and the 2024 rule (004:547-551)."""
    table = population_table()
    totals = np.array([population_array(table, "3222", y).sum() for y in (2020, 2021, 2022,
                                                                             2023)])
    growth = inn.growth_3yr(totals)
    grant = inn.veksttilskudd(growth, totals[3:], np.array([0.97]), 1.4, 140.0,
                              np.array([67_331.0]))
    assert grant[0] == pytest.approx(85.7e6, rel=0.005)
    # at or above the tax ceiling there is no grant
    assert inn.veksttilskudd(growth, totals[3:], np.array([1.4]), 1.4, 140.0,
                             np.array([67_331.0]))[0] == 0


def test_national_table_is_ssb_up_to_2024():
    """The national table's history is SSB 07459 (Norway 1 January 2024: 5 550 203)."""
    table = population_table()
    for year in (2005, 2015, 2024):
        np.testing.assert_allclose(national_on(np.array([year]))[0],
                                   population_array(table, "0000", year).sum(axis=0))
    assert national_on(np.array([2024]))[0].sum() == 5_550_203
