"""Life tables, projection death probabilities, e0 scaling and the improvement path."""

from __future__ import annotations

import numpy as np
import pytest

from sim.demography import N_AGES
from sim.demography.mortality import (
    OMEGA,
    base_mx,
    cohort_death_probability,
    infant_ax,
    life_expectancy,
    life_table,
    mx_path,
    scale_to_e0,
)


def test_infant_ax_andreev_kingkade_pieces():
    # HMD Methods Protocol table: males 0.14929 - 1.99545 m0 below 0.023, females
    # 0.14903 - 2.05527 m0 below 0.01724; constants above 0.08307 / 0.06891.
    assert infant_ax(0.002, 0) == pytest.approx(0.14929 - 1.99545 * 0.002, abs=1e-15)
    assert infant_ax(0.002, 1) == pytest.approx(0.14903 - 2.05527 * 0.002, abs=1e-15)
    assert infant_ax(0.05, 0) == pytest.approx(0.02832 + 3.26201 * 0.05, abs=1e-15)
    assert infant_ax(0.05, 1) == pytest.approx(0.04667 + 3.88089 * 0.05, abs=1e-15)
    assert infant_ax(0.1, 0) == pytest.approx(0.29915, abs=1e-15)
    assert infant_ax(0.1, 1) == pytest.approx(0.31411, abs=1e-15)


@pytest.mark.parametrize("m", [0.001, 0.02, 0.3, 1.5])
def test_qx_for_constant_rate_above_infancy(m):
    lt = life_table(np.full(50, m), 1)
    # ax = 0.5: q = m / (1 + 0.5 m) for ages 1..48; the last (open) age has q = 1
    np.testing.assert_allclose(lt["qx"][1:-1], m / (1 + 0.5 * m), rtol=1e-14)
    assert lt["qx"][-1] == 1.0
    # lx is the survivorship chain
    np.testing.assert_allclose(lt["lx"][2:] / lt["lx"][1:-1], 1 - lt["qx"][1:-1], rtol=1e-13)


@pytest.mark.parametrize(("sex", "a0"), [(0, 0.29915), (1, 0.31411)])
def test_three_age_life_table_by_hand(sex, a0):
    # m = 0.1 at ages 0, 1, 2 (2 = open). m0 = 0.1 is above both infant-ax breakpoints.
    m = 0.1
    lt = life_table(np.array([m, m, m]), sex)
    q0 = m / (1 + (1 - a0) * m)
    q1 = m / 1.05                      # 0.0952380952...
    l1 = 1 - q0
    l2 = l1 * (1 - q1)
    L0 = 1 - (1 - a0) * q0
    L1 = l1 * (1 - q1 / 2)             # l1 - 0.5 d1
    L2 = l2 / m                        # open group: l / m
    np.testing.assert_allclose(lt["qx"], [q0, q1, 1.0], rtol=1e-14)
    np.testing.assert_allclose(lt["lx"], [1.0, l1, l2], rtol=1e-14)
    np.testing.assert_allclose(lt["Lx"], [L0, L1, L2], rtol=1e-14)
    np.testing.assert_allclose(lt["Tx"], [L0 + L1 + L2, L1 + L2, L2], rtol=1e-14)
    np.testing.assert_allclose(lt["ex"], [L0 + L1 + L2, (L1 + L2) / l1, 10.0], rtol=1e-14)
    if sex == 0:
        # male numbers written out: q0 = 0.1/1.070085 = 0.0934505...; e0 = 9.5913... years
        assert lt["qx"][0] == pytest.approx(0.093450520286706, rel=1e-12)
        assert life_expectancy(np.array([m, m, m]), 0) == pytest.approx(
            (1 - 0.70085 * 0.093450520286706)
            + 0.906549479713294 * (1 - 0.0952380952380952 / 2)
            + 0.906549479713294 * (1 - 0.0952380952380952) * 10, rel=1e-12)


def test_constant_hazard_open_group_expectancy():
    # For a single open age group the life table gives e = 1/m exactly.
    lt = life_table(np.array([0.25]), 0)
    assert lt["ex"][0] == pytest.approx(4.0, rel=1e-15)


@pytest.mark.parametrize(("sex", "published"), [(0, 81.4), (1, 84.6)])
def test_hmd_2023_life_expectancy_matches_ssb(sex, published):
    mx = base_mx(2023, 2023)
    assert mx.shape == (2, OMEGA + 1)
    assert life_expectancy(mx[sex], sex) == pytest.approx(published, abs=0.1)


