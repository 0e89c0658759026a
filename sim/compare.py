"""Scenarios side by side: ``kommunesim compare main.toml housing.toml --out d``.

Answers the planner's question "how many more barnehage children and pupils in 2030 and 2035,
by zone, and how many places short?" as one table: for each scenario, year, zone and service the
users, the places and the gap (where the catalogue has facilities), and the difference from the
first scenario (the reference, normally the main alternative). The same table is written as
CSV (tidy) and XLSX (Norwegian headers and number formats), with a bar chart of the differences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.services.demand import municipality_totals

DEFAULT_SERVICES = ("barnehage", "grunnskole")
HEADERS_NB = {
    "scenario": "Scenario", "year": "År", "district": "Sone", "service": "Tjeneste",
    "users": "Brukere", "users_diff": "Endring i brukere mot referansen",
    "place_demand": "Plassbehov", "capacity": "Plasser i dag (med vedtatte endringer)",
    "new_places": "Nye plasser (modellens nybygg)",
    "gap": "Plassbehov minus alle plasser (+ mangler, − ledige)",
    "shortage": "Mangler plasser (soner som mangler)",
    "gap_diff": "Endring i plassbehov minus plasser mot referansen",
}


def compare_table(results: list, years: list[int],
                  services: tuple[str, ...] = DEFAULT_SERVICES) -> pd.DataFrame:
    """Users, places and gaps by scenario, year, zone and service, with differences.

    Args:
        results: ``sim.run.RunResult`` of each scenario; the first is the reference.
        years: 1 January years to report.
        services: catalogue keys.

    Returns:
        Columns ``scenario, year, district, service, users, users_diff, capacity, gap,
        gap_diff`` (plus ``place_demand`` and ``new_places`` where the services table has
        them: today's places, the model's new buildings, gap after both), zones and a
        ``Hele kommunen`` row per service; differences are against the reference scenario.
    """
    frames = []
    for r in results:
        if r.services is None:
            raise InputError(r.scenario.source, "services.catalogue",
                             "this scenario has no service catalogue to compare")
        df = r.services
        zones, ref_zones = (tuple(dict.fromkeys(x.services["district"]))
                            for x in (r, results[0]))
        if set(zones) != set(ref_zones):
            raise InputError(r.scenario.source, "zones", f"zones {_names(zones)} differ from "
                             f"the reference's ({_names(ref_zones)}); compare scenarios with "
                             "the same zones")
        missing = [s for s in services if s not in set(df["service"])]
        if missing:
            raise InputError(r.scenario.source, "services.catalogue",
                             f"no service {', '.join(missing)}; the catalogue has "
                             f"{', '.join(sorted(set(df['service'])))}")
        have = sorted(set(df["year"]))
        absent = [y for y in years if y not in have]
        if absent:
            raise InputError(r.scenario.source, "horizon", f"year {absent[0]} is not "
                             f"projected ({have[0]}..{have[-1]})")
        sel = df[df["service"].isin(services) & df["year"].isin(years)]
        # capacity: today's places (with planned openings and closings); new_places: the
        # whole buildings the model adds; gap: place demand - (capacity + new places)
        # shortage: places missing where a zone is short (the kommune's total is the sum over
        # the zones that are short: spare places elsewhere do not cancel it)
        cols = ["year", "district", "service", "users"] + [
            c for c in ("place_demand", "capacity", "new_places") if c in sel.columns] + [
            "gap"] + (["shortage"] if "shortage" in sel.columns else [])
        part = sel[cols].copy()
        if part["district"].nunique() > 1:   # the kommune's totals as the services table's
            total = municipality_totals(sel).assign(district="Hele kommunen")
            part = pd.concat([part, total[cols]], ignore_index=True)
        part = part.sort_values(["year", "service"], kind="stable")
        part.insert(0, "scenario", r.scenario.name)
        frames.append(part)
    names = [r.scenario.name for r in results]
    if len(set(names)) != len(names):
        raise InputError("command line", "SCENARIOS", f"scenario names must differ to be "
                         f"compared (got {', '.join(names)}); set name = \"...\" in each file")
    table = pd.concat(frames, ignore_index=True)
    ref = frames[0].set_index(["year", "district", "service"])
    key = pd.MultiIndex.from_frame(table[["year", "district", "service"]])
    table["users_diff"] = table["users"].to_numpy() - ref["users"].reindex(key).to_numpy()
    table["gap_diff"] = table["gap"].to_numpy() - ref["gap"].reindex(key).to_numpy()
    return table


def _names(names: tuple[str, ...], shown: int = 4) -> str:
    """Zone names for an error line: the first ``shown`` and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def summary_lines(table: pd.DataFrame) -> list[str]:
    """Sentences a planner can read: '+229 barnehagebarn i 2030 mot <reference>'."""
    from sim.numbers import signed

    ref = table["scenario"].iloc[0]
    zones = table["district"].nunique()
    whole = table[((table["district"] == "Hele kommunen") | (zones == 1))
                  & (table["scenario"] != ref)]
    lines = []
    for row in whole.itertuples():
        lines.append(f"{row.scenario}: {signed(row.users_diff)} brukere av "
                     f"{row.service} i {row.year} mot «{ref}»")
    return lines


