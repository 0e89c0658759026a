"""Counter-based random numbers for the ABM kernels (splitmix64 hashing).

Every draw is a pure function of ``(run seed, key, year, stream)``: a person's key (fixed when
the person is created), the year and a named stream (``STREAMS``). No generator state is
carried between draws, so

* results do not depend on the order in which persons are visited, on the number of worker
  processes, or on which other processes are switched on (each has its own stream), and
* two scenarios run with the same seed share every person's draws (common random numbers):
  they differ only where the scenario differs.

The mixer is splitmix64's finaliser (Steele, Lea & Flood 2014), which passes BigCrush when fed
a counter; here the counter is itself a hash of the key fields. All arithmetic is uint64 (mixing
uint64 with int64 in numba silently gives float64, so every constant is typed).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

STREAMS = (
    "death", "out", "out_household", "out_mode", "birth", "birth_sex", "arrivals",
    "arrival_fate", "arrival_out", "household", "leave_home", "refugee_unit", "reunify",
    "init", "housing", "dwelling", "separate", "partner", "rehouse",
)
"""Named random streams; the index of a name is its stream id (append only: never reorder)."""
S = {name: i for i, name in enumerate(STREAMS)}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_K_YEAR = np.uint64(0xD1B54A32D192ED03)
_K_STREAM = np.uint64(0x8CB92BA72F3D8DD7)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def mix(z):
    """The splitmix64 finaliser: a bijective avalanche of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def combine(a, b):
    """Hash two uint64 values into one (order matters)."""
    return mix(np.uint64(a) ^ (mix(np.uint64(b)) + _GOLDEN))


@njit(cache=True, inline="always")
def uniform(seed, key, year, stream):
    """U[0, 1) from ``(seed, key, year, stream)`` (non-negative integers, used as uint64)."""
    z = np.uint64(key) + np.uint64(year) * _K_YEAR + np.uint64(stream) * _K_STREAM + _GOLDEN
    h = mix(np.uint64(seed) ^ mix(z))
    return float(h >> _S11) * _INV53


@njit(cache=True)
def poisson_inv(lam, u):
    """Poisson(lam) by inversion of one uniform ``u`` (lam <= ~30 for speed; exact for any)."""
    if lam <= 0.0:
        return 0
    p = math.exp(-lam)
    cdf = p
    k = 0
    while u > cdf and p > 0.0:
        k += 1
        p *= lam / k
        cdf += p
    return k


@njit(cache=True)
def poisson(seed, key, year, stream, lam):
    """Poisson(lam) keyed like ``uniform``; large means are split into parts of <= 30.

    Inversion keeps a monotone map from the uniform to the count, so a small change of ``lam``
    changes few counts (good for common random numbers).
    """
    if lam <= 0.0:
        return 0
    parts = int(math.ceil(lam / 30.0))
    each = lam / parts
    n = 0
    for j in range(parts):
        u = uniform(seed, combine(key, np.uint64(j)), year, stream)
        n += poisson_inv(each, u)
    return n


@njit(cache=True)
def stochastic_round(x, u):
    """floor(x) + Bernoulli(frac(x)) with the uniform ``u``: mean x, variance <= 1/4."""
    f = math.floor(x)
    return int(f) + (1 if u < x - f else 0)


def run_seed(seed_sequence: np.random.SeedSequence) -> int:
    """A uint64 run seed from a ``SeedSequence`` (as a Python int)."""
    return int(seed_sequence.generate_state(1, dtype=np.uint64)[0])
