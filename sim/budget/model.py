"""The long-term economic plan: revenue, operating costs, investments, debt, fund and rules.

``project_budget(result, config)`` is a pure function of a finished run and a budget config;
arrays over the budget years throughout (the debt and fund recursions are short loops), tables
are built only when asked for (``BudgetResult`` properties). All amounts are current (nominal)
kroner of the budget year. Definitions, as in the municipal accounts (bevilgningsoversikt drift;
depreciation left out since it nets out):

* driftsinntekter = frie inntekter (skatt + rammetilskudd) + integreringstilskudd
  + eiendomsskatt + sektorinntekter; rammetilskudd = innbyggertilskudd + utgiftsutjevning
  + inntektsutjevning + veksttilskudd + annet
* driftsutgifter = tjenester + andre driftsutgifter + sektorutgifter − premiefond − innsparing
  − inndekning (sektorutgifter = sektorinntekter: the catalogue costs are net)
* netto finansutgifter = renteutgifter − renteinntekter + avdrag
* netto driftsresultat = driftsinntekter − driftsutgifter − netto finansutgifter
* lånegjeld(t+1) = lånegjeld(t) + låneopptak − avdrag; avdrag = lånegjeld(t) / repayment_years;
  renteutgifter = rate × (lånegjeld(t) + lånegjeld(t+1)) / 2 (interest on the mean debt)
* the result first covers earlier merforbruk, then goes to (or is taken from) the
  disposisjonsfond, which never goes below zero; a deficit the fund cannot take is merforbruk,
  covered by the budgets of the next ``fund.cover_years`` years (kommuneloven § 14-11): the
  model adds the measures needed (``inndekning``) and flags the years a kommune would be put in
  ROBEK (a plan with merforbruk, § 28-1 first paragraph a-b; accumulated merforbruk above
  ``fund.robek_accumulated_pct`` of driftsinntekter, § 28-1 d).

Population is counted as the inntektssystem does: tax and inntektsutjevning on 1 January of
the budget year; innbyggertilskudd, utgiftsutjevning and the criteria on 1 July of the previous
year, taken as the mean of 1 January of the previous and of the budget year; per-inhabitant
costs on the mean population of the year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.budget import inntektssystem as inn
from sim.budget.config import BudgetConfig, Rule
from sim.budget.national import national_on
from sim.errors import InputError
from sim.schema import MAX_YEAR, MIN_YEAR, interpolate_path

LINES: dict[str, str] = {
    "skatt": "Skatt på inntekt og formue",
    "inntektsutjevning": "Inntektsutjevning",
    "innbyggertilskudd": "Innbyggertilskudd",
    "utgiftsutjevning": "Utgiftsutjevning",
    "veksttilskudd": "Veksttilskudd",
    "rammetilskudd_annet": "Skjønnstilskudd og annet rammetilskudd",
    "rammetilskudd": "Rammetilskudd",
    "frie_inntekter": "Frie inntekter",
    "integreringstilskudd": "Integreringstilskudd",
    "eiendomsskatt": "Eiendomsskatt",
    "sektorinntekter": "Gebyrer, refusjoner og øremerkede tilskudd",
    "driftsinntekter": "Brutto driftsinntekter",
    "tjenester": "Tjenester (tjenestekatalogen)",
    "andre_driftsutgifter": "Andre driftsutgifter",
    "sektorutgifter": "Utgifter finansiert av gebyrer og tilskudd",
    "premiefond_bruk": "Bruk av premiefond",
    "innsparing": "Innsparing (omstilling)",
    "inndekning": "Inndekning av merforbruk (tiltak)",
    "driftsutgifter": "Brutto driftsutgifter",
    "brutto_driftsresultat": "Brutto driftsresultat",
    "renteutgifter": "Renteutgifter",
    "renteinntekter": "Renteinntekter og utbytte",
    "avdrag": "Avdrag",
    "netto_finansutgifter": "Netto finansutgifter",
    "netto_driftsresultat": "Netto driftsresultat",
    "dekning_merforbruk": "Dekning av tidligere merforbruk",
    "avsetning_disposisjonsfond": "Avsetning til disposisjonsfond",
    "bruk_disposisjonsfond": "Bruk av disposisjonsfond",
    "merforbruk": "Årets merforbruk (udekket)",
    "akkumulert_merforbruk": "Akkumulert merforbruk 31.12.",
    "disposisjonsfond_inngaende": "Disposisjonsfond 1.1.",
    "disposisjonsfond_utgaende": "Disposisjonsfond 31.12.",
    "investering_program": "Investeringsprogram",
    "investering_kapasitet": "Kapasitetsinvesteringer",
    "investeringer": "Brutto investeringer",
    "momskompensasjon": "Momskompensasjon",
    "annen_finansiering": "Tilskudd, salg og fond",
    "laneopptak": "Låneopptak",
    "lanegjeld_inngaende": "Lånegjeld 1.1.",
    "lanegjeld_utgaende": "Lånegjeld 31.12.",
}
"""Budget lines (code name -> Norwegian label); the order of the tidy table."""


def _err(config: BudgetConfig, fld: str, msg: str) -> InputError:
    return InputError(config.source or "budget config", fld, msg)


# --- price indices and paths -------------------------------------------------------------------

_ALL_YEARS = np.arange(MIN_YEAR, MAX_YEAR + 2)


def _index(growth_pct: dict[int, float], price_year: int) -> np.ndarray:
    """Index over ``_ALL_YEARS`` from a growth path (% from t−1 to t), 1 in ``price_year``."""
    g = 1 + interpolate_path(growth_pct, _ALL_YEARS) / 100
    g[0] = 1.0
    level = np.cumprod(g)
    return level / level[price_year - MIN_YEAR]


def _at(index: np.ndarray, years: np.ndarray) -> np.ndarray:
    return index[np.asarray(years, dtype=int) - MIN_YEAR]


def carried(path: dict[int, float], years: np.ndarray, index: np.ndarray) -> np.ndarray:
    """A nominal year path at ``years``: linear between its years, carried by ``index`` outside."""
    keys = np.array(list(path), dtype=int)
    vals = np.array(list(path.values()), dtype=float)
    y = np.asarray(years, dtype=int)
    out = np.interp(y, keys, vals)
    lo, hi = y < keys[0], y > keys[-1]
    out[lo] = vals[0] * _at(index, y[lo]) / _at(index, keys[:1])
    out[hi] = vals[-1] * _at(index, y[hi]) / _at(index, keys[-1:])
    return out


def _flat(path: dict[int, float] | None, years: np.ndarray) -> np.ndarray:
    return np.zeros(len(years)) if path is None else interpolate_path(path, years)


# --- population --------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _history(path: str | None, stamp: int, knr: str) -> dict[int, np.ndarray]:
    """Persons by age [106] (both sexes) on 1 January of every year in the population table.

    An imported table that starts later than the embedded SSB history (four yearly exports,
    say) is completed with the embedded years it lacks, so the inntektssystem's earlier
    years (1 July of the year before, three-year growth) are there.
    """
    from sim.data.population import available_years, population_array, population_table

    tables = [population_table(None)] + ([population_table(path)] if path is not None else [])
    return {int(y): population_array(table, knr, int(y)).sum(axis=0)
            for table in tables for y in available_years(table, knr)}


def population_history(result: Any) -> dict[int, np.ndarray]:
    """The scenario's population table for the run's kommune: year -> persons by age."""
    path = result.scenario.inputs.population
    stamp = Path(path).stat().st_mtime_ns if path is not None else 0
    return _history(None if path is None else str(path), stamp, result.inputs.municipality)


# --- services and investments --------------------------------------------------------------------

def _service_grid(result: Any, years: np.ndarray) -> tuple[np.ndarray, tuple[str, ...], int]:
    """The service table as a grid: (cost [Y, D, K], the services' sectors [K], price year).

    ``services_tables`` writes one row per year, district and service in that order; a table
    in another layout is summed through an index (slower, same result).
    """
    s = result.services
    year = s["year"].to_numpy()
    rows = _grid_rows(result, year, years)
    if rows:
        keys = result.catalogue.keys
        sectors = tuple(s["sector"].iloc[: len(keys)].tolist())
        cost = s["cost_nok"].to_numpy(dtype=float)[:rows].reshape(len(years), -1, len(keys))
        return cost, sectors, int(s["price_year"].iloc[0])
    n_y = len(years)
    yi = year - years[0]
    ok = (yi >= 0) & (yi < n_y)
    missing = sorted(set(years.tolist()) - set(year[ok].tolist()))
    if missing:
        raise InputError("services", "years", f"the service table lacks years {missing} of "
                         "the budget")
    codes, uniq = pd.factorize(s["sector"])
    cost = np.zeros((n_y, 1, len(uniq)))
    np.add.at(cost, (yi[ok], 0, codes[ok]), s["cost_nok"].to_numpy(dtype=float)[ok])
    return cost, tuple(str(x) for x in uniq), int(s["price_year"].iloc[0])


def _grid_rows(result: Any, year: np.ndarray, years: np.ndarray) -> int:
    """Rows of the service table that form the [year, district, service] grid of ``years``."""
    if result.catalogue is None:
        return 0
    per_year = len(result.inputs.districts) * len(result.catalogue.keys)
    rows = len(years) * per_year
    ok = (len(year) >= rows and len(year) % per_year == 0 and year[0] == years[0]
          and year[rows - 1] == years[-1] and (len(year) == rows or year[rows] != years[-1]))
    return rows if ok else 0


def _by_sector(cost: np.ndarray, sectors: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """[Y, D, K] costs -> [Y, S] by sector (sectors in first-seen order)."""
    names = tuple(dict.fromkeys(sectors))
    onehot = np.array([[sec == name for name in names] for sec in sectors], dtype=float)
    return cost.sum(axis=1) @ onehot, names


def _gap_places(result: Any, years: np.ndarray) -> dict[str, np.ndarray]:
    """Places built when a capacity gap first exceeds the places already built (arrays)."""
    s = result.services
    empty = {"year": np.zeros(0, int), "district": np.zeros(0, object),
             "service": np.zeros(0, object), "places": np.zeros(0)}
    if s is None or "capacity" not in s or result.catalogue is None:
        return empty
    rows = _grid_rows(result, s["year"].to_numpy(), years)
    cap = s["capacity"].to_numpy(dtype=float)[:rows]
    if not rows or np.isnan(cap).all():
        return empty
    keys = result.catalogue.keys
    gap = np.clip(s["gap"].to_numpy(dtype=float)[:rows], 0, None)
    gap = np.where(np.isnan(cap), 0.0, gap).reshape(len(years), -1)
    new = np.diff(np.maximum.accumulate(gap, axis=0), axis=0, prepend=0.0)
    t, j = np.nonzero(new > 0)
    districts = np.array(result.inputs.districts, dtype=object)
    return {"year": years[t], "district": districts[j // len(keys)],
            "service": np.array(keys, dtype=object)[j % len(keys)], "places": new[t, j]}


def capacity_investments(result: Any, years: np.ndarray, config: BudgetConfig,
                         deflator: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """Capacity investments per year (nominal NOK), the rows behind them, and their source.

    The source names the kinds that have rows ("the run's whole buildings", "capacity gaps",
    or both joined by "and"), else "none".

    Two kinds, never for the same service: the run's whole buildings (``result.investments``:
    ``year, district, service, facility, places, cost_nok`` in the catalogue's price year, one
    row per building, for services with a standard building), and, for services with capacity
    but no standard building, the places their gaps need when they first open
    (``investments.place_cost_nok`` price_year kroner each).
    """
    table = getattr(result, "investments", None)
    n = len(years)
    parts = []
    built: set[str] = set()
    if result.catalogue is not None:
        built = {k for k, sv in result.catalogue.services.items()
                 if getattr(sv, "building", None) is not None}
    if table is not None:
        missing = {"year", "district", "service", "places", "cost_nok"} - set(table.columns)
        if missing:
            raise _err(config, "investments", f"the run's investment table lacks columns "
                       f"{sorted(missing)}; needs year, district, service, facility, places, "
                       "cost_nok")
        price_year = (int(result.services["price_year"].iloc[0])
                      if result.services is not None else config.price_year)
        rows = {c: table[c].to_numpy() for c in ("year", "district", "service", "places")}
        rows["facility"] = (table["facility"].to_numpy() if "facility" in table
                            else np.full(len(table), "", dtype=object))
        rows["cost_nok"] = table["cost_nok"].to_numpy(dtype=float)
        rows["price_year"] = np.full(len(table), price_year)
        parts.append(rows)
    else:
        built = set()  # no buildings table: every service's gaps are costed per place
    gaps = _gap_places(result, years)
    keep = np.array([k not in built for k in gaps["service"]], dtype=bool)
    gaps = {k: v[keep] for k, v in gaps.items()}
    unit = np.array([config.investments.place_cost_nok.get(k, np.nan) for k in gaps["service"]])
    gaps["facility"] = np.full(len(gaps["places"]), "", dtype=object)
    gaps["cost_nok"] = gaps["places"] * unit
    gaps["price_year"] = np.full(len(gaps["places"]), config.price_year)
    parts.append(gaps)
    rows = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    kinds = {"the run's whole buildings": 0 if table is None else len(table),
             "capacity gaps": len(gaps["places"])}
    source = " and ".join(k for k, n_rows in kinds.items() if n_rows) or "none"
    cost = rows["cost_nok"]
    factor = _at(deflator, rows["year"]) / _at(deflator, rows["price_year"])
    rows["investment_nok"] = cost * factor
    out = np.zeros(n)
    yi = np.asarray(rows["year"], dtype=int) - years[0]
    ok = (yi >= 0) & (yi < n)
    np.add.at(out, yi[ok], np.nan_to_num(rows["investment_nok"][ok]))
    return out, rows, source


# --- the result ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleCheck:
    """One handlingsregel evaluated every year: value, met (None before the data allow), need.

    ``need_nok`` is what is missing to meet the rule in that year: for a result rule the
    savings needed that year; for a fund rule the amount the fund lacks; for a debt rule the
    debt above the limit (NaN where the rule cannot be evaluated).
    """

    rule: Rule
    value_pct: np.ndarray
    met: np.ndarray          # float: 1 met, 0 not met, NaN not evaluated
    margin_pp: np.ndarray
    need_nok: np.ndarray


@dataclass(frozen=True)
class BudgetResult:
    """A projected economic plan: arrays over ``years`` and tables built on demand."""

    municipality: str
    name: str
    years: np.ndarray
    values: dict[str, np.ndarray]
    ratios: dict[str, np.ndarray]
    rules: tuple[RuleCheck, ...]
    sector_costs: dict[str, np.ndarray]
    config: BudgetConfig
    capacity: dict[str, np.ndarray]
    population: dict[str, np.ndarray]
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    services_table: pd.DataFrame | None = None
    run: Any = field(default=None, repr=False, compare=False)  # the run, for pace variants

    def line(self, name: str) -> np.ndarray:
        """One budget line (nominal NOK) over ``years``."""
        return self.values[name]

    @cached_property
    def lines(self) -> pd.DataFrame:
        """Tidy table: year, line, value_nok (in ``LINES`` order)."""
        n = len(self.years)
        return pd.DataFrame({
            "year": np.tile(self.years, len(LINES)).astype(np.int32),
            "line": np.repeat(list(LINES), n),
            "value_nok": np.concatenate([self.values[k] for k in LINES]),
        })

    @cached_property
    def capacity_table(self) -> pd.DataFrame:
        """Capacity investments: one row per year, district and service (or building)."""
        return pd.DataFrame(self.capacity)

    @cached_property
    def wide(self) -> pd.DataFrame:
        """One row per year, one column per line and ratio."""
        return pd.DataFrame({"year": self.years, **self.values, **self.ratios})


def _forward_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of x[t..t+k-1] for each t; NaN where fewer than k years are left."""
    out = np.full(len(x), np.nan)
    if len(x) >= k:
        c = np.concatenate([[0.0], np.cumsum(x)])
        out[: len(x) - k + 1] = (c[k:] - c[:-k]) / k
    return out


