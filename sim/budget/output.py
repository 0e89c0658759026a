"""Budget outputs: the økonomiplan workbook and CSV tables, tidy tables, and PNG plots.

* ``budget.xlsx``: a «Les meg» sheet, then one sheet per økonomiplan table (years as columns,
  1000 kr, Norwegian number formats through Excel's locale-aware codes ``# ##0``/``0,0``,
  units in a column and in the header, header row and line names frozen) and ``Framsikt``
  (the tidy table for budget systems).
* ``budget_<table>.csv``: the same tables for Norwegian Excel (``;`` separated, decimal comma,
  UTF-8 with BOM); ``budget_framsikt.csv`` likewise.
* ``budget.parquet`` and ``budget_lines.csv``: tidy ``year, line, value_nok`` (nominal NOK,
  plain CSV) for programs; ``budget_capacity_investments.csv``.
* PNG plots with Norwegian labels.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from sim.budget.analysis import PARTS, decompose
from sim.budget.model import BudgetResult
from sim.budget.tables import framsikt, okonomiplan_tables
from sim.numbers import README_SHEET, axis, number, signed

FRAMSIKT = "Framsikt"

_FORMATS = {"1000 kr": "#,##0", "personer": "#,##0", "kr": "#,##0", "%": "0.0",
            "prosentpoeng": "0.0", "indeks": "0.0000"}
_CSV_DECIMALS = {"1000 kr": 0, "personer": 0, "kr": 0, "%": 1, "prosentpoeng": 1,
                 "indeks": 4}

_SHEET_TEXT = {
    "Frie inntekter": "Skatt og rammetilskudd med tellingene bak (innbyggere, kostnadsindeks).",
    "Drift per sektor": "Driftsinntekter, tjenester per sektor, andre driftsutgifter, "
                        "finans og netto driftsresultat med disponering.",
    "Investeringer og finansiering": "Brutto investeringer og finansiering (moms, lån, annet).",
    "Gjeld og rente": "Lånegjeld, renter, avdrag, disposisjonsfond og merforbruk.",
    "Handlingsregler": "Hver regel hvert år: verdi, status og hva som mangler (1000 kr).",
    "KØB": "Riksrevisjonens kommunaløkonomiske bærekraftsmodell: verdi, avvik, "
           "bærekraftsavvik.",
    "Innsparingsbehov": "Hva som mangler for å oppfylle hver regel hvert år, uten tiltak og "
                        "med hvert omstillingstempo.",
    "Endringsanalyse": "Endring i netto driftsresultat fra første budsjettår fordelt på "
                       "årsaker (summerer til endringen).",
    "Befolkning og kriterier": "Innbyggere og kriteriene i kostnadsnøkkelen (1. juli året "
                               "før).",
    FRAMSIKT: "Ryddig tabell (én rad per år og post, 1000 kr) for budsjettsystemer som "
              "Framsikt.",
}


def _slug(name: str) -> str:
    s = name.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_")


def _path_text(path: dict[int, float]) -> str:
    """{2024: 4.3, 2025: 3.9} -> '2024: 4,3 %, 2025: 3,9 %'."""
    return ", ".join(f"{y}: {v:g} %".replace(".", ",") for y, v in path.items())


def _readme_rows(budget: BudgetResult, tables: dict[str, pd.DataFrame]) -> list[list]:
    cfg = budget.config
    acc = cfg.base_accounts
    rows: list[list] = [
        ["kommunesim økonomiplan", f"{budget.name} ({budget.municipality})"],
        ["År", f"{int(budget.years[0])}–{int(budget.years[-1])}"
         + (f", regnskap {acc.year} som utgangspunkt" if acc is not None else "")],
        ["Beløp", "1000 kr i løpende priser (hvert års kroner); andeler i % av brutto "
                  "driftsinntekter"],
        ["Netto driftsresultat", "brutto driftsinntekter − brutto driftsutgifter − "
                                 "(renteutgifter − renteinntekter + avdrag)"],
        ["Renter", "gjennomsnittsrente × (lånegjeld 1.1. + lånegjeld 31.12.) / 2"],
        ["Disposisjonsfond", "går aldri under null; underskudd utover fondet er merforbruk "
                             "som dekkes inn de to neste årene (kommuneloven § 14-11); "
                             "ROBEK-risiko markeres (§ 28-1)"],
        ["Inntektssystemet", "kostnadsnøkkel og sektorvekter 2026 (Grønt hefte); "
                             "kostnadsindeksen regnes ut av befolkningen hvert år; "
                             "ikke-alderskriterier: "
                             f"{budget.parameters.get('kostnadsindeks_non_age_part')}"],
        ["Prisvekst", "kommunal deflator: " + _path_text(cfg.prices.deflator_pct)],
        ["Realvekst", "inntekter: " + _path_text(cfg.growth.revenue_pct)
         + (" + nasjonale demografikostnader" if cfg.growth.national_demography else "")
         + "; enhetskostnader: " + _path_text(cfg.growth.cost_pct)],
        ["Kilder", f"{cfg.source} (hver verdi har kilde i kommentaren), sim/budget/SOURCES.md"],
    ]
    rows += [["Forutsetning", a] for a in cfg.assumptions]
    rows += [["Merknad", note] for note in budget.notes]
    rows += [["Teknisk parameter", f"{k} = {v}"] for k, v in budget.parameters.items()]
    rows += [[], ["Ark", "Innhold"]]
    rows += [[name, _SHEET_TEXT.get(name, "")] for name in (*tables, FRAMSIKT)]
    return rows


def _cell(v):
    """A value openpyxl accepts: NaN/NA -> empty, numpy scalars -> Python."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def write_xlsx(budget: BudgetResult, path: Path,
               tables: dict[str, pd.DataFrame] | None = None) -> None:
    """The økonomiplan workbook: «Les meg», one sheet per table, Framsikt."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    tables = tables if tables is not None else okonomiplan_tables(budget)
    wb = Workbook()
    ws = wb.active
    ws.title = README_SHEET
    for row in _readme_rows(budget, tables):
        ws.append(row)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 110
    bold = Font(bold=True)
    for name, df in tables.items():
        sh = wb.create_sheet(name)
        sh.append(list(df.columns))
        for cell in sh[1]:
            cell.font = bold
        first_value = 3
        # rows are numbered here: openpyxl's ``max_row`` scans every cell (quadratic per sheet)
        for row, rec in enumerate(df.itertuples(index=False), start=2):
            sh.append([_cell(v) for v in rec])
            fmt = _FORMATS.get(rec[1])
            if fmt:
                for cell in sh[row][first_value - 1:]:
                    cell.number_format = fmt
        sh.column_dimensions["A"].width = max(30, int(df["Post"].str.len().max()) + 2)
        sh.column_dimensions["B"].width = 13
        for i in range(3, len(df.columns) + 1):
            sh.column_dimensions[get_column_letter(i)].width = 13
        sh.freeze_panes = "C2"
    tidy = framsikt(budget)
    sh = wb.create_sheet(FRAMSIKT)
    sh.append(["kommunenummer", "år", "post", "tekst", "beløp (1000 kr)"])
    for cell in sh[1]:
        cell.font = bold
    for row, rec in enumerate(tidy.itertuples(index=False), start=2):
        sh.append([_cell(v) for v in rec])
        sh.cell(row, 5).number_format = "#,##0"
    for col, width in zip("ABCDE", (14, 8, 28, 44, 16), strict=True):
        sh.column_dimensions[col].width = width
    sh.freeze_panes = "A2"
    wb.save(path)


def _csv_text(df: pd.DataFrame) -> pd.DataFrame:
    """Numbers as Norwegian text: decimal comma, decimals by the row's unit."""
    out = df.copy().astype(object)
    value_cols = [c for c in df.columns if c not in ("Post", "Enhet")]
    decimals = [_CSV_DECIMALS.get(unit) for unit in df["Enhet"]]
    for c in value_cols:
        out[c] = [v if isinstance(v, str) else
                  "" if v is None or pd.isna(v) else
                  v if dec is None else _decimal_comma(v, dec)
                  for v, dec in zip(df[c].tolist(), decimals, strict=True)]
    return out


