"""The uncertain inputs: volatilities and serially correlated multiplier paths.

Volatilities come from the data up to the base year; the paths are per-year multipliers
(``METHOD.md``, sections 1-2).

Every multiplier is ``exp(x)`` with ``x`` centred on 0, so the zero path is the point
projection. Volatilities use nothing after the base year:

* migration: Norway's yearly net migration rate (shared by all kommuner, persistent) and the
  kommune's own year-to-year deviation beyond it (crude rates, ``sim.demography.pooling``,
  over up to ``VOLATILITY_YEARS`` years; persistence ``rho`` pooled over all kommuner), around
  a level whose own error is the sampling error of the estimation window's mean;
* fertility: Norway's yearly log change of the TFR (a random walk with an uncertain drift)
  and the kommune's level (Poisson noise of its births in the estimation window);
* mortality: the error of Norway's trend in log death rates at ages 60-94 (growing with the
  horizon), the yearly noise around it, and the kommune's level (``LOCAL_MORTALITY_SD``);
* refugees: log settlement around the plan, an AR(1) with the sd and persistence of Norway's
  log settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from sim.data.population import NORWAY, PopulationHistory, municipality_defaults
from sim.demography import fertility as fert
from sim.demography import mortality as mort
from sim.demography import pooling
from sim.resolved import ResolvedInputs

HISTORY_YEARS = 20
"""National series (TFR, mortality, settlement) use at most the last 20 years."""
LOCAL_MORTALITY_SD = 0.10
"""ASSUMPTION: sd of a kommune's mortality level around Norway's (no deaths by kommune in the
package); the empirical scales (``scales.py``) correct the resulting spread of the old."""
MIN_YEARS = 3
DRIFT_YEARS = 10
"""The TFR's drift (and the mortality trend's error) act over at most this many years: they
are persistent changes measured over five to twenty years, not for a generation."""
"""Fewest yearly rates a kommune's own volatility is taken from (else its size class median)."""


@dataclass(frozen=True)
class Volatility:
    """Standard deviations of the uncertain inputs (log or rate units).

    Attributes:
        net_rate: sd of the kommune's own yearly net migration deviation (persons per
            inhabitant and year) beyond Norway's, AR(1) with lag-1 correlation ``rho``.
        net_level: sd of the error of the estimated level itself (the window mean), constant
            over the horizon.
        rho: lag-1 autocorrelation of the kommune's own deviation (0 <= rho <= 0.9).
        national_rate: sd of Norway's yearly net migration rate, shared by every kommune,
            AR(1) with lag-1 correlation ``national_rho``.
        national_rho: its lag-1 autocorrelation.
        tfr: sd of the yearly change of log national TFR (random walk).
        tfr_drift: sd of a persistent yearly drift of log national TFR (the excess of its
            five-year mean changes over what the random walk alone gives).
        fertility_level: sd of log of the kommune's fertility level (constant).
        mortality_trend: sd of the error of the yearly log improvement of death rates (the
            deviation grows linearly with the horizon).
        mortality_noise: sd of the yearly log death rates around their trend (independent).
        mortality_level: sd of log of the kommune's mortality level (constant).
        refugees: sd of log settlement around the plan (AR(1) from 0, lag-1 correlation
            ``refugees_rho``).
    """

    net_rate: float
    net_level: float
    rho: float
    national_rate: float
    national_rho: float
    tfr: float
    tfr_drift: float
    fertility_level: float
    mortality_trend: float
    mortality_noise: float
    mortality_level: float
    refugees: float
    refugees_rho: float

    def scaled(self, factor: float) -> Volatility:
        """Every sd times ``factor`` (0 gives the point projection); correlations kept."""
        return Volatility(*(v * factor if not k.endswith("rho") else v
                            for k, v in self.__dict__.items()))


def _log_ar1(values: dict[int, float], last: int) -> tuple[float, float]:
    """(sd, lag-1 autocorrelation) of the log of a yearly series up to ``last``."""
    years = sorted(y for y in values if last - HISTORY_YEARS <= y <= last and values[y] > 0)
    x = np.log([values[y] for y in years])
    d = x - x.mean() if len(x) else x
    if len(x) < 4 or not (d * d).sum() > 0:
        return 0.0, 0.0
    rho = float((d[1:] * d[:-1]).sum() / (d * d).sum())
    return float(np.std(x, ddof=1)), min(max(rho, 0.0), 0.9)


def _trend_errors(series, last: int) -> tuple[float, float]:
    """(standard error of the slope, residual sd) of a linear trend fitted up to ``last``."""
    s = series[(series.index <= last) & (series.index >= last - HISTORY_YEARS)]
    if len(s) < 4:
        return 0.0, 0.0
    t = s.index.to_numpy(dtype=float)
    coef = np.polyfit(t, s.to_numpy(), 1)
    resid = s.to_numpy() - np.polyval(coef, t)
    sd = float(np.std(resid, ddof=2))
    return sd / float(np.sqrt(((t - t.mean()) ** 2).sum())), sd


