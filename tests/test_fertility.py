"""Fertility schedule, HFD totals, cohort-age rates and the sex ratio at birth."""

from __future__ import annotations

import numpy as np
import pytest

from sim.demography import N_AGES
from sim.demography.fertility import (
    PUBLISHED_TFR,
    cohort_age_rates,
    expected_births,
    hfd_tfr,
    national_schedule,
    national_tfr,
    p_male_birth,
)


@pytest.mark.parametrize("window", [(2018, 2022), (1990, 1990), (2022, 2022), (2000, 2010)])
def test_national_schedule_is_a_distribution_on_12_to_55(window):
    s = national_schedule(*window)
    assert s.shape == (N_AGES,)
    assert s.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.all(s >= 0)
    assert np.all(s[:12] == 0) and np.all(s[56:] == 0)
    # the peak is at the usual ages of Norwegian mothers
    assert 26 <= int(np.argmax(s)) <= 33


def test_national_schedule_outside_hfd_raises():
    with pytest.raises(ValueError, match="no HFD fertility"):
        national_schedule(1950, 1960)


def test_hfd_2022_tfr():
    assert hfd_tfr(2022) == pytest.approx(1.41, abs=0.005)      # SSB: 1.41 in 2022
    assert national_tfr(2022) == hfd_tfr(2022)
    assert national_tfr(2023) == PUBLISHED_TFR[2023] == 1.40


def test_national_tfr_unknown_year_raises():
    with pytest.raises(ValueError, match="no observed national TFR"):
        national_tfr(1950)


def test_cohort_age_rates_by_hand():
    asfr = np.zeros(N_AGES)
    asfr[20], asfr[21], asfr[22] = 0.1, 0.3, 0.2
    phi = cohort_age_rates(asfr)
    assert phi[0] == 0.0
    assert phi[20] == pytest.approx(0.05)          # (0 + 0.1)/2
    assert phi[21] == pytest.approx(0.2)           # (0.1 + 0.3)/2
    assert phi[22] == pytest.approx(0.25)          # (0.3 + 0.2)/2
    assert phi[23] == pytest.approx(0.1)           # (0.2 + 0)/2
    assert np.count_nonzero(phi) == 4
    assert phi.sum() == pytest.approx(0.6, abs=1e-15)


def test_cohort_age_rates_preserve_sum_and_work_on_last_axis():
    rng = np.random.default_rng(0)
    asfr = np.zeros((3, 2, N_AGES))
    asfr[..., 12:56] = rng.uniform(0, 0.15, (3, 2, 44))
    phi = cohort_age_rates(asfr)
    np.testing.assert_allclose(phi.sum(axis=-1), asfr.sum(axis=-1), rtol=1e-14)
    np.testing.assert_array_equal(phi[1, 0], cohort_age_rates(asfr[1, 0]))
    tfr = 1.6 * national_schedule(2018, 2022)
    assert cohort_age_rates(tfr).sum() == pytest.approx(1.6, rel=1e-14)


def test_p_male_birth_by_hand():
    assert p_male_birth(1.055) == pytest.approx(1.055 / 2.055, rel=1e-15)
    assert p_male_birth(1.055) == pytest.approx(0.51338, abs=5e-6)
    assert p_male_birth() == p_male_birth(1.055)
    assert p_male_birth(1.0) == 0.5


def test_expected_births_is_the_dot_product():
    phi = np.zeros(N_AGES)
    phi[30] = 0.1
    phi[31] = 0.2
    women = np.zeros(N_AGES)
    women[30], women[31], women[40] = 1000.0, 500.0, 800.0
    assert expected_births(phi, women) == pytest.approx(100.0 + 100.0, rel=1e-15)