def _decimal_comma(v: float, decimals: int) -> str:
    """``-1234.5`` -> ``-1234,5``; a value that rounds to zero is ``0`` (never ``-0``)."""
    text = f"{v:.{decimals}f}"
    return ("0" if text.strip("-0.") == "" else text).replace(".", ",")


def write_csv_norwegian(df: pd.DataFrame, path: Path) -> None:
    """A table for Norwegian Excel: ``;`` separated, decimal comma, UTF-8 with BOM."""
    df.to_csv(path, sep=";", index=False, encoding="utf-8-sig")


def plot_rules(budget: BudgetResult, path: Path) -> None:
    """Ratios against the rule thresholds over time; ROBEK years shaded."""
    import matplotlib.pyplot as plt

    r = budget.ratios
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, metric, title in zip(
            axes, ("netto_driftsresultat_pct", "disposisjonsfond_pct", "netto_lanegjeld_pct"),
            ("Netto driftsresultat", "Disposisjonsfond", "Netto lånegjeld"), strict=True):
        ax.plot(budget.years, r[metric], marker="o", ms=3, color="black", label="framskrivning")
        checks = [c for c in budget.rules if c.rule.metric == metric]
        several = len(checks) > 1   # e.g. HR1 and its plan-period mean: one line per threshold
        drawn: set[float] = set()
        for check in checks:
            rule = check.rule
            if rule.average_years > 1:
                ax.plot(budget.years, check.value_pct, ls=":", color="C0", label=rule.name)
            if rule.threshold_pct is not None and rule.threshold_pct not in drawn:
                drawn.add(rule.threshold_pct)
                ax.axhline(rule.threshold_pct, ls="--", lw=1, color="C1", label=(
                    f"grense {number(rule.threshold_pct)} %" if several else rule.name))
        for y in budget.years[r["robek"] > 0]:
            ax.axvspan(y - 0.5, y + 0.5, color="C3", alpha=0.12, lw=0)
        ax.set_title(f"{title} (% av driftsinntektene)")
        axis(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{budget.name}: handlingsregler (rødt: ROBEK-risiko)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_debt(budget: BudgetResult, path: Path) -> None:
    """Debt (bars) with interest and repayments (lines)."""
    import matplotlib.pyplot as plt

    v = budget.values
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar(budget.years, v["lanegjeld_utgaende"] / 1e9, color="#9bb", label="lånegjeld 31.12.")
    ax.set_ylabel("mrd. kr")
    ax2 = ax.twinx()
    ax2.plot(budget.years, v["renteutgifter"] / 1e6, color="C3", marker="o", ms=3,
             label="renteutgifter")
    ax2.plot(budget.years, v["avdrag"] / 1e6, color="C0", marker="s", ms=3, label="avdrag")
    ax2.set_ylabel("mill. kr")
    axis(ax)
    axis(ax2)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower left")
    ax.set_title(f"{budget.name}: gjeld, renter og avdrag")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_waterfall(budget: BudgetResult, path: Path, year: int | None = None) -> None:
    """Waterfall of the change in netto driftsresultat from the first year to ``year``."""
    import matplotlib.pyplot as plt

    years = budget.years
    year = int(year if year is not None else years[min(len(years) - 1, 10)])
    i = int(np.flatnonzero(years == year)[0])
    parts = decompose(budget)
    ndr = budget.values["netto_driftsresultat"] / 1e6
    labels = [f"Netto driftsresultat {int(years[0])}", *PARTS.values(),
              f"Netto driftsresultat {year}"]
    steps = [parts[k][i] / 1e6 for k in PARTS]
    levels = ndr[0] + np.concatenate([[0.0], np.cumsum(steps)])
    fig, ax = plt.subplots(figsize=(11, 5.5))
    ax.bar(0, ndr[0], color="#555")
    for j, step in enumerate(steps, start=1):
        ax.bar(j, step, bottom=levels[j - 1], color="C2" if step >= 0 else "C3")
        ax.annotate(signed(step), (j, max(levels[j - 1], levels[j])),
                    xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    ax.bar(len(steps) + 1, ndr[i], color="#555")
    for j, v in ((0, ndr[0]), (len(steps) + 1, ndr[i])):
        ax.annotate(number(v), (j, max(v, 0.0)), xytext=(0, 3), textcoords="offset points",
                    ha="center", fontsize=8)
    lo, hi = min(levels.min(), ndr[i], 0.0), max(levels.max(), ndr[i], 0.0)
    pad = 0.08 * (hi - lo or 1.0)
    ax.set_ylim(lo - pad, hi + 2 * pad)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(labels)), [textwrap(lbl) for lbl in labels], fontsize=8)
    ax.set_ylabel("mill. kr (løpende priser)")
    axis(ax)
    ax.set_title(f"{budget.name}: hvorfor netto driftsresultat endres {int(years[0])}–{year}")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def textwrap(label: str, width: int = 16) -> str:
    """Wrap a label on spaces for a bar chart tick."""
    words, lines, cur = label.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width and cur:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "\n".join([*lines, cur])


