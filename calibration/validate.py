"""Back-tests: estimate rates only from years up to a cut-off, project, compare with SSB.

No peeking: the scenario's base year is the cut-off and the estimation window ends at it
(``sim.inputs.estimate_levels`` refuses anything later). The package defaults already keep the
rest in the past for a base year before 2024: national mortality is averaged over the five HMD
years before the base year, the fertility schedule over the HFD years before it, and the national
TFR is held at the last observed year before it. The back-test only sets the window and the
settlement plan (the municipality's recorded ``refugees_settled``, information about the past
only). What is still later information: UN WPP 2024's improvement ratios (small over 1-10
years) and, for Lillestrøm, the gross out-migration rate from the 2020-2023 accounts (it sets the
gross split, not the net).

Two variants per back-test, both ``sim.inputs.resolve``:

* ``package``: the default fitting rules (mortality and fertility levels fitted to all window
  years with published deaths/births, in-migration = the window mean);
* ``calibrated``: the rules of the fitted defaults (``calibration.fit``): levels fitted to the
  jump-off year (``level_years = "last"``), in-migration by ``in_level`` (default the last year).
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
    merge,
    pct,
    recorded_refugees,
    table_for,
)
from calibration.fit import accounts
from sim.cohort.engine import Projection, project
from sim.data.population import available_years, municipality_name
from sim.demography import fertility as fert
from sim.errors import InputError
from sim.inputs import resolve

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


def no_peek_scenario(knr: str, first: int, cut: int, last: int,
                     population: str | Path | None = None) -> dict[str, Any]:
    """Scenario dict for a back-test: window ``first..cut``, projection ``cut -> last``.

    National mortality, fertility schedule and TFR are the package defaults for base year
    ``cut`` (all from before ``cut``); the settlement plan is the recorded one.
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
        data = merge(data, calibrated_rules(in_level))
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
                    _errors(proj, observed, cut), _components(knr, proj), params, proj, observed)


@dataclass(frozen=True)
class ValidationResult:
    """All back-tests of one municipality."""

    municipality: str
    name: str
    backtests: list[BackTest]
    skipped: list[str]
    rolling: dict[str, Any]

    def get(self, name: str, variant: str) -> BackTest:
        """The back-test by name and variant."""
        return next(b for b in self.backtests if b.name == name and b.variant == variant)


def rolling_origin(knr: str, population=None, window: int = 2, horizon: int = 2,
                   variant: str = "calibrated") -> dict[str, Any]:
    """Total error at ``horizon`` for every cut-off, in-migration ``mean`` against ``last``.

    A basis for choosing the in-migration rule that does not rest on one cut-off.
    """
    table = table_for(population)
    have = available_years(table, knr)
    rows = []
    for cut in range(have[0] + window, have[-1] - horizon + 1):
        row: dict[str, Any] = {"cut_off": cut}
        for rule in ("mean", "last"):
            bt = backtest(knr, cut - window, cut, cut + horizon, population, variant, rule)
            row[rule] = bt.errors[-1].total_error_pct
        rows.append(row)
    summary = {rule: float(np.mean([abs(r[rule]) for r in rows])) for rule in ("mean", "last")}
    return {"window_transitions": window, "horizon": horizon, "rows": rows,
            "mean_abs_error_pct": summary}


def validate(
    municipality: str, population_file: str | Path | None = None, in_level: str = "last",
    rolling: bool = True,
) -> ValidationResult:
    """Run the short and long back-tests (both variants) for a municipality.

    Works for any municipality in the population table (embedded or imported); back-tests whose
    years are missing are listed in ``skipped``.
    """
    table = table_for(population_file)
    knr = municipality
    if knr not in set(table.kommunenummer.unique()):
        raise InputError(population_file or "embedded population", "municipality",
                         f"unknown municipality {knr}")
    out, skipped = [], []
    for name, first, cut, last in BACKTESTS:
        if not has_years(table, knr, first, last):
            skipped.append(f"{name}: needs populations {first}..{last}")
            continue
        for variant in ("package", "calibrated"):
            out.append(backtest(knr, first, cut, last, population_file, variant, in_level, name))
    roll = rolling_origin(knr, population_file) if rolling else {}
    return ValidationResult(knr, municipality_name(table, knr), out, skipped, roll)


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
        data = merge(data, {sec: {k: fitted[sec][k] for k in ks if k in fitted.get(sec, {})}
                            for sec, ks in keys.items()})
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
