"""Figures and tables from a ``RunResult``: presentation only, Norwegian text and numbers.

Every function takes finished results (``RunResult``, ABM chunks, sweep tables) and returns a
Plotly figure or Dash components; none computes the model. Tables print numbers with
``sim.numbers`` (``48 188``), figures use Plotly's ``separators=", "`` so axes and hover read
the same way. Key cells carry ``data-cell="<indicator>-<year>"`` so tests and users can find
them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from dash import html

from sim import numbers as fmt
from sim.app.compute import BAND_GROUPS, TOTAL
from sim.demography import AGE_GROUPS
from sim.export import DECIMALS, PCT, POST, UNIT, year_columns
from sim.run import RunResult

Figure = dict[str, Any]
"""A Plotly figure as the plain ``{"data": [...], "layout": {...}}`` Dash sends to the browser.

Plain dicts, not ``plotly.graph_objects``: validating every property in Python cost 20-60 ms
per figure, a multiple of the model run; plotly.js checks the figure in the browser anyway.
"""
BAND_LABEL = "tilfeldig variasjon (gitt forutsetningene)"
"""What the ABM band is: the spread of persons' random events, not forecast uncertainty."""

SERVICE_NOUNS = {
    "barnehage": "barnehagebarn", "grunnskole": "grunnskoleelever", "sfo": "SFO-barn",
    "hjemmetjenester": "brukere av hjemmetjenester", "institusjon": "beboere på institusjon",
    "introduksjonsprogram": "deltakere i introduksjonsprogram",
}
"""What the users of a service are called; others read "brukere av <label>"."""


def age_label(group: str) -> str:
    """``"1-5"`` -> ``"1–5 år"``, ``"90+"`` -> ``"90 år+"``."""
    if group.endswith("+"):
        return f"{group[:-1]} år+"
    return f"{group.replace('-', '–')} år"


def base_figure(title: str, yaxis: str, xaxis: str = "År") -> Figure:
    """An empty figure with the app's look: Norwegian separators, titles, unified hover."""
    axis = {"gridcolor": "#e6e6e6", "zerolinecolor": "#bbb"}
    return {"data": [], "layout": {
        "title": {"text": title}, "separators": fmt.PLOTLY_SEPARATORS,
        "plot_bgcolor": "white", "paper_bgcolor": "white", "hovermode": "x unified",
        "font": {"family": "system-ui, sans-serif", "size": 13},
        "xaxis": {**axis, "title": {"text": xaxis}},
        "yaxis": {**axis, "title": {"text": yaxis}, "tickformat": ",~r"},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40}}}


def scatter(fig: Figure, **props: Any) -> None:
    """Add a line (scatter) trace; hover shows the value as a whole number by default."""
    fig["data"].append({"type": "scatter", "hovertemplate": "%{y:,.0f}", **props})


def bar(fig: Figure, **props: Any) -> None:
    """Add a bar trace."""
    fig["data"].append({"type": "bar", **props})


def message_figure(text: str) -> Figure:
    """An empty figure that says why there is nothing to show."""
    return {"data": [], "layout": {
        "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "plot_bgcolor": "white", "paper_bgcolor": "white",
        "annotations": [{"text": text, "showarrow": False, "font": {"size": 15}}]}}


def table(header: Sequence[str], rows: Iterable[Sequence[Any]],
          cells: Sequence[Sequence[str | None]] | None = None, **props: Any) -> html.Table:
    """An HTML table; ``cells[i][j]`` (if given) becomes ``data-cell`` of row i, column j."""
    body = []
    for i, row in enumerate(rows):
        tds = []
        for j, value in enumerate(row):
            extra = {"data-cell": cells[i][j]} if cells and cells[i][j] else {}
            tds.append(html.Td(value, **extra))
        body.append(html.Tr(tds))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
                      className="tall", **props)


def _by_year(table: pd.DataFrame, by: str, value: str) -> pd.DataFrame:
    """``value`` summed per year (rows) and ``by`` (columns, in order of appearance)."""
    sums = table.groupby(["year", by], sort=False)[value].sum().unstack(by)
    return sums[pd.unique(table[by])].sort_index()


# --- indicators -----------------------------------------------------------------------------