def _rule_values(rule: Rule, ratios: dict[str, np.ndarray], base_pct: float | None) -> np.ndarray:
    v = ratios[rule.metric]
    if rule.average_years > 1:
        return _forward_mean(v, rule.average_years)
    if rule.op == "falling":
        prev = np.concatenate([[np.nan if base_pct is None else base_pct], v[:-1]])
        return v - prev
    return v


def check_rules(config: BudgetConfig, ratios: dict[str, np.ndarray], revenue: np.ndarray,
                base: dict[str, float] | None = None) -> tuple[RuleCheck, ...]:
    """Evaluate every rule in every year (``base`` ratios: the accounts year before)."""
    out = []
    for rule in config.rules:
        base_pct = None if base is None else base.get(rule.metric)
        v = _rule_values(rule, ratios, base_pct)
        if rule.op == "falling":
            margin = -v
            need = np.maximum(v, 0.0) / 100 * revenue
        else:
            thr = rule.threshold_pct
            margin = v - thr if rule.op == ">=" else thr - v
            if rule.average_years > 1:
                need = np.maximum(-margin, 0.0) / 100 * _forward_mean(revenue,
                                                                       rule.average_years)
            else:
                need = np.maximum(-margin, 0.0) / 100 * revenue
        met = np.where(np.isnan(margin), np.nan, (margin >= 0).astype(float))
        out.append(RuleCheck(rule, v, met, margin, need))
    return tuple(out)


