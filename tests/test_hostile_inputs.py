"""Hostile inputs: every bad input and every failing disk gets one line, exit 2, nothing left.

Each case runs the real CLI in process (typer's ``CliRunner``) and checks the promise of
README and ``sim.errors``: exit code 2, exactly one stderr line starting with ``error:`` (naming
the file or field and the limit where there is one), no traceback, no numpy RuntimeWarning, and
nothing new on disk. Cases are grouped by class (issue #15); each class has several cases.
Cases that need a tiny, read-only or full file system mount a tmpfs and are skipped where that
is not allowed (not root).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.demography import N_AGES, SEXES

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SCENARIO_HEAD = 'municipality = "3222"\nhorizon = 2026\n'
SWEEP_HEAD = 'base = "lorenskog_main"\n'
RUN = ["run", "{d}/s.toml", "--no-plots", "--out", "{d}/out"]
SWEEP = ["sweep", "{d}/w.toml", "--no-progress", "--workers", "1", "--out", "{d}/out"]


@dataclass(frozen=True)
class Case:
    """CLI arguments ({d}: the case's folder), files to create there, and what the line says."""

    args: list[str]
    files: dict[str, str | bytes | Callable[[Path], None]] = field(default_factory=dict)
    says: tuple[str, ...] = ()


def scenario(extra: str, says: tuple[str, ...] = (), head: str = SCENARIO_HEAD) -> Case:
    """A run of ``s.toml`` = the head plus ``extra``."""
    return Case(RUN, {"s.toml": head + extra}, says)


def sweep(body: str, says: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> Case:
    """A sweep of ``w.toml`` = base lorenskog_main plus ``body``."""
    return Case([*SWEEP, *args], {"w.toml": SWEEP_HEAD + body}, says)


# --- input tables ([inputs]) -------------------------------------------------------------

def grid(value: str, with_sex: bool = True, years=(2024, 2025),
         district: str = "Lørenskog") -> pd.DataFrame:
    """A complete input table (the format ``kommunesim inputs`` writes) filled with 1.0."""
    dims = [("year", list(years)), ("district", [district])]
    if with_sex:
        dims.append(("sex", list(SEXES)))
    dims.append(("age", list(range(N_AGES))))
    index = pd.MultiIndex.from_product([v for _k, v in dims], names=[k for k, _v in dims])
    return pd.DataFrame({value: 1.0}, index=index).reset_index()


def table(name: str, value: str, bad, with_sex: bool = True, row: int = 7) -> Case:
    """A run whose ``[inputs] name`` table has ``bad`` in one row of ``value``."""
    def make(d: Path) -> None:
        df = grid(value, with_sex)
        if value == "births_per_woman":
            df[value] = 0.05
        df[value] = df[value].astype(object)
        df.loc[row, value] = bad
        df.to_csv(d / f"{name}.csv", index=False)

    return Case(RUN, {f"{name}.csv": make,
                      "s.toml": f'{SCENARIO_HEAD}[inputs]\n{name} = "{name}.csv"\n'},
                (f"{name}.csv", f"field '{value}'"))


def base_population(districts: int = 1, name: str | None = None, persons=10.0) -> Case:
    """A run whose base population has ``districts`` districts, ``persons`` in one row and,
    if given, ``name`` as the district of the last row."""
    def make(d: Path) -> None:
        names = [f"d{i}" for i in range(districts)]
        index = pd.MultiIndex.from_product([names, list(SEXES), list(range(N_AGES))],
                                           names=["district", "sex", "age"])
        df = pd.DataFrame({"persons": 10.0}, index=index).reset_index()
        df["persons"] = df["persons"].astype(object)
        df.loc[3, "persons"] = persons
        if name is not None:
            df.loc[len(df) - 1, "district"] = name
        df.to_csv(d / "base.csv", index=False)

    return Case(RUN, {"base.csv": make,
                      "s.toml": f'{SCENARIO_HEAD}[inputs]\nbase_population = "base.csv"\n'})


def zone_history(zones=("A", "B"), years=range(2019, 2025), persons=1.0,
                 change: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Case:
    """A run with ``[zones] history = "z.csv"``: a complete history (``persons`` in each cell
    below age 95, 0 above, so the zones fit within Lørenskog), edited by ``change``."""
    def make(d: Path) -> None:
        index = pd.MultiIndex.from_product([list(years), list(zones), list(SEXES),
                                            list(range(N_AGES))],
                                           names=["year", "zone", "sex", "age"])
        df = pd.DataFrame({"persons": persons}, index=index).reset_index()
        df.loc[df.age >= 95, "persons"] = 0.0
        (change(df) if change else df).to_csv(d / "z.csv", index=False)

    return Case(RUN, {"z.csv": make, "s.toml": f'{SCENARIO_HEAD}[zones]\nhistory = "z.csv"\n'},
                ("z.csv",))


def catalogue(service: str = "", group: str = "coverage = 0.9", staff: str = "0.2") -> Case:
    """A run whose service catalogue has one barnehage service (ages 1-5, ``group``'s keys)
    plus the lines ``service``."""
    text = ('municipality = "3222"\n[services.barnehage]\nlabel = "B"\nsector = "barnehage"\n'
            "unit_cost_nok = 200000\nprice_year = 2024\n"
            f"staff_per_user = {staff}\n"
            f"age_groups = [{{ ages = [1, 5], {group} }}]\n{service}")
    return Case(RUN, {"c.toml": text, "s.toml": f'{SCENARIO_HEAD}[services]\n'
                      'catalogue = "c.toml"\n'}, ("c.toml",))


FACILITY = 'facilities = [{ name = "X", district = "Lørenskog", places = 10 }]\n'


def budget_config(old: str, new: str) -> Case:
    """``kommunesim budget`` with Lørenskog's budget defaults, ``old`` replaced by ``new``."""
    text = (ROOT / "sim" / "budget" / "defaults_3222.toml").read_text()
    assert old in text, old
    return Case(["budget", "-m", "3222", "--config", "{d}/b.toml", "--no-plots", "--out",
                 "{d}/out"], {"b.toml": text.replace(old, new, 1)}, ("b.toml",))


def run_folder(d: Path) -> None:
    """``d/r``: the results of a short cohort run (for ``export``)."""
    done = CliRunner().invoke(app, ["run", "-m", "3222", "--horizon", "2026", "--no-plots",
                                    "--out", str(d / "r")])
    assert done.exit_code == 0, done.output


def with_says(case: Case, *says: str) -> Case:
    return Case(case.args, case.files, case.says + says)


def fifo(name: str) -> Callable[[Path], None]:
    return lambda d: os.mkfifo(d / name)


def big(text: str, size: int, name: str = "s.toml") -> Callable[[Path], None]:
    """A file ``name``: ``text`` padded with a TOML comment to ``size`` bytes."""
    def make(d: Path) -> None:
        with (d / name).open("w") as fh:
            fh.write(text + "# " + "x" * size + "\n")
    return make


def chain(n: int) -> Callable[[Path], None]:
    """s.toml extends c1.toml extends ... c<n>.toml."""
    def make(d: Path) -> None:
        (d / "s.toml").write_text(f'extends = "c1.toml"\n{SCENARIO_HEAD}')
        for i in range(1, n + 1):
            (d / f"c{i}.toml").write_text(f'extends = "c{i + 1}.toml"\n' if i < n else "")
    return make


TFR_AXIS = '[axes."fertility.tfr"]\nvalues = [1.5]\n'
AXES_10 = "".join(f'[axes."{k}"]\nvalues = [{", ".join(str(v) for v in vals)}]\n' for k, vals in {
    "fertility.tfr": [1.0 + i / 10 for i in range(10)],
    "migration.in_multiplier": [0.5 + i / 10 for i in range(10)],
    "migration.out_rate_multiplier": [0.5 + i / 10 for i in range(10)],
    "refugees.settled_per_year": [10 * i for i in range(10)],
    "migration.in_per_year": [1000 * (i + 1) for i in range(10)],
    "services.unit_cost_growth": [i / 100 for i in range(10)],
}.items())

CASES: dict[str, Case] = {
    # 1. Non-finite and absurd numbers in scenario year paths and fields.
    "tfr nan": scenario("[fertility]\ntfr = { 2030 = nan }\n",
                        ("s.toml", "'fertility.tfr.2030'", "finite")),
    "tfr inf": scenario("[fertility]\ntfr = { 2030 = inf }\n", ("finite",)),
    "tfr 1e308": scenario("[fertility]\ntfr = { 2030 = 1e308 }\n",
                          ("'fertility.tfr'", "above 0 and at most 10")),
    "tfr 11": scenario("[fertility]\ntfr = { 2030 = 11 }\n", ("at most 10",)),
    "in_multiplier -inf": scenario("[migration]\nin_multiplier = { 2030 = -inf }\n",
                                   ("'migration.in_multiplier.2030'", "finite")),
    "in_multiplier 1e308": scenario("[migration]\nin_multiplier = { 2030 = 1e308 }\n",
                                    ("within 0..10",)),
    "out_rate_multiplier inf": scenario("[migration]\nout_rate_multiplier = { 2024 = inf }\n",
                                        ("'migration.out_rate_multiplier.2024'", "finite")),
    "out_rate_multiplier 50": scenario("[migration]\nout_rate_multiplier = { 2024 = 50 }\n",
                                       ("within 0..10",)),
    "in_per_year 1e308": scenario("[migration]\nin_per_year = { 2024 = 1e308 }\n",
                                  ("'migration.in_per_year'", "within 0..200,000")),
    "growth target nan": scenario("[migration]\ngrowth_target_pct = { 2024 = nan }\n",
                                  ("'migration.growth_target_pct.2024'", "finite")),
    "growth target 50 %": scenario("[migration]\ngrowth_target_pct = { 2024 = 50 }\n",
                                   ("within -10..10",)),
    "settled 1e308": scenario("[refugees]\nsettled_per_year = { 2024 = 1e308 }\n",
                              ("'refugees.settled_per_year'", "within 0..100,000")),
    "settled 10^20 (int)": scenario("[refugees]\nsettled_per_year = "
                                    "{ 2024 = 99999999999999999999 }\n", ("within 0..100,000",)),
    "coverage inf": scenario("[services]\ncoverage_path = { institusjon = { 2030 = inf } }\n",
                             ("'services.coverage_path.institusjon.2030'", "finite")),
    "coverage 1e9": scenario("[services]\ncoverage_path = { institusjon = { 2030 = 1e9 } }\n",
                             ("within 0..10",)),
    "fertility level nan": scenario("[fertility]\nlevel = nan\n", ("'fertility.level'",)),
    "improvement inf": scenario("[mortality]\nimprovement_multiplier = inf\n",
                                ("'mortality.improvement_multiplier'",)),
    "district share nan": scenario('[[districts]]\nname = "A"\nshare = nan\n',
                                   ("'districts.0.share'",)),
    "seed 10^30": scenario("seed = 1000000000000000000000000000000\n", ("'seed'",)),
    "horizon 1e308": scenario("horizon = 1e308\n", ("'horizon'",), head='municipality = "3222"\n'),
    # 1b. Numbers in [inputs] tables.
    "in_migrants 1e308": with_says(table("in_migrants", "persons", "1e308"), "0..1,000,000"),
    "in_migrants inf": with_says(table("in_migrants", "persons", "inf"), "0..1,000,000"),
    "refugees 1e30": with_says(table("refugees", "persons", "1e30"), "0..1,000,000"),
    "fertility 5 births per woman-year": with_says(
        table("fertility", "births_per_woman", 5.0, with_sex=False), "0..1"),
    "out_rate -inf": with_says(table("out_rate", "rate", "-inf"), "0..1"),
    "death probability nan": with_says(table("death_probability", "probability", "nan"),
                                       "not a number"),
    "base population 1e30": with_says(base_population(persons=1e30), "base.csv",
                                      "'persons'", "0..1,000,000"),
    # 2. Resource bombs: limits checked before any work.
    "scenario file 2 MB": Case(RUN, {"s.toml": big(SCENARIO_HEAD, 2_000_000)},
                               ("s.toml", "at most 1 MB")),
    "TOML nested 100,000 deep": scenario("x = " + "[" * 100_000 + "]" * 100_000 + "\n",
                                         ("s.toml", "nested too deeply", "32")),
    "TOML nested 40 deep": scenario("x = " + "[" * 40 + "]" * 40 + "\n",
                                    ("nested too deeply",)),
    "name of 5,000 chars": scenario(f'name = "{"n" * 5000}"\n', ("'name'", "at most 1000")),
    "name of 10 MB": scenario(f'name = "{"n" * 10_000_000}"\n', ("at most 1 MB",)),
    "10,000 districts": scenario("".join(f'[[districts]]\nname = "d{i}"\nshare = 0.0001\n'
                                         for i in range(10_000)),
                                 ("'districts'", "10,000 districts; at most 1,000")),
    "1,001 districts in base_population.csv": with_says(base_population(1001),
                                                        "at most 1,000"),
    "district name of 1 MB in a CSV": with_says(base_population(name="x" * 1_000_000),
                                                "'district'", "at most 1,000"),
    "extends /dev/zero": scenario('extends = "/dev/zero"\n', ("'extends'", "not a regular file")),
    "extends /dev/urandom": scenario('extends = "/dev/urandom"\n', ("not a regular file",)),
    "extends a FIFO": Case(RUN, {"fifo.toml": fifo("fifo.toml"),
                                 "s.toml": 'extends = "fifo.toml"\n' + SCENARIO_HEAD},
                           ("'extends'", "not a regular file")),
    "extends a folder": scenario('extends = "/tmp"\n', ("'extends'", "a folder")),
    "extends chain of 40 files": Case(RUN, {"s.toml": chain(40)}, ("'extends'", "chain")),
    "inputs.population /dev/zero": scenario('[inputs]\npopulation = "/dev/zero"\n',
                                            ("'inputs.population'", "not a regular file")),
    "--population /dev/zero": Case(["run", "-m", "3222", "--population", "/dev/zero",
                                    "--out", "{d}/out"], {}, ("not a regular file",)),
    "--population a folder": Case(["run", "-m", "3222", "--population", "{d}",
                                   "--out", "{d}/out"], {}, ("a folder",)),
    "catalogue /dev/zero": scenario('[services]\ncatalogue = "/dev/zero"\n',
                                    ("/dev/zero", "not a regular file")),
    "budget --config /dev/zero": Case(["budget", "-m", "3222", "--config", "/dev/zero",
                                       "--no-plots", "--out", "{d}/out"], {},
                                      ("not a regular file",)),
    "scenario is a folder": Case(["run", "{d}", "--out", "{d}/out"], {}, ("a folder",)),
    "scenario is a symlink loop": Case(RUN, {"s.toml": lambda d: os.symlink(d / "s.toml",
                                                                            d / "s.toml")},
                                       ("s.toml", "cannot read")),
    "extends a 2 MB file": Case(RUN, {"big.toml": big("", 2_000_000, "big.toml"),
                                      "s.toml": 'extends = "big.toml"\n'},
                                ("'extends'", "at most 1 MB")),
    "abm --runs 10^9": Case(["run", "-m", "3222", "--engine", "abm", "--runs", "1000000000",
                             "--out", "{d}/out"], {}, ("'--runs'", "1..100,000")),
    "sweep --workers 100,000": Case([*SWEEP[:-4], "--workers", "100000", "--out", "{d}/out"],
                                    {"w.toml": SWEEP_HEAD + TFR_AXIS}, ("'workers'", "1..1024")),
    "sweep --resume, manifest nested 100,000 deep": Case(
        [*SWEEP, "--resume"], {"w.toml": SWEEP_HEAD + TFR_AXIS,
                               "out": lambda d: (d / "out").mkdir(),
                               "out/manifest.json": "[" * 100_000 + "]" * 100_000},
        ("manifest.json", "unreadable manifest")),
    "sweep --resume, manifest is a FIFO": Case(
        [*SWEEP, "--resume"], {"w.toml": SWEEP_HEAD + TFR_AXIS,
                               "out": lambda d: (d / "out").mkdir(),
                               "out/manifest.json": fifo("out/manifest.json")},
        ("not a sweep",)),
    "sweep grid of 10^6": sweep(AXES_10, ("'axes'", "1,000,000 scenarios", "--max-scenarios")),
    "sweep sobol 2^22": sweep('[design]\nmethod = "sobol"\nsamples = 4194304\n'
                              '[axes."fertility.tfr"]\nrange = [1.2, 1.9]\n',
                              ("'design.samples'", "12,582,912 scenarios")),
    "sweep lhs 10^7": sweep('[design]\nmethod = "lhs"\nsamples = 10000000\n'
                            '[axes."fertility.tfr"]\nrange = [1.2, 1.9]\n',
                            ("10,000,000 scenarios",)),
    "abm sweep 200 x 1000 runs": Case([*SWEEP], {"w.toml": 'engine = "abm"\nruns = 1000\n'
                                                 + SWEEP_HEAD + '[axes."fertility.tfr"]\nvalues = ['
                                                 + ", ".join(str(1 + i / 200) for i in range(200))
                                                 + "]\n"},
                                      ("200,000 ABM runs",)),
    "sweep above --max-scenarios": sweep('[axes."fertility.tfr"]\nvalues = [1.4, 1.5, 1.6]\n',
                                         ("3 scenarios; the limit is 2",),
                                         ("--max-scenarios", "2")),
    "sweep file /dev/zero": Case(["sweep", "/dev/zero", "--out", "{d}/out"], {},
                                 ("not a regular file",)),
    "sweep base /dev/zero": Case(SWEEP, {"w.toml": 'base = "/dev/zero"\n' + TFR_AXIS},
                                 ("'base'", "not a regular file")),
    "sweep nested 100,000 deep": sweep("x = " + "{a=" * 100_000 + "1" + "}" * 100_000 + "\n",
                                       ("nested too deeply",)),
    # 3. Output folders: checked before any work.
    "run --out is a file": Case(["run", "-m", "3222", "--out", "{d}/f"], {"f": "x"},
                                ("is a file",)),
    "--out name too long": Case(["inputs", "-m", "3222", "--out", "{d}/" + "x" * 300], {},
                                ("too long",)),
    "run --out below a file": Case(["run", "-m", "3222", "--out", "{d}/f/g/out"], {"f": "x"},
                                   ("lies below the file",)),
    "inputs --out is a file": Case(["inputs", "-m", "3222", "--out", "{d}/f"], {"f": "x"},
                                   ("is a file",)),
    "inputs --out below a file": Case(["inputs", "-m", "3222", "--out", "{d}/f/out"], {"f": "x"},
                                      ("lies below the file",)),
    "budget --out is a file": Case(["budget", "-m", "3222", "--out", "{d}/f"], {"f": "x"},
                                   ("is a file",)),
    "data import --out is a file": Case(["data", "import",
                                         str(FIXTURES / "ssb" / "07459_lorenskog_2024.json"),
                                         "--out", "{d}/f"], {"f": "x"}, ("is a file",)),
    "sweep --out is a file": Case(["sweep", str(ROOT / "experiments" / "sweeps" /
                                                "lorenskog_refugees_growth.toml"),
                                   "--out", "{d}/f"], {"f": "x"}, ("is a file",)),
    "sweep --out below a file": Case(["sweep", str(ROOT / "experiments" / "sweeps" /
                                                   "lorenskog_refugees_growth.toml"),
                                      "--out", "{d}/f/out"], {"f": "x"},
                                     ("lies below the file",)),
    # 4. (reproducibility: see the tests below) 5. Sweeps that cannot succeed.
    "sweep axis municipality 9999": Case(SWEEP, {"w.toml": 'base = { municipality = "3222" }\n'
                                                '[axes.municipality]\n'
                                                'values = ["3222", "9999"]\n'},
                                         ("'axes.municipality.values.9999'",
                                          "unknown kommunenummer 9999")),
    "sweep kommuner from a kommune's own scenario": sweep(
        '[axes.municipality]\nvalues = ["3222", "3205"]\n',
        ("'axes.municipality'", "sweep kommuner from a base without them")),
    "sweep axis population /etc/passwd": sweep('[axes."inputs.population"]\n'
                                               'values = ["/etc/passwd"]\n',
                                               ("'axes.inputs.population.values./etc/passwd'",)),
    "sweep axis population /dev/zero": sweep('[axes."inputs.population"]\n'
                                             'values = ["/dev/zero"]\n', ("not a regular file",)),
    "sweep axis catalogue /dev/zero": sweep('[axes."services.catalogue"]\n'
                                            'values = ["/dev/zero"]\n',
                                            ("'axes.services.catalogue.values./dev/zero'",
                                             "not a regular file")),
    "sweep axis nan": sweep('[axes."migration.in_multiplier"]\nvalues = [1.0, nan]\n',
                            ("'axes.migration.in_multiplier.values.nan'", "finite")),
    "sweep axis inf": sweep('[axes."fertility.tfr"]\nvalues = { a = inf }\n', ("finite",)),
    "sweep range with nan": sweep('[design]\nmethod = "lhs"\nsamples = 4\n'
                                  '[axes."fertility.tfr"]\nrange = [nan, 1.9]\n',
                                  ("'axes.fertility.tfr.range.0'", "finite")),
    "sweep axis base year without data": sweep("[axes.base_year]\nvalues = [1990]\n",
                                               ("'axes.base_year.values.1990'",)),
    "sweep axis window in the future": sweep('[axes."migration.estimation_years"]\n'
                                             'values = { future = [2030, 2031] }\n',
                                             ("would fail", "no peeking")),
    "sweep base unknown by name": Case(SWEEP, {"w.toml": 'base = "nosuch_main"\n' + TFR_AXIS},
                                       ("'base'", "no built-in scenario 'nosuch_main'")),
    # 6. Surprising semantics that are now errors.
    "extends unknown built-in": scenario('extends = "nosuch"\n',
                                         ("'extends'", "no built-in scenario 'nosuch'",
                                          "lorenskog_main")),
    # 7. Newer features: zone histories ([zones] history).
    "zone history with a header only": with_says(
        Case(RUN, {"z.csv": "year,zone,sex,age,persons\n",
                   "s.toml": f'{SCENARIO_HEAD}[zones]\nhistory = "z.csv"\n'}), "no rows"),
    "zone history year 10^9": with_says(zone_history(years=(2024, 10**9)), "'year'",
                                        "within 2000..2100"),
    "zone history year not a number": with_says(
        zone_history(change=lambda df: df.assign(year=df.year.astype(object).where(
            df.index != 5, "x"))), "'year'", "row 7"),
    "zone history empty zone name": with_says(zone_history(zones=("A", "")), "'zone'",
                                              "empty or missing name"),
    "district name empty in base_population.csv": with_says(base_population(name=""),
                                                           "'district'", "row 213"),
    "district name NA in base_population.csv": with_says(base_population(name="NA"),
                                                        "empty or missing name"),
    "zone history zone without residents": with_says(zone_history(persons=0.0), "'persons'",
                                                     "zone 'A' has no residents in 2019"),
    "zone history years with a gap": with_says(zone_history(years=(2020, 2022, 2024)),
                                               "consecutive"),
    "housing project in an unknown zone": scenario(
        '[[housing.projects]]\ndistrict = "Nowhere"\ncompletions = { 2025 = 5 }\n',
        ("'housing.projects.0.district'", "unknown zone 'Nowhere'")),
    "housing completions -5": scenario('[[housing.projects]]\ncompletions = { 2025 = -5 }\n',
                                       ("'housing.projects.0.completions'", "0..100,000")),
    "housing completions 1e12": scenario('[[housing.projects]]\ncompletions = 1e12\n',
                                         ("0..100,000",)),
    "housing other completions inf": scenario(
        "[housing]\nother_completions_per_year = inf\n",
        ("'housing.other_completions_per_year.2000'", "finite")),
    # 7b. Service catalogues: facilities, buildings, costs.
    "facility places 1e308": with_says(catalogue(
        'facilities = [{ name = "X", district = "Lørenskog", places = 1e308 }]\n'),
        "'services.barnehage.facilities.0.places'", "less than or equal to 100000"),
    "facility opens after it closes": with_says(catalogue(
        'facilities = [{ name = "X", district = "Lørenskog", places = 5, opens = 2030, '
        "closes = 2025 }]\n"), "closes (2025) must be after opens (2030)"),
    "facility in an unknown zone": with_says(catalogue(
        'facilities = [{ name = "X", district = "Nord", places = 5 }]\n'), "unknown zone 'Nord'"),
    "places per user 1e300 (10^300 buildings)": with_says(
        catalogue(FACILITY + 'building = { name = "b", places = 1, cost_nok = 1e6 }\n',
                  "coverage = 1.0, places_per_user = 1e300"),
        "'services.barnehage.age_groups.0.places_per_user'", "less than or equal to 10"),
    "buildings of 1 place for every child (~200,000 rows)": with_says(
        catalogue(FACILITY + 'building = { name = "b", places = 1, cost_nok = 1e6 }\n',
                  "coverage = 1.0, places_per_user = 10"),
        "'services.barnehage.building.places'", "buildings in this run (at most 10,000)"),
    "building of 0 places": with_says(
        catalogue(FACILITY + 'building = { name = "b", places = 0, cost_nok = 1e6 }\n'),
        "'services.barnehage.building.places'"),
    "building cost 1e308": with_says(
        catalogue(FACILITY + 'building = { name = "b", places = 100, cost_nok = 1e308 }\n'),
        "'services.barnehage.building.cost_nok'", "100000000000"),
    "building threshold 1e308": with_says(catalogue(
        FACILITY + 'building = { name = "b", places = 100, cost_nok = 1e6, threshold = 1e308 }\n'),
        "'services.barnehage.building.threshold'"),
    "unit cost 1e308": with_says(catalogue(group="coverage = 0.9, unit_cost_nok = 1e308"),
                                 "'services.barnehage.age_groups.0.unit_cost_nok'"),
    "staff per user 1e308": with_says(catalogue(staff="1e308"),
                                      "'services.barnehage.staff_per_user'"),
    # 7c. compare and runs of several kommuner.
    "compare scenarios of two kommuner": Case(
        ["compare", "{d}/a.toml", "{d}/b.toml", "--years", "2026", "--out", "{d}/out"],
        {"a.toml": SCENARIO_HEAD + 'name = "a"\n',
         "b.toml": 'municipality = "3205"\nhorizon = 2026\nname = "b"\n'},
        ("'SCENARIOS'", "one kommune", "3205, 3222")),
    "compare --years ,": Case(
        ["compare", "{d}/a.toml", "{d}/b.toml", "--years", ",", "--out", "{d}/out"],
        {"a.toml": SCENARIO_HEAD + 'name = "a"\n', "b.toml": SCENARIO_HEAD + 'name = "b"\n'},
        ("'--years'", "names no year")),
    "run -m ,,": Case(["run", "-m", ",,", "--out", "{d}/out"], {},
                      ("'--municipality'", "selects no kommune")),
    "run -m with a fylke it is not in": Case(
        ["run", "-m", "3205", "--fylke", "Oslo", "--out", "{d}/out"], {},
        ("'--fylke'", "3205 not in Oslo")),
    "validate --abm-workers 10^6": Case(["validate", "3222", "--abm-workers", "1000000",
                                         "--out", "{d}/out"], {},
                                        ("'--abm-workers'", "must be within 1..1,024")),
    "cohort --seed -1": Case(["run", "-m", "3222", "--seed", "-1", "--out", "{d}/out"], {},
                             ("'--seed'", "must be within 0..")),
    "batch --seed 2^70": Case(["run", "-m", "3222,3205", "--seed", str(2**70), "--out",
                               "{d}/out"], {}, ("'--seed'", "must be within 0..")),
    "run -m list with an unknown number": Case(
        ["run", "-m", "3222,9999", "--no-plots", "--out", "{d}/out"], {},
        ("'--municipality'", "unknown kommunenummer 9999")),
    "abm --workers 10^6": Case(["run", "-m", "3222", "--engine", "abm", "--runs", "2",
                                "--workers", "1000000", "--out", "{d}/out"], {},
                               ("'--workers'", "1..1,024")),
    "validate --all with a kommune": Case(["validate", "--all", "3222", "--out", "{d}/out"], {},
                                          ("'MUNICIPALITY'", "every kommune")),
    "validate --all with --population": Case(
        ["validate", "--all", "--population", "{d}/p.csv", "--out", "{d}/out"], {"p.csv": "x"},
        ("'--population'",)),
    # 7d. Budget configs: growth, levels and amounts per inhabitant have plausible ranges.
    "budget deflator -100 %": with_says(budget_config("deflator_pct = { 2023 = 5.2",
                                                      "deflator_pct = { 2023 = -100"),
                                        "'prices.deflator_pct'", "within -50..50"),
    "budget revenue growth 10^6 %": with_says(budget_config("revenue_pct = { 2024 = 0.0 }",
                                                            "revenue_pct = 1e6"),
                                              "'growth.revenue_pct'", "within -50..50"),
    "budget tax per inhabitant 1e14": with_says(
        budget_config("national_per_inhabitant_nok = { 2023 = 38349",
                      "national_per_inhabitant_nok = { 2023 = 1e14"),
        "'tax.national_per_inhabitant_nok'", "at most 10,000,000"),
    "budget tax level 1e300 %": with_says(budget_config("level_pct = { 2024 = 97.0 }",
                                                        "level_pct = { 2024 = 1e300 }"),
                                          "'tax.level_pct'", "at most 1,000"),
    "budget equalisation 150 %": with_says(
        budget_config("equalisation_share_pct = { 2024 = 60.0",
                      "equalisation_share_pct = { 2024 = 150.0"),
        "'tax.equalisation_share_pct'", "within 0..100"),
    "budget --pace unknown blames --pace": Case(
        ["budget", "-m", "3222", "--pace", "Turbo", "--no-plots", "--out", "{d}/out"], {},
        ("command line: field '--pace'", "'Turbo' unknown", "Sprint")),
    "sweep axis on the budget (not projected)": sweep(
        '[axes."budget.savings_pace"]\nvalues = ["Sprint", "Maraton"]\n',
        ("'axes.budget.savings_pace'", "does not project the budget")),
    "sweep housing axis -5 dwellings": Case(
        SWEEP, {"w.toml": 'base = "lorenskog_housing"\n[axes."housing.other_completions_per_year"]'
                '\nvalues = [100, -5]\n'}, ("0..100,000",)),
    "export --out below a file": Case(["export", "{d}/r", "--out", "{d}/f/x.xlsx"],
                                      {"r": run_folder, "f": "x"}, ("is a file, not a folder",)),
    "export --out is a folder": Case(["export", "{d}/r", "--out", "{d}/x.xlsx"],
                                     {"r": run_folder, "x.xlsx": lambda d: (d / "x.xlsx").mkdir()},
                                     ("'--out'", "is a folder")),
    "compare scenarios with different zones": Case(
        ["compare", str(ROOT / "experiments" / "scenarios" / "lillestrom_zones.toml"),
         "{d}/b.toml", "--years", "2025", "--out", "{d}/out"],
        {"b.toml": 'extends = "lillestrom_main"\nhorizon = 2025\nname = "b"\n'},
        ("b.toml", "field 'zones'", "Lillestrøm", "Lillestrøm by")),
    "housing: 1,000 projects of 100,000 dwellings each": scenario(
        "".join('[[housing.projects]]\ncompletions = { 2025 = 100000 }\n' for _ in range(1000)),
        ("'housing'", "100,000,000 dwellings in 2025", "at most 100,000 a year")),
    # Regressions: classes that already worked.
    "unknown key": scenario("horizont = 2040\n", ("'horizont'", "unknown key")),
    "wrong type": scenario('seed = "x"\n', ("'seed'",)),
    "bad TOML": scenario('name = "x\n', ("not valid TOML",)),
    "missing scenario file": Case(["run", "{d}/nosuch.toml", "--out", "{d}/out"], {},
                                  ("file not found",)),
    "missing input table": scenario('[inputs]\nfertility = "nosuch.csv"\n',
                                    ("'inputs.fertility'", "file not found")),
    "unknown municipality": scenario("", ("unknown kommunenummer 9999",),
                                     head='municipality = "9999"\n'),
    "base year without data": scenario("base_year = 2030\nhorizon = 2040\n", ("'base_year'",),
                                       head='municipality = "3222"\n'),
    "life expectancy 200": scenario("[mortality]\ne0_male = { 2030 = 200 }\n", ("40..110",)),
    "not UTF-8": Case(RUN, {"s.toml": b'municipality = "3222"\nname = "\xff\xfe"\n'},
                      ("not UTF-8",)),
    "rich markup in a value": scenario('name = "[bold]x[/bold]"\nhorizont = 1\n',
                                       ("'horizont'",)),
}


def _snapshot(root: Path) -> set[str]:
    """Every path below ``root`` (hidden ones too), not following mounts' contents twice."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _make(d: Path, files: dict) -> None:
    for name, content in files.items():
        if callable(content):
            content(d)
        elif isinstance(content, bytes):
            (d / name).write_bytes(content)
        else:
            (d / name).write_text(content, encoding="utf-8")


def invoke_refused(tmp_path: Path, args: list[str], says=(), root: Path | None = None) -> str:
    """Run the CLI; assert exit 2, one ``error:`` line, no traceback or warning, nothing new."""
    root = root or tmp_path
    before = _snapshot(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(app, [a.replace("{d}", str(tmp_path)) for a in args])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:], result.exception)
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.output
    assert len(lines[0]) <= 2_100
    for text in says:
        assert text in lines[0], (text, lines[0][:500])
    numpy_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not numpy_warnings, [str(w.message) for w in numpy_warnings]
    assert _snapshot(root) == before, _snapshot(root) ^ before
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_refused_with_one_line(tmp_path, name):
    case = CASES[name]
    _make(tmp_path, case.files)
    invoke_refused(tmp_path, case.args, case.says)


# --- failing disks -------------------------------------------------------------------------

COMMANDS = {
    "run": ["run", "-m", "3222", "--horizon", "2026", "--no-plots", "--out"],
    "inputs": ["inputs", "-m", "3222", "--horizon", "2026", "--out"],
    "budget": ["budget", "-m", "3222", "--no-plots", "--out"],
    "data import": ["data", "import", str(FIXTURES / "ssb" / "07459_lorenskog_2024.json"),
                    "--out"],
    "sweep": ["sweep", str(ROOT / "experiments" / "sweeps" / "lorenskog_refugees_growth.toml"),
              "--workers", "1", "--no-progress", "--out"],
}


@pytest.fixture
def tmpfs(tmp_path):
    """mount(options) -> a fresh tmpfs folder below tmp_path (root only; unmounted after)."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root")
        path = tmp_path / f"mnt{len(mounted)}"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                              capture_output=True, check=False)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_full_disk(tmp_path, tmpfs, command):
    """ENOSPC mid-write: one line, and neither the folder nor a partial file is left."""
    disk = tmpfs("size=4k")
    line = invoke_refused(tmp_path, [*COMMANDS[command], str(disk / "out")], root=disk)
    assert "disk is full" in line and "nothing was written" in line
    assert not any(disk.iterdir())


@pytest.mark.parametrize("command", list(COMMANDS))
def test_read_only_file_system(tmp_path, tmpfs, command):
    """Refused before any work: the check names the read-only file system."""
    disk = tmpfs("ro,size=64k")
    t0 = time.perf_counter()
    line = invoke_refused(tmp_path, [*COMMANDS[command], str(disk / "a" / "out")], root=disk)
    assert "read-only file system" in line
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("command", list(COMMANDS))
def test_file_size_limit(tmp_path, command):
    """RLIMIT_FSIZE (ulimit -f): EFBIG on the first large file; nothing is left."""
    out = tmp_path / "out"
    warm = CliRunner().invoke(app, [*COMMANDS[command], str(tmp_path / "warm")])
    assert warm.exit_code == 0, warm.output  # compiled and cached before the limit
    shutil.rmtree(tmp_path / "warm")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
    try:
        line = invoke_refused(tmp_path, [*COMMANDS[command], str(out)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert "file-size limit" in line
    assert not out.exists()


def test_read_only_folder_without_root(tmp_path):
    """Without root, a folder without write permission is refused up front (root may write)."""
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the tmpfs test covers root")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        line = invoke_refused(tmp_path, [*COMMANDS["run"], str(locked / "out")])
    finally:
        locked.chmod(stat.S_IRWXU)
    assert "no permission" in line


def test_sweep_disk_full_after_some_parts_keeps_them_for_resume(tmp_path, monkeypatch):
    """ENOSPC on the third part: one line that says the finished parts are kept, and --resume
    then completes the sweep with the same numbers as an undisturbed one."""
    import errno

    import experiments.sweep as sweep_module
    from experiments.sweep import read_results

    path = tmp_path / "w.toml"
    path.write_text('chunk_size = 2\n' + SWEEP_HEAD + '[axes."fertility.tfr"]\n'
                    'values = [1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0]\n')
    args = ["sweep", str(path), "--workers", "1", "--no-progress", "--out"]
    real = sweep_module._write_part
    calls = []

    def full_disk(out, result):
        calls.append(result.chunk)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(out / "part.tmp"))
        real(out, result)

    monkeypatch.setattr(sweep_module, "_write_part", full_disk)
    result = CliRunner().invoke(app, [*args, str(tmp_path / "out")])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "disk is full" in lines[0] and "2 finished parts are kept" in lines[0]
    assert "--resume" in lines[0]
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 2
    assert not list((tmp_path / "out").glob(".*"))
    monkeypatch.setattr(sweep_module, "_write_part", real)
    assert CliRunner().invoke(app, [*args, str(tmp_path / "out"), "--resume"]).exit_code == 0
    assert CliRunner().invoke(app, [*args, str(tmp_path / "whole")]).exit_code == 0
    pd.testing.assert_frame_equal(read_results(tmp_path / "out"),
                                  read_results(tmp_path / "whole"))


def test_results_folder_with_a_fifo_manifest_does_not_hang(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "manifest.json")
    result = CliRunner().invoke(app, [*COMMANDS["inputs"], str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").is_file()


# --- locks and killed runs -----------------------------------------------------------------

HOLD = """
import sys
from sim.io import output_folder
with output_folder(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_second_command_into_a_locked_folder_is_refused(tmp_path):
    """Another process writing to --out: refused with one line; after it ends, the run works."""
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for command in ("run", "inputs", "sweep"):
            line = invoke_refused(tmp_path, [*COMMANDS[command], str(out)])
            assert f"pid {holder.pid}" in line and "writing to this folder" in line
    finally:
        holder.communicate("")
    assert not any(out.iterdir())  # the holder's lock is gone with it
    result = CliRunner().invoke(app, [*COMMANDS["inputs"], str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / ".kommunesim.lock").exists()


def test_next_run_removes_staging_folders_of_killed_runs(tmp_path):
    out = tmp_path / "out"
    (out / ".kommunesim-stage-abc123").mkdir(parents=True)
    (out / ".kommunesim-stage-abc123" / "population.parquet").write_bytes(b"partial")
    (tmp_path / ".out.tmp-k1ll3d").mkdir()  # where versions before 0.2 staged
    (tmp_path / ".out.tmp-k1ll3d" / "manifest.json").write_text("{")
    result = CliRunner().invoke(app, [*COMMANDS["inputs"], str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_killed_run_leaves_only_its_stage_inside_out(tmp_path):
    """A run killed (SIGKILL) while writing leaves nothing beside --out; the next run cleans."""
    out = tmp_path / "out"
    script = ("import os, sim.io\n"
              "from sim.cli import app\n"
              "real = sim.io.ResultWriter.commit\n"
              "sim.io.ResultWriter.commit = lambda self: os.kill(os.getpid(), 9)\n"
              f"app(['inputs', '-m', '3222', '--horizon', '2026', '--out', '{out}'])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    stages = [p.name for p in out.iterdir() if p.name.startswith(".kommunesim-stage-")]
    assert len(stages) == 1
    result = CliRunner().invoke(app, [*COMMANDS["inputs"], str(out)])
    assert result.exit_code == 0, result.output
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


# --- the Dask scheduler --------------------------------------------------------------------

def test_unreachable_dask_scheduler_fails_fast_and_writes_nothing(tmp_path, monkeypatch):
    import experiments.sweep

    monkeypatch.setattr(experiments.sweep, "CONNECT_TIMEOUT_S", 1)
    t0 = time.perf_counter()
    line = invoke_refused(tmp_path, [*COMMANDS["sweep"][:-1], "--backend", "dask",
                                     "--scheduler", "tcp://127.0.0.1:1", "--out",
                                     str(tmp_path / "out")])
    assert "'scheduler'" in line and "cannot reach Dask scheduler" in line
    assert time.perf_counter() - t0 < 10


# --- what is accepted now, and what it means ---------------------------------------------

def test_toml_with_a_bom_is_accepted(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes("\ufeff".encode() + b'municipality = "3222"\nhorizon = 2026\n'
                     b'name = "Notepad"\n')
    from sim.config import load_scenario

    assert load_scenario(path).name == "Notepad"


def test_abm_manifest_records_the_seed_used(tmp_path):
    out = tmp_path / "abm"
    result = CliRunner().invoke(app, ["run", "-m", "3222", "--horizon", "2026", "--engine", "abm",
                                      "--runs", "2", "--seed", "11", "--no-plots", "--out",
                                      str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["scenario"]["seed"] == 11
    from sim.abm.montecarlo import run_seeds

    assert manifest["run_seeds"] == [str(s) for s in run_seeds(11, 2)]


def test_negative_abm_seed_is_one_line(tmp_path):
    invoke_refused(tmp_path, ["run", "-m", "3222", "--engine", "abm", "--runs", "1", "--seed",
                              "-1", "--out", "{d}/out"], ("'--seed'",))


def test_extends_year_path_replaces_the_parents(tmp_path):
    (tmp_path / "parent.toml").write_text(
        'municipality = "3222"\n[refugees]\nsettled_per_year = { 2024 = 190, 2028 = 50 }\n'
        "[services]\ncoverage_path = { institusjon = { 2024 = 1.0, 2040 = 0.8 }, "
        "sfo = { 2030 = 0.9 } }\n")
    (tmp_path / "child.toml").write_text(
        'extends = "parent.toml"\n[refugees]\nsettled_per_year = { 2024 = 190, 2025 = 155 }\n'
        "[services]\ncoverage_path = { institusjon = { 2030 = 0.5 } }\n")
    from sim.config import load_scenario

    sc = load_scenario(tmp_path / "child.toml")
    assert sc.refugees.settled_per_year == {2024: 190.0, 2025: 155.0}  # no 2028 = 50
    # tables of paths still merge key by key; each path is replaced whole
    assert sc.services.coverage_path == {"institusjon": {2030: 0.5}, "sfo": {2030: 0.9}}


def test_scenario_copied_out_of_the_repo_extends_by_name(tmp_path):
    copy = tmp_path / "plan" / "mine.toml"
    copy.parent.mkdir()
    shutil.copy(ROOT / "experiments" / "scenarios" / "lorenskog_high.toml", copy)
    (tmp_path / "plan" / "child.toml").write_text('extends = "lorenskog_main"\nname = "c"\n')
    from sim.config import load_scenario, read_scenario_dict, scenario_from_dict

    high = load_scenario(copy)
    shipped = load_scenario(ROOT / "experiments" / "scenarios" / "lorenskog_high.toml")
    assert high.model_dump(exclude={"source"}) == shipped.model_dump(exclude={"source"})
    child = load_scenario(tmp_path / "plan" / "child.toml")
    main = load_scenario(ROOT / "experiments" / "scenarios" / "lorenskog_main.toml")
    assert child.model_dump(exclude={"source", "name"}) == main.model_dump(
        exclude={"source", "name"})
    # the fitted file by its kommunenummer
    by_name = tmp_path / "fitted.toml"
    by_name.write_text('extends = "3222"\n')
    fitted = scenario_from_dict(read_scenario_dict(ROOT / "calibration" / "fitted" / "3222.toml"))
    assert load_scenario(by_name).model_dump(exclude={"source"}) == fitted.model_dump(
        exclude={"source"})


def test_fit_writes_to_a_new_folder_by_default():
    import inspect

    from calibration.cli import fit_cmd

    default = inspect.signature(fit_cmd).parameters["out"].default
    assert default == Path("results/fitted")


def test_inputs_files_are_readable_by_others(tmp_path):
    out = tmp_path / "inputs"
    old = os.umask(0o022)
    try:
        assert CliRunner().invoke(app, [*COMMANDS["inputs"], str(out)]).exit_code == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_unmet_growth_target_is_a_note_in_output_and_manifest(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO_HEAD + "[migration]\ngrowth_target_pct = { 2024 = 2 }\n"
                    "in_multiplier = { 2024 = 0 }\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--no-plots", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    note = next(n for n in manifest["notes"] if "growth_target_pct" in n)
    assert "not met in 2 year(s) from 2024" in note and "no in-migrants to scale" in note
    assert "note: migration.growth_target_pct not met" in result.stdout
    # the total the engine reached, by hand: no growth target can move it
    pop = pd.read_parquet(out / "population.parquet").groupby("year").persons.sum()
    assert f"{100 * (pop[2025] / pop[2024] - 1):.2f} % reached" in note


def test_met_growth_target_has_no_note(tmp_path):
    from sim.config import scenario_from_dict
    from sim.run import run

    res = run(scenario_from_dict({"municipality": "3222", "horizon": 2027,
                                  "migration": {"growth_target_pct": {2024: 1.5}}}))
    assert not [n for n in res.notes if "growth_target" in n]
    total = res.projection.population.sum(axis=(1, 2, 3))
    np.testing.assert_allclose(total[1:] / total[:-1], 1.015, rtol=1e-12)
