"""Excel workbooks for people: wide tables, Norwegian headings and number formats.

One workbook per projection (``kommunesim export RESULTS_DIR --out FILE.xlsx`` or the web app's
download), built from the same tables the CLI writes as Parquet:

* ``Les meg``: what the workbook holds, the scenario, units and conventions;
* ``Befolkning <sone>``: persons on 1 January by sex and single age (rows) and year (columns),
  one sheet per zone (district);
* ``Tjenester``: per year, zone and service: users, places, gap, staff and cost in 1000 kr;
* ``Demografikostnader``: cost of population change per service (rows) and year, 1000 kr;
* the budget as økonomiplan tables (``budget_tables``, ``sim.budget.tables``): rows ``Post``
  with their unit (``Enhet``), one column per year (frie inntekter, drift per sektor,
  investeringer, gjeld og rente, handlingsregler, KØB, ...).

Cells hold the exact values (persons may be fractional: the cohort engine projects expected
values); formats only round what is shown: whole numbers get ``#,##0`` and decimals ``0.0``
(``sim.numbers``), which a Norwegian Excel shows as ``48 188`` and ``1,6``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sim.errors import InputError
from sim.io import package_version, read_parquet
from sim.numbers import EXCEL_INT, README_SHEET, number

SEX_LABELS = {"male": "Menn", "female": "Kvinner"}
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=12)
HEADER_ROW = 3
"""Row of the column headings (row 1: title, row 2: unit and note); data start below it."""


@dataclass(frozen=True)
class ExportTables:
    """What a workbook shows: the CLI's result tables and a few facts about the run.

    ``population``, ``services`` and ``demografikostnader`` have the columns of the Parquet
    files of the same names; ``budget`` the økonomiplan tables (``budget_tables``). ``runs``:
    the number of ABM runs the tables are the mean of (None: the cohort engine).
    """

    municipality: str
    municipality_name: str
    scenario: dict[str, Any]
    population: pd.DataFrame
    services: pd.DataFrame | None = None
    demografikostnader: pd.DataFrame | None = None
    budget: dict[str, pd.DataFrame] = field(default_factory=dict)
    version: str = ""
    runs: int | None = None


def tables_from_result(result) -> ExportTables:
    """The tables of an in-memory run, as ``sim.run.write_run``/``write_abm_run`` write them.

    ``result``: a ``sim.run.RunResult``, or an ``AbmRunResult`` (its mean over runs).
    """
    from sim.io import population_table

    abm = getattr(result, "abm", None)  # an AbmRunResult's replicates (sim.abm.montecarlo)
    return ExportTables(
        result.inputs.municipality, result.inputs.municipality_name,
        result.scenario.model_dump(mode="json", exclude={"source"}),
        population_table(result.projection), result.services, result.demografikostnader,
        budget_tables(result.budget), package_version(),
        None if abm is None else abm.runs)


def tables_from_folder(folder: str | Path) -> ExportTables:
    """The tables of a ``kommunesim run`` results folder (either engine; ABM: the mean).

    The ABM's population is the ``mean`` of ``population_quantiles.parquet`` (the mean over
    runs of every cell, as the run computed it).
    """
    folder = Path(folder)
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(folder, None, "not a results folder (no manifest.json); give the "
                         "--out folder of 'kommunesim run'") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"unreadable manifest: {exc}") from None
    engine = manifest.get("engine") if isinstance(manifest, dict) else None
    if engine not in ("cohort", "abm"):
        raise InputError(path, "engine", f"{engine!r} unknown; export reads the results of "
                         "'kommunesim run' (engine cohort or abm)")

    def optional(name: str) -> pd.DataFrame | None:
        if not (folder / name).exists():
            return None
        return read_parquet(folder / name) if name.endswith(".parquet") else \
            pd.read_csv(folder / name)

    if engine == "abm":
        runs = manifest.get("runs")
        if not isinstance(runs, int) or runs < 1:
            raise InputError(path, "runs", f"{runs!r}: an ABM run's manifest gives its number "
                             "of runs (a whole number >= 1)")
        population = (read_parquet(folder / "population_quantiles.parquet")
                      .rename(columns={"mean": "persons"}))
    else:
        population, runs = read_parquet(folder / "population.parquet"), None
    return ExportTables(
        str(manifest.get("municipality", "")), str(manifest.get("municipality_name", "")),
        manifest.get("scenario", {}), population,
        optional("services.parquet"), optional("demografikostnader.parquet"),
        _budget_from_folder(optional("budget_tables.parquet")),
        str(manifest.get("kommunesim_version", "")), runs)


def mean_label(runs: int) -> str:
    """What the ABM's services, budget and workbook are computed of: "snitt av 20 kjøringer"."""
    return f"snitt av {number(runs)} kjøringer"


# --- the budget as økonomiplan tables -------------------------------------------------------

POST, UNIT = "Post", "Enhet"
PCT = "%"
"""Label columns of an økonomiplan table; the other columns are years ("2024", ...)."""


