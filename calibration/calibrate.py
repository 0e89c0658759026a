"""Calibrate scenario knobs to published targets with ``scipy.optimize.least_squares``.

A targets file (TOML, see ``calibration/targets/3222.toml``) names the municipality, the
scenario the targets belong to, the targets (each with its seed file and line) and the knobs
that may move, with bounds. Target kinds:

* ``total``: persons on 1 January ``year`` (``tolerance`` relative);
* ``mean_growth``: mean annual growth of the total over the years ``first..last``, i.e.
  ``(P[last + 1] / P[first]) ** (1 / (last - first + 1)) - 1`` (``tolerance`` absolute);
* ``group_change``: relative change of persons aged ``ages[0]..ages[1]`` from 1 January
  ``first`` to 1 January ``last`` (``tolerance`` absolute);
* ``births`` / ``deaths``: the component total of year ``year`` (``tolerance`` relative).

A target with ``fit = false`` is reported but left out of the objective.

Residuals are ``(model - value) / tolerance`` (relative kinds scaled by the value), so a
residual within +-1 means "inside the stated precision of the target". Knobs are dotted
``Scenario`` keys: a year-path field (``migration.in_multiplier``) is multiplied by the knob
value, a scalar field (``mortality.improvement_multiplier``) is set to it. The calibrated
scenario = the target's scenario + the fitted defaults (``calibration/fitted/<knr>.toml``, when
present; the default scenarios extend it) + the knobs; the "default" column is the same
scenario without the fitted values (the package's own estimates). Deterministic: least squares
from fixed starting values, no random draws.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from scipy.optimize import least_squares

from calibration.common import FITTED_DIR, make_scenario
from calibration.fit import toml_ready
from sim.cohort.engine import Projection, project
from sim.config import Scenario, deep_merge, read_scenario_dict
from sim.errors import InputError
from sim.inputs import resolve
from sim.schema import read_toml

KINDS = ("total", "mean_growth", "group_change", "births", "deaths")
RELATIVE = ("total", "births", "deaths")


@dataclass(frozen=True)
class Target:
    """One published figure to reproduce."""

    name: str
    kind: str
    value: float
    tolerance: float
    source: str
    quote: str
    year: int | None = None
    first: int | None = None
    last: int | None = None
    ages: tuple[int, int] | None = None
    fit: bool = True

    def evaluate(self, proj: Projection) -> float:
        """The model's value of this target."""
        years = proj.years.tolist()
        pop = proj.population.sum(axis=(1, 2))  # [Y+1, A]

        def at(year: int) -> np.ndarray:
            if year not in years:
                raise InputError(self.source, self.name,
                                 f"year {year} outside the projection {years[0]}..{years[-1]}")
            return pop[years.index(year)]

        if self.kind == "total":
            return float(at(self.year).sum())
        if self.kind == "mean_growth":
            n = self.last - self.first + 1
            return float((at(self.last + 1).sum() / at(self.first).sum()) ** (1.0 / n) - 1.0)
        if self.kind == "group_change":
            lo, hi = self.ages
            return float(at(self.last)[lo : hi + 1].sum() / at(self.first)[lo : hi + 1].sum()
                         - 1.0)
        comp = proj.component(self.kind).sum(axis=(1, 2, 3))
        return float(comp[years.index(self.year)])

    def residual(self, model: float) -> float:
        """(model - value) / tolerance (relative kinds: tolerance x value)."""
        scale = self.tolerance * (abs(self.value) if self.kind in RELATIVE else 1.0)
        return (model - self.value) / scale

    @property
    def last_year_needed(self) -> int:
        """The last 1 January the target reads."""
        if self.kind == "mean_growth":
            return self.last + 1
        if self.kind == "group_change":
            return self.last
        return self.year + (1 if self.kind in ("births", "deaths") else 0)


