"""Cohort engine benchmarks (run by `make bench`): figures printed, nothing asserted on time.

Reference for ratios: a plain numpy implementation of the same step, measured in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba import njit

from sim.cohort.engine import project, project_batch
from sim.cohort.kernel import project_kernel
from sim.config import scenario_from_dict
from sim.demography import age_group_weights
from sim.demography.ageing import age_on
from sim.inputs import resolve


def _best(fn, repeat: int = 7, number: int = 1) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return min(times)


@njit
def repeat_kernel(n, *args):
    """Call the kernel n times inside numba: the kernel's own time, without Python dispatch."""
    for _ in range(n):
        project_kernel(*args)


def numpy_reference(inputs):
    """The projection in plain numpy (vectorised over ages), as the ratio baseline."""
    pop = inputs.base_population.copy()
    for t in range(len(inputs.years)):
        q, o = inputs.death_probability[t], inputs.out_rate[t]
        arr = inputs.in_migrants[t] + inputs.refugees[t]
        aged = age_on(pop)
        exp = aged + 0.5 * arr
        births = (inputs.fertility[t] * exp[:, 1] * (1 - 0.5 * (q[:, 1] + o[:, 1]))).sum(axis=1)
        aged[:, 0, 0] = births * inputs.p_male_birth
        aged[:, 1, 0] = births * (1 - inputs.p_male_birth)
        exp = aged + 0.5 * arr
        pop = aged + arr - (q + o) * exp
    return pop


def test_cohort_kernel_speed():
    code = ("import time; t=time.perf_counter(); import sim.cohort.kernel as k; "
            "from sim.cohort.engine import project; from sim.config import scenario_from_dict; "
            "from sim.inputs import resolve; "
            "i=resolve(scenario_from_dict({'municipality':'3222','horizon':2054})); "
            "t1=time.perf_counter(); project(i); print(time.perf_counter()-t1)")
    def first_call(env_extra: dict) -> float:
        env = {**os.environ, **env_extra}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=env)
        return float(out.stdout.strip())

    with tempfile.TemporaryDirectory() as empty_cache:
        compiled = first_call({"NUMBA_CACHE_DIR": empty_cache})
    cached = first_call({})
    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2054}))  # 30 years
    n_year = len(inputs.years)
    pop = np.empty((n_year + 1,) + inputs.base_population.shape)
    comp = np.empty((n_year, 1, 5, 2, 106))
    births = np.empty((n_year, 1))
    scale = np.empty(n_year)

    args = (inputs.base_population, inputs.fertility, inputs.p_male_birth,
            inputs.death_probability, inputs.out_rate, inputs.in_migrants,
            inputs.refugees, inputs.growth_target, pop, comp, births, scale)
    repeat_kernel(1, *args)
    n_rep = 2000
    t_kernel = _best(lambda: repeat_kernel(n_rep, *args), repeat=5) / n_rep
    t_project = _best(lambda: project(inputs), number=50)
    t_numpy = _best(lambda: numpy_reference(inputs), number=20)
    np.testing.assert_allclose(numpy_reference(inputs), project(inputs).population[-1],
                               rtol=1e-10)
    mult = {"fertility": np.ones((1000, n_year))}
    groups = age_group_weights()
    project_batch(inputs, mult, groups)
    t_pop = _best(lambda: project_batch(inputs, mult, groups), repeat=5) / 1000
    print("\n[cohort] 30-year projection, 1 district x 2 sexes x 106 ages")
    print(f"  kernel           {t_kernel * 1e6:8.1f} us  = {n_year / t_kernel / 1e6:6.2f} M "
          "projection-years/s (population and all five components)")
    print(f"  population only  {t_pop * 1e6:8.1f} us  = {n_year / t_pop / 1e6:6.2f} M "
          "projection-years/s (batched, with 8 age-group indicators, no components)")
    print(f"  project() call   {t_project * 1e6:8.1f} us  (from Python: argument dispatch and "
          f"allocation add {(t_project - t_kernel) * 1e6:.1f} us)")
    print(f"  numpy reference  {t_numpy * 1e6:8.1f} us  -> kernel is {t_numpy / t_kernel:.1f}x "
          "faster")
    print(f"  first project() in a fresh process: compile {compiled:.2f} s, "
          f"load from numba cache {cached * 1e3:.0f} ms")


def test_batch_speed():
    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2054}))
    n_dist, n_scen = 20, 1000
    rep = {k: np.repeat(getattr(inputs, k), n_dist, axis=1) / (n_dist if k in (
        "in_migrants", "refugees") else 1) for k in ("fertility", "death_probability",
                                                     "out_rate", "in_migrants", "refugees")}
    import dataclasses

    wide = dataclasses.replace(inputs, districts=tuple(f"d{i}" for i in range(n_dist)),
                               base_population=np.repeat(inputs.base_population, n_dist,
                                                         axis=0) / n_dist, **rep)
    rng = np.random.default_rng(1)
    mult = {"fertility": rng.uniform(0.8, 1.2, (n_scen, 30)),
            "in_migrants": rng.uniform(0.5, 1.5, (n_scen, 30))}
    weights = age_group_weights()
    project_batch(wide, {k: v[:2] for k, v in mult.items()}, weights)
    t = _best(lambda: project_batch(wide, mult, weights), repeat=3)
    years = n_scen * 30 * n_dist
    print(f"\n[cohort batch] {n_scen} scenarios x 30 years x {n_dist} districts: {t:.3f} s "
          f"({years / t / 1e6:.2f} M district-projection-years/s, one core)")
