"""``kommunesim budget``: run a scenario with its budget, write both, print the rules per year."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.errors import InputError
from sim.numbers import number


def budget_command(scenario: Path | None, municipality: str | None, budget_file: Path | None,
                   out: Path, with_plots: bool = True, pace: str | None = None):
    """Run a scenario and its budget; write run and budget outputs into ``out`` atomically.

    The budget config is ``budget_file`` or the municipality's default (its own file or the
    national defaults); ``pace`` picks one of its savings paces (Sprint, Mellomdistanse,
    Maraton for Lørenskog). Returns ``(RunResult, files)``; ``InputError`` propagates (the CLI
    prints one line, exit 2).
    """
    from sim.run import run, write_run
    from sim.scenarios import build_scenario

    sc = build_scenario(scenario, municipality, None, None, None)
    budget = {"enabled": True}
    if budget_file is not None:
        budget["config"] = budget_file.resolve()
    if pace is not None:
        budget["savings_pace"] = pace
    sc = sc.model_copy(update={"budget": sc.budget.model_copy(update=budget)})
    try:
        result = run(sc)
    except InputError as exc:
        if pace is not None and exc.field == "budget.savings_pace":  # --pace, not the file
            raise InputError("command line", "--pace", exc.message) from None
        raise
    if result.budget is None:
        raise InputError(budget_file or "municipality", "budget",
                         f"no budget for municipality {sc.municipality}: "
                         + "; ".join(n for n in result.notes if n.startswith("budget")))
    return result, write_run(result, out, with_plots=with_plots, with_xlsx=True)


def shown_years(years: np.ndarray, first: int = 8, every: int = 5) -> np.ndarray:
    """Indices of the years a terminal table shows: the first ``first``, then every ``every``."""
    idx = list(range(min(first, len(years))))
    idx += [i for i in range(first, len(years)) if (years[i] - years[0]) % every == 0]
    if idx[-1] != len(years) - 1:
        idx.append(len(years) - 1)
    return np.array(idx)


def print_budget(console, budget, variants: dict | None = None) -> None:
    """Rules with their value and status every shown year, what is missing, the why."""
    from rich.table import Table

    from sim.budget.analysis import PARTS, decompose, first_year_met

    cols = shown_years(budget.years)
    years = budget.years[cols]
    pace = {"none": "ingen", "amount_nok": "fast beløp"}.get(budget.parameters.get("savings"),
                                                           budget.parameters.get("savings"))
    table = Table(title=f"{budget.name}: handlingsregler per år (✓ oppfylt, ✗ ikke; "
                        f"sparetempo: {pace})")
    table.add_column("regel", justify="left")
    for y in years:
        table.add_column(str(int(y)), justify="right")
    table.add_column("først", justify="right")
    for check in budget.rules:
        unit = " (endring, pp)" if check.rule.op == "falling" else ""
        cells = [("" if np.isnan(m) else ("✓ " if m == 1 else "✗ ")) + number(v, 1)
                 for v, m in zip(check.value_pct[cols], check.met[cols], strict=True)]
        met = first_year_met(budget, check, check.rule.target_year)
        table.add_row(check.rule.name + unit, *cells, str(met or "–"))
        table.add_row("  mangler (mill. kr)", *[number(v / 1e6) for v in check.need_nok[cols]],
                      "")
    table.add_row("ROBEK-risiko", *["ROBEK" if r else "" for r in budget.ratios["robek"][cols]],
                  "")
    console.print(table)
    if variants:
        ndr = [c for c in budget.rules if c.rule.metric == "netto_driftsresultat_pct"
               and c.rule.op == ">=" and c.rule.average_years == 1]
        if ndr:
            name = ndr[0].rule.name
            pace_table = Table(title=f"Innsparingsbehov for «{name}» (mill. kr) per tempo")
            pace_table.add_column("tempo", justify="left")
            for y in years:
                pace_table.add_column(str(int(y)), justify="right")
            pace_table.add_column("først oppfylt", justify="right")
            for pace, b in variants.items():
                check = next(c for c in b.rules if c.rule.name == name)
                pace_table.add_row(pace, *[number(v / 1e6) for v in check.need_nok[cols]],
                                   str(first_year_met(b, check) or "–"))
            console.print(pace_table)
    parts = decompose(budget)
    why = Table(title=f"Hvorfor netto driftsresultat endres fra {int(budget.years[0])} "
                      "(mill. kr)")
    why.add_column("årsak", justify="left")
    for y in years[1:]:
        why.add_column(str(int(y)), justify="right")
    for key, label in PARTS.items():
        why.add_row(label, *[number(v / 1e6) for v in parts[key][cols[1:]]])
    console.print(why)
