"""The long-term economic plan: revenue, operating costs, investments, debt, fund and rules.

``project_budget(result, config)`` is a pure function of a finished run and a budget config.
All amounts are current (nominal) kroner of the budget year. Definitions, as in the
municipal accounts (bevilgningsoversikt drift, depreciation left out since it nets out):

* driftsinntekter = frie inntekter (skatt + rammetilskudd, incl. inntektsutjevning and
  veksttilskudd) + integreringstilskudd + eiendomsskatt + sektorinntekter
* driftsutgifter = service costs (catalogue) + other net costs + sektorutgifter
  − premiefond use − savings   (sektorutgifter = sektorinntekter: the catalogue costs are net)
* brutto driftsresultat = driftsinntekter − driftsutgifter
* netto finansutgifter = renteutgifter − renteinntekter + avdrag
* netto driftsresultat = brutto driftsresultat − netto finansutgifter
* lånegjeld(t+1) = lånegjeld(t) + låneopptak − avdrag;  avdrag = lånegjeld(t) / repayment_years;
  renteutgifter = rate × (lånegjeld(t) + lånegjeld(t+1)) / 2
* disposisjonsfond(t+1) = disposisjonsfond(t) + avsetning − bruk, with avsetning =
  max(netto driftsresultat, 0) and bruk = max(−netto driftsresultat, 0)

Population is counted as the inntektssystem does: tax and inntektsutjevning on 1 January of
the budget year; innbyggertilskudd and utgiftsutjevning on 1 July of the previous year,
approximated as the mean of 1 January of the previous and of the budget year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.budget.config import AGE_GROUPS, BudgetConfig
from sim.errors import InputError
from sim.schema import interpolate_path

# line -> (unit/sign note, description); the order is the order of the tidy table.
LINES: dict[str, str] = {
    "skatt": "skatt på inntekt og formue (population 1 January)",
    "inntektsutjevning": "inntektsutjevning (+ received, − paid), part of rammetilskudd",
    "innbyggertilskudd": "equal amount per inhabitant (population 1 July previous year)",
    "utgiftsutjevning": "(kostnadsindeks − 1) × national need per inhabitant × population",
    "veksttilskudd": "growth grant above the growth threshold",
    "rammetilskudd_annet": "skjønnstilskudd and other parts of rammetilskudd",
    "rammetilskudd": "innbyggertilskudd + utgiftsutjevning + inntektsutjevning + veksttilskudd "
                     "+ annet",
    "frie_inntekter": "skatt + rammetilskudd",
    "integreringstilskudd": "integration grant for refugees settled in the last five years",
    "eiendomsskatt": "property tax",
    "sektorinntekter": "fees, refunds and earmarked grants (gross-up, also in driftsutgifter)",
    "driftsinntekter": "brutto driftsinntekter: denominator of all % rules",
    "tjenester": "net operating cost of the catalogue services (users × unit cost)",
    "andre_driftsutgifter": "net operating costs outside the catalogue",
    "sektorutgifter": "costs financed by sektorinntekter (equal to them)",
    "premiefond_bruk": "pension premiums paid from the premiefond (reduces costs)",
    "innsparing": "savings measures, cumulative (reduces costs)",
    "driftsutgifter": "tjenester + andre + sektorutgifter − premiefond_bruk − innsparing",
    "brutto_driftsresultat": "driftsinntekter − driftsutgifter",
    "renteutgifter": "interest on the mean of opening and closing debt",
    "renteinntekter": "interest income and dividends",
    "avdrag": "repayments: opening debt / repayment_years",
    "netto_finansutgifter": "renteutgifter − renteinntekter + avdrag",
    "netto_driftsresultat": "brutto driftsresultat − netto finansutgifter",
    "investering_program": "planned investment programme (gross, incl. mva)",
    "investering_kapasitet": "new places to close capacity gaps × cost per place",
    "investeringer": "gross investments",
    "momskompensasjon": "mva refunded on investments",
    "annen_finansiering": "grants, sales and investment funds",
    "laneopptak": "borrowing",
    "lanegjeld_inngaende": "loan debt 1 January",
    "lanegjeld_utgaende": "loan debt 31 December",
    "disposisjonsfond_inngaende": "disposisjonsfond 1 January",
    "avsetning_disposisjonsfond": "allocation: positive netto driftsresultat",
    "bruk_disposisjonsfond": "use: deficit covered by the fund",
    "disposisjonsfond_utgaende": "disposisjonsfond 31 December",
}

REVENUE_LINES = ["skatt", "inntektsutjevning", "innbyggertilskudd", "utgiftsutjevning",
                 "veksttilskudd", "rammetilskudd_annet", "rammetilskudd", "frie_inntekter",
                 "integreringstilskudd", "eiendomsskatt", "sektorinntekter", "driftsinntekter"]
OPERATING_LINES = ["tjenester", "andre_driftsutgifter", "sektorutgifter", "premiefond_bruk",
                   "innsparing", "driftsutgifter", "brutto_driftsresultat", "renteutgifter",
                   "renteinntekter", "avdrag", "netto_finansutgifter", "netto_driftsresultat"]
DEBT_LINES = ["investering_program", "investering_kapasitet", "investeringer", "momskompensasjon",
              "annen_finansiering", "laneopptak", "lanegjeld_inngaende", "avdrag",
              "lanegjeld_utgaende", "renteutgifter", "disposisjonsfond_inngaende",
              "avsetning_disposisjonsfond", "bruk_disposisjonsfond", "disposisjonsfond_utgaende"]


@dataclass(frozen=True)
class BudgetResult:
    """A projected economic plan.

    ``lines`` is tidy (year, line, value_nok); the other tables are wide, one row per year (or
    per year and rule, KØB indicator, service or count date).
    """

    municipality: str
    name: str
    years: np.ndarray
    lines: pd.DataFrame
    revenue: pd.DataFrame
    operating: pd.DataFrame
    debt: pd.DataFrame
    ratios: pd.DataFrame
    rules: pd.DataFrame
    rules_summary: pd.DataFrame
    kob: pd.DataFrame
    population: pd.DataFrame
    services: pd.DataFrame
    investments: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)

    def line(self, name: str) -> np.ndarray:
        """One line as an array over ``years``."""
        part = self.lines[self.lines.line == name].set_index("year").value_nok
        return part.reindex(self.years).to_numpy()


class _Deflator:
    """Price factors from the wage/price paths: kroner of year p to kroner of year y."""

    def __init__(self, growth_pct: Any):
        self.growth = growth_pct  # callable year -> % growth from year-1 to year

    def factor(self, p: int, y: int) -> float:
        lo, hi = sorted((int(p), int(y)))
        ks = np.arange(lo + 1, hi + 1)
        f = float(np.prod(1 + self.growth(ks) / 100)) if len(ks) else 1.0
        return f if y >= p else 1 / f

    def factors(self, p: int, years: np.ndarray) -> np.ndarray:
        return np.array([self.factor(p, int(y)) for y in years])


def _path(path: dict[int, float], years: np.ndarray) -> np.ndarray:
    return interpolate_path(path, years)


def _group_counts(pop_by_age: np.ndarray) -> np.ndarray:
    """[..., A] -> [..., 8] persons in the inntektssystem age groups."""
    return np.stack([pop_by_age[..., lo:hi + 1].sum(axis=-1) for lo, hi in AGE_GROUPS.values()],
                    axis=-1)


def _err(config: BudgetConfig, fld: str, msg: str) -> InputError:
    return InputError(config.source or "budget config", fld, msg)


def _services_cost(result: Any, years: np.ndarray, deflator: _Deflator,
                   config: BudgetConfig) -> tuple[np.ndarray, pd.DataFrame]:
    services = result.services
    if services is None or services.empty:
        raise _err(config, "municipality", "the run has no service table (no service catalogue "
                   "for this municipality); the budget needs one")
    s = services[services.year.isin(years)].copy()
    missing = sorted(set(years.tolist()) - set(s.year.unique().tolist()))
    if missing:
        raise _err(config, "years", f"the service table lacks years {missing}")
    s["factor"] = [deflator.factor(int(p), int(y)) for p, y in zip(s.price_year, s.year,
                                                                    strict=True)]
    s["cost_nominal_nok"] = s.cost_nok * s.factor
    by = (s.groupby(["year", "service", "sector"], sort=False)
          .agg(users=("users", "sum"), staff=("staff", "sum"), cost_nok=("cost_nok", "sum"),
               cost_nominal_nok=("cost_nominal_nok", "sum"))
          .reset_index())
    by["price_year"] = int(s.price_year.iloc[0])
    total = by.groupby("year").cost_nominal_nok.sum().reindex(years).to_numpy()
    return total, by


def _capacity_investments(result: Any, years: np.ndarray, deflator: _Deflator,
                          config: BudgetConfig) -> pd.DataFrame:
    """Places built when a capacity gap first exceeds the places already built."""
    costs = config.investments.place_cost_nok
    cols = ["year", "district", "service", "gap", "new_places", "cost_per_place_nok",
            "investment_nok"]
    s = result.services
    s = s[s.year.isin(years) & s.capacity.notna()]
    rows = []
    for (district, service), part in s.groupby(["district", "service"], sort=True):
        part = part.sort_values("year")
        gap = np.clip(part.gap.to_numpy(dtype=float), 0, None)
        need = np.maximum.accumulate(gap)
        new = np.diff(need, prepend=0.0)
        for y, g, n in zip(part.year.to_numpy(), gap, new, strict=True):
            if n <= 0:
                continue
            unit = costs.get(service)
            cost = (n * unit * deflator.factor(config.price_year, int(y))
                    if unit is not None else np.nan)
            rows.append((int(y), district, service, g, n, unit, cost))
    return pd.DataFrame(rows, columns=cols)


def _history_totals(result: Any) -> dict[int, float]:
    """Total population on 1 January of every year in the scenario's population table."""
    from sim.data.population import available_years, population_array, population_table

    table = population_table(result.scenario.inputs.population)
    knr = result.inputs.municipality
    return {y: float(population_array(table, knr, y).sum())
            for y in available_years(table, knr) if y < result.inputs.base_year}