@dataclass(frozen=True)
class Knob:
    """A scenario key the calibration may move, with bounds."""

    key: str
    initial: float
    lower: float
    upper: float


@dataclass(frozen=True)
class TargetsFile:
    """A parsed targets file."""

    path: Path
    municipality: str
    description: str
    scenario: Path | None
    targets: list[Target]
    knobs: list[Knob]


def load_targets(path: str | Path) -> TargetsFile:
    """Read and check a targets TOML file (``InputError`` on bad input)."""
    path = Path(path)
    raw = read_toml(path)
    knr = raw.get("municipality")
    if not isinstance(knr, str) or len(knr) != 4 or not knr.isdigit():
        raise InputError(path, "municipality", "a 4-digit kommunenummer string is required")
    targets = []
    for i, t in enumerate(raw.get("target", [])):
        where = f"target[{i}]"
        kind = t.get("kind")
        if kind not in KINDS:
            raise InputError(path, f"{where}.kind", f"{kind!r}; allowed: {', '.join(KINDS)}")
        for key in ("name", "value", "tolerance", "source"):
            if key not in t:
                raise InputError(path, f"{where}.{key}", "required key is missing")
        if t["tolerance"] <= 0:
            raise InputError(path, f"{where}.tolerance", "must be > 0")
        need = {"total": ("year",), "births": ("year",), "deaths": ("year",),
                "mean_growth": ("first", "last"), "group_change": ("first", "last", "ages")}
        for key in need[kind]:
            if key not in t:
                raise InputError(path, f"{where}.{key}", f"required for kind {kind!r}")
        targets.append(Target(
            name=t["name"], kind=kind, value=float(t["value"]), tolerance=float(t["tolerance"]),
            source=t["source"], quote=t.get("quote", ""), year=t.get("year"),
            first=t.get("first"), last=t.get("last"),
            ages=tuple(t["ages"]) if "ages" in t else None, fit=bool(t.get("fit", True))))
    if not targets:
        raise InputError(path, "target", "no [[target]] entries")
    knobs = []
    for key, k in raw.get("knobs", {}).items():
        lo, hi, x0 = float(k["lower"]), float(k["upper"]), float(k.get("initial", 1.0))
        if not lo <= x0 <= hi:
            raise InputError(path, f"knobs.{key}", "need lower <= initial <= upper")
        knobs.append(Knob(key, x0, lo, hi))
    scenario = raw.get("scenario")
    return TargetsFile(path, knr, raw.get("description", ""),
                       (path.parent / scenario).resolve() if scenario else None, targets, knobs)


def _apply_knob(data: dict[str, Any], key: str, value: float) -> dict[str, Any]:
    """Set (scalar) or multiply (year path) the dotted key ``key`` of a scenario dict."""
    section, _, name = key.rpartition(".")
    node = data
    for part in section.split(".") if section else []:
        node = node.setdefault(part, {})
    current = node.get(name)
    if isinstance(current, dict):
        node[name] = {y: float(v) * value for y, v in current.items()}
    elif current is None and _is_path(key):
        node[name] = {data["base_year"]: value}
    else:
        node[name] = value
    return data


def _is_path(key: str) -> bool:
    section, _, name = key.rpartition(".")
    model: Any = Scenario
    for part in section.split(".") if section else []:
        model = model.model_fields[part].annotation
    field = model.model_fields.get(name)
    if field is None:
        raise InputError("targets", f"knobs.{key}", "not a Scenario key")
    return "dict" in str(field.annotation)


def _with_knobs(base: dict[str, Any], knobs: list[Knob], x) -> dict[str, Any]:
    data = json.loads(json.dumps(base))  # deep copy; year keys become strings (valid input)
    data["base_year"] = base["base_year"]
    for knob, value in zip(knobs, x, strict=True):
        data = _apply_knob(data, knob.key, float(value))
    return data