def indicators(result: RunResult) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """Key series by 1 January year: population, age groups, users per service.

    Returns (table [year x key], labels {key: heading}, nouns {key: what is counted}).
    """
    proj = result.projection
    pop = proj.population.sum(axis=1)  # [Y+1, 2, A]
    data = {TOTAL: pop.sum(axis=(1, 2))}
    labels, nouns = {TOTAL: "Folketall"}, {TOTAL: "innbyggere"}
    for g, (lo, hi) in AGE_GROUPS.items():
        data[g] = pop[:, :, lo : hi + 1].sum(axis=(1, 2))
        labels[g] = f"Innbyggere {age_label(g)}"
        nouns[g] = f"innbyggere {age_label(g)}"
    if result.services is not None:
        users = _by_year(result.services, "service", "users").reindex(proj.years)
        for key, service in result.catalogue.services.items():
            data[key] = users[key].to_numpy()
            labels[key] = f"{service.label} (brukere)"
            nouns[key] = SERVICE_NOUNS.get(key, f"brukere av {service.label.lower()}")
    return pd.DataFrame(data, index=pd.Index(proj.years, name="year")), labels, nouns


def report_years(result: RunResult) -> list[int]:
    """Years a planner reads first: the base year, 2030, 2035, 2040 and the horizon."""
    years = [int(y) for y in result.projection.years]
    chosen = {years[0], years[-1]} | {y for y in (2030, 2035, 2040) if y in years}
    return sorted(chosen)


def key_figures(result: RunResult, years: Sequence[int]) -> html.Table:
    """Table of the key series in ``years`` (cells ``data-cell="<key>-<year>"``)."""
    table_, labels, _nouns = indicators(result)
    rows = [[labels[k], *(fmt.number(table_.at[y, k]) for y in years)] for k in table_.columns]
    cells = [[None, *(f"{k}-{y}" for y in years)] for k in table_.columns]
    return table(["", *map(str, years)], rows, cells)


# --- population -----------------------------------------------------------------------------

def population_figure(result: RunResult) -> Figure:
    """Total population on 1 January (per zone when there are several)."""
    proj = result.projection
    fig = base_figure(f"{result.inputs.municipality_name}: folketall 1. januar", "Personer")
    by_zone = proj.population.sum(axis=(2, 3))
    scatter(fig, x=proj.years, y=by_zone.sum(axis=1), name="I alt", mode="lines+markers")
    if len(proj.districts) > 1:
        for d, name in enumerate(proj.districts):
            scatter(fig, x=proj.years, y=by_zone[:, d], name=name, mode="lines")
    return fig


def age_groups_figure(result: RunResult) -> Figure:
    """Persons per planning age group on 1 January."""
    table_, labels, _nouns = indicators(result)
    fig = base_figure(f"{result.inputs.municipality_name}: aldersgrupper", "Personer")
    for g in AGE_GROUPS:
        scatter(fig, x=table_.index, y=table_[g], name=age_label(g), mode="lines")
    return fig


def pyramid_figure(result: RunResult, year: int) -> Figure:
    """Population pyramid by single age in ``year`` with the base year as outline."""
    proj = result.projection
    years = [int(y) for y in proj.years]
    year = year if year in years else years[-1]
    pop = proj.population.sum(axis=1)  # [Y+1, 2, A]
    ages = np.arange(pop.shape[2])
    fig = base_figure(f"{result.inputs.municipality_name}: befolkningspyramide {year}",
                      "Alder (år)", "Personer")
    fig["layout"].update(barmode="overlay", bargap=0.05, hovermode="y unified")
    fig["layout"]["yaxis"]["tickformat"] = "d"
    now = pop[years.index(year)]
    base = pop[0]
    for s, (name, colour) in enumerate((("Menn", "#4C72B0"), ("Kvinner", "#DD8452"))):
        sign = -1 if s == 0 else 1
        bar(fig, y=ages, x=sign * now[s], orientation="h", name=f"{name} {year}",
            marker={"color": colour}, customdata=now[s], hovertemplate="%{customdata:,.0f}")
        scatter(fig, y=ages, x=sign * base[s], mode="lines", name=f"{name} {years[0]}",
                line={"color": "black", "width": 1, "shape": "hvh"},
                customdata=base[s], hovertemplate="%{customdata:,.0f}")
    top = float(np.abs(pop).max()) * 1.05
    step = _nice_step(top / 3)
    ticks = np.arange(-(top // step) * step, top, step)
    fig["layout"]["xaxis"].update(range=[-top, top], tickvals=ticks,
                                  ticktext=[fmt.number(abs(t)) for t in ticks])
    return fig


def _nice_step(x: float) -> float:
    """The smallest 1, 2 or 5 × 10^k that is >= ``x`` (> 0): a round tick step."""
    power = 10.0 ** np.floor(np.log10(x))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= x))


# --- services -------------------------------------------------------------------------------

def service_options(result: RunResult) -> list[dict[str, str]]:
    """Dropdown options: every service of the catalogue by its label."""
    if result.catalogue is None:
        return []
    return [{"label": s.label, "value": k} for k, s in result.catalogue.services.items()]


