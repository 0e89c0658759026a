"""Pooling across kommuner: a small kommune's estimates pulled toward its size class.

Crude yearly net migration and fertility of every kommune, and empirical-Bayes shrinkage of
one kommune's estimates toward its size class.

A small kommune's five-year net migration and fertility are noisy: 40 in-migrants more or
less in a year of a 1,000-person kommune is 4 % in five years. Its window mean predicts its
future poorly (the country-wide back-tests, ``calibration/country.py``), so its estimate is
pulled toward the mean of kommuner of its size, the more the noisier it is
(James-Stein / empirical Bayes):

    rate' = mu_c + w (rate - mu_c),   w = tau_c^2 / (tau_c^2 + s^2),

with ``s^2`` the sampling variance of the kommune's own window mean (its own year-to-year
variance over up to ``VOLATILITY_YEARS`` years, divided by the window's years) and ``tau_c^2``
the variance of the true means across the kommuner of its size class (the variance of their
window means less their mean sampling variance). Fertility is pooled the same way on the log
of its level, with Poisson sampling variance ``1 / births``.

Crude yearly figures (one formula for every kommune, from the embedded SSB populations and
Norway's HMD death rates of the year; no published accounts):

    net[y]   = P[y+1] - P[y] + D[y] - P0[y+1] - R[y]     (persons)
    D[y]     = sum_x q_Norway[y, s, x] * A[y, s, x]   (deaths expected at national rates)
    births~  = P0[y+1]                            (the 0-year-olds on 1 January y+1)
    expected = sum_x phi_Norway[y, x] * A_women[y, x]  (births at Norway's TFR of year y)

where ``A`` is the population of 1 January ``y`` aged on (``ageing.age_on``), ``P0`` the
0-year-olds and ``R`` the refugees settled (Norway's settlement times ``settlement_share``):
refugees are a separate input of the projection, so they are not part of the net migration
pooled here. The crude figures are also the kommune's own volatility the prediction intervals
use (``sim.intervals``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np

from sim.demography import fertility as fert
from sim.demography import mortality as mort
from sim.demography.ageing import age_on

SIZE_CLASSES = ((0, 2_000), (2_000, 5_000), (5_000, 20_000), (20_000, 50_000),
                (50_000, 10**9))
"""Kommune size classes by population on 1 January of the base year: [lower, upper)."""
SIZE_LABELS = ("under 2 000", "2 000–4 999", "5 000–19 999", "20 000–49 999", "50 000 og over")
POOL_BELOW = 5_000
"""Kommuner of fewer inhabitants (on 1 January of the base year) are pooled; for larger ones
pooling did not improve the back-tests (``calibration/out/country_validation.md``)."""
SETTLEMENT_SIZE_ELASTICITY = 0.73
"""Refugees settled per kommune ~ population ** 0.73: the exponent at which the four largest
kommuner settle 0.3 % of their population in 2022 with Norway's total (SOURCES.md, "National
refugee settlement"); smaller kommuner settle more per head."""
VOLATILITY_YEARS = 10
"""Years of the kommune's own history its year-to-year variance is taken from."""
TAU_FLOOR = 0.05
"""tau_c^2 is at least this share of the variance of the window means (never shrink fully)."""
_enabled = [True]


def size_class(persons: np.ndarray | float) -> np.ndarray:
    """Index into ``SIZE_CLASSES`` of each population."""
    bounds = np.array([lo for lo, _ in SIZE_CLASSES[1:]])
    return np.searchsorted(bounds, np.asarray(persons), side="right")


@contextmanager
def disabled():
    """Within the block, ``sim.inputs`` uses the kommune's own estimates unpooled."""
    _enabled[0] = False
    try:
        yield
    finally:
        _enabled[0] = True


def enabled() -> bool:
    """True unless inside ``disabled()``."""
    return _enabled[0]


def national_settled(year: int) -> float:
    """Refugees settled in Norway in ``year`` (``[0000] refugees_settled``; 0 if not listed)."""
    from sim.data.population import NORWAY, municipality_defaults

    return float(municipality_defaults().get(NORWAY, {}).get("refugees_settled", {})
                 .get(year, 0.0))


