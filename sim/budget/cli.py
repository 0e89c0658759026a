"""``kommunesim budget``: run a scenario with its long-term budget and write both atomically."""

from __future__ import annotations

from pathlib import Path

from sim.errors import InputError


def budget_command(scenario: Path | None, municipality: str | None, budget_file: Path | None,
                   out: Path, with_plots: bool = True, pace: str | None = None):
    """Run a scenario and its budget; write run and budget outputs into ``out`` atomically.

    The budget config is ``budget_file`` or the scenario's/municipality's default; ``pace``
    picks one of its savings paces (Sprint, Mellomdistanse, Maraton for Lørenskog). Returns
    ``(RunResult, files)``; ``InputError`` propagates (the CLI prints one line, exit 2).
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
    result = run(sc)
    if result.budget is None:
        raise InputError(budget_file or "municipality", "budget",
                         f"no budget config for municipality {sc.municipality}; "
                         "give one with --config (see sim/budget/defaults_3222.toml)")
    return result, write_run(result, out, with_plots=with_plots)
