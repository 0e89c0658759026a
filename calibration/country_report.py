"""``country_validation.md``: accuracy for every kommune and bydel, interval calibration.

``kommunesim validate --all [--intervals]``: the default projection back-tested for every
kommune and bydel, and (with ``--intervals``) the calibration of the prediction intervals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from calibration.country import (  # noqa: E402
    BYDEL_KOMMUNER,
    EVAL_GROUPS,
    METHODS,
    SIZE_LABELS,
    WITHIN_PCT,
    CountryBacktest,
    ZoneBacktest,
    bydel_backtest,
    country_backtest,
    summary,
)
from sim.data.kommuner import kommune_names  # noqa: E402
from sim.demography import pooling  # noqa: E402

SHORT = (2022, 2024)
LONG = (2019, 2024)
GOALS = {"mape_2y": 1.0, "bias_2y": 0.3, "within_5y": 0.9}
"""Issue 16's goals: 2-year MAPE of the total, |bias|, share within 5 % after 5 years."""


def _pct(x: float, signed: bool = False) -> str:
    return "–" if not np.isfinite(x) else (f"{x:+.2f} %" if signed else f"{x:.2f} %")


def _summary_table(bt: CountryBacktest, horizon: int) -> list[str]:
    """Rows: size classes and all; columns: MAPE / median APE / bias per group, 3 methods."""
    s = summary(bt, horizon)
    labels = [*SIZE_LABELS, "all kommuner"]
    lines = []
    for stat, arr, signed in (("MAPE", s.mape, False), ("median APE", s.mdape, False),
                              ("mean error (bias)", s.bias, True)):
        lines += [f"**{stat}**, {bt.cut} → {bt.last} ({horizon} years):", "",
                  "| size class | n | method | " + " | ".join(EVAL_GROUPS) + " |",
                  "|---|---|---|" + "---|" * len(EVAL_GROUPS)]
        for c, label in enumerate(labels):
            for m, method in enumerate(METHODS):
                lines.append(f"| {label if m == 0 else ''} | {s.n[c] if m == 0 else ''} "
                             f"| {method} | "
                             + " | ".join(_pct(v, signed) for v in arr[m, c]) + " |")
        lines.append("")
    return lines


def _within_table(bt: CountryBacktest, horizon: int) -> list[str]:
    s = summary(bt, horizon)
    labels = [*SIZE_LABELS, "all kommuner"]
    lines = [f"Share of kommuner whose total is within {WITHIN_PCT:.0f} % of the observed, and "
             f"share projected too low, {bt.cut} → {bt.last}:", "",
             "| size class | n | " + " | ".join(f"{m}: within 5 %" for m in METHODS)
             + " | model: too low |", "|---|---|" + "---|" * (len(METHODS) + 1)]
    for c, label in enumerate(labels):
        lines.append(f"| {label} | {s.n[c]} | "
                     + " | ".join(f"{s.within[m, c]:.0%}" for m in range(len(METHODS)))
                     + f" | {s.too_low[0, c]:.0%} |")
    return lines + [""]


def _worst(bt: CountryBacktest, horizon: int, n: int = 8) -> list[str]:
    names = kommune_names()
    err = bt.error_pct()[:, horizon, 0]
    order = np.argsort(-np.abs(err))[:n]
    return ["| kommune | population at jump-off | error of the total |", "|---|---|---|",
            *[f"| {bt.knrs[i]} {names.get(bt.knrs[i], '')} | {bt.base_total[i]:,.0f} "
              f"| {err[i]:+.1f} % |" for i in order], ""]


