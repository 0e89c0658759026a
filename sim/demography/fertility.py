"""Fertility: the national age schedule, TFR paths and the projection's cohort-age rates.

Conventions:

* ``asfr[a]`` are period age-specific fertility rates by age at birth (completed age, HFD
  convention), births per woman per year; ``tfr = sum(asfr)``.
* The projection applies rates to the cohort aged ``x - 1`` on 1 January, which is ``x`` on
  1 January of the next year and spends half the year at each age:
  ``phi[x] = (asfr[x - 1] + asfr[x]) / 2`` births per woman-year (``phi[0] = 0``).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from sim.data import data_path
from sim.demography import N_AGES

SEX_RATIO_AT_BIRTH = 1.055
"""Boys per girl at birth. Assumption: Norway's long-run ratio is 1.05-1.06 (SSB births by
sex); 1.055 gives a male share of births of 0.5134."""


def p_male_birth(sex_ratio: float = SEX_RATIO_AT_BIRTH) -> float:
    """Share of births that are boys, from the sex ratio at birth (boys per girl)."""
    return sex_ratio / (1.0 + sex_ratio)


@cache
def hfd_asfr() -> pd.DataFrame:
    """HFD Norway period ASFR by year and single age (12- counted as 12, 55+ as 55)."""
    df = pd.read_csv(data_path("hfd_norway_asfr_1990_2022.csv"), dtype={"age": str})
    df["age"] = df["age"].str.rstrip("+-").astype(int)
    return df


@cache
def national_schedule(first_year: int, last_year: int) -> np.ndarray:
    """Mean HFD Norway ASFR shape over the years, normalised to sum to 1, length 106 (age at birth).

    Raises:
        ValueError: if no HFD year falls in the window (HFD covers 1990..2022).
    """
    df = hfd_asfr()
    sel = df[(df.year >= first_year) & (df.year <= last_year)]
    if sel.empty:
        raise ValueError(f"no HFD fertility for {first_year}..{last_year} (have 1990..2022)")
    mean = sel.groupby("age")["asfr"].mean()
    shape = np.zeros(N_AGES)
    shape[mean.index.to_numpy()] = mean.to_numpy()
    shape /= shape.sum()
    shape.flags.writeable = False  # cached: shared by every caller
    return shape


@cache
def hfd_tfr(year: int) -> float:
    """Published TFR for Norway from HFD (sum of ASFR) in ``year``."""
    df = hfd_asfr()
    return float(df[df.year == year]["asfr"].sum())


def cohort_age_rates(asfr: np.ndarray) -> np.ndarray:
    """Fertility by cohort age ``x`` (age on 1 January next year) from ASFR by age at birth.

    Works on the last axis: ``phi[..., x] = (asfr[..., x-1] + asfr[..., x]) / 2``,
    ``phi[..., 0] = 0``.
    The sum over ages is preserved when ``asfr`` is zero at the last age.
    """
    phi = np.zeros_like(asfr, dtype=float)
    phi[..., 1:] = 0.5 * (asfr[..., :-1] + asfr[..., 1:])
    return phi


PUBLISHED_TFR = {2023: 1.40, 2024: 1.44}
"""Norway's TFR after the HFD series ends (SSB, published)."""

SSB_MAIN_TFR = {2024: 1.44, 2030: 1.57, 2040: 1.66}
"""SSB 2024 national projection, main alternative: about 1.57 by 2030 and 1.66 in the long run.
ASSUMPTION: the long-run level is placed at 2040 (SSB gives no year in our sources)."""


def national_tfr(year: int) -> float:
    """Observed TFR for Norway: HFD up to 2022, SSB's published figures for 2023-2024."""
    if year in PUBLISHED_TFR:
        return PUBLISHED_TFR[year]
    tfr = hfd_tfr(year)
    if tfr == 0.0:
        raise ValueError(f"no observed national TFR for {year} (HFD 1990..2022, SSB 2023..2024)")
    return tfr


def expected_births(phi: np.ndarray, women_exposure: np.ndarray) -> float:
    """Births implied by cohort-age rates ``phi`` [106] and women's person-years [106]."""
    return float(np.dot(phi, women_exposure))
