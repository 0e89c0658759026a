"""Lørenskog's savings paces (perspektivmelding 2024, seed 004) against the model.

The seed's scenarios start from a 2024 korrigert netto driftsresultat of −202 mill. before
measures (004:2425) and add, in each pace, the savings (004:2580, 004:2681), 60 mill. a year of
premiefond (004:2582), 36 mill. a year lower finance costs from the 275-mill. investment
ceiling from 2025 (004:2587), the full-year effect of a falling rate (6/30/46 mill. in
2026/2027/2028, 004:2590, 004:2690) and, in the tables' own sums, 12 mill. more from 2025 (the
Sprint surplus 2026 is 32 = −202 + 120 + 60 + 36 + 6 + 12, 004:2594; the særskilt fordeling of
004:1577). Everything else is held: the seed's deficit before measures stays −202 mill. in
current kroner, and "2 %" is of a revenue the seed gives only through its surpluses (86 mill. =
2 % in 2027, 004:2573; 102 mill. in 2029, 004:2677; 116 mill. in 2031, 004:2744). The seed
leaves out the new inntektssystem (004:2530), so the comparison keeps the 2024 veksttilskudd
rate and 60 % equalisation (``seed_config``).

``compare()`` runs the model with those assumptions and names each remaining difference in
the pace's target year in mill. kr; ``python -m sim.budget.seed004`` writes the table to
``calibration/out/budget_seed004.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.budget.analysis import decompose, first_year_met
from sim.budget.config import BudgetConfig, default_budget_config
from sim.budget.model import BudgetResult, project_budget
from sim.numbers import signed

TARGET_YEARS = {"Sprint": 2027, "Mellomdistanse": 2029, "Maraton": 2031}
"""The year each pace meets HR1 in the seed (004:2553, 004:2677, 004:2728)."""

SEED_SURPLUS_2PCT = {"Sprint": 86e6, "Mellomdistanse": 102e6, "Maraton": 116e6}
"""The seed's netto driftsresultat in the target year, = 2 % of its revenue (NOK)."""

BASE_2024 = -202e6
CEILING_EFFECT = 36e6
RATE_EFFECT = {2026: 6e6, 2027: 30e6, 2028: 46e6}
EXTRA_2025 = 12e6
PREMIEFOND = 60e6

PARTS_MODEL = {
    "tiltak": "Premiefond etter 2027 (seedet: 60 mill. hvert år) og inndekning av merforbruk",
    "rentenivaa": "Rentenivå og renteinntekter",
    "investeringer": "Finanskostnader fra gjelden (seedet: −36 mill. fra investeringstaket)",
    "demografi_utgifter": "Demografi: tjenester og andre driftsutgifter",
    "demografi_inntekter": "Befolkning og inntektssystem: inntekter",
    "priser": "Pris- og lønnsvekst (netto)",
}


def seed_config(config: BudgetConfig | None = None) -> BudgetConfig:
    """Lørenskog's budget with the seed's revenue rules: no 2025 inntektssystem changes."""
    config = config or default_budget_config("3222")
    tax = config.tax.model_copy(update={"equalisation_share_pct": {2024: 60.0}})
    vt = config.veksttilskudd.model_copy(update={"rate_nok": {2024: 67331.0}})
    return config.model_copy(update={"tax": tax, "veksttilskudd": vt})


def seed_ndr(pace: str, savings: dict[int, float], year: int) -> float:
    """The seed's netto driftsresultat of a pace in a year, from its listed measures (NOK)."""
    from sim.schema import interpolate_path

    saved = float(interpolate_path(savings, np.array([year]))[0])
    return (BASE_2024 + saved + PREMIEFOND + (CEILING_EFFECT + EXTRA_2025) * (year >= 2025)
            + RATE_EFFECT.get(year, RATE_EFFECT[2028] if year > 2028 else 0.0))


def compare(result: Any, config: BudgetConfig | None = None) -> list[dict[str, Any]]:
    """One row per pace: target and model years, and the differences in the target year."""
    config = seed_config(config)
    rows = []
    for pace, target in TARGET_YEARS.items():
        sv = config.savings.model_copy(update={"pace": pace, "amount_nok": None})
        b = project_budget(result, config.model_copy(update={"savings": sv}))
        rows.append(_row(b, pace, target, config.savings.paces[pace]))
    return rows