def plot_country_errors(bts: list[tuple[CountryBacktest, int]], path: Path) -> None:
    """Box plots of the total's error (%) by size class: model and the two baselines."""
    fig, axes = plt.subplots(1, len(bts), figsize=(6 * len(bts), 4.5), sharey=False)
    colors = {"model": "#4C72B0", "no change": "#C44E52", "last growth": "#8C8C8C"}
    for ax, (bt, h) in zip(np.atleast_1d(axes), bts, strict=True):
        size = bt.size
        for m, method in enumerate(METHODS):
            err = bt.error_pct(method)[:, h, 0]
            data = [err[size == c] for c in range(len(SIZE_LABELS))]
            pos = np.arange(len(SIZE_LABELS)) * 4 + m
            bp = ax.boxplot(data, positions=pos, widths=0.8, showfliers=False,
                            patch_artist=True)
            for box in bp["boxes"]:
                box.set_facecolor(colors[method])
                box.set_alpha(0.6)
            ax.plot([], [], color=colors[method], lw=6, alpha=0.6,
                    label={"model": "modellen", "no change": "ingen endring",
                           "last growth": "siste vekst videreført"}[method])
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(np.arange(len(SIZE_LABELS)) * 4 + 1)
        ax.set_xticklabels([lbl.replace(" og over", "+") for lbl in SIZE_LABELS], fontsize=8)
        ax.set_xlabel("innbyggere ved utgangsåret")
        ax.set_ylabel("feil i folketallet (%)")
        ax.set_title(f"Fra {bt.cut} til {bt.last} ({h} år)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _zone_table(zbs: list[ZoneBacktest]) -> list[str]:
    lines = ["| jump-off | horizon | zones | model MAPE | no change MAPE | last growth MAPE "
             "| model median APE | model bias |", "|---|---|---|---|---|---|---|---|"]
    rem = ["| jump-off | horizon | kommune | remainder zone: model error | no change "
           "| last growth |", "|---|---|---|---|---|---|"]
    for zb in zbs:
        zones = ~zb.remainder
        for h in range(1, zb.last - zb.cut + 1):
            errs = {m: zb.error_pct(m)[:, h] for m in METHODS}
            e = errs["model"][zones]
            lines.append(f"| {zb.cut} | {h} | {zones.sum()} | "
                         + " | ".join(_pct(np.nanmean(np.abs(errs[m][zones]))) for m in METHODS)
                         + f" | {_pct(np.nanmedian(np.abs(e)))} | {_pct(np.nanmean(e), True)} |")
            if h in (2, zb.last - zb.cut):
                for i in np.nonzero(zb.remainder)[0]:
                    rem.append(f"| {zb.cut} | {h} | {zb.kommune[i]} | "
                               + " | ".join(_pct(errs[m][i], True) for m in METHODS) + " |")
    return [*lines, "", "The remainder zones (*Uten bydel/sone*, residents SSB places in no "
            "bydel) separately: their jumps are reclassifications, not migration.", "", *rem,
            ""]


def _goal_lines(short: CountryBacktest, long: CountryBacktest) -> list[str]:
    s2, s5 = summary(short, SHORT[1] - SHORT[0]), summary(long, LONG[1] - LONG[0])
    mape, bias, within = s2.mape[0, -1, 0], s2.bias[0, -1, 0], s5.within[0, -1]
    groups2 = [g for i, g in enumerate(EVAL_GROUPS) if s2.mape[0, -1, i]
               >= min(s2.mape[1, -1, i], s2.mape[2, -1, i])]
    groups5 = [g for i, g in enumerate(EVAL_GROUPS) if s5.mape[0, -1, i]
               >= min(s5.mape[1, -1, i], s5.mape[2, -1, i])]

    def ok(flag: bool) -> str:
        return "met" if flag else "**not met**"

    return [
        "| goal (issue 16) | result | |", "|---|---|---|",
        f"| 2-year MAPE of the total <= {GOALS['mape_2y']:.1f} % | {_pct(mape)} "
        f"| {ok(mape <= GOALS['mape_2y'])} |",
        f"| 2-year \\|bias\\| <= {GOALS['bias_2y']:.1f} % | {_pct(bias, True)} "
        f"| {ok(abs(bias) <= GOALS['bias_2y'])} |",
        f"| >= 9 in 10 kommuner within 5 % after 5 years | {within:.0%} "
        f"| {ok(within >= GOALS['within_5y'])} |",
        f"| better than both baselines for every age group (MAPE) | 2 years: "
        f"{'all groups' if not groups2 else 'not for ' + ', '.join(groups2)}; 5 years: "
        f"{'all groups' if not groups5 else 'not for ' + ', '.join(groups5)} "
        f"| {ok(not groups2 and not groups5)} |", ""]


def _sensitivity(rows: list[tuple[str, CountryBacktest, CountryBacktest]]) -> list[str]:
    lines = ["| variant | 2-year MAPE | 2-year bias | 2-year 0-5 MAPE | 5-year MAPE "
             "| 5-year bias | within 5 % after 5 years |", "|---|---|---|---|---|---|---|"]
    for name, short, long in rows:
        s2, s5 = summary(short, SHORT[1] - SHORT[0]), summary(long, LONG[1] - LONG[0])
        lines.append(f"| {name} | {_pct(s2.mape[0, -1, 0])} | {_pct(s2.bias[0, -1, 0], True)} "
                     f"| {_pct(s2.mape[0, -1, 1])} | {_pct(s5.mape[0, -1, 0])} "
                     f"| {_pct(s5.bias[0, -1, 0], True)} | {s5.within[0, -1]:.0%} |")
    return [*lines, ""]


def write_country_report(out: str | Path, with_intervals: bool = False,
                         echo: Callable[[str], None] = print,
                         knrs: tuple[str, ...] | None = None) -> Path:
    """Run the country-wide back-tests (and the interval check) and write the report.

    ``knrs`` limits every back-test to those kommuner (for tests; the report is for all).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    short, long = country_backtest(*SHORT, knrs), country_backtest(*LONG, knrs)
    seconds = time.perf_counter() - t0
    s2 = summary(short, SHORT[1] - SHORT[0])
    echo(f"country-wide back-test ({len(short.knrs)} kommuner, 2 jump-offs) in {seconds:.1f} s: "
         f"2-year MAPE {s2.mape[0, -1, 0]:.2f} %, bias {s2.bias[0, -1, 0]:+.2f} %")
    held = (country_backtest(*SHORT, knrs, settlement="held"),
            country_backtest(*LONG, knrs, settlement="held"))
    with pooling.disabled():
        unpooled = (country_backtest(*SHORT, knrs), country_backtest(*LONG, knrs))
    cities = tuple(k for k in BYDEL_KOMMUNER if knrs is None or k in knrs)
    zbs = [bydel_backtest(2014, 2024, cities), bydel_backtest(2022, 2024, cities)] if cities \
        else []
    plot_country_errors([(short, 2), (long, 5)], out / "country_errors.png")
    excluded = sorted({k for k, _ in short.failed} | {k for k, _ in long.failed})
    names = kommune_names()
    md = [
        "# Accuracy across the country", "",
        "Generated by `kommunesim validate --all` (`calibration/country_report.py`). Every "
        "kommune is projected with the package defaults from 1 January 2019 and 2022 to 2024, "
        "using only data up to the jump-off year (`calibration/country.py`: the estimation "
        "window ends at the jump-off; national mortality, the fertility schedule and the TFR "
        "are from before it; the TFR is Norway's last observed, held). The refugee settlement "
        "in the projected years is the one realised — national settlement (IMDi, "
        "`sim/data/municipalities.toml` `[0000]`) times the kommune's size-weighted share — as "
        "a planner would use a settlement plan; the sensitivity table shows the same without "
        "it. Errors are (projected − observed) / observed; MAPE is their mean absolute value "
        "over kommuner, bias their mean.", "",
        f"{len(short.knrs)} kommuner are back-tested; left out: "
        + ", ".join(f"{k} {names.get(k, '')}" for k in excluded)
        + " (their embedded history before the split is a fixed share of the old kommune, "
        "so it jumps at the split: `SPLIT_HISTORIES`). The country-wide back-test (both "
        f"jump-offs) took {seconds:.1f} s.", "",
        "Baselines: **no change** keeps every age group at its jump-off size; **last growth** "
        "continues each group's own mean yearly growth of the five years before the jump-off.",
        "", "## Goals", "", *_goal_lines(short, long),
        "SSB's own evaluation of its regional projections found 8 in 10 kommuner within 5 % "
        "after five years (Økonomiske analyser 4/2014).", "",
        "![errors by size class](country_errors.png)", "",
        "## Two years: 2022 → 2024", "", *_within_table(short, 2), *_summary_table(short, 2),
        "Largest errors of the total:", "", *_worst(short, 2),
        "## Five years: 2019 → 2024", "", *_within_table(long, 5), *_summary_table(long, 5),
        "Largest errors of the total:", "", *_worst(long, 5),
        "## Sensitivity", "",
        "The same back-tests without the realised settlement (the settlement of the year before "
        "the jump-off held: no information from after it at all) and without pooling small "
        "kommuner toward their size class (`sim/demography/pooling.py`):", "",
        *_sensitivity([("package defaults (above)", short, long),
                       ("settlement of the year before held", *held),
                       ("no pooling", *unpooled)]),
        *_choices(),
        "## Bydeler", "",
        "The bydeler of Oslo, Bergen, Stavanger and Trondheim (SSB 10826), each estimated from "
        "its own history up to the jump-off (`kommunesim run -m oslo --zones bydeler`), "
        "against the same two baselines applied to each bydel. Stavanger's bydeler Finnøy and "
        "Rennesøy are empty before 2020 (merged kommuner), so Stavanger is back-tested from "
        "2022 only, estimated from 2020. Goal (issue 11): 2-year zone MAPE <= 1.5 % and better "
        "than both baselines.", "", *_zone_table(zbs)]
    if with_intervals:
        from calibration.interval_report import interval_section

        md += interval_section(out, echo, knrs)
    path = out / "country_validation.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path


def _choices() -> list[str]:
    return [
        "## Choices made after looking at back-test results", "",
        "* **Refugee settlement by kommune size.** The first country-wide back-test from 2022 "
        "was too low by 1.0 % on average, 2.5 % in kommuner under 2,000 inhabitants and hardly "
        "at all in the largest: settlement in proportion to population gave small kommuner "
        "far fewer refugees than they settled. The share is now population^0.73; the exponent "
        "is not fitted to the back-tests but to the ministry's statement that the largest "
        "kommuner settled about 0.3 % of their population in 2022 (`sim.inputs."
        "settlement_share`, SOURCES.md).",
        "* **Pooling small kommuner toward their size class.** The back-tests showed that a "
        "small kommune's past five years predict its next years poorly (regressing future "
        "growth on past growth over 2010-2019 gives a slope of 0.03-0.13 for kommuner under "
        "2,000 inhabitants, 0.5-0.85 for larger ones). Net migration (refugees excluded) and "
        "the fertility level are now pulled toward the mean of kommuner of the same size "
        "class by empirical-Bayes weights computed from the data's own variances, not tuned "
        "on the back-tests (`sim/demography/pooling.py`). Pooling every kommune helped those "
        "under 2,000 and cost the larger ones a little (over jump-offs 2008-2022 the 5-year "
        "MAPE of kommuner of 5,000 and more rose by 0.05-0.09 points), so only kommuner "
        "under 5,000 inhabitants are pooled: that threshold is a choice made on the "
        "back-tests.",
        "* **Split kommuner left out** (data, above).",
        "* **Kept after comparison:** the five-year estimation window with its mean "
        "in-migration (windows of 2, 3, 5 and 8 years with mean or last-year levels were "
        "compared over jump-offs 2008-2022; none was clearly better at both horizons), and "
        "Norway's last observed TFR held in back-tests. A damped continuation of the TFR's "
        "five-year trend would have cut the 0-5 error at five years from about 11.5 % to "
        "10.8 % over 2008-2022, but only because fertility fell through the whole period; it "
        "was not adopted.", ""]
