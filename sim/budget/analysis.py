"""The why and the what-then of a budget: change decomposition, savings needed, indicators.

* ``decompose(b)``: the change of netto driftsresultat from the first budget year, split into
  demography (the volume of services and costs; of revenue), prices and wages, savings,
  interest level and the debt from investments. Every line is price × volume with a known
  price index (the deflator, times real growth for national revenue amounts and for unit
  costs); its change is p0·Δq (volume, at first-year prices) + Δp·q (prices). Interest is
  rate × mean debt: Δrate·debt is the interest level, rate0·Δdebt plus the change in avdrag
  is the debt from investments. The parts add up to the change exactly.
* ``savings_needed(b)``: per rule and year, what is missing to meet it.
* ``project_paces(result, config)``: the plan under every savings pace of the config.
* ``budget_indicators(b)``: per-year arrays a sweep can collect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.budget.config import BudgetConfig
from sim.budget.model import BudgetResult, RuleCheck, project_budget

PARTS: dict[str, str] = {
    "demografi_utgifter": "Demografi: tjenester og andre driftsutgifter",
    "demografi_inntekter": "Befolkning og inntektssystem: inntekter",
    "priser": "Pris- og lønnsvekst og realvekst (netto)",
    "tiltak": "Innsparing, premiefond og inndekning",
    "rentenivaa": "Rentenivå og renteinntekter",
    "investeringer": "Gjeld fra investeringer (renter og avdrag)",
}
"""Parts of the change in netto driftsresultat, in the waterfall's order (Norwegian labels)."""

_REVENUE = {"skatt": "revenue_index", "inntektsutjevning": "revenue_index",
            "innbyggertilskudd": "revenue_index", "utgiftsutjevning": "revenue_index",
            "veksttilskudd": "revenue_index", "rammetilskudd_annet": "revenue_index",
            "integreringstilskudd": "deflator_index", "eiendomsskatt": "deflator_index",
            "sektorinntekter": "deflator_index"}
_COSTS = {"tjenester": "cost_index", "andre_driftsutgifter": "cost_index",
          "sektorutgifter": "deflator_index"}
"""Operating lines and the price index each is carried by."""


def _volume_price(b: BudgetResult, lines: dict[str, str], i0: int) -> tuple[np.ndarray, ...]:
    vol = np.zeros(len(b.years))
    price = np.zeros(len(b.years))
    for line, index in lines.items():
        p = b.ratios[index]
        q = b.values[line] / p
        vol += p[i0] * (q - q[i0])
        price += (p - p[i0]) * q
    return vol, price


def decompose(b: BudgetResult, first: int = 0) -> dict[str, np.ndarray]:
    """Parts [Y] of netto driftsresultat(t) − netto driftsresultat(years[first]) (see module)."""
    v = b.values
    rev_vol, rev_price = _volume_price(b, _REVENUE, first)
    cost_vol, cost_price = _volume_price(b, _COSTS, first)
    measures = v["premiefond_bruk"] + v["innsparing"] + v["inndekning"]
    rate = b.ratios["interest_rate_pct"] / 100
    debt = 0.5 * (v["lanegjeld_inngaende"] + v["lanegjeld_utgaende"])
    return {
        "demografi_utgifter": -cost_vol,
        "demografi_inntekter": rev_vol,
        "priser": rev_price - cost_price,
        "tiltak": measures - measures[first],
        "rentenivaa": -(rate - rate[first]) * debt
        + (v["renteinntekter"] - v["renteinntekter"][first]),
        "investeringer": -(rate[first] * (debt - debt[first])
                           + v["avdrag"] - v["avdrag"][first]),
    }


def savings_needed(b: BudgetResult) -> dict[str, np.ndarray]:
    """Rule name -> NOK missing in each year to meet it (0 where met, NaN where undefined)."""
    return {check.rule.name: check.need_nok for check in b.rules}


def first_year_met(b: BudgetResult, check: RuleCheck, from_year: int | None = None) -> int | None:
    """First year (from ``from_year``) the rule is met, None if never."""
    ok = (check.met == 1) & (b.years >= (from_year or b.years[0]))
    return int(b.years[ok][0]) if ok.any() else None


NO_PACE = "Uten tempo (bare lovpålagt inndekning)"
"""The plan without a savings pace: it still has the measures the law forces once the fund is
empty (inndekning), which is why it can need less than a pace in some years."""


def project_paces(result: Any, config: BudgetConfig) -> dict[str, BudgetResult]:
    """The plan without a savings pace (``NO_PACE``) and under each pace of the config."""
    plain = config.savings.model_copy(update={"pace": None, "amount_nok": None})
    out = {NO_PACE: project_budget(result, config.model_copy(update={"savings": plain}))}
    for pace in config.savings.paces:
        sv = config.savings.model_copy(update={"pace": pace, "amount_nok": None})
        out[pace] = project_budget(result, config.model_copy(update={"savings": sv}))
    return out


def budget_indicators(b: BudgetResult) -> dict[str, np.ndarray]:
    """Per-year indicators of a budget for sweeps (arrays over ``b.years``).

    ``netto_driftsresultat_pct``, ``disposisjonsfond_pct``, ``netto_lanegjeld_pct`` (% of
    driftsinntekter), ``robek`` (1 in a ROBEK year), ``savings_needed_nok`` (the first per-year
    netto driftsresultat rule's need; zeros without one) and ``savings_needed:<rule>`` for
    every rule.
    """
    out = {"year": b.years.astype(float)}
    for key in ("netto_driftsresultat_pct", "disposisjonsfond_pct", "netto_lanegjeld_pct",
                "robek"):
        out[key] = b.ratios[key]
    ndr_rules = [c for c in b.rules if c.rule.metric == "netto_driftsresultat_pct"
                 and c.rule.op == ">=" and c.rule.average_years == 1]
    out["savings_needed_nok"] = (ndr_rules[0].need_nok if ndr_rules
                                 else np.zeros(len(b.years)))
    for name, need in savings_needed(b).items():
        out[f"savings_needed:{name}"] = need
    return out
