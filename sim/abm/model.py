"""The agent-based engine as a ``mesa.Model``: one ``step()`` is one calendar year.

Persons, households and dwellings live in arrays (``sim/abm/people.py``) and the yearly
processes are numba kernels (``sim/abm/kernels.py``); the few housing projects are mesa agents
that report the dwellings they complete. The order of the year's steps is data (``STEP_ORDER``)
and every random decision has its own stream (``sim/abm/rng.py``).
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.abm import kernels as k
from sim.abm.config import AbmConfig
from sim.abm.households import household_plan
from sim.abm.people import State
from sim.cohort.kernel import COMPONENTS
from sim.demography.housing import HousingProgramme
from sim.inputs import ResolvedInputs

STEP_ORDER = (
    "age_and_deaths",  # ageing to cohort age; residents' deaths
    "in_migrants",     # trend in-migrants by cell, grouped into households (deaths q/2)
    "refugees",        # settled refugees by cell, grouped into families; reunification
    "housing",         # dwellings completed by housing projects, each with a whole household
    "out_migration",   # families move together; rates met in expectation per cell
    "fix_households",  # roles follow deaths and departures; children alone are rehoused
    "align",           # leaving home, separation, partnering towards the year's targets
    "births",          # births to women present at the end of the year, into her household
    "compact",         # drop who died or left, recount households, tally 1 January t+1
)
"""The year's steps in order, one kernel each (``births`` and the person part of ``compact``
share a pass)."""

INDICATORS = (
    "households", "refugee_households", "persons_in_refugee_households", "reunified_units",
    *(f"{what}_new_{ty}" for ty in k.DWELLING_TYPES
      for what in ("persons", "children_0_5", "children_6_15")),
    "households_without_adult", "one_person_households", "persons_per_household",
    "left_home", "separations", "partnerships", "rehoused_households", "out_migration_unmatched",
)
"""Household indicators per year: stocks on 1 January, and flows during the previous year
(``reunified_units``: refugee units that joined an earlier refugee household; ``left_home``,
``separations``, ``partnerships``: persons leaving home, couples separating and forming;
``rehoused_households``: children left without an adult moved to another household;
``out_migration_unmatched``: expected out-migrants the compensation could not place, see
``sim.abm.kernels.out_migration``). ``*_new_<type>``: persons and children living in dwellings
of that type completed during the projection (school demand)."""
FLOWS = ("reunified_units", "left_home", "separations", "partnerships", "rehoused_households",
         "out_migration_unmatched")

TAG_IN = np.uint64(0x1A1)
TAG_REF = np.uint64(0x4EF)


class HousingProjectAgent(mesa.Agent):
    """A housing project: completes ``completions[year]`` dwellings of one type in a district."""

    def __init__(self, model: AbmModel, name: str, district: int, dwelling_type: int,
                 completions: dict[int, int]):
        super().__init__(model)
        self.name = name
        self.district = district
        self.dwelling_type = dwelling_type
        self.completions = completions
        self.completed = 0

    def step(self) -> None:
        """Report this year's completions to the model."""
        n = self.completions.get(self.model.year, 0)
        if n > 0:
            self.model.pending_completions.append((self.district, self.dwelling_type, n))
            self.completed += n


