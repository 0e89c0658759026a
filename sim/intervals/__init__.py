"""Prediction intervals for cohort projections (equations in ``METHOD.md``).

Many paths of the projection are run at once (``sim.cohort.engine.project_batch``) with the
uncertain inputs -- net migration, fertility, mortality and refugee settlement -- drawn as
serially correlated multipliers whose spread comes from the kommune's own history and
Norway's (``process.py``). The simulated spread of each indicator is then scaled by how far
the model's own back-tests over all kommuner missed, by interval level, kommune size,
indicator and horizon (``scales.py``), so that an 80 % interval held 80 % of the observed
values in the back-tests.

``simulate`` gives quantiles ``[P, Y+1, D, G]`` of the indicators (the total, the planning age
groups and each service's users) by year and district (the zones and, with several zones, the
whole kommune); ``run_intervals`` does so for a finished run, ``intervals_table`` makes the
``intervals.parquet`` table and ``add_to_results`` writes it (and a fan chart) into a results
folder.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.cohort.engine import Projection, project_batch
from sim.demography import AGE_GROUPS, age_group_weights
from sim.demography.pooling import SIZE_LABELS, size_class
from sim.intervals.process import (
    Volatility,
    draw_multipliers,
    kommune_volatility,
    migration_turnover,
)
from sim.intervals.scales import GROUPS, LEVELS, Scales, fitted_scales, unit_scales
from sim.resolved import ResolvedInputs

__all__ = ["PROBS", "Intervals", "Volatility", "add_to_results", "indicator_weights",
           "intervals_table", "run_intervals", "simulate", "unit_scales"]

PROBS = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
"""Quantiles computed; the table's columns ``q05 .. q95``."""
LEVEL_OF = {0.05: 0.9, 0.95: 0.9, 0.10: 0.8, 0.90: 0.8, 0.25: 0.5, 0.75: 0.5}
"""Central interval level each quantile bounds (its scale); the median is not scaled."""
DEFAULT_PATHS = 1000
LABEL = "80 % prediksjonsintervall"
HOW_MADE = ("Slik er båndet laget: modellen er regnet 1 000 ganger med tilfeldig variasjon i "
            "flytting, fødsler, dødelighet og bosetting av flyktninger, like stor som kommunen "
            "og landet har hatt før, og bredden er justert så 8 av 10 av modellens egne "
            "tilbaketester for alle landets kommuner havnet innenfor.")
"""One sentence for the fan chart: how the interval was made (bokmål, for a politician)."""


@dataclass(frozen=True)
class Intervals:
    """Quantiles of the indicators of one projection.

    Attributes:
        years: [Y+1] the 1 January dates.
        districts: the zones and, when there are several, the whole kommune (last).
        indicators: ``total``, the age groups, then service keys.
        quantiles: [P, Y+1, D, G] at ``PROBS``.
        kommunenummer: the kommune.
        info: paths, seed, volatility and scale provenance (for the manifest).
    """

    years: np.ndarray
    districts: tuple[str, ...]
    indicators: tuple[str, ...]
    quantiles: np.ndarray
    kommunenummer: str
    info: dict[str, Any] = field(default_factory=dict)

    def q(self, p: float) -> np.ndarray:
        """[Y+1, D, G] quantile ``p`` (one of ``PROBS``)."""
        return self.quantiles[PROBS.index(p)]


def indicator_weights(catalogue=None) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Indicator names, weights [2, A, G] and group mix [G, len(GROUPS)].

    The indicators are the total, the planning age groups and the users of every
    population-driven service of ``catalogue`` (coverage by age; services driven by recent
    refugees are left out). The group mix says which scale group(s) an indicator takes its
    scale from: the total and age groups their own; a service the age groups of its users.
    """
    groups = age_group_weights()
    total = groups.sum(axis=2, keepdims=True)
    names = ["total", *AGE_GROUPS]
    weights = [total, groups]
    mix = [np.eye(len(GROUPS))]
    if catalogue is not None:
        from sim.services.catalogue import coverage_weights

        cov = coverage_weights(catalogue)
        keep = [k for k, s in enumerate(catalogue.services.values()) if s.driver == "population"]
        names += [catalogue.keys[k] for k in keep]
        weights.append(cov[:, :, keep])
        # a service's mix: its coverage summed over the ages of each group (normalised later
        # by the base population's users)
        mix.append(np.zeros((len(keep), len(GROUPS))))
    return tuple(names), np.concatenate(weights, axis=2), np.concatenate(mix)


def _service_mix(weights: np.ndarray, mix: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Fill the group mix of service rows: their users in each age group at the base year."""
    mix = mix.copy()
    groups = age_group_weights()                                   # [2, A, 8]
    for g in range(mix.shape[0]):
        if mix[g].any():
            continue
        users = np.einsum("sa,sa,sak->k", base, weights[:, :, g], groups)
        mix[g, 1:] = users / users.sum() if users.sum() > 0 else 1.0 / (len(GROUPS) - 1)
    return mix


