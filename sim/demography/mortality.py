"""Mortality: life tables from central death rates, projection death probabilities, improvement.

Conventions (see ``sim/cohort/METHOD.md``):

* ``mx`` are central death rates (deaths per person-year) by single year of age.
* The projection uses *cohort* death probabilities ``d[x]`` indexed by the age ``x`` the cohort
  reaches on 1 January of the next year: ``d[0] = 1 - L0`` for the births of the year,
  ``d[x] = 1 - L[x] / L[x-1]`` for 1 <= x <= 104 and ``d[105] = 1 - T[105] / T[104]`` for the
  open group. These are the standard single-year survivorship ratios of a life table.
* Base level: HMD Norway single-year ``mx`` averaged over recent years; improvement over time:
  the UN WPP 2024 Medium-variant ratio ``m_wpp(t) / m_wpp(ref_year)`` by age group, interpolated
  log-linearly between the WPP decades.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from sim.data import data_path
from sim.demography import N_AGES, SEXES
from sim.roots import brentq

OMEGA = 130
"""Life tables run to age 130 (open); HMD's rates above ``KANNISTO_FROM`` are replaced by a fit."""
KANNISTO_FIT_AGES = (80, 95)
"""Kannisto model fitted on HMD rates at ages 80..94, where counts are large enough."""
KANNISTO_FROM = 95
"""From this age on, single-year rates come from the Kannisto fit (HMD's raw rates above 100
are based on a handful of deaths: 0.0 or 6.0 at 106-108, missing at 109+)."""


def infant_ax(m0: np.ndarray | float, sex: int) -> np.ndarray | float:
    """Average years lived in the first year by infants who die (Andreev & Kingkade 2015, as HMD).

    Args:
        m0: infant central death rate.
        sex: 0 male, 1 female.
    """
    m0 = np.asarray(m0, dtype=float)
    if sex == 0:
        return np.where(m0 < 0.02300, 0.14929 - 1.99545 * m0,
                        np.where(m0 < 0.08307, 0.02832 + 3.26201 * m0, 0.29915))
    return np.where(m0 < 0.01724, 0.14903 - 2.05527 * m0,
                    np.where(m0 < 0.06891, 0.04667 + 3.88089 * m0, 0.31411))