def _row(b: BudgetResult, pace: str, target: int, savings: dict[int, float]) -> dict[str, Any]:
    i = int(np.flatnonzero(b.years == target)[0])
    hr1 = next(c for c in b.rules if c.rule.metric == "netto_driftsresultat_pct"
               and c.rule.op == ">=" and c.rule.average_years == 1)
    parts = decompose(b)
    first = b.values["netto_driftsresultat"][0]
    seed_change = seed_ndr(pace, savings, target) - seed_ndr(pace, savings, int(b.years[0]))
    saved = savings_in(savings, target) - savings_in(savings, int(b.years[0]))
    rate = RATE_EFFECT.get(target, RATE_EFFECT[2028] if target > 2028 else 0.0)
    diff = {
        "tiltak": parts["tiltak"][i] - saved,
        "rentenivaa": parts["rentenivaa"][i] - rate,
        "investeringer": parts["investeringer"][i] - CEILING_EFFECT,
        "demografi_utgifter": parts["demografi_utgifter"][i],
        "demografi_inntekter": parts["demografi_inntekter"][i] - EXTRA_2025,
        "priser": parts["priser"][i],
    }
    ndr = b.values["netto_driftsresultat"][i]
    revenue = b.values["driftsinntekter"][i]
    seed_target = SEED_SURPLUS_2PCT[pace]
    return {
        "pace": pace, "target_year": target, "model_year": first_year_met(b, hr1),
        "model_ndr_pct": float(b.ratios["netto_driftsresultat_pct"][i]),
        "model_ndr_nok": float(ndr), "model_first_nok": float(first),
        "seed_ndr_nok": float(seed_ndr(pace, savings, target)),
        "seed_stated_nok": seed_target, "seed_change_nok": float(seed_change),
        "model_revenue_nok": float(revenue), "seed_revenue_nok": seed_target / 0.02,
        "threshold_nok": 0.02 * (revenue - seed_target / 0.02),
        "shortfall_nok": float(max(0.02 * revenue - ndr, 0.0)),
        "differences_nok": {k: float(v) for k, v in diff.items()},
    }


def savings_in(savings: dict[int, float], year: int) -> float:
    """A cumulative savings path at a year (flat outside its years)."""
    from sim.schema import interpolate_path

    return float(interpolate_path(savings, np.array([year]))[0])


def markdown(rows: list[dict[str, Any]]) -> str:
    """The comparison as Markdown (mill. kr, Norwegian decimal comma)."""
    def m(v: float) -> str:
        return signed(v / 1e6)

    out = ["| Tempo | Seedet: HR1 ≥ 2 % | Modellen: første år HR1 ≥ 2 % | Modellen i målåret |",
           "|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['pace']} | {r['target_year']} | {r['model_year'] or 'ikke innen 2050'}"
                   f" | {r['model_ndr_pct']:.1f} %".replace(".", ",").replace("-", "−") + " |")
    out += ["", "Forskjeller i målåret, mill. kr (modell minus seedet; summen forklarer "
            "hele avstanden til 2 %):", "",
            "| Post | " + " | ".join(f"{r['pace']} {r['target_year']}" for r in rows) + " |",
            "|---|" + "---|" * len(rows)]
    out.append("| Seedets netto driftsresultat (egne tall) | "
               + " | ".join(m(r["seed_ndr_nok"]) for r in rows) + " |")
    for key, label in PARTS_MODEL.items():
        out.append(f"| {label} | "
                   + " | ".join(m(r["differences_nok"][key]) for r in rows) + " |")
    out.append("| = Modellens netto driftsresultat | "
               + " | ".join(m(r["model_ndr_nok"]) for r in rows) + " |")
    out.append("| 2 % av større driftsinntekter enn seedets (modell − seedet) | "
               + " | ".join(m(r["threshold_nok"]) for r in rows) + " |")
    out.append("| Mangler til 2 % i modellen | "
               + " | ".join(m(r["shortfall_nok"]) for r in rows) + " |")
    return "\n".join(out) + "\n"


def write_report(path: Path | None = None) -> Path:
    """Run Lørenskog's main scenario to 2050 and write the comparison (Markdown)."""
    from sim.run import run
    from sim.scenarios import build_scenario

    scenario = build_scenario(None, "3222", 2050, None, None)
    result = run(scenario.model_copy(update={"budget": scenario.budget.model_copy(
        update={"enabled": False})}))
    rows = compare(result)
    path = path or Path(__file__).parents[2] / "calibration" / "out" / "budget_seed004.md"
    text = ("# Lørenskog: omstillingstempo i perspektivmeldingen (seed 004) mot modellen\n\n"
            "Generert av `python -m sim.budget.seed004` (se `sim/budget/seed004.py` for "
            "forutsetningene og kildelinjene).\n\n" + markdown(rows))
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_report())