@dataclass(frozen=True)
class CalibrationResult:
    """The calibrated knobs and every target under the default, fitted and calibrated scenario."""

    municipality: str
    targets_file: Path
    knobs: dict[str, float]
    bounds: dict[str, tuple[float, float]]
    rows: list[dict[str, Any]]     # per target: value, tolerance, default, fitted, calibrated
    success: bool
    message: str
    nfev: int
    cost: float
    scenario: dict[str, Any]       # the calibrated scenario (full dict)
    base_scenario: Path | None
    fitted_file: Path | None


def base_scenario_dict(tf: TargetsFile, fitted: bool = True) -> tuple[dict[str, Any], Path | None]:
    """The targets' scenario (following ``extends``) with or without the fitted defaults.

    With ``fitted``: the scenario plus the keys of ``calibration/fitted/<knr>.toml`` it does not
    set itself (a scenario that extends the fitted file has them already). Without: the scenario
    with the fitted file's values taken out, i.e. the package's own estimates.
    """
    data = read_scenario_dict(tf.scenario) if tf.scenario else {"municipality": tf.municipality}
    data.setdefault("base_year", 2024)
    fitted_path = FITTED_DIR / f"{tf.municipality}.toml"
    if not fitted_path.exists():
        return data, None
    patch = read_scenario_dict(fitted_path)
    patch.pop("municipality", None)
    if fitted:
        return deep_merge(patch, data), fitted_path
    return _without(data, patch), None


