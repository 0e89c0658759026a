"""Cohort engine benchmarks (run by `make bench`): figures printed, nothing asserted on time.

The machine may be shared with other work, so every time is the median (and the best) of
repeated measurements, and the kernel is compared with references measured in the same run:

* a tight numba loop: the kernel's cell arithmetic over contiguous rows, population only, with
  nothing else (no births, no components, no open age group);
* a traffic loop: reads and writes exactly the bytes one projection-year must move when all
  components are written (population, death probabilities, out-rates, in-migrants, refugees and
  fertility in; next population and five component rows out), with no arithmetic: the memory
  roofline of the kernel on this machine;
* the projection in plain numpy.

A projection-year is one district x one year, all 2 x 106 sex-age cells.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba import njit

from sim.cohort.engine import project, project_batch
from sim.cohort.kernel import _cell, project_kernel
from sim.config import scenario_from_dict
from sim.demography import age_group_weights
from sim.demography.ageing import age_on
from sim.inputs import resolve

REPEAT = 15


def _times(fn, number: int, repeat: int = REPEAT) -> tuple[float, float]:
    """(median, best) seconds per call of ``fn(number)`` / number over ``repeat`` bursts."""
    fn(1)
    per = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(number)
        per.append((time.perf_counter() - t) / number)
    return statistics.median(per), min(per)


@njit(cache=True)
def repeat_kernel(n, *args):
    """Call the kernel n times inside numba: the kernel's own time, without Python dispatch."""
    for _ in range(n):
        project_kernel(*args)


@njit(cache=True)
def tight_loop(n, pop, q, o, im, rf, out):
    """Reference: the kernel's cell arithmetic over rows [Y, 2 A], population only."""
    for _ in range(n):
        for t in range(q.shape[0]):
            for x in range(1, pop.shape[1]):
                nx, _, _ = _cell(pop[t, x - 1], im[t, x], rf[t, x], q[t, x], o[t, x], 1.0, 1.0)
                out[t, x] = nx


@njit(cache=True)
def _traffic_year(t, pop, q, o, im, rf, fert, nxt, comp):
    """Read one projection-year's inputs, write its population and five component rows."""
    births = 0.0
    for x in range(fert.shape[1]):
        births += fert[t, x]
    for x in range(pop.shape[1]):
        nxt[t, x] = pop[t, x]
        comp[t, 0, x] = births
        comp[t, 1, x] = q[t, x]
        comp[t, 2, x] = im[t, x]
        comp[t, 3, x] = o[t, x]
        comp[t, 4, x] = rf[t, x]


@njit(cache=True)
def traffic_loop(n, pop, q, o, im, rf, fert, nxt, comp):
    """Reference: the memory traffic of n projections of Y years, no arithmetic."""
    for _ in range(n):
        for t in range(q.shape[0]):
            _traffic_year(t, pop, q, o, im, rf, fert, nxt, comp)


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


