"""Sweep analysis: fan charts, tornado charts, sensitivity indices, one self-contained HTML.

``report(DIR)`` writes PNGs and ``report.html`` (images embedded as base64) into ``DIR/report``;
``summary(DIR)`` returns quantiles per indicator and year; ``sensitivity(DIR)`` the indices:

* Sobol (Saltelli) designs: first-order and total Sobol indices (SALib ``sobol.analyze``);
* Latin hypercube: squared standardised regression coefficients (SRC², with the R² of the
  linear fit: where R² is low the indices explain little);
* grids: main-effect shares, Var(E[Y | axis]) / Var(Y), exact for a full factorial.

The tornado chart shows, per axis, the range of the mean indicator over the axis's values (grid)
or over quintiles of its samples (lhs, sobol), around the mean over all scenarios.

ABM sweeps (results with a ``run`` column): everything over scenarios (fan charts, tornado,
sensitivity, the summary's quantiles) uses each scenario's mean over its runs; the Monte Carlo
spread is shown per scenario as P5-P95 over runs (``run_quantiles``, the report's "Monte Carlo"
charts, and the summary's ``run_p5``/``run_p95``: the mean over scenarios of each scenario's
P5/P95 over runs). Cohort sweeps are read as before.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.sweep import SweepColumns, read_columns  # noqa: E402
from sim.errors import InputError  # noqa: E402
from sim.numbers import axis, number  # noqa: E402

__all__ = ["group_stats", "report", "run_quantiles", "sensitivity", "summary"]

FAMILIES = {"population": "Befolkning", "users": "Brukere per tjeneste",
            "staff": "Årsverk per tjeneste", "cost_nok": "Kostnad (NOK)",
            "demografikostnader_nok": "Demografikostnader (NOK, kumulativt)"}
TORNADO = ("population.total", "cost_nok.total", "demografikostnader_nok.total")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_RUN_PANELS = 24
"""Scenarios shown in the report's Monte Carlo charts (the first ones)."""


def _manifest(out: Path) -> dict[str, Any]:
    path = out / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(out, None, "not a sweep folder (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict) or not all(k in manifest for k in
                                                 ("sweep", "design", "scenarios")):
        raise InputError(out, None, "not a sweep folder (its manifest.json is not a sweep's, "
                         "e.g. a 'kommunesim run' output)")
    return manifest


def _ok(manifest: dict[str, Any], out: Path) -> list[int]:
    """Scenarios that finished; ``InputError`` if there are none."""
    ok = [e["scenario"] for e in manifest["scenarios"] if e["status"] == "ok"]
    if not ok:
        raise InputError(out, None, "no successful scenarios to report on")
    return ok


def _report_year(manifest: dict[str, Any], df: pd.DataFrame, year: int | None) -> int:
    years = sorted(df["year"].unique())
    year = year or manifest["sweep"].get("report_year") or int(years[-1])
    if year not in years:
        raise InputError("command line", "year", f"{year} not in the sweep's output years "
                         f"{years[0]}..{years[-1]}")
    return int(year)


def group_stats(key: np.ndarray, value: np.ndarray, n_groups: int,
                quantiles: tuple[float, ...] = QUANTILES) -> dict[str, np.ndarray]:
    """Per group ``0..n_groups-1``: n, mean, std (ddof 1), min, quantiles, max, NaN skipped.

    The quantiles interpolate linearly between order statistics (numpy's and pandas' default);
    groups without values get n 0 and NaN. Columnar, never a loop over rows: a sweep's rows
    repeat the same groups scenario after scenario, so they are one reshape into a [group,
    scenario] matrix; otherwise one sort by group, then a reshape (groups of equal size) or a
    loop over groups.
    """
    labels = [f"p{round(q * 100)}" for q in quantiles]
    stats = {"n": np.zeros(n_groups, dtype=np.int64),
             **{c: np.full(n_groups, np.nan) for c in ("mean", "std", "min", *labels, "max")}}
    keep = ~np.isnan(value)
    if not keep.all():
        key, value = key[keep], value[keep]
    if not len(key):
        return stats
    groups, rows = _tiled(key, value)
    if rows is None:
        small = np.int16 if n_groups <= np.iinfo(np.int16).max else np.int64
        order = np.argsort(key.astype(small), kind="stable")   # a radix sort for int16 keys
        value = value[order]
        n = np.bincount(key, minlength=n_groups)
        groups = np.nonzero(n)[0]
        if (n[groups] == n[groups[0]]).all():
            rows = value.reshape(len(groups), n[groups[0]])
    if rows is not None:
        stats["n"][groups] = rows.shape[1]
        parts = [rows.mean(axis=1), rows.std(axis=1, ddof=1) if rows.shape[1] > 1 else np.nan,
                 rows.min(axis=1), *np.quantile(rows, quantiles, axis=1), rows.max(axis=1)]
    else:
        stats["n"][groups] = n[groups]
        start = np.concatenate([[0], np.cumsum(n)[:-1]])
        per = [_one_group(value[start[g]:start[g] + n[g]], quantiles) for g in groups]
        parts = list(np.array(per).T)
    for column, got in zip(("mean", "std", "min", *labels, "max"), parts, strict=True):
        stats[column][groups] = got
    exact = (stats["n"] > 1) & (stats["min"] == stats["max"])
    stats["std"][exact] = 0.0   # a constant group: exactly 0, not a rounding residue
    return stats


