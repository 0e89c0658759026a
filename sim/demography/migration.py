"""Migration: gross in-migration (persons) and out-migration (rates), and their estimation.

Conventions (see ``sim/cohort/METHOD.md``): flows in year ``t`` are indexed by cohort age ``x``,
the age reached on 1 January of ``t + 1``. In-migrants (and settled refugees) arrive on average
mid-year, so they are exposed to mortality and out-migration for half a year.

Estimation inverts the projection identity exactly. For a cohort with ``A`` persons aged on
(``sim.demography.ageing.age_on``), death probability ``d`` and out-migration rate ``o``:

    P[t+1, x] = A + I - (d + o) * (A + I / 2)
    =>  I = (P[t+1, x] - A * (1 - d - o)) / (1 - (d + o) / 2)

so in-migrants follow from two successive populations once ``o`` is fixed. Where that ``I``
would be negative (more net out-migration than the out-rate explains), ``I = 0`` and the cohort's
out-rate is raised to ``o = 1 - d - P[t+1, x] / A``.

The default projection rate (``mean_out_rate``) is out-migrants / exposure over the window per
sex and age; from ``OLD_AGE_POOL`` up, one rate per sex pooled over all those ages, because a
window has only tens of person-years per single age there and the raised rates are noise
(0.61 at 100 beside 0 at 101-105, or ``d + o = 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.demography import N_AGES
from sim.demography.ageing import age_on
from sim.roots import brentq

OLD_AGE_POOL = 90
"""First cohort age whose out-migration rate is pooled with all older ages (per sex)."""

# Rogers & Castro (1981) standard schedule, as quoted in the project's data README.
ROGERS_CASTRO_STANDARD = {
    "a1": 0.02, "alpha1": 0.1, "a2": 0.06, "alpha2": 0.1, "mu2": 20.0, "lambda2": 0.4, "c": 0.003,
}


def rogers_castro(
    ages: np.ndarray,
    a1: float, alpha1: float, a2: float, alpha2: float, mu2: float, lambda2: float, c: float,
) -> np.ndarray:
    """Seven-parameter Rogers-Castro migration schedule (childhood, labour-force peak, constant).

    ``m(x) = a1 exp(-alpha1 x) + a2 exp(-alpha2 (x - mu2) - exp(-lambda2 (x - mu2))) + c``.
    """
    x = np.asarray(ages, dtype=float)
    return (a1 * np.exp(-alpha1 * x)
            + a2 * np.exp(-alpha2 * (x - mu2) - np.exp(-lambda2 * (x - mu2)))
            + c)


def standard_out_shape() -> np.ndarray:
    """Out-migration age shape [2, 106]: the standard Rogers-Castro schedule, equal for both sexes.

    Assumption: the shape (not the level) of gross out-migration is the standard schedule; the
    level is fitted to the municipality's gross out-migration (``fit_out_level``).
    """
    shape = rogers_castro(np.arange(N_AGES), **ROGERS_CASTRO_STANDARD)
    return np.stack([shape, shape])


def in_migrants_from_change(
    pop_next: np.ndarray, aged: np.ndarray, death_prob: np.ndarray, out_rate: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Gross in-migrants and effective out-rates that reproduce an observed cohort change exactly.

    Args:
        pop_next: population on 1 January t+1, [..., 106].
        aged: population on 1 January t aged on (``age_on``), [..., 106]; age 0 holds the births.
        death_prob: cohort death probabilities d, [..., 106].
        out_rate: assumed out-migration rates o, [..., 106].

    Returns:
        (in_migrants, out_rate_effective), both [..., 106], in_migrants >= 0.
    """
    dm = death_prob + out_rate
    inflow = (pop_next - aged * (1.0 - dm)) / (1.0 - 0.5 * dm)
    negative = inflow < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        raised = np.where(aged > 0, 1.0 - death_prob - pop_next / aged, out_rate)
    out_eff = np.where(negative, raised, out_rate)
    return np.where(negative, 0.0, inflow), np.clip(out_eff, 0.0, 1.0 - death_prob)


