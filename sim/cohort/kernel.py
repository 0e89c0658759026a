"""Numba kernels of the cohort-component projection (equations in ``METHOD.md``).

Arrays: population ``[district, sex, age]``, rates per year ``[year, district, sex, age]``,
fertility ``[year, district, age]`` (women only). Ages are cohort ages ``x``: the age reached on
1 January of the next year. Components are stored in the order of ``COMPONENTS``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

COMPONENTS = ("births", "deaths", "in_migrants", "out_migrants", "refugees")
BIRTHS, DEATHS, IN_MIGRANTS, OUT_MIGRANTS, REFUGEES = range(len(COMPONENTS))


@njit(cache=True, inline="always")
def _rates(dprob, orate, mort_k, out_k):
    """Scaled death probability and out-rate, capped so that d + o <= 1."""
    d = min(dprob * mort_k, 1.0)
    o = min(orate * out_k, 1.0 - d)
    return d, o


@njit(cache=True)
def step_district(pop, fert, p_male, dprob, orate, inm, ref,
                  fert_k, mort_k, in_k, out_k, ref_k, pop_next, comp):
    """Advance one district by one year; returns the year's births.

    Args:
        pop: [2, A] population on 1 January t.
        fert: [A] births per woman-year by cohort age.
        p_male: share of births that are boys.
        dprob, orate: [2, A] death probabilities and out-migration rates.
        inm, ref: [2, A] in-migrants and settled refugees (persons).
        fert_k, mort_k, in_k, out_k, ref_k: scalar multipliers (1.0 = as given).
        pop_next: [2, A] output, population on 1 January t+1.
        comp: [2, A, 5] output components, or a zero-size array to skip them.
    """
    n_age = pop.shape[1]
    last = n_age - 1
    births = 0.0
    for x in range(1, n_age):
        aged = pop[1, x - 1] + (pop[1, last] if x == last else 0.0)
        exposure = aged + 0.5 * (in_k * inm[1, x] + ref_k * ref[1, x])
        d, o = _rates(dprob[1, x], orate[1, x], mort_k, out_k)
        births += fert_k * fert[x] * exposure * (1.0 - 0.5 * (d + o))
    keep = comp.shape[0] > 0
    for s in range(2):
        born = births * p_male if s == 0 else births * (1.0 - p_male)
        for x in range(n_age):
            if x == 0:
                aged = born
            elif x == last:
                aged = pop[s, x - 1] + pop[s, x]
            else:
                aged = pop[s, x - 1]
            arrivals_in = in_k * inm[s, x]
            arrivals_ref = ref_k * ref[s, x]
            exposure = aged + 0.5 * (arrivals_in + arrivals_ref)
            d, o = _rates(dprob[s, x], orate[s, x], mort_k, out_k)
            deaths = d * exposure
            out = o * exposure
            pop_next[s, x] = aged + arrivals_in + arrivals_ref - deaths - out
            if keep:
                comp[s, x, BIRTHS] = born if x == 0 else 0.0
                comp[s, x, DEATHS] = deaths
                comp[s, x, IN_MIGRANTS] = arrivals_in
                comp[s, x, OUT_MIGRANTS] = out
                comp[s, x, REFUGEES] = arrivals_ref
    return births


@njit(cache=True)
def _step_all(pop, fert, p_male, dprob, orate, inm, ref,
              fert_k, mort_k, in_k, out_k, ref_k, pop_next, comp):
    """One year for every district; returns the total population on 1 January t+1.

    ``comp`` is [D, 2, A, 5], or [D, 0, 0, 0] to skip the components.
    """
    total = 0.0
    for dd in range(pop.shape[0]):
        step_district(pop[dd], fert[dd], p_male, dprob[dd], orate[dd], inm[dd], ref[dd],
                      fert_k, mort_k, in_k, out_k, ref_k, pop_next[dd], comp[dd])
        total += pop_next[dd].sum()
    return total


@njit(cache=True)
def _in_scale_for_target(pop, fert, p_male, dprob, orate, inm, ref,
                         fert_k, mort_k, in_k, out_k, ref_k, target, scratch, no_comp):
    """In-migration multiplier that makes next year's total equal ``target`` (>= 0).

    The total is affine in the multiplier, so two trial steps give it exactly.
    """
    t0 = _step_all(pop, fert, p_male, dprob, orate, inm, ref,
                   fert_k, mort_k, 0.0, out_k, ref_k, scratch, no_comp)
    t1 = _step_all(pop, fert, p_male, dprob, orate, inm, ref,
                   fert_k, mort_k, 1.0, out_k, ref_k, scratch, no_comp)
    if t1 - t0 <= 0.0:
        return in_k
    return max(0.0, (target - t0) / (t1 - t0))


@njit(cache=True)
def project_kernel(base, fert, p_male, dprob, orate, inm, ref, growth_target,
                   pop_out, comp_out, in_scale_out):
    """Project ``base`` over Y years, writing every year's population and components.

    Args:
        base: [D, 2, A] population on 1 January of the base year.
        fert: [Y, D, A]; dprob, orate, inm, ref: [Y, D, 2, A] (see ``step_district``).
        p_male: share of births that are boys.
        growth_target: [Y] total growth rate (0.015 = 1.5 %) to hit by scaling in-migration,
            NaN where in-migration is used as given.
        pop_out: [Y+1, D, 2, A] output; pop_out[0] = base.
        comp_out: [Y, D, 2, A, 5] output components.
        in_scale_out: [Y] output, the in-migration multiplier used each year.
    """
    pop_out[0] = base
    scratch = np.empty_like(base)
    no_comp = np.empty((base.shape[0], 0, 0, 0))
    for t in range(fert.shape[0]):
        k = 1.0
        if not np.isnan(growth_target[t]):
            target = pop_out[t].sum() * (1.0 + growth_target[t])
            k = _in_scale_for_target(pop_out[t], fert[t], p_male, dprob[t], orate[t], inm[t],
                                     ref[t], 1.0, 1.0, 1.0, 1.0, 1.0, target, scratch, no_comp)
        in_scale_out[t] = k
        _step_all(pop_out[t], fert[t], p_male, dprob[t], orate[t], inm[t], ref[t],
                  1.0, 1.0, k, 1.0, 1.0, pop_out[t + 1], comp_out[t])


@njit(cache=True)
def project_batch_kernel(base, fert, p_male, dprob, orate, inm, ref,
                         fert_k, mort_k, in_k, out_k, ref_k, weights, out):
    """Project S scenarios that share inputs and differ by multipliers; keep only indicators.

    Args:
        base, fert, p_male, dprob, orate, inm, ref: shared inputs as in ``project_kernel``.
        fert_k, mort_k, in_k, out_k, ref_k: [S, Y] multipliers per scenario and year.
        weights: [2, A, G] indicator weights (0/1 for age groups, coverage rates for users).
        out: [S, Y+1, D, G] output, sum over sex and age of population x weights.
    """
    n_scen, n_year = fert_k.shape
    n_dist = base.shape[0]
    n_group = weights.shape[2]
    cur = np.empty_like(base)
    nxt = np.empty_like(base)
    no_comp = np.empty((0, 0, 0))
    for sc in range(n_scen):
        cur[:] = base
        for t in range(n_year + 1):
            for dd in range(n_dist):
                for g in range(n_group):
                    acc = 0.0
                    for s in range(2):
                        for a in range(base.shape[2]):
                            acc += cur[dd, s, a] * weights[s, a, g]
                    out[sc, t, dd, g] = acc
            if t == n_year:
                break
            for dd in range(n_dist):
                step_district(cur[dd], fert[t, dd], p_male, dprob[t, dd], orate[t, dd],
                              inm[t, dd], ref[t, dd], fert_k[sc, t], mort_k[sc, t],
                              in_k[sc, t], out_k[sc, t], ref_k[sc, t], nxt[dd], no_comp)
            cur, nxt = nxt, cur