def _tiled(key: np.ndarray, value: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Groups and their [group, repeat] values if ``key`` repeats one sequence of groups.

    A sweep's rows do: every scenario has the same groups in the same order. Else (None, None).
    """
    again = np.flatnonzero(key == key[0])
    period = int(again[1]) if len(again) > 1 else len(key)
    first = key[:period]
    if (len(key) % period or len(np.unique(first)) != period
            or not (key.reshape(-1, period) == first).all()):
        return None, None
    return first, np.ascontiguousarray(value.reshape(-1, period).T)


def _one_group(values: np.ndarray, quantiles: tuple[float, ...]) -> list[float]:
    """mean, std (ddof 1), min, quantiles, max of one group's values."""
    std = float(values.std(ddof=1)) if len(values) > 1 else np.nan
    return [float(values.mean()), std, *np.quantile(values, (0.0, *quantiles, 1.0))]


def _ok_columns(manifest: dict[str, Any], out: Path) -> SweepColumns:
    """The sweep's result columns of the scenarios that succeeded (error if there are none)."""
    cols = read_columns(out)
    ok = np.zeros(int(cols.scenario.max(initial=0)) + 1, dtype=bool)
    ok[[i for i in _ok(manifest, out) if i < len(ok)]] = True
    keep = ok[cols.scenario]
    return cols if keep.all() else cols.select(keep)


def _run_groups(cols: SweepColumns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group each row by (scenario, indicator, year): (key, scenarios, indicator codes, years)."""
    triples = np.stack([cols.scenario.astype(np.int64), cols.indicator, cols.year], axis=1)
    unique, key = np.unique(triples, axis=0, return_inverse=True)
    return key.ravel(), unique[:, 0], unique[:, 1], unique[:, 2]


def _scenario_level(cols: SweepColumns) -> tuple[SweepColumns, pd.DataFrame | None]:
    """Each scenario's value per indicator and year (ABM: the mean over runs).

    ABM sweeps also give the spread over runs (``_run_stats``'s table, sorted by scenario,
    indicator and year), cohort sweeps None.
    """
    if cols.run is None:
        return cols, None
    key, scenario, indicator, year = _run_groups(cols)
    st = group_stats(key, cols.value, len(scenario), (0.05, 0.5, 0.95))
    means = SweepColumns(scenario.astype(np.int32), None, year.astype(np.int16),
                         indicator.astype(np.int32), st["mean"], cols.names)
    stats = pd.DataFrame({"scenario": scenario, "indicator": np.array(cols.names)[indicator],
                          "year": year, "runs": st["n"], "mean": st["mean"], "std": st["std"],
                          "p5": st["p5"], "p50": st["p50"], "p95": st["p95"]})
    return means, stats


def _run_stats(cols: SweepColumns) -> pd.DataFrame:
    """Per scenario, indicator and year: runs, mean, std, p5, p50, p95 over runs."""
    return _scenario_level(cols)[1]


def run_quantiles(out: str | Path) -> pd.DataFrame:
    """ABM sweeps: the spread over runs per scenario, indicator and year (ok scenarios).

    Columns: scenario, indicator, year, runs, mean, std, p5, p50, p95.
    """
    out = Path(out)
    cols = _ok_columns(_manifest(out), out)
    if cols.run is None:
        raise InputError(out, None, "not an ABM sweep: no runs to summarise")
    return _run_stats(cols)


def _frame(cols: SweepColumns, year: int | None = None) -> pd.DataFrame:
    """Scenario-level columns as a tidy frame (optionally one year only), names as text."""
    if year is not None:
        cols = cols.select(cols.year == year)
    order = np.lexsort((cols.year, cols.indicator, cols.scenario))
    return pd.DataFrame({"scenario": cols.scenario[order], "year": cols.year[order],
                         "indicator": np.array(cols.names, dtype=object)[
                             cols.indicator[order]],
                         "value": cols.value[order]})


def _years(cols: SweepColumns) -> pd.DataFrame:
    return pd.DataFrame({"year": np.unique(cols.year)})


def summary(out: str | Path, csv: bool = False, year: int | None = None) -> pd.DataFrame:
    """Quantiles over scenarios per indicator and year (failed scenarios left out).

    With ``csv`` also writes ``summary.csv`` and ``sensitivity.csv`` (at the report year) into
    ``out`` (ABM sweeps also ``run_quantiles.csv``, see ``run_quantiles``). Columns: indicator,
    year, n, mean, std, min, p5, p25, p50, p75, p95, max; ABM sweeps: over the scenarios' means
    over runs, plus runs, run_p5 and run_p95 (mean over scenarios of the P5/P95 over runs).
    Computed on columns (``group_stats``): a 10,000-scenario sweep takes seconds, not minutes.
    """
    out = Path(out)
    manifest = _manifest(out)
    runs = _ok_columns(manifest, out)
    cols, stats = _scenario_level(runs)
    table = _indicator_year_stats(cols)
    if stats is not None:
        per = stats.groupby(["indicator", "year"], sort=True)
        table["runs"] = per["runs"].min().to_numpy()
        table["run_p5"] = per["p5"].mean().to_numpy()
        table["run_p95"] = per["p95"].mean().to_numpy()
    if csv:
        table.to_csv(out / "summary.csv", index=False)
        year = _report_year(manifest, _years(cols), year)
        sensitivity(out, year, cols=cols, manifest=manifest).to_csv(
            out / "sensitivity.csv", index=False)
        if stats is not None:
            stats.to_csv(out / "run_quantiles.csv", index=False)
    return table


def _indicator_year_stats(cols: SweepColumns) -> pd.DataFrame:
    """``summary``'s table over scenarios: one row per indicator and year, sorted by both."""
    years = np.unique(cols.year)
    key = cols.indicator.astype(np.int64) * len(years) + np.searchsorted(years, cols.year)
    st = group_stats(key, cols.value, len(cols.names) * len(years))
    present = st["n"] > 0
    codes, year_idx = np.divmod(np.arange(len(present)), len(years))
    table = pd.DataFrame({"indicator": np.array(cols.names, dtype=object)[codes],
                          "year": years[year_idx], **st})[present]
    return table.reset_index(drop=True)


def _at_year(df: pd.DataFrame, year: int) -> pd.DataFrame:
    """Scenario x indicator values in ``year``."""
    return df[df["year"] == year].pivot(index="scenario", columns="indicator", values="value")


def sensitivity(out: str | Path, year: int | None = None, cols: SweepColumns | None = None,
                manifest: dict[str, Any] | None = None) -> pd.DataFrame:
    """Sensitivity of every indicator in ``year`` to every axis (see the module docstring).

    ABM sweeps: of each scenario's mean over runs. ``cols``: the scenario-level results of
    the ok scenarios if already read (``_scenario_level``).

    Columns: indicator, axis, method, index, value (and ``r2`` for regression).
    """
    out = Path(out)
    manifest = manifest or _manifest(out)
    if cols is None:
        cols = _scenario_level(_ok_columns(manifest, out))[0]
    year = _report_year(manifest, _years(cols), year)
    wide = _at_year(_frame(cols, year), year)
    design = pd.read_parquet(out / "design.parquet").set_index("scenario")
    axes = manifest["design"]["axes"]
    method = manifest["design"]["method"]
    complete = len(wide) == manifest["design"]["n_scenarios"]
    rows = []
    if method == "sobol" and complete:
        from SALib.analyze import sobol

        sweep = manifest["sweep"]
        problem = {"num_vars": len(axes), "names": axes,
                   "bounds": [sweep["axes"][a]["range"] for a in axes]}
        for ind in wide.columns:
            y = wide[ind].to_numpy()
            if np.std(y) == 0:
                continue
            res = sobol.analyze(problem, y, calc_second_order=False,
                                seed=int(sweep["seed"]) % 2**32)
            for k, a in enumerate(axes):
                rows += [dict(indicator=ind, axis=a, method="sobol", index="ST",
                              value=float(res["ST"][k]), conf=float(res["ST_conf"][k])),
                         dict(indicator=ind, axis=a, method="sobol", index="S1",
                              value=float(res["S1"][k]), conf=float(res["S1_conf"][k]))]
    elif method == "grid":
        labels = design.loc[wide.index, [f"{a}:label" for a in axes]]
        for ind in wide.columns:
            y = wide[ind]
            var = float(y.var(ddof=0))
            if var == 0:
                continue
            for a in axes:
                means = y.groupby(labels[f"{a}:label"]).transform("mean")
                rows.append(dict(indicator=ind, axis=a, method="grid", index="main_effect",
                                 value=float(means.var(ddof=0) / var)))
    else:
        x = design.loc[wide.index, axes].to_numpy(float)
        xs = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        design_matrix = np.c_[np.ones(len(xs)), xs]
        for ind in wide.columns:
            y = wide[ind].to_numpy()
            if np.std(y) == 0:
                continue
            ys = (y - y.mean()) / y.std()
            beta, *_ = np.linalg.lstsq(design_matrix, ys, rcond=None)
            r2 = 1.0 - np.sum((ys - design_matrix @ beta) ** 2) / np.sum(ys**2)
            for k, a in enumerate(axes):
                rows.append(dict(indicator=ind, axis=a, method="regression", index="SRC2",
                                 value=float(beta[k + 1] ** 2), r2=float(r2)))
    table = pd.DataFrame(rows, columns=["indicator", "axis", "method", "index", "value",
                                        *(["conf"] if method == "sobol" and complete else []),
                                        *(["r2"] if method not in ("grid", "sobol") or
                                          (method == "sobol" and not complete) else [])])
    table.insert(0, "year", year)
    return table


# --- charts --------------------------------------------------------------------------------

def _family(ind: str) -> str:
    return ind.split(".", 1)[0]


def _fan(table: pd.DataFrame, cols: SweepColumns, indicators: list[str], title: str,
         path: Path) -> None:
    """Fan charts from ``summary``'s quantiles; every scenario's line as well up to 60."""
    n = len(indicators)
    n_cols = min(n, 4)
    rows = -(-n // n_cols)
    fig, axes = plt.subplots(rows, n_cols, figsize=(3.6 * n_cols, 2.7 * rows), squeeze=False)
    few = len(np.unique(cols.scenario)) <= 60
    for ax, ind in zip(axes.ravel(), indicators, strict=False):
        q = table[table["indicator"] == ind].sort_values("year")
        years = q["year"].to_numpy()
        if few:
            one = _frame(cols.select(cols.indicator == cols.names.index(ind)))
            lines = one.pivot(index="year", columns="scenario", values="value")
            ax.plot(lines.index.to_numpy(), lines.to_numpy(), color="grey", lw=0.5, alpha=0.5)
        ax.fill_between(years, q["p5"], q["p95"], color="#4C72B0", alpha=0.2, label="5-95 %")
        ax.fill_between(years, q["p25"], q["p75"], color="#4C72B0", alpha=0.35,
                        label="25-75 %")
        ax.plot(years, q["p50"], color="#1F3A68", lw=1.5, label="median")
        ax.set_title(ind.split(".", 1)[1] if "." in ind else ind, fontsize=9)
        ax.tick_params(labelsize=7)
        axis(ax)
        ax.grid(alpha=0.3)
    _finish_panels(fig, axes, n, title, path)


def _finish_panels(fig, axes, n: int, title: str, path: Path) -> None:
    """Hide unused panels of a small-multiples grid, add legend and title, save and close."""
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _effects(y: pd.Series, design: pd.DataFrame, axis: str, method: str) -> pd.Series:
    """Mean of ``y`` per value (grid) or per quintile (sampled) of ``axis``."""
    if method == "grid":
        key = design.loc[y.index, f"{axis}:label"]
    else:
        key = pd.qcut(design.loc[y.index, axis], 5, labels=False, duplicates="drop")
    return y.groupby(key).mean()


def _tornado(wide: pd.DataFrame, design: pd.DataFrame, axes: list[str], method: str,
             indicators: list[str], year: int, path: Path) -> None:
    fig, plots = plt.subplots(len(indicators), 1, figsize=(8, 1.2 + 0.6 * len(axes) *
                                                           len(indicators)), squeeze=False)
    for ax, ind in zip(plots.ravel(), indicators, strict=True):
        y = wide[ind]
        centre = y.mean()
        bars = []
        for a in axes:
            eff = _effects(y, design, a, method)
            lo_key, hi_key = eff.idxmin(), eff.idxmax()
            bars.append((a, eff.min() - centre, eff.max() - centre, lo_key, hi_key))
        bars.sort(key=lambda b: b[2] - b[1])
        for k, (_a, lo, hi, lo_key, hi_key) in enumerate(bars):
            ax.barh(k, hi - lo, left=lo, color="#DD8452" if method == "grid" else "#4C72B0")
            if method == "grid":
                ax.text(lo, k, f"{lo_key} ", ha="right", va="center", fontsize=7)
                ax.text(hi, k, f" {hi_key}", ha="left", va="center", fontsize=7)
        ax.set_yticks(range(len(bars)), [b[0] for b in bars], fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{ind} {year}: avvik fra snittet {number(centre)}", fontsize=9)
        axis(ax, "x")
        lim = max(max(abs(b[1]), abs(b[2])) for b in bars) * 1.35 or 1.0
        ax.set_xlim(-lim, lim)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _run_bands(stats: pd.DataFrame, indicator: str, design: pd.DataFrame, axes: list[str],
               title: str, path: Path) -> None:
    """Per scenario: mean over runs with the P5-P95 band over runs (small multiples)."""
    stats = stats[stats["indicator"] == indicator]
    scenarios = sorted(stats["scenario"].unique())[:MAX_RUN_PANELS]
    n = len(scenarios)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, plots = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.5 * rows), squeeze=False,
                              sharey=True)
    for ax, i in zip(plots.ravel(), scenarios, strict=False):
        one = stats[stats["scenario"] == i].sort_values("year")
        ax.fill_between(one["year"], one["p5"], one["p95"], color="#55A868", alpha=0.3,
                        label="tilfeldig variasjon (gitt forutsetningene), P5-P95")
        ax.plot(one["year"], one["mean"], color="#2D5F3A", lw=1.5, label="mean")
        labels = ", ".join(str(design.loc[i, f"{a}:label"]) for a in axes) \
            if i in design.index else ""
        ax.set_title(f"[{i}] {labels}", fontsize=8)
        ax.tick_params(labelsize=7)
        axis(ax)
        ax.grid(alpha=0.3)
    _finish_panels(fig, plots, n, title, path)


def _heatmap(sens: pd.DataFrame, index: str, path: Path) -> None:
    table = sens[sens["index"] == index].pivot(index="indicator", columns="axis",
                                               values="value")
    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * table.shape[1], 0.9 + 0.28 * table.shape[0]))
    im = ax.imshow(table.to_numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=7)
    for (r, c), v in np.ndenumerate(table.to_numpy()):
        if np.isfinite(v):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, label=index)
    ax.set_title(f"Sensitivitet ({index}): hvilken antakelse betyr mest for hva", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(out: str | Path, year: int | None = None) -> Path:
    """Write PNG charts and a self-contained ``report.html`` into ``out/report``; returns it."""
    out = Path(out)
    manifest = _manifest(out)
    runs = _ok_columns(manifest, out)
    n_ok = len(_ok(manifest, out))
    cols, stats = _scenario_level(runs)
    abm = stats is not None
    year = _report_year(manifest, _years(cols), year)
    design = pd.read_parquet(out / "design.parquet").set_index("scenario")
    axes, method = manifest["design"]["axes"], manifest["design"]["method"]
    folder = out / "report"
    folder.mkdir(exist_ok=True)
    images: list[tuple[str, Path]] = []
    names = sorted(np.array(cols.names)[np.unique(cols.indicator)].tolist())
    table = _indicator_year_stats(cols)
    of_means = " (snitt over kjøringer)" if abm else ""
    for fam, title in FAMILIES.items():
        members = [n for n in names if _family(n) == fam]
        if members:
            path = folder / f"fan_{fam}.png"
            _fan(table, cols, members, f"{title}: vifte over {n_ok} scenarioer{of_means}",
                 path)
            images.append((title, path))
    if abm:
        runs = manifest.get("runs") or int(stats["runs"].min())
        for ind in TORNADO:
            if ind in names:
                path = folder / f"runs_{ind.split('.', 1)[0]}.png"
                title = (f"Monte Carlo: {ind}, tilfeldig variasjon (gitt forutsetningene), "
                         f"P5-P95 over {runs} kjøringer per scenario")
                _run_bands(stats, ind, design, axes, title, path)
                images.append((title, path))
    wide = _at_year(_frame(cols, year), year)
    torn = [i for i in TORNADO if i in wide.columns]
    if torn:
        path = folder / "tornado.png"
        _tornado(wide, design, axes, method, torn, year, path)
        images.insert(0, (f"Tornado {year}", path))
    sens = sensitivity(out, year, cols=cols, manifest=manifest)
    main_index = {"sobol": "ST", "grid": "main_effect"}.get(method, "SRC2")
    if method == "sobol" and "conf" not in sens.columns:
        main_index = "SRC2"
    if not sens.empty:
        path = folder / "sensitivity.png"
        _heatmap(sens, main_index, path)
        images.insert(1, (f"Sensitivitet {year}", path))
    sens.to_csv(folder / "sensitivity.csv", index=False)
    html_path = folder / "report.html"
    html_path.write_text(_html(manifest, images, sens, main_index, wide, year, n_ok),
                         encoding="utf-8")
    return html_path


def _html(manifest, images, sens, main_index, wide, year, n_ok) -> str:
    sweep = manifest["sweep"]
    axes_desc = "".join(f"<li><code>{html.escape(a)}</code>: "
                        f"{html.escape(json.dumps(sweep['axes'][a], ensure_ascii=False))}</li>"
                        for a in manifest["design"]["axes"])
    failed = [e for e in manifest["scenarios"] if e["status"] == "failed"]
    fail_html = "".join(f"<li>{e['scenario']} ({html.escape(str(e['labels']))}): "
                        f"{html.escape(e['error'])}</li>" for e in failed[:50])
    note = "" if manifest.get("complete") else \
        "<p class=warn>Sweepen er ikke fullført: rapporten bruker bare ferdige deler.</p>"
    if manifest.get("engine") == "abm":
        crn = manifest.get("random_numbers", {})
        note += (f"<p>Agentbasert motor: {manifest.get('runs')} kjøringer per scenario med "
                 f"felles tilfeldige tall (master-seed {crn.get('abm_seed')} for alle "
                 "scenarioer), så forskjeller mellom scenarioene skyldes antakelsene. Vifter, "
                 "tornado og sensitivitet bruker snittet over kjøringene; Monte Carlo-figurene "
                 "viser P5-P95 over kjøringene per scenario: tilfeldig variasjon (gitt "
                 "forutsetningene), ikke et prediksjonsintervall.</p>")
    imgs = "".join(
        f"<h2>{html.escape(t)}</h2><img alt='{html.escape(t)}' src='data:image/png;base64,"
        f"{base64.b64encode(p.read_bytes()).decode()}'>" for t, p in images)
    stats = wide.describe(percentiles=[0.05, 0.5, 0.95]).T[["mean", "5%", "50%", "95%"]] \
        .rename(columns={"mean": "snitt", "5%": "P5", "50%": "median", "95%": "P95"})
    sens_main = sens[sens["index"] == main_index].pivot(index="indicator", columns="axis",
                                                        values="value") if not sens.empty \
        else pd.DataFrame()
    return f"""<!doctype html><html lang="no"><head><meta charset="utf-8">
<title>{html.escape(sweep['name'])}</title><style>
body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px;
text-align:right;white-space:nowrap}}img{{max-width:100%}}.warn{{color:#b00}}</style></head><body>
<h1>{html.escape(sweep['name'])}</h1>
<p>{n_ok} av {manifest['design']['n_scenarios']} scenarioer fullført
({manifest['n_failed']} feilet); design: <b>{manifest['design']['method']}</b>;
seed {sweep['seed']}; motor {html.escape(manifest['engine'])};
kommunesim {html.escape(str(manifest['kommunesim_version']))}.</p>{note}
<h2>Akser</h2><ul>{axes_desc}</ul>
{f"<h2>Feilede scenarioer</h2><ul>{fail_html}</ul>" if failed else ""}
<h2>Sensitivitet {year} ({main_index})</h2>{sens_main.to_html(float_format=lambda v: number(v, 3))}
{imgs}
<h2>Indikatorer {year} over scenarioene</h2>{stats.to_html(float_format=number)}
</body></html>"""