def _tfr_volatility(last: int) -> tuple[float, float]:
    """(random-walk step sd, drift sd) of log national TFR from 1990 to ``last``."""
    x = np.log([fert.national_tfr(y) for y in range(1990, min(last, 2024) + 1)])
    steps = np.diff(x)
    if len(steps) < 6:
        return 0.0, 0.0
    step = float(np.std(steps, ddof=1))
    five = (x[5:] - x[:-5]) / 5.0
    return step, float(np.sqrt(max(np.mean(five**2) - step**2 / 5.0, 0.0)))


def _national_net(base_year: int) -> tuple[float, float]:
    """(sd, lag-1 autocorrelation) of Norway's crude yearly net migration rate.

    Over the years up to ``base_year`` (at most ``HISTORY_YEARS``).
    """
    from sim.data.population import embedded_population

    table = embedded_population()
    have = table.years_of(NORWAY)
    first = max(have[0], base_year - HISTORY_YEARS)
    last = min(base_year, have[-1])
    if last - first < 4:
        return 0.0, 0.0
    pops = table.history(NORWAY, first, last)
    settled = np.array([pooling.national_settled(y) for y in range(first, last)])
    r = pooling.net_rates(pops, first, settled)
    d = r - r.mean()
    rho = float((d[1:] * d[:-1]).sum() / (d * d).sum()) if (d * d).sum() > 0 else 0.0
    return float(np.std(r, ddof=1)), min(max(rho, 0.0), 0.9)


@cache
def national_volatility(base_year: int) -> dict[str, float]:
    """National volatilities for a projection from ``base_year``.

    From series up to ``base_year - 1`` (TFR, mortality, refugees) and up to ``base_year``
    (net migration; the pooled persistence of kommuner's own rates).
    """
    last = base_year - 1
    tfr, drift = _tfr_volatility(last)
    hmd = mort.hmd_mx()
    old = hmd[(hmd.age >= 60) & (hmd.age < 95)]
    trend, noise = _trend_errors(np.log(old.groupby("year")["mx"].sum()), last)
    settled = municipality_defaults().get(NORWAY, {}).get("refugees_settled", {})
    ref_sd, ref_rho = _log_ar1(dict(settled), last)
    nat_sd, nat_rho = _national_net(base_year)
    return {"tfr": tfr, "tfr_drift": drift, "mortality_trend": trend, "mortality_noise": noise,
            "refugees": ref_sd, "refugees_rho": ref_rho, "rho": pooled_rho(base_year),
            "national_rate": nat_sd, "national_rho": nat_rho}


@cache
def pooled_rho(base_year: int) -> float:
    """Lag-1 autocorrelation of every kommune's yearly net rate around its own mean.

    Over the ``pooling.VOLATILITY_YEARS`` transitions before ``base_year``; clipped to
    [0, 0.9].
    """
    crude = pooling.crude_history()
    stop = int(np.searchsorted(crude.years, base_year))
    r = crude.net_rate[:, max(0, stop - pooling.VOLATILITY_YEARS) : stop]
    r = r[np.all(np.isfinite(r), axis=1)]
    if r.shape[1] < 3:
        return 0.0
    d = r - r.mean(axis=1, keepdims=True)
    if not (d * d).sum() > 0:
        return 0.0
    rho = float((d[:, 1:] * d[:, :-1]).sum() / (d * d).sum())
    return min(max(rho, 0.0), 0.9)


def kommune_volatility(table: PopulationHistory, knr: str, base_year: int,
                       births_in_window: float, window_years: int,
                       settled: dict[int, float]) -> Volatility:
    """The kommune's volatilities from its history up to ``base_year`` (module docstring).

    ``window_years``: transitions in the estimation window (the level's sampling error is
    the yearly sd over its square root); ``settled``: refugees settled by year (left out of
    the net migration: they have their own term).
    """
    have = table.years_of(knr)
    first = max(have[0], base_year - pooling.VOLATILITY_YEARS)
    years = [y for y in range(first, base_year + 1) if y in have]
    sd_net = np.nan
    if len(years) == base_year - first + 1 and len(years) > MIN_YEARS:
        pops = table.history(knr, first, base_year)
        ref = np.array([settled.get(y, 0.0) for y in range(first, base_year)])
        sd_net = float(np.std(pooling.net_rates(pops, first, ref), ddof=1))
    if not np.isfinite(sd_net):
        sd_net = class_median_volatility(base_year, float(table.array(knr, base_year).sum()))
    nat = national_volatility(base_year)
    own = float(np.sqrt(max(sd_net**2 - nat["national_rate"] ** 2, 0.0)))
    fert_level = 1.0 / np.sqrt(births_in_window) if births_in_window > 0 else 0.0
    return Volatility(own, float(sd_net / np.sqrt(max(window_years, 1))), nat["rho"],
                      nat["national_rate"], nat["national_rho"], nat["tfr"], nat["tfr_drift"],
                      float(fert_level), nat["mortality_trend"], nat["mortality_noise"],
                      LOCAL_MORTALITY_SD, nat["refugees"], nat["refugees_rho"])