def estimate_births(
    pop0_next: np.ndarray, aged1: np.ndarray, inflow1: np.ndarray,
    death_prob0: np.ndarray, out_rate0: np.ndarray,
) -> np.ndarray:
    """Births by sex in year t from the age-0 population on 1 January t+1, when births are unknown.

    Assumption: in-migrants per birth equal half the in-migration rate of the cohort aged 0 at
    the start of the year (``inflow1 / aged1``), since babies are exposed for half a year on
    average. With ``i = inflow1 / aged1 / 2`` the identity for x = 0,
    ``P0 = B + iB - (d0 + o0)(B + iB/2)``, gives ``B = P0 / (1 + i - (d0 + o0)(1 + i/2))``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        i = np.where(aged1 > 0, 0.5 * inflow1 / aged1, 0.0)
    return pop0_next / (1.0 + i - (death_prob0 + out_rate0) * (1.0 + 0.5 * i))


@dataclass(frozen=True)
class MigrationEstimate:
    """Gross migration estimated from successive populations, one row per transition year.

    Attributes:
        years: transition years t (flows during t, from 1 Jan t to 1 Jan t+1).
        in_migrants: persons [T, 2, 106] (refugees included), cohort age x.
        out_rate: effective out-migration rates [T, 2, 106].
        exposure: A + I/2 [T, 2, 106], the person-years the rates apply to.
        births: births by sex [T, 2] (observed or estimated).
        out_level: fitted multiplier of the standard out-migration shape.
    """

    years: np.ndarray
    in_migrants: np.ndarray
    out_rate: np.ndarray
    exposure: np.ndarray
    births: np.ndarray
    out_level: float

    @property
    def out_migrants(self) -> np.ndarray:
        """Out-migrants [T, 2, 106] = out_rate x exposure."""
        return self.out_rate * self.exposure

    def mean_out_rate(self) -> np.ndarray:
        """Out-rate over the window as total out-migrants / total exposure, [2, 106].

        From ``OLD_AGE_POOL`` up, one rate per sex: the out-migrants of all those ages over
        their exposure (their total out-migration is kept; see the module docstring).
        """
        exp = self.exposure.sum(axis=0)
        out = self.out_migrants.sum(axis=0)
        exp[:, OLD_AGE_POOL:] = exp[:, OLD_AGE_POOL:].sum(axis=1, keepdims=True)
        out[:, OLD_AGE_POOL:] = out[:, OLD_AGE_POOL:].sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # no exposure: rate 0
            return np.where(exp > 0, out / exp, 0.0)


def estimate_gross_migration(
    pops: np.ndarray,
    years: np.ndarray,
    death_prob: np.ndarray,
    gross_out_rate: float,
    births: np.ndarray | None = None,
    p_male: float = 0.5134,
) -> MigrationEstimate:
    """Estimate gross in-migrants and out-rates from populations on successive 1 Januaries.

    Args:
        pops: populations [T+1, 2, 106] on 1 January of ``years[0] .. years[-1] + 1``.
        years: the T transition years.
        death_prob: cohort death probabilities [T, 2, 106] for those years.
        gross_out_rate: out-migrants per inhabitant per year the standard shape is scaled to
            (total out-migrants over the window / total exposure).
        births: observed births per year [T] (both sexes), or None to estimate them.
        p_male: share of births that are boys (used with observed births).
    """
    shape = standard_out_shape()
    aged = np.stack([age_on(p) for p in pops[:-1]])

    def solve(level: float) -> MigrationEstimate:
        out = np.broadcast_to(level * shape, aged.shape)
        inflow, out_eff = in_migrants_from_change(pops[1:], aged, death_prob, out)
        if births is None:
            b = estimate_births(pops[1:, :, 0], aged[:, :, 1], inflow[:, :, 1],
                                death_prob[:, :, 0], out[:, :, 0])
        else:
            b = np.asarray(births, dtype=float)[:, None] * np.array([p_male, 1.0 - p_male])
        aged_b = aged.copy()
        aged_b[:, :, 0] = b
        inflow, out_eff = in_migrants_from_change(pops[1:], aged_b, death_prob, out)
        exposure = aged_b + 0.5 * inflow
        return MigrationEstimate(np.asarray(years), inflow, out_eff, exposure, b, level)

    def gap(level: float) -> float:
        est = solve(level)
        return est.out_migrants.sum() / est.exposure.sum() - gross_out_rate

    lo, hi = 0.0, 20.0
    if gross_out_rate <= 0 or gap(lo) >= 0:
        # Net out-migration alone exceeds the gross rate asked for (a shrinking zone): the
        # cohorts' raised rates carry all out-migration.
        level = lo
    elif gap(hi) <= 0:
        level = hi
    else:
        level = brentq(gap, lo, hi, xtol=1e-12)
    return solve(level)
