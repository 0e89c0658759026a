"""Sweep files (TOML): a base scenario, axes over scenario keys, a design and the outputs kept.

A sweep is validated on load like a scenario: bad input raises one ``InputError`` naming the file,
the field and what is allowed. ``plan_sweep`` turns it into a ``SweepPlan``: the design (one row
per scenario, reproducible from the sweep's seed) and a function that builds scenario ``i``.

Format (see ``experiments/sweeps/*.toml``)::

    name = "Lørenskog: refugees x growth"
    seed = 20250101            # one SeedSequence for the sweep (design and scenario seeds)
    engine = "cohort"          # "cohort" (expected values) or "abm" (persons; needs runs)
    # runs = 20                # abm: replicates per scenario, all scenarios on the same
    #                          # run seeds (common random numbers, see ``abm_seed``)
    chunk_size = 16            # scenarios per task (and per Parquet part)
    base = "../scenarios/lorenskog_main.toml"   # or an inline [base] table (may use extends)

    [design]
    method = "grid"            # grid | lhs | sobol
    # samples = 64             # lhs: scenarios; sobol: base samples N (N * (axes + 2) runs)

    [axes."migration.in_multiplier"]        # grid: named values (scalars or year paths)
    values = { low = 0.85, main = 1.0, high = 1.15 }

    [axes."fertility.tfr"]                  # lhs/sobol: a range (a scalar, or x scale path)
    range = [1.2, 1.9]

    # housing programmes (both engines): e.g. housing.other_completions_per_year,
    # housing.projects (named lists of project tables), or "housing" (whole tables; the
    # string "none" for no programme); abm only: the [abm] settings

    [outputs]
    indicators = ["population", "age_groups", "users", "cost"]
    years = [2030, 2040, 2050] # optional; default every year

Limits, checked before any work: at most ``MAX_SCENARIOS`` scenarios (ABM: scenario runs) per
sweep unless ``max_scenarios`` (``--max-scenarios``) raises it. Every axis value is validated
with the base scenario before the first scenario runs, and values that change what ``resolve``
reads (municipality, base year, input files, estimation windows, ...) are resolved once each:
a value that could only fail is an error, not a sweep of failures.

ABM sweeps run ``runs`` replicates per scenario with one master seed for every scenario,
``abm_seed(sweep.seed)`` (a child of the sweep's SeedSequence): run r of every scenario uses
the same run seed, so scenario differences come from the assumptions, not from different
random draws (common random numbers).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from sim.abm.config import no_growth_target
from sim.config import (
    MAX_SEED,
    Scenario,
    deep_merge,
    extends_file,
    read_scenario_dict,
    scenario_from_dict,
)
from sim.errors import InputError
from sim.schema import (
    MAX_STRING_CHARS,
    MAX_YEAR,
    MIN_YEAR,
    Frozen,
    YearPath,
    read_toml,
    validation_error,
)

__all__ = [
    "ENGINES", "OUTPUTS", "Axis", "Sweep", "SweepPlan", "abm_seed", "axis_keys", "load_sweep",
    "plan_sweep", "sweep_from_dict",
]

ENGINES = ("cohort", "abm")
ABM_ONLY = ("abm",)
"""Scenario sections that act only in the agent-based engine (axes on them need engine abm)."""
NOT_SWEPT = ("budget",)
"""Scenario sections a sweep does not compute (no output depends on them: axes are refused)."""
_WHOLE = ("housing",)
"""Sections an axis may replace as a whole table (``"none"``: no such section)."""
OUTPUTS = {
    "population": "total population (population.total)",
    "age_groups": "population by planning age group (population.<group>)",
    "users": "users per service (users.<service>)",
    "staff": "staff (årsverk) per service (staff.<service>)",
    "cost": "cost per service and total (cost_nok.<service>, cost_nok.total)",
    "demografikostnader": "cumulative demographic cost change since the base year, TBU method "
                          "(demografikostnader_nok.total)",
    "zones": "per zone, for scenarios with zones: population and users of population-driven "
             "services (population.total@<zone>, users.<service>@<zone>)",
}
DEFAULT_OUTPUTS = ("population", "age_groups", "users", "cost", "demografikostnader")
_NOT_AXES = {"source", "seed"}
_SPAN = ("base_year", "horizon")
"""Scenario keys that set the years a scenario has (``outputs.years`` must be among them)."""
MAX_SCENARIOS = 100_000
"""Most scenarios (ABM: scenarios x runs) per sweep unless ``--max-scenarios`` says more."""
_SCHEMA_CHECKED = ("name", "fertility.tfr", "migration.in_multiplier",
                   "migration.out_rate_multiplier", "migration.in_per_year",
                   "refugees.settled_per_year", "services.coverage_path",
                   "services.unit_cost_growth", "budget", "abm", "housing")
"""Axis keys whose values the scenario schema (and ``_check_services``) check completely: no
``resolve`` probe."""


class Axis(Frozen):
    """One axis: named ``values`` (grid) or a ``range`` (lhs/sobol)."""

    values: dict[str, Any] | list[Any] | None = Field(
        None, description="grid values: {name = value} or a list; scalars or year paths")
    range: tuple[float, float] | None = Field(
        None, description="[low, high] sampled uniformly (lhs, sobol)")
    scale: YearPath | None = Field(
        None, description="with range: the value is this year path times the sample")

    @field_validator("values")
    @classmethod
    def _values(cls, values: dict[str, Any] | list[Any] | None):
        if values is not None and len(values) == 0:
            raise ValueError("needs at least one value")
        return values

    @field_validator("range")
    @classmethod
    def _range(cls, rng: tuple[float, float] | None):
        if rng is not None and not rng[0] < rng[1]:
            raise ValueError(f"empty range [{rng[0]:g}, {rng[1]:g}]: needs low < high")
        return rng

    @model_validator(mode="after")
    def _one_kind(self) -> Axis:
        if (self.values is None) == (self.range is None):
            raise ValueError("give either 'values' (grid) or 'range' (lhs, sobol)")
        if self.scale is not None and self.range is None:
            raise ValueError("'scale' needs a 'range'")
        return self

    def named_values(self) -> list[tuple[str, Any]]:
        """(label, value) pairs of a grid axis, in file order."""
        if isinstance(self.values, dict):
            return list(self.values.items())
        return [(_label(v, i), v) for i, v in enumerate(self.values or [])]


def _label(value: Any, i: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return f"v{i}"
    return str(value)


class Design(Frozen):
    """How scenarios are drawn from the axes."""

    method: Literal["grid", "lhs", "sobol"] = "grid"
    samples: int | None = Field(
        None, ge=1, description="lhs: number of scenarios; sobol: base sample size N (a power "
        "of 2; N * (axes + 2) scenarios)")


class Outputs(Frozen):
    """Indicators kept per scenario and year (municipality totals)."""

    indicators: tuple[str, ...] = DEFAULT_OUTPUTS
    years: tuple[int, ...] | None = Field(None, description="years kept; default every year")

    @field_validator("indicators")
    @classmethod
    def _known(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if not names:
            raise ValueError(f"needs at least one output; allowed: {', '.join(OUTPUTS)}")
        for name in names:
            if name not in OUTPUTS:
                raise ValueError(f"unknown output '{name}'; allowed: {', '.join(OUTPUTS)}")
        return names

    @field_validator("years")
    @classmethod
    def _years(cls, years: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if years is not None:
            if not years:
                raise ValueError("needs at least one year (or leave out for every year)")
            for y in years:
                if not MIN_YEAR <= y <= MAX_YEAR:
                    raise ValueError(f"year {y} outside {MIN_YEAR}..{MAX_YEAR}")
            return tuple(sorted(set(years)))
        return years


class Sweep(Frozen):
    """A sweep: base scenario, axes, design, outputs."""

    name: str = Field("sweep", min_length=1)
    engine: str = Field("cohort", description="projection engine: cohort or abm")
    runs: int | None = Field(None, ge=1, le=100_000,
                             description="abm: replicates per scenario (required for abm)")
    seed: int = Field(20240101, ge=0, le=MAX_SEED,
                      description="entropy of the sweep's SeedSequence")
    chunk_size: int = Field(16, ge=1, le=100_000, description="scenarios per task and part")
    base: str | dict[str, Any] = Field(description="scenario TOML path or inline table")
    design: Design = Design()
    axes: dict[str, Axis] = Field(description="scenario keys by dotted path")
    outputs: Outputs = Outputs()
    report_year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR,
                                    description="year for tornado and sensitivity; default last")
    source: str | None = None

    @field_validator("engine")
    @classmethod
    def _engine(cls, engine: str) -> str:
        check_engine(engine)
        return engine

    @field_validator("axes")
    @classmethod
    def _axes(cls, axes: dict[str, Axis]) -> dict[str, Axis]:
        if not axes:
            raise ValueError("needs at least one axis, e.g. [axes.\"migration.in_multiplier\"]")
        return axes


def check_engine(engine: str) -> None:
    """Raise ``ValueError`` unless the engine can run sweeps."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}'; allowed: {', '.join(ENGINES)}")


