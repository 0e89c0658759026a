"""The validation report: ``validation.md`` with PNG plots, from back-tests and calibrations."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from calibration.calibrate import CalibrationResult, calibration_markdown  # noqa: E402
from calibration.validate import AbmBand, BackTest, ValidationResult  # noqa: E402
from sim.demography import AGE_GROUPS, N_AGES  # noqa: E402
from sim.plots import pyramid_compare  # noqa: E402


def plot_pyramid(bt: BackTest, year: int, path: Path) -> None:
    """Observed (bars) against projected (lines) pyramid on 1 January ``year``."""
    i = bt.projection.years.tolist().index(year)
    model = bt.projection.population[i].sum(axis=0)
    obs = bt.observed[i]
    pyramid_compare(obs, model, f"SSB {year}", f"modell fra {bt.base_year} ({bt.variant})",
                    f"{bt.municipality}: observert og framskrevet {year} (fra {bt.base_year})",
                    path)


def plot_error_by_horizon(results: list[ValidationResult], name: str, path: Path) -> None:
    """Total error (%) by horizon for the long back-test, every municipality and variant."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for res in results:
        for bt in res.backtests:
            if bt.name != name:
                continue
            h = [e.horizon for e in bt.errors]
            err = [e.total_error_pct for e in bt.errors]
            ax.plot(h, err, marker="o", ms=3, ls="-" if bt.variant == "calibrated" else "--",
                    label=f"{res.name} ({bt.variant})")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("horisont (år etter utgangsåret)")
    ax.set_ylabel("feil i folketall (%)")
    ax.set_title(f"Tilbaketest {name}: feil etter horisont")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_abm_band(band: AbmBand, bt: BackTest, path: Path) -> None:
    """Observed total and age groups against the ABM P5-P95 band and the cohort projection."""
    years = [bt.base_year, *band.years]
    base_obs = bt.observed[0].sum(axis=0)
    fig, axes = plt.subplots(3, 3, figsize=(11, 9), sharex=True)
    for g, (name, ax) in enumerate(zip(band.groups, axes.ravel(), strict=True)):
        lo, hi = (0, N_AGES - 1) if name == "total" else AGE_GROUPS[name]
        start = float(base_obs[lo : hi + 1].sum())
        p5 = [start, *band.p5[:, g]]
        p95 = [start, *band.p95[:, g]]
        ax.fill_between(years, p5, p95, color="#4C72B0", alpha=0.3,
                        label="ABM: tilfeldig variasjon\n(gitt forutsetningene), P5–P95")
        ax.plot(years, [start, *band.p50[:, g]], color="#4C72B0", lw=1, ls=":",
                label="ABM P50")
        ax.plot(years, [start, *band.cohort[:, g]], color="black", lw=1.2, label="kohortmodell")
        ax.plot(years, [start, *band.observed[:, g]], "o", color="#C44E52", ms=4,
                label="SSB observert")
        ax.set_title(name if name == "total" else f"alder {name}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    step = -(-len(years) // 6)  # at most 6 ticks
    for ax in axes[-1]:
        ax.set_xticks(years[::step])
    fig.suptitle(f"{bt.municipality}: ABM-bånd ({band.runs} kjøringer) mot observert, "
                 f"{bt.name} ({bt.variant})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _ratio(x: float) -> str:
    return "∞" if not np.isfinite(x) else f"{x:.2f}"


def _abm_summary(bands: list[AbmBand]) -> list[str]:
    lines = ["| back-test | variant | runs | age-group × year cells covered | coverage share "
             "| total covered (years) | median width / \\|cohort error\\| |",
             "|---|---|---|---|---|---|---|"]
    for b in bands:
        c, n = b.cells
        t, ty = b.total_covered
        lines.append(f"| {b.name} | {b.variant} | {b.runs} | {c} of {n} | {b.coverage:.2f} "
                     f"| {t} of {ty} | {_ratio(b.median_width_ratio)} |")
    return lines


def _abm_cells_table(b: AbmBand) -> list[str]:
    lines = [f"Every cell, {b.name} ({b.variant}), {b.runs} runs:", "",
             "| year | group | observed | cohort | ABM P5 | ABM P50 | ABM P95 | in band "
             "| band width | cohort error | width / \\|error\\| |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, year in enumerate(b.years):
        for g, name in enumerate(b.groups):
            lines.append(
                f"| {year} | {name} | {b.observed[i, g]:,.0f} | {b.cohort[i, g]:,.0f} "
                f"| {b.p5[i, g]:,.0f} | {b.p50[i, g]:,.0f} | {b.p95[i, g]:,.0f} "
                f"| {'yes' if b.covered[i, g] else 'no'} | {b.width[i, g]:,.0f} "
                f"| {b.cohort_error[i, g]:+,.0f} | {_ratio(b.width_ratio[i, g])} |")
    return lines


def _abm_years_table(b: AbmBand) -> list[str]:
    lines = [f"By year, {b.name} ({b.variant}), {b.runs} runs (total; age groups as a count):", "",
             "| year | observed | cohort | ABM P5–P95 | total in band | width / \\|error\\| "
             "| age groups in band |", "|---|---|---|---|---|---|---|"]
    for i, year in enumerate(b.years):
        lines.append(
            f"| {year} | {b.observed[i, 0]:,.0f} | {b.cohort[i, 0]:,.0f} "
            f"| {b.p5[i, 0]:,.0f}–{b.p95[i, 0]:,.0f} | {'yes' if b.covered[i, 0] else 'no'} "
            f"| {_ratio(b.width_ratio[i, 0])} | {int(b.covered[i, 1:].sum())} of "
            f"{len(b.groups) - 1} |")
    return lines


def _abm_section(res: ValidationResult, out: Path) -> list[str]:
    if not res.abm:
        return []
    c = sum(b.cells[0] for b in res.abm)
    n = sum(b.cells[1] for b in res.abm)
    md = [f"### ABM band: tilfeldig variasjon (gitt forutsetningene), P5–P95 ({res.name})",
          "",
          f"Observed value inside the band in {c} of {n} age-group × year cells over all ABM "
          "back-tests below (the total is counted separately). Width / |error| is the band "
          "width P95 − P5 over the absolute cohort error; a band centred on the cohort "
          "projection covers the observed value only when it is above about 2.", "",
          *_abm_summary(res.abm), ""]
    for b in res.abm:
        if b.variant != "calibrated":
            continue                      # the package variant is in the summary only
        table = _abm_cells_table(b) if len(b.years) <= 3 else _abm_years_table(b)
        png = f"abm_band_{res.municipality}_{b.name.replace(' ', '_')}_{b.variant}.png"
        plot_abm_band(b, res.get(b.name, b.variant), out / png)
        md += [*table, "", f"![ABM band {res.municipality} {b.name} {b.variant}]({png})", ""]
    return md


def _backtest_table(res: ValidationResult) -> list[str]:
    lines = ["| back-test | variant | window | year | horizon | observed | model | total error "
             "| age-group MAPE | single-age MAPE 0-89 | single-age WAPE |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for bt in res.backtests:
        for e in bt.errors:
            lines.append(
                f"| {bt.name} | {bt.variant} | {bt.window[0]}–{bt.window[1]} | {e.year} "
                f"| {e.horizon} | {e.observed_total:,.0f} | {e.model_total:,.0f} "
                f"| {e.total_error_pct:+.2f} % | {e.age_group_mape:.2f} % "
                f"| {e.single_age_mape:.2f} % | {e.single_age_wape:.2f} % |")
    return lines


def _groups_table(bt: BackTest, year: int) -> list[str]:
    e = next(x for x in bt.errors if x.year == year)
    lines = [f"Age groups on 1 January {year}, {bt.name} ({bt.variant}):", "",
             "| group | observed | model | error |", "|---|---|---|---|"]
    for g, (o, m, err) in e.groups.items():
        lines.append(f"| {g} | {o:,.0f} | {m:,.0f} | {err:+.2f} % |")
    return lines


def _components_table(res: ValidationResult) -> list[str]:
    lines = []
    for bt in res.backtests:
        for name, rows in bt.components.items():
            for r in rows:
                lines.append(f"| {bt.name} | {bt.variant} | {name} {r['year']} "
                             f"| {r['observed']:,.0f} | {r['model']:,.0f} "
                             f"| {r['error_pct']:+.1f} % |")
    if not lines:
        return []
    return ["| back-test | variant | component | published | model | error |",
            "|---|---|---|---|---|---|", *lines]


def _abm_intro(results: list[ValidationResult]) -> list[str]:
    bands = [b for res in results for b in res.abm]
    if not bands:
        return ["The ABM P5–P95 band comparison was not computed for this report "
                "(`--abm-runs 0`)."]
    c, n = sum(b.cells[0] for b in bands), sum(b.cells[1] for b in bands)
    t, ty = sum(b.total_covered[0] for b in bands), sum(b.total_covered[1] for b in bands)
    runs = sorted({b.runs for b in bands})
    seeds = sorted({b.seed for b in bands})
    return [
        "**ABM band — tilfeldig variasjon (gitt forutsetningene).** For the back-tests marked "
        "below the agent-based engine "
        f"(`sim.abm.montecarlo.run_abm`, {'/'.join(map(str, runs))} runs, seed "
        f"{'/'.join(map(str, seeds))}) is run with exactly the resolved inputs of the cohort "
        "projection, and the P5–P95 band over runs of each age group and the total is compared "
        "with SSB's observed value. The band reflects only demographic randomness — "
        "Poisson/Bernoulli noise in births, deaths and moves *given* the rates — and none of the "
        "uncertainty in the rates themselves (fertility and mortality levels, migration "
        "volumes, settlement). It is therefore expected to be narrow and to miss observed values "
        "whose error comes from misspecified rates; a miss says the rates were off by more than "
        "chance, not that the ABM is broken. Over all ABM back-tests the observed value lies in "
        f"the band in {c} of {n} age-group × year cells ({c / n:.0%}) and for the total in "
        f"{t} of {ty} years." + (
            " The total is covered less often than the age groups: its relative noise is the "
            "smallest, while every rate error adds up in it." if t / ty < c / n else "")
        + f" The ABM mean of the total differs from the cohort projection by at most "
        f"{_max_z(bands):.1f} Monte Carlo standard errors (SD/√runs), i.e. the two engines "
        "agree given the rates and the band is centred on the cohort projection."]


def _max_z(bands: list[AbmBand]) -> float:
    """Largest |ABM mean - cohort| / (SD / sqrt(runs)) of the total over bands and years."""
    z = [abs(b.mean[i, 0] - b.cohort[i, 0]) / (b.sd[i, 0] / np.sqrt(b.runs))
         for b in bands if b.runs > 1 for i in range(len(b.years)) if b.sd[i, 0] > 0]
    return float(max(z, default=0.0))


def write_validation_report(
    results: list[ValidationResult], calibrations: list[CalibrationResult], out: str | Path,
    reproductions: dict[str, list[dict]] | None = None,
) -> Path:
    """Write ``validation.md`` and its PNG plots into ``out``; returns the Markdown path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = ["# kommunesim validation report", "",
          "Generated by `kommunesim validate` (`calibration.report.write_validation_report`). "
          "The back-tests use the refugee settlement that was realised in the "
          "projected years, as a planner would use the settlement plan; everything else is "
          "estimated from the years before the cut-off (see `calibration/validate.py`; the "
          "package defaults for a base year before 2024 take national mortality, the fertility "
          "schedule and the TFR from before it). Both variants are `sim.inputs.resolve` with "
          "levels fitted by `sim.inputs.estimate_levels` on the window; they differ only in "
          "the fitting rules. **package** = the default rules (mortality and fertility levels "
          "fitted to all window years with published deaths/births, in-migration = the window "
          "mean); **calibrated** = levels fitted to the jump-off year "
          "(`level_years = \"last\"`) and last-year in-migration (`in_level = \"last\"`).", "",
          "Accuracy across all 357 kommuner and the bydeler, and the calibration of the "
          "prediction intervals: [country_validation.md](country_validation.md) (`kommunesim "
          "validate --all --intervals`).", "",
          "The fitted defaults in `calibration/fitted/` (which the default scenarios extend) use "
          "`level_years = \"last\"` with window-mean in-migration (`in_level = \"mean\"`); "
          "the rolling-origin tables below compare the two in-migration rules. The reproductions "
          "of 2023 are in sample: the fitted levels were fitted on data that include 2023.", "",
          *_abm_intro(results), ""]
    for res in results:
        md += [f"## {res.name} ({res.municipality})", ""]
        md += _backtest_table(res) + [""]
        comp = _components_table(res)
        if comp:
            md += ["Births and deaths against the published accounts:", "", *comp, ""]
        for bt in res.backtests:
            if bt.name == "short 2022":
                md += _groups_table(bt, 2024) + [""]
                png = f"pyramid_{res.municipality}_2024_from_2022_{bt.variant}.png"
                plot_pyramid(bt, 2024, out / png)
                md += [f"![pyramid {res.municipality} {bt.variant}]({png})", ""]
        if res.rolling:
            r = res.rolling
            md += [f"Rolling-origin check ({r['window_transitions']}-year windows, total error "
                   f"at horizon {r['horizon']}, calibrated levels): mean absolute error "
                   f"{r['mean_abs_error_pct']['mean']:.2f} % with window-mean in-migration, "
                   f"{r['mean_abs_error_pct']['last']:.2f} % with last-year in-migration.", "",
                   "| cut-off | mean rule | last rule |", "|---|---|---|"]
            md += [f"| {row['cut_off']} | {row['mean']:+.2f} % | {row['last']:+.2f} % |"
                   for row in r["rows"]] + [""]
        md += _abm_section(res, out)
        if res.skipped:
            md += ["Skipped: " + "; ".join(res.skipped), ""]
        for rep in (reproductions or {}).get(res.municipality, []):
            md += [f"Reproduction of {rep['year']} from 1 January {rep['year']} "
                   f"(levels: `{Path(rep['levels']).name}`):", "",
                   "| component | published | model | error | source |", "|---|---|---|---|---|"]
            for name in ("births", "deaths", "refugees"):
                c = rep[name]
                if c["published"] is not None:
                    md.append(f"| {name} | {c['published']:,.0f} | {c['model']:,.1f} "
                              f"| {c['error_pct']:+.2f} % | `{c['source']}` |")
            t = rep["total_next"]
            if t["observed"]:
                md.append(f"| total 1 Jan {rep['year'] + 1} | {t['observed']:,.0f} "
                          f"| {t['model']:,.0f} | {t['error_pct']:+.2f} % | SSB 07459 |")
            md.append("")
    long_png = "error_by_horizon_long.png"
    if any(bt.name == "long 2014" for res in results for bt in res.backtests):
        plot_error_by_horizon(results, "long 2014", out / long_png)
        md += ["## Long back-test: error by horizon", "", f"![error by horizon]({long_png})", ""]
    if calibrations:
        md += ["## Calibration to published targets", ""]
        for cal in calibrations:
            md += [calibration_markdown(cal), ""]
    path = out / "validation.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path