def _lambda(scales: Scales, classes: np.ndarray, mix: np.ndarray, n_years: int) -> np.ndarray:
    """Scale factors [P, Y+1, D, G] for each quantile, year, district and indicator."""
    lam = scales.lam                                              # [L, C, Gs, H]
    h = np.minimum(np.arange(n_years), lam.shape[3])              # year 0: horizon 0 (unused)
    out = np.ones((len(PROBS), n_years, len(classes), mix.shape[0]))
    for i, p in enumerate(PROBS):
        if p not in LEVEL_OF:
            continue
        li = LEVELS.index(LEVEL_OF[p])
        per = lam[li][classes]                                     # [D, Gs, H]
        by_ind = np.einsum("dsh,gs->hdg", per, mix)                # [H, D, G]
        out[i, 1:] = by_ind[np.maximum(h[1:], 1) - 1]
    return out


def _monotone(q: np.ndarray) -> np.ndarray:
    """Quantiles made non-decreasing in p, outward from the median."""
    mid = PROBS.index(0.5)
    q = q.copy()
    q[:mid + 1] = np.minimum.accumulate(q[mid::-1], axis=0)[::-1]
    q[mid:] = np.maximum.accumulate(q[mid:], axis=0)
    return q


def simulate(inputs: ResolvedInputs, projection: Projection, vol: Volatility,
             scales: Scales, weights: np.ndarray, mix: np.ndarray,
             n_paths: int = DEFAULT_PATHS, seed: int = 0,
             point: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Quantiles of the indicators over paths, scaled to the back-test errors.

    Args:
        inputs, projection: the run's resolved inputs and its (point) projection.
        vol: the input volatilities; scales: the empirical scales.
        weights: [2, A, G] indicator weights; mix: [G, len(GROUPS)] scale group mix.
        n_paths: paths drawn (path 0 is the point projection).
        seed: the run's seed.
        point: [Y+1, D', G] the point values (default: the projection x weights).

    Returns:
        (quantiles [P, Y+1, D', G], simulated log-deviation quantiles (unscaled, same shape),
        size class of each district D'). D' = the districts, plus the whole kommune last when
        there are several.
    """
    shared = replace(inputs, in_migrants=projection.in_scale[:, None, None, None]
                     * inputs.in_migrants, growth_target=np.full(len(inputs.years), np.nan),
                     municipal=None)
    mult = draw_multipliers(vol, migration_turnover(inputs), n_paths, len(inputs.years), seed)
    paths = project_batch(shared, mult, weights)                   # [S, Y+1, D, G]
    base = projection.population[0]                                # [D, 2, A]
    if paths.shape[2] > 1:
        paths = np.concatenate([paths, paths.sum(axis=2, keepdims=True)], axis=2)
        base = np.concatenate([base, base.sum(axis=0, keepdims=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(paths[:1] > 0, np.log(np.maximum(paths, 1e-300) / paths[:1]), 0.0)
    qdev = np.quantile(dev, PROBS, axis=0)                         # [P, Y+1, D', G]
    if point is None:
        point = np.einsum("ydsa,sag->ydg", projection.population, weights)
        if point.shape[1] > 1:
            point = np.concatenate([point, point.sum(axis=1, keepdims=True)], axis=1)
    classes = size_class(base.sum(axis=(1, 2)))
    mixes = _service_mix(weights, mix, projection.population[0].sum(axis=0))
    lam = _lambda(scales, classes, mixes, len(projection.years))
    q = _monotone(point[None] * np.exp(lam * qdev))
    return q, qdev, tuple(int(c) for c in classes)


def run_intervals(result, n_paths: int = DEFAULT_PATHS, seed: int | None = None,
                  scales: Scales | None = None, table=None) -> Intervals:
    """Intervals of a finished cohort run (``sim.run.RunResult``).

    Services users' point values are the run's (``services.parquet``, coverage paths
    included); their spread is that of their users at the catalogue's coverage.
    """
    from sim.data.population import municipality_defaults, population_table
    from sim.inputs import refugees_settled_history

    t0 = time.perf_counter()
    inputs, proj = result.inputs, result.projection
    table = table or population_table(result.scenario.inputs.population)
    births = float(np.sum(inputs.parameters.get("births_estimation_window", [0.0])))
    first, last = inputs.parameters.get("estimation_window", (inputs.base_year - 1,
                                                               inputs.base_year))
    settled, _ = refugees_settled_history(inputs.municipality, table,
                                          municipality_defaults().get(inputs.municipality, {}))
    vol = kommune_volatility(table, inputs.municipality, inputs.base_year, births, last - first,
                             settled)
    scales = scales or fitted_scales()
    names, weights, mix = indicator_weights(result.catalogue)
    point = np.einsum("ydsa,sag->ydg", proj.population, weights)
    districts = tuple(inputs.districts)
    if result.services is not None:
        point = _services_point(point, result.services, names, districts, proj.years)
    if point.shape[1] > 1:
        point = np.concatenate([point, point.sum(axis=1, keepdims=True)], axis=1)
        districts = (*districts, inputs.municipality_name)
    seed = inputs.seed if seed is None else seed
    q, _, classes = simulate(inputs, proj, vol, scales, weights, mix, n_paths, seed, point)
    info = {"paths": n_paths, "seed": seed, "label": LABEL, "method": "sim/intervals/METHOD.md",
            "volatility": vol.__dict__, "size_class": [SIZE_LABELS[c] for c in classes],
            "scales": scales.info.get("source", "sim/intervals/scales.json"),
            "seconds": round(time.perf_counter() - t0, 3)}
    return Intervals(proj.years, districts, names, q, inputs.municipality, info)


def _services_point(point: np.ndarray, services: pd.DataFrame, names: tuple[str, ...],
                    districts: tuple[str, ...], years: np.ndarray) -> np.ndarray:
    """``point`` with the service columns replaced by the run's users (by year, district)."""
    point = point.copy()
    users = services.pivot_table(index=["year", "district"], columns="service", values="users",
                                 aggfunc="sum", observed=True)
    for g, name in enumerate(names):
        if name not in users.columns:
            continue
        for d, dist in enumerate(districts):
            col = users[name].xs(dist, level="district") if dist in users.index.get_level_values(
                "district") else None
            if col is not None:
                point[:, d, g] = col.reindex(years).to_numpy()
    return point


def intervals_table(iv: Intervals) -> pd.DataFrame:
    """``year, kommunenummer, district, indicator, q05, q10, q25, q50, q75, q90, q95``."""
    n_y, n_d, n_g = iv.quantiles.shape[1:]
    cols: dict[str, Any] = {
        "year": np.repeat(iv.years.astype(np.int32), n_d * n_g),
        "kommunenummer": pd.Categorical([iv.kommunenummer] * (n_y * n_d * n_g)),
        "district": pd.Categorical(np.tile(np.repeat(np.array(iv.districts, dtype=object), n_g),
                                           n_y)),
        "indicator": pd.Categorical(np.tile(np.array(iv.indicators, dtype=object), n_y * n_d)),
    }
    for i, p in enumerate(PROBS):
        cols[f"q{round(p * 100):02d}"] = iv.quantiles[i].reshape(-1)
    return pd.DataFrame(cols)


def add_to_results(out_dir: str | Path, intervals: list[Intervals], plots: bool = True,
                   title: str | None = None) -> list[Path]:
    """Write ``intervals.parquet`` (and fan charts) into a finished results folder.

    The files are written under temporary names and renamed; the folder's ``manifest.json``
    then lists them and gets an ``intervals`` section (written the same way).
    """
    from sim.intervals.plot import fan_chart

    out = Path(out_dir)
    written = []
    table = pd.concat([intervals_table(iv) for iv in intervals], ignore_index=True)
    for col in ("kommunenummer", "district", "indicator"):
        table[col] = table[col].astype("category")
    written.append(_atomic(out / "intervals.parquet", lambda p: table.to_parquet(p,
                                                                                index=False)))
    if plots and len(intervals) == 1:
        iv = intervals[0]
        written.append(_atomic(out / "intervals_total.png",
                               lambda p: fan_chart(iv, "total", p, title)))
        written.append(_atomic(out / "intervals_age_groups.png",
                               lambda p: fan_chart(iv, None, p, title)))
    manifest = out / "manifest.json"
    if manifest.exists():
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        doc["files"] = [*[f for f in doc.get("files", []) if f != "manifest.json"],
                        *[p.name for p in written], "manifest.json"]
        doc["intervals"] = {iv.kommunenummer: iv.info for iv in intervals}
        _atomic(manifest, lambda p: p.write_text(json.dumps(doc, indent=2, ensure_ascii=False,
                                                            default=str), encoding="utf-8"))
    return written


def _atomic(path: Path, write) -> Path:
    tmp = path.with_name(f".tmp-{path.name}")
    write(tmp)
    os.replace(tmp, path)
    return path
