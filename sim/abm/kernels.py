"""Numba kernels of the agent-based engine: one function per step of the year.

Persons, households and dwellings are structs of arrays (see ``sim/abm/people.py``); kernels
receive the arrays and scalars, never Python objects. Person ``i`` is row ``i`` of the person
arrays; its random draws are keyed by ``key[i]`` (``sim/abm/rng.py``), not by the row.

Lexis convention (``sim/cohort/METHOD.md``): on entry to ``age_and_deaths`` ``age`` is the age
on 1 January of year t; it becomes the cohort age ``x = min(age + 1, 105)`` and stays so
through the year, so that on exit it is the age on 1 January of t+1. Per person (q, o = death
probability and out-migration rate at cohort age x):

* resident on 1 January: dies with q; if alive, leaves with ``p = o / (1 - q)`` (so
  P(leave) = o);
* arriving in-migrant or refugee (mid-year on average): dies with q/2; if alive, leaves with
  ``p = (o/2) / (1 - q/2)``;
* newborn: dies with q[0], otherwise leaves with o[0] / (1 - q[0]);
* births: a woman present at the end of the year gives
  ``f (1 - (q + o)/2) / (1 - q - o)`` births in expectation if she was resident on 1 January and
  ``f / 2`` if she arrived during the year; women who died or left give none (unless
  ``q + o >= 1``, when the residents give ``f / 2`` each). The expected total is exactly
  ``sum_x f[x] (A[x] + (I[x] + R[x]) / 2) (1 - (q[x] + o[x]) / 2)`` as in METHOD.md step 3.

Out-migration moves households, not only persons (``out_migration``): children under 18
leave only with their family, and the per-person probabilities ``p`` are met in expectation in
every (resident/arrival, district, sex, age) cell by compensating draws, so the birth formula
above and the cohort engine's expectations still hold (it is linear in the persons present).

Component counts are written to ``comp[t, d, c, s, x]`` (int32, ``COMPONENTS`` order) as events
happen, so ``P[t+1] = A + births + in + refugees - deaths - out`` holds exactly per cell.
Household processes (leaving home, partnering, separation, rehousing children) move persons
between households of the same district and never change a count.
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
# Role in the household: single adult (alone or lone parent), living with parents (every
# person under 18, and adults at home), living with another adult (partner or flatmate).
ADULT, CHILD, PARTNER = 0, 1, 2
ADULT_AGE = 18
# Household kind.
HH_REGULAR, HH_REFUGEE, HH_HOUSING = 0, 1, 2
# Dwelling types.
DWELLING_TYPES = ("enebolig", "smahus", "blokk", "other")
NO_DWELLING = -1

B_, D_, I_, O_, R_ = 0, 1, 2, 3, 4  # component indices (sim.cohort.kernel.COMPONENTS order)
LAST = 105
N_KAPPA_ITER = 8
"""Fixed-point iterations of the family move probabilities (``out_migration``); the largest
cell error about halves each time. Measured for Lørenskog: 0.03 persons unmatched a year of
about 900 children's expected departures (reported as ``out_migration_unmatched``)."""
MOTHER_GAP = 28
"""Age gap to search around when a child is placed with a woman outside its own family."""

_U = np.uint64
ST_DEATH = _U(S["death"])
ST_OUT = _U(S["out"])
ST_OUT_HH = _U(S["out_household"])
ST_BIRTH = _U(S["birth"])
ST_BIRTH_SEX = _U(S["birth_sex"])
ST_ARRIVALS = _U(S["arrivals"])
ST_HOUSEHOLD = _U(S["household"])
ST_LEAVE = _U(S["leave_home"])
ST_UNIT = _U(S["refugee_unit"])
ST_REUNIFY = _U(S["reunify"])
ST_INIT = _U(S["init"])
ST_HOUSING = _U(S["housing"])
ST_DWELLING = _U(S["dwelling"])
ST_SEPARATE = _U(S["separate"])
ST_PARTNER = _U(S["partner"])
ST_REHOUSE = _U(S["rehouse"])

TAG_BASE = _U(0x0B45E)
TAG_ARRIVAL = _U(0xA441)
TAG_BIRTH = _U(0xB127)
TAG_HH = _U(0x4407)
TAG_DWELLING = _U(0xD3E1)

_PARTNER_OFFSETS = np.array([2, 1, 3, 0, 4, 5, -1, 6, -2, 7, 8, -3, 9, 10, -4, -5], dtype=np.int64)
"""Man's age minus woman's age tried in this order when forming couples (ASSUMPTION: men are
on average about two years older, SSB marriage statistics)."""


