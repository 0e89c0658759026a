"""Rolling-origin calibration and check of the prediction intervals (``sim.intervals``).

For every jump-off year ``c`` (``calibration.country.ROLLING_CUTS``) and kommune, the point
projection and the simulated spread of its indicators are computed with data up to ``c`` only:
estimation window ending at ``c``, settlement of the year before ``c`` held (``settlement =
"held"``; the interval's refugee term is the uncertainty about it), volatilities from history
up to ``c``. The empirical scales used for jump-off ``c`` are fitted only on back-tests that
had ended by then (jump-off ``c'`` and horizon ``h`` with ``c' + h <= c``), so the interval
checked against 1 January ``c + h`` used nothing after ``c`` (``real_time_intervals``).

The production scales (``sim/intervals/scales.json``) are fitted on every back-test that has
ended by the last data year (``production_scales``).

A naive interval to compare with: the "no change" forecast with the quantiles of the past
"no change" errors (same cells, same real-time rule).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from calibration.common import make_scenario
from calibration.country import (
    MAX_HORIZON,
    ROLLING_CUTS,
    SPLIT_HISTORIES,
    settlement_plan,
)
from sim.cohort.engine import project
from sim.data.kommuner import kommuner
from sim.data.population import PopulationHistory, embedded_population, municipality_defaults
from sim.demography import age_group_weights
from sim.demography.pooling import size_class
from sim.errors import InputError
from sim.inputs import refugees_settled_history, resolve
from sim.intervals import PROBS, indicator_weights, simulate
from sim.intervals.process import kommune_volatility
from sim.intervals.scales import GROUPS, LEVELS, Scales, fit_scales, unit_scales

CHECK_CUTS = tuple(range(2010, 2023))
"""Jump-offs whose intervals are checked (earlier ones only feed the first scales)."""
VALIDATION_PATHS = 400
"""Paths per back-test (the coverage statistics pool thousands of back-tests)."""
SEED = 20240101


@dataclass(frozen=True)
class Records:
    """Back-test records of the interval check, one row per kommune and jump-off.

    Arrays: ``observed``/``point`` [N, H+1, G] over horizons 0..H and ``GROUPS``;
    ``qdev`` [N, P, H+1, G] simulated log-deviation quantiles at ``PROBS`` (unscaled);
    ``naive`` [N, H+1, G] the "no change" forecast; NaN beyond a back-test's last year.
    """

    knr: np.ndarray
    cut: np.ndarray
    size: np.ndarray
    observed: np.ndarray
    point: np.ndarray
    qdev: np.ndarray
    naive: np.ndarray
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0

    def log_error(self, forecast: np.ndarray | None = None) -> np.ndarray:
        """[N, H+1, G] ``log(observed / forecast)`` (the point by default)."""
        f = self.point if forecast is None else forecast
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((self.observed > 0) & (f > 0), np.log(self.observed / f), np.nan)

    def select(self, mask: np.ndarray) -> Records:
        """The records where ``mask`` is True."""
        return Records(self.knr[mask], self.cut[mask], self.size[mask], self.observed[mask],
                       self.point[mask], self.qdev[mask], self.naive[mask], self.failed,
                       self.seconds)


def interval_records(cuts: Iterable[int] = ROLLING_CUTS, knrs: Iterable[str] | None = None,
                     n_paths: int = VALIDATION_PATHS, max_horizon: int = MAX_HORIZON,
                     table: PopulationHistory | None = None) -> Records:
    """Point projections and simulated spreads for every kommune and jump-off (no peeking)."""
    t0 = time.perf_counter()
    table = table or embedded_population()
    last_year = int(table.years[-1])
    knrs = tuple(knrs) if knrs is not None else tuple(k.number for k in kommuner())
    names, weights, mix = indicator_weights()
    groups = np.concatenate([age_group_weights().sum(axis=2, keepdims=True),
                             age_group_weights()], axis=2)           # [2, A, G]
    n_h = max_horizon + 1
    rows: dict[str, list] = {k: [] for k in ("knr", "cut", "size", "obs", "point", "qdev",
                                             "naive")}
    failed = []
    for cut in cuts:
        last = min(cut + max_horizon, last_year)
        for knr in knrs:
            if SPLIT_HISTORIES.get(knr, 0) >= cut - 5:
                failed.append((knr, cut, "history is a fixed share of a split kommune"))
                continue
            have = set(table.years_of(knr))
            if not all(y in have for y in range(max(cut - 2, int(table.years[0])), last + 1)):
                failed.append((knr, cut, "too short a history"))
                continue
            data = {"name": f"interval back-test {cut}", "municipality": knr,
                    "base_year": cut, "horizon": last,
                    "refugees": {"settled_per_year": settlement_plan(knr, cut, last, table,
                                                                      "held")}}
            try:
                inputs = resolve(make_scenario(data, f"interval back-test {knr}"))
            except InputError as exc:
                failed.append((knr, cut, exc.line()))
                continue
            proj = project(inputs)
            w0, w1 = inputs.parameters["estimation_window"]
            settled, _ = refugees_settled_history(knr, table,
                                                  municipality_defaults().get(knr, {}))
            vol = kommune_volatility(table, knr, cut,
                                     float(np.sum(inputs.parameters["births_estimation_window"])),
                                     w1 - w0, settled)
            _, qdev, _ = simulate(inputs, proj, vol, unit_scales(), weights, mix, n_paths,
                                  SEED)
            obs = np.full((n_h, len(GROUPS)), np.nan)
            obs[: last - cut + 1] = table.history(knr, cut, last) .reshape(
                last - cut + 1, -1) @ groups.reshape(-1, len(GROUPS))
            point = np.full_like(obs, np.nan)
            point[: last - cut + 1] = np.einsum("ysa,sag->yg", proj.population[:, 0], groups)
            q = np.full((len(PROBS), n_h, len(GROUPS)), np.nan)
            q[:, : last - cut + 1] = qdev[:, :, -1, : len(GROUPS)]
            rows["knr"].append(knr)
            rows["cut"].append(cut)
            rows["size"].append(int(size_class(obs[0, 0])))
            rows["obs"].append(obs)
            rows["point"].append(point)
            rows["qdev"].append(q)
            rows["naive"].append(np.where(np.isnan(obs), np.nan, obs[:1]))
    assert names[: len(GROUPS)] == GROUPS
    return Records(np.array(rows["knr"]), np.array(rows["cut"]), np.array(rows["size"]),
                   np.stack(rows["obs"]), np.stack(rows["point"]), np.stack(rows["qdev"]),
                   np.stack(rows["naive"]), failed, time.perf_counter() - t0)


def _flatten(rec: Records, until: int, forecast: np.ndarray | None = None):
    """Per (record, horizon) rows of the back-tests ended by ``until``.

    Returns err [M, G], lo/hi [M, L, G], size [M], horizon [M].
    """
    err = rec.log_error(forecast)
    n, n_h, _ = err.shape
    h = np.broadcast_to(np.arange(n_h), (n, n_h))
    ended = (rec.cut[:, None] + h <= until) & (h >= 1) & ~np.isnan(err[:, :, 0])
    idx = np.nonzero(ended)
    lo = np.stack([rec.qdev[:, PROBS.index(round((1 - lv) / 2, 2))] for lv in LEVELS], axis=1)
    hi = np.stack([rec.qdev[:, PROBS.index(round((1 + lv) / 2, 2))] for lv in LEVELS], axis=1)
    return (err[idx], lo[idx[0], :, idx[1]], hi[idx[0], :, idx[1]], rec.size[idx[0]],
            h[idx])


def scales_until(rec: Records, until: int) -> Scales:
    """Scales fitted on the back-tests that had ended by 1 January ``until``."""
    err, lo, hi, size, h = _flatten(rec, until)
    return fit_scales(err, lo, hi, size, h, {"fitted_on_backtests_ended_by": until,
                                             "records": int(len(err))})


def naive_quantiles_until(rec: Records, until: int) -> np.ndarray:
    """Quantiles [L, 2, C, G, H] of past log errors of "no change" (ended by ``until``).

    Cells with fewer than 30 errors pool the size classes; later horizons keep the last.
    """
    from sim.intervals.scales import HORIZONS, MIN_RECORDS

    err = rec.log_error(rec.naive)
    n, n_h, n_g = err.shape
    h = np.broadcast_to(np.arange(n_h), (n, n_h))
    ended = (rec.cut[:, None] + h <= until) & (h >= 1) & ~np.isnan(err[:, :, 0])
    out = np.full((len(LEVELS), 2, 5, n_g, HORIZONS), np.nan)
    for hz in range(1, HORIZONS + 1):
        at = ended & (h == hz)
        for c in range(5):
            sel = at & (rec.size[:, None] == c)
            use = sel if sel.sum() >= MIN_RECORDS else at
            if use.sum() < MIN_RECORDS:
                continue
            e = err[use]
            for li, lv in enumerate(LEVELS):
                out[li, 0, c, :, hz - 1] = np.nanquantile(e, (1 - lv) / 2, axis=0)
                out[li, 1, c, :, hz - 1] = np.nanquantile(e, (1 + lv) / 2, axis=0)
    for hz in range(1, HORIZONS):
        gap = np.isnan(out[..., hz])
        out[..., hz][gap] = out[..., hz - 1][gap]
    return out


@dataclass(frozen=True)
class Check:
    """Real-time intervals of the checked jump-offs against what was observed.

    Arrays are [N, L, H+1, G] (records of ``CHECK_CUTS``, ``LEVELS``, horizons, ``GROUPS``):
    lower/upper bounds of the model's and the naive intervals; NaN where not observed.
    """

    rec: Records
    lower: np.ndarray
    upper: np.ndarray
    naive_lower: np.ndarray
    naive_upper: np.ndarray

    def covered(self, naive: bool = False) -> np.ndarray:
        """[N, L, H+1, G] 1.0 where the observed value is inside, NaN where unknown."""
        lo, hi = (self.naive_lower, self.naive_upper) if naive else (self.lower, self.upper)
        y = self.rec.observed[:, None]
        out = ((lo <= y) & (y <= hi)).astype(float)
        out[np.isnan(y + lo)] = np.nan
        return out

    def width_pct(self, naive: bool = False) -> np.ndarray:
        """[N, L, H+1, G] interval width in % of the point (naive: of the jump-off value)."""
        lo, hi = (self.naive_lower, self.naive_upper) if naive else (self.lower, self.upper)
        ref = self.rec.naive if naive else self.rec.point
        with np.errstate(divide="ignore", invalid="ignore"):
            return (hi - lo) / ref[:, None] * 100.0

    def interval_score_pct(self, naive: bool = False) -> np.ndarray:
        """[N, L, H+1, G] interval score in % of the observed value.

        Gneiting & Raftery (2007): width + (2 / alpha) x distance outside, alpha = 1 - level.
        """
        lo, hi = (self.naive_lower, self.naive_upper) if naive else (self.lower, self.upper)
        y = self.rec.observed[:, None]
        alpha = (1.0 - np.asarray(LEVELS))[None, :, None, None]
        score = (hi - lo) + 2 / alpha * np.clip(lo - y, 0, None) + 2 / alpha * np.clip(
            y - hi, 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            return score / y * 100.0


def real_time_intervals(rec: Records, cuts: Iterable[int] = CHECK_CUTS) -> Check:
    """Scale each checked jump-off's simulated spread with scales fitted before it."""
    cuts = tuple(cuts)
    keep = np.isin(rec.cut, cuts)
    sub = rec.select(keep)
    n, _, n_h, n_g = sub.qdev.shape
    shape = (n, len(LEVELS), n_h, n_g)
    lower, upper = np.full(shape, np.nan), np.full(shape, np.nan)
    nlo, nhi = np.full(shape, np.nan), np.full(shape, np.nan)
    for cut in cuts:
        rows = np.nonzero(sub.cut == cut)[0]
        if not len(rows):
            continue
        scales = scales_until(rec, cut)
        naive_q = naive_quantiles_until(rec, cut)
        for li, lv in enumerate(LEVELS):
            qlo = sub.qdev[rows, PROBS.index(round((1 - lv) / 2, 2))]     # [r, H+1, G]
            qhi = sub.qdev[rows, PROBS.index(round((1 + lv) / 2, 2))]
            lam = scales.lam[li][sub.size[rows]]                         # [r, G, Hs]
            lam_h = np.ones((len(rows), n_h, n_g))
            hs = np.minimum(np.arange(1, n_h), lam.shape[2]) - 1
            lam_h[:, 1:] = np.transpose(lam[:, :, hs], (0, 2, 1))
            lower[rows, li] = sub.point[rows] * np.exp(lam_h * qlo)
            upper[rows, li] = sub.point[rows] * np.exp(lam_h * qhi)
            nq = naive_q[li][:, sub.size[rows]]                          # [2, r, G, Hs]
            nq_h = np.zeros((2, len(rows), n_h, n_g))
            nq_h[:, :, 1:] = np.transpose(nq[:, :, :, hs], (0, 1, 3, 2))
            nlo[rows, li] = sub.naive[rows] * np.exp(nq_h[0])
            nhi[rows, li] = sub.naive[rows] * np.exp(nq_h[1])
    return Check(sub, lower, upper, nlo, nhi)


def production_scales(rec: Records, until: int) -> Scales:
    """The scales for ``run --intervals``: fitted on every back-test ended by ``until``."""
    scales = scales_until(rec, until)
    cuts = sorted(set(rec.cut.tolist()))
    return Scales(scales.lam, {**scales.info, "source": "calibration.intervals (kommunesim "
                               "validate --all --intervals)", "jump_offs": [cuts[0], cuts[-1]],
                               "kommuner": int(len(set(rec.knr.tolist())))})
