"""Monte Carlo replicates of the ABM in parallel processes, their tables and quantiles.

Run r uses the seed ``SeedSequence(seed).spawn(runs)[r]`` (as a uint64); inside a run every
draw is a counter-based hash of (run seed, person key, year, stream), so a run's result does
not depend on the process it ran in or on the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.abm.config import AbmConfig
from sim.abm.model import INDICATORS, AbmModel
from sim.abm.rng import run_seed
from sim.cohort.engine import Projection
from sim.cohort.kernel import COMPONENTS
from sim.demography.housing import HousingProgramme
from sim.inputs import ResolvedInputs
from sim.io import grid, with_kommune

QUANTILES = (0.05, 0.5, 0.95)


@dataclass(frozen=True)
class AbmResult:
    """Replicates of an ABM projection.

    Attributes:
        years: [Y+1] the 1 January dates of ``population``.
        districts: district names.
        population: [R, Y+1, D, 2, A] persons on 1 January per run (int32).
        components: [R, Y, D, 5, 2, A] flows per run by cohort age (``COMPONENTS`` order).
        indicators: [R, Y+1, len(INDICATORS)] household indicators per run.
        seeds: the uint64 seed of each run.
        bytes_per_person: [R] bytes of the used rows of the agent arrays per person at the end.
        timings: seconds (``run_s`` wall time of all runs).
    """

    years: np.ndarray
    districts: tuple[str, ...]
    population: np.ndarray
    components: np.ndarray
    indicators: np.ndarray
    seeds: tuple[int, ...]
    bytes_per_person: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        """Number of replicates."""
        return self.population.shape[0]

    def mean_projection(self) -> Projection:
        """The mean over runs as a cohort-engine ``Projection`` (float64)."""
        return Projection(self.years, self.districts, self.population.mean(axis=0),
                          self.components.mean(axis=0), np.ones(len(self.years) - 1))

    def run_projection(self, r: int) -> Projection:
        """Run ``r`` as a ``Projection`` (float64)."""
        return Projection(self.years, self.districts, self.population[r].astype(float),
                          self.components[r].astype(float), np.ones(len(self.years) - 1))

    def indicator(self, name: str) -> np.ndarray:
        """[R, Y+1] one household indicator (``INDICATORS``)."""
        return self.indicators[:, :, INDICATORS.index(name)]


def _one_run(args) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    inputs, seed64, config, housing = args
    model = AbmModel(inputs, seed64, config, housing).run()
    return (model.population, model.components, model.indicators,
            model.state.used_bytes_per_person())


def run_seeds(seed: int, runs: int) -> tuple[int, ...]:
    """The uint64 seed of each run: ``SeedSequence(seed).spawn(runs)``."""
    return tuple(run_seed(s) for s in np.random.SeedSequence(seed).spawn(runs))


def run_abm(inputs: ResolvedInputs, runs: int, seed: int | None = None, workers: int = 1,
            config: AbmConfig | None = None, housing: HousingProgramme | None = None,
            mp_context: str = "spawn", first_run: int = 0) -> AbmResult:
    """Run ``runs`` replicates of the ABM, in ``workers`` processes (1 = in this process).

    Args:
        inputs: resolved inputs (as for the cohort engine).
        runs: number of replicates.
        seed: master seed (default ``inputs.seed``); same seed -> bit-identical results for any
            ``workers``.
        workers: worker processes (``ProcessPoolExecutor``); 1 runs serially here.
        config: ABM settings (``AbmConfig``); housing: optional housing programme.
        mp_context: multiprocessing start method of the workers.
        first_run: index of the first replicate: runs ``first_run .. first_run + runs - 1`` of
            the seed's sequence, so replicates computed in chunks (the web app's progress) are
            those of one call with all runs.
    """
    if runs < 1 or first_run < 0:
        raise ValueError("runs must be >= 1 and first_run >= 0")
    seeds = run_seeds(inputs.seed if seed is None else seed, first_run + runs)[first_run:]
    jobs = [(inputs, s, config, housing) for s in seeds]
    t0 = time.perf_counter()
    if workers <= 1:
        out = [_one_run(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=min(workers, runs),
                                 mp_context=mp.get_context(mp_context)) as ex:
            out = list(ex.map(_one_run, jobs, chunksize=max(1, runs // (4 * workers))))
    elapsed = time.perf_counter() - t0
    years = np.append(inputs.years, inputs.years[-1] + 1)
    return AbmResult(years, inputs.districts, np.stack([o[0] for o in out]),
                     np.stack([o[1] for o in out]), np.stack([o[2] for o in out]), seeds,
                     np.array([o[3] for o in out]), {"run_s": elapsed})


# Tables -----------------------------------------------------------------------------------

def _per_run(cols: dict, runs: int) -> pd.DataFrame:
    """Key columns of one run's grid repeated for every run (categoricals stay categoricals)."""
    return pd.DataFrame({
        k: (pd.Categorical.from_codes(np.tile(v.codes, runs), v.categories)
            if isinstance(v, pd.Categorical) else np.tile(v, runs))
        for k, v in cols.items()})


