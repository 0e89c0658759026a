"""Numba kernels of the cohort-component projection (equations in ``METHOD.md``).

Arrays: population ``[district, sex, age]``, rates per year ``[year, district, sex, age]``,
fertility ``[year, district, age]`` (women only). Ages are cohort ages ``x``: the age reached on
1 January of the next year. Components are stored in the order of ``COMPONENTS``.

Speed notes (measured with ``make bench``, ``tests/bench/test_bench_cohort.py``):

* ``step_district`` is one call per district and year, not inlined. Its age loops vectorise
  (AVX2, 4 doubles) only when LLVM's run-time overlap checks pass, and those are evaluated per
  call: inlined into the year loop they were hoisted over all years, where the population read
  (year t) and written (t+1) of the same array do overlap, and every loop ran scalar (so what
  one call writes must not overlap what it reads). Loops over ages start at a constant: an
  index known to be >= 0 needs no negative-index wraparound, which also blocked vectorisation.
* One pass over ages writes the next population and all five components of each cell (for the
  in-migrants and refugees the same products the cell uses, so the balance holds to the bit);
  the birth terms of women are a second short vector loop, summed in age order (the sum keeps
  its order: results are bit-identical to the scalar kernel).
* With components, a projection-year reads 9.3 kB and writes 10.2 kB; a 30-year projection's
  arrays (about 0.5 MB) outgrow L2, so the kernel runs within about 2x of a loop that only
  moves those bytes (the bench's traffic reference), and 4 M projection-years/s would need
  about 80 GB/s. Without components (``project_batch``) it is compute-bound.
* No ``fastmath``: results must not depend on the SIMD width.
"""

from __future__ import annotations

import numpy as np
from numba import njit

COMPONENTS = ("births", "deaths", "in_migrants", "out_migrants", "refugees")
BIRTHS, DEATHS, IN_MIGRANTS, OUT_MIGRANTS, REFUGEES = range(len(COMPONENTS))


@njit(cache=True, inline="always")
def _cell(aged, arr_in, arr_ref, dprob, orate, mort_k, out_k):
    """One cohort cell: returns (next population, deaths, out-migrants). See METHOD.md step 5-6."""
    d = min(dprob * mort_k, 1.0)
    o = min(orate * out_k, 1.0 - d)
    exposure = aged + 0.5 * (arr_in + arr_ref)
    deaths = d * exposure
    out = o * exposure
    value = aged + arr_in + arr_ref - deaths - out
    residue = min(value, 0.0)  # rounding when d + o == 1: book it on out-migration
    return value - residue, deaths, out + residue


@njit(cache=True, inline="always")
def _birth_term(aged, arr_in, arr_ref, dprob, orate, f, mort_k, out_k):
    """Births to the women of one cohort age: f x exposure x (1 - (d + o) / 2) (METHOD.md 3)."""
    d = min(dprob * mort_k, 1.0)
    dm = d + min(orate * out_k, 1.0 - d)
    return f * (aged + 0.5 * (arr_in + arr_ref)) * (1.0 - 0.5 * dm)


@njit(cache=True)
def fertile_range(fert):
    """Smallest [lo, hi) over cohort ages >= 1 outside which fertility is zero in every row."""
    flat = fert.reshape(-1, fert.shape[-1])
    lo, hi = fert.shape[-1], 1
    for r in range(flat.shape[0]):
        for x in range(1, flat.shape[1]):
            if flat[r, x] != 0.0:
                lo = min(lo, x)
                hi = max(hi, x + 1)
    if lo >= hi:
        return 1, 1
    return lo, hi


@njit(cache=True, inline="always")
def _store(comp, t, dd, s, x, born, deaths, arr_in, out, arr_ref):
    """Write the five components of one cell (``COMPONENTS`` order)."""
    comp[t, dd, BIRTHS, s, x] = born
    comp[t, dd, DEATHS, s, x] = deaths
    comp[t, dd, IN_MIGRANTS, s, x] = arr_in
    comp[t, dd, OUT_MIGRANTS, s, x] = out
    comp[t, dd, REFUGEES, s, x] = arr_ref


