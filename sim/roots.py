"""A root of a scalar function in a bracket: Brent's method (Brent 1973, "zeroin").

The estimation's levels (mortality, out-migration, e0 scaling, household calibration) each need
one root; this small function spares every run scipy's import (half a second of start-up).
"""

from __future__ import annotations

from collections.abc import Callable

EPS = 2.220446049250313e-16
"""Machine epsilon of float64."""


def brentq(f: Callable[[float], float], a: float, b: float, xtol: float = 2e-12,
           maxiter: int = 200) -> float:
    """A root of ``f`` in ``[a, b]`` (``f(a)`` and ``f(b)`` of opposite signs), to ``xtol``.

    Brent's method: inverse quadratic interpolation or the secant where they make progress,
    bisection otherwise; the bracket always holds a sign change, so it converges whenever ``f``
    is continuous. ``ValueError`` if the bracket has no sign change.
    """
    fa, fb = f(a), f(b)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0) == (fb > 0):
        raise ValueError(f"f({a:g}) and f({b:g}) must have different signs")
    c, fc = a, fa
    d = e = b - a
    for _ in range(maxiter):
        if (fb > 0) == (fc > 0):        # keep the sign change between b and c
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):           # b is the best estimate so far
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 2.0 * EPS * abs(b) + 0.5 * xtol
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0.0:
            return b
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:                  # secant
                p, q = 2.0 * m * s, 1.0 - s
            else:                       # inverse quadratic interpolation
                q, r = fa / fc, fb / fc
                p = s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0:
                q = -q
            p = abs(p)
            if 2.0 * p < min(3.0 * m * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q         # accept the interpolation
            else:
                d = e = m               # bisect
        else:
            d = e = m
        a, fa = b, fb
        b += d if abs(d) > tol else (tol if m > 0 else -tol)
        fb = f(b)
    raise RuntimeError(f"no root found in {maxiter} steps")
