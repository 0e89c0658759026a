"""ABM benchmarks (run by `make bench`): figures printed, nothing asserted on time.

Baseline for the ratio: the plain-mesa reference model (one ``mesa.Agent`` per person) on the
same inputs, measured in the same run.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from sim.abm.households import published_path
from sim.abm.model import INDICATORS, AbmModel
from sim.abm.montecarlo import run_abm
from sim.abm.reference import ReferenceModel
from sim.config import scenario_from_dict
from sim.inputs import ResolvedInputs, resolve


def oslo_bydeler_inputs(horizon: int = 2040) -> ResolvedInputs:
    """``kommunesim run -m oslo --zones bydeler``: Oslo's 15 bydeler and the remainder zone,
    each with its own migration and fertility estimated from its SSB 10826 history."""
    return resolve(scenario_from_dict({"municipality": "0301", "horizon": horizon,
                                       "zones": {"source": "bydeler"}}))


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


def _district_pph(model: AbmModel) -> np.ndarray:
    """[D] persons per household of each district now."""
    st, n_dist = model.state, len(model.inputs.districts)
    persons = np.bincount(st.persons.view("district"), minlength=n_dist)
    return persons / np.bincount(st.households.view("hh_district"), minlength=n_dist)


def test_abm_oslo_bydeler_households():
    """Target: Oslo (717,710 persons, 15 bydeler + remainder) with households to 2040 in
    <= 60 s for one run on one core, <= 100 bytes per person resident; person-years/s against
    the plain-mesa reference on a 1 % subsample (same processes and years, same run)."""
    t = time.perf_counter()
    oslo = oslo_bydeler_inputs(2040)
    t_inputs = time.perf_counter() - t
    AbmModel(dataclasses.replace(oslo, base_population=np.round(oslo.base_population * 0.01),
                                 in_migrants=oslo.in_migrants * 0.01,
                                 refugees=oslo.refugees * 0.01), 1).run()  # load kernels
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    m = AbmModel(oslo, 1)
    t_init = time.perf_counter() - t
    base_pph = _district_pph(m)
    t = time.perf_counter()
    m.run()
    t_run = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    py = _person_years(m.population)
    st = m.state
    print(f"\nOslo stand-in: {int(oslo.base_population.sum()):,} persons in "
          f"{len(oslo.districts)} zones, {len(oslo.years)} years to {oslo.horizon}: inputs "
          f"{t_inputs:.1f} s, init (households) {t_init:.2f} s, run {t_run:.2f} s, total "
          f"{t_init + t_run:.2f} s (target <= 60 s); {py / t_run / 1e6:.2f} M person-years/s; "
          f"{st.persons.n:,} persons and {st.households.n:,} households in {oslo.horizon}")
    print(f"bytes per person alive in {oslo.horizon}: used rows {st.used_bytes_per_person():.1f}"
          f", allocated incl. spare capacity {st.nbytes_per_person():.1f} (target <= 100); "
          f"rows: person {st.persons.row_bytes} B, household {st.households.row_bytes} B, "
          f"dwelling {st.dwellings.row_bytes} B; peak RSS growth of the process during the "
          f"run {(rss1 - rss0) / 1024:.0f} MB (includes the result arrays)")
    pph = m.indicators[:, INDICATORS.index("persons_per_household")]
    years = np.arange(oslo.base_year, oslo.horizon + 1)
    path = published_path("0301", None, years)
    dev = pph / path - 1
    print("persons per household, Oslo: " + ", ".join(
        f"{y} {p:.3f} (published path {q:.3f})" for y, p, q in
        zip(years[::4], pph[::4], path[::4], strict=True))
          + f"; max deviation {100 * np.abs(dev).max():.1f} %")
    end_pph = _district_pph(m)
    print("by zone, persons per household in 2024 (published, 2019 ratio to Oslo on Oslo's "
          "2024 level) and 2040 (published path):")
    for d, name in enumerate(oslo.districts):
        pub = published_path("0301", name, [oslo.base_year, oslo.horizon])
        print(f"  {name:42s} {base_pph[d]:.2f} ({pub[0]:.2f})  {end_pph[d]:.2f} ({pub[1]:.2f})")
    one = m.indicators[:, INDICATORS.index("one_person_households")] / \
        m.indicators[:, INDICATORS.index("households")]
    print(f"one-person households: {100 * one[0]:.1f} % in {oslo.base_year}, "
          f"{100 * one[-1]:.1f} % in {oslo.horizon} (Oslo 2019: about 47 %)")

    # The plain-mesa reference and the fast engine on the same 1 % subsample, 5 years.
    sub = dataclasses.replace(
        oslo, years=oslo.years[:5], base_population=np.round(oslo.base_population * 0.01),
        fertility=oslo.fertility[:5], death_probability=oslo.death_probability[:5],
        out_rate=oslo.out_rate[:5], in_migrants=oslo.in_migrants[:5] * 0.01,
        refugees=oslo.refugees[:5] * 0.01, growth_target=oslo.growth_target[:5])
    t = time.perf_counter()
    ref = ReferenceModel(sub, 1).run()
    r_py = _person_years(ref.population) / (time.perf_counter() - t)
    t = time.perf_counter()
    fast = AbmModel(sub, 1).run()
    f_py = _person_years(fast.population) / (time.perf_counter() - t)
    print(f"1 % subsample ({int(sub.base_population.sum()):,} persons x 5 years, incl. "
          f"set-up): reference mesa {r_py:,.0f} person-years/s, fast engine {f_py:,.0f} "
          f"({f_py / r_py:,.0f}x); the full Oslo run: {py / t_run / r_py:,.0f}x the reference")