def life_table(mx: np.ndarray, sex: int) -> dict[str, np.ndarray]:
    """Period life table from single-year central death rates (last age open).

    Args:
        mx: central death rates by single year of age 0..omega, the last age an open group.
        sex: 0 male, 1 female (for the infant ax).

    Returns:
        dict with ``qx``, ``lx`` (radix 1), ``Lx``, ``Tx``, ``ex`` arrays of the same length.
    """
    mx = np.asarray(mx, dtype=float)
    n = mx.size
    ax = np.full(n, 0.5)
    ax[0] = infant_ax(mx[0], sex)
    qx = mx / (1.0 + (1.0 - ax) * mx)
    qx = np.clip(qx, 0.0, 1.0)
    qx[-1] = 1.0
    lx = np.empty(n)
    lx[0] = 1.0
    lx[1:] = np.cumprod(1.0 - qx[:-1])
    dx = lx * qx
    Lx = lx - (1.0 - ax) * dx
    Lx[-1] = lx[-1] / mx[-1] if mx[-1] > 0 else 0.0
    Tx = np.cumsum(Lx[::-1])[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ex = np.where(lx > 0, Tx / lx, 0.0)
    return {"qx": qx, "lx": lx, "Lx": Lx, "Tx": Tx, "ex": ex}


def life_expectancy(mx: np.ndarray, sex: int) -> float:
    """Period life expectancy at birth (years) from single-year central death rates."""
    return float(life_table(mx, sex)["ex"][0])


def cohort_death_probability(mx: np.ndarray, sex: int) -> np.ndarray:
    """Projection death probabilities ``d[x]``, x = age on 1 January of the next year (0..105).

    Args:
        mx: central death rates by single year 0..omega (omega >= 105, last age open).
        sex: 0 male, 1 female.

    Returns:
        float64 array of length 106: d[0] = 1 - L0; d[x] = 1 - L[x]/L[x-1]; d[105] = 1 - T105/T104.
    """
    lt = life_table(mx, sex)
    L, T = lt["Lx"], lt["Tx"]
    d = np.empty(N_AGES)
    d[0] = 1.0 - L[0]
    d[1 : N_AGES - 1] = 1.0 - L[1 : N_AGES - 1] / L[0 : N_AGES - 2]
    d[N_AGES - 1] = 1.0 - T[N_AGES - 1] / T[N_AGES - 2]
    return np.clip(d, 0.0, 1.0)


@cache
def hmd_mx() -> pd.DataFrame:
    """HMD Norway central death rates, columns year, sex (0/1), age (0..110), mx."""
    df = pd.read_csv(data_path("hmd_norway_mx_1x1_1990_2023.csv"))
    df["sex"] = df["sex"].map({s: i for i, s in enumerate(SEXES)})
    return df


def kannisto_close(mx: np.ndarray) -> np.ndarray:
    """Extend single-year rates to ages 0..130 with a Kannisto fit for ages >= 95.

    Kannisto: logit(m_x) = log(a) + b x, fitted by least squares on ages 80..94 (as HMD smooths
    its old-age rates); the logistic form keeps the fitted rates below 1.
    """
    ages = np.arange(*KANNISTO_FIT_AGES)
    y = np.log(mx[ages] / (1.0 - mx[ages]))
    b, log_a = np.polyfit(ages, y, 1)
    x = np.arange(OMEGA + 1)
    fit = 1.0 / (1.0 + np.exp(-(log_a + b * x)))
    out = fit.copy()
    out[:KANNISTO_FROM] = mx[:KANNISTO_FROM]
    return out


@cache
def base_mx(first_year: int, last_year: int) -> np.ndarray:
    """HMD Norway ``mx`` averaged over the years, closed with Kannisto: shape [2, 131] (sex, age).

    Raises:
        ValueError: if no HMD year falls in the window (HMD covers 1990..2023).
    """
    df = hmd_mx()
    sel = df[(df.year >= first_year) & (df.year <= last_year) & (df.age < KANNISTO_FROM)]
    if sel.empty:
        raise ValueError(f"no HMD mortality for {first_year}..{last_year} (have 1990..2023)")
    table = sel.groupby(["sex", "age"])["mx"].mean().unstack("age").to_numpy()
    out = np.stack([kannisto_close(np.pad(table[s], (0, OMEGA + 1 - table.shape[1])))
                    for s in range(2)])
    out.flags.writeable = False  # cached: shared by every caller
    return out


@cache
def _wpp_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = pd.read_csv(data_path("unwpp2024_norway_mx.csv"))
    years = np.sort(df.year.unique())
    starts = np.sort(df.age_group_start.unique())
    log_m = np.empty((2, years.size, starts.size))
    for s, name in enumerate(SEXES):
        piv = df[df.sex == name].pivot(index="year", columns="age_group_start", values="mx")
        log_m[s] = np.log(piv.loc[years, starts].to_numpy())
    return years, starts, log_m


def wpp_improvement(years: np.ndarray, ref_year: float) -> np.ndarray:
    """Mortality ratio ``m_wpp(t)/m_wpp(ref_year)`` by sex and single age, shape [Y, 2, 131].

    UN WPP 2024 Medium variant, abridged groups (0, 1-4, 5-9, ..., 100+) at decadal years,
    log-linearly interpolated in time; each single age takes the ratio of its group.
    """
    wyears, starts, log_m = _wpp_table()
    group = np.searchsorted(starts, np.arange(OMEGA + 1), side="right") - 1
    out = np.empty((len(years), 2, OMEGA + 1))
    for s in range(2):
        for g in range(starts.size):
            ref = np.interp(ref_year, wyears, log_m[s, :, g])
            path = np.interp(np.asarray(years, dtype=float), wyears, log_m[s, :, g])
            out[:, s, group == g] = np.exp(path - ref)[:, None]
    return out


def mx_path(
    years: np.ndarray,
    base_window: tuple[int, int],
    level: float = 1.0,
    improvement_multiplier: float = 1.0,
) -> np.ndarray:
    """Projected central death rates [Y, 2, 131]: HMD base x municipal level x WPP improvement.

    Args:
        years: calendar years to project.
        base_window: first and last HMD year of the base average.
        level: municipal mortality relative to Norway (1.0 = national).
        improvement_multiplier: scales the log-improvement (0 = no improvement, 2 = twice as fast).
    """
    m0 = base_mx(*base_window)
    ref_year = 0.5 * (base_window[0] + base_window[1])
    ratio = wpp_improvement(np.asarray(years), ref_year) ** improvement_multiplier
    return level * m0[None, :, :] * ratio


def death_probabilities(mx: np.ndarray) -> np.ndarray:
    """Cohort death probabilities [..., 2, 106] from central death rates [..., 2, ages].

    The same life table as ``cohort_death_probability``, computed for all leading indices at
    once (element by element the same operations, so the results are identical).
    """
    mx = np.asarray(mx, dtype=float)
    ax = np.full(mx.shape, 0.5)
    for s in range(2):
        ax[..., s, 0] = infant_ax(mx[..., s, 0], s)
    qx = np.clip(mx / (1.0 + (1.0 - ax) * mx), 0.0, 1.0)
    qx[..., -1] = 1.0
    lx = np.empty(mx.shape)
    lx[..., 0] = 1.0
    lx[..., 1:] = np.cumprod(1.0 - qx[..., :-1], axis=-1)
    dx = lx * qx
    big_l = lx - (1.0 - ax) * dx
    last = mx[..., -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        big_l[..., -1] = np.where(last > 0, lx[..., -1] / last, 0.0)
    big_t = np.cumsum(big_l[..., ::-1], axis=-1)[..., ::-1]
    d = np.empty(mx.shape[:-1] + (N_AGES,))
    d[..., 0] = 1.0 - big_l[..., 0]
    d[..., 1 : N_AGES - 1] = 1.0 - big_l[..., 1 : N_AGES - 1] / big_l[..., 0 : N_AGES - 2]
    d[..., N_AGES - 1] = 1.0 - big_t[..., N_AGES - 1] / big_t[..., N_AGES - 2]
    return np.clip(d, 0.0, 1.0)


def scale_to_e0(mx: np.ndarray, sex: int, e0_target: float) -> np.ndarray:
    """Multiply ``mx`` by the constant factor that gives period life expectancy ``e0_target``."""
    def gap(log_k: float) -> float:
        return life_expectancy(mx * np.exp(log_k), sex) - e0_target

    lo, hi = -5.0, 5.0
    if gap(lo) * gap(hi) > 0:
        raise ValueError(f"life expectancy {e0_target} cannot be reached by scaling mortality")
    return mx * np.exp(brentq(gap, lo, hi, xtol=1e-12))
