"""Rogers-Castro schedule and the exact inversion of the projection identity (gross migration
and births recovered from a synthetic history made with the engine)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.cohort.engine import project
from sim.demography import N_AGES
from sim.demography.ageing import age_on
from sim.demography.fertility import cohort_age_rates, national_schedule
from sim.demography.migration import (
    OLD_AGE_POOL,
    ROGERS_CASTRO_STANDARD,
    estimate_births,
    estimate_gross_migration,
    in_migrants_from_change,
    rogers_castro,
    standard_out_shape,
)
from sim.demography.mortality import base_mx, cohort_death_probability
from sim.inputs import ResolvedInputs

A = N_AGES
P_MALE = 0.5134
OUT_LEVEL = 1.7


# ---------------------------------------------------------------------------------------------
# Rogers-Castro
# ---------------------------------------------------------------------------------------------

def _rc_by_hand(x, a1, alpha1, a2, alpha2, mu2, lambda2, c):
    return (a1 * math.exp(-alpha1 * x)
            + a2 * math.exp(-alpha2 * (x - mu2) - math.exp(-lambda2 * (x - mu2))) + c)


def test_rogers_castro_standard_by_hand():
    p = ROGERS_CASTRO_STANDARD
    got = rogers_castro(np.array([0, 20, 30, 100]), **p)
    # x = mu2 = 20: 0.02 e^-2 + 0.06 e^-1 + 0.003 = 0.0027067 + 0.0220728 + 0.003
    assert got[1] == pytest.approx(0.02 * math.exp(-2) + 0.06 * math.exp(-1) + 0.003, rel=1e-14)
    assert got[1] == pytest.approx(0.0277794722, abs=1e-10)
    # x = 0: the labour-force term is exp(2 - e^8), nil: 0.02 + 0.003
    assert got[0] == pytest.approx(0.023, abs=1e-12)
    # x = 30: 0.02 e^-3 + 0.06 exp(-1 - e^-4) + 0.003
    assert got[2] == pytest.approx(
        0.02 * math.exp(-3) + 0.06 * math.exp(-1 - math.exp(-4)) + 0.003, rel=1e-14)
    for i, x in enumerate((0, 20, 30, 100)):
        assert got[i] == pytest.approx(_rc_by_hand(x, **p), rel=1e-14)


def test_rogers_castro_other_parameters_and_standard_shape():
    p = {"a1": 0.05, "alpha1": 0.2, "a2": 0.1, "alpha2": 0.15, "mu2": 25.0, "lambda2": 0.5,
         "c": 0.001}
    ages = np.arange(0, 90, 7)
    np.testing.assert_allclose(rogers_castro(ages, **p), [_rc_by_hand(x, **p) for x in ages],
                               rtol=1e-14)
    shape = standard_out_shape()
    assert shape.shape == (2, A)
    np.testing.assert_array_equal(shape[0], shape[1])
    # the labour-force peak lies a few years after mu2 = 20
    assert 20 <= int(np.argmax(shape[0, 15:])) + 15 <= 28


# ---------------------------------------------------------------------------------------------
# Inversion by hand
# ---------------------------------------------------------------------------------------------

def test_in_migrants_from_change_by_hand():
    # A = 100, d = 0.1, o = 0.05: P = A + I - 0.15 (A + I/2); with I = 20, P = 120 - 16.5 = 103.5
    pop_next = np.array([103.5, 80.0, 0.0])
    aged = np.array([100.0, 100.0, 0.0])
    d = np.array([0.1, 0.1, 0.1])
    o = np.array([0.05, 0.05, 0.05])
    inflow, out_eff = in_migrants_from_change(pop_next, aged, d, o)
    assert inflow[0] == pytest.approx(20.0, rel=1e-14)
    assert out_eff[0] == 0.05
    # P = 80 < A (1 - d - o) = 85: no in-migrants, out-rate raised to 1 - 0.1 - 0.8 = 0.1
    assert inflow[1] == 0.0
    assert out_eff[1] == pytest.approx(0.1, rel=1e-14)
    assert 100 - (0.1 + out_eff[1]) * 100 == pytest.approx(80.0, rel=1e-14)
    # empty cohort, nothing arrives, rate unchanged
    assert inflow[2] == 0.0 and out_eff[2] == 0.05


def test_estimate_births_by_hand():
    # i = 0.5 * 40 / 1000 = 0.02 in-migrant babies per birth; d0 = 0.003, o0 = 0.02:
    # P0 = B (1 + 0.02) - 0.023 B (1 + 0.01)  =>  B = 95 / (1.02 - 0.02323) = 95 / 0.99677
    b = estimate_births(np.array([95.0]), np.array([1000.0]), np.array([40.0]),
                        np.array([0.003]), np.array([0.02]))
    assert b[0] == pytest.approx(95.0 / 0.99677, rel=1e-14)


# ---------------------------------------------------------------------------------------------
# Recovery from a synthetic history made by the engine
# ---------------------------------------------------------------------------------------------

def _inputs(base, n_year, fert, q, o, inm, p_male=P_MALE) -> ResolvedInputs:
    D = base.shape[0]

    def full(x, shape):
        return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=float), shape))

    shp = (n_year, D, 2, A)
    return ResolvedInputs(
        municipality="9999", municipality_name="Testkommune", districts=("A",)[:D],
        years=np.arange(2019, 2019 + n_year), base_population=np.ascontiguousarray(base),
        fertility=full(fert, (n_year, D, A)), p_male_birth=p_male,
        death_probability=full(q, shp), out_rate=full(o, shp), in_migrants=full(inm, shp),
        refugees=np.zeros(shp), growth_target=np.full(n_year, np.nan))


def _truth():
    """True rates: national q, o = OUT_LEVEL x standard shape, TFR 1.6."""
    mx = base_mx(2019, 2023)
    q = np.stack([cohort_death_probability(mx[s], s) for s in range(2)])
    o = OUT_LEVEL * standard_out_shape()
    assert np.all(q + o <= 1)
    f = cohort_age_rates(1.6 * national_schedule(2018, 2022))
    return q, o, f


def _history(n_year=4, seed=0, infant_rule=False):
    """Populations [T+1, 2, A], in-migrants [T, 2, A], births [T, 2] from the engine, one year
    at a time. With ``infant_rule`` the age-0 in-migrants follow estimate_births' assumption:
    I0 = (I1 / A1 / 2) x births."""
    rng = np.random.default_rng(seed)
    q, o, f = _truth()
    pop = rng.uniform(200, 800, (2, A))
    pops, ins, births = [pop], [], []
    for _ in range(n_year):
        inm = rng.uniform(5, 40, (2, A))
        if infant_rule:
            # births do not depend on I0 (fertility is zero at cohort age 0): get them first
            b = project(_inputs(pop[None], 1, f, q, o, inm[None])).component("births")[0, 0, :, 0]
            inm[:, 0] = 0.5 * inm[:, 1] / pop[:, 0] * b
        proj = project(_inputs(pop[None], 1, f, q, o, inm[None]))
        pop = proj.population[1, 0]
        pops.append(pop)
        ins.append(inm)
        births.append(proj.component("births")[0, 0, :, 0])
    return np.stack(pops), np.stack(ins), np.stack(births), q, o


def test_history_is_the_engine_balance():
    pops, ins, births, q, o = _history(n_year=2)
    aged = age_on(pops[0])
    aged[:, 0] = births[0]
    expected = aged + ins[0] - (q + o) * (aged + ins[0] / 2)
    np.testing.assert_allclose(pops[1], expected, rtol=1e-12)


def test_in_migrants_from_change_recovers_truth():
    pops, ins, births, q, o = _history()
    for t in range(len(ins)):
        aged = age_on(pops[t])
        aged[:, 0] = births[t]
        inflow, out_eff = in_migrants_from_change(pops[t + 1], aged, q, o)
        np.testing.assert_allclose(inflow, ins[t], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(out_eff, o, rtol=1e-12)


def test_estimate_gross_migration_recovers_truth_with_known_births():
    pops, ins, births, q, o = _history()
    T = len(ins)
    # the window's gross out-migration rate: out-migrants / exposure of the true history
    aged = np.stack([age_on(p) for p in pops[:-1]])
    aged[:, :, 0] = births
    exposure = aged + ins / 2
    gross = float((o * exposure).sum() / exposure.sum())
    q_t = np.broadcast_to(q, (T, 2, A))
    est = estimate_gross_migration(pops, np.arange(2019, 2019 + T), q_t, gross,
                                   births.sum(axis=1), P_MALE)
    assert est.out_level == pytest.approx(OUT_LEVEL, rel=1e-9)
    np.testing.assert_allclose(est.births, births, rtol=1e-12)
    np.testing.assert_allclose(est.in_migrants, ins, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(est.out_rate, np.broadcast_to(o, (T, 2, A)), rtol=1e-9)
    np.testing.assert_allclose(est.exposure, exposure, rtol=1e-9)
    # the projection rate: the true rate below OLD_AGE_POOL; above, the true out-migrants of
    # all those ages over their true exposure (one rate per sex)
    rate = est.mean_out_rate()
    old = slice(OLD_AGE_POOL, None)
    np.testing.assert_allclose(rate[:, :OLD_AGE_POOL], o[:, :OLD_AGE_POOL], rtol=1e-9)
    pooled = (o[:, old] * exposure[:, :, old]).sum(axis=(0, 2)) / exposure[:, :, old].sum(
        axis=(0, 2))
    np.testing.assert_allclose(rate[:, old], np.repeat(pooled[:, None], A - OLD_AGE_POOL, 1),
                               rtol=1e-9)
    assert est.out_migrants.sum() / est.exposure.sum() == pytest.approx(gross, rel=1e-9)


def test_old_age_out_rates_are_pooled_and_keep_the_out_migrants():
    """From OLD_AGE_POOL up, single-age rates are noise (a few persons): one rate per sex,
    which keeps the window's out-migrants at those ages; never d + o = 1 at 100+."""
    from sim.config import scenario_from_dict
    from sim.data.population import municipality_defaults, population_table
    from sim.inputs import estimate_levels, resolve

    for knr in ("3205", "3222"):
        sc = scenario_from_dict({"municipality": knr})
        est = estimate_levels(sc, population_table(), knr, municipality_defaults()[knr]).migration
        rate = est.mean_out_rate()
        old = slice(OLD_AGE_POOL, None)
        assert np.all(rate[:, old] == rate[:, [OLD_AGE_POOL]])
        np.testing.assert_allclose((rate[:, old] * est.exposure.sum(axis=0)[:, old]).sum(),
                                   est.out_migrants[:, :, old].sum(), rtol=1e-12)
        inputs = resolve(sc)
        assert np.all(inputs.out_rate[:, :, :, 100:] + inputs.death_probability[:, :, :, 100:]
                      < 0.9)


