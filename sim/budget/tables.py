"""Økonomiplan tables as Norwegian budget documents have them, and a tidy table for Framsikt.

Each wide table is a DataFrame: ``Post`` (the line), ``Enhet`` (unit), an optional
``Regnskap <year>`` column (the base accounts) and one column per budget year. Money is in
1000 kr (current kroner of each year), ratios in %, the index as a number. Built only when
output is written (pandas is fine here).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.budget.analysis import PARTS, decompose, project_paces
from sim.budget.inntektssystem import cost_key
from sim.budget.model import LINES, BudgetResult

KR = "1000 kr"
PCT = "%"

_SECTOR_LABELS = {
    "grunnskole": "Grunnskole", "barnehage": "Barnehage", "pleie og omsorg": "Pleie og omsorg",
    "pleie": "Pleie og omsorg", "kommunehelse": "Kommunehelse", "barnevern": "Barnevern",
    "sosialhjelp": "Sosialtjenesten", "sosial": "Sosialtjenesten",
    "administrasjon": "Administrasjon", "introduksjonsprogram": "Introduksjonsprogram",
}


def _frame(budget: BudgetResult, rows: list[tuple[str, str, Any, Any]]) -> pd.DataFrame:
    """Rows (label, unit, values [Y], base value or None) -> the wide table."""
    acc = budget.config.base_accounts
    data: dict[str, list[Any]] = {"Post": [r[0] for r in rows], "Enhet": [r[1] for r in rows]}
    if acc is not None:
        data[f"Regnskap {acc.year}"] = [r[3] for r in rows]
    for i, y in enumerate(budget.years):
        data[str(int(y))] = [float(r[2][i]) for r in rows]
    return pd.DataFrame(data)


def _money(budget: BudgetResult, line: str, label: str | None = None,
           sign: float = 1.0) -> tuple[str, str, np.ndarray, float | None]:
    acc = budget.config.base_accounts
    base = acc.lines_nok.get(line) if acc is not None else None
    return (label or LINES[line], KR, sign * budget.values[line] / 1000 + 0.0,
            None if base is None else sign * base / 1000)


def _ratio(budget: BudgetResult, key: str, label: str) -> tuple[str, str, np.ndarray, Any]:
    acc = budget.config.base_accounts
    base = None
    if acc is not None and "driftsinntekter" in acc.lines_nok:
        pairs = {"netto_driftsresultat_pct": "netto_driftsresultat",
                 "disposisjonsfond_pct": "disposisjonsfond_utgaende",
                 "netto_lanegjeld_pct": "lanegjeld_utgaende",
                 "netto_finansutgifter_pct": "netto_finansutgifter"}
        line = pairs.get(key)
        if line in acc.lines_nok:
            base = 100 * acc.lines_nok[line] / acc.lines_nok["driftsinntekter"]
    return (label, PCT, budget.ratios[key], base)


def frie_inntekter(budget: BudgetResult) -> pd.DataFrame:
    """Skatt and rammetilskudd with the counts behind them."""
    lines = ["skatt", "inntektsutjevning", "innbyggertilskudd", "utgiftsutjevning",
             "veksttilskudd", "rammetilskudd_annet", "rammetilskudd", "frie_inntekter"]
    r = budget.ratios
    rows = [_money(budget, k) for k in lines]
    rows += [("Innbyggere 1.1.", "personer", r["population_1jan"], None),
             ("Innbyggere 1.7. året før", "personer", r["population_1jul_prev"], None),
             ("Kostnadsindeks (utgiftsbehov)", "indeks", r["kostnadsindeks"], None),
             ("Skatt per innbygger, landet", "kr", r["tax_per_inhabitant_nok"], None),
             ("Utgiftsbehov per innbygger, landet", "kr",
              r["expenditure_need_per_inhabitant_nok"], None),
             ("Befolkningsvekst siste tre år (veksttilskudd)", PCT, r["growth_3yr_pct"], None)]
    return _frame(budget, rows)


def drift(budget: BudgetResult) -> pd.DataFrame:
    """Operating budget: revenue, costs by sector, finance, result and its disposal."""
    rows = [_money(budget, k) for k in ("frie_inntekter", "integreringstilskudd",
                                        "eiendomsskatt", "sektorinntekter", "driftsinntekter")]
    for sector, cost in budget.sector_costs.items():
        rows.append((f"Tjenester: {_SECTOR_LABELS.get(sector, sector)}", KR, cost / 1000, None))
    rows += [_money(budget, "andre_driftsutgifter"), _money(budget, "sektorutgifter"),
             _money(budget, "premiefond_bruk", sign=-1), _money(budget, "innsparing", sign=-1),
             _money(budget, "inndekning", sign=-1), _money(budget, "driftsutgifter"),
             _money(budget, "brutto_driftsresultat"), _money(budget, "renteutgifter"),
             _money(budget, "renteinntekter"), _money(budget, "avdrag"),
             _money(budget, "netto_finansutgifter"), _money(budget, "netto_driftsresultat"),
             _ratio(budget, "netto_driftsresultat_pct", "Netto driftsresultat i % av "
                    "driftsinntekter"),
             _money(budget, "dekning_merforbruk"), _money(budget, "avsetning_disposisjonsfond"),
             _money(budget, "bruk_disposisjonsfond"), _money(budget, "merforbruk")]
    return _frame(budget, rows)


def investeringer(budget: BudgetResult) -> pd.DataFrame:
    """Investments and how they are financed."""
    keys = ("investering_program", "investering_kapasitet", "investeringer",
            "momskompensasjon", "annen_finansiering", "laneopptak")
    return _frame(budget, [_money(budget, k) for k in keys])


def gjeld(budget: BudgetResult) -> pd.DataFrame:
    """Debt, interest and the disposisjonsfond."""
    r = budget.ratios
    rows = [_money(budget, k) for k in ("lanegjeld_inngaende", "laneopptak", "avdrag",
                                        "lanegjeld_utgaende", "renteutgifter")]
    rows += [("Gjennomsnittsrente", PCT, r["interest_rate_pct"], None),
             _ratio(budget, "netto_lanegjeld_pct", "Netto lånegjeld i % av driftsinntekter"),
             _ratio(budget, "netto_finansutgifter_pct",
                    "Netto finansutgifter i % av driftsinntekter")]
    rows += [_money(budget, k) for k in ("disposisjonsfond_inngaende",
                                         "avsetning_disposisjonsfond", "bruk_disposisjonsfond",
                                         "disposisjonsfond_utgaende")]
    rows += [_ratio(budget, "disposisjonsfond_pct", "Disposisjonsfond i % av driftsinntekter"),
             _money(budget, "akkumulert_merforbruk"),
             ("Akkumulert merforbruk i % av driftsinntekter", PCT,
              r["akkumulert_merforbruk_pct"], None)]
    return _frame(budget, rows)


def _status(met: np.ndarray) -> list[str]:
    return ["" if np.isnan(m) else ("Oppfylt" if m == 1 else "Ikke oppfylt") for m in met]


def handlingsregler(budget: BudgetResult) -> pd.DataFrame:
    """Every rule every year: value, status and what is missing (1000 kr)."""
    rows: list[tuple[str, str, Any, Any]] = []
    status_rows = []
    for check in budget.rules:
        rule = check.rule
        what = ("endring fra året før" if rule.op == "falling" else
                f"snitt {rule.average_years} år" if rule.average_years > 1 else "verdi")
        rows.append((f"{rule.name}: {what}", PCT if rule.op != "falling" else "prosentpoeng",
                     check.value_pct, None))
        status_rows.append(len(rows))
        rows.append((f"{rule.name}: status", "", check.met, None))
        rows.append((f"{rule.name}: mangler for å oppfylle", KR, check.need_nok / 1000, None))
    rows.append(("ROBEK-risiko (merforbruk eller akkumulert merforbruk over grensen)", "",
                 budget.ratios["robek"], None))
    table = _frame(budget, rows)
    years = [str(int(y)) for y in budget.years]
    table[years] = table[years].astype(object)
    for i, check in zip(status_rows, budget.rules, strict=True):
        table.loc[i, years] = _status(check.met)
    table.loc[len(rows) - 1, years] = ["ROBEK" if v else "" for v in budget.ratios["robek"]]
    return table


def kob(budget: BudgetResult) -> pd.DataFrame:
    """KØB model (Riksrevisjonen): value, deviation and sustainability gap per indicator."""
    k = budget.config.kob
    rev = budget.values["driftsinntekter"]
    spec = [("Driftsresultat", "netto_driftsresultat_pct", k.driftsresultat_pct, 1),
            ("Disposisjonsfond", "disposisjonsfond_pct", k.disposisjonsfond_pct, 1),
            ("Netto lånegjeld (ideal)", "netto_lanegjeld_pct", k.lanegjeld_ideal_pct, -1),
            ("Netto lånegjeld (maks)", "netto_lanegjeld_pct", k.lanegjeld_max_pct, -1)]
    rows = []
    for label, key, target, sign in spec:
        dev, gap = kob_gap(budget.ratios[key], target, rev, higher_is_better=sign > 0)
        rows += [(f"{label}: mål", PCT, np.full(len(rev), target), None),
                 (f"{label}: verdi", PCT, budget.ratios[key], None),
                 (f"{label}: avvik", "prosentpoeng", dev, None),
                 (f"{label}: bærekraftsavvik", KR, gap / 1000, None)]
    return _frame(budget, rows)


def kob_gap(actual_pct, target_pct: float, revenue_nok,
            higher_is_better: bool = True) -> tuple[Any, Any]:
    """KØB deviation (pp, positive = better than target) and sustainability gap in NOK.

    Scalars or arrays over years (``actual_pct`` and ``revenue_nok`` alike).
    """
    dev = actual_pct - target_pct if higher_is_better else target_pct - actual_pct
    return dev, dev / 100 * revenue_nok


def endringsanalyse(budget: BudgetResult) -> pd.DataFrame:
    """Change in netto driftsresultat from the first budget year, by cause (1000 kr)."""
    parts = decompose(budget)
    ndr = budget.values["netto_driftsresultat"]
    rows = [(label, KR, parts[key] / 1000, None) for key, label in PARTS.items()]
    rows += [(f"Endring i netto driftsresultat fra {int(budget.years[0])}", KR,
              (ndr - ndr[0]) / 1000, None),
             _money(budget, "netto_driftsresultat")]
    return _frame(budget, rows)


def innsparingsbehov(budget: BudgetResult) -> pd.DataFrame:
    """What is missing to meet each rule, every year, with no measures and under each pace."""
    rows: list[tuple[str, str, Any, Any]] = []
    variants = (project_paces(budget.run, budget.config) if budget.run is not None
                else {str(budget.parameters.get("savings")): budget})
    for pace, b in variants.items():
        for check in b.rules:
            rows.append((f"{pace}: {check.rule.name}", KR, check.need_nok / 1000, None))
    return _frame(budget, rows)


def befolkning(budget: BudgetResult) -> pd.DataFrame:
    """The counts and indices behind the inntektssystem lines."""
    key = cost_key()
    july = budget.population["july"]
    crit = budget.population["criteria"]
    groups = np.add.reduceat(july, key.age_edges, axis=-1)
    rows = [("Innbyggere 1.1.", "personer", budget.ratios["population_1jan"], None),
            ("Innbyggere 1.7. året før", "personer", budget.ratios["population_1jul_prev"],
             None)]
    for j, name in enumerate(key.age_criteria):
        rows.append((f"{name.replace('innb_', 'Innbyggere ').replace('_plus', '+')} "
                     "(1.7. året før)", "personer", groups[:, j], None))
    for j, name in enumerate(key.computed):
        rows.append((f"Kriterieindeks {name}", "indeks", crit[:, j], None))
    for s in key.sectors:
        if f"sektorindeks_{s}" in budget.ratios:
            rows.append((f"Sektorindeks {_SECTOR_LABELS.get(s, s)}", "indeks",
                         budget.ratios[f"sektorindeks_{s}"], None))
    rows.append(("Kostnadsindeks (samlet)", "indeks", budget.ratios["kostnadsindeks"], None))
    return _frame(budget, rows)


def framsikt(budget: BudgetResult) -> pd.DataFrame:
    """Tidy table for budget systems: one row per kommune, year and line, in 1000 kr."""
    n = len(budget.years)
    return pd.DataFrame({
        "kommunenummer": budget.municipality,
        "aar": np.tile(budget.years, len(LINES)).astype(int),
        "post": np.repeat(list(LINES), n),
        "tekst": np.repeat(list(LINES.values()), n),
        "belop_1000_kr": np.concatenate([budget.values[k] for k in LINES]) / 1000,
    })


def okonomiplan_tables(budget: BudgetResult) -> dict[str, pd.DataFrame]:
    """All wide tables by sheet name, in the workbook's order."""
    return {
        "Frie inntekter": frie_inntekter(budget),
        "Drift per sektor": drift(budget),
        "Investeringer og finansiering": investeringer(budget),
        "Gjeld og rente": gjeld(budget),
        "Handlingsregler": handlingsregler(budget),
        "KØB": kob(budget),
        "Innsparingsbehov": innsparingsbehov(budget),
        "Endringsanalyse": endringsanalyse(budget),
        "Befolkning og kriterier": befolkning(budget),
    }