@njit(cache=True, inline="always")
def _leave_prob(q, o):
    """P(leave | survived) that makes P(leave) = o when P(die) = q."""
    return o / (1.0 - q) if q < 1.0 else 0.0


@njit(cache=True, inline="always")
def _p_leave(q, o, t, d, s, a, arrived):
    """Leave probability of a survivor: full-year exposure, or half a year for arrivals."""
    qa, oa = q[t, d, s, a], o[t, d, s, a]
    if arrived:
        return _leave_prob(0.5 * qa, 0.5 * oa)
    return _leave_prob(qa, oa)


@njit(cache=True)
def age_and_deaths(n, t, year, seed, q, age, sex, status, district, key, comp):
    """Age everyone to the cohort age and decide deaths (``status`` PRESENT or DIED)."""
    for i in range(n):
        a = age[i] + 1
        if a > LAST:
            a = LAST
        age[i] = a
        d, s = district[i], sex[i]
        if uniform(seed, key[i], year, ST_DEATH) < q[t, d, s, a]:
            status[i] = DIED
            comp[t, d, D_, s, a] += 1
        else:
            status[i] = PRESENT


@njit(cache=True, inline="always")
def arrival_death(seed, k, year, qa, comp, t, d, s, a):
    """An arrival dies with q/2 (half a year of exposure); counted in ``comp``."""
    if uniform(seed, k, year, ST_DEATH) < 0.5 * qa:
        comp[t, d, D_, s, a] += 1
        return DIED
    return PRESENT


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
def _move_out(i, nh, year, district, household, key, hh_dwelling, hh_district, hh_size, hh_kind,
              hh_year, hh_key, vac_start, vac_ptr, vac_list, dw_household):
    """Person ``i`` forms a new one-person household in a vacant dwelling of the district."""
    d = district[i]
    nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key, d,
                        HH_REGULAR, year, combine(key[i], _U(year)), NO_DWELLING)
    hh_dwelling[nh - 1] = _take_vacant(d, vac_start, vac_ptr, vac_list, dw_household, nh - 1)
    household[i] = nh - 1
    return nh


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
def _adult_index(n, n_dist, mask, sex, age, district, want_sex, start):
    """CSR of rows with ``mask`` true and sex ``want_sex`` by (district, age); returns rows."""
    n_a = LAST + 1
    start[:] = 0
    for i in range(n):
        if mask[i] and sex[i] == want_sex:
            start[district[i] * n_a + age[i] + 1] += 1
    for c in range(n_dist * n_a):
        start[c + 1] += start[c]
    rows = np.empty(start[n_dist * n_a], np.int64)
    ptr = start[:-1].copy()
    for i in range(n):
        if mask[i] and sex[i] == want_sex:
            c = district[i] * n_a + age[i]
            rows[ptr[c]] = i
            ptr[c] += 1
    return rows


@njit(cache=True)
def women_index(n, n_dist, age, sex, status, district, role, start):
    """Present adult women not living with parents, by (district, age) cell ``d * 106 + a``.

    ``start`` [D * 106 + 1] receives the CSR offsets; returns the rows (ascending per cell).
    """
    mask = np.zeros(n, np.bool_)
    for i in range(n):
        mask[i] = status[i] == PRESENT and age[i] >= ADULT_AGE and role[i] != CHILD
    return _adult_index(n, n_dist, mask, sex, age, district, 1, start)


@njit(cache=True)
def _pick_near(start, rows, d, a0, u):
    """A row (chosen by ``u``) of the nearest non-empty age cell to ``a0`` in district ``d``.

    Ages tried: a0, a0+1, a0-1, ... up to +-20 (adults only); -1 if none has anyone.
    """
    n_a = LAST + 1
    for step in range(41):
        off = (step + 1) // 2 if step % 2 == 1 else -(step // 2)
        a2 = a0 + off
        if a2 < ADULT_AGE or a2 > LAST:
            continue
        c = d * n_a + a2
        cnt = start[c + 1] - start[c]
        if cnt > 0:
            return rows[start[c] + int(u * cnt)]
    return -1


@njit(cache=True, inline="always")
def _pick_grouped(lo, hi, u, role):
    """A row of [lo, hi) not living with parents, from position ``u``; -1 if none."""
    n_cand = hi - lo
    if n_cand <= 0:
        return -1
    j0 = int(u * n_cand)
    for j in range(n_cand):
        m = lo + (j0 + j) % n_cand
        if role[m] != CHILD:
            return m
    return -1


