"""Many kommuner in one process: ``kommunesim run -m all`` (or a list, or a fylke).

Each kommune is resolved, projected and its services computed exactly as a single run
(``sim.run.run``), in one process so that data, estimates and numba kernels load once. The
tables are written as one ``population.parquet``, ``components.parquet``, ``services.parquet``
and ``demografikostnader.parquet`` with a ``kommunenummer`` column, plus ``summary.csv`` (one
row per kommune) and ``manifest.json``. A kommune that fails is listed, not fatal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.demography import AGE_GROUPS
from sim.errors import InputError


@dataclass
class BatchResult:
    """The runs of many kommuner (``sim.run.RunResult`` each) and the ones that failed."""

    results: list = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def run_many(numbers: Iterable[str], horizon: int | None = None, base_year: int | None = None,
             zones: str | None = None, seed: int | None = None, budget: bool = False,
             population: Path | None = None,
             progress: Callable[[str], None] | None = None) -> BatchResult:
    """Run the cohort engine for every kommune in ``numbers`` (their main scenario/defaults).

    ``progress`` is called with each kommunenummer after its run.
    """
    from sim.run import run
    from sim.scenarios import scenario_for

    batch = BatchResult()
    t0 = time.perf_counter()
    for knr in numbers:
        try:
            scenario, notes = scenario_for(None, knr, horizon, base_year, population, zones)
            update = {"budget": scenario.budget.model_copy(update={"enabled": budget})}
            if seed is not None:
                update["seed"] = seed
            result = run(scenario.model_copy(update=update))
            batch.results.append(result)
            if notes or result.notes:
                batch.notes[knr] = [*notes, *result.notes]
        except InputError as exc:
            batch.failed.append((knr, exc.line()))
        if progress is not None:
            progress(knr)
    batch.timings["run_s"] = time.perf_counter() - t0
    return batch


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate tables whose text columns are categoricals, keeping them categorical."""
    if not frames:
        return pd.DataFrame()
    out = {}
    for col in frames[0].columns:
        parts = [f[col] for f in frames]
        if isinstance(parts[0].dtype, pd.CategoricalDtype):
            out[col] = pd.api.types.union_categoricals(
                [p if isinstance(p.dtype, pd.CategoricalDtype) else p.astype("category")
                 for p in parts])
        else:
            out[col] = np.concatenate([p.to_numpy() for p in parts])
    return pd.DataFrame(out)


def summary_table(batch: BatchResult) -> pd.DataFrame:
    """One row per kommune: population at the base year and the horizon, growth, age groups."""
    from sim.data.kommuner import fylke_name, kommuner

    fylke = {k.number: fylke_name(k.fylke) for k in kommuner()}
    rows = []
    for r in batch.results:
        pop = r.projection.population.sum(axis=(1, 2))  # [Y+1, A]
        first, last = pop[0].sum(), pop[-1].sum()
        row = {"kommunenummer": r.inputs.municipality, "kommune": r.inputs.municipality_name,
               "fylke": fylke.get(r.inputs.municipality, ""),
               "base_year": r.inputs.base_year, "horizon": r.inputs.horizon,
               "persons_base": first, "persons_horizon": last,
               "growth_pct": (last / first - 1) * 100 if first else np.nan}
        for g, (lo, hi) in AGE_GROUPS.items():
            base = pop[0, lo : hi + 1].sum()
            end = pop[-1, lo : hi + 1].sum()
            row[f"{g}_horizon"] = end
            row[f"{g}_change_pct"] = (end / base - 1) * 100 if base else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def write_many(batch: BatchResult, out_dir: str | Path, options: dict) -> list[Path]:
    """Write the batch's tables, summary and manifest into ``out_dir`` atomically."""
    from sim.io import (
        components_table,
        package_version,
        population_table,
        with_kommune,
        write_atomically,
    )

    def fill(w) -> None:
        t = time.perf_counter()
        res = batch.results
        w.parquet("population.parquet", _concat(
            [population_table(r.projection, r.inputs.municipality) for r in res]))
        w.parquet("components.parquet", _concat(
            [components_table(r.projection, r.inputs.municipality) for r in res]))
        with_services = [r for r in res if r.services is not None]
        if with_services:
            w.parquet("services.parquet", _concat(
                [with_kommune(r.services, r.inputs.municipality) for r in with_services]))
            w.parquet("demografikostnader.parquet", _concat(
                [with_kommune(r.demografikostnader, r.inputs.municipality)
                 for r in with_services]))
        summary_table(batch).to_csv(w.path("summary.csv"), index=False)
        batch.timings["write_s"] = time.perf_counter() - t
        files = [*w.files, "manifest.json"]
        w.json("manifest.json", {
            "kommunesim_version": package_version(),
            "engine": "cohort",
            "kommuner": [r.inputs.municipality for r in res],
            "options": options,
            "scenarios": {r.inputs.municipality: r.scenario.model_dump(mode="json")
                          for r in res},
            "resolved_input_sha256": {r.inputs.municipality: r.inputs.digest for r in res},
            "failed": dict(batch.failed),
            "notes": batch.notes,
            "timings_s": batch.timings,
            "files": files,
        })

    return write_atomically(out_dir, fill)
