"""The app's door into the model: the same in-memory run API as the CLI, nothing else.

``project(data)`` validates a scenario dict and returns ``sim.run.run``'s ``RunResult``;
results are memoised by the scenario's content (a finished run never changes, and the same
scenario gives bit-identical results), so switching views or pinning costs nothing and no
session sees another's edits. ``abm_chunk`` runs some replicates of the agent-based engine with
the seeds of a single ``kommunesim run --engine abm`` call and returns their totals as plain
lists, so the browser can keep the growing set of runs (progress) in its own store.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any

import numpy as np

from sim.app.scenario import canonical, validate
from sim.demography import AGE_GROUPS, age_group_weights
from sim.run import RunResult, run, run_abm_scenario

TOTAL = "total"
BAND_GROUPS = (TOTAL, *AGE_GROUPS)
"""What the ABM band shows: the total and the planning age groups."""


_RUN_LOCK = threading.Lock()
"""One run at a time per server process: the views of one edit ask for the same result at
once, and the first computes it while the others wait for the memo instead of repeating it."""


def project(data: dict[str, Any]) -> RunResult:
    """Run a scenario dict with the cohort engine (``InputError`` if it is not valid)."""
    with _RUN_LOCK:
        return _project(canonical(data))


@lru_cache(maxsize=32)
def _project(key: str) -> RunResult:
    return run(validate(json.loads(key)))


def abm_chunk(data: dict[str, Any], first: int, count: int) -> dict[str, Any]:
    """Replicates ``first .. first + count - 1`` of the ABM for a scenario dict.

    Returns ``{"years": [...], "runs": {group: [[value per year] per run]}}`` with the total
    and every ``AGE_GROUPS`` group (persons on 1 January), JSON-ready.
    """
    result = run_abm_scenario(validate(data), count, first_run=first, population_only=True)
    pop = result.abm.population.sum(axis=2, dtype=np.int64)  # [R, Y+1, 2, A]
    groups = np.einsum("rysa,sag->ryg", pop.astype(float), age_group_weights())
    runs = {TOTAL: pop.sum(axis=(2, 3)).tolist()}
    for g, name in enumerate(AGE_GROUPS):
        runs[name] = groups[:, :, g].tolist()
    return {"years": result.abm.years.tolist(), "runs": runs}


def merge_chunks(done: dict[str, Any] | None, chunk: dict[str, Any]) -> dict[str, Any]:
    """The runs of ``done`` followed by those of ``chunk`` (same scenario, same years)."""
    if not done:
        return chunk
    return {"years": done["years"],
            "runs": {g: done["runs"][g] + chunk["runs"][g] for g in done["runs"]}}
