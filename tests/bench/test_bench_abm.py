"""ABM benchmarks (run by `make bench`): figures printed, nothing asserted on time.

Baseline for the ratio: the plain-mesa reference model (one ``mesa.Agent`` per person) on the
same inputs, measured in the same run.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from sim.abm.model import AbmModel
from sim.abm.montecarlo import run_abm
from sim.abm.reference import ReferenceModel
from sim.config import scenario_from_dict
from sim.inputs import resolve


def _scaled(inputs, scale):
    return dataclasses.replace(
        inputs, base_population=np.round(inputs.base_population * scale),
        in_migrants=inputs.in_migrants * scale, refugees=inputs.refugees * scale)


def _person_years(pop) -> float:
    return float(pop[:-1].sum())


def test_abm_speed_and_memory():
    inp = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2054}))
    big = _scaled(inp, 2.0)  # ~100,000 persons, 30 years
    AbmModel(_scaled(inp, 0.05), 1).run()  # load kernels
    t = time.perf_counter()
    m = AbmModel(big, 1)
    t_init = time.perf_counter() - t
    t = time.perf_counter()
    m.run()
    t_run = time.perf_counter() - t
    py = _person_years(m.population)
    print(f"\nABM {int(big.base_population.sum()):,} persons x {len(big.years)} years: "
          f"init {t_init:.2f} s, run {t_run:.2f} s, {py / t_run / 1e6:.2f} M person-years/s")
    print(f"bytes per person (used rows, persons+households+dwellings): "
          f"{m.state.used_bytes_per_person():.1f}; allocated incl. spare capacity: "
          f"{m.state.nbytes_per_person():.1f}; person row {m.state.persons.row_bytes} B")

    # The plain-mesa reference on the same population, years and processes (one agent per
    # person; households only as far as the counts need them).
    t = time.perf_counter()
    ref_big = ReferenceModel(big, 1).run()
    t_ref_big = time.perf_counter() - t
    r_big = _person_years(ref_big.population) / t_ref_big
    print(f"reference mesa model, same {int(big.base_population.sum()):,} persons x "
          f"{len(big.years)} years: run incl. set-up {t_ref_big:.1f} s, {r_big:,.0f} "
          f"person-years/s; fast engine {py / t_run:,.0f} person-years/s: "
          f"ratio {py / t_run / r_big:,.0f}x")

    small = dataclasses.replace(_scaled(inp, 0.04), years=inp.years[:5],
                                fertility=inp.fertility[:5],
                                death_probability=inp.death_probability[:5],
                                out_rate=inp.out_rate[:5], in_migrants=inp.in_migrants[:5] * 0.04,
                                refugees=inp.refugees[:5] * 0.04,
                                growth_target=inp.growth_target[:5])
    t = time.perf_counter()
    ref = ReferenceModel(small, 1).run()
    t_ref = time.perf_counter() - t
    t = time.perf_counter()
    fast = AbmModel(small, 1).run()
    t_fast = time.perf_counter() - t
    r_py, f_py = _person_years(ref.population) / t_ref, _person_years(fast.population) / t_fast
    print(f"reference mesa model ({int(small.base_population.sum()):,} persons x 5 years, "
          f"incl. set-up): {r_py:,.0f} person-years/s; fast engine same inputs incl. set-up: "
          f"{f_py:,.0f} person-years/s; ratio {f_py / r_py:,.0f}x "
          f"(100k-person run vs this reference: {py / t_run / r_py:,.0f}x)")


def test_abm_lorenskog_200_replicates_two_workers():
    """Target: 200 replicates of Lørenskog (real resolved inputs) to 2040 in <= 30 s on 2
    cores (wall time incl. starting the worker processes and loading the cached kernels)."""
    inp = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2040}))
    AbmModel(inp, 1).run()  # kernels compiled and cached before the workers load them
    t = time.perf_counter()
    res = run_abm(inp, runs=200, seed=1, workers=2)
    dt = time.perf_counter() - t
    py = res.population[:, :-1].sum()
    print(f"\nrun_abm Lørenskog 200 runs x {int(inp.base_population.sum()):,} persons x "
          f"{len(inp.years)} years (to {int(inp.years[-1]) + 1}), workers=2: {dt:.2f} s wall "
          f"({py / dt / 1e6:.1f} M person-years/s; target <= 30 s)")


def test_abm_monte_carlo_workers():
    inp = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2044}))
    for workers in (1, 2):
        t = time.perf_counter()
        res = run_abm(inp, runs=8, seed=1, workers=workers)
        dt = time.perf_counter() - t
        print(f"\nrun_abm 8 runs x 48k persons x 20 years, workers={workers}: {dt:.2f} s "
              f"({res.population[:, :-1].sum() / dt / 1e6:.2f} M person-years/s)")


def test_abm_compile_vs_cached_load():
    code = ("import time; t=time.perf_counter(); import numpy as np; "
            "from sim.config import scenario_from_dict; from sim.inputs import resolve; "
            "from sim.abm.model import AbmModel; "
            "i=resolve(scenario_from_dict({'municipality':'3222','horizon':2026})); "
            "t0=time.perf_counter(); AbmModel(i, 1).run(); "
            "print(f'{time.perf_counter()-t0:.2f}')")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, check=True).stdout.strip()
        second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True).stdout.strip()
    print(f"\nABM first run incl. numba compile: {first} s; from cache: {second} s")
