"""Numba kernels of the cohort-component projection (equations in ``METHOD.md``).

Arrays: population ``[district, sex, age]``, rates per year ``[year, district, sex, age]``,
fertility ``[year, district, age]`` (women only). Ages are cohort ages ``x``: the age reached on
1 January of the next year. Components are stored in the order of ``COMPONENTS``.

Speed notes (measured with ``make bench``): the year loop indexes the full arrays in place;
passing 1-D row views to helper functions instead was 1.6x slower (each view and call costs
reference counting), and 2-D views per district 1.8x slower. The components array (5 flows x
2 sexes x 106 ages per year) is as large as the work: the step loop writes the state-dependent
flows (deaths, out-migrants), ``fill_input_flows`` the others afterwards in a simple loop; a
30-year projection takes ~11 us for the population and ~18 us with all components. The births
sum runs only over ages with non-zero fertility. No ``fastmath``: results must not depend on
the SIMD width.
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


@njit(cache=True)
def _births(p, q, o, im, rf, f, fert_k, mort_k, in_k, out_k, ref_k, lo, hi):
    """Births of the year from women of cohort ages lo..hi-1 (METHOD.md step 3); 1-D rows."""
    last = p.shape[0] - 1
    births = 0.0
    for x in range(lo, hi):
        aged = p[x - 1] + (p[last] if x == last else 0.0)
        exposure = aged + 0.5 * (in_k * im[x] + ref_k * rf[x])
        d = min(q[x] * mort_k, 1.0)
        dm = d + min(o[x] * out_k, 1.0 - d)
        births += f[x] * exposure * (1.0 - 0.5 * dm)
    return fert_k * births


@njit(cache=True)
def step_district(pop, ti, pop_next, tn, dd, t, fert, p_male, dprob, orate, inm, ref,
                  fert_k, mort_k, in_k, out_k, ref_k, lo, hi, comp, keep):
    """Advance district ``dd`` by year ``t``; returns the year's births.

    Args:
        pop: [T, D, 2, A] populations; ``pop[ti]`` is 1 January of year t.
        pop_next: [T', D, 2, A]; ``pop_next[tn]`` receives 1 January of year t+1.
        dd, t: district and year index into the rate arrays.
        fert: [Y, D, A] births per woman-year by cohort age (zero outside [lo, hi)).
        p_male: share of births that are boys.
        dprob, orate: [Y, D, 2, A] death probabilities and out-migration rates.
        inm, ref: [Y, D, 2, A] in-migrants and settled refugees (persons).
        fert_k, mort_k, in_k, out_k, ref_k: scalar multipliers (1.0 = as given).
        lo, hi: cohort ages with non-zero fertility (``fertile_range``).
        comp: [Y, D, 5, 2, A] output components: deaths and out-migrants of year t are
            written when ``keep`` (births, in-migrants and refugees follow from the inputs and
            are written afterwards by ``fill_input_flows``, in a loop that vectorises).
    """
    last = pop.shape[3] - 1
    births = _births(pop[ti, dd, 1], dprob[t, dd, 1], orate[t, dd, 1], inm[t, dd, 1],
                     ref[t, dd, 1], fert[t, dd], fert_k, mort_k, in_k, out_k, ref_k, lo, hi)
    for s in range(2):
        if keep:
            for x in range(1, last):
                ai = in_k * inm[t, dd, s, x]
                ar = ref_k * ref[t, dd, s, x]
                nx, deaths, out = _cell(pop[ti, dd, s, x - 1], ai, ar, dprob[t, dd, s, x],
                                        orate[t, dd, s, x], mort_k, out_k)
                pop_next[tn, dd, s, x] = nx
                comp[t, dd, DEATHS, s, x] = deaths
                comp[t, dd, OUT_MIGRANTS, s, x] = out
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
                comp[t, dd, DEATHS, s, x] = deaths
                comp[t, dd, OUT_MIGRANTS, s, x] = out
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
def fill_input_flows(comp, births, p_male, in_scale, inm, ref):
    """Write births (age 0), in-migrants (x in_scale) and refugees into ``comp`` [Y, D, 5, 2, A].

    The same products as inside ``step_district``, so the balance identity holds to the bit.
    """
    n_year, n_dist = births.shape
    for t in range(n_year):
        for dd in range(n_dist):
            for s in range(2):
                comp[t, dd, BIRTHS, s, :] = 0.0
                for a in range(comp.shape[4]):
                    comp[t, dd, IN_MIGRANTS, s, a] = in_scale[t] * inm[t, dd, s, a]
                    comp[t, dd, REFUGEES, s, a] = ref[t, dd, s, a]
            comp[t, dd, BIRTHS, 0, 0] = births[t, dd] * p_male
            comp[t, dd, BIRTHS, 1, 0] = births[t, dd] * (1.0 - p_male)


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
    fill_input_flows(comp_out, births_out, p_male, in_scale_out, inm, ref)


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
    buf = np.empty((2,) + base.shape)  # double buffer: year t in buf[t % 2]
    cum = np.empty(2 * (base.shape[2] + 1))
    acc = np.empty(out.shape[3])
    no_comp = np.empty((0, 0, 0, 0, 0))
    for sc in range(n_scen):
        buf[0] = base
        for t in range(n_year + 1):
            cur = t % 2
            for dd in range(n_dist):
                _indicators(buf, cur, dd, cum, acc, seg_sex, seg_lo, seg_hi, seg_w, seg_g, out,
                            sc, t)
            if t == n_year:
                break
            for dd in range(n_dist):
                step_district(buf, cur, buf, 1 - cur, dd, t, fert, p_male, dprob, orate, inm,
                              ref, fert_k[sc, t], mort_k[sc, t], in_k[sc, t], out_k[sc, t],
                              ref_k[sc, t], lo, hi, no_comp, False)
