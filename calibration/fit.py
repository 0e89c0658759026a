"""Fit the default levels of a municipality and write them as a partial scenario.

``fit_defaults(knr)`` writes

* ``calibration/fitted/<knr>.toml``: a partial scenario (only ``Scenario`` keys) that a scenario
  can use with ``extends = "../../calibration/fitted/<knr>.toml"``;
* ``calibration/fitted/<knr>_fit.json``: every fitted parameter with the data it came from and
  its fit error (per year and summed).

The fit is ``sim.inputs.estimate_levels`` itself, with the scenario's fitting rules set:

* ``mortality.level_years``: the mortality level at which the engine's deaths (death
  probabilities x exposure of the estimated flows) equal the published deaths, over all window
  years with published deaths or only the last one;
* ``fertility.level_years``: births / births the engine gives at Norway's TFR of each year, over
  the same choice of years (all window years, with births estimated from the age-0 population,
  when none are published);
* ``migration.in_level``: the in-migration level (refugees taken out) is the window mean or
  the last window year.

The fitted numbers are written out explicitly (so a scenario that extends the file uses exactly
them, whatever its own base year); the rules that produced them are in the file's header and the
JSON. Everything is deterministic: no random numbers are drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from calibration.common import (
    FITTED_DIR,
    TARGETS_DIR,
    defaults_for,
    history,
    make_scenario,
    pct,
    table_for,
)
from sim.cohort.engine import project
from sim.config import Scenario, deep_merge
from sim.demography import fertility as fert
from sim.demography import mortality as mort
from sim.demography import refugees as refu
from sim.inputs import ESTIMATION_YEARS, Estimates, estimate_levels, resolve
from sim.schema import read_toml

FIT_VERSION = 2


@dataclass(frozen=True)
class WindowFit:
    """Levels fitted on one estimation window (``sim.inputs.estimate_levels``) and the replay.

    Per-year arrays are over the transition years ``years`` (flows of year t, 1 Jan t -> t+1).
    """

    knr: str
    scenario: Scenario               # the fitting scenario (window, rules)
    estimates: Estimates
    replay_total: np.ndarray         # one-step replay with the fitted constant levels
    observed_total: np.ndarray       # observed 1 Jan t+1

    @property
    def window(self) -> tuple[int, int]:
        """First and last 1 January population of the window."""
        return self.estimates.window

    @property
    def years(self) -> np.ndarray:
        """Transition years of the window."""
        return self.estimates.migration.years

    @property
    def level_years(self) -> str:
        """Years the fertility and mortality levels are fitted on: ``last`` or ``all``."""
        return self.scenario.mortality.level_years

    @property
    def in_level_rule(self) -> str:
        """In-migration level: window ``mean`` or ``last`` year."""
        return self.scenario.migration.in_level

    @property
    def mortality_level(self) -> float:
        """Mortality relative to Norway (HMD, ``mortality_base_years``)."""
        return self.estimates.mortality_level

    @property
    def fertility_level(self) -> float:
        """Fertility relative to Norway's TFR of each year."""
        return self.estimates.fertility_level

    @property
    def in_per_year(self) -> float:
        """Gross in-migrants per year excluding refugees (by ``in_level_rule``)."""
        return self.estimates.in_per_year

    @property
    def gross_out_rate(self) -> float:
        """Out-migrants per person-year of exposure over the window."""
        mig = self.estimates.migration
        return float(mig.out_migrants.sum() / mig.exposure.sum())

    @property
    def out_level(self) -> float:
        """Level of the standard out-migration shape."""
        return self.estimates.migration.out_level

    @property
    def births_model(self) -> np.ndarray:
        """Births the engine gives at the fitted level."""
        return self.fertility_level * self.estimates.births_national

    @property
    def out_migrants(self) -> np.ndarray:
        """Estimated out-migrants per year."""
        return self.estimates.migration.out_migrants.sum(axis=(1, 2))

    @property
    def deaths_fit_mask(self) -> np.ndarray:
        """Years the mortality level is fitted on."""
        return self.estimates.deaths_fit

    @property
    def births_fit_mask(self) -> np.ndarray:
        """Years the fertility level is fitted on (all when no births are published)."""
        return self.estimates.births_fit

    def patch(self) -> dict[str, Any]:
        """The fitted levels as a partial scenario dict (keys of the ``Scenario`` schema).

        The national references of the levels (HMD and HFD years) are written out too, so the
        levels keep their meaning in a scenario with another base year.
        """
        sc = self.scenario
        return {
            "fertility": {"level": round(self.fertility_level, 6),
                          "schedule_years": list(sc.fertility_schedule_years)},
            "mortality": {"level": round(self.mortality_level, 6),
                          "base_years": list(sc.mortality_base_years)},
            "migration": {
                "estimation_years": list(self.window),
                "gross_out_rate": round(self.gross_out_rate, 6),
                "in_per_year": {self.window[1]: round(self.in_per_year, 3)},
            },
        }


