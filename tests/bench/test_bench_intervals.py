"""Prediction-interval benchmark (run by `make bench`): figures printed, nothing asserted on time.

The goal (issue 14): at least 1,000 paths for one kommune in under a second on one core. The
reference measured in the same run is one point projection of the same inputs
(``sim.cohort.engine.project``), so the ratio says how many point projections the paths cost.
"""

from __future__ import annotations

import numpy as np
from bench_timing import best_of

from sim.cohort.engine import project, project_batch
from sim.config import scenario_from_dict
from sim.data.population import embedded_population
from sim.inputs import refugees_settled_history
from sim.intervals import indicator_weights, run_intervals
from sim.intervals.process import draw_multipliers, kommune_volatility, migration_turnover
from sim.run import run
from sim.services import default_catalogue


def test_intervals_speed():
    sc = scenario_from_dict({"municipality": "3222", "base_year": 2024, "horizon": 2050})
    result = run(sc)
    inputs = result.inputs
    table = embedded_population()
    settled, _ = refugees_settled_history("3222", table, {})
    vol = kommune_volatility(table, "3222", 2024, 2500.0, 5, settled)
    names, weights, _ = indicator_weights(default_catalogue("3222"))
    n_paths, n_years = 1000, len(inputs.years)
    run_intervals(result, n_paths=n_paths)                       # compile and warm caches
    t_point = best_of(lambda: project(inputs), repeat=20)
    t_draw = best_of(lambda: draw_multipliers(vol, migration_turnover(inputs), n_paths,
                                              n_years, 1), 5)
    mult = draw_multipliers(vol, migration_turnover(inputs), n_paths, n_years, 1)
    t_batch = best_of(lambda: project_batch(inputs, mult, weights), 5)
    t_all = best_of(lambda: run_intervals(result, n_paths=n_paths), 5)
    print(f"\n  Lørenskog 2024-2050 ({n_years} years), {len(names)} indicators, 1 district, "
          "one core")
    print(f"  one point projection:            {t_point * 1e3:8.2f} ms  (reference)")
    print(f"  {n_paths} multiplier paths drawn:   {t_draw * 1e3:8.2f} ms")
    print(f"  {n_paths} paths projected (batch):  {t_batch * 1e3:8.2f} ms  "
          f"= {t_batch / t_point:.0f} x one projection, "
          f"{t_batch / t_point / n_paths:.2f} x per path")
    print(f"  run_intervals end to end:        {t_all * 1e3:8.2f} ms  "
          f"(goal: under 1,000 ms for 1,000 paths)")
    assert np.isfinite(t_all)
