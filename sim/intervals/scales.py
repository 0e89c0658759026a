"""Empirical scales: how far the back-test errors reach beyond the simulated spread.

By interval level, kommune size class, indicator group and horizon (``METHOD.md``,
section 3).

For a back-test with observed value ``y``, point ``x0`` and simulated log deviations whose
quantiles are ``Q_p`` (``Q_lo < 0 < Q_hi`` for a central interval at level ``L``), the error
``e = log(y / x0)`` needs the factor

    r = e / Q_hi  if e >= 0,   r = e / Q_lo  if e < 0

for the interval ``x0 exp(lambda Q_p)`` to cover it; ``lambda_L`` is the ``L``-quantile of
``r`` over the back-tests of a cell, so that a share ``L`` of them would have been covered.
Cells with fewer than ``MIN_RECORDS`` back-tests pool all size classes; horizons beyond the
data keep the last fitted horizon's scale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from sim.demography import AGE_GROUPS
from sim.demography.pooling import SIZE_LABELS

LEVELS = (0.5, 0.8, 0.9)
"""Central interval levels: 50 % (q25-q75), 80 % (q10-q90), 90 % (q05-q95)."""
GROUPS = ("total", *AGE_GROUPS)
"""Indicator groups scales are fitted for: the total and the planning age groups."""
HORIZONS = 10
MIN_RECORDS = 30
MIN_DEVIATION = 1e-4
"""Simulated log deviations are at least this wide when dividing by them."""
SCALES_FILE = Path(__file__).with_name("scales.json")


@dataclass(frozen=True)
class Scales:
    """Scale factors ``lam[L, C, G, H]`` (levels, size classes, ``GROUPS``, horizons 1..H)."""

    lam: np.ndarray
    info: dict

    def at(self, level: float, size_class: int, group: int, horizon: int) -> float:
        """The scale for a level, class, group index and horizon (>= 1; beyond H: H)."""
        h = min(max(horizon, 1), self.lam.shape[3]) - 1
        return float(self.lam[LEVELS.index(level), size_class, group, h])

    def to_json(self, path: Path) -> None:
        """Write the scales with their provenance."""
        path.write_text(json.dumps({
            "levels": list(LEVELS), "size_classes": list(SIZE_LABELS), "groups": list(GROUPS),
            "horizons": list(range(1, self.lam.shape[3] + 1)),
            "scale": np.round(self.lam, 4).tolist(), "info": self.info}, indent=1,
            ensure_ascii=False) + "\n", encoding="utf-8")


def unit_scales() -> Scales:
    """Scales of 1: the simulated spread as it is."""
    return Scales(np.ones((len(LEVELS), len(SIZE_LABELS), len(GROUPS), HORIZONS)),
                  {"source": "unit scales (no calibration)"})


@cache
def fitted_scales(path: Path = SCALES_FILE) -> Scales:
    """The committed scales (``kommunesim validate --all --intervals`` writes them)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return Scales(np.asarray(doc["scale"], dtype=float), doc.get("info", {}))


def cover_ratio(err: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The factor ``r`` each error needs (module docstring); inputs broadcast."""
    lo = np.minimum(lo, -MIN_DEVIATION)
    hi = np.maximum(hi, MIN_DEVIATION)
    return np.where(err >= 0, err / hi, err / lo)


def fit_scales(err: np.ndarray, lo: np.ndarray, hi: np.ndarray, size_class: np.ndarray,
               horizon: np.ndarray, info: dict | None = None) -> Scales:
    """Fit the scales from back-test records.

    Args:
        err: [N, G] log errors ``log(observed / point)`` (NaN where unknown).
        lo, hi: [N, L, G] simulated log-deviation quantiles of each level's interval.
        size_class: [N] size class of each record; horizon: [N] its horizon (1..).
        info: provenance stored with the scales.
    """
    n_cls, n_grp = len(SIZE_LABELS), len(GROUPS)
    lam = np.full((len(LEVELS), n_cls, n_grp, HORIZONS), np.nan)
    ratio = cover_ratio(err[:, None, :], lo, hi)                      # [N, L, G]
    counts = np.zeros((n_cls, HORIZONS), dtype=int)
    for h in range(1, HORIZONS + 1):
        at_h = horizon == h
        for c in range(n_cls):
            sel = at_h & (size_class == c)
            counts[c, h - 1] = int(sel.sum())
            use = sel if sel.sum() >= MIN_RECORDS else at_h
            if use.sum() < MIN_RECORDS:
                continue
            for li, level in enumerate(LEVELS):
                lam[li, c, :, h - 1] = np.nanquantile(ratio[use, li], level, axis=0)
    for h in range(1, HORIZONS):          # carry the last fitted horizon forward
        gap = np.isnan(lam[..., h])
        lam[..., h][gap] = lam[..., h - 1][gap]
    lam[np.isnan(lam)] = 1.0
    return Scales(lam, {**(info or {}), "records_by_class_and_horizon": counts.tolist()})
