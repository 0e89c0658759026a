"""Budget outputs: tidy ``budget.parquet``, ``budget_*.csv``, an XLSX workbook and PNG plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from openpyxl import Workbook  # noqa: E402
from openpyxl.utils import get_column_letter  # noqa: E402

from sim.budget.config import AGE_GROUPS  # noqa: E402
from sim.budget.model import LINES, BudgetResult  # noqa: E402

SHEETS = ("README", "population", "services", "revenue", "operating", "investments_debt",
          "rules", "rules_summary", "kob", "lines")
"""Sheets of ``budget.xlsx``, in order."""

CSV_TABLES = ("lines", "population", "services", "revenue", "operating", "investments_debt",
              "ratios", "rules", "rules_summary", "kob", "capacity_investments")
"""Tables written as ``budget_<name>.csv``."""

_UNITS = {
    "year": "year", "value_nok": "NOK", "line": "name", "counted": "date counted",
    "total": "persons", "service": "key", "sector": "name", "users": "persons",
    "staff": "årsverk", "cost_nok": "NOK, price_year kroner", "cost_nominal_nok": "NOK",
    "price_year": "year", "rule": "name", "metric": "name", "op": "operator",
    "threshold_pct": "%", "value_pct": "%", "met": "bool", "margin_pp": "percentage points",
    "from_year": "year", "first_year_met": "year", "first_year_broken": "year",
    "years_met": "years", "years": "years", "source": "seed file:line", "indicator": "name",
    "target_pct": "%", "deviation_pp": "percentage points", "gap_nok": "NOK",
    "driftsinntekter_nok": "NOK", "netto_driftsresultat_pct": "% of driftsinntekter",
    "disposisjonsfond_pct": "% of driftsinntekter", "netto_lanegjeld_pct": "% of driftsinntekter",
    "netto_finansutgifter_pct": "% of driftsinntekter", "kostnadsindeks": "index (1 = Norway)",
    "deflator_index": "price factor from price_year", "population_1jan": "persons",
    "population_1jul_prev": "persons", "growth_3yr_pct": "% per year", "district": "name",
    "gap": "places", "new_places": "places", "cost_per_place_nok": "NOK, price_year kroner",
    "investment_nok": "NOK",
    **{g: "persons" for g in AGE_GROUPS},
}

_DESCRIPTIONS = {
    **LINES,
    "year": "budget year (flows) or 31 December (stocks ending _utgaende)",
    "value_nok": "amount in current kroner of the year",
    "line": "budget line (see the lines of this sheet)",
    "counted": "1 January of the year (tax) or 1 July of the previous year (rammetilskudd), "
               "approximated as the mean of two 1 January counts",
    "cost_nok": "service cost in kroner of price_year", "cost_nominal_nok": "current kroner",
    "met": "rule met in the year (empty before from_year)",
    "margin_pp": "distance to the threshold, positive = met",
    "deviation_pp": "KØB deviation, positive = better than the target",
    "gap_nok": "KØB sustainability gap: deviation × driftsinntekter",
    "new_places": "places built when the gap first exceeds the places already built",
    **{g: f"inhabitants aged {g}" for g in AGE_GROUPS},
}


def _tables(budget: BudgetResult) -> dict[str, pd.DataFrame]:
    return {
        "lines": budget.lines, "population": budget.population, "services": budget.services,
        "revenue": budget.revenue, "operating": budget.operating,
        "investments_debt": budget.debt, "ratios": budget.ratios, "rules": budget.rules,
        "rules_summary": budget.rules_summary, "kob": budget.kob,
        "capacity_investments": budget.investments,
    }


def _header(col: str) -> str:
    unit = _UNITS.get(col, "NOK")
    return f"{col} [{unit}]"


def _readme_rows(budget: BudgetResult, tables: dict[str, pd.DataFrame]) -> list[list]:
    rows: list[list] = [
        ["kommunesim budget", f"{budget.name} ({budget.municipality})", "", ""],
        ["years", f"{int(budget.years[0])}-{int(budget.years[-1])}", "", ""],
        ["amounts", "current (nominal) kroner unless the header says price_year kroner", "", ""],
        ["definition", "netto driftsresultat = brutto driftsresultat − netto finansutgifter; "
         "brutto driftsresultat = driftsinntekter − driftsutgifter; netto finansutgifter = "
         "renteutgifter − renteinntekter + avdrag", "", ""],
        ["parameters", "; ".join(f"{k} = {v}" for k, v in budget.parameters.items()), "", ""],
        [],
        ["sheet", "column", "unit", "description"],
    ]
    sheet_of = {"investments_debt": "investments_debt"}
    for name in SHEETS[1:]:
        df = tables[sheet_of.get(name, name)]
        for col in df.columns:
            rows.append([name, col, _UNITS.get(col, "NOK"), _DESCRIPTIONS.get(col, "")])
    return rows


def _cell(v):
    """A value openpyxl accepts: NaN/NA -> empty, numpy scalars -> Python."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def write_xlsx(budget: BudgetResult, path: Path) -> None:
    """The workbook for an external budget model: README first, units in every header."""
    tables = _tables(budget)
    wb = Workbook()
    ws = wb.active
    ws.title = "README"
    for row in _readme_rows(budget, tables):
        ws.append(row)
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 30
    ws.column_dimensions["D"].width = 90
    for name in SHEETS[1:]:
        df = tables[name]
        sh = wb.create_sheet(name)
        sh.append([_header(c) for c in df.columns])
        for rec in df.astype(object).itertuples(index=False):
            sh.append([_cell(v) for v in rec])
        for i, col in enumerate(df.columns, start=1):
            sh.column_dimensions[get_column_letter(i)].width = max(12, len(_header(col)) + 2)
        sh.freeze_panes = "B2"
    wb.save(path)