@njit(cache=True)
def add_arrivals(n, nh, counts, origin_code, t, year, seed, tag, q, p_couple, home,
                 age, sex, status, district, household, key, origin, arr_year, role,
                 hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                 vac_start, vac_ptr, vac_list, dw_household, comp, comp_index,
                 reunify_rate, reunify_window, out_reunified, n_res):
    """Create the year's arrivals from ``counts`` and group them into households.

    Per district: every arrival is a person with the cell's sex and cohort age who dies with
    q/2 (``arrival_death``; out-migration is decided later with everyone's). Grouping (does not
    change any count): an adult lives with parents with the year's target share ``home``
    [D, 2, A]; each other adult woman (18+) forms a household and takes an unpartnered adult
    man of nearby age (``_PARTNER_OFFSETS``) with probability ``p_couple`` (both PARTNER);
    other adult men form their own; each child (< 18) and adult at home joins a random woman
    18-50 years older arriving in the same district and year; a child without one joins any
    arriving adult, else a resident woman (rows below ``n_res``) about ``MOTHER_GAP`` years
    older, else lives alone; an adult without one lives alone.
    For refugees (``reunify_rate > 0``), each new household joins an existing refugee
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
    w_start = np.zeros(n_d * n_a + 1, np.int64)   # resident women, built when first needed
    w_rows = np.empty(0, np.int64)
    w_built = False
    for d in range(n_d):
        first = n
        for s in range(2):
            for a in range(n_a):
                rs[s * n_a + a] = n
                cell = combine(tag, _U((d * 2 + s) * n_a + a))
                ck = combine(cell, year)
                qa = q[t, d, s, a]
                c = counts[d, s, a]
                for j in range(c):
                    k = combine(ck, _U(j))
                    key[n] = k
                    age[n] = a
                    sex[n] = s
                    district[n] = d
                    origin[n] = origin_code
                    arr_year[n] = year
                    at_home = (a < ADULT_AGE or uniform(seed, k, year, ST_LEAVE) < home[d, s, a])
                    role[n] = CHILD if at_home else ADULT
                    household[n] = -1
                    status[n] = arrival_death(seed, k, year, qa, comp, t, d, s, a)
                    n += 1
                comp[t, d, comp_index, s, a] += c
        rs[2 * n_a] = n
        last = n
        if last == first:
            continue
        kind = HH_REFUGEE if origin_code == REFUGEE else HH_REGULAR
        hh_first = nh
        adult_lo = ADULT_AGE if n_a > ADULT_AGE else n_a
        # Adult women in row order (ascending age), each with the first free man of the
        # nearest age in _PARTNER_OFFSETS order with probability p_couple.
        for a in range(n_a):
            free[a] = rs[a]
        for i in range(rs[n_a + adult_lo], last):
            if role[i] == CHILD:
                continue
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                hh_key, d, kind, year, key[i], NO_DWELLING)
            household[i] = nh - 1
            if uniform(seed, key[i], year, ST_HOUSEHOLD) < p_couple:
                for delta in _PARTNER_OFFSETS:
                    a2 = int(age[i]) + delta
                    if a2 < ADULT_AGE or a2 >= n_a:
                        continue
                    while free[a2] < rs[a2 + 1] and role[free[a2]] == CHILD:
                        free[a2] += 1
                    m = free[a2]
                    if m < rs[a2 + 1]:
                        household[m] = nh - 1
                        role[m] = PARTNER
                        role[i] = PARTNER
                        free[a2] = m + 1
                        break
        for i in range(rs[adult_lo], rs[n_a]):
            if household[i] < 0 and role[i] != CHILD:
                nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                    hh_key, d, kind, year, key[i], NO_DWELLING)
                household[i] = nh - 1
        # Children and adults at home join a mother-aged woman; children else any adult, else
        # a resident woman; adults at home with no mother-aged woman live on their own.
        n_men = rs[n_a] - rs[adult_lo]
        n_adults = n_men + last - rs[n_a + adult_lo]
        for i in range(first, last):
            if role[i] != CHILD:
                continue
            ai = int(age[i])
            lo = ai + ADULT_AGE
            hi = min(ai + 50, n_a - 1)
            u = uniform(seed, key[i], year, ST_HOUSEHOLD)
            m = _pick_grouped(rs[n_a + lo], rs[n_a + hi + 1] if lo <= hi else 0, u, role)
            if m < 0 and ai < ADULT_AGE:
                pick = int(u * n_adults)
                m = _pick_grouped(rs[adult_lo], rs[n_a], u, role) if pick < n_men else \
                    _pick_grouped(rs[n_a + adult_lo], last, u, role)
                if m < 0:
                    if not w_built:
                        w_rows = women_index(n_res, n_d, age, sex, status, district, role,
                                             w_start)
                        w_built = True
                    m = _pick_near(w_start, w_rows, d, ai + MOTHER_GAP, u)
            if m >= 0:
                household[i] = household[m]
                continue
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                hh_key, d, kind, year, key[i], NO_DWELLING)
            household[i] = nh - 1
            if ai >= ADULT_AGE:
                role[i] = ADULT
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
                   tmpl_amin, tmpl_amax, tmpl_children, tmpl_cmin, tmpl_cmax, q,
                   age, sex, status, district, household, key, origin, arr_year, role,
                   hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                   dw_type, dw_district, dw_year, dw_household, comp):
    """Complete the year's dwellings and move one whole household of in-migrants into each.

    Args:
        completions: [K, 3] int64 rows (district, dwelling type, number of dwellings).
        tmpl_*: household templates (flat arrays): dwelling type, cumulative share within
            the type, number of adults and their age range, number of children and their
            age range (ages inclusive, cohort ages on 1 January of t+1).
        Other arrays as in ``add_arrivals``; movers count as in-migrants, die with q/2 and
        leave (later, with their household) with the arrivals' half-year exposure. Two adults
        are a couple (a man and a woman, PARTNER).

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
                    rl = PARTNER if tmpl_adults[tp] >= 2 else ADULT
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
                status[n] = arrival_death(seed, k, year, q[t, d, s, a], comp, t, d, s, a)
                n += 1
    return n, nh, n_dw