def test_estimate_births_recovers_truth_under_its_assumption():
    pops, ins, births, q, o = _history(infant_rule=True)
    T = len(ins)
    b = estimate_births(pops[1:, :, 0], pops[:-1, :, 0], ins[:, :, 1], q[None, :, 0],
                        o[None, :, 0])
    np.testing.assert_allclose(b, births, rtol=1e-10)
    # and the whole estimator, with births unknown, recovers births and in-migrants
    aged = np.stack([age_on(p) for p in pops[:-1]])
    aged[:, :, 0] = births
    exposure = aged + ins / 2
    gross = float((o * exposure).sum() / exposure.sum())
    est = estimate_gross_migration(pops, np.arange(2019, 2019 + T),
                                   np.broadcast_to(q, (T, 2, A)), gross, None)
    np.testing.assert_allclose(est.births, births, rtol=1e-9)
    np.testing.assert_allclose(est.in_migrants, ins, rtol=1e-9, atol=1e-9)
    assert est.out_level == pytest.approx(OUT_LEVEL, rel=1e-9)


def test_estimate_births_is_wrong_when_assumption_fails():
    """Sanity check that the recovery above is not trivial: with other infant in-migration the
    estimate differs from the truth."""
    pops, ins, births, q, o = _history(infant_rule=False)
    b = estimate_births(pops[1:, :, 0], pops[:-1, :, 0], ins[:, :, 1], q[None, :, 0],
                        o[None, :, 0])
    assert np.max(np.abs(b / births - 1)) > 1e-3