@njit(cache=True)
def step_district(pop, ti, pop_next, tn, dd, t, fert, p_male, dprob, orate, inm, ref,
                  fert_k, mort_k, in_k, out_k, ref_k, lo, hi, comp, keep):
    """Advance district ``dd`` by year ``t``; returns the year's births.

    Args:
        pop: [T, D, 2, A] populations; ``pop[ti]`` is 1 January of year t.
        pop_next: [T', D, 2, A]; ``pop_next[tn]`` receives 1 January of year t+1 (it may be
            ``pop`` itself with ``tn != ti``: what a call writes must not overlap what it
            reads).
        dd, t: district and year index into the rate arrays.
        fert: [Y, D, A] births per woman-year by cohort age (zero outside [lo, hi)).
        p_male: share of births that are boys.
        dprob, orate: [Y, D, 2, A] death probabilities and out-migration rates.
        inm, ref: [Y, D, 2, A] in-migrants and settled refugees (persons).
        fert_k, mort_k, in_k, out_k, ref_k: scalar multipliers (1.0 = as given).
        lo, hi: cohort ages with non-zero fertility (``fertile_range``).
        comp: [Y, D, 5, 2, A] output components of year t (``COMPONENTS`` order), written
            when ``keep``: births (at age 0), deaths, in-migrants x in_k, out-migrants,
            refugees x ref_k; with these the balance identity holds to the bit.
    """
    last = pop.shape[3] - 1
    # Births (METHOD.md step 3): the terms of women aged 1..hi-1 in a loop that vectorises,
    # kept in the women's row of pop_next until the cells below overwrite it, summed in age
    # order. Loops over ages start at a constant: indices are known >= 0 (no wraparound).
    terms = pop_next[tn, dd, 1]
    for x in range(1, min(hi, last)):
        terms[x] = _birth_term(pop[ti, dd, 1, x - 1], in_k * inm[t, dd, 1, x],
                               ref_k * ref[t, dd, 1, x], dprob[t, dd, 1, x],
                               orate[t, dd, 1, x], fert[t, dd, x], mort_k, out_k)
    if hi > last:
        terms[last] = _birth_term(pop[ti, dd, 1, last - 1] + pop[ti, dd, 1, last],
                                  in_k * inm[t, dd, 1, last], ref_k * ref[t, dd, 1, last],
                                  dprob[t, dd, 1, last], orate[t, dd, 1, last],
                                  fert[t, dd, last], mort_k, out_k)
    births = 0.0
    for x in range(max(lo, 1), hi):
        births += terms[x]
    births *= fert_k
    for s in range(2):
        if keep:  # two versions of the loop (with and without components): each vectorises
            for x in range(1, last):
                ai = in_k * inm[t, dd, s, x]
                ar = ref_k * ref[t, dd, s, x]
                nx, deaths, out = _cell(pop[ti, dd, s, x - 1], ai, ar, dprob[t, dd, s, x],
                                        orate[t, dd, s, x], mort_k, out_k)
                pop_next[tn, dd, s, x] = nx
                _store(comp, t, dd, s, x, 0.0, deaths, ai, out, ar)
        else:
            for x in range(1, last):
                nx, _, _ = _cell(pop[ti, dd, s, x - 1], in_k * inm[t, dd, s, x],
                                 ref_k * ref[t, dd, s, x], dprob[t, dd, s, x],
                                 orate[t, dd, s, x], mort_k, out_k)
                pop_next[tn, dd, s, x] = nx
        born = births * p_male if s == 0 else births * (1.0 - p_male)
        for x in (0, last):
            aged = born if x == 0 else pop[ti, dd, s, last - 1] + pop[ti, dd, s, last]
            ai = in_k * inm[t, dd, s, x]
            ar = ref_k * ref[t, dd, s, x]
            nx, deaths, out = _cell(aged, ai, ar, dprob[t, dd, s, x], orate[t, dd, s, x],
                                    mort_k, out_k)
            pop_next[tn, dd, s, x] = nx
            if keep:
                _store(comp, t, dd, s, x, born if x == 0 else 0.0, deaths, ai, out, ar)
    return births


@njit(cache=True)
def _in_scale_for_target(pop, t, fert, p_male, dprob, orate, inm, ref, lo, hi, target, scratch):
    """In-migration multiplier that makes next year's total equal ``target`` (>= 0).

    The total is affine in the multiplier, so two trial steps give it exactly.
    """
    comp = np.empty((0, 0, 0, 0, 0))
    totals = np.zeros(2)
    for trial in range(2):
        for dd in range(pop.shape[1]):
            step_district(pop, t, scratch, 0, dd, t, fert, p_male, dprob, orate, inm, ref,
                          1.0, 1.0, float(trial), 1.0, 1.0, lo, hi, comp, False)
        totals[trial] = scratch.sum()
    if totals[1] - totals[0] <= 0.0:
        return 1.0
    return max(0.0, (target - totals[0]) / (totals[1] - totals[0]))