@njit(cache=True, inline="always")
def _compensate(need, m, rate, a):
    """Set ``rate[a]`` so that ``m`` persons leave ``need`` in expectation; returns the rest."""
    r = min(1.0, max(0.0, need / m)) if m > 0.0 else 0.0
    rate[a] = r
    return need - r * m


@njit(cache=True)
def out_migration(n, nh, t, year, seed, q, o, by_household, age, sex, status, district,
                  household, key, arr_year, role, hh_key, comp):
    """Out-migration of the persons alive: families move together, rates hold in expectation.

    Every survivor ``i`` has a probability ``p_i`` (module doc; ``arr_year == year`` marks an
    arrival) and a cell ``c = (arrival?, district, sex, age)``; the target is that the
    expected departures of each cell are ``E_c = sum_{i in c} p_i``. With ``by_household``
    false every person decides alone with ``p_i`` (the reference model's rule). Otherwise:

    * a household with members under 18 (a family) moves as a whole, except adults living
      with parents, with probability ``pi_h = mean over its children of kappa_c p_c``; the
      factors ``kappa_c`` (children's cells) are solved by fixed-point iteration so that the
      children of every cell leave ``E_c`` in expectation (``N_KAPPA_ITER`` steps);
    * every other adult (no child in the household, or living with parents) leaves with
      ``r_c = (E_c - F_c) / M_c``, where ``F_c`` is the cell's expected departures with
      families and ``M_c`` the cell's adults deciding alone: the compensating draws. Adults of
      one household share one uniform, so couples mostly move together.

    Where a cell cannot be compensated (``F_c > E_c``, or ``E_c - F_c > M_c``) the expected
    difference is added to the return value; it is reported as an indicator.

    Returns:
        The expected number of departures the compensation could not match (persons).
    """
    n_d, n_a = q.shape[1], q.shape[3]
    prob = np.empty((2, n_d, 2, n_a))    # p of a survivor by (arrival?, district, sex, age)
    for g in range(2):
        for d in range(n_d):
            for s in range(2):
                for a in range(n_a):
                    prob[g, d, s, a] = _p_leave(q, o, t, d, s, a, g == 1)
    if not by_household:
        for i in range(n):
            if status[i] == PRESENT:
                d, s, a = district[i], sex[i], age[i]
                p = prob[1 if arr_year[i] == year else 0, d, s, a]
                if uniform(seed, key[i], year, ST_OUT) < p:
                    status[i] = LEFT
                    comp[t, d, O_, s, a] += 1
        return 0.0
    # target[c] = sum of p over the cell's survivors; children listed with household and cell.
    target = np.zeros((2, n_d, 2, n_a))
    n_dep = np.zeros(nh, np.int32)
    n_deps = 0
    for i in range(n):
        if status[i] == PRESENT:
            g = 1 if arr_year[i] == year else 0
            target[g, district[i], sex[i], age[i]] += 1.0
            if age[i] < ADULT_AGE:
                n_dep[household[i]] += 1
                n_deps += 1
    target *= prob
    dep_h = np.empty(n_deps, np.int64)
    dep_c = np.empty(n_deps, np.int64)
    j = 0
    for i in range(n):
        if status[i] == PRESENT and age[i] < ADULT_AGE:
            g = 1 if arr_year[i] == year else 0
            dep_h[j] = household[i]
            dep_c[j] = ((g * n_d + district[i]) * 2 + sex[i]) * ADULT_AGE + age[i]
            j += 1
    n_cell = 2 * n_d * 2 * ADULT_AGE
    want = np.empty(n_cell)
    p_cell = np.empty(n_cell)
    for g in range(2):
        for d in range(n_d):
            for s in range(2):
                for a in range(ADULT_AGE):
                    c = ((g * n_d + d) * 2 + s) * ADULT_AGE + a
                    want[c] = target[g, d, s, a]
                    p_cell[c] = prob[g, d, s, a]
    kappa = np.ones(n_cell)
    got = np.zeros(n_cell)
    pi = np.zeros(nh)
    for it in range(N_KAPPA_ITER + 1):
        for j in range(n_deps):
            pi[dep_h[j]] = 0.0
        for j in range(n_deps):
            h = dep_h[j]
            c = dep_c[j]
            pi[h] += kappa[c] * p_cell[c] / n_dep[h]
        got[:] = 0.0
        for j in range(n_deps):
            got[dep_c[j]] += min(1.0, pi[dep_h[j]])
        change = 0.0
        for c in range(n_cell):
            if got[c] > 0.0:
                change = max(change, abs(want[c] / got[c] - 1.0))
        if it == N_KAPPA_ITER or change < 1e-12:
            break
        for c in range(n_cell):
            if got[c] > 0.0:
                kappa[c] *= want[c] / got[c]
    unmatched = 0.0
    for c in range(n_cell):
        unmatched += abs(want[c] - got[c])
    for h in range(nh):
        pi[h] = min(1.0, pi[h])
    forced = np.zeros((2, n_d, 2, n_a))
    alone = np.zeros((2, n_d, 2, n_a))
    for i in range(n):
        if status[i] == PRESENT and age[i] >= ADULT_AGE:
            g = 1 if arr_year[i] == year else 0
            h = household[i]
            if n_dep[h] > 0 and role[i] != CHILD:
                forced[g, district[i], sex[i], age[i]] += pi[h]
            else:
                alone[g, district[i], sex[i], age[i]] += 1.0
    rate = np.zeros((2, n_d, 2, n_a))
    for d in range(n_d):
        for s in range(2):
            for a in range(ADULT_AGE, n_a):
                # each group's own need first; what one group cannot take goes to the other
                rest0 = _compensate(target[0, d, s, a] - forced[0, d, s, a],
                                    alone[0, d, s, a], rate[0, d, s], a)
                rest1 = _compensate(target[1, d, s, a] - forced[1, d, s, a],
                                    alone[1, d, s, a], rate[1, d, s], a)
                if rest1 != 0.0:
                    rest1 = _compensate(rate[0, d, s, a] * alone[0, d, s, a] + rest1,
                                        alone[0, d, s, a], rate[0, d, s], a)
                if rest0 != 0.0:
                    rest0 = _compensate(rate[1, d, s, a] * alone[1, d, s, a] + rest0,
                                        alone[1, d, s, a], rate[1, d, s], a)
                unmatched += abs(rest0) + abs(rest1)
    for i in range(n):
        if status[i] != PRESENT:
            continue
        h = household[i]
        d, s, a = district[i], sex[i], age[i]
        g = 1 if arr_year[i] == year else 0
        if a < ADULT_AGE or (n_dep[h] > 0 and role[i] != CHILD):
            leave = uniform(seed, hh_key[h], year, ST_OUT_HH) < pi[h]
        elif role[i] == CHILD:
            leave = uniform(seed, key[i], year, ST_OUT) < rate[g, d, s, a]
        else:
            leave = uniform(seed, hh_key[h], year, ST_OUT_HH) < rate[g, d, s, a]
        if leave:
            status[i] = LEFT
            comp[t, d, O_, s, a] += 1
    return unmatched