def settlement_share(persons: float, year: int) -> float:
    """A kommune's share of Norway's refugee settlement in ``year`` from its population.

    ``persons ** SETTLEMENT_SIZE_ELASTICITY`` over the same summed over the 357 embedded
    kommuner in ``year`` (their last year when ``year`` is later); the shares add up to 1.
    """
    return float(persons ** SETTLEMENT_SIZE_ELASTICITY / _settlement_weight_sum(year))


@cache
def _settlement_weight_sum(year: int) -> float:
    from sim.data.kommuner import kommuner
    from sim.data.population import embedded_population

    emb = embedded_population()
    y = min(max(year, int(emb.years[0])), int(emb.years[-1]))
    return float(sum(emb.array(k.number, y).sum() ** SETTLEMENT_SIZE_ELASTICITY
                     for k in kommuner()))


@cache
def _national_q(year: int) -> np.ndarray:
    """Cohort death probabilities [2, 106] of Norway in ``year`` (HMD; 2023 after 2023)."""
    y = min(max(year, 1990), mort.hmd_mx().year.max())
    return mort.death_probabilities(mort.base_mx(int(y), int(y))[None])[0]


@cache
def _national_phi(year: int) -> np.ndarray:
    """Births per woman by cohort age [106] at Norway's observed TFR of ``year``."""
    y = min(year, max(fert.PUBLISHED_TFR))
    return fert.cohort_age_rates(fert.national_tfr(y) * fert.national_schedule(2018, 2022))