def test_cohort_death_probability_in_unit_interval_and_chain():
    mx = base_mx(2019, 2023)
    for s in range(2):
        d = cohort_death_probability(mx[s], s)
        lt = life_table(mx[s], s)
        assert d.shape == (N_AGES,)
        assert np.all((d >= 0) & (d <= 1))
        assert d[0] == pytest.approx(1 - lt["Lx"][0], rel=1e-14)
        # the chain of survivorship ratios rebuilds L and the open group's T, hence e0:
        # prod_{k<=x} (1 - d_k) = L_x (radix 1), T_104 = L_104 / d_105
        L = np.cumprod(1 - d[:N_AGES - 1])
        np.testing.assert_allclose(L, lt["Lx"][:N_AGES - 1], rtol=1e-12)
        e0 = L[:-1].sum() + L[-1] / d[N_AGES - 1]
        assert e0 == pytest.approx(life_expectancy(mx[s], s), rel=1e-12)
        # mortality rises with age (single-year HMD rates are noisy: compare decades)
        assert d[30] < d[50] < d[70] < d[90] < d[100] < d[105]
        assert np.all(np.diff(d[95:]) > 0)           # smooth Kannisto tail


@pytest.mark.parametrize("sex", [0, 1])
def test_cohort_death_probability_constant_rate_by_hand(sex):
    m = 0.1
    mx = np.full(OMEGA + 1, m)
    d = cohort_death_probability(mx, sex)
    a0 = 0.29915 if sex == 0 else 0.31411
    q0 = m / (1 + (1 - a0) * m)
    q = m / (1 + 0.5 * m)
    # person-years computed independently: L_0, then L_x = l_x (1 - q/2), open L_130 = l_130/m
    surv = np.empty(OMEGA + 1)                     # l_x
    surv[0] = 1.0
    surv[1:] = (1 - q0) * (1 - q) ** np.arange(OMEGA)
    L = surv * (1 - q / 2)
    L[0] = 1 - (1 - a0) * q0
    L[-1] = surv[-1] / m
    T = L[::-1].cumsum()[::-1]
    assert d[0] == pytest.approx(1 - L[0], rel=1e-14)
    assert d[1] == pytest.approx(1 - (1 - q0) * (1 - q / 2) / (1 - (1 - a0) * q0), rel=1e-12)
    # in the middle the ratio L_x / L_{x-1} is just 1 - q
    np.testing.assert_allclose(d[2:N_AGES - 1], q, rtol=1e-12)
    np.testing.assert_allclose(d[1:N_AGES - 1], 1 - L[1:N_AGES - 1] / L[:N_AGES - 2], rtol=1e-12)
    assert d[N_AGES - 1] == pytest.approx(1 - T[N_AGES - 1] / T[N_AGES - 2], rel=1e-12)


@pytest.mark.parametrize("sex", [0, 1])
@pytest.mark.parametrize("target", [70.0, 83.0, 88.5, 95.0])
def test_scale_to_e0_hits_target(sex, target):
    mx = base_mx(2019, 2023)[sex]
    scaled = scale_to_e0(mx, sex, target)
    assert life_expectancy(scaled, sex) == pytest.approx(target, abs=1e-6)
    ratio = scaled / mx
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)   # one constant factor


def test_scale_to_e0_unreachable_raises():
    with pytest.raises(ValueError, match="cannot be reached"):
        scale_to_e0(base_mx(2019, 2023)[0], 0, 300.0)


def test_mx_path_without_improvement_is_constant():
    years = np.arange(2024, 2061)
    mx = mx_path(years, (2019, 2023), level=1.2, improvement_multiplier=0.0)
    assert mx.shape == (len(years), 2, OMEGA + 1)
    for t in range(len(years)):
        np.testing.assert_array_equal(mx[t], mx[0])
    np.testing.assert_allclose(mx[0], 1.2 * base_mx(2019, 2023), rtol=1e-15)


def test_mx_path_is_base_at_reference_year():
    mx = mx_path(np.array([2021]), (2019, 2023))
    np.testing.assert_allclose(mx[0], base_mx(2019, 2023), rtol=1e-14)


def test_mx_path_improves_e0():
    years = np.array([2024, 2050])
    for mult in (1.0, 2.0):
        mx = mx_path(years, (2019, 2023), improvement_multiplier=mult)
        for s in range(2):
            e_2024 = life_expectancy(mx[0, s], s)
            e_2050 = life_expectancy(mx[1, s], s)
            assert e_2050 > e_2024 + 1.0          # WPP medium: gains of a few years
            assert e_2050 < e_2024 + 10.0
    # twice the improvement gives more gain
    e1 = life_expectancy(mx_path(years, (2019, 2023), improvement_multiplier=1.0)[1, 1], 1)
    e2 = life_expectancy(mx_path(years, (2019, 2023), improvement_multiplier=2.0)[1, 1], 1)
    assert e2 > e1
    # women outlive men throughout
    mx = mx_path(years, (2019, 2023))
    assert life_expectancy(mx[1, 1], 1) > life_expectancy(mx[1, 0], 0)


def test_base_mx_outside_hmd_raises():
    with pytest.raises(ValueError, match="no HMD mortality"):
        base_mx(1950, 1960)