@njit(cache=True)
def fix_households(n, nh, n_dist, year, seed, age, sex, status, district, household, key, role,
                   hh_key):
    """Make roles agree with who is still present after deaths and departures.

    A partner whose partner died or left becomes a single adult; adults living with parents
    whose parents are gone head the household; children under 18 left without anyone 18+
    (orphans, or arrivals whose adult died) move, siblings together, to the household of a
    resident woman about ``MOTHER_GAP`` years older than the first of them (the data allow
    no household of minors alone).

    Returns:
        (households rehoused, upper bound on new households the alignment step can form).
    """
    n_adult = np.zeros(nh, np.int32)
    n_partner = np.zeros(nh, np.int32)
    n_grown = np.zeros(nh, np.int32)
    for i in range(n):
        if status[i] == PRESENT and age[i] >= ADULT_AGE:
            h = household[i]
            n_grown[h] += 1
            if role[i] != CHILD:
                n_adult[h] += 1
            if role[i] == PARTNER:
                n_partner[h] += 1
    n_orphans = 0
    bound = 0
    for i in range(n):
        if status[i] != PRESENT:
            continue
        h = household[i]
        widowed = role[i] == PARTNER and n_partner[h] < 2
        parents_gone = role[i] == CHILD and age[i] >= ADULT_AGE and n_adult[h] == 0
        if widowed or parents_gone:
            role[i] = ADULT
        if age[i] < ADULT_AGE and n_grown[h] == 0:
            n_orphans += 1
        if age[i] >= ADULT_AGE and role[i] != ADULT:
            bound += 1
    rehoused = 0
    if n_orphans > 0:
        start = np.zeros(n_dist * (LAST + 1) + 1, np.int64)
        rows = women_index(n, n_dist, age, sex, status, district, role, start)
        dest = np.full(nh, -1, np.int64)
        for i in range(n):
            h = household[i]
            if status[i] != PRESENT or age[i] >= ADULT_AGE or n_grown[h] > 0:
                continue
            if dest[h] == -1:
                u = uniform(seed, hh_key[h], year, ST_REHOUSE)
                w = _pick_near(start, rows, district[i], int(age[i]) + MOTHER_GAP, u)
                dest[h] = household[w] if w >= 0 else -2
                if w >= 0:
                    rehoused += 1
            if dest[h] >= 0:
                household[i] = dest[h]
    return rehoused, bound


