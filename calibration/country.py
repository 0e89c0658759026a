"""Country-wide back-tests: every kommune, only data up to the jump-off year.

``country_backtest(cut, last)`` projects every kommune from 1 January ``cut`` to ``last`` with
the package defaults (``sim.inputs.resolve``: the estimation window ends at ``cut``; national
mortality, fertility schedule and TFR from before ``cut``) and compares the projected age
groups with SSB's populations, next to two naive baselines:

* **no change**: every age group stays at its jump-off size;
* **last growth continued**: every age group grows at its own mean annual rate of the last
  ``NAIVE_YEARS`` years before the jump-off.

Refugee settlement in the projected years is the one realised (the kommune's recorded
settlement, else the national settlement x its size-weighted share on 1 January ``cut``,
``sim.inputs.settlement_share``), as a planner uses the settlement plan;
``settlement="held"`` holds the last settlement before the jump-off instead (no information
from after it at all).

Errors are percentages ``(model - observed) / observed * 100`` per kommune, horizon and group;
``summary`` aggregates them by kommune size class (population at the jump-off).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration.common import make_scenario
from sim.cohort.engine import project
from sim.config import deep_merge
from sim.data.kommuner import kommuner
from sim.data.population import (
    NORWAY,
    PopulationHistory,
    embedded_population,
    municipality_defaults,
)
from sim.errors import InputError
from sim.inputs import refugees_settled_history, resolve, settlement_share

EVAL_GROUPS = {"total": (0, 105), "0-5": (0, 5), "6-15": (6, 15), "16-19": (16, 19),
               "20-66": (20, 66), "67-79": (67, 79), "80+": (80, 105)}
"""Groups the country-wide back-test reports (inclusive ages)."""
SIZE_CLASSES = ((0, 2_000), (2_000, 5_000), (5_000, 20_000), (20_000, 50_000),
                (50_000, 10**9))
"""Kommune size classes by population at the jump-off: [lower, upper)."""
SIZE_LABELS = ("under 2 000", "2 000–4 999", "5 000–19 999", "20 000–49 999", "50 000 og over")
NAIVE_YEARS = 5
"""Years of the growth rate the 'last growth continued' baseline continues."""
METHODS = ("model", "no change", "last growth")
SPLIT_HISTORIES = {"1508": 2023, "1580": 2023, "1806": 2019, "1875": 2019, "5055": 2019,
                   "5056": 2019, "5059": 2019}
"""Kommuner whose embedded history is a fixed share of a kommune that was split, up to the
year given (``kommune_redistricting_2000_2024.csv``, weighting < 1: Ålesund/Haram 50/50 of
Ålesund 2020-2023 and its predecessors; Narvik/Hamarøy of Tysfjord; Heim/Hitra/Orkland of
Snillfjord). Their histories jump where the split ends, so back-tests whose years reach into
those years leave them out."""
WITHIN_PCT = 5.0
"""SSB's yardstick: share of kommuner whose 5-year total error is within 5 %."""


def group_matrix(groups: dict[str, tuple[int, int]] = EVAL_GROUPS, n_ages: int = 106,
                 ) -> np.ndarray:
    """0/1 matrix [A, G] summing single ages into ``groups``."""
    m = np.zeros((n_ages, len(groups)))
    for g, (lo, hi) in enumerate(groups.values()):
        m[lo : hi + 1, g] = 1.0
    return m


def size_class(persons: np.ndarray) -> np.ndarray:
    """Index into ``SIZE_CLASSES`` of each population."""
    bounds = np.array([lo for lo, _ in SIZE_CLASSES[1:]])
    return np.searchsorted(bounds, np.asarray(persons), side="right")


def national_settlement() -> dict[int, float]:
    """Refugees settled in Norway per year (``[0000] refugees_settled``, IMDi)."""
    return dict(municipality_defaults().get(NORWAY, {}).get("refugees_settled", {}))


def settlement_plan(knr: str, cut: int, last: int, table: PopulationHistory,
                    settlement: str = "realised") -> dict[int, float]:
    """Settled refugees per projected year ``cut..last-1`` for a back-test.

    ``realised``: the kommune's own record if it has one (``municipalities.toml``), else the
    national settlement x its size-weighted share (``sim.inputs.settlement_share``) on
    1 January ``cut``. ``held``: the settlement of
    the year before ``cut`` (the same sources) in every projected year.
    """
    defaults = municipality_defaults().get(knr, {})
    own = defaults.get("refugees_settled")
    if own is None:
        share = settlement_share(table, knr, cut)
        source = {y: v * share for y, v in national_settlement().items()}
    else:
        source, _ = refugees_settled_history(knr, table, defaults)
    years = range(cut, last)
    if settlement == "held":
        return {y: float(source.get(cut - 1, 0.0)) for y in years}
    if settlement != "realised":
        raise InputError("validate", "settlement", f"{settlement!r}; allowed: realised, held")
    return {y: float(source.get(y, 0.0)) for y in years}