def project_budget(result: Any, config: BudgetConfig) -> BudgetResult:
    """Project the economic plan for the run's years (``InputError`` on inconsistent input)."""
    inp = result.inputs
    if config.municipality != inp.municipality:
        raise _err(config, "municipality", f"'{config.municipality}' does not match the run's "
                   f"municipality '{inp.municipality}'")
    years = np.asarray(inp.years, dtype=int)
    base = int(years[0])
    p = config.price_year
    pp = config.prices
    deflator = _Deflator(lambda ks: pp.wage_share * _path(pp.wage_growth_pct, ks)
                         + (1 - pp.wage_share) * _path(pp.price_growth_pct, ks))
    defl = deflator.factors(p, years)
    real = _Deflator(lambda ks: _path(config.tax.real_growth_pct, ks)).factors(p, years)
    national = defl * real

    # population: [Y+1, A] on 1 January of years[0] .. years[-1] + 1
    pop = np.asarray(result.projection.population, dtype=float).sum(axis=(1, 2))
    jan = pop[:-1]                         # 1 January of the budget year
    mean_year = 0.5 * (pop[:-1] + pop[1:])  # mean population during the year
    hist = {**_history_totals(result), **config.rammetilskudd.population_history}
    if base - 1 not in hist:
        raise _err(config, "rammetilskudd.population_history",
                   f"needs the total on 1 January {base - 1} (the year before the base year)")
    prev0 = pop[0] * hist[base - 1] / pop[0].sum()
    prev_jan = np.vstack([prev0[None, :], pop[:-2]])  # 1 January of the previous year
    july = 0.5 * (prev_jan + jan)          # ≈ 1 July of the previous year
    jan_t, july_t, mean_t = jan.sum(1), july.sum(1), mean_year.sum(1)

    # tax and inntektsutjevning
    tx = config.tax
    level = _path(tx.level_pct, years) / 100
    nat_tax = tx.national_per_inhabitant_nok * national
    skatt = level * nat_tax * jan_t
    iu = -_path(tx.equalisation_share_pct, years) / 100 * (level - 1) * nat_tax * jan_t
    thr = tx.extra_threshold_pct / 100
    iu += np.where(level < thr, tx.extra_compensation_pct / 100 * (thr - level), 0) \
        * nat_tax * jan_t

    # rammetilskudd: innbyggertilskudd + utgiftsutjevning with the age criteria
    rt = config.rammetilskudd
    groups = _group_counts(july)                       # [Y, 8]
    shares = groups / groups.sum(axis=1, keepdims=True)
    nat_shares = np.stack([_path(rt.national_age_shares[g], years) for g in AGE_GROUPS], 1)
    weights = np.array([rt.age_weights[g] for g in AGE_GROUPS])
    age_term = (weights * shares / nat_shares).sum(axis=1)
    cal = int(np.clip(rt.kostnadsindeks_year, years[0], years[-1]))
    other_term = rt.kostnadsindeks - age_term[years == cal][0]
    index = age_term + other_term
    innb = rt.innbyggertilskudd_per_inhabitant_nok * national * july_t
    uu = (index - 1) * rt.expenditure_need_per_inhabitant_nok * national * july_t
    ramme_annet = _path(rt.other_nok, years) * defl

    # veksttilskudd: rate × (average growth over the last three years − threshold) × P(t−1)
    vt = config.veksttilskudd
    totals = {**hist, **{int(y): float(v) for y, v in zip(years, pop.sum(1)[:-1], strict=True)}}
    vekst = np.zeros(len(years))
    growth3 = np.full(len(years), np.nan)
    for i, y in enumerate(years):
        if y - 1 not in totals or y - 4 not in totals:
            raise _err(config, "rammetilskudd.population_history",
                       f"veksttilskudd {y} needs totals on 1 January {y - 4} and {y - 1}")
        g = (totals[y - 1] / totals[y - 4]) ** (1 / 3) - 1
        growth3[i] = g
        if g * 100 > vt.threshold_pct and level[i] * 100 < vt.tax_ceiling_pct:
            vekst[i] = _path(vt.rate_nok, np.array([y]))[0] * (g - vt.threshold_pct / 100) \
                * totals[y - 1]
    ramme = innb + uu + iu + vekst + ramme_annet
    frie = skatt + ramme

    # integreringstilskudd: settled refugees × rate by year since settlement
    it = config.integreringstilskudd
    settled_now = np.asarray(inp.refugees, dtype=float).sum(axis=(1, 2, 3))
    settled = {**{int(k): float(v) for k, v in it.settled_history.items()},
               **{int(y): float(v) for y, v in zip(years, settled_now, strict=True)}}
    integ = np.array([sum(rate * settled.get(int(y) - k, 0.0) for k, rate in enumerate(it.rate_nok))
                      for y in years]) * defl

    orv = config.other_revenue
    eiendom = _path(orv.eiendomsskatt_nok, years) * defl
    sektor = orv.sector_revenue_per_inhabitant_nok * defl * mean_t
    inntekter = frie + integ + eiendom + sektor

    # operating costs
    tjenester, services = _services_cost(result, years, deflator, config)
    op = config.operating
    premiefond = _path(op.premiefond_use_nok, years)
    sv = config.savings
    savings_path = sv.amount_nok if sv.amount_nok is not None else (
        sv.paces[sv.pace] if sv.pace is not None else {base: 0.0})
    innsparing = _path(savings_path, years)

    # investments, debt and interest (independent of the operating result)
    inv = config.investments
    program = _path(inv.programme_nok, years) * (1.0 if inv.programme_is_nominal else defl)
    cap = _capacity_investments(result, years, deflator, config)
    kapasitet = (cap.groupby("year").investment_nok.sum(min_count=1).reindex(years)
                 .fillna(0).to_numpy() if not cap.empty else np.zeros(len(years)))
    investeringer = program + kapasitet
    mva = inv.mva_share * investeringer
    laan = inv.loan_share * (investeringer - mva)
    annen_fin = investeringer - mva - laan
    rate = _path(config.debt.interest_rate_pct, years) / 100
    n = len(years)
    d_in, d_out, avdrag, renter = (np.zeros(n) for _ in range(4))
    debt = config.debt.opening_nok
    for i in range(n):
        d_in[i] = debt
        avdrag[i] = min(debt / config.debt.repayment_years, debt)
        debt = debt + laan[i] - avdrag[i]
        d_out[i] = debt
        renter[i] = rate[i] * 0.5 * (d_in[i] + d_out[i])
    renteinntekter = _path(orv.interest_income_nok, years) * defl
    netto_fin = renter - renteinntekter + avdrag

    # other net costs: given per inhabitant, or calibrated to a netto driftsresultat
    if op.other_net_costs_per_inhabitant_nok is not None:
        other_pc = op.other_net_costs_per_inhabitant_nok
    else:
        if op.calibrate_year not in years:
            raise _err(config, "operating.calibrate_year", f"{op.calibrate_year} is not a budget "
                       f"year ({years[0]}..{years[-1]})")
        i = int(np.flatnonzero(years == op.calibrate_year)[0])
        before = inntekter[i] - tjenester[i] - sektor[i] - netto_fin[i]
        other_pc = (before - op.calibrate_ndr_nok) / (defl[i] * mean_t[i])
    andre = other_pc * defl * mean_t
    utgifter = tjenester + andre + sektor - premiefond - innsparing
    brutto = inntekter - utgifter
    ndr = brutto - netto_fin

    # disposisjonsfond
    f_in, f_out = np.zeros(n), np.zeros(n)
    avsetning, bruk = np.clip(ndr, 0, None), np.clip(-ndr, 0, None)
    fund = config.fund.opening_nok
    for i in range(n):
        f_in[i] = fund
        fund = fund + avsetning[i] - bruk[i]
        f_out[i] = fund

    values = {
        "skatt": skatt, "inntektsutjevning": iu, "innbyggertilskudd": innb,
        "utgiftsutjevning": uu, "veksttilskudd": vekst, "rammetilskudd_annet": ramme_annet,
        "rammetilskudd": ramme, "frie_inntekter": frie, "integreringstilskudd": integ,
        "eiendomsskatt": eiendom, "sektorinntekter": sektor, "driftsinntekter": inntekter,
        "tjenester": tjenester, "andre_driftsutgifter": andre, "sektorutgifter": sektor,
        "premiefond_bruk": premiefond, "innsparing": innsparing, "driftsutgifter": utgifter,
        "brutto_driftsresultat": brutto, "renteutgifter": renter,
        "renteinntekter": renteinntekter, "avdrag": avdrag, "netto_finansutgifter": netto_fin,
        "netto_driftsresultat": ndr, "investering_program": program,
        "investering_kapasitet": kapasitet, "investeringer": investeringer,
        "momskompensasjon": mva, "annen_finansiering": annen_fin, "laneopptak": laan,
        "lanegjeld_inngaende": d_in, "lanegjeld_utgaende": d_out,
        "disposisjonsfond_inngaende": f_in, "avsetning_disposisjonsfond": avsetning,
        "bruk_disposisjonsfond": bruk, "disposisjonsfond_utgaende": f_out,
    }
    lines = pd.DataFrame({
        "year": np.tile(years, len(LINES)).astype(np.int32),
        "line": np.repeat(list(LINES), n),
        "value_nok": np.concatenate([np.asarray(values[k], dtype=float) for k in LINES]),
    })
    wide = pd.DataFrame({"year": years, **values})

    ratios = pd.DataFrame({
        "year": years,
        "driftsinntekter_nok": inntekter,
        "netto_driftsresultat_pct": 100 * ndr / inntekter,
        "disposisjonsfond_pct": 100 * f_out / inntekter,
        "netto_lanegjeld_pct": 100 * d_out / inntekter,
        "netto_finansutgifter_pct": 100 * netto_fin / inntekter,
        "kostnadsindeks": index,
        "deflator_index": defl,
        "population_1jan": jan_t,
        "population_1jul_prev": july_t,
        "growth_3yr_pct": 100 * growth3,
    })
    rules, summary = _rules(config, ratios)
    kob = _kob(config, ratios)
    population = _population_table(years, jan, july)
    parameters = {
        "other_net_costs_per_inhabitant_nok": float(other_pc),
        "kostnadsindeks_other_criteria_term": float(other_term),
        "price_year": p,
        "savings": sv.pace or ("amount_nok" if sv.amount_nok is not None else "none"),
        "config_source": config.source,
    }
    return BudgetResult(
        municipality=inp.municipality, name=config.name or inp.municipality_name, years=years,
        lines=lines, revenue=wide[["year", *REVENUE_LINES]],
        operating=wide[["year", *OPERATING_LINES]], debt=wide[["year", *DEBT_LINES]],
        ratios=ratios, rules=rules, rules_summary=summary, kob=kob, population=population,
        services=services, investments=cap, parameters=parameters)