def class_median_volatility(base_year: int, persons: float) -> float:
    """Median yearly net-rate sd of the embedded kommuner of a size class (fallback)."""
    crude = pooling.crude_history()
    stop = int(np.searchsorted(crude.years, base_year))
    r = crude.net_rate[:, max(0, stop - pooling.VOLATILITY_YEARS) : stop]
    ok = np.all(np.isfinite(r), axis=1)
    sd = np.std(r[ok], axis=1, ddof=1)
    members = pooling.size_class(crude.population[ok, min(stop, crude.population.shape[1] - 1)])
    sel = sd[members == pooling.size_class(persons)]
    return float(np.median(sel)) if sel.size else float(np.median(sd))


def migration_turnover(inputs: ResolvedInputs) -> float:
    """Persons per inhabitant moved by a unit log shock ``u`` of in (+u) and out (-u) rates.

    ``(in-migrants + out-migrants) / population`` of the first year: a net migration
    deviation ``delta`` (per inhabitant) is ``u = delta / turnover``.
    """
    pop = inputs.base_population.sum()
    moves = inputs.in_migrants[0].sum() + (inputs.out_rate[0] * inputs.base_population).sum()
    return float(moves / pop) if pop > 0 and moves > 0 else 1.0


def ar1_paths(rng: np.random.Generator, n_paths: int, n_years: int, sd: float,
              rho: float) -> np.ndarray:
    """[S, Y] stationary AR(1) paths with marginal sd ``sd`` and lag-1 correlation ``rho``."""
    eps = rng.standard_normal((n_paths, n_years))
    out = np.empty((n_paths, n_years))
    out[:, 0] = sd * eps[:, 0]
    innov = sd * np.sqrt(1.0 - rho * rho)
    for t in range(1, n_years):
        out[:, t] = rho * out[:, t - 1] + innov * eps[:, t]
    return out


def random_walk(rng: np.random.Generator, n_paths: int, n_years: int, sd: float) -> np.ndarray:
    """[S, Y] random walks from 0 with step sd ``sd`` (year 1 already one step away)."""
    return np.cumsum(sd * rng.standard_normal((n_paths, n_years)), axis=1)


def ar1_from_zero(rng: np.random.Generator, n_paths: int, n_years: int, sd: float,
                  rho: float) -> np.ndarray:
    """[S, Y] AR(1) paths starting from 0 before year 1, tending to marginal sd ``sd``."""
    eps = rng.standard_normal((n_paths, n_years))
    innov = sd * np.sqrt(1.0 - rho * rho)
    out = np.empty((n_paths, n_years))
    prev = np.zeros(n_paths)
    for t in range(n_years):
        prev = rho * prev + innov * eps[:, t]
        out[:, t] = prev
    return out


def draw_multipliers(vol: Volatility, turnover: float, n_paths: int, n_years: int,
                     seed: int) -> dict[str, np.ndarray]:
    """Multiplier paths [S, Y] for ``sim.cohort.engine.project_batch``; path 0 is all ones.

    Streams are drawn in a fixed order from ``SeedSequence([seed, 14])`` (14: a fixed stream
    id for intervals), so the same seed gives the same paths.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 14]))
    t = np.minimum(np.arange(1, n_years + 1), DRIFT_YEARS)
    net = (vol.net_level * rng.standard_normal((n_paths, 1))
           + ar1_paths(rng, n_paths, n_years, vol.net_rate, vol.rho)
           + ar1_paths(rng, n_paths, n_years, vol.national_rate, vol.national_rho))
    u = net / turnover
    fert_x = (random_walk(rng, n_paths, n_years, vol.tfr)
              + vol.tfr_drift * rng.standard_normal((n_paths, 1)) * t
              + vol.fertility_level * rng.standard_normal((n_paths, 1)))
    mort_x = (vol.mortality_trend * rng.standard_normal((n_paths, 1)) * t
              + vol.mortality_noise * rng.standard_normal((n_paths, n_years))
              + vol.mortality_level * rng.standard_normal((n_paths, 1)))
    ref_x = ar1_from_zero(rng, n_paths, n_years, vol.refugees, vol.refugees_rho)
    out = {"in_migrants": np.exp(u), "out_rate": np.exp(-u), "fertility": np.exp(fert_x),
           "mortality": np.exp(mort_x), "refugees": np.exp(ref_x)}
    for arr in out.values():
        arr[0] = 1.0
    return out