def services_figure(result: RunResult, service: str | None) -> Figure:
    """Users of one service per year and zone, with its places where it has facilities."""
    if result.services is None:
        return message_figure("Ingen tjenestekatalog for denne kommunen")
    cat = result.catalogue.services
    service = service if service in cat else next(iter(cat))
    part = result.services[result.services.service == service]
    fig = base_figure(f"{cat[service].label}: brukere og plasser", "Brukere / plasser")
    for zone, rows in part.groupby("district", sort=False):
        scatter(fig, x=rows.year, y=rows.users, name=f"Brukere {zone}", mode="lines+markers")
        if rows.places.notna().any():
            scatter(fig, x=rows.year, y=rows.place_demand, name=f"Plassbehov {zone}",
                    mode="lines", line={"dash": "dot"})
            scatter(fig, x=rows.year, y=rows.places, name=f"Plasser {zone}", mode="lines",
                    line={"dash": "dash"})
    return fig


def services_table(result: RunResult, year: int) -> html.Table | html.P:
    """Users, places, gap, staff and cost per service and zone in ``year``."""
    if result.services is None:
        return html.P("Ingen tjenestekatalog for denne kommunen.")
    part = result.services[result.services.year == year]
    price_year = int(part.price_year.iloc[0]) if len(part) else ""
    header = ["Tjeneste", "Sone", "Brukere", "Plassbehov", "Plasser",
              "Avvik (plassbehov − plasser)", "Årsverk", f"Kostnad (1000 kr, {price_year}-kroner)"]
    cat = result.catalogue.services
    rows = [[cat[r.service].label, r.district, fmt.number(r.users),
             fmt.number(r.place_demand if pd.notna(r.places) else None), fmt.number(r.places),
             fmt.signed(r.gap), fmt.number(r.staff), fmt.number(r.cost_nok / 1000)]
            for r in part.itertuples()]
    cells = [[None, None, f"{r.service}-{r.district}-{year}", None, None, None, None, None]
             for r in part.itertuples()]
    return table(header, rows, cells)


def demografikostnader_figure(result: RunResult) -> Figure:
    """Yearly cost of population change by sector (TBU method), mill. kr."""
    if result.demografikostnader is None:
        return message_figure("Ingen tjenestekatalog for denne kommunen")
    dk = result.demografikostnader
    price_year = int(dk.price_year.iloc[0])
    by = _by_year(dk, "sector", "cost_change_nok") / 1e6
    fig = base_figure("Demografikostnader: endring fra året før etter sektor (TBU-metoden)",
                      f"Mill. kr ({price_year}-kroner)")
    fig["layout"]["barmode"] = "relative"
    for sector in by.columns:
        bar(fig, x=by.index, y=by[sector], name=sector, hovertemplate="%{y:,.1f} mill. kr")
    return fig


# --- budget ---------------------------------------------------------------------------------