def plot_demographic_pressure(budget: BudgetResult, path: Path) -> None:
    """Change in service cost since the first year by sector, in first-year prices."""
    import matplotlib.pyplot as plt

    price = budget.ratios["cost_index"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for sector, cost in budget.sector_costs.items():
        real = cost / price * price[0]
        ax.plot(budget.years, (real - real[0]) / 1e6, marker="o", ms=3, label=sector)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(f"mill. kr ({int(budget.years[0])}-priser)")
    axis(ax)
    ax.set_title(f"{budget.name}: demografisk kostnadspress (endring fra {int(budget.years[0])})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def okonomiplan_long(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The økonomiplan tables as one tidy table (``table, row, Post, Enhet, column, value, text``).

    ``column`` is the wide table's column name ("2024", "Regnskap 2023"), in order; ``text``
    holds the cells that are words ("Oppfylt"), ``value`` the numbers. Full
    precision (the CSVs round to the unit's decimals): ``kommunesim export`` rebuilds the
    tables from it with ``okonomiplan_from_long``.
    """
    parts = []
    for name, df in tables.items():
        values = [c for c in df.columns if c not in ("Post", "Enhet")]
        long = df.reset_index(names="row").melt(id_vars=["row", "Post", "Enhet"],
                                                value_vars=values, var_name="column")
        long["column"] = long["column"].astype(str)
        raw = long.pop("value")
        long["value"] = pd.to_numeric(raw, errors="coerce")
        long["text"] = [v if isinstance(v, str) else None for v in raw]
        long.insert(0, "table", name)
        parts.append(long)
    return pd.concat(parts, ignore_index=True)


def okonomiplan_from_long(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The wide økonomiplan tables (``Post, Enhet`` and the value columns) from the tidy one."""
    out = {}
    for name in pd.unique(long["table"]):
        part = long[long["table"] == name]
        columns = list(pd.unique(part["column"]))
        cells = part["value"].astype(object).where(part["text"].isna(), part["text"])
        wide = part.assign(cell=cells).pivot(index=["row", "Post", "Enhet"], columns="column",
                                             values="cell")
        wide = wide[columns].reset_index().drop(columns="row").rename_axis(columns=None)
        for c in columns:
            if not any(isinstance(v, str) for v in wide[c]):
                wide[c] = pd.to_numeric(wide[c])
        out[name] = wide
    return out


def write_budget(writer, budget: BudgetResult, with_plots: bool = True,
                 with_xlsx: bool = True) -> None:
    """Stage the CSV and Parquet tables and (optionally) the workbook and PNG plots."""
    tables = okonomiplan_tables(budget)
    writer.parquet("budget.parquet", budget.lines)
    writer.parquet("budget_tables.parquet", okonomiplan_long(tables))
    if with_xlsx:
        write_xlsx(budget, writer.path("budget.xlsx"), tables)
    for name, df in tables.items():
        write_csv_norwegian(_csv_text(df), writer.path(f"budget_{_slug(name)}.csv"))
    tidy = framsikt(budget)
    tidy["belop_1000_kr"] = [_decimal_comma(v, 1) for v in tidy["belop_1000_kr"]]
    write_csv_norwegian(tidy, writer.path("budget_framsikt.csv"))
    budget.lines.to_csv(writer.path("budget_lines.csv"), index=False)
    budget.capacity_table.to_csv(writer.path("budget_capacity_investments.csv"), index=False)
    if with_plots:
        import matplotlib

        matplotlib.use("Agg")
        plot_rules(budget, writer.path("budget_rules.png"))
        plot_debt(budget, writer.path("budget_debt_interest.png"))
        plot_waterfall(budget, writer.path("budget_waterfall.png"))
        plot_demographic_pressure(budget, writer.path("budget_demographic_pressure.png"))

