"""Where people wait: start-up, one kommune, the whole country, the interactive path (printed).

Each figure is a ratio against a reference measured in the same run:

* ``kommunesim --help`` and ``run -m 3222 --no-plots`` against the bare Python start-up
  (``python -c pass``), cold processes;
* ``run -m all --horizon 2050 --no-plots`` (357 kommuner, services, no budget) against one
  kommune's ``run --no-plots`` (target: <= 5x);
* the interactive path (scenario dict -> resolve -> project -> services -> budget, warm, one
  kommune) as p50/p95 over 60 edits, against one projection's kernel time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

KS = [sys.executable, "-m", "sim.cli"]


def _wall(cmd: list[str], repeat: int = 3, **kw) -> float:
    """Median wall time of a command (seconds)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, **kw)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def test_startup_one_kommune_and_country(tmp_path):
    env = {**os.environ, "COLUMNS": "160"}
    python = _wall([sys.executable, "-c", "pass"], 5)
    help_s = _wall([*KS, "--help"], 5, env=env)
    one = _wall([*KS, "run", "-m", "3222", "--no-plots", "--horizon", "2050", "--out",
                 str(tmp_path / "one")], 3, env=env)
    country = _wall([*KS, "run", "-m", "all", "--horizon", "2050", "--no-plots", "--out",
                     str(tmp_path / "all")], 1, env=env)
    print(f"\npython -c pass: {python * 1000:.0f} ms")
    print(f"kommunesim --help: {help_s:.2f} s ({help_s / python:.1f}x bare Python; target "
          f"<= 0.3 s)")
    print(f"run -m 3222 --no-plots (cold): {one:.2f} s (target <= 2 s)")
    print(f"run -m all --horizon 2050 --no-plots: {country:.2f} s = {country / one:.1f}x one "
          f"kommune (target <= 5x)")
    assert (tmp_path / "all" / "summary.csv").exists()


def test_interactive_path_latency():
    from sim.cohort.engine import project
    from sim.config import scenario_from_dict
    from sim.run import run
    from sim.scenarios import scenario_for

    scenario, _ = scenario_for(None, "3222")
    data = scenario.model_dump(exclude={"source"}, exclude_none=True)
    result = run(scenario)                       # warm: caches, numba, data
    kernel = min(_timed(lambda: project(result.inputs)) for _ in range(50))
    times = []
    for i in range(60):
        data["refugees"] = {"settled_per_year": {2024: 150 + i, 2026: 100}}
        times.append(_timed(lambda: run(scenario_from_dict(data, "app"))))
    p50, p95 = np.percentile(times, [50, 95])
    parts = {k: round(v * 1000, 2) for k, v in run(scenario_from_dict(data, "app"))
             .timings.items()}
    print(f"\ninteractive path (Lørenskog, resolve+project+services+budget, warm): "
          f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (target p95 <= 20 ms); "
          f"{p95 / kernel:.0f}x the kernel's {kernel * 1e6:.0f} us; parts (ms): {parts}")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":  # pragma: no cover
    import pytest

    sys.exit(pytest.main([__file__, "-s", "-q", "-o", "addopts="]))
