"""The plain-mesa reference model (one agent per person) against the cohort engine and the
fast engine: same processes and probabilities, so the same distribution."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_abm import group_sums, scaled

from sim.abm.config import AbmConfig
from sim.abm.montecarlo import run_abm
from sim.abm.reference import ReferenceModel
from sim.cohort.engine import project
from sim.config import scenario_from_dict
from sim.demography.ageing import age_on
from sim.inputs import resolve


@pytest.fixture(scope="module")
def small():
    inp = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2034}))
    return scaled(inp, scale=0.02, years=5)


def test_reference_balance(small):
    m = ReferenceModel(small, 1).run()
    c = m.components.astype(np.int64)
    for t in range(c.shape[0]):
        aged = np.stack([age_on(p) for p in m.population[t].astype(np.int64)])
        np.testing.assert_array_equal(
            aged + c[t, :, 0] + c[t, :, 2] + c[t, :, 4] - c[t, :, 1] - c[t, :, 3],
            m.population[t + 1])
    assert len(m.agents) == m.population[-1].sum()


@pytest.mark.slow
def test_reference_agrees_with_cohort_and_fast_engine(small):
    runs = 40
    ref = np.stack([ReferenceModel(small, 1000 + r).run().population for r in range(runs)])
    fast = run_abm(small, runs=runs, seed=5,
                   config=AbmConfig(out_migration="persons")).population
    cohort = group_sums(project(small).population)
    g_ref, g_fast = group_sums(ref.astype(float)), group_sums(fast.astype(float))
    se_ref = g_ref.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(g_ref.mean(axis=0) - cohort) < 4 * se_ref + 1e-9)
    se_diff = np.sqrt(se_ref**2 + (g_fast.std(axis=0, ddof=1) / np.sqrt(runs)) ** 2)
    assert np.all(np.abs(g_ref.mean(axis=0) - g_fast.mean(axis=0)) < 4 * se_diff + 1e-9)
    # same spread: variance ratio of the horizon total within F(39, 39) 99.9 % bounds
    ratio = g_ref[:, -1, 0].var(ddof=1) / g_fast[:, -1, 0].var(ddof=1)
    assert 1 / 2.8 < ratio < 2.8, ratio


def test_reference_extremes(small):
    shape = small.death_probability.shape
    inp = dataclasses.replace(small, death_probability=np.zeros(shape),
                              out_rate=np.zeros(shape), in_migrants=np.zeros(shape),
                              refugees=np.zeros(shape),
                              fertility=np.zeros(small.fertility.shape))
    m = ReferenceModel(inp, 1).run()
    expect = inp.base_population
    for t in range(len(inp.years)):
        expect = np.stack([age_on(p) for p in expect])
        np.testing.assert_array_equal(m.population[t + 1], expect)