def write_compare(table: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write compare.csv, compare.xlsx and compare.png into ``out`` atomically."""
    from sim.folders import write_atomically

    def fill(w) -> None:
        table.to_csv(w.path("compare.csv"), index=False)
        _xlsx(table, w.path("compare.xlsx"))
        _plot(table, w.path("compare.png"))

    return write_atomically(out, fill)


def _xlsx(table: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from sim.numbers import EXCEL_INT, README_SHEET

    wb = Workbook()
    ws = wb.active
    ws.title = "Sammenligning"
    cols = list(table.columns)
    ws.append([HEADERS_NB.get(c, c) for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in table.itertuples(index=False):
        ws.append([None if isinstance(v, float) and np.isnan(v) else
                   (int(v) if isinstance(v, np.integer) else v) for v in row])
    for j, c in enumerate(cols, start=1):
        if c not in ("scenario", "year", "district", "service"):
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = EXCEL_INT
        ws.column_dimensions[ws.cell(1, j).column_letter].width = max(12, len(ws.cell(1, j)
                                                                               .value) + 2)
    ws.freeze_panes = "A2"
    readme = wb.create_sheet(README_SHEET)
    for line in ("Sammenligning av scenarier (kommunesim compare).",
                 f"Referanse: {table['scenario'].iloc[0]}. Endringer er mot referansen.",
                 "Brukere: personer som bruker tjenesten 1. januar (befolkning x dekningsgrad).",
                 "Plasser og manglende plasser finnes der katalogen har anlegg per sone.",
                 "Hele kommunen er summen av sonene."):
        readme.append([line])
    wb.save(path)


def _plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.numbers import axis

    ref = table["scenario"].iloc[0]
    others = table[(table["scenario"] != ref) & (table["district"] != "Hele kommunen")]
    others = others.assign(district=others["district"].astype(str))
    services = list(dict.fromkeys(table["service"]))
    years = sorted(set(table["year"]))
    fig, axes = plt.subplots(1, len(services), figsize=(6 * len(services), 4.5), squeeze=False)
    for ax, service in zip(axes[0], services, strict=True):
        part = others[others["service"] == service]
        wide = part.pivot_table(index="district", columns=["scenario", "year"],
                                values="users_diff", aggfunc="sum", sort=False)
        if wide.empty:
            ax.set_axis_off()
            continue
        wide.plot.barh(ax=ax)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{service}: endring i brukere mot «{ref}»")
        ax.set_xlabel("personer")
        ax.set_ylabel("")
        axis(ax, "x")
        ax.legend(ax.containers, [f"{s} {y}" for s, y in wide.columns], fontsize=8)
    fig.suptitle(f"Scenarier mot «{ref}», {', '.join(map(str, years))}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
