"""Zones constrained to a municipal projection (top-down): ``[zones] constrain = "municipality"``.

Each year the zones are projected with their own rates (``kernel.step_district``) and then
raked, cell by cell (sex x cohort age), to the kommune's own projection of that year: every
zone is multiplied by ``target / sum of zones``. The adjustment is booked as migration (in-
migrants where a zone grows, out-migrants where it shrinks), so each zone's balance identity
still holds and the zones add up to the municipal projection exactly (to rounding).
Where the zones hold nobody of a sex and age the kommune has, the persons are placed in
proportion to the zones' base populations.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.cohort.kernel import (
    IN_MIGRANTS,
    OUT_MIGRANTS,
    fertile_range,
    step_district,
)


@njit(cache=True)
def project_constrained_kernel(base, fert, p_male, dprob, orate, inm, ref, in_scale, target,
                               pop_out, comp_out, births_out):
    """Project zones ``base`` [D, 2, A] raked each year to ``target`` [Y+1, 2, A].

    Args:
        fert, dprob, orate, inm, ref: the zones' rates as in ``kernel.project_kernel``.
        in_scale: [Y] in-migration multipliers (the municipal projection's).
        target: [Y+1, 2, A] the municipal population on 1 January of each year.
        pop_out, comp_out, births_out: outputs as in ``kernel.project_kernel``.
    """
    n_year = fert.shape[0]
    n_dist, n_sex, n_age = base.shape
    pop_out[0] = base
    lo, hi = fertile_range(fert)
    shares = np.empty(n_dist)
    total = base.sum()
    for dd in range(n_dist):
        shares[dd] = base[dd].sum() / total if total > 0 else 1.0 / n_dist
    adj_in = np.zeros((n_year, n_dist, n_sex, n_age))
    adj_out = np.zeros((n_year, n_dist, n_sex, n_age))
    for t in range(n_year):
        for dd in range(n_dist):
            births_out[t, dd] = step_district(pop_out, t, pop_out, t + 1, dd, t, fert, p_male,
                                              dprob, orate, inm, ref, 1.0, 1.0, in_scale[t],
                                              1.0, 1.0, lo, hi, comp_out, True)
        for s in range(n_sex):
            for a in range(n_age):
                tot = 0.0
                for dd in range(n_dist):
                    tot += pop_out[t + 1, dd, s, a]
                goal = target[t + 1, s, a]
                for dd in range(n_dist):
                    old = pop_out[t + 1, dd, s, a]
                    new = old * (goal / tot) if tot > 0.0 else goal * shares[dd]
                    diff = new - old
                    if diff > 0.0:
                        adj_in[t, dd, s, a] += diff
                    else:
                        adj_out[t, dd, s, a] -= diff
                    pop_out[t + 1, dd, s, a] = new
    comp_out[:, :, IN_MIGRANTS] += adj_in
    comp_out[:, :, OUT_MIGRANTS] += adj_out
