"""Fit the default levels of a municipality and write them as a partial scenario.

``fit_defaults(knr)`` writes

* ``calibration/fitted/<knr>.toml``: a partial scenario (only ``Scenario`` keys) that a scenario
  can use with ``extends = "../../calibration/fitted/<knr>.toml"``;
* ``calibration/fitted/<knr>_fit.json``: every fitted parameter with the data it came from and
  its fit error (per year and summed).

The rate estimation is ``sim.inputs.estimate_levels`` (gross migration from successive SSB
populations, births and deaths from ``municipalities.toml``). On top of it, two levels are
re-fitted so that the *engine* reproduces the observed counts of the fit years:

* mortality: ``level`` such that sum over the years with published deaths of ``q(level) * E``
  (the kernel's deaths: death probability times exposure ``A + I/2``) equals the published
  deaths. ``estimate_levels`` divides by deaths at national rates on the mid-year population
  ``(A + P[t+1]) / 2``, which is about ``(O + D) / 2`` smaller than the kernel's exposure, so its
  level is biased upwards by roughly half the gross out-migration rate (about 3 %);
* fertility: births over the years with published births (all window years with births
  estimated from the age-0 population when none are published) / births the engine gives at
  the national TFR of each year.

The in-migration level is the window mean (as in ``sim.inputs``) or, with ``in_level="last"``,
the last window year. Everything is deterministic: no random numbers are drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from scipy.optimize import brentq

from calibration.common import (
    FITTED_DIR,
    IN_LEVEL_RULES,
    TARGETS_DIR,
    defaults_for,
    history,
    make_scenario,
    merge,
    pct,
    table_for,
)
from sim.cohort.engine import project
from sim.config import Scenario
from sim.demography import fertility as fert
from sim.demography import mortality as mort
from sim.demography import refugees as refu
from sim.errors import InputError
from sim.inputs import ESTIMATION_YEARS, estimate_levels, resolve
from sim.schema import read_toml

FIT_VERSION = 1


def death_probabilities(mx: np.ndarray) -> np.ndarray:
    """Cohort death probabilities [Y, 2, A] from central death rates [Y, 2, ages]."""
    return np.stack([[mort.cohort_death_probability(mx[t, s], s) for s in range(2)]
                     for t in range(mx.shape[0])])


@dataclass(frozen=True)
class WindowFit:
    """Levels fitted on one estimation window, with per-year data and model values.

    Arrays are per transition year ``years`` (flows of year t, 1 Jan t -> 1 Jan t+1).
    """

    knr: str
    window: tuple[int, int]
    years: np.ndarray
    mortality_level: float
    mortality_level_package: float   # what sim.inputs.estimate_levels gives
    fertility_level: float
    fertility_level_package: float
    in_per_year: float
    in_level_rule: str
    gross_out_rate: float
    out_level: float
    deaths_obs: np.ndarray           # NaN where not published
    deaths_model: np.ndarray
    births_data: np.ndarray          # published, else estimated from the age-0 population
    births_observed: np.ndarray      # bool
    births_model: np.ndarray
    in_migrants: np.ndarray          # gross in-migrants excl. refugees, estimated per year
    refugees: np.ndarray             # settled refugees taken out of the in-migrants
    out_migrants: np.ndarray         # estimated out-migrants per year
    replay_total: np.ndarray         # one-step replay with the fitted constant levels
    observed_total: np.ndarray       # observed 1 Jan t+1
    mortality_base_years: tuple[int, int]
    extra: dict[str, Any] = field(default_factory=dict)

    def patch(self) -> dict[str, Any]:
        """The fitted levels as a partial scenario dict (keys of the ``Scenario`` schema)."""
        return {
            "fertility": {"level": round(self.fertility_level, 6)},
            "mortality": {"level": round(self.mortality_level, 6)},
            "migration": {
                "estimation_years": list(self.window),
                "gross_out_rate": round(self.gross_out_rate, 6),
                "in_per_year": {self.window[1]: round(self.in_per_year, 3)},
                "out_rate_multiplier": {self.window[1]: 1.0},
            },
        }


def _scenario_for_window(knr: str, window: tuple[int, int], population, extra) -> Scenario:
    data: dict[str, Any] = {"municipality": knr, "base_year": window[1],
                            "horizon": window[1] + 1,
                            "migration": {"estimation_years": list(window)}}
    if population is not None:
        data["inputs"] = {"population": str(population)}
    return make_scenario(merge(data, extra or {}))


def fit_window(
    knr: str,
    window: tuple[int, int],
    population: str | Path | None = None,
    defaults: dict[str, Any] | None = None,
    in_level: str = "mean",
    scenario: dict[str, Any] | None = None,
    level_years: str = "last",
) -> WindowFit:
    """Fit mortality, fertility and migration levels on the populations ``window[0]..window[1]``.

    Args:
        knr: kommunenummer.
        window: first and last 1 January population used (the last is the base year).
        population: population table in the package format (default: the embedded SSB table).
        defaults: births/deaths/refugees_settled/gross_out_rate by year (default: the
            municipality's entry in ``municipalities.toml``); only years in the window are used.
        in_level: ``mean`` or ``last`` (see ``calibration.common.IN_LEVEL_RULES``).
        scenario: extra scenario keys (e.g. ``mortality.base_years``) merged into the fit.
        level_years: ``last`` fits the fertility and mortality levels to the last window year
            with published births/deaths (the jump-off year); ``all`` to all published years.
            Births estimated from the age-0 population (none published) always use all years.
    """
    if in_level not in IN_LEVEL_RULES:
        raise InputError("calibration", "in_level", f"{in_level!r}; allowed: mean, last")
    if level_years not in ("last", "all"):
        raise InputError("calibration", "level_years", f"{level_years!r}; allowed: last, all")
    table = table_for(population)
    defaults = defaults_for(knr) if defaults is None else defaults
    sc = _scenario_for_window(knr, window, population, scenario)
    years = np.arange(window[0], window[1])
    pops = history(table, knr, range(window[0], window[1] + 1))
    mx_hist = mort.mx_path(years, sc.mortality.base_years)

    def obs(key: str) -> np.ndarray:
        return np.array([defaults.get(key, {}).get(int(y), np.nan) for y in years], dtype=float)

    deaths_obs = obs("deaths")
    package = estimate_levels(sc, table, knr, defaults)

    def with_level(level: float):
        s = sc.model_copy(update={"mortality": sc.mortality.model_copy(update={"level": level})})
        return s, estimate_levels(s, table, knr, defaults)

    def engine_deaths(level: float):
        _, est = with_level(level)
        q = death_probabilities(level * mx_hist)
        return (q * est.migration.exposure).sum(axis=(1, 2))

    ok = _fit_mask(~np.isnan(deaths_obs), level_years)
    if ok.any():
        target = deaths_obs[ok].sum()
        m_level = float(brentq(lambda lv: engine_deaths(lv)[ok].sum() - target, 0.05, 3.0,
                               xtol=1e-12))
    else:
        m_level = 1.0
    sc_fit, est = with_level(m_level)
    q = death_probabilities(m_level * mx_hist)
    mig = est.migration
    deaths_model = (q * mig.exposure).sum(axis=(1, 2))

    # Fertility: births the engine gives at the national TFR of each year (level 1).
    schedule = fert.national_schedule(*sc.fertility.schedule_years)
    women = mig.exposure[:, 1, :] * (1.0 - 0.5 * (q[:, 1, :] + mig.out_rate[:, 1, :]))
    expected = np.array([fert.expected_births(
        fert.cohort_age_rates(fert.national_tfr(int(y)) * schedule), women[i])
        for i, y in enumerate(years)])
    births = est.births
    observed = est.births_observed
    use = _fit_mask(observed, level_years) if observed.any() else np.ones_like(observed)
    f_level = float(births[use].sum() / expected[use].sum())

    # Migration: in-migrants without the settled refugees, per year (as in estimate_levels).
    settled = np.array([defaults.get("refugees_settled", {}).get(int(y), 0.0) for y in years])
    inflow = np.clip(mig.in_migrants - settled[:, None, None] * refu.default_profile(), 0.0,
                     None).sum(axis=(1, 2))
    in_per_year = float(inflow.mean() if in_level == "mean" else inflow[-1])
    gross_out = float(mig.out_migrants.sum() / mig.exposure.sum())

    fit = WindowFit(
        knr=knr, window=tuple(window), years=years,
        mortality_level=m_level, mortality_level_package=package.mortality_level,
        fertility_level=f_level, fertility_level_package=package.fertility_level,
        in_per_year=in_per_year, in_level_rule=in_level,
        gross_out_rate=gross_out, out_level=mig.out_level,
        deaths_obs=deaths_obs, deaths_model=deaths_model,
        births_data=births, births_observed=observed, births_model=f_level * expected,
        in_migrants=inflow, refugees=settled, out_migrants=mig.out_migrants.sum(axis=(1, 2)),
        replay_total=np.zeros(len(years)), observed_total=pops[1:].sum(axis=(1, 2)),
        mortality_base_years=tuple(sc.mortality.base_years),
        extra={"level_years": level_years, "deaths_fit_mask": ok.tolist(),
               "births_fit_mask": use.tolist()},
    )
    return replace(fit, replay_total=_replay(fit, sc_fit, pops, mx_hist, schedule, settled))


def _fit_mask(have: np.ndarray, level_years: str) -> np.ndarray:
    """Years the levels are fitted on: all with data, or only the last one with data."""
    if level_years == "all" or not have.any():
        return have.copy()
    mask = np.zeros_like(have)
    mask[np.flatnonzero(have)[-1]] = True
    return mask


def _replay(fit: WindowFit, sc: Scenario, pops, mx_hist, schedule, settled) -> np.ndarray:
    """One-step projections of each window year with the fitted constant levels (totals)."""
    data = merge(sc.model_dump(exclude={"source"}, exclude_none=True), fit.patch())
    data["refugees"] = {"settled_per_year": {int(fit.window[1]): 0.0}}
    one = resolve(make_scenario(data))
    q = death_probabilities(fit.mortality_level * mx_hist)
    out = []
    for i, y in enumerate(fit.years):
        phi = fert.cohort_age_rates(fit.fertility_level * fert.national_tfr(int(y)) * schedule)
        inputs = replace(
            one, years=np.array([y]), base_population=pops[i][None],
            fertility=phi[None, None], death_probability=q[i][None, None],
            refugees=(settled[i] * refu.default_profile())[None, None])
        out.append(project(inputs).population[-1].sum())
    return np.array(out)


# --------------------------------------------------------------------------- fit_defaults


def default_window(knr: str, base_year: int, population=None) -> tuple[int, int]:
    """The package's default estimation window: five transitions up to the base year."""
    from sim.data.population import available_years

    have = available_years(table_for(population), knr)
    return (max(have[0], base_year - ESTIMATION_YEARS), base_year)


def accounts(knr: str) -> dict[str, Any]:
    """Published population accounts for the municipality (``targets/<knr>.toml [accounts]``)."""
    path = TARGETS_DIR / f"{knr}.toml"
    if not path.exists():
        return {}
    return read_toml(path).get("accounts", {})


def _per_year(years, data, model) -> list[dict[str, Any]]:
    rows = []
    for y, d, m in zip(years, data, model, strict=True):
        rows.append({"year": int(y), "data": None if np.isnan(d) else round(float(d), 2),
                     "model": round(float(m), 2),
                     "error_pct": None if np.isnan(d) else round(pct(m, d), 3)})
    return rows


def fit_report(fit: WindowFit, knr: str) -> dict[str, Any]:
    """Each fitted parameter with its value, the data it came from and its fit error."""
    years = fit.years
    deaths_ok = np.array(fit.extra["deaths_fit_mask"], dtype=bool)
    births_use = np.array(fit.extra["births_fit_mask"], dtype=bool)
    acc = accounts(knr)
    mean_level = fit.in_per_year

    def mape(rows):
        errs = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None]
        return round(float(np.mean(errs)), 3) if errs else None

    births_rows = _per_year(years, fit.births_data, fit.births_model)
    for r, o in zip(births_rows, fit.births_observed, strict=True):
        r["data_kind"] = "published" if o else "estimated from the age-0 population"
    deaths_rows = _per_year(years, fit.deaths_obs, fit.deaths_model)
    in_rows = [{"year": int(y), "estimated": round(float(v), 1),
                "refugees_taken_out": float(r), "level_used": round(mean_level, 1),
                "deviation_pct": round(pct(mean_level, v), 3)}
               for y, v, r in zip(years, fit.in_migrants, fit.refugees, strict=True)]
    gross_in_obs = _account_sum(acc, ("immigration", "domestic_in"))
    gross_out_obs = _account_sum(acc, ("emigration", "domestic_out"))
    for r, y, ref, out in zip(in_rows, years, fit.refugees, fit.out_migrants, strict=True):
        if int(y) in gross_in_obs:
            est_in = r["estimated"] + ref
            r["published_gross_in_incl_refugees"] = gross_in_obs[int(y)]
            r["estimated_incl_refugees_error_pct"] = round(pct(est_in, gross_in_obs[int(y)]), 3)
        if int(y) in gross_out_obs:
            r["published_gross_out"] = gross_out_obs[int(y)]
            r["estimated_out"] = round(float(out), 1)
            r["estimated_out_error_pct"] = round(pct(out, gross_out_obs[int(y)]), 3)
    replay_rows = _per_year(years + 1, fit.observed_total, fit.replay_total)
    return {
        "municipality": knr,
        "fit_version": FIT_VERSION,
        "window": list(fit.window),
        "transition_years": years.tolist(),
        "data": {
            "population": "1 January populations by sex and single age, SSB table 07459 "
                          "(sim/data/ssb_07459_population_2005_2024.csv or the imported table)",
            "births_deaths_refugees": "sim/data/municipalities.toml (sources cited there)",
            "national_rates": "HMD Norway mx (mortality.base_years "
                              f"{list(fit.mortality_base_years)}), HFD/SSB national TFR by year",
            "accounts": {k: v.get("source") for k, v in acc.items() if isinstance(v, dict)},
        },
        "parameters": {
            "mortality.level": {
                "value": fit.mortality_level,
                "package_estimate": fit.mortality_level_package,
                "method": "engine deaths q(level) x (A + I/2) summed over the years with "
                          "published deaths = published deaths",
                "fit_years": [int(y) for y in years[deaths_ok]],
                "per_year": deaths_rows,
                "mape_pct": mape(deaths_rows),
                "note": (f"level_years = {fit.extra['level_years']!r}") if deaths_ok.any() else
                "no published deaths: national level (1.0) assumed",
            },
            "fertility.level": {
                "value": fit.fertility_level,
                "package_estimate": fit.fertility_level_package,
                "method": "births / engine births at the national TFR of each year, over the "
                          "fit years",
                "fit_years": [int(y) for y in years[births_use]],
                "per_year": births_rows,
                "mape_pct": mape(births_rows),
            },
            "migration.in_per_year": {
                "value": fit.in_per_year,
                "rule": fit.in_level_rule,
                "method": "gross in-migrants by cohort from successive populations "
                          "(sim.demography.migration), minus settled refugees x profile",
                "per_year": in_rows,
                "cv_pct": round(float(fit.in_migrants.std() / fit.in_migrants.mean() * 100), 3),
            },
            "migration.gross_out_rate": {
                "value": fit.gross_out_rate, "standard_shape_level": fit.out_level,
                "per_year_out_migrants": [round(float(v), 1) for v in fit.out_migrants],
            },
            "population_replay": {
                "method": "each window year projected one step from its observed 1 January "
                          "population with the fitted constant levels; total on 1 Jan t+1",
                "per_year": replay_rows,
                "mape_pct": mape(replay_rows),
            },
        },
    }


