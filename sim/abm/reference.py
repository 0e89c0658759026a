"""Plain-mesa reference model: one ``mesa.Agent`` per person, written to be read, not fast.

It applies the same processes with the same probabilities as ``sim/abm/kernels.py`` (see the
Lexis convention there and ``sim/cohort/METHOD.md``), with ``model.rng`` (numpy) instead of the
counter-based streams. Households are kept only as far as the counts need them: a newborn
joins its mother's household, each arrival forms its own; out-migration is individual (which
is the fast engine with ``out_migration = "persons"``). Used by the tests (agreement in
distribution with the fast engine) and as the benchmark baseline.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.cohort.kernel import COMPONENTS
from sim.inputs import ResolvedInputs

LAST = 105
BIRTHS, DEATHS, IN_MIGRANTS, OUT_MIGRANTS, REFUGEES = range(len(COMPONENTS))


class Person(mesa.Agent):
    """A person: age on 1 January (cohort age during a step), sex, district, household."""

    def __init__(self, model: ReferenceModel, age: int, sex: int, district: int,
                 household: int, arrived: bool):
        super().__init__(model)
        self.age = age
        self.sex = sex
        self.district = district
        self.household = household
        self.arrived = arrived  # arrived during the current year (half-year exposure)
        self.gone = False

    def age_one_year(self) -> None:
        """Move to the cohort age of the year."""
        self.age = min(self.age + 1, LAST)

    def fate(self, exposure: float) -> None:
        """Die with exposure*q, else leave so that P(leave) = exposure*o."""
        m = self.model
        t, d, s, a = m.t, self.district, self.sex, self.age
        q = exposure * m.inputs.death_probability[t, d, s, a]
        o = exposure * m.inputs.out_rate[t, d, s, a]
        u = m.rng.random()
        if u < q:
            self.gone = True
            m.components[t, d, DEATHS, s, a] += 1
        elif u < q + o:
            self.gone = True
            m.components[t, d, OUT_MIGRANTS, s, a] += 1

    def give_birth(self) -> None:
        """Births of the year to a woman (expected value as in ``sim.abm.kernels.births``)."""
        m = self.model
        t, d, a = m.t, self.district, self.age
        f = m.inputs.fertility[t, d, a]
        if self.sex != 1 or f <= 0.0:
            return
        q, o = m.inputs.death_probability[t, d, 1, a], m.inputs.out_rate[t, d, 1, a]
        if self.gone:
            mean = 0.5 * f if (not self.arrived and q + o >= 1.0) else 0.0
        elif self.arrived:
            mean = 0.5 * f
        elif q + o < 1.0:
            mean = f * (1.0 - 0.5 * (q + o)) / (1.0 - q - o)
        else:
            mean = 0.5 * f
        births = math.floor(mean) + int(m.rng.random() < mean - math.floor(mean))
        for _ in range(births):
            s = 0 if m.rng.random() < m.inputs.p_male_birth else 1
            m.components[t, d, BIRTHS, s, 0] += 1
            baby = Person(m, 0, s, d, self.household, arrived=False)
            baby.fate(1.0)
            m.newborns.append(baby)


class ReferenceModel(mesa.Model):
    """One stochastic projection with one mesa agent per person.

    Attributes after ``run()``: ``population`` [Y+1, D, 2, A], ``components`` [Y, D, 5, 2, A].
    """

    def __init__(self, inputs: ResolvedInputs, seed: int):
        super().__init__(seed=seed)
        self.inputs = inputs
        self.t = 0
        n_year = len(inputs.years)
        shape = inputs.base_population.shape
        self.population = np.zeros((n_year + 1, *shape), dtype=np.int32)
        self.components = np.zeros((n_year, shape[0], len(COMPONENTS), *shape[1:]), np.int32)
        self.newborns: list[Person] = []
        self.n_households = 0
        base = inputs.base_population
        for (d, s, a), x in np.ndenumerate(base):
            whole = math.floor(x) + int(self.rng.random() < x - math.floor(x))
            for _ in range(whole):
                Person(self, a, s, d, self._household(), arrived=False)
        self._tally(0)

    def _household(self) -> int:
        self.n_households += 1
        return self.n_households - 1

    def _tally(self, t: int) -> None:
        for p in self.agents:
            self.population[t, p.district, p.sex, p.age] += 1

    def step(self) -> None:
        """One year: ageing and fates, arrivals, births, removal of who died or left."""
        inp, t = self.inputs, self.t
        residents = list(self.agents)
        for p in residents:
            p.age_one_year()
            p.fate(1.0)
        arrivals = []
        for flow, comp in ((inp.in_migrants, IN_MIGRANTS), (inp.refugees, REFUGEES)):
            for (d, s, a), lam in np.ndenumerate(flow[t]):
                for _ in range(self.rng.poisson(lam) if lam > 0 else 0):
                    self.components[t, d, comp, s, a] += 1
                    p = Person(self, a, s, d, self._household(), arrived=True)
                    p.fate(0.5)
                    arrivals.append(p)
        self.newborns = []
        for p in residents + arrivals:
            p.give_birth()
        for p in list(self.agents):
            p.arrived = False
            if p.gone:
                p.remove()
        self.t += 1
        self._tally(self.t)

    def run(self) -> ReferenceModel:
        """Step through every projection year; returns self."""
        while self.t < len(self.inputs.years):
            self.step()
        return self
