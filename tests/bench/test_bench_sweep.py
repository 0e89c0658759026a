"""Sweep benchmark (run by `make bench`): figures printed, nothing asserted on time.

``experiments/sweeps/lorenskog_bench_10000.toml``: 10,000 cohort scenarios x 30 years
(Lørenskog 2024-2054; TFR x in-migration x refugee plan x unit-cost growth, 10 values each)
with services, every indicator and every year, to Parquet, end to end (plan, workers, parts,
manifest). Run locally with 1 and 2 workers (a pool starts only when the work left exceeds
``POOL_AFTER_S``), and on a Dask LocalCluster with 1 and 2 workers (always started); each
repeated, medians printed (the machine may be shared: its load average is printed too).
References measured in the same run: the batched projection of the same 10,000 scenarios
alone (one process, no indicators beyond its counts) and one ``sim.run.run`` per scenario.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from experiments.sweep import POOL_AFTER_S, sweep
from experiments.sweep_config import load_sweep, plan_sweep
from sim.cohort.engine import project_batch
from sim.config import interpolate_path
from sim.run import run

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "experiments" / "sweeps" / "lorenskog_bench_10000.toml"
REPEAT = {("local", 1): 3, ("local", 2): 3, ("dask", 1): 2, ("dask", 2): 2}


def _values(out: Path) -> bytes:
    """Every part's values in part order (to check that backends agree to the bit)."""
    parts = sorted(out.glob("part-*.parquet"))
    return b"".join(pq.read_table(p, columns=["value"])["value"].to_numpy().tobytes()
                    for p in parts)


def _projection_alone(plan) -> float:
    """Seconds for the 10,000 scenarios' batched projection alone (one process)."""
    from experiments.indicators import indicator_weights
    from sim.inputs import resolve
    from sim.run import scenario_catalogue

    sc = plan.scenario(0)
    inputs = resolve(sc)
    weights = indicator_weights(scenario_catalogue(sc, inputs.districts))
    years = inputs.years
    k = {key: i for i, key in enumerate(plan.keys)}
    axes = {key: plan.axis(key) for key in plan.keys}

    def path(key: str, i: int) -> np.ndarray:
        value = dict(axes[key].named_values())[plan.labels[i][k[key]]]
        value = value if isinstance(value, dict) else {2000: value}
        return interpolate_path({int(y): float(v) for y, v in value.items()}, years)

    rows = range(plan.n)
    mult = {"fertility": np.stack([path("fertility.tfr", i) for i in rows]),
            "in_migrants": np.stack([path("migration.in_multiplier", i) for i in rows]),
            "refugees": np.stack([path("refugees.settled_per_year", i) for i in rows])}
    project_batch(inputs, {n: m[:2] for n, m in mult.items()}, weights)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        for lo in range(0, plan.n, 512):
            project_batch(inputs, {n: m[lo:lo + 512] for n, m in mult.items()}, weights)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def test_bench_sweep_10000(tmp_path, machine):
    plan = plan_sweep(load_sweep(SWEEP))
    sweep(SWEEP, tmp_path / "warm", workers=1, progress=False)  # numba cache, imports
    shutil.rmtree(tmp_path / "warm")
    t_alone = _projection_alone(plan)
    print(f"\n[sweep] {plan.n:,} scenarios x 30 years, services, every indicator and year; "
          f"{machine}")
    print(f"  reference: the batched projection alone {t_alone:.2f} s "
          f"({plan.n / t_alone:,.0f} scenarios/s, one process)")
    walls: dict[tuple[str, int], float] = {}
    reference_values = None
    for (backend, workers), repeat in REPEAT.items():
        runs = []
        for r in range(repeat):
            out = tmp_path / f"{backend}{workers}-{r}"
            t = time.perf_counter()
            res = sweep(SWEEP, out, backend=backend, workers=workers, progress=False)
            runs.append((time.perf_counter() - t, res.timings, out))
        wall = statistics.median(w for w, _t, _o in runs)
        walls[backend, workers] = wall
        tm = {k: statistics.median(t.get(k, 0.0) for _w, t, _o in runs)
              for k in runs[0][1]}
        out = runs[0][2]
        values = _values(out)
        reference_values = reference_values or values
        n_rows = sum(pq.read_metadata(p).num_rows for p in out.glob("part-*.parquet"))
        size = sum(p.stat().st_size for p in out.glob("part-*.parquet")) / 1e6
        cpu = wall * workers
        print(f"  {backend} {workers} worker{'s' if workers > 1 else ''}: {wall:6.2f} s wall "
              f"(median of {repeat}: {', '.join(f'{w:.2f}' for w, _t, _o in runs)}) = "
              f"{plan.n / wall:,.0f} scenarios/s; {n_rows:,} rows, {size:.0f} MB; values "
              f"{'identical to' if values == reference_values else 'DIFFER from'} local 1")
        print(f"    in tasks (summed over workers) {tm['total_s']:.2f} s: projection "
              f"{tm['project_s']:.2f}, indicators {tm['indicators_s']:.2f}, table "
              f"{tm.get('table_s', 0.0):.2f}, resolve {tm['resolve_s']:.2f}; outside tasks "
              f"(start-up, Parquet, manifest) {cpu - tm['total_s']:.2f} s of {cpu:.2f} "
              "CPU-seconds (wall x workers)")
        print(f"    projection share: {tm['project_s'] / cpu:.0%} of wall x workers, "
              f"{tm['project_s'] / tm['total_s']:.0%} of the time in tasks; sweep / projection "
              f"alone = {wall / t_alone:.1f}x")
        for _w, _t, o in runs:
            shutil.rmtree(o)
    print(f"  scaling 1 -> 2 workers: local {walls['local', 1] / walls['local', 2]:.2f}x, "
          f"Dask LocalCluster {walls['dask', 1] / walls['dask', 2]:.2f}x (start-up included)")
    if walls["local", 1] < POOL_AFTER_S:
        print(f"    (local: the whole sweep takes less than POOL_AFTER_S = {POOL_AFTER_S:g} s in "
              "one process, so no pool is started: a spawned worker spends about as long "
              "starting as this sweep's work)")
    sc = plan.scenario(0)
    t = time.perf_counter()
    for _ in range(10):
        run(sc)
    per_run = (time.perf_counter() - t) / 10
    print(f"  reference: one sim.run.run per scenario = {per_run * 1e3:.1f} ms -> "
          f"{1 / per_run:,.0f} scenarios/s; the 2-worker sweep is "
          f"{per_run * plan.n / walls['local', 2]:,.0f}x that")