class AbmModel(mesa.Model):
    """One stochastic projection of ``inputs`` with persons, households and dwellings.

    Args:
        inputs: resolved inputs (the same as the cohort engine's; growth targets unsupported).
        run_seed: the run's seed (non-negative int < 2**64); every draw derives from it.
        config: household and randomness settings (defaults: ``AbmConfig()``).
        housing: optional housing programme (housing-led in-migration).

    After ``run()``: ``population`` [Y+1, D, 2, A] and ``components`` [Y, D, 5, 2, A] (int32,
    the cohort engine's layout) and ``indicators`` [Y+1, len(INDICATORS)].
    """

    def __init__(self, inputs: ResolvedInputs, run_seed: int, config: AbmConfig | None = None,
                 housing: HousingProgramme | None = None):
        super().__init__(seed=int(run_seed) % (2**32))
        if np.any(~np.isnan(inputs.growth_target)):
            raise ValueError("the ABM does not support growth targets; use the cohort engine")
        self.inputs = inputs
        self.cfg = config or AbmConfig()
        self.housing = housing
        self.seed64 = np.uint64(int(run_seed) % (2**64))
        self.t = 0
        n_year, n_dist = len(inputs.years), len(inputs.districts)
        shape = inputs.base_population.shape
        self.population = np.zeros((n_year + 1, *shape), dtype=np.int32)
        self.components = np.zeros((n_year, n_dist, len(COMPONENTS), *shape[1:]), dtype=np.int32)
        self.indicators = np.zeros((n_year + 1, len(INDICATORS)))
        self.pending_completions: list[tuple[int, int, int]] = []
        self._rates = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in (
            inputs.fertility, inputs.death_probability, inputs.out_rate, inputs.in_migrants,
            inputs.refugees))
        cfg = self.cfg
        in_scale = 1.0  # trend arrivals exclude the named projects' movers (sim.run)
        self._flows = (
            (self._rates[3], TAG_IN, k.IN_MIGRANT, k.I_, in_scale, cfg.p_couple_in_migrants,
             0.0),
            (self._rates[4], TAG_REF, k.REFUGEE, k.R_, 1.0, cfg.p_couple_refugees,
             cfg.reunification_rate),
        )
        self._rounding = 0 if cfg.arrivals == "poisson" else 1
        self._p_male = float(inputs.p_male_birth)
        self._vac_start = np.zeros(n_dist + 1, np.int64)
        self._vac_ptr = np.zeros(n_dist + 1, np.int64)
        self._no_map = np.zeros(0, np.int32)
        self.plan = household_plan(
            inputs.municipality, inputs.districts, inputs.base_population,
            np.arange(inputs.base_year, inputs.horizon + 1), cfg.persons_per_household,
            cfg.single_trend_per_year)
        self._init_people()
        self._init_housing()

    @property
    def year(self) -> int:
        """Calendar year of the next step."""
        return int(self.inputs.years[min(self.t, len(self.inputs.years) - 1)])

    # Set-up -------------------------------------------------------------------------------

    def _init_people(self) -> None:
        inp, cfg = self.inputs, self.cfg
        counts = np.zeros(inp.base_population.shape, dtype=np.int64)
        total = k.base_counts(np.ascontiguousarray(inp.base_population, dtype=np.float64),
                              self.seed64, counts)
        self.state = st = State(total)
        P, H, W = st.persons, st.households, st.dwellings
        P.reserve(total)
        P.n = k.make_base(counts, P["age"], P["sex"], P["district"], P["key"], P["status"],
                          P["origin"], P["arr_year"])
        H.reserve(P.n)
        W.reserve(P.n)
        nh = k.init_households(
            P.n, len(inp.districts), self.seed64, P["age"], P["sex"], P["district"], P["key"],
            P["role"], P["household"], self.plan.home[0], self.plan.couple[0],
            cfg.p_child_with_couple, cfg.gap_cum(), cfg.dwelling_cum(), *self._hh(),
            *self._dw())
        H.n = W.n = nh
        self.population[0] = counts
        self._indicators(0)

    def _init_housing(self) -> None:
        if self.housing is None:
            self._templates = None
            return
        names = self.inputs.districts
        for p in self.housing.projects:
            d = 0 if p.district is None else names.index(p.district)
            done = {int(y): int(round(v)) for y, v in p.completions.items()}
            HousingProjectAgent(self, p.name, d, k.DWELLING_TYPES.index(p.dwelling_type), done)
        rows = []
        # the dwelling types the ABM builds (omsorgsbolig and student projects are refused by
        # sim.run.abm_inputs with one line; their profiles are not needed here)
        profiles = {ty: prof for ty, prof in self.housing.profiles.items()
                    if ty in k.DWELLING_TYPES}
        for ty, prof in profiles.items():
            cum = np.cumsum([t.share for t in prof.templates])
            cum[-1] = 1.0
            for t, c in zip(prof.templates, cum, strict=True):
                rows.append((k.DWELLING_TYPES.index(ty), c, t.adults, *t.adult_age, t.children,
                             *t.child_age))
        arr = np.array(rows, dtype=np.float64)
        ints = [np.ascontiguousarray(arr[:, j]).astype(np.int64) for j in range(arr.shape[1])]
        self._templates = (ints[0], arr[:, 1].copy(), *ints[2:])
        self._max_size = int(max(t.size for p in profiles.values() for t in p.templates))

    # Array bundles for the kernels --------------------------------------------------------

    def _p(self):
        P = self.state.persons
        return (P["age"], P["sex"], P["status"], P["district"], P["household"], P["key"],
                P["origin"], P["arr_year"], P["role"])

    def _hh(self):
        H = self.state.households
        return (H["hh_dwelling"], H["hh_district"], H["hh_size"], H["hh_kind"], H["hh_year"],
                H["hh_key"])

    def _dw(self):
        W = self.state.dwellings
        return W["dw_type"], W["dw_district"], W["dw_year"], W["dw_household"]

    # One year -----------------------------------------------------------------------------

    def step(self) -> None:
        """Advance one calendar year (``STEP_ORDER``)."""
        t, year, seed, cfg = self.t, self.year, self.seed64, self.cfg
        fert, q, o, inm, ref = self._rates
        st = self.state
        P, H, W = st.persons, st.households, st.dwellings
        comp = self.components
        n_dist = len(self.inputs.districts)
        flows = dict.fromkeys(FLOWS, 0.0)

        vac_start, vac_ptr = self._vac_start, self._vac_ptr
        vac_list = np.empty(max(W.n, 1), np.int64)
        k.vacancies(W.n, W["dw_household"], W["dw_district"], n_dist, vac_start, vac_ptr,
                    vac_list)
        k.age_and_deaths(P.n, t, year, seed, q, P["age"], P["sex"], P["status"], P["district"],
                         P["key"], comp)

        n_res = P.n
        reunified = np.zeros(1, np.int64)
        for flow, tag, origin_code, ci, scale, p_couple, rate in self._flows:
            counts = np.empty(flow.shape[1:], np.int64)
            total = k.arrival_counts(flow, t, year, seed, scale, self._rounding, tag, counts)
            if total == 0:
                continue
            P.reserve(total)
            H.reserve(total)
            P.n, H.n = k.add_arrivals(
                P.n, H.n, counts, origin_code, t, year, seed, tag, q, p_couple,
                self.plan.home[t + 1], *self._p(),
                *self._hh(), vac_start, vac_ptr, vac_list, W["dw_household"], comp, ci,
                rate, cfg.reunification_window_years, reunified, n_res)
        flows["reunified_units"] = reunified[0]

        if self._templates is not None:
            self.pending_completions = []
            self.agents.do("step")
            if self.pending_completions:
                done = np.array(self.pending_completions, dtype=np.int64)
                n_dw = int(done[:, 2].sum())
                P.reserve(n_dw * self._max_size)
                H.reserve(n_dw)
                W.reserve(n_dw)
                P.n, H.n, W.n = k.housing_movers(
                    P.n, H.n, W.n, t, year, seed, done, *self._templates, q, *self._p(),
                    *self._hh(), *self._dw(), comp)

        flows["out_migration_unmatched"] = k.out_migration(
            P.n, H.n, t, year, seed, q, o, cfg.out_migration == "households", P["age"],
            P["sex"], P["status"], P["district"], P["household"], P["key"], P["arr_year"],
            P["role"], H["hh_key"], comp)
        rehoused, bound = k.fix_households(
            P.n, H.n, n_dist, year, seed, P["age"], P["sex"], P["status"], P["district"],
            P["household"], P["key"], P["role"], H["hh_key"])
        flows["rehoused_households"] = rehoused
        H.reserve(bound)
        moves = np.zeros(3, np.int64)
        H.n = k.align_households(
            P.n, H.n, year, seed, self.plan.home[t + 1], self.plan.couple[t + 1], P["age"],
            P["sex"], P["status"], P["district"], P["household"], P["key"], P["role"],
            P["arr_year"], *self._hh(), vac_start, vac_ptr, vac_list, W["dw_household"], moves)
        flows["left_home"], flows["separations"], flows["partnerships"] = moves

        hh_map = np.zeros(max(H.n, 1), np.int32)
        n, i, m, m_new = P.n, 0, 0, P.n
        while True:
            i, m, m_new = k.births_and_compact(n, i, m, m_new, t, year, seed, fert, q, o,
                                               self._p_male, *self._p(), comp, hh_map,
                                               self.population[t + 1])
            if i == n:
                break
            P.n = m_new  # make room: rows [0, m_new) are kept as they are
            P.reserve(max(64, n // 64))
        P.n = m
        H.n = k.compact_households(H.n, *self._hh(), W["dw_household"], hh_map)
        for name, value in flows.items():
            self.indicators[t + 1, INDICATORS.index(name)] = value
        self._indicators(t + 1, hh_map)
        self.t += 1

    def _indicators(self, t: int, hh_map: np.ndarray | None = None) -> None:
        """Household stock indicators of 1 January (renumbering households via ``hh_map``)."""
        st = self.state
        P, H, W = st.persons, st.households, st.dwellings
        scratch = np.empty(max(H.n, 1), np.int32)
        k.household_indicators(
            P.n, H.n, P["age"], P["household"], self._no_map if hh_map is None else hh_map,
            H["hh_kind"], H["hh_size"], H["hh_dwelling"], W["dw_type"], W["dw_year"], scratch,
            self.indicators[t])

    def run(self) -> AbmModel:
        """Step through every projection year; returns self."""
        while self.t < len(self.inputs.years):
            self.step()
        return self