@njit(cache=True)
def align_households(n, nh, year, seed, home, couple, age, sex, status, district, household,
                     key, role, arr_year, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                     hh_key, vac_start, vac_ptr, vac_list, dw_household, flows):
    """Move living arrangements towards the year's targets (alignment), in three steps.

    Per (district, sex, age) cell of present adults, with ``n`` persons, ``home`` at home,
    ``couple`` women living with a partner and targets ``home[d, s, a]``, ``couple[d, 1, a]``;
    only residents move (the year's arrivals keep the households they came with), so each
    probability below divides by the residents concerned:

    1. leaving home: each resident at home leaves with ``(home - target n) / residents at
       home`` (when positive) and forms a one-person household;
    2. separation: where women's couples exceed the target, each resident woman with a
       partner separates with ``(couple - target n) / resident couples``; the man moves out;
    3. partnering: where couples fall short, each resident single woman (not at home) takes a
       partner with ``(target n - couple) / resident singles``: the first free resident man
       (living alone, or at home) of the nearest age in ``_PARTNER_OFFSETS`` moves into her
       household.

    New households take vacant dwellings of the district. ``flows`` [3] receives the numbers
    of persons who left home, separations and new couples.

    Returns:
        The new number of household rows.
    """
    n_d, n_a = home.shape[0], LAST + 1
    cnt = np.zeros((n_d, 2, n_a))
    at_home = np.zeros((n_d, 2, n_a))
    couples = np.zeros((n_d, n_a))
    movable = np.zeros((3, n_d, 2, n_a))  # residents at home, with a partner, single
    members = np.zeros(nh, np.int32)
    man = np.full(nh, -1, np.int64)
    for i in range(n):
        if status[i] != PRESENT:
            continue
        h = household[i]
        members[h] += 1
        a = age[i]
        if a < ADULT_AGE:
            continue
        d, s = district[i], sex[i]
        j = 0 if role[i] == CHILD else 1 if role[i] == PARTNER else 2
        cnt[d, s, a] += 1.0
        if j == 0:
            at_home[d, s, a] += 1.0
        elif j == 1 and s == 1:
            couples[d, a] += 1.0
        elif j == 1:
            man[h] = i
        if arr_year[i] != year:
            movable[j, d, s, a] += 1.0
    nh0 = nh
    for i in range(n):
        if status[i] != PRESENT or age[i] < ADULT_AGE or arr_year[i] == year:
            continue
        d, s, a = district[i], sex[i], age[i]
        if role[i] == CHILD:
            excess = at_home[d, s, a] - home[d, s, a] * cnt[d, s, a]
            u = uniform(seed, key[i], year, ST_LEAVE)
            if excess > 0.0 and u * movable[0, d, s, a] < excess:
                nh = _move_out(i, nh, year, district, household, key, hh_dwelling, hh_district,
                               hh_size, hh_kind, hh_year, hh_key, vac_start, vac_ptr, vac_list,
                               dw_household)
                role[i] = ADULT
                flows[0] += 1
        elif role[i] == PARTNER and s == 1:
            excess = couples[d, a] - couple[d, 1, a] * cnt[d, 1, a]
            m = man[household[i]]
            if (excess > 0.0 and m >= 0 and arr_year[m] != year
                    and uniform(seed, key[i], year, ST_SEPARATE) * movable[1, d, 1, a] < excess):
                nh = _move_out(m, nh, year, district, household, key, hh_dwelling, hh_district,
                               hh_size, hh_kind, hh_year, hh_key, vac_start, vac_ptr, vac_list,
                               dw_household)
                role[m] = ADULT
                role[i] = ADULT
                flows[1] += 1
    # Resident men free to move in with a partner: at home, or living alone.
    free = np.zeros(n, np.bool_)
    for i in range(n):
        h = household[i]
        free[i] = (status[i] == PRESENT and age[i] >= ADULT_AGE and arr_year[i] != year
                   and (role[i] == CHILD or (role[i] == ADULT and (h >= nh0 or members[h] == 1))))
    start = np.zeros(n_d * n_a + 1, np.int64)
    pool = _adult_index(n, n_d, free, sex, age, district, 0, start)
    ptr = start[:-1].copy()
    for i in range(n):
        if (status[i] != PRESENT or sex[i] != 1 or age[i] < ADULT_AGE or role[i] != ADULT
                or arr_year[i] == year):
            continue
        d, a = district[i], age[i]
        need = couple[d, 1, a] * cnt[d, 1, a] - couples[d, a]
        if need <= 0.0 or uniform(seed, key[i], year, ST_PARTNER) * movable[2, d, 1, a] >= need:
            continue
        for delta in _PARTNER_OFFSETS:
            a2 = a + delta
            if a2 < ADULT_AGE or a2 > LAST:
                continue
            c = d * n_a + a2
            if ptr[c] < start[c + 1]:
                m = pool[ptr[c]]
                ptr[c] += 1
                household[m] = household[i]
                role[m] = PARTNER
                role[i] = PARTNER
                flows[2] += 1
                break
    return nh


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