def _rules(config: BudgetConfig, ratios: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, summary = [], []
    for rule in config.rules:
        value = ratios[rule.metric].to_numpy()
        met = value >= rule.threshold_pct if rule.op == ">=" else value <= rule.threshold_pct
        active = ratios.year.to_numpy() >= (rule.from_year or 0)
        for y, v, m, a in zip(ratios.year, value, met, active, strict=True):
            rows.append({"year": int(y), "rule": rule.name, "metric": rule.metric, "op": rule.op,
                         "threshold_pct": rule.threshold_pct, "value_pct": float(v),
                         "met": bool(m) if a else None,
                         "margin_pp": float(v - rule.threshold_pct if rule.op == ">="
                                            else rule.threshold_pct - v)})
        yrs = ratios.year.to_numpy()[active]
        m = met[active]
        summary.append({
            "rule": rule.name, "metric": rule.metric, "op": rule.op,
            "threshold_pct": rule.threshold_pct, "from_year": rule.from_year,
            "first_year_met": int(yrs[m][0]) if m.any() else None,
            "first_year_broken": int(yrs[~m][0]) if (~m).any() else None,
            "years_met": int(m.sum()), "years": int(len(m)), "source": rule.source,
        })
    cols = ["year", "rule", "metric", "op", "threshold_pct", "value_pct", "met", "margin_pp"]
    scols = ["rule", "metric", "op", "threshold_pct", "from_year", "first_year_met",
             "first_year_broken", "years_met", "years", "source"]
    summary_df = pd.DataFrame(summary, columns=scols)
    for c in ("from_year", "first_year_met", "first_year_broken"):
        summary_df[c] = summary_df[c].astype("Int64")
    return pd.DataFrame(rows, columns=cols), summary_df


def kob_gap(actual_pct: float, target_pct: float, revenue_nok: float,
            higher_is_better: bool = True) -> tuple[float, float]:
    """KØB deviation (pp, positive = better than target) and sustainability gap in NOK."""
    dev = actual_pct - target_pct if higher_is_better else target_pct - actual_pct
    return dev, dev / 100 * revenue_nok


def _kob(config: BudgetConfig, ratios: pd.DataFrame) -> pd.DataFrame:
    k = config.kob
    spec = [("driftsresultat", "netto_driftsresultat_pct", k.driftsresultat_pct, True),
            ("disposisjonsfond", "disposisjonsfond_pct", k.disposisjonsfond_pct, True),
            ("netto_lanegjeld_ideal", "netto_lanegjeld_pct", k.lanegjeld_ideal_pct, False),
            ("netto_lanegjeld_max", "netto_lanegjeld_pct", k.lanegjeld_max_pct, False)]
    rows = []
    for _, r in ratios.iterrows():
        for name, col, target, up in spec:
            dev, gap = kob_gap(r[col], target, r.driftsinntekter_nok, up)
            rows.append({"year": int(r.year), "indicator": name, "target_pct": target,
                         "value_pct": r[col], "deviation_pp": dev, "gap_nok": gap,
                         "met": dev >= 0})
    return pd.DataFrame(rows)


def _population_table(years: np.ndarray, jan: np.ndarray, july: np.ndarray) -> pd.DataFrame:
    rows = []
    for label, arr in (("1 January", jan), ("1 July previous year (approx.)", july)):
        g = _group_counts(arr)
        for i, y in enumerate(years):
            rows.append({"year": int(y), "counted": label,
                         **{grp: float(g[i, j]) for j, grp in enumerate(AGE_GROUPS)},
                         "total": float(g[i].sum())})
    return pd.DataFrame(rows)