# --- the projection ---------------------------------------------------------------------------

def project_budget(result: Any, config: BudgetConfig) -> BudgetResult:
    """Project the economic plan for the run's years (``InputError`` on inconsistent input)."""
    inp = result.inputs
    knr = inp.municipality
    if config.municipality != knr:
        raise _err(config, "municipality", f"'{config.municipality}' does not match the run's "
                   f"municipality '{knr}'")
    years = np.asarray(inp.years, dtype=int)
    n = len(years)
    base = int(years[0])
    notes: list[str] = []

    deflator = _index(config.prices.deflator_pct, config.price_year)
    rev_ix = deflator * _index(config.growth.revenue_pct, config.price_year)
    if config.growth.national_demography:
        factor = inn.national_need_factor(MIN_YEAR, MAX_YEAR + 1, config.price_year)
        rev_ix = rev_ix * factor
    cost_ix = deflator * _index(config.growth.cost_pct, config.price_year)
    d_y, rev_y, cost_y = _at(deflator, years), _at(rev_ix, years), _at(cost_ix, years)

    # population [Y+1, A]: 1 January of years[0] .. years[-1] + 1
    pop = np.asarray(result.projection.population, dtype=float).sum(axis=(1, 2))
    jan, dec = pop[:-1], pop[1:]
    hist = population_history(result)
    given = config.rammetilskudd.population_history
    totals = {y: float(p.sum()) for y, p in hist.items() if y < base}
    totals.update({int(y): float(v) for y, v in given.items()})
    if base - 1 not in totals:
        raise _err(config, "rammetilskudd.population_history",
                   f"needs the total on 1 January {base - 1} (the year before the base year)")
    prev0 = (hist[base - 1] * totals[base - 1] / hist[base - 1].sum() if base - 1 in hist
             else jan[0] * totals[base - 1] / jan[0].sum())
    july = 0.5 * (np.vstack([prev0[None, :], jan[:-1]]) + jan)
    mean = 0.5 * (jan + dec)
    jan_t, july_t, mean_t, dec_t = jan.sum(1), july.sum(1), mean.sum(1), dec.sum(1)

    # tax and inntektsutjevning
    tx = config.tax
    level = _flat(tx.level_pct, years) / 100
    tax_pc = carried(tx.national_per_inhabitant_nok, years, rev_ix)
    skatt = level * tax_pc * jan_t
    iu = inn.inntektsutjevning_share(level, _flat(tx.equalisation_share_pct, years),
                                     tx.extra_compensation_pct, tx.extra_threshold_pct,
                                     tx.extra_financing_pct) * tax_pc * jan_t

    # expenditure-need index from the population on 1 July t-1
    rt = config.rammetilskudd
    nat_july = 0.5 * (national_on(years - 1) + national_on(years))
    criteria = inn.criteria_indices(july, nat_july)
    if rt.kostnadsindeks.fixed is not None:
        sectors = None
        index = np.full(n, rt.kostnadsindeks.fixed)
        index_source = "fast verdi i budsjettfilen"
    else:
        cal = rt.kostnadsindeks.calibration_year
        crit_cal = _criteria_in(cal, years, criteria, hist)
        if crit_cal is None:
            cal = int(np.clip(cal, years[0], years[-1]))
            crit_cal = criteria[years == cal][0]
            notes.append(f"kostnadsindeksen er kalibrert på {cal}: ingen befolkning for "
                         f"kriteriene i {rt.kostnadsindeks.calibration_year}")
        other, index_source = inn.other_criteria(knr, cal, crit_cal)
        sectors = inn.sector_indices(criteria, other)
        index = inn.total_index(sectors)
    innb = carried(rt.innbyggertilskudd_per_inhabitant_nok, years, rev_ix) * july_t
    need_pc = carried(rt.expenditure_need_per_inhabitant_nok, years, rev_ix)
    uu = (index - 1) * need_pc * july_t
    annet = carried(rt.other_nok, years, rev_ix)

    # veksttilskudd: 3-year growth to 1 January t-1
    all_totals = {**totals, **{int(y): float(v) for y, v in zip(years, jan_t, strict=True)}}
    need_years = range(base - 4, int(years[-1]))
    lacking = [y for y in need_years if y not in all_totals]
    if lacking:
        raise _err(config, "rammetilskudd.population_history",
                   f"veksttilskudd {base} needs totals on 1 January {lacking[0]} .. {base - 1}")
    series = np.array([all_totals[y] for y in need_years])
    growth3 = inn.growth_3yr(series)
    vt = config.veksttilskudd
    vekst = inn.veksttilskudd(growth3, series[3:], level, vt.threshold_pct, vt.tax_ceiling_pct,
                              _flat(vt.rate_nok, years))
    frie_before = skatt + iu + innb + uu + vekst + annet
    if rt.calibrate_frie_inntekter is not None:
        (cy, target_pc), = rt.calibrate_frie_inntekter.items()
        if cy not in years:
            raise _err(config, "rammetilskudd.calibrate_frie_inntekter",
                       f"{cy} is not a budget year ({years[0]}..{years[-1]})")
        i = int(np.flatnonzero(years == cy)[0])
        extra_pc = (target_pc * dec_t[i] - frie_before[i]) / (rev_y[i] * july_t[i])
        annet = annet + extra_pc * rev_y * july_t
    ramme = innb + uu + iu + vekst + annet
    frie = skatt + ramme

    # integreringstilskudd: settled refugees × rate by year since settlement
    it = config.integreringstilskudd
    # the refugees the run settled (the ABM: the mean over its runs, which draw whole families)
    settled_now = result.projection.component("refugees").sum(axis=(1, 2, 3))
    k = len(it.rate_nok)
    # before the base year: the config's record, else the history the run counted
    before = it.settled_history or inp.parameters.get("refugees_settled_history", {})
    settled = np.concatenate([[float(before.get(y, 0.0))
                               for y in range(base - k + 1, base)], settled_now])
    integ = np.convolve(settled, np.asarray(it.rate_nok))[k - 1: k - 1 + n] * d_y

    orv = config.other_revenue
    eiendom = carried(orv.eiendomsskatt_nok, years, deflator)
    sektor = orv.sector_revenue_per_inhabitant_nok * d_y * mean_t
    inntekter = frie + integ + eiendom + sektor

    # operating costs: the catalogue (or, without one, the cost key's expenditure need)
    if result.services is not None:
        grid, grid_sectors, cat_year = _service_grid(result, years)
        by_sector, sector_names = _by_sector(grid, grid_sectors)
        by_sector = by_sector * (cost_y / _at(cost_ix, [cat_year]))[:, None]
    else:
        key = inn.cost_key()
        sec = sectors if sectors is not None else np.full((n, len(key.sectors)), index[:, None])
        by_sector = (need_pc * cost_y / rev_y)[:, None] * key.sector_weights * sec \
            * mean_t[:, None]
        sector_names = key.sectors
        notes.append("ingen tjenestekatalog: tjenestene koster kostnadsnøkkelens utgiftsbehov "
                     "(ANTAKELSE: kommunen bruker det inntektssystemet sier den trenger)")
    tjenester = by_sector.sum(axis=1)
    op = config.operating
    premiefond = _flat(op.premiefond_use_nok, years)
    sv = config.savings
    savings_path = sv.amount_nok if sv.amount_nok is not None else (
        sv.paces[sv.pace] if sv.pace is not None else None)
    innsparing = _flat(savings_path, years)

    # investments, debt and interest (independent of the operating result)
    inv = config.investments
    if inv.programme_nok is not None:
        program = carried(inv.programme_nok, years, deflator)
    else:
        program = inv.programme_pct / 100 * inntekter
    kapasitet, cap_rows, cap_source = capacity_investments(result, years, config, deflator)
    investeringer = program + kapasitet
    mva = inv.mva_share * investeringer
    laan = inv.loan_share * (investeringer - mva)
    annen_fin = investeringer - mva - laan
    rate = _flat(config.debt.interest_rate_pct, years) / 100
    debt = (config.debt.opening_nok if config.debt.opening_nok is not None
            else config.debt.opening_pct / 100 * inntekter[0])
    d_in, avdrag = [], []
    for borrowed in laan.tolist():
        d_in.append(debt)
        avdrag.append(min(debt / config.debt.repayment_years, debt))
        debt += borrowed - avdrag[-1]
    d_in, avdrag = np.array(d_in), np.array(avdrag)
    d_out = d_in + laan - avdrag
    renter = rate * 0.5 * (d_in + d_out)
    renteinntekter = carried(orv.interest_income_nok, years, deflator)
    netto_fin = renter - renteinntekter + avdrag

    # other net costs: given per inhabitant, or calibrated to a netto driftsresultat
    before = inntekter - tjenester - sektor - netto_fin
    if op.other_net_costs_per_inhabitant_nok is not None:
        other_pc = op.other_net_costs_per_inhabitant_nok
    else:
        if op.calibrate_year not in years:
            raise _err(config, "operating.calibrate_year", f"{op.calibrate_year} is not a budget "
                       f"year ({years[0]}..{years[-1]})")
        i = int(np.flatnonzero(years == op.calibrate_year)[0])
        target = (op.calibrate_ndr_nok if op.calibrate_ndr_nok is not None
                  else op.calibrate_ndr_pct / 100 * inntekter[i])
        other_pc = (before[i] - target) / (cost_y[i] * mean_t[i])
    andre = other_pc * cost_y * mean_t
    base_ndr = before - andre + premiefond + innsparing

    # result disposal: merforbruk cover, disposisjonsfond, ROBEK
    fund = (config.fund.opening_nok if config.fund.opening_nok is not None
            else config.fund.opening_pct / 100 * inntekter[0])
    disp = _dispose(base_ndr, fund, config.fund.cover_years)
    ndr = base_ndr + disp["inndekning"]
    utgifter = tjenester + andre + sektor - premiefond - innsparing - disp["inndekning"]

    values = {
        "skatt": skatt, "inntektsutjevning": iu, "innbyggertilskudd": innb,
        "utgiftsutjevning": uu, "veksttilskudd": vekst, "rammetilskudd_annet": annet,
        "rammetilskudd": ramme, "frie_inntekter": frie, "integreringstilskudd": integ,
        "eiendomsskatt": eiendom, "sektorinntekter": sektor, "driftsinntekter": inntekter,
        "tjenester": tjenester, "andre_driftsutgifter": andre, "sektorutgifter": sektor.copy(),
        "premiefond_bruk": premiefond, "innsparing": innsparing, "driftsutgifter": utgifter,
        "brutto_driftsresultat": inntekter - utgifter, "renteutgifter": renter,
        "renteinntekter": renteinntekter, "avdrag": avdrag, "netto_finansutgifter": netto_fin,
        "netto_driftsresultat": ndr, **disp,
        "investering_program": program, "investering_kapasitet": kapasitet,
        "investeringer": investeringer, "momskompensasjon": mva,
        "annen_finansiering": annen_fin, "laneopptak": laan, "lanegjeld_inngaende": d_in,
        "lanegjeld_utgaende": d_out,
    }
    robek = (disp["merforbruk"] > 0) | (
        disp["akkumulert_merforbruk"] > config.fund.robek_accumulated_pct / 100 * inntekter)
    ratios = {
        "netto_driftsresultat_pct": 100 * ndr / inntekter,
        "disposisjonsfond_pct": 100 * disp["disposisjonsfond_utgaende"] / inntekter,
        "netto_lanegjeld_pct": 100 * d_out / inntekter,
        "netto_finansutgifter_pct": 100 * netto_fin / inntekter,
        "akkumulert_merforbruk_pct": 100 * disp["akkumulert_merforbruk"] / inntekter,
        "robek": robek.astype(float),
        "kostnadsindeks": index,
        "deflator_index": d_y,
        "revenue_index": rev_y,
        "cost_index": cost_y,
        "tax_per_inhabitant_nok": tax_pc,
        "expenditure_need_per_inhabitant_nok": need_pc,
        "growth_3yr_pct": 100 * growth3,
        "population_1jan": jan_t,
        "population_1jul_prev": july_t,
        "population_mean": mean_t,
        "population_31dec": dec_t,
        "interest_rate_pct": 100 * rate,
    }
    base_ratios = _base_ratios(config)
    rules = check_rules(config, ratios, inntekter, base_ratios)
    sector_costs = dict(zip(sector_names, by_sector.T, strict=True))
    if sectors is not None:
        for j, s in enumerate(inn.cost_key().sectors):
            ratios[f"sektorindeks_{s}"] = sectors[:, j]
    parameters = {
        "other_net_costs_per_inhabitant_nok": float(other_pc),
        "kostnadsindeks_non_age_part": index_source,
        "capacity_investments": cap_source,
        "price_year": config.price_year,
        "savings": sv.pace or ("amount_nok" if sv.amount_nok is not None else "none"),
        "config_source": config.source,
    }
    return BudgetResult(
        municipality=knr, name=config.name or inp.municipality_name, years=years,
        values=values, ratios=ratios, rules=rules, sector_costs=sector_costs, config=config,
        capacity=cap_rows, population={"jan": jan, "july": july, "criteria": criteria},
        parameters=parameters, notes=tuple(notes), services_table=result.services, run=result)


