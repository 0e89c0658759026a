"""Ageing: move every cohort one year up on 1 January, closing the open group 105+."""

from __future__ import annotations

import numpy as np


def age_on(pop: np.ndarray) -> np.ndarray:
    """Population by the age it reaches next 1 January, before any event (last axis = age).

    ``out[..., x] = pop[..., x-1]`` for 1 <= x < 105,
    ``out[..., 105] = pop[..., 104] + pop[..., 105]``
    and ``out[..., 0] = 0`` (the births of the year are added separately).
    """
    out = np.zeros_like(pop, dtype=float)
    out[..., 1:] = pop[..., :-1]
    out[..., -1] += pop[..., -1]
    return out