def plan_years(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Year columns shown: the four økonomiplan years, then 2030, 2035, 2040 and the last."""
    if not tables:
        return []
    years = year_columns(next(iter(tables.values())))
    shown = set(years[:4]) | {y for y in ("2030", "2035", "2040") if y in years} | {years[-1]}
    return [y for y in years if y in shown]


def _plan_cell(value: Any, unit: str) -> str:
    if isinstance(value, str):
        return value
    return fmt.number(None if pd.isna(value) else float(value), DECIMALS.get(unit, 0))


def budget_tables_view(tables: dict[str, pd.DataFrame]) -> list:
    """The økonomiplan tables (handlingsregler first), years as columns, units per row."""
    if not tables:
        return [html.P("Ingen budsjettmodell for denne kommunen (eller den er slått av).")]
    years = plan_years(tables)
    order = sorted(tables, key=lambda name: name != "Handlingsregler")
    out = []
    for name in order:
        frame = tables[name]
        rows = [[rec[POST], rec[UNIT], *(_plan_cell(rec[y], rec[UNIT]) for y in years)]
                for _i, rec in frame.iterrows()]
        body = table(["", "Enhet", *years], rows)
        out.append(html.Details([html.Summary(name), body], open=name == "Handlingsregler"))
    return out


def budget_figure(tables: dict[str, pd.DataFrame]) -> Figure:
    """The handlingsregler in % of driftsinntektene by year, each with its limit (dashed)."""
    rules = tables.get("Handlingsregler")
    if rules is None:
        return message_figure("Ingen budsjettmodell for denne kommunen")
    years = year_columns(rules)
    x = [int(y) for y in years]
    fig = base_figure("Handlingsregler: nøkkeltall i % av driftsinntektene",
                      "% av driftsinntekter")
    for _i, rec in rules[rules[UNIT] == PCT].iterrows():
        scatter(fig, x=x, y=rec[years].astype(float).to_numpy(), name=rec[POST],
                mode="lines+markers", hovertemplate="%{y:,.1f} %")
        limit = re.search(r"([<>]=)\s*(\d+(?:[.,]\d+)?)\s*%", rec[POST])
        if limit:
            value = float(limit.group(2).replace(",", "."))
            scatter(fig, x=x, y=[value] * len(x), name=f"grense {fmt.number(value, 0)} %",
                    mode="lines", line={"dash": "dash", "width": 1}, showlegend=False,
                    hovertemplate="grense %{y:,.1f} %")
    return fig


# --- ABM band -------------------------------------------------------------------------------

def band_figure(result: RunResult, chunks: dict[str, Any] | None, group: str) -> Figure:
    """P5–P95 and median over the ABM runs of one group, with the cohort projection."""
    group = group if group in BAND_GROUPS else TOTAL
    name = "Folketall" if group == TOTAL else f"Innbyggere {age_label(group)}"
    table_, _labels, _nouns = indicators(result)
    fig = base_figure(f"{name}: {BAND_LABEL}", "Personer")
    if chunks:
        runs = np.asarray(chunks["runs"][group], dtype=float)
        p5, p50, p95 = np.quantile(runs, [0.05, 0.5, 0.95], axis=0)
        years = chunks["years"]
        scatter(fig, x=years, y=p95, mode="lines", line={"width": 0}, showlegend=False,
                name="P95", hovertemplate="P95 %{y:,.0f}")
        scatter(fig, x=years, y=p5, mode="lines", line={"width": 0}, fill="tonexty",
                fillcolor="rgba(85,168,104,0.3)",
                name=f"P5–P95 over {len(runs)} kjøringer", hovertemplate="P5 %{y:,.0f}")
        scatter(fig, x=years, y=p50, mode="lines", line={"color": "#2D5F3A"},
                name="Median (ABM)")
    scatter(fig, x=table_.index, y=table_[group], mode="lines",
            line={"color": "black", "dash": "dot"}, name="Kohortmodellen")
    return fig


# --- side by side ---------------------------------------------------------------------------

def compare_sentences(named: Sequence[tuple[str, RunResult]], years: Sequence[int],
                      keys: Sequence[str]) -> list[str]:
    """"+229 barnehagebarn i 2030 vs hovedalternativet": each scenario against the first.

    Differences that round to zero are left out.
    """
    (ref_name, ref), *others = named
    ref_table, _labels, nouns = indicators(ref)
    out = []
    for name, res in others:
        t, *_ = indicators(res)
        for k in keys:
            for y in years:
                if k in t.columns and k in ref_table.columns and y in t.index \
                        and y in ref_table.index:
                    diff = fmt.signed(t.at[y, k] - ref_table.at[y, k])
                    if diff != "0":
                        out.append(f"{name}: {diff} {nouns[k]} i {y} vs {ref_name}")
    return out


def compare_table(named: Sequence[tuple[str, RunResult]], years: Sequence[int],
                  keys: Sequence[str]) -> html.Table:
    """Values of the first scenario and each other's difference from it, per key and year.

    Difference cells carry ``data-cell="diff-<scenario index>-<key>-<year>"``.
    """
    (ref_name, ref), *others = named
    ref_table, labels, _nouns = indicators(ref)
    header = ["", "År", ref_name, *(f"{n} − {ref_name}" for n, _r in others)]
    others_t = [indicators(r)[0] for _n, r in others]
    rows, cells = [], []
    for k in keys:
        if k not in ref_table.columns:
            continue
        for y in years:
            if y not in ref_table.index:
                continue
            row = [labels[k], str(y), fmt.number(ref_table.at[y, k])]
            cell = [None, None, f"ref-{k}-{y}"]
            for i, t in enumerate(others_t, start=1):
                ok = k in t.columns and y in t.index
                row.append(fmt.signed(t.at[y, k] - ref_table.at[y, k]) if ok else fmt.MISSING)
                cell.append(f"diff-{i}-{k}-{y}")
            rows.append(row)
            cells.append(cell)
    return table(header, rows, cells)


def compare_figure(named: Sequence[tuple[str, RunResult]], key: str) -> Figure:
    """One key series per scenario."""
    _t, labels, _n = indicators(named[0][1])
    fig = base_figure(labels.get(key, key), "Personer")
    for name, res in named:
        t, *_ = indicators(res)
        if key in t.columns:
            scatter(fig, x=t.index, y=t[key], name=name, mode="lines+markers")
    return fig