def _first_call() -> tuple[float, float]:
    """Seconds of the first ``project`` in a fresh process: compiling, and from the cache."""
    code = ("import time; import sim.cohort.kernel as k; "
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
    first_call({})  # fills the default cache if empty
    return compiled, first_call({})


def _loop(fn):
    """``fn`` as a function of a repetition count (results dropped, memory reused)."""
    def run(n: int) -> None:
        for _ in range(n):
            fn()
    return run


def _rate(n_year: int, t: float) -> str:
    return f"{n_year / t / 1e6:5.2f} M/s"


def test_cohort_kernel_speed(machine):
    compiled, cached = _first_call()
    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2054}))  # 30 years
    n_year = len(inputs.years)
    n_cell = 2 * inputs.base_population.shape[2]
    pop = np.empty((n_year + 1,) + inputs.base_population.shape)
    comp = np.empty((n_year, 1, 5, 2, 106))
    births = np.empty((n_year, 1))
    scale = np.empty(n_year)
    args = (inputs.base_population, inputs.fertility, inputs.p_male_birth,
            inputs.death_probability, inputs.out_rate, inputs.in_migrants,
            inputs.refugees, inputs.growth_target, pop, comp, births, scale)
    rows = {k: np.ascontiguousarray(getattr(inputs, k).reshape(n_year, n_cell))
            for k in ("death_probability", "out_rate", "in_migrants", "refugees")}
    start = np.ascontiguousarray(np.repeat(inputs.base_population.reshape(1, n_cell), n_year, 0))
    fert = np.ascontiguousarray(inputs.fertility.reshape(n_year, -1))
    tight_out = np.empty_like(start)
    traffic_out = (np.empty_like(start), np.empty((n_year, 5, n_cell)))
    row_args = (rows["death_probability"], rows["out_rate"], rows["in_migrants"],
                rows["refugees"])

    measured = {name: [] for name in ("kernel", "tight", "traffic")}
    for _ in range(3):  # interleaved, so that load changes hit all three alike
        measured["kernel"].append(_times(lambda n: repeat_kernel(n, *args), 300))
        measured["tight"].append(_times(lambda n: tight_loop(n, start, *row_args, tight_out),
                                        300))
        measured["traffic"].append(_times(lambda n: traffic_loop(n, start, *row_args, fert,
                                                                 *traffic_out), 300))
    med = {k: statistics.median(m for m, _b in v) for k, v in measured.items()}
    best = {k: min(b for _m, b in v) for k, v in measured.items()}
    t_project = _times(_loop(lambda: project(inputs)), 50)
    t_numpy = _times(_loop(lambda: numpy_reference(inputs)), 10, repeat=5)
    np.testing.assert_allclose(numpy_reference(inputs), project(inputs).population[-1],
                               rtol=1e-10)
    mult = {"fertility": np.ones((1000, n_year))}
    groups = age_group_weights()
    t_pop = _times(_loop(lambda: project_batch(inputs, mult, groups)), 1, repeat=5)
    bytes_in = (5 * n_cell + inputs.fertility.shape[2]) * 8
    bytes_out = 6 * n_cell * 8
    per_year = {k: v / n_year for k, v in med.items()}
    print(f"\n[cohort] 30-year projection, 1 district x 2 sexes x 106 ages; {machine}")
    print("  medians (best) of repeated runs; M/s = million projection-years per second, "
          "one core")
    print(f"  kernel, all 5 components  {med['kernel'] * 1e6:7.1f} us  = "
          f"{_rate(n_year, med['kernel'])} ({_rate(n_year, best['kernel'])})")
    print(f"  tight loop reference      {med['tight'] * 1e6:7.1f} us  = "
          f"{_rate(n_year, med['tight'])} ({_rate(n_year, best['tight'])})  kernel / tight = "
          f"{med['kernel'] / med['tight']:.2f}x the time")
    print(f"  traffic reference         {med['traffic'] * 1e6:7.1f} us  = "
          f"{_rate(n_year, med['traffic'])} ({_rate(n_year, best['traffic'])})  kernel / "
          f"traffic = {med['kernel'] / med['traffic']:.2f}x the time")
    print(f"  roofline: a projection-year reads {bytes_in:,} B and writes {bytes_out:,} B; "
          f"the traffic loop moves them at {(bytes_in + bytes_out) / per_year['traffic'] / 1e9:.1f}"
          f" GB/s ({per_year['traffic'] * 1e9:.0f} ns per projection-year), the kernel at "
          f"{(bytes_in + bytes_out) / per_year['kernel'] / 1e9:.1f} GB/s "
          f"({per_year['kernel'] * 1e9:.0f} ns)")
    print(f"  population only           {t_pop[0] / 1000 * 1e6:7.1f} us  = "
          f"{_rate(n_year, t_pop[0] / 1000)} (batched, 8 age-group indicators, no components)")
    print(f"  project() call            {t_project[0] * 1e6:7.1f} us  (from Python: argument "
          f"dispatch and allocation add {(t_project[0] - med['kernel']) * 1e6:.1f} us)")
    print(f"  numpy reference           {t_numpy[0] * 1e6:7.1f} us  -> kernel is "
          f"{t_numpy[0] / med['kernel']:.0f}x faster")
    print(f"  first project() in a fresh process: compile {compiled:.2f} s, "
          f"load from numba cache {cached * 1e3:.0f} ms")


def test_batch_speed():
    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2054}))
    n_dist, n_scen = 20, 1000
    rep = {k: np.repeat(getattr(inputs, k), n_dist, axis=1) / (n_dist if k in (
        "in_migrants", "refugees") else 1) for k in ("fertility", "death_probability",
                                                     "out_rate", "in_migrants", "refugees")}
    wide = dataclasses.replace(inputs, districts=tuple(f"d{i}" for i in range(n_dist)),
                               base_population=np.repeat(inputs.base_population, n_dist,
                                                         axis=0) / n_dist, **rep)
    rng = np.random.default_rng(1)
    mult = {"fertility": rng.uniform(0.8, 1.2, (n_scen, 30)),
            "in_migrants": rng.uniform(0.5, 1.5, (n_scen, 30))}
    weights = age_group_weights()
    project_batch(wide, {k: v[:2] for k, v in mult.items()}, weights)
    med, best = _times(_loop(lambda: project_batch(wide, mult, weights)), 1, repeat=5)
    years = n_scen * 30 * n_dist
    print(f"\n[cohort batch] {n_scen} scenarios x 30 years x {n_dist} districts: {med:.3f} s "
          f"median ({years / med / 1e6:.2f} M projection-years/s; best {best:.3f} s), one core")
