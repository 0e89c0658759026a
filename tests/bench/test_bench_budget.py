"""The budget in the interactive path: ``project_budget`` warm, 26-year horizon (printed).

The web app recomputes resolve → project → services → budget on every edit within 20 ms; the
budget's share is 5 ms. Measured against the cohort projection of the same inputs in the same
run (the machine is shared, so the ratio is the figure to compare across runs).
"""

from __future__ import annotations

from bench_timing import best_of

from sim.budget import default_budget_config, project_budget
from sim.cohort.engine import project
from sim.config import scenario_from_dict
from sim.run import run


def test_project_budget_warm():
    result = run(scenario_from_dict({"municipality": "3222", "horizon": 2050,
                                     "budget": {"enabled": False}}))
    config = default_budget_config("3222")
    assert len(result.inputs.years) == 26
    project_budget(result, config)          # warm: caches of the national table and cost key
    budget_s = best_of(lambda: project_budget(result, config), 30)
    engine_s = best_of(lambda: project(result.inputs), 30)
    print(f"\n[budget] 26 years, Lørenskog: project_budget {budget_s * 1e3:.2f} ms "
          f"(target <= 5 ms), cohort projection {engine_s * 1e3:.2f} ms -> budget / "
          f"projection = {budget_s / engine_s:.1f}")
