"""The sweep runner: chunks of scenarios on a local process pool or a Dask cluster.

``sweep(SWEEP.toml, out=DIR)`` plans the design, then computes chunks of scenario indices with
one function, ``run_chunk(plan, c)``, whatever the backend. The driver writes each finished chunk
as ``DIR/part-NNNNN.parquet`` (temporary name + ``os.replace``: a part is whole or absent) and
keeps ``DIR/manifest.json`` (resolved sweep, design, status per scenario) up to date. A killed
sweep restarts with ``resume=True`` and computes only the chunks without a part file.

Part tables are tidy: ``scenario, year, indicator, value``; a part's Parquet metadata
(``kommunesim_chunk``) lists the chunk's scenarios, their errors and timings. Failed scenarios
(bad combination, ``resolve`` error, ...) are recorded with their error and the sweep goes on;
``errors.parquet`` collects them at the end.

Speed: scenarios of a chunk that differ from each other only in TFR path, in-migration
multiplier, out-migration multiplier and refugee plan share one ``resolve`` and one
``project_batch`` call with per-year multipliers; anything else (growth targets, input files,
changed mortality) is resolved per distinct setting; results equal single runs to rounding.
Each scenario's numbers depend only on its own inputs, so results are bit-identical across
backends, worker counts and chunk sizes.

ABM sweeps (``engine = "abm"``, ``runs = N``): each scenario runs its N replicates in the chunk's
process (``run_abm(..., workers=1)``: the sweep's pool or Dask parallelises over chunks, never
nested). Every scenario uses the master seed ``abm_seed(sweep.seed)``, so run r of every
scenario draws from the same random streams (common random numbers). Part tables then have a
``run`` column: ``scenario, run, year, indicator, value``, the indicators of each run (the same
names and formulas as cohort sweeps, on that run's population). Scenarios sharing the resolved
inputs (differing only in ``abm`` or service settings) share one ``resolve``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.indicators import (
    indicator_weights,
    indicators,
    needs_refugees,
    recent_refugee_totals,
)
from experiments.sweep_config import SweepPlan, load_sweep, plan_sweep
from sim.abm.config import no_growth_target
from sim.abm.montecarlo import run_abm
from sim.cohort.engine import project, project_batch
from sim.cohort.kernel import REFUGEES
from sim.config import Scenario, interpolate_path, scenario_from_dict
from sim.errors import InputError, disk_error, is_disk_error
from sim.folders import LOCK_NAME, MAX_MANIFEST_BYTES, STAGE_PREFIX, output_folder
from sim.inputs import resolve
from sim.io import package_version
from sim.run import abm_inputs, scenario_catalogue

__all__ = ["ChunkResult", "SweepResult", "read_results", "run_chunk", "sweep"]

BACKENDS = ("local", "dask")
FAST_KEYS = ("fertility.tfr", "migration.in_multiplier", "migration.out_rate_multiplier",
             "refugees.settled_per_year")
_OVERRIDES = ("fertility", "death_probability", "in_migrants", "out_rate", "refugees")
SCHEMA = pa.schema([("scenario", pa.int32()), ("year", pa.int16()),
                    ("indicator", pa.string()), ("value", pa.float64())])
ABM_SCHEMA = pa.schema([("scenario", pa.int32()), ("run", pa.int32()), ("year", pa.int16()),
                        ("indicator", pa.string()), ("value", pa.float64())])
_ABM_NEUTRAL = ("name", "seed", "source", "abm")
META_KEY = b"kommunesim_chunk"


# --- one chunk -----------------------------------------------------------------------------

@dataclass
class ChunkResult:
    """A computed chunk: the tidy table, failed scenarios and timings (seconds)."""

    chunk: int
    scenarios: list[int]
    table: pa.Table
    errors: dict[int, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    batched: int = 0


def _split(sc: Scenario, fast: tuple[str, ...]) -> tuple[str, dict[str, np.ndarray]] | None:
    """(key of the shared resolve, per-year multipliers) or None when it must run alone."""
    if sc.migration.growth_target_pct is not None \
            or any(getattr(sc.inputs, n) is not None for n in _OVERRIDES):
        return None
    years = sc.years
    data = sc.model_dump(mode="json", exclude={"name", "seed", "source"})
    mult: dict[str, np.ndarray] = {}
    if "fertility.tfr" in fast and sc.fertility.tfr is not None:
        mult["fertility"] = interpolate_path(sc.fertility.tfr, years)
        data["fertility"]["tfr"] = {"2000": 1.0}
    if "migration.in_multiplier" in fast and sc.migration.in_multiplier is not None:
        mult["in_migrants"] = interpolate_path(sc.migration.in_multiplier, years)
        data["migration"]["in_multiplier"] = None
    if "migration.out_rate_multiplier" in fast and sc.migration.out_rate_multiplier is not None:
        mult["out_rate"] = interpolate_path(sc.migration.out_rate_multiplier, years)
        data["migration"]["out_rate_multiplier"] = None
    if "refugees.settled_per_year" in fast and sc.refugees.settled_per_year is not None:
        mult["refugees"] = interpolate_path(sc.refugees.settled_per_year, years)
        data["refugees"]["settled_per_year"] = {"2000": 1.0}
    data["services"]["coverage_path"] = None
    data["services"]["unit_cost_growth"] = 0.0
    return json.dumps(data, sort_keys=True), mult


def _capped(inputs) -> bool:
    """True if some out-migration rate was capped at 1 - death probability (not scalable)."""
    room = 1.0 - inputs.death_probability
    return bool(np.any((room > 0) & (inputs.out_rate >= room - 1e-12)))


class _Cache:
    """Resolved inputs, catalogue and weights per shared-resolve key (one chunk)."""

    def __init__(self):
        self.items: dict[str, Any] = {}

    def get(self, key: str, source: str, timings: dict[str, float]):
        if key not in self.items:
            t = time.perf_counter()
            try:
                neutral = scenario_from_dict(json.loads(key), source)
                inputs = resolve(neutral)
                catalogue = scenario_catalogue(neutral, inputs.districts)
                self.items[key] = (inputs, catalogue, indicator_weights(catalogue))
            except Exception as exc:  # noqa: BLE001 - recorded; members then run alone
                self.items[key] = exc
            timings["resolve_s"] += time.perf_counter() - t
        return self.items[key]


def run_chunk(plan: SweepPlan, c: int) -> ChunkResult:
    """Build, project and reduce the scenarios of chunk ``c`` (the task of every backend)."""
    if plan.engine == "abm":
        return _abm_chunk(plan, c)
    t0 = time.perf_counter()
    timings = {"resolve_s": 0.0, "project_s": 0.0, "indicators_s": 0.0}
    outputs = tuple(plan.sweep["outputs"]["indicators"])
    keep_years = plan.sweep["outputs"].get("years")
    rows: dict[int, tuple[np.ndarray, list[str], np.ndarray]] = {}
    errors: dict[int, str] = {}
    scenarios: dict[int, Scenario] = {}
    for i in plan.chunk(c):
        try:
            scenarios[i] = plan.scenario(i)
        except InputError as exc:
            errors[i] = exc.line()
    cache = _Cache()
    alone: list[int] = []
    fast = FAST_KEYS
    pending = list(scenarios)
    batched = 0
    while pending:
        groups: dict[str, list[tuple[int, dict[str, np.ndarray]]]] = {}
        for i in pending:
            split = _split(scenarios[i], fast)
            if split is None:
                alone.append(i)
            else:
                groups.setdefault(split[0], []).append((i, split[1]))
        pending = []
        for key, members in groups.items():
            got = cache.get(key, plan.base_source, timings)
            if isinstance(got, Exception):
                alone += [i for i, _m in members]
                continue
            inputs, catalogue, weights = got
            if "migration.out_rate_multiplier" in fast and _capped(inputs):
                scaled = [i for i, m in members if np.any(m.get("out_rate", 1.0) != 1.0)]
                if scaled:
                    pending += scaled
                    members = [(i, m) for i, m in members if i not in scaled]
                    if not members:
                        continue
            t = time.perf_counter()
            names = sorted({n for _i, m in members for n in m})
            n_year = len(inputs.years)
            mults = {n: np.stack([m.get(n, np.ones(n_year)) for _i, m in members])
                     for n in names}
            out = project_batch(inputs, mults, weights).sum(axis=2)  # [S, Y+1, G]
            timings["project_s"] += time.perf_counter() - t
            years = np.append(inputs.years, inputs.years[-1] + 1)
            settled = inputs.refugees.sum(axis=1)  # [Y, 2, A] at refugee multiplier 1
            for s, (i, m) in enumerate(members):
                # the scenario's settlement: the shared inputs' refugees x its multiplier
                ref = settled * m["refugees"][:, None, None] if "refugees" in m else settled
                _reduce(rows, errors, i, out[s], years, catalogue, scenarios[i], outputs,
                        keep_years, timings, (inputs.municipality, ref))
            batched += len(members)
        fast = tuple(k for k in fast if k != "migration.out_rate_multiplier")
    for i in sorted(alone):
        try:
            t = time.perf_counter()
            inputs = resolve(scenarios[i])
            catalogue = scenario_catalogue(scenarios[i], inputs.districts)
            timings["resolve_s"] += time.perf_counter() - t
            t = time.perf_counter()
            proj = project(inputs)
            timings["project_s"] += time.perf_counter() - t
            counts = np.einsum("ydsa,sag->yg", proj.population, indicator_weights(catalogue))
            _reduce(rows, errors, i, counts, proj.years, catalogue, scenarios[i], outputs,
                    keep_years, timings, (inputs.municipality, inputs.refugees))
        except Exception as exc:  # noqa: BLE001 - a failing scenario must not stop the sweep
            errors[i] = exc.line() if isinstance(exc, InputError) else \
                f"{type(exc).__name__}: {exc}"
    table = _table(rows)
    timings["total_s"] = time.perf_counter() - t0
    return ChunkResult(c, list(plan.chunk(c)), table, dict(sorted(errors.items())), timings,
                       batched)


def _abm_key(sc: Scenario) -> str:
    """Key of the shared resolve: the scenario without ABM-only and output-only settings."""
    data = sc.model_dump(mode="json", exclude=set(_ABM_NEUTRAL))
    data["services"]["coverage_path"] = None
    data["services"]["unit_cost_growth"] = 0.0
    return json.dumps(data, sort_keys=True)


def _abm_chunk(plan: SweepPlan, c: int) -> ChunkResult:
    """ABM chunk: ``plan.runs`` replicates per scenario in this process, indicators per run."""
    t0 = time.perf_counter()
    timings = {"resolve_s": 0.0, "abm_s": 0.0, "indicators_s": 0.0}
    outputs = tuple(plan.sweep["outputs"]["indicators"])
    keep_years = plan.sweep["outputs"].get("years")
    runs = int(plan.runs)
    rows: dict[int, tuple[np.ndarray, list[str], np.ndarray]] = {}
    errors: dict[int, str] = {}
    cache = _Cache()
    for i in plan.chunk(c):
        try:
            sc = plan.scenario(i)
            got = cache.get(_abm_key(sc), plan.base_source, timings)
            if isinstance(got, Exception):
                raise got
            inputs, catalogue, weights = got
            if np.any(~np.isnan(inputs.growth_target)):
                raise no_growth_target(sc.source, "migration.growth_target_pct")
            t = time.perf_counter()
            abm_in, housing = abm_inputs(sc, inputs)
            result = run_abm(abm_in, runs, seed=int(plan.seeds[i]), workers=1, config=sc.abm,
                             housing=housing)
            timings["abm_s"] += time.perf_counter() - t
            t = time.perf_counter()
            pop = result.population.sum(axis=2, dtype=np.int64)  # [R, Y+1, 2, A], exact
            counts = np.einsum("rysa,sag->ryg", pop.astype(np.float64), weights)
            # recent-refugee services: the refugees each run settled (as run_abm_scenario,
            # whose services count the mean over runs of the same arrays)
            need = needs_refugees(catalogue, outputs)
            per_run = [indicators(counts[r], result.years, catalogue, sc, outputs,
                                  recent_refugee_totals(catalogue, inputs.municipality,
                                                        result.years,
                                                        result.components[r, :, :, REFUGEES])
                                  if need else None)
                       for r in range(runs)]
            names = per_run[0][0]
            values = np.stack([v for _n, v in per_run])  # [R, Y+1, I]
            years = np.asarray(result.years)
            if keep_years is not None:
                sel = np.isin(years, keep_years)
                years, values = years[sel], values[:, sel]
            rows[i] = (years, names, values)
            timings["indicators_s"] += time.perf_counter() - t
        except Exception as exc:  # noqa: BLE001 - a failing scenario must not stop the sweep
            errors[i] = exc.line() if isinstance(exc, InputError) else \
                f"{type(exc).__name__}: {exc}"
    table = _abm_table(rows)
    timings["total_s"] = time.perf_counter() - t0
    return ChunkResult(c, list(plan.chunk(c)), table, dict(sorted(errors.items())), timings)


def _abm_table(rows: dict[int, tuple[np.ndarray, list[str], np.ndarray]]) -> pa.Table:
    if not rows:
        return ABM_SCHEMA.empty_table()
    cols: dict[str, list[np.ndarray]] = {f.name: [] for f in ABM_SCHEMA}
    for i in sorted(rows):
        years, names, values = rows[i]
        n_r, n_y, n_i = values.shape
        cols["scenario"].append(np.full(n_r * n_y * n_i, i, dtype=np.int32))
        cols["run"].append(np.repeat(np.arange(n_r, dtype=np.int32), n_y * n_i))
        cols["year"].append(np.tile(np.repeat(years.astype(np.int16), n_i), n_r))
        cols["indicator"].append(np.tile(np.array(names, dtype=object), n_r * n_y))
        cols["value"].append(values.ravel())
    arrays = [pa.array(np.concatenate(cols[f.name]), type=f.type) for f in ABM_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=ABM_SCHEMA)


def _reduce(rows, errors, i, counts, years, catalogue, scenario, outputs, keep_years, timings,
            settlement):
    """Indicators of scenario i into ``rows`` (failures into ``errors``).

    ``settlement`` = (kommunenummer, refugees settled during years[:-1] [Y, (D,) 2, A]): the
    scenario's settlement, counted by recent-refugee services.
    """
    t = time.perf_counter()
    try:
        municipality, settled = settlement
        recent = (recent_refugee_totals(catalogue, municipality, years, settled)
                  if needs_refugees(catalogue, outputs) else None)
        names, values = indicators(counts, years, catalogue, scenario, outputs, recent)
    except InputError as exc:
        errors[i] = exc.line()
        return
    years = np.asarray(years)
    if keep_years is not None:
        sel = np.isin(years, keep_years)
        years, values = years[sel], values[sel]
    rows[i] = (years, names, values)
    timings["indicators_s"] += time.perf_counter() - t


def _table(rows: dict[int, tuple[np.ndarray, list[str], np.ndarray]]) -> pa.Table:
    cols: dict[str, list[np.ndarray]] = {"scenario": [], "year": [], "indicator": [], "value": []}
    for i in sorted(rows):
        years, names, values = rows[i]
        n_y, n_i = values.shape
        cols["scenario"].append(np.full(n_y * n_i, i, dtype=np.int32))
        cols["year"].append(np.repeat(years.astype(np.int16), n_i))
        cols["indicator"].append(np.tile(np.array(names, dtype=object), n_y))
        cols["value"].append(values.ravel())
    if not rows:
        return SCHEMA.empty_table()
    arrays = [pa.array(np.concatenate(cols[f.name]), type=f.type) for f in SCHEMA]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


# --- backends ------------------------------------------------------------------------------

_PLAN: SweepPlan | None = None


def _init_worker(plan: SweepPlan) -> None:
    global _PLAN
    _PLAN = plan


def _pool_chunk(c: int) -> ChunkResult:
    assert _PLAN is not None
    return run_chunk(_PLAN, c)


def _local(plan: SweepPlan, todo: list[int], workers: int) -> Iterator[ChunkResult]:
    if workers == 1:
        for c in todo:
            yield run_chunk(plan, c)
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    queue = list(reversed(todo))
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(plan,)) as pool:
        running = set()
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:
                    running.add(pool.submit(_pool_chunk, queue.pop()))
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            for fut in running:
                fut.cancel()


MAX_WORKERS = 1_024
"""Most local processes (or LocalCluster workers) a sweep starts."""
CONNECT_TIMEOUT_S = 5
"""Seconds to reach a Dask scheduler before the sweep gives up (before it writes anything)."""


@contextlib.contextmanager
def _dask_client(workers: int, scheduler: str | None):
    """A Dask client: to ``scheduler``, or to a LocalCluster of ``workers`` processes.

    An unreachable scheduler is an ``InputError`` after ``CONNECT_TIMEOUT_S``.
    """
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, ValueError, TypeError) as exc:
            raise InputError("command line", "scheduler",
                             f"cannot reach Dask scheduler {scheduler}: {exc}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask(plan: SweepPlan, todo: list[int], client) -> Iterator[ChunkResult]:
    from distributed import as_completed

    plan_f = client.scatter(plan, broadcast=True)
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    queue = list(reversed(todo))

    def submit(c: int):
        return client.submit(run_chunk, plan_f, c, pure=False,
                             key=f"sweep-{plan.digest[:12]}-{c}-{time.time_ns()}")

    ac = as_completed([submit(queue.pop()) for _ in range(min(len(queue), 2 * n_workers))])
    for fut in ac:
        result = fut.result()
        fut.release()
        if queue:
            ac.add(submit(queue.pop()))
        yield result


# --- results folder ------------------------------------------------------------------------

def _part_name(c: int) -> str:
    return f"part-{c:05d}.parquet"


def _atomic_bytes(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    _atomic_bytes(path, lambda p: p.write_text(
        json.dumps(data, indent=1, ensure_ascii=False, default=str)))


def _write_part(out: Path, result: ChunkResult) -> None:
    meta = {"chunk": result.chunk, "scenarios": result.scenarios,
            "errors": {str(k): v for k, v in result.errors.items()},
            "timings": result.timings, "batched": result.batched}
    table = result.table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    _atomic_bytes(out / _part_name(result.chunk), lambda p: pq.write_table(table, p))


def _read_done(out: Path, plan: SweepPlan) -> dict[int, dict[str, Any]]:
    """Chunk metadata of the complete part files in ``out`` (stale temporaries removed)."""
    for tmp in out.glob(".*.tmp-*"):
        tmp.unlink(missing_ok=True)
    done = {}
    for path in sorted(out.glob("part-*.parquet")):
        try:
            meta = json.loads(pq.read_schema(path).metadata[META_KEY])
        except Exception:  # noqa: BLE001 - unreadable part: compute it again
            path.unlink()
            continue
        if meta["chunk"] < plan.n_chunks and meta["scenarios"] == list(plan.chunk(meta["chunk"])):
            done[meta["chunk"]] = meta
    return done


def _manifest(plan: SweepPlan, done: dict[int, dict[str, Any]], info: dict[str, Any]
              ) -> dict[str, Any]:
    status = []
    for i in range(plan.n):
        c = i // plan.chunk_size
        entry: dict[str, Any] = {"scenario": i, "chunk": c,
                                 "labels": dict(zip(plan.keys, plan.labels[i], strict=True))}
        if c not in done:
            entry["status"] = "pending"
        elif str(i) in done[c]["errors"]:
            entry.update(status="failed", error=done[c]["errors"][str(i)])
        else:
            entry["status"] = "ok"
        status.append(entry)
    timings: dict[str, float] = {}
    for meta in done.values():
        for k, v in meta["timings"].items():
            timings[k] = timings.get(k, 0.0) + v
    abm: dict[str, Any] = {}
    if plan.engine == "abm":
        from sim.abm.montecarlo import run_seeds

        seed = int(plan.seeds[0]) if plan.n else None
        abm = {"runs": plan.runs, "random_numbers": {
            "kind": "common random numbers",
            "abm_seed": seed,
            "run_seeds": [str(s) for s in run_seeds(seed, plan.runs)] if plan.n else [],
            "note": "every scenario uses master seed abm_seed (run r: SeedSequence(abm_seed)"
                    ".spawn(runs)[r]), so run r of every scenario draws from the same random "
                    "streams: differences between scenarios come from their assumptions, not "
                    "from different random draws. Repeat scenario i with: kommunesim run "
                    "SCENARIO --engine abm --runs RUNS --seed ABM_SEED"}}
    return {
        "kind": "sweep",
        "kommunesim_version": package_version(),
        "engine": plan.sweep["engine"],
        **abm,
        "sweep_sha256": plan.digest,
        "sweep": plan.sweep,
        "design": {"method": plan.method, "axes": list(plan.keys), "n_scenarios": plan.n,
                   "chunk_size": plan.chunk_size, "n_chunks": plan.n_chunks,
                   "x": plan.x.tolist(), "seeds": plan.seeds.tolist()},
        "complete": len(done) == plan.n_chunks,
        "chunks_done": sorted(done),
        "n_ok": sum(e["status"] == "ok" for e in status),
        "n_failed": sum(e["status"] == "failed" for e in status),
        "n_batched": sum(m.get("batched", 0) for m in done.values()),
        "timings_s": timings,
        **info,
        "scenarios": status,
    }


def _design_table(plan: SweepPlan) -> pd.DataFrame:
    df = pd.DataFrame({"scenario": np.arange(plan.n, dtype=np.int32),
                       "seed": plan.seeds})
    for k, key in enumerate(plan.keys):
        df[key] = plan.x[:, k]
        df[f"{key}:label"] = [row[k] for row in plan.labels]
    return df


@dataclass(frozen=True)
class SweepResult:
    """What ``sweep`` did: folder, counts and timings."""

    out: Path
    n_scenarios: int
    n_failed: int
    chunks_computed: int
    elapsed_s: float
    timings: dict[str, float]


def sweep(path: str | Path, out: str | Path, backend: str = "local", workers: int | None = None,
          scheduler: str | None = None, resume: bool = False, engine: str | None = None,
          runs: int | None = None, progress: bool = True,
          on_chunk: Callable[[int, int], None] | None = None,
          max_scenarios: int | None = None) -> SweepResult:
    """Run a sweep file into ``out`` (see the module docstring).

    Everything is validated (sweep, axis values, limits, folder, Dask scheduler) before the
    first file is written; ``out`` is locked while the sweep runs.

    Args:
        path: sweep TOML.
        out: results folder (must be new or empty unless ``resume``).
        backend: "local" (process pool) or "dask" (``scheduler`` address or a LocalCluster).
        workers: processes (local) / LocalCluster workers (dask); default all cores.
        scheduler: Dask scheduler address, e.g. "tcp://10.0.0.5:8786" (dask backend only).
        resume: continue a sweep in ``out``: compute only chunks without a part file.
        engine: override the sweep file's engine ("cohort" or "abm").
        runs: override the sweep file's ABM replicates per scenario (engine abm only).
        progress: show a progress bar (rate and ETA) on stderr.
        on_chunk: called as ``on_chunk(chunk, n_written)`` after each part is written.
        max_scenarios: most scenarios (ABM: scenario runs) allowed; default ``MAX_SCENARIOS``.
    """
    t0 = time.perf_counter()
    if backend not in BACKENDS:
        raise InputError("command line", "backend",
                         f"unknown backend '{backend}'; allowed: {', '.join(BACKENDS)}")
    if scheduler is not None and backend != "dask":
        raise InputError("command line", "scheduler", "only with --backend dask")
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise InputError("command line", "workers", f"{workers}: must be within 1..{MAX_WORKERS}")
    workers = workers or os.cpu_count() or 1
    sw = load_sweep(path, engine=engine, runs=runs, max_scenarios=max_scenarios)
    plan = plan_sweep(sw)
    out = Path(out)
    fresh = not out.exists()
    with output_folder(out):
        _check_folder(out, plan, path, resume)
        with (_dask_client(workers, scheduler) if backend == "dask"
              else contextlib.nullcontext()) as client:
            info = {"backend": backend, "workers": workers, "scheduler": scheduler,
                    "sweep_file": str(Path(path).resolve())}
            try:
                return _fill(out, plan, info, client, progress, on_chunk, t0)
            except OSError as exc:
                if not is_disk_error(exc):
                    raise
                raise _disk_failure(out, exc, fresh) from None


def _check_folder(out: Path, plan: SweepPlan, path: str | Path, resume: bool) -> None:
    """``InputError`` unless ``out`` is new or empty, or holds this sweep and ``resume``."""
    manifest_path = out / "manifest.json"
    if any(p.name != LOCK_NAME and not p.name.startswith(STAGE_PREFIX) for p in out.iterdir()):
        if not manifest_path.is_file():
            raise InputError(out, None, "folder exists and is not a sweep; choose a new --out")
        try:
            if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
                raise ValueError(f"larger than {MAX_MANIFEST_BYTES / 1e6:g} MB")
            old = json.loads(manifest_path.read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise InputError(manifest_path, None, "unreadable manifest: "
                             f"{exc or 'nested too deeply'}") from None
        if not resume:
            raise InputError(out, None, "already holds a sweep; pass --resume to continue it "
                             "or choose a new --out")
        if not isinstance(old, dict) or old.get("sweep_sha256") != plan.digest:
            raise InputError(out, None, f"holds a different sweep than {path} (the file, its "
                             "base scenario, --engine or --runs changed); choose a new --out")


def _disk_failure(out: Path, exc: OSError, fresh: bool) -> InputError:
    """The error for a failing disk; a new folder without a finished part is emptied."""
    parts = sorted(out.glob("part-*.parquet"))
    if fresh and not parts:
        for name in ("design.parquet", "manifest.json", "errors.parquet"):
            (out / name).unlink(missing_ok=True)
        return disk_error(out, exc)
    return disk_error(out, exc, f"the {len(parts)} finished parts are kept: free space and "
                      "continue with --resume")


def _fill(out: Path, plan: SweepPlan, info: dict[str, Any], client, progress: bool,
          on_chunk: Callable[[int, int], None] | None, t0: float) -> SweepResult:
    """Write the design and manifest, compute the missing chunks into parts, then the errors."""
    manifest_path = out / "manifest.json"
    done = _read_done(out, plan)
    if not (out / "design.parquet").exists():
        _atomic_bytes(out / "design.parquet",
                      lambda p: _design_table(plan).to_parquet(p, index=False))
    _write_json(manifest_path, _manifest(plan, done, info))
    todo = [c for c in range(plan.n_chunks) if c not in done]
    computed = 0
    if todo:
        chunks = (_local(plan, todo, info["workers"]) if client is None
                  else _dask(plan, todo, client))
        last_manifest = time.perf_counter()
        with _progress(progress, plan, len(done)) as advance:
            for result in chunks:
                _write_part(out, result)
                done[result.chunk] = json.loads(pq.read_schema(
                    out / _part_name(result.chunk)).metadata[META_KEY])
                computed += 1
                advance(len(result.scenarios))
                if time.perf_counter() - last_manifest > 0.5 or len(done) == plan.n_chunks:
                    _write_json(manifest_path, _manifest(plan, done, info))
                    last_manifest = time.perf_counter()
                if on_chunk is not None:
                    on_chunk(result.chunk, computed)
    manifest = _manifest(plan, done, info)
    manifest["elapsed_s"] = time.perf_counter() - t0
    errors = pd.DataFrame([{"scenario": e["scenario"], "error": e["error"], **e["labels"]}
                           for e in manifest["scenarios"] if e["status"] == "failed"],
                          columns=None)
    if errors.empty:
        errors = pd.DataFrame({"scenario": pd.Series(dtype="int64"),
                               "error": pd.Series(dtype="object")})
    _atomic_bytes(out / "errors.parquet", lambda p: errors.to_parquet(p, index=False))
    _write_json(manifest_path, manifest)
    return SweepResult(out, plan.n, manifest["n_failed"], computed, manifest["elapsed_s"],
                       manifest["timings_s"])


class _progress:
    """Rich progress bar with scenarios/s and ETA (a no-op when disabled)."""

    def __init__(self, enabled: bool, plan: SweepPlan, start: int):
        self.enabled, self.plan = enabled, plan
        self.start = min(start * plan.chunk_size, plan.n)

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            console=Console(stderr=True))
        self.bar.__enter__()
        self.task = self.bar.add_task("sweep", total=self.plan.n, completed=self.start,
                                      rate="")
        self.t0, self.count = time.perf_counter(), 0

        def advance(n: int) -> None:
            self.count += n
            rate = self.count / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.update(self.task, advance=n, rate=f"{rate:,.1f} scen/s")

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
        return False


def read_results(out: str | Path, indicators: list[str] | None = None) -> pd.DataFrame:
    """The sweep's tidy table (optionally only some indicators), read part by part.

    Columns ``scenario, year, indicator, value`` (cohort) or ``scenario, run, year, indicator,
    value`` (abm: one row per run), sorted by scenario, (run,) indicator, year.
    """
    out = Path(out)
    parts = sorted(out.glob("part-*.parquet"))
    if not parts:
        raise InputError(out, None, "no sweep results (part-*.parquet) in this folder")
    import pyarrow.dataset as ds

    schema = ABM_SCHEMA if "run" in pq.read_schema(parts[0]).names else SCHEMA
    dataset = ds.dataset([str(p) for p in parts], format="parquet", schema=schema)
    flt = ds.field("indicator").isin(indicators) if indicators is not None else None
    table = dataset.to_table(filter=flt)
    df = table.to_pandas()
    keys = ["scenario", "run", "indicator", "year"] if schema is ABM_SCHEMA else \
        ["scenario", "indicator", "year"]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)