# --- scenario keys -------------------------------------------------------------------------

def _leaves(model: type, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not prefix and name in _NOT_AXES:
            continue
        ann = field.annotation
        sub = next((a for a in getattr(ann, "__args__", (ann,))
                    if isinstance(a, type) and issubclass(a, Frozen)), None)
        if sub is not None and not str(ann).startswith(("tuple", "dict")):
            out.update(_leaves(sub, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = field
    return out


_SCENARIO_LEAVES = _leaves(Scenario)


def axis_keys() -> tuple[str, ...]:
    """Scenario keys an axis may address."""
    return tuple(_SCENARIO_LEAVES)


def _is_path(key: str) -> bool:
    if key not in _SCENARIO_LEAVES:
        return False
    return str(_SCENARIO_LEAVES[key].annotation).startswith(
        "typing.Optional[typing.Annotated[dict[int, float]")


def _leaf_of(key: str) -> str | None:
    """The scenario field an axis key addresses (a key inside a dict field is allowed)."""
    if key in _SCENARIO_LEAVES or key in _WHOLE:
        return key
    parts = key.split(".")
    for n in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:n])
        if head in _SCENARIO_LEAVES:
            return head if "dict" in str(_SCENARIO_LEAVES[head].annotation) else None
    return None


def _set(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    parts = key.split(".")
    out = dict(data)
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        node[part] = dict(child) if isinstance(child, dict) else {}
        node = node[part]
    node[parts[-1]] = value
    return out


def _as_value(key: str, value: Any) -> Any:
    """Scalars given for a year-path field become a constant path; "none" removes a section."""
    if key in _WHOLE and value == "none":
        return None
    leaf = _leaf_of(key)
    scalar = isinstance(value, int | float) and not isinstance(value, bool)
    path_like = (leaf == key and _is_path(key)) or leaf == "services.coverage_path"
    return {MIN_YEAR: float(value)} if scalar and path_like else value


# --- loading -------------------------------------------------------------------------------

def _base_dict(sweep: Sweep, source: Path) -> tuple[dict[str, Any], str]:
    """The base scenario as a plain dict (``extends`` followed) and the file errors name.

    ``base`` and ``base.extends`` are paths relative to the sweep file's folder, or names of
    built-in scenarios (``"lorenskog_main"``), as ``extends`` in a scenario.
    """
    if isinstance(sweep.base, str):
        path = extends_file(sweep.base, source, "base")
        return read_scenario_dict(path), str(path)
    data = dict(sweep.base)
    if "extends" not in data:
        return data, str(source)
    path = extends_file(data.pop("extends"), source, "base.extends")
    # the parent's own chain (and its cycle check) is read_scenario_dict's; the inline keys win
    return deep_merge(read_scenario_dict(path), data), str(source)


def _check_scenario(data: dict[str, Any], source: str, field: str | None) -> Scenario:
    try:
        return scenario_from_dict(data, source)
    except InputError as exc:
        if field is None:
            raise
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        raise InputError(source, field, message) from None


def design_size(sweep: Sweep) -> int:
    """Scenarios the design has, counted before any is drawn.

    Grid: the product of the axes' numbers of values; lhs: samples; sobol: samples x (axes + 2).
    """
    if sweep.design.method == "grid":
        return math.prod(len(axis.named_values()) for axis in sweep.axes.values())
    n = int(sweep.design.samples or 0)
    return n * (len(sweep.axes) + 2) if sweep.design.method == "sobol" else n


def _check_size(sweep: Sweep, source: Path, max_scenarios: int) -> None:
    """``InputError`` if the sweep has more scenarios (ABM: scenario runs) than allowed."""
    n = design_size(sweep)
    runs = sweep.runs if sweep.engine == "abm" else None
    total = n * (runs or 1)
    if total > max_scenarios:
        what = (f"{n:,} scenarios x {runs:,} runs = {total:,} ABM runs" if runs
                else f"{n:,} scenarios")
        field = "design.samples" if sweep.design.method != "grid" else "axes"
        raise InputError(source, field, f"the design has {what}; the limit is "
                         f"{max_scenarios:,} (raise it with --max-scenarios N)")


def _check_resolves(key: str, axis: Axis, base: dict[str, Any], source: Path,
                    field: str) -> None:
    """Resolve each distinct value of an axis with the base: a value that fails is an error now.

    The probe also loads the scenario's service catalogue for its districts, so a catalogue or
    district value that could only fail is refused before the sweep, not recorded per scenario.
    Skipped for keys the schema checks completely (``_SCHEMA_CHECKED``).
    """
    if any(key == k or key.startswith(k + ".") for k in _SCHEMA_CHECKED):
        return
    from sim.inputs import resolve
    from sim.run import scenario_catalogue

    seen: set[str] = set()
    for label, value in _probe_values(axis):
        data = _set(base, key, _axis_value(key, axis, value))
        fingerprint = json.dumps(data, sort_keys=True, default=str)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        try:
            scenario = scenario_from_dict(data, str(source))
            scenario_catalogue(scenario, resolve(scenario).districts)
        except InputError as exc:
            where = f"{exc.source}: " if exc.source and exc.source != str(source) else ""
            what = f"{exc.field}: " if exc.field else ""
            raise InputError(source, f"{field}.{label}",
                             f"every scenario with this value would fail: {where}{what}"
                             f"{exc.message}") from None


def sweep_from_dict(data: dict[str, Any], source: str | Path = "sweep",
                    max_scenarios: int = MAX_SCENARIOS) -> Sweep:
    """Validate a sweep dict (axis keys, values, design, size, outputs); ``InputError`` if bad.

    Every axis value is checked with the base scenario before the first scenario runs; see the
    module docstring.
    """
    source = Path(source)
    try:
        sweep = Sweep.model_validate({**data, "source": str(source)})
    except ValidationError as exc:
        raise validation_error(exc, source, Sweep) from None
    method = sweep.design.method
    if method == "grid" and sweep.design.samples is not None:
        raise InputError(source, "design.samples", "only for lhs and sobol designs; a grid "
                         "runs every combination of the axes' values")
    if method != "grid":
        if sweep.design.samples is None:
            raise InputError(source, "design.samples",
                             f"required for method '{method}' (a number >= 1)")
        n = sweep.design.samples
        if method == "sobol" and n & (n - 1):
            raise InputError(source, "design.samples",
                             f"{n}: Sobol (Saltelli) designs need a power of 2, e.g. 16, 64, 256")
    abm = sweep.engine == "abm"
    if abm and sweep.runs is None:
        raise InputError(source, "runs", "required for engine 'abm': replicates per scenario "
                         "(set runs = N in the sweep file or pass --runs N)")
    if not abm and sweep.runs is not None:
        raise InputError(source, "runs", f"only for engine 'abm' (engine is '{sweep.engine}', "
                         "which is deterministic)")
    _check_size(sweep, source, max_scenarios)
    base, base_source = _base_dict(sweep, source)
    base_field = "base" if base_source == str(source) else None
    base_scenario = _check_scenario(base, base_source, base_field)
    _check_base_resolves(base_scenario, base_source, base_field)
    if abm and base_scenario.migration.growth_target_pct is not None:
        raise no_growth_target(base_source, "migration.growth_target_pct")
    # first and last year of every scenario: the base's, or the values of an axis that sets them
    spans = {k: [(getattr(base_scenario, k), "the base scenario")] for k in _SPAN}
    for key, axis in sweep.axes.items():
        field = f"axes.{key}"
        if _leaf_of(key) is None:
            raise InputError(source, field, "unknown scenario key; allowed: "
                             + ", ".join((*axis_keys(), *_WHOLE)))
        other = next((k for k in sweep.axes if k != key and k.startswith(key + ".")), None)
        if other is not None:
            raise InputError(source, field, f"overlaps axis '{other}'; sweep one of them")
        if key.split(".", 1)[0] in NOT_SWEPT:
            raise InputError(source, field, f"a sweep does not project the "
                             f"{key.split('.', 1)[0]} (its outputs: {', '.join(OUTPUTS)}); "
                             "compare budgets with 'kommunesim budget' per scenario")
        if not abm and key.split(".", 1)[0] in ABM_ONLY:
            raise InputError(source, field, f"'{key.split('.', 1)[0]}' acts only in the "
                             "agent-based engine: set engine = \"abm\" and runs = N")
        if abm and key == "migration.growth_target_pct":
            raise no_growth_target(source, field)
        if key == "municipality":
            from sim.scenarios import kommune_specific

            fixed = [k for k in kommune_specific(base) if k not in sweep.axes]
            if fixed:
                raise InputError(source, field, f"the base scenario is for "
                                 f"{base_scenario.municipality} with settings of that kommune "
                                 f"({', '.join(fixed)}); sweep kommuner from a base without "
                                 "them (e.g. base = { municipality = \"3222\" })")
        if method == "grid" and axis.values is None:
            raise InputError(source, f"{field}.range", "a grid design needs 'values' "
                             "(or set design.method = 'lhs' or 'sobol')")
        if method != "grid" and axis.range is None:
            raise InputError(source, f"{field}.values",
                             f"a {method} design samples 'range = [low, high]'; "
                             "named values need method = 'grid'")
        if key in _SPAN:
            spans[key] = []  # every scenario takes this axis's value, not the base's
        for label, value in _probe_values(axis):
            data = _set(base, key, _axis_value(key, axis, value))
            probe = _check_scenario(data, str(source), f"{field}.{label}")
            if key in _SPAN:
                spans[key].append((getattr(probe, key), f"{field}.{label}"))
        if key.split(".", 1)[0] == "services":
            _check_services(key, axis, base_scenario, source)
    _check_years(sweep.outputs.years, spans, source)
    for key, axis in sweep.axes.items():  # the slow checks last
        _check_resolves(key, axis, base, source, f"axes.{key}")
    return sweep


def _check_base_resolves(base: Scenario, source: str, field: str | None) -> None:
    """The base scenario must resolve, or every scenario of the sweep would fail."""
    from sim.inputs import resolve

    try:
        resolve(base)
    except InputError as exc:
        if field is None:
            raise
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        raise InputError(source, field, message) from None


def _check_years(years: tuple[int, ...] | None, spans: dict[str, list[tuple[int, str]]],
                 source: Path) -> None:
    """``InputError`` on ``outputs.years`` unless every scenario has every kept year.

    ``spans``: the base years and horizons the scenarios can have, each with where it is set.
    """
    for y in years or ():
        for base_year, what in spans["base_year"]:
            if y < base_year:
                raise InputError(source, "outputs.years", f"{y} is before the base year "
                                 f"{base_year} of {what}")
        for horizon, what in spans["horizon"]:
            if y > horizon:
                raise InputError(source, "outputs.years", f"{y} is after the horizon "
                                 f"{horizon} of {what}")


def _coverage_names(scenario: Scenario) -> tuple[str, ...]:
    """Names a coverage path may use: the scenario's services and "service/agegroup"."""
    from sim.inputs import resolve
    from sim.run import scenario_catalogue
    from sim.services.catalogue import group_table

    catalogue = scenario_catalogue(scenario, resolve(scenario).districts)
    if catalogue is None:
        return ()
    names: dict[str, None] = {}
    for _k, key, group, _cost in group_table(catalogue):  # as coverage_multipliers names them
        names[key] = None
        names[f"{key}/{group.label}"] = None
    return tuple(names)


def _check_services(key: str, axis: Axis, base: Scenario, source: Path) -> None:
    """An axis on coverage paths must name services (or age groups) of the base's catalogue."""
    leaf = "services.coverage_path"
    if key == leaf:
        used = [n for _label, v in _probe_values(axis) if isinstance(v, dict) for n in v]
    elif key.startswith(leaf + "."):
        used = [key.removeprefix(leaf + ".")]
    else:
        return
    allowed = _coverage_names(base)
    for name in used:
        if name not in allowed:
            raise InputError(source, f"axes.{key}", f"unknown service or age group '{name}' "
                             "in the base scenario's catalogue; allowed: "
                             + (", ".join(allowed) or "none (no service catalogue)"))


def _probe_values(axis: Axis) -> list[tuple[str, Any]]:
    if axis.values is not None:
        return [(("values." + label) if label else "values", v)
                for label, v in axis.named_values()]
    return [("range", axis.range[0]), ("range", axis.range[1])]


def _axis_value(key: str, axis: Axis, value: Any) -> Any:
    if axis.scale is not None:
        return {y: float(v) * float(value) for y, v in axis.scale.items()}
    return _as_value(key, value)


def load_sweep(path: str | Path, engine: str | None = None, runs: int | None = None,
               max_scenarios: int | None = None) -> Sweep:
    """Load and validate a sweep TOML file; ``engine``/``runs`` override the file's.

    ``max_scenarios``: the most scenarios (ABM: scenario runs) allowed; default
    ``MAX_SCENARIOS``.
    """
    if runs is not None and runs < 1:
        raise InputError("command line", "runs", f"{runs}: must be >= 1")
    if max_scenarios is not None and max_scenarios < 1:
        raise InputError("command line", "max-scenarios", f"{max_scenarios}: must be >= 1")
    if engine is not None:
        try:
            check_engine(engine)
        except ValueError as exc:
            raise InputError("command line", "engine", str(exc)) from None
    data = read_toml(path)
    if engine is not None:
        data["engine"] = engine
        if engine != "abm":
            data.pop("runs", None)
    if runs is not None:
        if data.get("engine", "cohort") != "abm":
            raise InputError("command line", "runs", "only with engine abm (add --engine abm "
                             "or set engine = \"abm\" in the sweep file)")
        data["runs"] = runs
    return sweep_from_dict(data, path, max_scenarios or MAX_SCENARIOS)


def abm_seed(seed: int) -> int:
    """The master seed of every scenario of an ABM sweep: a child of the sweep's SeedSequence.

    Run r of every scenario uses ``SeedSequence(abm_seed).spawn(runs)[r]`` (common random
    numbers); ``kommunesim run SCENARIO --engine abm --runs N --seed abm_seed`` repeats one.
    """
    return int(np.random.SeedSequence(seed, spawn_key=(2,)).generate_state(1)[0])


# --- the design ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep with its design: everything a worker needs to build scenario ``i``.

    Attributes:
        sweep: the resolved sweep as JSON-ready dict (``base`` is the full scenario dict).
        base: the base scenario dict.
        base_source: the file scenario errors name.
        keys: axis keys in file order.
        labels: [n][axes] value labels (grid names; sampled values printed).
        x: [n, axes] numeric design (grid: the value if numeric, else its index).
        seeds: [n] scenario seeds (children of the sweep's SeedSequence; abm: every
            scenario has the master seed ``abm_seed(seed)``, common random numbers).
        digest: SHA-256 of the resolved sweep and design (resume checks it).
    """

    sweep: dict[str, Any]
    base: dict[str, Any]
    base_source: str
    keys: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    x: np.ndarray
    seeds: np.ndarray
    digest: str

    @property
    def n(self) -> int:
        """Number of scenarios."""
        return len(self.labels)

    @property
    def chunk_size(self) -> int:
        """Scenarios per chunk."""
        return int(self.sweep["chunk_size"])

    @property
    def n_chunks(self) -> int:
        """Number of chunks (tasks, Parquet parts)."""
        return -(-self.n // self.chunk_size)

    @property
    def engine(self) -> str:
        """Projection engine: cohort or abm."""
        return self.sweep["engine"]

    @property
    def runs(self) -> int | None:
        """ABM replicates per scenario (None for cohort sweeps)."""
        return self.sweep.get("runs")

    @property
    def method(self) -> str:
        """Design method: grid, lhs or sobol."""
        return self.sweep["design"]["method"]

    def chunk(self, c: int) -> range:
        """Scenario indices of chunk ``c``."""
        return range(c * self.chunk_size, min((c + 1) * self.chunk_size, self.n))

    def axis(self, key: str) -> Axis:
        """The axis for ``key``."""
        return Axis.model_validate(self.sweep["axes"][key])

    def scenario_dict(self, i: int) -> dict[str, Any]:
        """Scenario ``i`` as a dict: the base with the design's values set."""
        data = dict(self.base)
        parts = []
        for k, key in enumerate(self.keys):
            axis = self.axis(key)
            if axis.values is not None:
                value = axis.named_values()[self._code(i, k)][1]
            else:
                value = float(self.x[i, k])
            data = _set(data, key, _axis_value(key, axis, value))
            parts.append(f"{key}={self.labels[i][k]}")
        name = f"{str(self.base.get('name', 'scenario'))[:200]} [{i}] " + ", ".join(parts)
        data["name"] = name[:MAX_STRING_CHARS]
        data["seed"] = int(self.seeds[i])
        return data

    def _code(self, i: int, k: int) -> int:
        labels = [label for label, _v in self.axis(self.keys[k]).named_values()]
        return labels.index(self.labels[i][k])

    def scenario(self, i: int) -> Scenario:
        """Scenario ``i`` validated (``InputError`` naming the base file if a combination fails)."""
        return scenario_from_dict(self.scenario_dict(i), self.base_source)

    def design_rows(self) -> list[dict[str, Any]]:
        """One dict per scenario: index, labels and numeric values per axis."""
        return [{"scenario": i, **{k: self.labels[i][j] for j, k in enumerate(self.keys)}}
                for i in range(self.n)]


def _grid(sweep: Sweep) -> tuple[list[tuple[str, ...]], np.ndarray]:
    named = [axis.named_values() for axis in sweep.axes.values()]
    labels, rows = [], []
    for combo in itertools.product(*[range(len(v)) for v in named]):
        labels.append(tuple(named[k][c][0] for k, c in enumerate(combo)))
        row = []
        for k, c in enumerate(combo):
            value = named[k][c][1]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool)
                          for _label, v in named[k])
            row.append(float(value) if numeric else float(c))
        rows.append(row)
    return labels, np.array(rows, dtype=float).reshape(len(labels), len(named))