def _without(data: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the keys (top level or in a section) that have ``patch``'s value."""
    out = {}
    for key, value in data.items():
        top = patch.get(key)
        if isinstance(value, dict) and isinstance(top, dict):
            out[key] = {k: v for k, v in value.items() if k not in top or top[k] != v}
        elif key not in patch or top != value:
            out[key] = value
    return out


def calibrate(
    municipality: str, targets_file: str | Path, population: str | Path | None = None,
) -> CalibrationResult:
    """Fit the targets file's knobs to its targets (bounded least squares)."""
    tf = load_targets(targets_file)
    if tf.municipality != municipality:
        raise InputError(tf.path, "municipality",
                         f"targets are for {tf.municipality}, asked {municipality}")
    horizon = max(t.last_year_needed for t in tf.targets)

    def prepare(data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        data["horizon"] = max(int(data.get("horizon", horizon)), horizon)
        if population is not None:
            data.setdefault("inputs", {})["population"] = str(population)
        return data

    default, _ = base_scenario_dict(tf, fitted=False)
    fitted, fitted_path = base_scenario_dict(tf, fitted=True)
    default, fitted = prepare(default), prepare(fitted)

    def model_values(data: dict[str, Any]) -> list[float]:
        proj = project(resolve(make_scenario(data, str(tf.path))))
        return [t.evaluate(proj) for t in tf.targets]

    def residuals(x) -> np.ndarray:
        vals = model_values(_with_knobs(fitted, tf.knobs, x))
        return np.array([t.residual(v) for t, v in zip(tf.targets, vals, strict=True) if t.fit])

    x0 = np.array([k.initial for k in tf.knobs])
    if tf.knobs:
        sol = least_squares(residuals, x0, bounds=([k.lower for k in tf.knobs],
                                                   [k.upper for k in tf.knobs]),
                            method="trf", x_scale=1.0, diff_step=1e-4, xtol=1e-10, ftol=1e-10)
        x, success, message, nfev, cost = sol.x, bool(sol.success), sol.message, sol.nfev, \
            float(sol.cost)
    else:
        x, success, message, nfev, cost = x0, True, "no knobs", 0, \
            float(0.5 * np.sum(residuals(x0) ** 2))
    calibrated = _with_knobs(fitted, tf.knobs, x)
    v_def, v_fit, v_cal = model_values(default), model_values(fitted), model_values(calibrated)
    rows = []
    for t, a, b, c in zip(tf.targets, v_def, v_fit, v_cal, strict=True):
        rows.append({"name": t.name, "kind": t.kind, "target": t.value,
                     "tolerance": t.tolerance, "source": t.source, "quote": t.quote,
                     "default": a, "fitted": b, "calibrated": c,
                     "fitted_to": t.fit,
                     "residual_default": t.residual(a), "residual_calibrated": t.residual(c),
                     "within_tolerance": bool(abs(t.residual(c)) <= 1.0 + 1e-9)})
    return CalibrationResult(
        municipality, tf.path, {k.key: float(v) for k, v in zip(tf.knobs, x, strict=True)},
        {k.key: (k.lower, k.upper) for k in tf.knobs}, rows, success, str(message), int(nfev),
        cost, calibrated, tf.scenario, fitted_path)


def write_calibration(result: CalibrationResult, out: str | Path) -> list[Path]:
    """Write ``<knr>_calibrated.toml`` (a scenario that extends the base), JSON and Markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    knr = result.municipality
    toml_path = out / f"{knr}_calibrated.toml"
    data: dict[str, Any] = {}
    if result.base_scenario is not None:
        data["extends"] = os.path.relpath(result.base_scenario, out.resolve())
    keep = dict(result.scenario)
    for key in ("inputs", "source"):
        keep.pop(key, None)
    keep["name"] = f"{keep.get('name', 'default')} + calibrated"
    data.update(keep)
    header = (f"# Calibrated scenario for {knr}: {result.targets_file.name} fitted with "
              "calibration.calibrate.calibrate (scipy least_squares, bounded).\n"
              + "".join(f"# {k} = {v:.6g} (bounds {result.bounds[k]})\n"
                        for k, v in result.knobs.items()) + "\n")
    toml_path.write_text(header + tomli_w.dumps(toml_ready(data)), encoding="utf-8")
    json_path = out / f"{knr}_calibration.json"
    json_path.write_text(json.dumps({
        "municipality": knr, "targets_file": str(result.targets_file),
        "knobs": result.knobs, "bounds": result.bounds, "success": result.success,
        "message": result.message, "nfev": result.nfev, "cost": result.cost,
        "fitted_defaults": str(result.fitted_file) if result.fitted_file else None,
        "targets": result.rows}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path = out / f"{knr}_calibration.md"
    md_path.write_text(calibration_markdown(result), encoding="utf-8")
    return [toml_path, json_path, md_path]


def _fmt(kind: str, v: float) -> str:
    return f"{v:,.0f}" if kind in RELATIVE else f"{v * 100:.2f} %"


def calibration_markdown(result: CalibrationResult) -> str:
    """A Markdown table: target, default, fitted, calibrated, with tolerance and source."""
    lines = [f"### Calibration {result.municipality} ({result.targets_file.name})", "",
             "Knobs: " + (", ".join(f"`{k}` = {v:.4f} (bounds {result.bounds[k][0]}–"
                                     f"{result.bounds[k][1]})" for k, v in result.knobs.items())
                          or "none"),
             f"; least squares: {result.message} ({result.nfev} evaluations, "
             f"cost {result.cost:.4g}).", "",
             "| target | source | published | default scenario | + fitted levels | calibrated "
             "| within tolerance |", "|---|---|---|---|---|---|---|"]
    for r in result.rows:
        tol = (f"±{r['tolerance'] * 100:.2g} %" if r["kind"] in RELATIVE
               else f"±{r['tolerance'] * 100:.2g} pp")
        lines.append(f"| {r['name']} | `{r['source']}` | {_fmt(r['kind'], r['target'])} ({tol}) "
                     f"| {_fmt(r['kind'], r['default'])} | {_fmt(r['kind'], r['fitted'])} "
                     f"| {_fmt(r['kind'], r['calibrated'])} "
                     f"| {'yes' if r['within_tolerance'] else 'no'}"
                     f"{'' if r['fitted_to'] else ' (reported, not fitted)'} |")
    return "\n".join(lines) + "\n"
