"""Sweep benchmark (run by `make bench`): figures printed, nothing asserted on time.

1,000 cohort scenarios x 30 years (Lørenskog, 2024-2054): a 10 x 10 x 10 grid over the TFR
path, the in-migration multiplier and the refugee plan, with services and every indicator,
end to end including the Parquet parts and manifest. Printed: scenarios per second, the
per-scenario overhead beyond the projection kernel, and the share of time inside the
projection; for comparison the cost of one ``sim.run.run`` per scenario.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from experiments.sweep import read_results, sweep
from sim.config import load_scenario
from sim.run import run

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "experiments" / "scenarios" / "lorenskog_main.toml"


def _sweep_file(tmp_path: Path) -> Path:
    tfr = ", ".join(f"{v:.3f}" for v in np.linspace(1.2, 1.9, 10))
    mult = ", ".join(f"{v:.3f}" for v in np.linspace(0.8, 1.2, 10))
    refugees = ", ".join(f"{{ 2024 = {40 * k}, 2028 = {10 * k} }}" for k in range(10))
    path = tmp_path / "bench.toml"
    path.write_text(f"""
name = "bench"
chunk_size = 100
[base]
extends = "{BASE}"
horizon = 2054
[axes."fertility.tfr"]
values = [{tfr}]
[axes."migration.in_multiplier"]
values = [{mult}]
[axes."refugees.settled_per_year"]
values = [{refugees}]
""", encoding="utf-8")
    return path


def test_bench_sweep_1000(tmp_path):
    path = _sweep_file(tmp_path)
    sweep(path, tmp_path / "warm", workers=1, progress=False)  # numba cache, imports
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        t = time.perf_counter()
        res = sweep(path, out, workers=workers, progress=False)
        wall = time.perf_counter() - t
        n = res.n_scenarios
        tm = res.timings
        rows = len(read_results(out))
        print(f"\nsweep 1000 x 30 y, workers={workers}: {wall:.2f} s wall, "
              f"{n / wall:,.0f} scenarios/s ({rows:,} indicator rows, "
              f"{sum(p.stat().st_size for p in out.glob('part-*')) / 1e6:.1f} MB parts)")
        print(f"  in chunks (summed over workers): total {tm['total_s']:.3f} s, projection "
              f"{tm['project_s']:.3f} s, resolve {tm['resolve_s']:.3f} s, indicators "
              f"{tm['indicators_s']:.3f} s")
        overhead = (wall * min(workers, 2) - tm["project_s"]) / n
        print(f"  per-scenario overhead beyond the kernel: {overhead * 1e3:.3f} ms "
              f"(wall x workers - projection) / n; share of time in projection: "
              f"{tm['project_s'] / (wall * min(workers, 2)):.1%}")
    sc = load_scenario(BASE).model_copy(update={"horizon": 2054})
    t = time.perf_counter()
    for _ in range(20):
        run(sc)
    per_run = (time.perf_counter() - t) / 20
    print(f"  reference: one sim.run.run per scenario = {per_run * 1e3:.1f} ms "
          f"-> {1 / per_run:,.0f} scenarios/s")