def _samples(sweep: Sweep, seq: np.random.SeedSequence) -> np.ndarray:
    axes = list(sweep.axes.values())
    lo = np.array([a.range[0] for a in axes])
    hi = np.array([a.range[1] for a in axes])
    n = int(sweep.design.samples)
    if sweep.design.method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(axes), rng=np.random.default_rng(seq)).random(n)
        return lo + unit * (hi - lo)
    from SALib.sample import sobol

    problem = {"num_vars": len(axes), "names": list(sweep.axes), "bounds": np.c_[lo, hi].tolist()}
    return sobol.sample(problem, n, calc_second_order=False, scramble=True,
                        seed=int(seq.generate_state(1)[0]))


def plan_sweep(sweep: Sweep) -> SweepPlan:
    """The design of a validated sweep (reproducible from its seed)."""
    source = Path(sweep.source or "sweep")
    base, base_source = _base_dict(sweep, source)
    keys = tuple(sweep.axes)
    if sweep.design.method == "grid":
        labels, x = _grid(sweep)
    else:
        x = _samples(sweep, np.random.SeedSequence(sweep.seed, spawn_key=(0,)))
        labels = [tuple(f"{v:.6g}" for v in row) for row in x]
    n = len(labels)
    if sweep.engine == "abm":
        seeds = np.full(n, abm_seed(sweep.seed), dtype=np.int64)
    else:
        seeds = np.array([np.random.SeedSequence(sweep.seed, spawn_key=(1, i))
                          .generate_state(1)[0] for i in range(n)], dtype=np.int64)
    resolved = sweep.model_dump(mode="json", exclude={"source"} | (
        {"runs"} if sweep.runs is None else set()))  # cohort: the digest of earlier versions
    resolved["base"] = base
    resolved["base_source"] = base_source
    h = hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(seeds.tobytes())
    return SweepPlan(resolved, base, base_source, keys, tuple(tuple(r) for r in labels),
                     x, seeds, h.hexdigest())