def budget_tables(budget) -> dict[str, pd.DataFrame]:
    """The budget's økonomiplan tables by name (``sim.budget.tables``; {} without a budget)."""
    if budget is None:
        return {}
    from sim.budget.tables import okonomiplan_tables

    return okonomiplan_tables(budget)


def _budget_from_folder(long: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """The økonomiplan tables a run wrote (``budget_tables.parquet``; {} without a budget)."""
    if long is None:
        return {}
    from sim.budget.output import okonomiplan_from_long

    return okonomiplan_from_long(long)


def year_columns(frame: pd.DataFrame) -> list[str]:
    """The year columns of an økonomiplan table."""
    return [c for c in frame.columns if str(c).isdigit()]


# --- number formats -------------------------------------------------------------------------

def integer_format(value: float) -> str:
    """The Excel format of a whole-number cell (``sim.numbers.EXCEL_INT``)."""
    return EXCEL_INT


def _put(ws: Worksheet, row: int, col: int, value: Any, decimals: int | None = 0) -> None:
    """Write a cell: numbers get a Norwegian format (``decimals=None``: as they are)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return
    if isinstance(value, np.generic):
        value = value.item()
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, int | float) and not isinstance(value, bool) and decimals is not None:
        cell.number_format = integer_format(value) if decimals == 0 else "0." + "0" * decimals


def _sheet(wb: Workbook, name: str, title: str, note: str, header: Sequence[Any],
           label_columns: int) -> Worksheet:
    """A sheet with title, note, bold header row and panes frozen below/right of it."""
    ws = wb.create_sheet(sheet_name(name, wb.sheetnames))
    ws.cell(row=1, column=1, value=title).font = TITLE
    ws.cell(row=2, column=1, value=note)
    for j, h in enumerate(header, start=1):
        cell = ws.cell(row=HEADER_ROW, column=j, value=h)
        cell.font = BOLD
        cell.alignment = Alignment(horizontal="left" if j <= label_columns else "right",
                                   wrap_text=True)
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=label_columns + 1)
    for j in range(1, len(header) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 24 if j <= label_columns else 11
    return ws


def sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """A valid, unused Excel sheet name (no brackets, colon, *, ?, slashes; <= 31 chars)."""
    base = re.sub(r"[\[\]:*?/\\]", "-", name)[:31]
    taken = set(taken)
    out, i = base, 2
    while out in taken:
        out = f"{base[: 31 - len(str(i)) - 1]} {i}"
        i += 1
    return out


# --- sheets ---------------------------------------------------------------------------------

def _population_sheets(wb: Workbook, t: ExportTables) -> None:
    pop = t.population
    years = sorted(int(y) for y in pop.year.unique())
    for zone in pop.district.unique():
        part = pop[pop.district == zone]
        wide = part.pivot_table(index=["sex", "age"], columns="year", values="persons",
                                aggfunc="sum", sort=False)
        what = ("forventet antall" if t.runs is None
                else f"{mean_label(t.runs)} av agentmodellen")
        ws = _sheet(wb, f"Befolkning {zone}", f"{t.municipality_name}: folkemengde 1. januar, "
                    f"{zone}", f"Personer ({what}; cellene har uavrundede verdier). "
                    "Alder 105 = 105 år og eldre.",
                    ["Kjønn", "Alder (år)", *(f"{y} (personer)" for y in years)], 2)
        for i, ((sex, age), values) in enumerate(wide.iterrows(), start=HEADER_ROW + 1):
            ws.cell(row=i, column=1, value=SEX_LABELS.get(sex, sex))
            ws.cell(row=i, column=2, value=int(age))
            for j, y in enumerate(years, start=3):
                _put(ws, i, j, values[y])


SERVICE_HEADER = ("År", "Sone", "Tjeneste", "Sektor", "Brukere (personer)", "Plassbehov",
                  "Plasser", "Avvik (plassbehov − plasser)", "Årsverk",
                  "Kostnad (1000 kr, {p}-kroner)", "Kostnad per innbygger (kr, {p}-kroner)")


def _services_sheet(wb: Workbook, t: ExportTables) -> None:
    s = t.services
    price = int(s.price_year.iloc[0])
    ws = _sheet(wb, "Tjenester", f"{t.municipality_name}: tjenester per år, sone og tjeneste",
                "Brukere 1. januar; plassbehov (barnehage: barn under 3 år teller to plasser), "
                "plasser (også nybygg) og avvik der tjenesten har anlegg med plasser; "
                f"kostnad i 1000 kr, faste {price}-kroner.",
                [h.format(p=price) for h in SERVICE_HEADER], 4)
    for i, r in enumerate(s.itertuples(), start=HEADER_ROW + 1):
        for j, v in enumerate((int(r.year), r.district, r.service, r.sector), start=1):
            ws.cell(row=i, column=j, value=v)
        demand = r.place_demand if pd.notna(r.places) else None
        for j, (v, d) in enumerate(((r.users, 0), (demand, 0), (r.places, 0), (r.gap, 0),
                                    (r.staff, 1), (r.cost_nok / 1000, 0),
                                    (r.cost_per_inhabitant_nok, 0)), start=5):
            _put(ws, i, j, v, d)


def _demografikostnader_sheet(wb: Workbook, t: ExportTables) -> None:
    dk = t.demografikostnader
    price = int(dk.price_year.iloc[0])
    wide = dk.pivot_table(index="service", columns="year", values="cost_change_nok",
                          aggfunc="sum", sort=False) / 1000
    years = [int(y) for y in wide.columns]
    ws = _sheet(wb, "Demografikostnader", f"{t.municipality_name}: demografikostnader "
                "(TBU-metoden)", f"Endring fra året før i 1000 kr, faste {price}-kroner: "
                "endring i antall per aldersgruppe × kostnad per innbygger.",
                ["Tjeneste", *(f"{y} (1000 kr)" for y in years)], 1)
    rows = [*wide.iterrows(), ("I alt", wide.sum(axis=0))]
    for i, (service, values) in enumerate(rows, start=HEADER_ROW + 1):
        ws.cell(row=i, column=1, value=service).font = BOLD if service == "I alt" else Font()
        for j, y in enumerate(years, start=2):
            _put(ws, i, j, values[y])


DECIMALS = {PCT: 1, "prosentpoeng": 1, "indeks": 4}
"""Decimals shown per unit of an økonomiplan row (others: whole numbers)."""


def _budget_sheets(wb: Workbook, t: ExportTables) -> None:
    """One sheet per økonomiplan table: Post, Enhet (the row's unit), then the years."""
    for name, frame in t.budget.items():
        # "Frie inntekter" -> "frie inntekter", but "KØB" stays an abbreviation
        title = name[:1].lower() + name[1:] if name[1:2].islower() else name
        ws = _sheet(wb, name, f"{t.municipality_name}: {title}",
                    "Enheten står i kolonnen Enhet; beløp i 1000 kr løpende kroner.",
                    list(frame.columns), 2)
        for i, (post, unit, *values) in enumerate(frame.itertuples(index=False),
                                                  start=HEADER_ROW + 1):
            ws.cell(row=i, column=1, value=post)
            ws.cell(row=i, column=2, value=unit)
            for j, value in enumerate(values, start=3):
                _put(ws, i, j, value, DECIMALS.get(unit, 0))


def _readme(ws: Worksheet, t: ExportTables, sheets: list[str]) -> None:
    ws.title = README_SHEET
    scenario = t.scenario or {}
    if t.runs is None:
        engine, persons = "", "Personer er forventede antall (kohortmodellen)."
    else:
        engine = f", agentmodellen ({mean_label(t.runs)})"
        persons = (f"Personer er {mean_label(t.runs)} av agentmodellen (ABM); tjenester, "
                   "demografikostnader og budsjett er regnet av dette snittet.")
    rows: list[tuple[str, str]] = [
        ("kommunesim", f"{t.municipality_name} ({t.municipality}), scenario "
                       f"«{scenario.get('name', '')}»{engine}"),
        ("Periode", f"{scenario.get('base_year', '')}–{scenario.get('horizon', '')} "
                    "(befolkning 1. januar)"),
        ("Versjon", f"kommunesim {t.version}"),
        ("Tall", "Cellene har uavrundede verdier; formatet viser hele tall med mellomrom som "
                 f"tusenskille. {persons}"),
        ("Enheter", "Står i hver kolonneoverskrift: personer, plasser, årsverk, 1000 kr, %."),
        ("Scenario", json.dumps(scenario, ensure_ascii=False)),
        ("", ""),
        ("Ark", "Innhold"),
    ]
    descriptions = {
        "Befolkning": "folkemengde 1. januar etter kjønn og ettårig alder, én kolonne per år",
        "Tjenester": "brukere, plasser, avvik, årsverk og kostnad per år, sone og tjeneste",
        "Demografikostnader": "kostnaden av befolkningsendringen per tjeneste og år (TBU)",
        "Økonomiplan": "alle budsjettlinjer per år, 1000 kr løpende kroner",
        "Handlingsregler": "handlingsreglenes nøkkeltall i % av driftsinntektene",
    }
    for name in sheets:
        key = next((k for k in descriptions if name.startswith(k)), None)
        rows.append((name, descriptions.get(key, "")))
    for i, (a, b) in enumerate(rows, start=1):
        ws.cell(row=i, column=1, value=a).font = BOLD
        ws.cell(row=i, column=2, value=b)
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 110


def workbook(t: ExportTables) -> Workbook:
    """The workbook: README first, then population, services, demografikostnader, budget."""
    wb = Workbook()
    readme = wb.active
    _population_sheets(wb, t)
    if t.services is not None:
        _services_sheet(wb, t)
    if t.demografikostnader is not None:
        _demografikostnader_sheet(wb, t)
    _budget_sheets(wb, t)
    _readme(readme, t, wb.sheetnames[1:])
    return wb


def workbook_bytes(t: ExportTables) -> bytes:
    """The workbook as XLSX bytes (the web app's download)."""
    buf = io.BytesIO()
    workbook(t).save(buf)
    return buf.getvalue()


def write_xlsx(t: ExportTables, path: str | Path) -> Path:
    """Write the workbook to ``path`` atomically (a temporary file renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        workbook(t).save(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