def _criteria_in(year: int, years: np.ndarray, criteria: np.ndarray,
                 hist: dict[int, np.ndarray]) -> np.ndarray | None:
    """The computed criteria of ``year`` (projection or history), None when not available."""
    if year in years:
        return criteria[years == year][0]
    if year - 1 in hist and year in hist:
        nat = 0.5 * (national_on(np.array([year - 1])) + national_on(np.array([year])))[0]
        return inn.criteria_indices(0.5 * (hist[year - 1] + hist[year]), nat)
    return None


def _base_ratios(config: BudgetConfig) -> dict[str, float] | None:
    acc = config.base_accounts
    if acc is None or "driftsinntekter" not in acc.lines_nok:
        return None
    rev = acc.lines_nok["driftsinntekter"]
    pairs = {"netto_driftsresultat_pct": "netto_driftsresultat",
             "disposisjonsfond_pct": "disposisjonsfond_utgaende",
             "netto_lanegjeld_pct": "lanegjeld_utgaende"}
    return {m: 100 * acc.lines_nok[line] / rev for m, line in pairs.items()
            if line in acc.lines_nok}


def _dispose(base_ndr: np.ndarray, fund: float, cover_years: int) -> dict[str, np.ndarray]:
    """Merforbruk cover and disposisjonsfond over the years (short loop; see module doc).

    A deficit uses the fund down to zero; the rest is merforbruk, due in equal parts over the
    next ``cover_years`` years. In a year with a share due, the kommune budgets measures
    (``inndekning``): permanent ones that close the year's own deficit, kept in later years,
    and one-off ones for the share due. A surplus covers earlier merforbruk before anything
    goes to the fund.
    """
    n = len(base_ndr)
    rows = []
    due = [0.0] * (n + cover_years)
    acc = permanent = 0.0
    for i, base in enumerate(base_ndr.tolist()):
        opening = fund
        ndr = base + permanent
        cover = min(due[i], acc)
        once = 0.0
        if cover > 0:
            closing = max(-ndr, 0.0)
            permanent += closing
            once = max(cover - (ndr + closing), 0.0)
            ndr += closing + once
        dekning = min(acc, max(ndr, 0.0))
        rest = ndr - dekning
        bruk = min(fund, max(-rest, 0.0))
        mer = max(-rest, 0.0) - bruk
        fund += max(rest, 0.0) - bruk
        acc += mer - dekning
        for j in range(i + 1, i + 1 + cover_years):
            due[j] += mer / cover_years
        rows.append((permanent + once, dekning, max(rest, 0.0), bruk, mer, acc, opening, fund))
    names = ("inndekning", "dekning_merforbruk", "avsetning_disposisjonsfond",
             "bruk_disposisjonsfond", "merforbruk", "akkumulert_merforbruk",
             "disposisjonsfond_inngaende", "disposisjonsfond_utgaende")
    table = np.array(rows)
    return {name: table[:, j] for j, name in enumerate(names)}