N_STOCKS = 19
"""Stock indicators written by ``household_indicators`` (``INDICATORS[:19]`` except 3)."""


@njit(cache=True)
def household_indicators(n, nh, age, household, hh_map, hh_kind, hh_size, hh_dwelling, dw_type,
                         dw_year, scratch, out):
    """Fill the stock entries of ``out`` (``INDICATORS`` order, see ``sim/abm/model.py``).

    If ``hh_map`` is not empty, each person's household is first renumbered through it (the
    last step of ``compact``, fused into this pass). ``scratch`` needs ``nh`` int32 slots.
    Dwellings with ``dw_year > 0`` are the ones completed during the projection (the base
    stock has year 0). ``out[3]`` (a flow) is left alone.
    """
    remap = hh_map.shape[0] > 0
    for j in range(N_STOCKS):
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
        if hh_size[h] == 1:
            out[17] += 1
    for i in range(n):
        h = household[i]
        if remap:
            h = hh_map[h]
            household[i] = h
        ai = age[i]
        code = scratch[h]
        if ai >= ADULT_AGE:
            scratch[h] = code | 1
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
    out[18] = n / nh if nh > 0 else 0.0


@njit(cache=True)
def init_households(n, n_dist, seed, age, sex, district, key, role, household,
                    home, couple, p_child_couple, gap_cum, dwelling_cum,
                    hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                    dw_type, dw_district, dw_year, dw_household):
    """Group the base population into households, each in a dwelling of the existing stock.

    Adults live with parents with ``home[d, s, a]``; each other adult woman lives with a
    partner with ``couple[d, 1, a] / (1 - home)`` (the first free man of the nearest age in
    ``_PARTNER_OFFSETS``); other adults live alone. Children and adults at home join a woman
    whose age exceeds theirs by a gap drawn from ``gap_cum`` (cumulative over gaps 0..len-1;
    nearest available age), one living with a partner with probability ``p_child_couple``
    (else a single woman; else the other kind), else any adult of the district, else live
    alone. Dwelling types are drawn from the cumulative shares ``dwelling_cum`` [4]; the base
    stock has ``dw_year = 0``.

    Returns:
        The number of households (= dwellings).
    """
    n_a = LAST + 1
    for i in range(n):
        household[i] = -1
        a = age[i]
        if a < ADULT_AGE:
            role[i] = CHILD
            continue
        d, s = district[i], sex[i]
        h = home[d, s, a]
        if uniform(seed, key[i], _U(0), ST_INIT) < h:
            role[i] = CHILD
        elif s == 1 and uniform(seed, key[i], _U(0), ST_HOUSEHOLD) * (1.0 - h) < couple[d, 1, a]:
            role[i] = PARTNER   # wants a partner; single if no man is found
        else:
            role[i] = ADULT
    free_men = np.zeros(n, np.bool_)
    for i in range(n):
        free_men[i] = role[i] == ADULT and sex[i] == 0
    st_m = np.zeros(n_dist * n_a + 1, np.int64)
    men = _adult_index(n, n_dist, free_men, sex, age, district, 0, st_m)
    pm = st_m[:-1].copy()
    nh = 0
    for i in range(n):
        if role[i] == CHILD or sex[i] != 1:
            continue
        d = district[i]
        nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year, hh_key,
                            d, HH_REGULAR, 0, key[i], NO_DWELLING)
        household[i] = nh - 1
        if role[i] != PARTNER:
            continue
        role[i] = ADULT
        for delta in _PARTNER_OFFSETS:
            a2 = age[i] + delta
            if a2 < ADULT_AGE or a2 > LAST:
                continue
            c = d * n_a + a2
            if pm[c] < st_m[c + 1]:
                household[men[pm[c]]] = nh - 1
                role[men[pm[c]]] = PARTNER
                role[i] = PARTNER
                pm[c] += 1
                break
    for i in range(n):
        if role[i] == ADULT and household[i] < 0:
            nh = _new_household(nh, hh_dwelling, hh_district, hh_size, hh_kind, hh_year,
                                hh_key, district[i], HH_REGULAR, 0, key[i], NO_DWELLING)
            household[i] = nh - 1
    is_partner = np.zeros(n, np.bool_)
    is_single = np.zeros(n, np.bool_)
    for i in range(n):
        is_partner[i] = role[i] == PARTNER
        is_single[i] = role[i] == ADULT
    st_p = np.zeros(n_dist * n_a + 1, np.int64)
    st_s = np.zeros(n_dist * n_a + 1, np.int64)
    w_part = _adult_index(n, n_dist, is_partner, sex, age, district, 1, st_p)
    w_single = _adult_index(n, n_dist, is_single, sex, age, district, 1, st_s)
    cnt_ad = np.zeros(n_dist + 1, np.int64)
    for i in range(n):
        if role[i] != CHILD:
            cnt_ad[district[i] + 1] += 1
    for d in range(n_dist):
        cnt_ad[d + 1] += cnt_ad[d]
    adults = np.empty(cnt_ad[n_dist], np.int64)
    pa = cnt_ad[:-1].copy()
    for i in range(n):
        if role[i] != CHILD:
            adults[pa[district[i]]] = i
            pa[district[i]] += 1
    n_gap = gap_cum.shape[0]
    for i in range(n):
        if role[i] != CHILD:
            continue
        d = district[i]
        u = uniform(seed, key[i], _U(1), ST_INIT)
        gap = 0
        while gap < n_gap - 1 and u >= gap_cum[gap]:
            gap += 1
        u2 = uniform(seed, key[i], _U(2), ST_INIT)
        if uniform(seed, key[i], _U(4), ST_INIT) < p_child_couple:
            found = _pick_near(st_p, w_part, d, int(age[i]) + gap, u2)
            if found < 0:
                found = _pick_near(st_s, w_single, d, int(age[i]) + gap, u2)
        else:
            found = _pick_near(st_s, w_single, d, int(age[i]) + gap, u2)
            if found < 0:
                found = _pick_near(st_p, w_part, d, int(age[i]) + gap, u2)
        if found < 0 and cnt_ad[d + 1] > cnt_ad[d]:
            u3 = uniform(seed, key[i], _U(3), ST_INIT)
            found = adults[cnt_ad[d] + int(u3 * (cnt_ad[d + 1] - cnt_ad[d]))]
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