def _account_sum(acc: dict[str, Any], keys: tuple[str, ...]) -> dict[int, float]:
    tables = [acc.get(k, {}).get("values", {}) for k in keys]
    if not all(tables):
        return {}
    years = set.intersection(*[{int(y) for y in t} for t in tables])
    return {y: float(sum(t[str(y)] if str(y) in t else t[y] for t in tables))
            for y in sorted(years)}


def toml_ready(data: Any) -> Any:
    """Dict keys as strings (year paths have int keys), floats rounded for stable text."""
    if isinstance(data, dict):
        return {str(k): toml_ready(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [toml_ready(v) for v in data]
    if isinstance(data, float | np.floating):
        return round(float(data), 6)
    if isinstance(data, np.integer):
        return int(data)
    return data


def _toml_text(knr: str, fit: WindowFit) -> str:
    data = toml_ready({"municipality": knr, **fit.patch()})
    header = (
        f"# Fitted default levels for {knr}, generated by calibration.fit.fit_defaults("
        f"{knr!r}).\n"
        f"# Do not edit: regenerate with `python -m calibration.cli fit {knr}`.\n"
        f"# Estimation window: 1 January {fit.window[0]}..{fit.window[1]}; fit errors and data in "
        f"{knr}_fit.json.\n"
        f"# Use from a scenario: extends = \"../../calibration/fitted/{knr}.toml\"\n\n")
    return header + tomli_w.dumps(data)


@dataclass(frozen=True)
class FitResult:
    """What ``fit_defaults`` wrote."""

    fit: WindowFit
    report: dict[str, Any]
    toml_path: Path
    json_path: Path


def fit_defaults(
    knr: str,
    base_year: int = 2024,
    window: tuple[int, int] | None = None,
    out_dir: str | Path = FITTED_DIR,
    population: str | Path | None = None,
    in_level: str = "mean",
    level_years: str = "last",
) -> FitResult:
    """Fit the default levels of ``knr`` and write ``<knr>.toml`` and ``<knr>_fit.json``.

    Deterministic: the same data give byte-identical files.
    """
    window = tuple(window) if window else default_window(knr, base_year, population)
    fit = fit_window(knr, window, population, in_level=in_level, level_years=level_years)
    report = fit_report(fit, knr)
    other = "all" if level_years == "last" else "last"
    alt = fit_window(knr, window, population, in_level=in_level, level_years=other)
    report["alternative"] = {
        "level_years": other, "fertility.level": alt.fertility_level,
        "mortality.level": alt.mortality_level,
        "births_model": [round(float(v), 1) for v in alt.births_model],
        "deaths_model": [round(float(v), 1) for v in alt.deaths_model]}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    toml_path, json_path = out / f"{knr}.toml", out / f"{knr}_fit.json"
    toml_path.write_text(_toml_text(knr, fit), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)
                         + "\n", encoding="utf-8")
    return FitResult(fit, report, toml_path, json_path)
