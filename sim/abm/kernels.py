"""Numba kernels of the agent-based engine: one function per step of the year.

Persons, households and dwellings are structs of arrays (see ``sim/abm/people.py``); kernels
receive the arrays and scalars, never Python objects. Person ``i`` is row ``i`` of the person
arrays; its random draws are keyed by ``key[i]`` (``sim/abm/rng.py``), not by the row.

Lexis convention (``sim/cohort/METHOD.md``): on entry to ``age_and_fates`` ``age`` is the age on
1 January of year t; it becomes the cohort age ``x = min(age + 1, 105)`` and stays so through the
year, so that on exit it is the age on 1 January of t+1. Per person (q, o = death probability
and out-migration rate at cohort age x):

* resident on 1 January: dies with q; otherwise leaves with o / (1 - q) (so P(leave) = o);
* arriving in-migrant or refugee (mid-year on average): dies with q/2, otherwise leaves with
  (o/2) / (1 - q/2);
* newborn: dies with q[0], otherwise leaves with o[0] / (1 - q[0]);
* births: a woman present at the end of the year gives
  ``f (1 - (q + o)/2) / (1 - q - o)`` births in expectation if she was resident on 1 January and
  ``f / 2`` if she arrived during the year; women who died or left give none (unless
  ``q + o >= 1``, when the residents give ``f / 2`` each). The expected total is exactly
  ``sum_x f[x] (A[x] + (I[x] + R[x]) / 2) (1 - (q[x] + o[x]) / 2)`` as in METHOD.md step 3.

Component counts are written to ``comp[t, d, c, s, x]`` (int32, ``COMPONENTS`` order) as events
happen, so ``P[t+1] = A + births + in + refugees - deaths - out`` holds exactly per cell.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.abm.rng import S, combine, poisson, stochastic_round, uniform

# Person status within a year.
PRESENT, DIED, LEFT = 0, 1, 2
# Person origin.
BASE, BORN, IN_MIGRANT, REFUGEE = 0, 1, 2, 3
ORIGINS = ("base", "born", "in_migrant", "refugee")
# Role in the household.
ADULT, CHILD = 0, 1
# Household kind.
HH_REGULAR, HH_REFUGEE, HH_HOUSING = 0, 1, 2
# Dwelling types.
DWELLING_TYPES = ("enebolig", "smahus", "blokk", "other")
NO_DWELLING = -1

B_, D_, I_, O_, R_ = 0, 1, 2, 3, 4  # component indices (sim.cohort.kernel.COMPONENTS order)
LAST = 105

_U = np.uint64
ST_DEATH = _U(S["death"])
ST_OUT = _U(S["out"])
ST_OUT_HH = _U(S["out_household"])
ST_OUT_MODE = _U(S["out_mode"])
ST_BIRTH = _U(S["birth"])
ST_BIRTH_SEX = _U(S["birth_sex"])
ST_ARRIVALS = _U(S["arrivals"])
ST_ARR_OUT = _U(S["arrival_out"])
ST_HOUSEHOLD = _U(S["household"])
ST_LEAVE = _U(S["leave_home"])
ST_UNIT = _U(S["refugee_unit"])
ST_REUNIFY = _U(S["reunify"])
ST_INIT = _U(S["init"])
ST_HOUSING = _U(S["housing"])
ST_DWELLING = _U(S["dwelling"])

TAG_BASE = _U(0x0B45E)
TAG_ARRIVAL = _U(0xA441)
TAG_BIRTH = _U(0xB127)
TAG_HH = _U(0x4407)
TAG_DWELLING = _U(0xD3E1)


@njit(cache=True, inline="always")
def _leave_prob(q, o):
    """P(leave | survived) that makes P(leave) = o when P(die) = q."""
    return o / (1.0 - q) if q < 1.0 else 0.0


@njit(cache=True)
def age_and_fates(n, nh, t, year, seed, q, o, household_share, p_leave,
                  age, sex, status, district, household, key, origin, arr_year, role,
                  hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                  vac_start, vac_ptr, vac_list, dw_household, comp):
    """Age everyone, decide residents' deaths and out-migration, let young adults leave home.

    One visit per person does the steps ``age_and_fates`` and ``leave_home`` of
    ``STEP_ORDER`` (vacant dwellings are listed by ``vacancies`` before the call).

    Args:
        n, nh: numbers of person rows (all present on 1 January) and household rows.
        t, year: year index into the rate arrays and calendar year (uint64, for the streams).
        seed: run seed (uint64).
        q, o: [Y, D, 2, A] death probability and out-migration rate.
        household_share: probability that a person's move decision follows the household's
            draw (whole households move together) rather than their own; the marginal
            probability is o either way.
        p_leave: [A] annual probability that a survivor living as a child (role CHILD) aged
            18+ forms a one-person household in their district (in a vacant dwelling if there
            is one, see ``vacancies``).
        age, ...: person arrays (``age`` updated in place to the cohort age, ``status`` set to
            PRESENT/DIED/LEFT, ``household`` and ``role`` of leavers updated).
        hh_*: household arrays; out-migration draws of a household share ``hh_key``'s stream.
        comp: [Y, D, 5, 2, A] int32 component counts (deaths and out-migrants written).

    The caller guarantees room for one new household per person of role CHILD aged 17+ on
    1 January (see ``household_indicators``). Returns the new number of household rows.
    """
    for i in range(n):
        a = age[i] + 1
        if a > LAST:
            a = LAST
        age[i] = a
        d, s = district[i], sex[i]
        ki = key[i]
        qi = q[t, d, s, a]
        if uniform(seed, ki, year, ST_DEATH) < qi:
            status[i] = DIED
            comp[t, d, D_, s, a] += 1
            continue
        p = _leave_prob(qi, o[t, d, s, a])
        # the household's draw or the person's own (a select, not a hard-to-predict branch)
        together = uniform(seed, ki, year, ST_OUT_MODE) < household_share
        kh = hh_key[household[i]]
        if uniform(seed, kh if together else ki, year, ST_OUT_HH if together else ST_OUT) < p:
            status[i] = LEFT
            comp[t, d, O_, s, a] += 1
            continue
        status[i] = PRESENT
        if role[i] == CHILD and a >= 18 and uniform(seed, ki, year, ST_LEAVE) < p_leave[a]:
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                                d, HH_REGULAR, year, ki, NO_DWELLING)
            hh_dwelling[nh - 1] = _take_vacant(d, vac_start, vac_ptr, vac_list, dw_household,
                                               nh - 1)
            household[i] = nh - 1
            role[i] = ADULT
    return nh


@njit(cache=True, inline="always")
def arrival_fate(seed, k, year, qa, oa):
    """Fate of a person arriving mid-year: exposed half a year to q and o."""
    if uniform(seed, k, year, ST_DEATH) < 0.5 * qa:
        return DIED
    if uniform(seed, k, year, ST_ARR_OUT) < _leave_prob(0.5 * qa, 0.5 * oa):
        return LEFT
    return PRESENT


@njit(cache=True, inline="always")
def counted_arrival_fate(seed, k, year, qa, oa, comp, t, d, s, a):
    """``arrival_fate``, also counting a death or departure in ``comp[t, d, :, s, a]``."""
    st = arrival_fate(seed, k, year, qa, oa)
    if st == DIED:
        comp[t, d, D_, s, a] += 1
    elif st == LEFT:
        comp[t, d, O_, s, a] += 1
    return st


@njit(cache=True)
def arrival_counts(persons, t, year, seed, scale, rounding, tag, counts):
    """Number of arrivals per (district, sex, cohort age) of year t.

    Args:
        persons: [Y, D, 2, A] expected arrivals (in-migrants or refugees).
        scale: multiplier on ``persons`` (1.0 = as given).
        rounding: 0 = Poisson counts, 1 = stochastic rounding (floor + Bernoulli).
        tag: stream key of the flow (in-migrants and refugees differ).
        counts: [D, 2, A] int64 output.

    Returns:
        The total count.
    """
    total = 0
    n_d, n_a = persons.shape[1], persons.shape[3]
    for d in range(n_d):
        for s in range(2):
            for a in range(n_a):
                lam = scale * persons[t, d, s, a]
                cell = combine(tag, _U((d * 2 + s) * n_a + a))
                if rounding == 0:
                    c = poisson(seed, cell, year, ST_ARRIVALS, lam)
                else:
                    c = stochastic_round(lam, uniform(seed, cell, year, ST_ARRIVALS))
                counts[d, s, a] = c
                total += c
    return total


@njit(cache=True)
def _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key, d, kind,
                   year, k, dwelling):
    hh_dwelling[nh] = dwelling
    hh_district[nh] = d
    hh_size[nh] = 0
    hh_kind[nh] = kind
    hh_year[nh] = year
    hh_key[nh] = combine(TAG_HH, k)
    return nh + 1


@njit(cache=True)
def _take_vacant(d, vac_start, vac_ptr, vac_list, dw_household, hh):
    """Next vacant dwelling in district d (or NO_DWELLING); marks it occupied by ``hh``."""
    j = vac_ptr[d]
    if j < vac_start[d + 1]:
        vac_ptr[d] = j + 1
        w = vac_list[j]
        dw_household[w] = hh
        return w
    return NO_DWELLING


@njit(cache=True)
def vacancies(n_dw, dw_household, dw_district, n_dist, vac_start, vac_ptr, vac_list):
    """Vacant dwellings by district (CSR): ``vac_list[vac_start[d]:vac_start[d+1]]``."""
    vac_start[:] = 0
    for w in range(n_dw):
        if dw_household[w] < 0:
            vac_start[dw_district[w] + 1] += 1
    for d in range(n_dist):
        vac_start[d + 1] += vac_start[d]
    vac_ptr[:n_dist] = vac_start[:n_dist]
    for w in range(n_dw):
        if dw_household[w] < 0:
            d = dw_district[w]
            vac_list[vac_ptr[d]] = w
            vac_ptr[d] += 1
    vac_ptr[:n_dist] = vac_start[:n_dist]


@njit(cache=True)
def add_arrivals(n, nh, counts, origin_code, t, year, seed, tag, q, o, p_couple,
                 age, sex, status, district, household, key, origin, arr_year, role,
                 hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                 vac_start, vac_ptr, vac_list, dw_household, comp, comp_index,
                 reunify_rate, reunify_window, out_reunified):
    """Create the year's arrivals from ``counts`` and group them into households.

    Per district: every arrival is a person with the cell's sex and cohort age and a fate from
    ``arrival_fate``. Grouping (does not change any count): each adult woman (18+) forms a
    household and takes an unpartnered adult man within 10 years of her age with probability
    ``p_couple``; other adult men form their own; each child (< 18) joins a random woman
    18-50 years older (else any adult) arriving in the same district and year, else lives
    alone. For refugees (``reunify_rate > 0``), each new household joins an existing refugee
    household of the district settled in the last ``reunify_window`` years (family
    reunification) with probability ``min(1, reunify_rate * eligible / new households)``.
    New households take a vacant dwelling of the district when there is one.

    The arrivals of a district occupy consecutive rows ordered by (sex, age, rank), so every
    "first/random person of row order with property X" search is an index into the row
    ranges ``rs`` of (sex, age) cells: each person is grouped in O(1) (O(21) for partners).

    Returns:
        (n, nh): the new numbers of person and household rows.
    """
    n_d, n_a = counts.shape[0], counts.shape[2]
    rs = np.empty(2 * n_a + 1, np.int64)    # row start of (sex, age) cell s * n_a + a
    free = np.empty(n_a, np.int64)          # next unpartnered man of each age
    for d in range(n_d):
        first = n
        for s in range(2):
            for a in range(n_a):
                rs[s * n_a + a] = n
                cell = combine(tag, _U((d * 2 + s) * n_a + a))
                ck = combine(cell, year)
                qa, oa = q[t, d, s, a], o[t, d, s, a]
                c = counts[d, s, a]
                for j in range(c):
                    k = combine(ck, _U(j))
                    key[n] = k
                    age[n] = a
                    sex[n] = s
                    district[n] = d
                    origin[n] = origin_code
                    arr_year[n] = year
                    role[n] = ADULT if a >= 18 else CHILD
                    household[n] = -1
                    status[n] = counted_arrival_fate(seed, k, year, qa, oa, comp, t, d, s, a)
                    n += 1
                comp[t, d, comp_index, s, a] += c
        rs[2 * n_a] = n
        last = n
        if last == first:
            continue
        kind = HH_REFUGEE if origin_code == REFUGEE else HH_REGULAR
        hh_first = nh
        adult_lo = 18 if n_a > 18 else n_a
        # Adult women in row order (ascending age), each with the first free man (lowest age,
        # then rank) within 10 years of her age with probability p_couple.
        for a in range(n_a):
            free[a] = rs[a]
        for i in range(rs[n_a + adult_lo], last):
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                hh_key, d, kind, year, key[i], NO_DWELLING)
            household[i] = nh - 1
            if uniform(seed, key[i], year, ST_HOUSEHOLD) < p_couple:
                ai = int(age[i])
                for a2 in range(max(18, ai - 10), min(n_a - 1, ai + 10) + 1):
                    m = free[a2]
                    if m < rs[a2 + 1]:
                        household[m] = nh - 1
                        free[a2] = m + 1
                        break
        for i in range(rs[adult_lo], rs[n_a]):
            if household[i] < 0:
                nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                    hh_key, d, kind, year, key[i], NO_DWELLING)
                household[i] = nh - 1
        # Children join a mother-aged woman, else any adult, else live alone.
        n_men = rs[n_a] - rs[adult_lo]
        n_adults = n_men + last - rs[n_a + adult_lo]
        for s in range(2):
            for i in range(rs[s * n_a], rs[s * n_a + adult_lo]):
                ai = int(age[i])
                lo = ai + 18
                hi = min(ai + 50, n_a - 1)
                n_cand = rs[n_a + hi + 1] - rs[n_a + lo] if lo <= hi else 0
                if n_cand == 0 and n_adults == 0:
                    nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind,
                                        hh_year, hh_key, d, kind, year, key[i], NO_DWELLING)
                    household[i] = nh - 1
                    continue
                if n_cand > 0:
                    pick = int(uniform(seed, key[i], year, ST_HOUSEHOLD) * n_cand)
                    m = rs[n_a + lo] + pick
                else:
                    pick = int(uniform(seed, key[i], year, ST_HOUSEHOLD) * n_adults)
                    m = rs[adult_lo] + pick if pick < n_men else rs[n_a + adult_lo] + pick - n_men
                household[i] = household[m]
        # Family reunification: whole new units join earlier refugee households.
        if reunify_rate > 0.0 and nh > hh_first:
            n_elig = 0
            for h in range(hh_first):
                if (hh_kind[h] == HH_REFUGEE and hh_district[h] == d and hh_year[h] < year
                        and hh_year[h] >= year - reunify_window and hh_size[h] > 0):
                    n_elig += 1
            if n_elig > 0:
                elig = np.empty(n_elig, np.int64)
                j = 0
                for h in range(hh_first):
                    if (hh_kind[h] == HH_REFUGEE and hh_district[h] == d and hh_year[h] < year
                            and hh_year[h] >= year - reunify_window and hh_size[h] > 0):
                        elig[j] = h
                        j += 1
                p = min(1.0, reunify_rate * n_elig / (nh - hh_first))
                target = np.full(nh - hh_first, -1, np.int64)
                merged = False
                for h in range(hh_first, nh):
                    if uniform(seed, hh_key[h], year, ST_UNIT) >= p:
                        continue
                    pick = int(uniform(seed, hh_key[h], year, ST_REUNIFY) * n_elig)
                    target[h - hh_first] = elig[pick]
                    hh_size[h] = -1  # merged away: dropped at compaction
                    out_reunified[0] += 1
                    merged = True
                if merged:
                    for i in range(first, last):
                        h = household[i] - hh_first
                        if h >= 0 and target[h] >= 0:
                            household[i] = target[h]
        # Dwellings for the households that remain.
        for h in range(hh_first, nh):
            if hh_size[h] == 0:
                hh_dwelling[h] = _take_vacant(d, vac_start, vac_ptr, vac_list, dw_household, h)
    return n, nh


@njit(cache=True)
def housing_movers(n, nh, n_dw, t, year, seed, completions, tmpl_type, tmpl_cum, tmpl_adults,
                   tmpl_amin, tmpl_amax, tmpl_children, tmpl_cmin, tmpl_cmax, q, o,
                   age, sex, status, district, household, key, origin, arr_year, role,
                   hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                   dw_type, dw_district, dw_year, dw_household, comp):
    """Complete the year's dwellings and move one household of in-migrants into each.

    Args:
        completions: [K, 3] int64 rows (district, dwelling type, number of dwellings).
        tmpl_*: household templates (flat arrays): dwelling type, cumulative share within
            the type, number of adults and their age range, number of children and their
            age range (ages inclusive, cohort ages on 1 January of t+1).
        Other arrays as in ``add_arrivals``; movers count as in-migrants and get the
        arrivals' half-year exposure.

    Returns:
        (n, nh, n_dw): new numbers of person, household and dwelling rows.
    """
    for r in range(completions.shape[0]):
        d, ty, cnt = completions[r, 0], completions[r, 1], completions[r, 2]
        for j in range(cnt):
            dk = combine(combine(TAG_DWELLING, year), _U((d * 8 + ty) * 1_000_003 + j))
            w = n_dw
            dw_type[w] = ty
            dw_district[w] = d
            dw_year[w] = year
            n_dw += 1
            u = uniform(seed, dk, year, ST_HOUSING)
            tp = -1
            for m in range(tmpl_type.shape[0]):
                if tmpl_type[m] == ty:
                    tp = m
                    if u < tmpl_cum[m]:
                        break
            if tp < 0:
                dw_household[w] = -1
                continue
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                                d, HH_HOUSING, year, dk, w)
            dw_household[w] = nh - 1
            n_memb = tmpl_adults[tp] + tmpl_children[tp]
            first_sex = 0 if uniform(seed, dk, year, ST_DWELLING) < 0.5 else 1
            for mb in range(n_memb):
                k = combine(dk, _U(mb + 1))
                if mb < tmpl_adults[tp]:
                    lo, hi = tmpl_amin[tp], tmpl_amax[tp]
                    s = first_sex if mb % 2 == 0 else 1 - first_sex
                    rl = ADULT
                else:
                    lo, hi = tmpl_cmin[tp], tmpl_cmax[tp]
                    s = 0 if uniform(seed, k, year, ST_BIRTH_SEX) < 0.5 else 1
                    rl = CHILD
                a = lo + int(uniform(seed, k, year, ST_HOUSING) * (hi - lo + 1))
                key[n] = k
                age[n] = a
                sex[n] = s
                district[n] = d
                household[n] = nh - 1
                origin[n] = IN_MIGRANT
                arr_year[n] = year
                role[n] = rl
                comp[t, d, I_, s, a] += 1
                status[n] = counted_arrival_fate(seed, k, year, q[t, d, s, a], o[t, d, s, a],
                                                 comp, t, d, s, a)
                n += 1
    return n, nh, n_dw


@njit(cache=True, inline="always")
def _move_row(m, i, age, sex, status, district, household, key, origin, arr_year, role):
    age[m] = age[i]
    sex[m] = sex[i]
    status[m] = PRESENT
    district[m] = district[i]
    household[m] = household[i]
    key[m] = key[i]
    origin[m] = origin[i]
    arr_year[m] = arr_year[i]
    role[m] = role[i]


@njit(cache=True)
def births_and_compact(n, i0, m0, m_new0, t, year, seed, fert, q, o, p_male,
                       age, sex, status, district, household, key, origin, arr_year, role,
                       comp, hh_count, pop_out):
    """Births of year t to the women of rows [0, n), then drop persons who died or left.

    One visit per person does the steps ``births`` and ``compact`` (persons) of
    ``STEP_ORDER``.

    Newborns are appended from row n on (each with her fate for the year); the rows present
    are moved down to [0, m) in order, followed by the newborns present. ``hh_count`` [H]
    (zeroed by the caller) receives household sizes, ``pop_out`` [D, 2, A] the persons present.

    Resumable: the loop state is ``(i, m, m_new)``; start with ``(0, 0, n)``. When the arrays
    have no room for the next woman's newborns, the function returns the state ``i < n``
    without touching woman ``i``; the caller makes room for rows ``[0, m_new)`` and calls
    again with the state. The draws are keyed, so the result does not depend on where it
    stopped.

    Returns:
        (i, m, m_new): ``i == n`` when done, ``m`` is then the new number of person rows.
    """
    cap = age.shape[0]
    m, m_new = m0, m_new0
    for i in range(i0, n):
        if sex[i] == 1:
            d, a = district[i], age[i]
            f = fert[t, d, a]
            if f > 0.0:
                qa, oa = q[t, d, 1, a], o[t, d, 1, a]
                if arr_year[i] == year:
                    mean = 0.5 * f if status[i] == PRESENT else 0.0
                elif qa + oa < 1.0:
                    mean = (f * (1.0 - 0.5 * (qa + oa)) / (1.0 - qa - oa)
                            if status[i] == PRESENT else 0.0)
                else:
                    mean = 0.5 * f
                if mean > 0.0:
                    ki = key[i]
                    nb = stochastic_round(mean, uniform(seed, ki, year, ST_BIRTH))
                    if m_new + nb > cap:
                        return i, m, m_new
                    for j in range(nb):
                        kb = combine(combine(TAG_BIRTH, ki), combine(year, _U(j)))
                        s = 0 if uniform(seed, kb, year, ST_BIRTH_SEX) < p_male else 1
                        key[m_new] = kb
                        age[m_new] = 0
                        sex[m_new] = s
                        district[m_new] = d
                        household[m_new] = household[i]
                        origin[m_new] = BORN
                        arr_year[m_new] = year
                        role[m_new] = CHILD
                        comp[t, d, B_, s, 0] += 1
                        q0 = q[t, d, s, 0]
                        if uniform(seed, kb, year, ST_DEATH) < q0:
                            status[m_new] = DIED
                            comp[t, d, D_, s, 0] += 1
                        elif uniform(seed, kb, year, ST_OUT) < _leave_prob(q0, o[t, d, s, 0]):
                            status[m_new] = LEFT
                            comp[t, d, O_, s, 0] += 1
                        else:
                            status[m_new] = PRESENT
                        m_new += 1
        if status[i] == PRESENT:
            if m != i:
                _move_row(m, i, age, sex, status, district, household, key, origin, arr_year,
                          role)
            hh_count[household[m]] += 1
            pop_out[district[m], sex[m], age[m]] += 1
            m += 1
    for i in range(n, m_new):
        if status[i] == PRESENT:
            _move_row(m, i, age, sex, status, district, household, key, origin, arr_year, role)
            hh_count[household[m]] += 1
            pop_out[district[m], sex[m], 0] += 1
            m += 1
    return n, m, m_new


@njit(cache=True)
def compact_households(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                       dw_household, hh_map):
    """Drop households left empty; vacated dwellings become vacant.

    ``hh_map`` [nh] holds the household sizes on entry and the new index of each household
    (-1 if dropped) on exit.

    Returns:
        The new number of household rows.
    """
    g = 0
    for h in range(nh):
        size = hh_map[h]
        if size > 0:
            if g != h:
                hh_dwelling[g] = hh_dwelling[h]
                hh_district[g] = hh_district[h]
                hh_kind[g] = hh_kind[h]
                hh_year[g] = hh_year[h]
                hh_key[g] = hh_key[h]
            hh_size[g] = size
            if hh_dwelling[g] >= 0:
                dw_household[hh_dwelling[g]] = g
            hh_map[h] = g
            g += 1
        else:
            if hh_dwelling[h] >= 0 and dw_household[hh_dwelling[h]] == h:
                dw_household[hh_dwelling[h]] = -1
            hh_map[h] = -1
    return g


@njit(cache=True)
def household_indicators(n, nh, age, role, household, hh_map, hh_kind, hh_dwelling, dw_type,
                         dw_year, scratch, out):
    """Fill ``out`` (``INDICATORS`` order, see ``sim/abm/model.py``) for the current state.

    If ``hh_map`` is not empty, each person's household is first renumbered through it (the
    last step of ``compact``, fused into this pass). ``scratch`` needs ``nh`` int32 slots.
    Dwellings with ``dw_year > 0`` are the ones completed during the projection (the base
    stock has year 0). ``out[3]`` (a flow) is left alone.

    Returns:
        The number of persons of role CHILD aged 17 or more (an upper bound on the households
        that young adults leaving home can form next year).
    """
    remap = hh_map.shape[0] > 0
    for j in range(out.shape[0]):
        if j != 3:
            out[j] = 0.0
    out[0] = nh
    # scratch[h]: bit 0 = has an adult, bit 1 = refugee household, bits 2+ = 1 + type of a
    # dwelling completed during the projection (0 = none): one lookup per person below.
    for h in range(nh):
        code = 0
        if hh_kind[h] == HH_REFUGEE:
            out[1] += 1
            code = 2
        w = hh_dwelling[h]
        if w >= 0 and dw_year[w] > 0:
            code += 4 * (1 + dw_type[w])
        scratch[h] = code
    n_leave = 0
    for i in range(n):
        h = household[i]
        if remap:
            h = hh_map[h]
            household[i] = h
        ai = age[i]
        code = scratch[h]
        if ai >= 18:
            scratch[h] = code | 1
        if ai >= 17 and role[i] == CHILD:
            n_leave += 1
        if code & 2:
            out[2] += 1
        if code >= 4:
            ty = (code >> 2) - 1
            out[4 + 3 * ty] += 1
            if ai <= 5:
                out[5 + 3 * ty] += 1
            elif ai <= 15:
                out[6 + 3 * ty] += 1
    for h in range(nh):
        if scratch[h] & 1 == 0:
            out[16] += 1
    return n_leave


_PARTNER_OFFSETS = np.array([2, 1, 3, 0, 4, 5, -1, 6, -2, 7, 8, -3, 9, 10, -4, -5], dtype=np.int64)
"""Man's age minus woman's age tried in this order when forming base couples (ASSUMPTION:
men are on average about two years older, SSB marriage statistics)."""


@njit(cache=True)
def init_households(n, n_dist, seed, age, sex, district, key, role, household,
                    p_home, p_partner, gap_cum, dwelling_cum,
                    hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                    dw_type, dw_district, dw_year, dw_household):
    """Group the base population into households, each in a dwelling of the existing stock.

    Young adults 18-29 live with a parent with ``p_home[age]``; each adult woman lives with a
    partner with ``p_partner[age]`` (a free man of nearby age, ``_PARTNER_OFFSETS``); other
    adults live alone; children and young adults at home join a woman whose age exceeds theirs
    by a gap drawn from ``gap_cum`` (cumulative over gaps 0..len-1; nearest available age),
    else any adult of the district, else live alone. Dwelling types are drawn from the
    cumulative shares ``dwelling_cum`` [4]; the base stock has ``dw_year = 0``.

    Returns:
        The number of households (= dwellings).
    """
    n_a = LAST + 1
    cnt_m = np.zeros(n_dist * n_a, np.int64)
    cnt_w = np.zeros(n_dist * n_a, np.int64)
    cnt_ad = np.zeros(n_dist, np.int64)
    for i in range(n):
        if age[i] < 18 or age[i] < 30 and uniform(seed, key[i], _U(0), ST_INIT) < p_home[age[i]]:
            role[i] = CHILD
        else:
            role[i] = ADULT
            c = district[i] * n_a + age[i]
            if sex[i] == 0:
                cnt_m[c] += 1
            else:
                cnt_w[c] += 1
            cnt_ad[district[i]] += 1
        household[i] = -1
    st_m = np.zeros(n_dist * n_a + 1, np.int64)
    st_w = np.zeros(n_dist * n_a + 1, np.int64)
    st_ad = np.zeros(n_dist + 1, np.int64)
    for c in range(n_dist * n_a):
        st_m[c + 1] = st_m[c] + cnt_m[c]
        st_w[c + 1] = st_w[c] + cnt_w[c]
    for d in range(n_dist):
        st_ad[d + 1] = st_ad[d] + cnt_ad[d]
    men = np.empty(st_m[-1], np.int64)
    women = np.empty(st_w[-1], np.int64)
    adults = np.empty(st_ad[-1], np.int64)
    pm = st_m[:-1].copy()
    pw = st_w[:-1].copy()
    pa = st_ad[:-1].copy()
    for i in range(n):
        if role[i] == ADULT:
            c = district[i] * n_a + age[i]
            if sex[i] == 0:
                men[pm[c]] = i
                pm[c] += 1
            else:
                women[pw[c]] = i
                pw[c] += 1
            adults[pa[district[i]]] = i
            pa[district[i]] += 1
    pm[:] = st_m[:-1]
    nh = 0
    for i in range(n):
        if role[i] != ADULT or sex[i] != 1:
            continue
        d = district[i]
        nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                            d, HH_REGULAR, 0, key[i], NO_DWELLING)
        household[i] = nh - 1
        if uniform(seed, key[i], _U(0), ST_HOUSEHOLD) < p_partner[age[i]]:
            for delta in _PARTNER_OFFSETS:
                a2 = age[i] + delta
                if a2 < 18 or a2 > LAST:
                    continue
                c = d * n_a + a2
                if pm[c] < st_m[c + 1]:
                    household[men[pm[c]]] = nh - 1
                    pm[c] += 1
                    break
    for i in range(n):
        if role[i] == ADULT and household[i] < 0:
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                hh_key, district[i], HH_REGULAR, 0, key[i], NO_DWELLING)
            household[i] = nh - 1
    n_gap = gap_cum.shape[0]
    for i in range(n):
        if role[i] != CHILD:
            continue
        d = district[i]
        u = uniform(seed, key[i], _U(1), ST_INIT)
        gap = 0
        while gap < n_gap - 1 and u >= gap_cum[gap]:
            gap += 1
        found = -1
        for step in range(21):
            off = (step + 1) // 2 if step % 2 == 1 else -(step // 2)
            a2 = age[i] + gap + off
            if a2 < 18 or a2 > LAST:
                continue
            c = d * n_a + a2
            cnt = st_w[c + 1] - st_w[c]
            if cnt > 0:
                u2 = uniform(seed, key[i], _U(2), ST_INIT)
                found = women[st_w[c] + int(u2 * cnt)]
                break
        if found < 0 and st_ad[d + 1] > st_ad[d]:
            u2 = uniform(seed, key[i], _U(3), ST_INIT)
            found = adults[st_ad[d] + int(u2 * (st_ad[d + 1] - st_ad[d]))]
        if found >= 0:
            household[i] = household[found]
        else:
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                hh_key, d, HH_REGULAR, 0, key[i], NO_DWELLING)
            household[i] = nh - 1
    for h in range(nh):
        u = uniform(seed, hh_key[h], _U(0), ST_DWELLING)
        ty = 0
        while ty < 3 and u >= dwelling_cum[ty]:
            ty += 1
        dw_type[h] = ty
        dw_district[h] = hh_district[h]
        dw_year[h] = 0
        dw_household[h] = h
        hh_dwelling[h] = h
    for i in range(n):
        hh_size[household[i]] += 1
    return nh


@njit(cache=True)
def base_counts(base, seed, counts):
    """Whole persons per base cell: stochastic rounding of ``base`` [D, 2, A] (exact if whole)."""
    total = 0
    n_a = base.shape[2]
    for d in range(base.shape[0]):
        for s in range(2):
            for a in range(n_a):
                cell = combine(TAG_BASE, _U((d * 2 + s) * n_a + a))
                c = stochastic_round(base[d, s, a], uniform(seed, cell, 0, ST_INIT))
                counts[d, s, a] = c
                total += c
    return total


@njit(cache=True)
def make_base(counts, age, sex, district, key, status, origin, arr_year):
    """Fill person rows from base counts [D, 2, A]; keys from (cell, rank). Returns n."""
    n = 0
    n_a = counts.shape[2]
    for d in range(counts.shape[0]):
        for s in range(2):
            for a in range(n_a):
                cell = combine(TAG_BASE, _U((d * 2 + s) * n_a + a))
                for j in range(counts[d, s, a]):
                    key[n] = combine(cell, _U(j))
                    age[n] = a
                    sex[n] = s
                    district[n] = d
                    status[n] = PRESENT
                    origin[n] = BASE
                    arr_year[n] = 0
                    n += 1
    return n