@dataclass(frozen=True)
class CountryBacktest:
    """Projected and observed age groups of every kommune for one jump-off.

    Arrays are [K, H+1, G]: kommuner, 1 January ``cut .. last``, ``EVAL_GROUPS``.
    """

    cut: int
    last: int
    knrs: tuple[str, ...]
    observed: np.ndarray
    forecasts: dict[str, np.ndarray]  # method -> [K, H+1, G]
    failed: list[tuple[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def horizons(self) -> np.ndarray:
        """Horizons 0..H (years after the jump-off)."""
        return np.arange(self.last - self.cut + 1)

    @property
    def base_total(self) -> np.ndarray:
        """[K] population on 1 January ``cut``."""
        return self.observed[:, 0, 0]

    @property
    def size(self) -> np.ndarray:
        """[K] size class index of each kommune."""
        return size_class(self.base_total)

    def error_pct(self, method: str = "model") -> np.ndarray:
        """[K, H+1, G] percentage errors (model - observed) / observed x 100 (NaN if obs 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.observed > 0,
                            (self.forecasts[method] - self.observed) / self.observed * 100.0,
                            np.nan)


def naive_forecasts(hist: np.ndarray, cut_index: int, horizon: int) -> dict[str, np.ndarray]:
    """The two naive baselines from group histories [K, T, G] (``cut_index`` = jump-off).

    Returns {"no change", "last growth"} each [K, H+1, G].
    """
    base = hist[:, cut_index]
    h = np.arange(horizon + 1)[None, :, None]
    same = np.repeat(base[:, None], horizon + 1, axis=1)
    k = min(NAIVE_YEARS, cut_index)
    past = hist[:, cut_index - k]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(past > 0, (base / past) ** (1.0 / k), 1.0) if k > 0 else np.ones_like(base)
    growth = base[:, None] * rate[:, None] ** h
    return {"no change": same, "last growth": growth}


def country_backtest(cut: int, last: int, knrs: Iterable[str] | None = None,
                     overrides: dict[str, Any] | Callable[[int], dict[str, Any]] | None = None,
                     settlement: str = "realised",
                     table: PopulationHistory | None = None) -> CountryBacktest:
    """Back-test every kommune (or ``knrs``) from 1 January ``cut`` to ``last``.

    ``overrides`` is a partial scenario dict (or a function of the jump-off year giving one)
    merged into each back-test scenario (to compare estimation rules). Kommuner whose scenario
    fails (too short a history) are listed in ``failed``.
    """
    t0 = time.perf_counter()
    table = table or embedded_population()
    knrs = tuple(knrs) if knrs is not None else tuple(k.number for k in kommuner())
    if callable(overrides):
        overrides = overrides(cut)
    groups = group_matrix()
    first_hist = max(int(table.years[0]), cut - NAIVE_YEARS)
    done, obs, model, naive, failed = [], [], [], [], []
    for knr in knrs:
        if SPLIT_HISTORIES.get(knr, 0) >= first_hist:
            failed.append((knr, f"history up to {SPLIT_HISTORIES[knr]} is a fixed share of a "
                                "kommune that was split"))
            continue
        have = set(table.years_of(knr))
        if not all(y in have for y in range(first_hist, last + 1)):
            failed.append((knr, f"needs populations {first_hist}..{last}"))
            continue
        data = {"name": f"back-test {cut}", "municipality": knr, "base_year": cut,
                "horizon": last,
                "refugees": {"settled_per_year": settlement_plan(knr, cut, last, table,
                                                                  settlement)}}
        if overrides:
            data = deep_merge(data, overrides)
        try:
            proj = project(resolve(make_scenario(data, f"back-test {knr}")))
        except InputError as exc:
            failed.append((knr, exc.line()))
            continue
        hist = table.history(knr, first_hist, last).sum(axis=1) @ groups   # [T, G]
        done.append(knr)
        obs.append(hist[cut - first_hist :])
        model.append(proj.population.sum(axis=(1, 2)) @ groups)
        naive.append(hist)
    observed = np.stack(obs)
    hist = np.stack(naive)
    forecasts = {"model": np.stack(model),
                 **naive_forecasts(hist[:, : cut - first_hist + 1], cut - first_hist,
                                   last - cut)}
    return CountryBacktest(cut, last, tuple(done), observed, forecasts, failed,
                           {"overrides": overrides or {}, "settlement": settlement},
                           time.perf_counter() - t0)


@dataclass(frozen=True)
class Summary:
    """Error statistics at one horizon by size class (last row: all kommuner).

    Arrays are [M, C+1, G]: methods (``METHODS``), size classes + all, groups.
    """

    horizon: int
    n: np.ndarray        # [C+1] kommuner per class
    mape: np.ndarray
    mdape: np.ndarray
    bias: np.ndarray     # mean signed percentage error
    within: np.ndarray   # [M, C+1] share of kommuner with |total error| <= WITHIN_PCT
    too_low: np.ndarray  # [M, C+1] share of kommuner whose total is too low


def summary(bt: CountryBacktest, horizon: int) -> Summary:
    """MAPE, median APE, bias and share within 5 % at ``horizon`` by size class."""
    cls = bt.size
    n_cls = len(SIZE_CLASSES)
    masks = [cls == c for c in range(n_cls)] + [np.ones(len(cls), dtype=bool)]
    shape = (len(METHODS), n_cls + 1, len(EVAL_GROUPS))
    mape, mdape, bias = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    within = np.full(shape[:2], np.nan)
    low = np.full(shape[:2], np.nan)
    for m, method in enumerate(METHODS):
        err = bt.error_pct(method)[:, horizon]          # [K, G]
        for c, mask in enumerate(masks):
            if not mask.any():
                continue
            e = err[mask]
            mape[m, c] = np.nanmean(np.abs(e), axis=0)
            mdape[m, c] = np.nanmedian(np.abs(e), axis=0)
            bias[m, c] = np.nanmean(e, axis=0)
            within[m, c] = np.mean(np.abs(e[:, 0]) <= WITHIN_PCT)
            low[m, c] = np.mean(e[:, 0] < 0)
    return Summary(horizon, np.array([m.sum() for m in masks]), mape, mdape, bias, within, low)


ROLLING_CUTS = tuple(range(2007, 2024))
"""Jump-off years of the rolling-origin back-tests (2007: the first with two years before)."""
MAX_HORIZON = 10


BYDEL_KOMMUNER = ("0301", "4601", "1103", "5001")
"""Oslo, Bergen, Stavanger, Trondheim: the kommuner with built-in bydeler (SSB 10826)."""
BYDELER_SINCE = {"1103": 2020}
"""Stavanger's bydeler Finnøy and Rennesøy (kommuner merged into it in 2020) are empty before
2020: its bydel back-tests estimate from 2020 on and need a jump-off of 2022 or later."""


@dataclass(frozen=True)
class ZoneBacktest:
    """Projected and observed totals of every bydel for one jump-off.

    Arrays are [Z, H+1] over 1 January ``cut .. last``; ``remainder`` marks the zones holding
    residents without a bydel (their jumps are reclassifications, reported apart).
    """

    cut: int
    last: int
    kommune: tuple[str, ...]
    zone: tuple[str, ...]
    remainder: np.ndarray
    observed: np.ndarray
    forecasts: dict[str, np.ndarray]

    def error_pct(self, method: str = "model") -> np.ndarray:
        """[Z, H+1] percentage errors."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.observed > 0, (self.forecasts[method] - self.observed)
                            / self.observed * 100.0, np.nan)


def bydel_backtest(cut: int, last: int, knrs: Iterable[str] = BYDEL_KOMMUNER,
                   table: PopulationHistory | None = None) -> ZoneBacktest:
    """Back-test the built-in bydeler: zones estimated from their own histories up to ``cut``.

    The scenario is the kommune's default with ``[zones] source = "bydeler"``, base year ``cut``
    and the realised settlement (``settlement_plan``); the baselines continue each zone's own
    size and growth.
    """
    from sim.demography.zones import builtin_zones

    table = table or embedded_population()
    kom, names, rem, obs, model = [], [], [], [], []
    naive: dict[str, list[np.ndarray]] = {"no change": [], "last growth": []}
    first_hist = max(int(table.years[0]), cut - NAIVE_YEARS)
    for knr in knrs:
        data = {"name": f"bydel back-test {cut}", "municipality": knr, "base_year": cut,
                "horizon": last, "zones": {"source": "bydeler"},
                "refugees": {"settled_per_year": settlement_plan(knr, cut, last, table)}}
        since = BYDELER_SINCE.get(knr)
        if since is not None:
            if cut - since < 2:
                continue
            data["migration"] = {"estimation_years": [max(since, cut - 5), cut]}
        proj = project(resolve(make_scenario(data, f"bydel back-test {knr}")))
        zones = builtin_zones(knr, cut, table, "bydel back-test")
        hist = np.stack([zones.zone_history(z, first_hist, last).sum(axis=(1, 2))
                         for z in range(len(zones.names))])             # [Z, T]
        k = cut - first_hist
        for key, arr in naive_forecasts(hist[:, : k + 1, None], k, last - cut).items():
            naive[key].append(arr[:, :, 0])
        obs.append(hist[:, k:])
        model.append(proj.population.sum(axis=(2, 3)).T)                 # [Z, H+1]
        kom += [knr] * len(zones.names)
        names += list(zones.names)
        rem += [zones.remainder and z == len(zones.names) - 1 for z in range(len(zones.names))]
    return ZoneBacktest(cut, last, tuple(kom), tuple(names), np.array(rem), np.concatenate(obs),
                        {"model": np.concatenate(model),
                         **{k: np.concatenate(v) for k, v in naive.items()}})