def plot_rules(budget: BudgetResult, path: Path) -> None:
    """Ratios against the rule thresholds over time."""
    r = budget.ratios
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, metric, title in zip(
            axes, ("netto_driftsresultat_pct", "disposisjonsfond_pct", "netto_lanegjeld_pct"),
            ("Netto driftsresultat", "Disposisjonsfond", "Netto lånegjeld"), strict=True):
        ax.plot(r.year, r[metric], marker="o", color="black", label="projection")
        for rule in budget.rules_summary.itertuples():
            if rule.metric == metric:
                ax.axhline(rule.threshold_pct, ls="--", label=rule.rule)
        ax.set_title(f"{title} (% of driftsinntekter)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{budget.name}: handlingsregler")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_debt(budget: BudgetResult, path: Path) -> None:
    """Debt (bars) with interest and repayments (lines)."""
    d = budget.debt
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar(d.year, d.lanegjeld_utgaende / 1e9, color="#9bb", label="lånegjeld 31.12 (bn NOK)")
    ax.set_ylabel("bn NOK")
    ax2 = ax.twinx()
    ax2.plot(d.year, d.renteutgifter / 1e6, color="C3", marker="o", label="renteutgifter")
    ax2.plot(d.year, d.avdrag / 1e6, color="C0", marker="s", label="avdrag")
    ax2.set_ylabel("mill. NOK")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="lower left")
    ax.set_title(f"{budget.name}: gjeld, renter og avdrag")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_demographic_pressure(budget: BudgetResult, path: Path) -> None:
    """Change in service cost since the first year by sector, in constant kroner."""
    s = budget.services.groupby(["year", "sector"]).cost_nok.sum().unstack("sector")
    change = (s - s.iloc[0]) / 1e6
    fig, ax = plt.subplots(figsize=(9, 4.5))
    change.plot(ax=ax, marker="o")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(f"mill. NOK ({int(budget.services.price_year.iloc[0])} kroner)")
    ax.set_title(f"{budget.name}: demografisk kostnadspress (endring fra "
                 f"{int(budget.years[0])})")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_budget(writer, budget: BudgetResult, with_plots: bool = True) -> None:
    """Stage budget.parquet, budget.xlsx, budget_<table>.csv and (optionally) PNG plots."""
    writer.parquet("budget.parquet", budget.lines)
    write_xlsx(budget, writer.path("budget.xlsx"))
    for name, df in _tables(budget).items():
        df.to_csv(writer.path(f"budget_{name}.csv"), index=False)
    if with_plots:
        plot_rules(budget, writer.path("budget_rules.png"))
        plot_debt(budget, writer.path("budget_debt_interest.png"))
        plot_demographic_pressure(budget, writer.path("budget_demographic_pressure.png"))