def fitting_scenario(
    knr: str, window: tuple[int, int], population=None, in_level: str = "mean",
    level_years: str = "last", extra: dict[str, Any] | None = None,
) -> Scenario:
    """The scenario whose ``estimate_levels`` is the fit: base year = the window's last year."""
    data: dict[str, Any] = {
        "municipality": knr, "base_year": window[1], "horizon": window[1] + 1,
        "fertility": {"level_years": level_years},
        "mortality": {"level_years": level_years},
        "migration": {"estimation_years": list(window), "in_level": in_level}}
    if population is not None:
        data["inputs"] = {"population": str(population)}
    return make_scenario(deep_merge(data, extra or {}))


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
        in_level: ``mean`` or ``last`` (``migration.in_level``).
        scenario: extra scenario keys (e.g. ``mortality.base_years``) merged into the fit.
        level_years: ``last`` fits the fertility and mortality levels to the last window year
            with published births/deaths (the jump-off year); ``all`` to all published years
            (``mortality.level_years``, ``fertility.level_years``).
    """
    table = table_for(population)
    defaults = defaults_for(knr) if defaults is None else defaults
    sc = fitting_scenario(knr, tuple(window), population, in_level, level_years, scenario)
    est = estimate_levels(sc, table, knr, defaults)
    pops = history(table, knr, range(window[0], window[1] + 1))
    return WindowFit(knr, sc, est, _replay(sc, est, pops), pops[1:].sum(axis=(1, 2)))


def _replay(sc: Scenario, est: Estimates, pops: np.ndarray) -> np.ndarray:
    """One-step projections of each window year with the fitted constant levels (totals).

    Each year starts from its observed 1 January population, with Norway's TFR of that year,
    the fitted mortality of that year, the window's migration and the year's settled refugees.
    """
    one = resolve(sc.model_copy(update={"refugees": sc.refugees.model_copy(
        update={"settled_per_year": {sc.base_year: 0.0}})}))
    years = est.migration.years
    q = mort.death_probabilities(est.mortality_level * mort.mx_path(years, sc.mortality_base_years))
    schedule = fert.national_schedule(*sc.fertility_schedule_years)
    out = []
    for i, y in enumerate(years):
        phi = fert.cohort_age_rates(est.fertility_level * fert.national_tfr(int(y)) * schedule)
        inputs = replace(
            one, years=np.array([y]), base_population=pops[i][None],
            fertility=phi[None, None], death_probability=q[i][None, None],
            refugees=(est.refugees_settled[i] * refu.default_profile())[None, None])
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
    years, est, sc = fit.years, fit.estimates, fit.scenario
    deaths_ok, births_use = fit.deaths_fit_mask, fit.births_fit_mask
    acc = accounts(knr)

    def mape(rows):
        errs = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None]
        return round(float(np.mean(errs)), 3) if errs else None

    births_rows = _per_year(years, est.births, fit.births_model)
    for r, o in zip(births_rows, est.births_observed, strict=True):
        r["data_kind"] = "published" if o else "estimated from the age-0 population"
    deaths_rows = _per_year(years, est.deaths_observed, est.deaths_model)
    in_rows = [{"year": int(y), "estimated": round(float(v), 1),
                "refugees_taken_out": float(r), "level_used": round(fit.in_per_year, 1),
                "deviation_pct": round(pct(fit.in_per_year, v), 3)}
               for y, v, r in zip(years, est.in_migrants, est.refugees_settled, strict=True)]
    gross_in_obs = _account_sum(acc, ("immigration", "domestic_in"))
    gross_out_obs = _account_sum(acc, ("emigration", "domestic_out"))
    for r, y, ref, out in zip(in_rows, years, est.refugees_settled, fit.out_migrants,
                              strict=True):
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
        "rules": {"mortality.level_years": sc.mortality.level_years,
                  "fertility.level_years": sc.fertility.level_years,
                  "migration.in_level": sc.migration.in_level},
        "data": {
            "population": "1 January populations by sex and single age, SSB table 07459 "
                          "(sim/data/ssb_07459_population_2005_2024.csv or the imported table)",
            "births_deaths_refugees": "sim/data/municipalities.toml (sources cited there)",
            "national_rates": "HMD Norway mx (mortality.base_years "
                              f"{list(sc.mortality_base_years)}), HFD schedule "
                              f"(fertility.schedule_years {list(sc.fertility_schedule_years)}), "
                              "HFD/SSB national TFR by year",
            "accounts": {k: v.get("source") for k, v in acc.items() if isinstance(v, dict)},
        },
        "parameters": {
            "mortality.level": {
                "value": fit.mortality_level,
                "method": "sim.inputs.estimate_levels: engine deaths q(level) x exposure summed "
                          "over the fit years = published deaths",
                "level_years": sc.mortality.level_years,
                "fit_years": [int(y) for y in years[deaths_ok]],
                "per_year": deaths_rows,
                "mape_pct": mape(deaths_rows),
                **({} if deaths_ok.any() else
                   {"note": "no published deaths: national level (1.0) assumed"}),
            },
            "fertility.level": {
                "value": fit.fertility_level,
                "method": "sim.inputs.estimate_levels: births / engine births at the national "
                          "TFR of each year, over the fit years",
                "level_years": sc.fertility.level_years,
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
                "cv_pct": round(float(est.in_migrants.std() / est.in_migrants.mean() * 100), 3),
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
    sc = fit.scenario
    header = (
        f"# Fitted default levels for {knr}, generated by calibration.fit.fit_defaults("
        f"{knr!r}).\n"
        f"# Do not edit: regenerate with `python -m calibration.cli fit {knr}`.\n"
        f"# Estimation window: 1 January {fit.window[0]}..{fit.window[1]}; fit errors and data in "
        f"{knr}_fit.json.\n"
        f"# Fitted by sim.inputs.estimate_levels with mortality.level_years = "
        f"{sc.mortality.level_years!r},\n"
        f"# fertility.level_years = {sc.fertility.level_years!r}, migration.in_level = "
        f"{sc.migration.in_level!r}; the numbers are written out\n"
        "# (with the HMD/HFD years they are relative to) so they hold whatever the base year.\n"
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
        "deaths_model": [round(float(v), 1) for v in alt.estimates.deaths_model]}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    toml_path, json_path = out / f"{knr}.toml", out / f"{knr}_fit.json"
    toml_path.write_text(_toml_text(knr, fit), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)
                         + "\n", encoding="utf-8")
    return FitResult(fit, report, toml_path, json_path)
