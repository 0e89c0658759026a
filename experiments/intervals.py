"""Prediction intervals per sweep scenario: ``kommunesim sweep SWEEP.toml --out DIR --intervals``.

After the sweep, every scenario of a cohort sweep is run once more with ``sim.intervals``
(``sim/intervals/METHOD.md``) and the quantiles of its indicators are written to
``DIR/intervals.parquet``: ``scenario, year, kommunenummer, district, indicator, q05 .. q95``.
The interval is around each scenario's own assumptions: the sweep's spread over scenarios
says what the assumptions do, the interval how far the model has missed given them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.sweep_config import load_sweep, plan_sweep
from sim.errors import InputError


def sweep_intervals(sweep_file: str | Path, out: str | Path, n_paths: int = 1000,
                    engine: str | None = None) -> Path:
    """Write ``intervals.parquet`` for every scenario of a cohort sweep into ``out``.

    Scenarios that fail (as in the sweep itself) are left out.
    """
    from sim.intervals import intervals_table, run_intervals
    from sim.run import run

    plan = plan_sweep(load_sweep(sweep_file, engine=engine))
    if plan.engine != "cohort":
        raise InputError("command line", "--intervals", "prediction intervals are for cohort "
                         "sweeps; an ABM sweep's spread over runs is only 'tilfeldig variasjon "
                         "(gitt forutsetningene)'")
    frames = []
    for i in range(plan.n):
        try:
            result = run(plan.scenario(i))
        except InputError:
            continue
        table = intervals_table(run_intervals(result, n_paths=n_paths))
        table.insert(0, "scenario", i)
        frames.append(table)
    path = Path(out) / "intervals.parquet"
    tmp = path.with_name(".tmp-intervals.parquet")
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for col in ("kommunenummer", "district", "indicator"):
        if col in df:
            df[col] = df[col].astype("category")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path
