"""Web app latency (run by `make bench`): figures printed, nothing asserted on time.

"Edit to updated data": the editor's fields become a scenario dict, which is validated and run
through ``sim.run.run`` (resolve + project + services + budget, one kommune, cohort engine,
warm) by the app's ``on_edit`` callback. Every edit is a new scenario, so the result memo never
hits. Reference in the same run: ``sim.run.run`` on the same validated scenarios directly (the
app's overhead is the ratio). Rendering the views of a finished run (building the figures and
tables and serialising them as Dash does) is measured separately.
"""

from __future__ import annotations

import time

import numpy as np
from plotly.io.json import to_json_plotly

from sim.app import callbacks, compute, scenario, views
from sim.export import budget_tables
from sim.run import run

N_EDITS = 60
TARGET_P95_MS = 150


def _edits(main: dict) -> list[dict]:
    """Distinct edits a planner makes: settlement, fertility, in-migration, coverage."""
    out = []
    for i in range(N_EDITS):
        kind = i % 4
        if kind == 0:
            data = scenario.set_in(main, "refugees.settled_per_year",
                                   {"2024": 190, "2025": 100 + 7 * i, "2028": 50})
        elif kind == 1:
            data = scenario.set_in(main, "fertility.tfr", {"2024": 1.44, "2030": 1.4 + i / 200})
        elif kind == 2:
            data = scenario.set_in(main, "migration.in_multiplier", {"2024": 0.901 + i / 300})
        else:
            data = scenario.set_in(main, "services.coverage_path",
                                   {"barnehage": {"2024": 1.0, "2030": 0.9 + i / 1000}})
        out.append(data)
    return out


def _fields(data: dict) -> tuple:
    """The editor's field values for a scenario dict (what the browser sends)."""
    *_head, paths, values, housing, coverage = callbacks.on_load(
        None, data["municipality"], None, None, None, None, data)
    return paths, values, housing, coverage


def _stats(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"median {np.median(a):.1f} ms, p95 {np.percentile(a, 95):.1f} ms, "
            f"min {a.min():.1f} ms, max {a.max():.1f} ms")


def test_edit_to_updated_data_latency():
    main = scenario.default_scenario("3222")
    compute.project(main)  # warm: numba caches, data tables, estimation
    callbacks.on_edit(main, *_fields(main))
    edits = _edits(main)
    app_ms, direct_ms, parts = [], [], {"resolve_s": [], "project_s": [], "services_s": [],
                                        "budget_s": []}
    for data in edits:
        fields = _fields(data)
        t = time.perf_counter()
        new, _toml, error = callbacks.on_edit(main, *fields)
        app_ms.append((time.perf_counter() - t) * 1000)
        assert error == "" and new == data
        timings = compute.project(data).timings
        for k in parts:
            parts[k].append(timings[k] * 1000)
        sc = scenario.validate(data)
        t = time.perf_counter()
        run(sc)
        direct_ms.append((time.perf_counter() - t) * 1000)
    result = compute.project(edits[0])
    view_ms = []
    for _ in range(20):
        t = time.perf_counter()
        outputs = [*callbacks.on_key_figures(edits[0], 2030), views.population_figure(result),
                   views.age_groups_figure(result), views.pyramid_figure(result, 2040),
                   views.services_figure(result, "barnehage"),
                   views.demografikostnader_figure(result),
                   views.budget_figure(budget_tables(result.budget)),
                   views.budget_tables_view(budget_tables(result.budget))]
        to_json_plotly(outputs)  # as Dash sends them
        view_ms.append((time.perf_counter() - t) * 1000)
    p95 = np.percentile(app_ms, 95)
    print(f"\nweb app, Lørenskog, cohort engine, warm, {N_EDITS} distinct edits")
    print(f"edit -> updated data (on_edit: fields -> scenario -> run): {_stats(app_ms)}; "
          f"target p95 <= {TARGET_P95_MS} ms: {'met' if p95 <= TARGET_P95_MS else 'NOT met'}")
    print(f"reference, sim.run.run on the same scenarios: {_stats(direct_ms)}; "
          f"app / direct (medians) = {np.median(app_ms) / np.median(direct_ms):.2f}")
    print("inside the run (medians): " + ", ".join(
        f"{k.removesuffix('_s')} {np.median(v):.1f} ms" for k, v in parts.items()))
    print(f"rendering the views of a finished run (tables + 6 figures, as JSON): "
          f"{_stats(view_ms)}")