@njit(cache=True)
def project_kernel(base, fert, p_male, dprob, orate, inm, ref, growth_target,
                   pop_out, comp_out, births_out, in_scale_out):
    """Project ``base`` over Y years, writing every year's population and components.

    Args:
        base: [D, 2, A] population on 1 January of the base year.
        fert: [Y, D, A]; dprob, orate, inm, ref: [Y, D, 2, A] (see ``step_district``).
        p_male: share of births that are boys.
        growth_target: [Y] total growth rate (0.015 = 1.5 %) to hit by scaling in-migration,
            NaN where in-migration is used as given.
        pop_out: [Y+1, D, 2, A] output; pop_out[0] = base.
        comp_out: [Y, D, 5, 2, A] output components (``COMPONENTS`` order).
        births_out: [Y, D] output, births of each year and district (both sexes).
        in_scale_out: [Y] output, the in-migration multiplier used each year.
    """
    pop_out[0] = base
    lo, hi = fertile_range(fert)
    scratch = np.empty((1,) + base.shape)
    for t in range(fert.shape[0]):
        k = 1.0
        if not np.isnan(growth_target[t]):
            target = pop_out[t].sum() * (1.0 + growth_target[t])
            k = _in_scale_for_target(pop_out, t, fert, p_male, dprob, orate, inm, ref, lo, hi,
                                     target, scratch)
        in_scale_out[t] = k
        for dd in range(base.shape[0]):
            births_out[t, dd] = step_district(pop_out, t, pop_out, t + 1, dd, t, fert, p_male,
                                              dprob, orate, inm, ref, 1.0, 1.0, k, 1.0, 1.0,
                                              lo, hi, comp_out, True)


@njit(cache=True)
def _indicators(buf, b, dd, cum, acc, seg_sex, seg_lo, seg_hi, seg_w, seg_g, out, sc, t):
    """out[sc, t, dd, g] = sum over segments of g: weight x persons of a sex in an age range.

    Indicator weights are piecewise constant in age (age groups, coverage by age group), so
    each is a handful of differences of the per-sex prefix sums ``cum`` (one pass over ages).
    ``cum`` ([2 * (A + 1)]) and ``acc`` ([G]) are scratch buffers.
    """
    n_age = buf.shape[3]
    for s in range(2):
        run = 0.0
        base = s * (n_age + 1)
        cum[base] = 0.0
        for a in range(n_age):
            run += buf[b, dd, s, a]
            cum[base + a + 1] = run
    acc[:] = 0.0
    for j in range(seg_g.shape[0]):
        base = seg_sex[j] * (n_age + 1)
        acc[seg_g[j]] += seg_w[j] * (cum[base + seg_hi[j] + 1] - cum[base + seg_lo[j]])
    out[sc, t, dd, :] = acc


@njit(cache=True)
def project_batch_kernel(base, fert, p_male, dprob, orate, inm, ref,
                         fert_k, mort_k, in_k, out_k, ref_k,
                         seg_sex, seg_lo, seg_hi, seg_w, seg_g, out):
    """Project S scenarios that share inputs and differ by multipliers; keep only indicators.

    Args:
        base, fert, p_male, dprob, orate, inm, ref: shared inputs as in ``project_kernel``.
        fert_k, mort_k, in_k, out_k, ref_k: [S, Y] multipliers per scenario and year.
        seg_sex, seg_lo, seg_hi, seg_w, seg_g: indicator weights as segments: indicator
            ``seg_g[j]`` adds ``seg_w[j]`` x persons of sex ``seg_sex[j]`` aged
            ``seg_lo[j]..seg_hi[j]`` (0/1 for age groups, coverage for service users).
        out: [S, Y+1, D, G] output, sum over cells of population x weight.
    """
    n_scen, n_year = fert_k.shape
    n_dist = base.shape[0]
    lo, hi = fertile_range(fert)
    cur = np.empty((1,) + base.shape)  # year t; the step writes year t+1 into nxt
    nxt = np.empty((1,) + base.shape)
    cum = np.empty(2 * (base.shape[2] + 1))
    acc = np.empty(out.shape[3])
    no_comp = np.empty((0, 0, 0, 0, 0))
    for sc in range(n_scen):
        cur[0] = base
        for t in range(n_year + 1):
            for dd in range(n_dist):
                _indicators(cur, 0, dd, cum, acc, seg_sex, seg_lo, seg_hi, seg_w, seg_g, out,
                            sc, t)
            if t == n_year:
                break
            for dd in range(n_dist):
                step_district(cur, 0, nxt, 0, dd, t, fert, p_male, dprob, orate, inm, ref,
                              fert_k[sc, t], mort_k[sc, t], in_k[sc, t], out_k[sc, t],
                              ref_k[sc, t], lo, hi, no_comp, False)
            cur, nxt = nxt, cur