def crude_flows(pops: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crude yearly net migration, births and expected births from populations.

    Args:
        pops: [..., T+1, 2, A] populations on 1 January ``first .. first+T``.
        first: the first year.

    Returns:
        (net, births, expected), each [..., T] for the transition years ``first .. first+T-1``.
    """
    n_trans = pops.shape[-3] - 1
    years = range(first, first + n_trans)
    q = np.stack([_national_q(y) for y in years])          # [T, 2, A]
    phi = np.stack([_national_phi(y) for y in years])      # [T, A]
    aged = age_on(pops[..., :-1, :, :])
    deaths = (q * aged).sum(axis=(-2, -1))
    births = pops[..., 1:, :, 0].sum(axis=-1)
    total = pops.sum(axis=(-2, -1))
    net = total[..., 1:] - total[..., :-1] + deaths - births
    expected = (phi * aged[..., 1, :]).sum(axis=-1)
    return net, births, expected


@dataclass(frozen=True)
class CrudeHistory:
    """Crude yearly figures of every embedded kommune (``crude_history``).

    Arrays are [K, T] over the transition years ``years``; NaN where a year is missing.
    """

    codes: tuple[str, ...]
    years: np.ndarray
    population: np.ndarray    # [K, T+1] persons on 1 January years[0] .. years[-1] + 1
    net: np.ndarray           # net migration without the settled refugees
    births: np.ndarray
    expected: np.ndarray

    @cached_property
    def net_rate(self) -> np.ndarray:
        """[K, T] net migration (settled refugees excluded) per inhabitant on 1 January."""
        return self.net / self.population[:, :-1]


@cache
def crude_history() -> CrudeHistory:
    """Crude yearly net migration and births of the 357 embedded kommuner (computed once)."""
    from sim.data.kommuner import kommuner
    from sim.data.population import embedded_population

    table = embedded_population()
    codes = tuple(k.number for k in kommuner())
    rows = [table.row(c) for c in codes]
    pops = table.persons[rows]
    present = table.present[rows]
    first = int(table.years[0])
    net, births, expected = crude_flows(pops, first)
    missing = ~(present[:, 1:] & present[:, :-1])
    for arr in (net, births, expected):
        arr[missing] = np.nan
    population = pops.sum(axis=(2, 3))
    population[~present] = np.nan
    years = table.years[:-1]
    settled = np.stack([national_settled(int(y)) * np.nan_to_num(population[:, i])
                        ** SETTLEMENT_SIZE_ELASTICITY / _settlement_weight_sum(int(y))
                        for i, y in enumerate(years)], axis=1)
    return CrudeHistory(codes, years, population, net - settled, births, expected)


@dataclass(frozen=True)
class Pooled:
    """A kommune's pooled estimate: ``value' = prior + weight * (own - prior)``."""

    own: float
    prior: float
    weight: float

    @property
    def value(self) -> float:
        """The pooled value."""
        return self.prior + self.weight * (self.own - self.prior)


def _pool(own: float, own_var: float, means: np.ndarray, variances: np.ndarray) -> Pooled:
    """Empirical-Bayes pooling of ``own`` (sampling variance ``own_var``) toward ``means``."""
    ok = np.isfinite(means) & np.isfinite(variances)
    means, variances = means[ok], variances[ok]
    if len(means) < 3 or not np.isfinite(own) or not np.isfinite(own_var):
        return Pooled(own, own, 1.0)
    between = float(np.var(means, ddof=1))
    tau2 = max(between - float(np.mean(variances)), TAU_FLOOR * between)
    weight = tau2 / (tau2 + own_var) if tau2 + own_var > 0 else 1.0
    return Pooled(own, float(np.mean(means)), weight)


def _window_index(crude: CrudeHistory, first: int, last: int) -> slice:
    i0 = int(np.searchsorted(crude.years, first))
    return slice(i0, i0 + (last - first))


def net_rates(pops: np.ndarray, first: int, settled: np.ndarray) -> np.ndarray:
    """[T] crude yearly net migration rates without the settled refugees ``settled`` [T]."""
    net, _, _ = crude_flows(pops, first)
    return (net - settled) / pops[:-1].sum(axis=(1, 2))


def pooled_net_rate(pops: np.ndarray, first: int, history: np.ndarray,
                    settled_history: np.ndarray) -> Pooled:
    """Pooled mean net migration rate (per inhabitant and year, refugees excluded) of a window.

    Args:
        pops: [T+1, 2, A] the kommune's populations on 1 January ``first .. first+T``.
        first: first year of the window.
        history: [H+1, 2, A] a history ending at the window's last year (at least the
            window) for its own year-to-year variance; its last ``VOLATILITY_YEARS`` used.
        settled_history: [H] refugees settled in the transition years of ``history``.
    """
    last = first + pops.shape[0] - 1
    n_win = pops.shape[0] - 1
    hrates = net_rates(history, last - (history.shape[0] - 1), settled_history)
    rate = hrates[-n_win:]
    hrate = hrates[-VOLATILITY_YEARS:]
    own_var = float(np.var(hrate, ddof=1)) / len(rate) if len(hrate) > 1 else np.nan
    crude = crude_history()
    win = _window_index(crude, first, last)
    cls = size_class(pops[-1].sum())
    members = size_class(crude.population[:, win.stop]) == cls
    rates = crude.net_rate[:, win]
    members &= np.all(np.isfinite(rates), axis=1)
    vol = _volatility(crude, last)[members]
    return _pool(float(rate.mean()), own_var, rates[members].mean(axis=1),
                 vol / (last - first))


def _volatility(crude: CrudeHistory, last: int) -> np.ndarray:
    """[K] variance of each kommune's yearly net rate over up to VOLATILITY_YEARS before last."""
    stop = int(np.searchsorted(crude.years, last))
    start = max(0, stop - VOLATILITY_YEARS)
    r = crude.net_rate[:, start:stop]
    n = np.isfinite(r).sum(axis=1)
    mean = np.where(n > 0, np.nansum(r, axis=1) / np.maximum(n, 1), 0.0)
    ss = np.nansum((r - mean[:, None]) ** 2, axis=1)
    return np.where(n > 1, ss / np.maximum(n - 1, 1), np.nan)


def pooled_log_fertility(pops: np.ndarray, first: int) -> Pooled:
    """Pooled log of the crude fertility level (births / births at Norway's TFR) of a window."""
    last = first + pops.shape[0] - 1
    _, births, expected = crude_flows(pops, first)
    b = float(births.sum())
    if b <= 0 or expected.sum() <= 0:
        return Pooled(np.nan, np.nan, 1.0)
    crude = crude_history()
    win = _window_index(crude, first, last)
    cls = size_class(pops[-1].sum())
    members = size_class(crude.population[:, win.stop]) == cls
    cb = np.nansum(crude.births[members, win], axis=1)
    ce = np.nansum(crude.expected[members, win], axis=1)
    ok = (cb > 0) & (ce > 0)
    return _pool(float(np.log(b / expected.sum())), 1.0 / b, np.log(cb[ok] / ce[ok]),
                 1.0 / cb[ok])