def population_table(result: AbmResult, kommunenummer: str | None = None) -> pd.DataFrame:
    """Persons on 1 January per run: [kommunenummer,] year, district, sex, age, persons, run."""
    cols = grid(result.years, result.districts, kommunenummer)
    n_cell = len(cols["year"])
    df = _per_run(cols, result.runs)
    df["persons"] = result.population.reshape(-1).astype(np.float64)
    df["run"] = np.repeat(np.arange(result.runs, dtype=np.int32), n_cell)
    return df


def components_table(result: AbmResult, kommunenummer: str | None = None) -> pd.DataFrame:
    """Flows during ``year`` by cohort age per run (the cohort table plus ``run``)."""
    cols = grid(result.years[:-1], result.districts, kommunenummer)
    n_cell = len(cols["year"])
    df = _per_run(cols, result.runs)
    comp = result.components  # [R, Y, D, 5, 2, A]
    for c, name in enumerate(COMPONENTS):
        df[name] = comp[:, :, :, c].reshape(-1).astype(np.float64)
    df["run"] = np.repeat(np.arange(result.runs, dtype=np.int32), n_cell)
    return df


def population_quantiles(result: AbmResult, quantiles=QUANTILES) -> np.ndarray:
    """[len(quantiles), Y+1, D, 2, A] quantiles over runs (linear interpolation)."""
    return np.quantile(result.population, quantiles, axis=0)


def quantiles_table(result: AbmResult, kommunenummer: str | None = None) -> pd.DataFrame:
    """Per [kommunenummer,] year, district, sex and age: mean, p5, p50, p95 of persons."""
    cols = grid(result.years, result.districts, kommunenummer)
    qs = population_quantiles(result)
    df = pd.DataFrame(cols)
    df["mean"] = result.population.mean(axis=0).reshape(-1)
    for q, arr in zip(QUANTILES, qs, strict=True):
        df[f"p{round(q * 100)}"] = arr.reshape(-1)
    df["runs"] = np.int32(result.runs)
    return df


def indicators_table(result: AbmResult, kommunenummer: str | None = None) -> pd.DataFrame:
    """Household indicators per run and year: [kommunenummer,] year, run, indicator, value."""
    r, y, i = np.meshgrid(np.arange(result.runs), result.years, np.arange(len(INDICATORS)),
                          indexing="ij")
    df = pd.DataFrame({
        "year": y.ravel().astype(np.int32), "run": r.ravel().astype(np.int32),
        "indicator": np.asarray(INDICATORS, dtype=object)[i.ravel()],
        "value": result.indicators.reshape(-1),
    })
    return df if kommunenummer is None else with_kommune(df, kommunenummer)


def write_abm(writer, result: AbmResult, kommunenummer: str | None = None) -> None:
    """Stage the ABM tables in a ``sim.io.ResultWriter``.

    Files: population.parquet and components.parquet (the cohort tables plus ``run``),
    population_quantiles.parquet (mean, p5, p50, p95 per cell) and households.parquet; each
    starts with a ``kommunenummer`` column when one is given.
    """
    writer.parquet("population.parquet", population_table(result, kommunenummer))
    writer.parquet("components.parquet", components_table(result, kommunenummer))
    writer.parquet("population_quantiles.parquet", quantiles_table(result, kommunenummer))
    writer.parquet("households.parquet", indicators_table(result, kommunenummer))
