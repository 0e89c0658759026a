"""Back-tests: estimate rates only from years up to a cut-off, project, compare with SSB.

No peeking: the scenario's base year is the cut-off and the estimation window ends at it
(``sim.inputs.estimate_levels`` refuses anything later). The package defaults already keep the
rest in the past for a base year before 2024: national mortality is averaged over the five HMD
years before the base year, the fertility schedule over the HFD years before it, and the national
TFR is held at the last observed year before it. The back-test only sets the window and the
settlement plan. The settlement plan is not from before the cut-off: the back-tests use the
refugee settlement that was realised in the projected years (the municipality's recorded
``refugees_settled``), as a planner would use the settlement plan; everything else is estimated
from the years before the cut-off. What is still later information besides it: UN WPP 2024's
improvement ratios (small over 1-10 years) and, for Lillestrøm, the gross out-migration rate
from the 2020-2023 accounts (it sets the gross split, not the net).

Two variants per back-test, both ``sim.inputs.resolve``:

* ``package``: the default fitting rules (mortality and fertility levels fitted to all window
  years with published deaths/births, in-migration = the window mean);
* ``calibrated``: the rules of the fitted defaults (``calibration.fit``): levels fitted to the
  jump-off year (``level_years = "last"``), in-migration by ``in_level`` (default the last year).

``abm_band`` runs the agent-based engine (``sim.abm.montecarlo.run_abm``) with a back-test's
resolved inputs and compares the observed populations with the P5-P95 band over runs. The band
reflects demographic randomness only (Poisson/Bernoulli draws given the rates), not uncertainty
in the rates themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.common import (
    group_totals,
    has_years,
    history,
    make_scenario,
    pct,
    recorded_refugees,
    table_for,
)
from calibration.fit import accounts
from sim.cohort.engine import Projection, project
from sim.config import deep_merge
from sim.data.population import available_years, municipality_name
from sim.data.ssb import year_ranges
from sim.demography import AGE_GROUPS
from sim.demography import fertility as fert
from sim.errors import InputError
from sim.inputs import ResolvedInputs, resolve

BACKTESTS = (
    # name, first population year of the window, cut-off (base year), last year compared
    ("short 2022", 2020, 2022, 2024),
    ("short 2023", 2020, 2023, 2024),
    ("long 2014", 2005, 2014, 2024),
)
SINGLE_AGE_MAX = 89
"""Single-age MAPE over ages 0..89 (above that the counts are too small for percentages)."""


@dataclass(frozen=True)
class YearError:
    """Observed against projected for one 1 January."""

    year: int
    horizon: int
    observed_total: float
    model_total: float
    total_error_pct: float
    age_group_mape: float
    single_age_mape: float
    single_age_wape: float
    groups: dict[str, tuple[float, float, float]]  # group -> (observed, model, error %)


@dataclass(frozen=True)
class BackTest:
    """One back-test variant with its errors by year and the projection."""

    name: str
    variant: str
    municipality: str
    window: tuple[int, int]
    base_year: int
    errors: list[YearError]
    components: dict[str, list[dict[str, float]]]  # births/deaths model vs published
    parameters: dict[str, Any]
    projection: Projection = field(repr=False)
    observed: np.ndarray = field(repr=False)  # [Y+1, 2, A]
    inputs: ResolvedInputs | None = field(default=None, repr=False, compare=False)


def no_peek_scenario(knr: str, first: int, cut: int, last: int,
                     population: str | Path | None = None) -> dict[str, Any]:
    """Scenario dict for a back-test: window ``first..cut``, projection ``cut -> last``.

    National mortality, fertility schedule and TFR are the package defaults for base year
    ``cut`` (all from before ``cut``); the settlement plan is the settlement realised in
    ``cut..last - 1`` (recorded ``refugees_settled``), as a planner would use the plan.
    """
    rec = recorded_refugees(knr, until=last - 1)
    plan = {y: rec.get(y, 0.0) for y in range(cut, last)}
    data: dict[str, Any] = {
        "name": f"back-test {first}-{cut}",
        "municipality": knr, "base_year": cut, "horizon": last,
        "migration": {"estimation_years": [first, cut]},
        "refugees": {"settled_per_year": plan},
    }
    if population is not None:
        data["inputs"] = {"population": str(population)}
    return data


def calibrated_rules(in_level: str = "last", level_years: str = "last") -> dict[str, Any]:
    """The fitting rules of the ``calibrated`` variant as a partial scenario dict."""
    return {"fertility": {"level_years": level_years},
            "mortality": {"level_years": level_years},
            "migration": {"in_level": in_level}}


def _errors(proj: Projection, observed: np.ndarray, base: int) -> list[YearError]:
    pop = proj.population.sum(axis=1)  # [Y+1, 2, A]
    rows = []
    for i, year in enumerate(proj.years[1:], start=1):
        m, o = pop[i], observed[i]
        gm, go = group_totals(m), group_totals(o)
        groups = {g: (go[g], gm[g], pct(gm[g], go[g])) for g in go}
        ages_m, ages_o = m.sum(axis=0), o.sum(axis=0)
        sel = slice(0, SINGLE_AGE_MAX + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ape = np.abs(ages_m[sel] - ages_o[sel]) / ages_o[sel]
        rows.append(YearError(
            year=int(year), horizon=int(year - base),
            observed_total=float(o.sum()), model_total=float(m.sum()),
            total_error_pct=pct(m.sum(), o.sum()),
            age_group_mape=float(np.mean([abs(v[2]) for v in groups.values()])),
            single_age_mape=float(np.nanmean(ape) * 100),
            single_age_wape=float(np.abs(ages_m - ages_o).sum() / ages_o.sum() * 100),
            groups=groups))
    return rows


def _components(knr: str, proj: Projection) -> dict[str, list[dict[str, float]]]:
    acc = accounts(knr)
    out: dict[str, list[dict[str, float]]] = {}
    for name in ("births", "deaths"):
        published = {int(y): float(v) for y, v in acc.get(name, {}).get("values", {}).items()}
        model = proj.component(name).sum(axis=(1, 2, 3))
        rows = [{"year": int(y), "observed": published[int(y)], "model": float(model[i]),
                 "error_pct": pct(float(model[i]), published[int(y)])}
                for i, y in enumerate(proj.years[:-1]) if int(y) in published]
        if rows:
            out[name] = rows
    return out


def backtest(
    knr: str, first: int, cut: int, last: int, population: str | Path | None = None,
    variant: str = "package", in_level: str = "last", name: str | None = None,
) -> BackTest:
    """Fit on populations ``first..cut``, project from 1 January ``cut`` to ``last``, compare."""
    table = table_for(population)
    if not has_years(table, knr, first, last):
        have = available_years(table, knr)
        raise InputError(population or "embedded population", "year",
                         f"back-test {first}..{last} needs every year; have {have[0]}..{have[-1]}")
    data = no_peek_scenario(knr, first, cut, last, population)
    if variant == "calibrated":
        data = deep_merge(data, calibrated_rules(in_level))
    elif variant != "package":
        raise InputError("validate", "variant", f"{variant!r}; allowed: package, calibrated")
    sc = make_scenario(data, f"back-test {knr}")
    inputs = resolve(sc)
    params = {"fertility_level": inputs.parameters["fertility_level"],
              "mortality_level": inputs.parameters["mortality_level"],
              "in_per_year": inputs.parameters["in_migrants_per_year_estimated"],
              "level_years": sc.mortality.level_years, "in_level": sc.migration.in_level}
    proj = project(inputs)
    observed = history(table, knr, range(cut, last + 1))
    return BackTest(name or f"{first}-{cut}", variant, knr, (first, cut), cut,
                    _errors(proj, observed, cut), _components(knr, proj), params, proj, observed,
                    inputs)


ABM_GROUPS = ("total", *AGE_GROUPS)
"""Rows of an ``AbmBand``: the total, then the planning age groups."""
ABM_BACKTESTS = ("short 2022", "long 2014")
"""Back-tests ``validate`` runs the ABM for (when ``abm_runs > 0``)."""


def _by_group(pop: np.ndarray) -> np.ndarray:
    """[..., G] total and age-group sums of a population [..., 2, A] (``ABM_GROUPS`` order)."""
    by_age = pop.sum(axis=-2)
    cols = [by_age.sum(axis=-1)] + [by_age[..., lo : hi + 1].sum(axis=-1)
                                    for lo, hi in AGE_GROUPS.values()]
    return np.stack(cols, axis=-1).astype(float)


@dataclass(frozen=True)
class AbmBand:
    """The ABM's P5-P95 band over runs against the observed values and the cohort projection.

    Arrays are ``[Y, G]``: the compared years (base year + 1 .. last) by ``ABM_GROUPS`` (total,
    then the age groups); ``totals`` is ``[R, Y, G]``, the value of every run. The band holds
    only demographic randomness given the rates (no rate uncertainty).
    """

    name: str
    variant: str
    municipality: str
    runs: int
    seed: int
    years: tuple[int, ...]
    groups: tuple[str, ...]
    totals: np.ndarray = field(repr=False)    # [R, Y, G] per run
    observed: np.ndarray = field(repr=False)  # [Y, G]
    cohort: np.ndarray = field(repr=False)    # [Y, G]
    p5: np.ndarray = field(repr=False)
    p50: np.ndarray = field(repr=False)
    p95: np.ndarray = field(repr=False)
    seconds: float = 0.0

    @property
    def mean(self) -> np.ndarray:
        """[Y, G] mean over runs."""
        return self.totals.mean(axis=0)

    @property
    def sd(self) -> np.ndarray:
        """[Y, G] standard deviation over runs (ddof 1)."""
        return self.totals.std(axis=0, ddof=1) if self.runs > 1 else np.zeros_like(self.p50)

    @property
    def covered(self) -> np.ndarray:
        """[Y, G] True where the observed value lies in [P5, P95]."""
        return (self.p5 <= self.observed) & (self.observed <= self.p95)

    @property
    def width(self) -> np.ndarray:
        """[Y, G] band width P95 - P5 (persons)."""
        return self.p95 - self.p5

    @property
    def cohort_error(self) -> np.ndarray:
        """[Y, G] cohort projection minus observed (persons)."""
        return self.cohort - self.observed

    @property
    def width_ratio(self) -> np.ndarray:
        """[Y, G] band width / |cohort error| (inf where the cohort error is 0)."""
        err = np.abs(self.cohort_error)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(err > 0, self.width / np.where(err > 0, err, 1.0), np.inf)

    def _group_cells(self) -> np.ndarray:
        return self.covered[:, 1:]

    @property
    def coverage(self) -> float:
        """Share of age-group x year cells (total excluded) whose observed value is in the band."""
        return float(self._group_cells().mean())

    @property
    def cells(self) -> tuple[int, int]:
        """(covered, all) age-group x year cells."""
        c = self._group_cells()
        return int(c.sum()), int(c.size)

    @property
    def total_covered(self) -> tuple[int, int]:
        """(covered, all) years for the total."""
        return int(self.covered[:, 0].sum()), len(self.years)

    @property
    def median_width_ratio(self) -> float:
        """Median of band width / |cohort error| over the age-group x year cells."""
        return float(np.median(self.width_ratio[:, 1:]))


def abm_band(bt: BackTest, runs: int = 100, seed: int | None = None,
             workers: int = 1) -> AbmBand:
    """Run the ABM ``runs`` times with the back-test's resolved inputs; P5/P50/P95 per cell.

    The quantiles are over runs of the group sums (``np.quantile``, linear interpolation), per
    1 January after the base year and per ``ABM_GROUPS`` entry. ``seed`` defaults to the
    scenario's seed.
    """
    from sim.abm.montecarlo import run_abm

    if bt.inputs is None:
        raise InputError("validate", "abm", f"back-test {bt.name} has no resolved inputs")
    res = run_abm(bt.inputs, runs, seed=seed, workers=workers)
    if res.years.tolist() != bt.projection.years.tolist():
        raise InputError("validate", "abm", "ABM years differ from the cohort projection")
    totals = _by_group(res.population.sum(axis=2))[:, 1:]     # [R, Y, G], skip the base year
    q = np.quantile(totals, (0.05, 0.5, 0.95), axis=0)
    cohort = _by_group(bt.projection.population.sum(axis=1))[1:]
    observed = _by_group(bt.observed)[1:]
    return AbmBand(bt.name, bt.variant, bt.municipality, runs,
                   int(bt.inputs.seed if seed is None else seed),
                   tuple(int(y) for y in bt.projection.years[1:]), ABM_GROUPS,
                   totals, observed, cohort, q[0], q[1], q[2], res.timings.get("run_s", 0.0))


@dataclass(frozen=True)
class ValidationResult:
    """All back-tests of one municipality."""

    municipality: str
    name: str
    backtests: list[BackTest]
    skipped: list[str]
    rolling: dict[str, Any]
    abm: list[AbmBand] = field(default_factory=list)

    def get(self, name: str, variant: str) -> BackTest:
        """The back-test by name and variant."""
        return next(b for b in self.backtests if b.name == name and b.variant == variant)

    def band(self, name: str, variant: str) -> AbmBand | None:
        """The ABM band of a back-test, if computed."""
        return next((b for b in self.abm if b.name == name and b.variant == variant), None)


def rolling_origin(knr: str, population=None, window: int = 2, horizon: int = 2,
                   variant: str = "calibrated") -> dict[str, Any]:
    """Total error at ``horizon`` for every cut-off, in-migration ``mean`` against ``last``.

    A basis for choosing the in-migration rule that does not rest on one cut-off.
    """
    table = table_for(population)
    have = available_years(table, knr)
    rows = []
    for cut in range(have[0] + window, have[-1] - horizon + 1):
        if not has_years(table, knr, cut - window, cut + horizon):
            continue
        row: dict[str, Any] = {"cut_off": cut}
        for rule in ("mean", "last"):
            bt = backtest(knr, cut - window, cut, cut + horizon, population, variant, rule)
            row[rule] = bt.errors[-1].total_error_pct
        rows.append(row)
    if not rows:
        return {}
    summary = {rule: float(np.mean([abs(r[rule]) for r in rows])) for rule in ("mean", "last")}
    return {"window_transitions": window, "horizon": horizon, "rows": rows,
            "mean_abs_error_pct": summary}


def validate(
    municipality: str, population_file: str | Path | None = None, in_level: str = "last",
    rolling: bool = True, abm_runs: int = 0, abm_backtests: tuple[str, ...] = ABM_BACKTESTS,
    abm_seed: int | None = None, abm_workers: int = 1,
) -> ValidationResult:
    """Run the short and long back-tests (both variants) for a municipality.

    Works for any municipality in the population table (embedded or imported); a history that
    starts after a back-test's window start is estimated from its first year (at least one
    transition before the cut-off); back-tests whose years are missing are listed in
    ``skipped``. With ``abm_runs > 0`` the ABM is run that many
    times for each back-test in ``abm_backtests`` (both variants) and its P5-P95 band compared
    with the observed values (``abm_band``).
    """
    table = table_for(population_file)
    knr = municipality
    source = population_file or "embedded population"
    have = available_years(table, knr)
    if not have:
        raise InputError(source, "municipality", f"unknown municipality {knr}")
    starts = [(name, max(first, have[0]), cut, last) for name, first, cut, last in BACKTESTS]
    runnable = [(name, first, cut, last) for name, first, cut, last in starts
                if first < cut and has_years(table, knr, first, last)]
    if not runnable:
        need = min(((cut - 1, last) for _, _, cut, last in BACKTESTS), key=lambda s: s[1] - s[0])
        full = min(first for _, first, _, _ in BACKTESTS), max(b[3] for b in BACKTESTS)
        raise InputError(source, "year", f"validate needs the populations of every year "
                         f"{need[0]}..{need[1]} at least (a back-test from {need[0] + 1} "
                         f"estimated on {need[0]}..{need[0] + 1}; {full[0]}..{full[1]} for "
                         f"all back-tests); {knr} has {year_ranges(have)}")
    out = []
    ran = {name for name, *_ in runnable}
    skipped = [f"{name}: needs populations {first}..{last}" for name, first, _, last
               in BACKTESTS if name not in ran]
    for name, first, cut, last in runnable:
        for variant in ("package", "calibrated"):
            out.append(backtest(knr, first, cut, last, population_file, variant, in_level, name))
    roll = rolling_origin(knr, population_file) if rolling else {}
    bands = [abm_band(bt, abm_runs, abm_seed, abm_workers) for bt in out
             if abm_runs > 0 and bt.name in abm_backtests]
    return ValidationResult(knr, municipality_name(table, knr), out, skipped, roll, bands)


def reproduce_year(knr: str, year: int = 2023, fitted_file: str | Path | None = None,
                   population: str | Path | None = None, use_fitted: bool = True,
                   ) -> dict[str, Any]:
    """Project one year from 1 January ``year`` with the fitted default levels.

    In-sample check of the calibrated default: the fertility and mortality levels of
    ``calibration/fitted/<knr>.toml`` (fitted on data that include ``year``) with their national
    references (HMD and HFD years), migration estimated on the window ending at ``year``
    (``estimate_levels`` allows nothing later), the recorded settlement of ``year`` as the plan
    and the published national TFR of ``year``. Returns births, deaths, refugees and the
    1 January ``year + 1`` total against the published figures. With ``use_fitted=False`` the
    package's own defaults for base year ``year`` are used instead (levels fitted by
    ``estimate_levels`` with its default rules on the window ending at ``year``).
    """
    from calibration.common import FITTED_DIR
    from sim.config import read_scenario_dict

    path = Path(fitted_file) if fitted_file else FITTED_DIR / f"{knr}.toml"
    fitted = read_scenario_dict(path)
    rec = recorded_refugees(knr)
    data: dict[str, Any] = {
        "municipality": knr, "base_year": year, "horizon": year + 1,
        "fertility": {"tfr": {year: fert.national_tfr(year)}},
        "migration": {"estimation_years": [year - 5, year],
                      "gross_out_rate": fitted["migration"].get("gross_out_rate")},
        "refugees": {"settled_per_year": {year: rec.get(year, 0.0)}},
    }
    if use_fitted:
        keys = {"fertility": ("level", "schedule_years"), "mortality": ("level", "base_years")}
        data = deep_merge(data, {sec: {k: fitted[sec][k] for k in ks
                                       if k in fitted.get(sec, {})} for sec, ks in keys.items()})
    if population is not None:
        data["inputs"] = {"population": str(population)}
    proj = project(resolve(make_scenario(data, f"reproduce {knr} {year}")))
    acc = accounts(knr)
    table = table_for(population)
    out: dict[str, Any] = {"year": year,
                           "levels": str(path) if use_fitted else "package defaults"}
    for name in ("births", "deaths", "refugees"):
        model = float(proj.component(name).sum())
        key = "refugees_settled" if name == "refugees" else name
        pub = acc.get(key, {}).get("values", {})
        published = pub.get(str(year), pub.get(year))
        out[name] = {"model": model, "published": published,
                     "error_pct": pct(model, published) if published else None,
                     "source": acc.get(key, {}).get("source")}
    total_next = float(proj.population[-1].sum())
    obs_next = (float(history(table, knr, [year + 1]).sum())
                if has_years(table, knr, year + 1, year + 1) else None)
    out["total_next"] = {"model": total_next, "observed": obs_next,
                         "error_pct": pct(total_next, obs_next) if obs_next else None}
    return out
