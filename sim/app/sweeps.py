"""Finished sweep folders in the web app: list them, their scenarios, fans and sensitivity.

Reads with ``experiments.report`` (``summary`` for the fan's quantiles, ``sensitivity``) and
the sweep's ``design.parquet`` and ``manifest.json``. Only folders under the server's sweep
root (``kommunesim serve --sweeps DIR``) can be opened: the browser names a folder from the
list, and the server checks that it is one of them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd
from dash import html

from sim import numbers as fmt
from sim.app.views import Figure, age_label, base_figure, scatter, table

MAX_DEPTH = 3
KINDS = {"population": "Innbyggere", "users": "Brukere", "staff": "Årsverk",
         "cost_nok": "Kostnad (kr)", "demografikostnader_nok": "Demografikostnader (kr)"}
"""Norwegian headings of the sweep indicators' kinds (``experiments.indicators``)."""
WORDS = {"grid": "rutenett", "lhs": "latinsk hyperkube", "sobol": "Sobol",
         "cohort": "kohortmodellen", "abm": "agentbasert modell",
         "main_effect": "hovedeffekt (andel av variansen)", "SRC2": "SRC² (standardisert "
         "regresjon)", "S1": "S1 (Sobol, første orden)", "ST": "ST (Sobol, total)"}
"""Norwegian words for the design methods, engines and sensitivity indices."""


def list_sweeps(root: str | Path | None) -> list[str]:
    """Sweep folders (with a sweep's ``manifest.json``) under ``root``, at most 3 levels down."""
    if root is None or not Path(root).is_dir():
        return []
    root = Path(root).resolve()
    found = []
    for depth in range(MAX_DEPTH + 1):
        for manifest in root.glob("/".join(["*"] * depth + ["manifest.json"])):
            if _is_sweep(manifest):
                found.append(str(manifest.parent))
    return sorted(found)


def label(folder: str, root: str | Path) -> str:
    """A sweep folder as the user sees it: its path under the root."""
    return str(Path(folder).relative_to(Path(root).resolve()))


def _is_sweep(manifest: Path) -> bool:
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and all(k in doc for k in ("sweep", "design", "scenarios"))


def checked(folder: str | None, root: str | Path | None) -> Path | None:
    """``folder`` if it is one of the sweeps under ``root``, else None."""
    return Path(folder) if folder and folder in list_sweeps(root) else None


def _stamp(folder: Path) -> int:
    return (folder / "manifest.json").stat().st_mtime_ns


def manifest(folder: Path) -> dict:
    """The sweep's manifest."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=8)
def _summary(folder: str, _stamp: int) -> pd.DataFrame:
    from experiments.report import summary

    return summary(folder)


@lru_cache(maxsize=8)
def _sensitivity(folder: str, _stamp: int) -> pd.DataFrame:
    from experiments.report import sensitivity

    return sensitivity(folder)


def indicator_options(folder: Path) -> list[dict[str, str]]:
    """The sweep's indicators (``population.total``, ...) with Norwegian labels."""
    codes = sorted(_summary(str(folder), _stamp(folder))["indicator"].unique())
    return [{"label": indicator_label(c), "value": c} for c in codes]


def indicator_label(code: str) -> str:
    """A sweep indicator in Norwegian: ``users.barnehage@Nord`` -> "Brukere barnehage, Nord"."""
    name, _, zone = code.partition("@")
    kind, _, what = name.partition(".")
    if code.startswith("population.total"):
        text = "Folketall"
    else:
        what = age_label(what) if kind == "population" else ("i alt" if what == "total"
                                                              else what)
        text = f"{KINDS.get(kind, kind)} {what}"
    return f"{text}, {zone}" if zone else text


def info(folder: Path) -> html.Div:
    """Name, counts, axes and the scenarios with their axis labels and status."""
    m = manifest(folder)
    sweep, design = m["sweep"], m["design"]
    rows = [[str(e["scenario"]), *(str(e["labels"].get(a, "")) for a in design["axes"]),
             "ok" if e["status"] == "ok" else f"feilet: {e.get('error', '')}"]
            for e in m["scenarios"]]
    return html.Div([
        html.H4(sweep["name"]),
        html.P(f"{m['n_ok']} av {design['n_scenarios']} scenarioer fullført "
               f"({m['n_failed']} feilet); design: {WORDS.get(design['method'], design['method'])},"
               f" modell: {WORDS.get(m['engine'], m['engine'])}."),
        table(["Scenario", *design["axes"], "Status"], rows),
    ])


def fan_figure(folder: Path, indicator: str) -> Figure:
    """Median, 25–75 % and 5–95 % over the sweep's scenarios of one indicator by year."""
    s = _summary(str(folder), _stamp(folder))
    s = s[s["indicator"] == indicator]
    fig = base_figure(f"{indicator_label(indicator)}: vifte over scenarioene", "Verdi")
    for lo, hi, alpha, name in (("p5", "p95", 0.2, "5–95 %"), ("p25", "p75", 0.35, "25–75 %")):
        scatter(fig, x=s.year, y=s[hi], mode="lines", line={"width": 0}, showlegend=False,
                hovertemplate=f"{hi.upper()} %{{y:,.0f}}")
        scatter(fig, x=s.year, y=s[lo], mode="lines", line={"width": 0}, fill="tonexty",
                fillcolor=f"rgba(76,114,176,{alpha})", name=name,
                hovertemplate=f"{lo.upper()} %{{y:,.0f}}")
    scatter(fig, x=s.year, y=s["p50"], mode="lines", line={"color": "#1F3A68"},
            name="Median")
    return fig


def sensitivity_table(folder: Path, indicator: str) -> html.Div:
    """Each axis's sensitivity index for one indicator (at the sweep's report year)."""
    sens = _sensitivity(str(folder), _stamp(folder))
    part = sens[sens["indicator"] == indicator]
    if part.empty:
        return html.P("Ingen sensitivitet for denne indikatoren (den varierer ikke).")
    rows = [[r.axis, WORDS.get(r.index, r.index), fmt.number(r.value, 3)]
            for r in part.itertuples()]
    return html.Div([html.H4(f"Sensitivitet {int(part.year.iloc[0])}"),
                     table(["Akse", "Indeks", "Verdi"], rows)])
