"""ABM sweeps: per-run indicators equal single ABM runs, backends, resume, common random numbers."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_sweep import expected_indicators

from experiments.indicators import indicator_weights, indicators, recent_refugee_totals
from experiments.report import report, run_quantiles, sensitivity, summary
from experiments.sweep import read_results, sweep
from experiments.sweep_config import abm_seed, load_sweep, plan_sweep
from sim.abm.montecarlo import run_seeds
from sim.errors import InputError
from sim.run import run_abm_scenario
from sim.services import services_tables

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "experiments" / "sweeps"
SCENARIOS = ROOT / "experiments" / "scenarios"
HOUSING = SWEEPS / "lorenskog_housing_abm.toml"
REQUEST = "{ 2024 = 190, 2025 = 155, 2026 = 100, 2028 = 50 }"
TWICE = "{ 2024 = 380, 2025 = 310, 2026 = 200, 2028 = 100 }"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def housing_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("abm") / "out"
    res = sweep(HOUSING, out, workers=1, progress=False)
    assert res.n_scenarios == 6 and res.n_failed == 0 and res.chunks_computed == 3
    return out


def test_per_run_indicators_equal_run_abm_scenario(housing_out):
    plan = plan_sweep(load_sweep(HOUSING))
    assert plan.engine == "abm" and plan.runs == 5
    seed = abm_seed(plan.sweep["seed"])
    assert (plan.seeds == seed).all()  # common random numbers: one master seed
    manifest = json.loads((housing_out / "manifest.json").read_text())
    assert manifest["engine"] == "abm" and manifest["runs"] == 5
    assert manifest["random_numbers"]["abm_seed"] == seed
    assert manifest["random_numbers"]["run_seeds"] == [str(s) for s in run_seeds(seed, 5)]
    got = read_results(housing_out)
    assert list(got.columns) == ["scenario", "run", "year", "indicator", "value"]
    assert set(got["run"]) == set(range(5)) and set(got["scenario"]) == set(range(6))
    outputs = tuple(plan.sweep["outputs"]["indicators"])
    for i in range(plan.n):
        sc = plan.scenario(i)
        res = run_abm_scenario(sc, plan.runs)
        assert res.abm.seeds == tuple(run_seeds(seed, 5))
        weights = indicator_weights(res.catalogue)
        for r in range(plan.runs):
            mine = got[(got["scenario"] == i) & (got["run"] == r)]
            # bit for bit: the same reduction applied to the single run's population
            proj = res.abm.run_projection(r)
            counts = np.einsum("ydsa,sag->yg", proj.population, weights)
            recent = recent_refugee_totals(res.catalogue, res.inputs.municipality, proj.years,
                                           proj.component("refugees"))
            names, values = indicators(counts, proj.years, res.catalogue, sc, outputs, recent)
            exp = pd.DataFrame(values, index=proj.years, columns=names).stack()
            exp = exp.rename_axis(["year", "indicator"]).reset_index(name="value")
            exp = exp.sort_values(["indicator", "year"]).reset_index(drop=True)
            assert mine["indicator"].tolist() == exp["indicator"].tolist()
            assert mine["value"].to_numpy().tobytes() == exp["value"].to_numpy().tobytes()
            # independently: the run's population and service tables
            services, dk = services_tables(proj, res.catalogue, sc.services.coverage_path,
                                           sc.services.unit_cost_growth)
            ind = expected_indicators(SimpleNamespace(projection=proj, services=services,
                                                      demografikostnader=dk))
            assert sorted(ind["indicator"].unique()) == sorted(mine["indicator"].unique())
            pop = ind["indicator"].str.startswith("population.")
            np.testing.assert_array_equal(mine["value"].to_numpy()[pop.to_numpy()],
                                          ind["value"].to_numpy()[pop.to_numpy()])
            np.testing.assert_allclose(mine["value"].to_numpy(), ind["value"].to_numpy(),
                                       rtol=1e-10, atol=1e-6, err_msg=f"scenario {i} run {r}")
        # the mean over runs: run_abm_scenario's services of the mean projection
        users = got[(got["scenario"] == i) & got["indicator"].str.startswith("users.")]
        mean = users.groupby(["indicator", "year"])["value"].mean()
        svc = res.services.groupby(["service", "year"])["users"].sum()
        svc.index = svc.index.set_levels([f"users.{k}" for k in svc.index.levels[0]], level=0)
        np.testing.assert_allclose(mean.to_numpy(), svc.sort_index().to_numpy(), rtol=1e-10)


def test_local_pool_equals_in_process(housing_out, tmp_path):
    sweep(HOUSING, tmp_path / "two", workers=2, progress=False)
    a, b = read_results(housing_out), read_results(tmp_path / "two")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_resume_after_injected_abort(housing_out, tmp_path):
    def abort(chunk, n):
        if n == 2:
            raise RuntimeError("killed")

    part = tmp_path / "part"
    with pytest.raises(RuntimeError):
        sweep(HOUSING, part, workers=1, progress=False, on_chunk=abort)
    assert len(list(part.glob("part-*.parquet"))) == 2
    with pytest.raises(InputError, match="--resume"):
        sweep(HOUSING, part, workers=1, progress=False)
    with pytest.raises(InputError, match="different sweep"):
        sweep(HOUSING, part, workers=1, progress=False, resume=True, runs=6)
    res = sweep(HOUSING, part, workers=1, progress=False, resume=True)
    assert res.chunks_computed == 1
    pd.testing.assert_frame_equal(read_results(part), read_results(housing_out),
                                  check_exact=True)
    assert sweep(HOUSING, part, workers=1, progress=False, resume=True).chunks_computed == 0


def test_common_random_numbers(tmp_path):
    """Scenarios differing only in refugee settlement: per-run differences barely vary."""
    sw = write(tmp_path / "crn.toml", f"""
name = "crn"
chunk_size = 2
[base]
extends = "{SCENARIOS / 'lorenskog_main.toml'}"
horizon = 2030
[axes."refugees.settled_per_year"]
values.request = {REQUEST}
values.twice = {TWICE}
[outputs]
indicators = ["population"]
""")
    runs = 8
    res = sweep(sw, tmp_path / "out", workers=1, progress=False, engine="abm", runs=runs)
    assert res.n_failed == 0
    got = read_results(tmp_path / "out", ["population.total"])
    wide = got[got["year"] == 2030].pivot(index="run", columns="scenario", values="value")
    request, twice = wide[0].to_numpy(), wide[1].to_numpy()
    crn = twice - request
    assert 200 < crn.mean() < 800  # twice the plan adds about 500 persons by 2030
    plan = plan_sweep(load_sweep(sw, engine="abm", runs=runs))
    other = run_abm_scenario(plan.scenario(1), runs, seed=abm_seed(plan.sweep["seed"]) + 1)
    independent = other.abm.population.sum(axis=(2, 3, 4))[:, -1] - request
    assert crn.var(ddof=1) < 0.1 * independent.var(ddof=1), (crn, independent)


def test_housing_axes_whole_tables_and_projects(tmp_path):
    sw = write(tmp_path / "h.toml", f"""
engine = "abm"
runs = 2
chunk_size = 4
[base]
extends = "{SCENARIOS / 'lorenskog_main.toml'}"
horizon = 2027
[axes.housing]
values.none = "none"
values.plan = {{ projects = [
  {{ name = "blokk", dwelling_type = "blokk", completions = {{ 2025 = 300, 2026 = 300 }} }} ] }}
[outputs]
indicators = ["population"]
""")
    plan = plan_sweep(load_sweep(sw))
    assert plan.scenario(0).housing is None
    assert plan.scenario(1).housing.projects[0].completions == {2025: 300.0, 2026: 300.0}
    sweep(sw, tmp_path / "out", workers=1, progress=False)
    got = read_results(tmp_path / "out", ["population.total"])
    end = got[got["year"] == 2027].pivot(index="run", columns="scenario", values="value")
    assert (end[1] > end[0] + 500).all()  # 600 extra dwellings bring people (extra movers)

    projects = write(tmp_path / "p.toml", f"""
engine = "abm"
runs = 1
base = "{SCENARIOS / 'lorenskog_housing.toml'}"
[axes."housing.projects"]
values.small = [ {{ dwelling_type = "smahus", completions = {{ 2026 = 50 }} }} ]
values.none = []
[axes."housing.other_completions_per_year"]
values = [300, 732]
""")
    plan = plan_sweep(load_sweep(projects))
    assert plan.n == 4
    sc = plan.scenario(plan.labels.index(("small", "732")))
    assert sc.housing.projects[0].dwelling_type == "smahus"
    assert list(sc.housing.other_completions_per_year.values()) == [732.0]
    assert plan.scenario(plan.labels.index(("none", "300"))).housing.projects == ()


@pytest.mark.parametrize("body, field, message", [
    ('engine = "abm"\n', "runs", "required for engine 'abm'"),
    ('engine = "abm"\nruns = 0\n', "runs", "greater than or equal to 1"),
    ("runs = 5\n", "runs", "only for engine 'abm'"),
    ('[axes."abm.reunification_rate"]\nvalues = [0.8]\n',
     "axes.abm.reunification_rate", "set engine = \"abm\""),
    ('engine = "abm"\nruns = 2\n[axes."migration.growth_target_pct"]\nvalues = [1.0]\n',
     "axes.migration.growth_target_pct", "not supported by the ABM"),
    ('engine = "abm"\nruns = 2\n[axes.housing]\n'
     'values = [{ baseline_completions_per_year = 700 }]\n'
     '[axes."housing.other_completions_per_year"]\nvalues = [300]\n', "axes.housing",
     "overlaps axis 'housing.other_completions_per_year'"),
])
def test_abm_sweep_file_errors(tmp_path, body, field, message):
    head, _, axes = body.partition("[axes")
    axes = "[axes" + axes if axes else '[axes."migration.in_multiplier"]\nvalues = [1.0]\n'
    path = write(tmp_path / "bad.toml", f'{head}base = "{SCENARIOS / "lorenskog_main.toml"}"\n'
                 + axes)
    with pytest.raises(InputError) as exc:
        load_sweep(path)
    assert exc.value.field == field and message in exc.value.line()
    assert "\n" not in exc.value.line()


def test_abm_summary_report(housing_out):
    table = summary(housing_out, csv=True)
    pop = table[(table["indicator"] == "population.total") & (table["year"] == 2030)].iloc[0]
    assert pop["n"] == 6 and pop["runs"] == 5
    assert pop["run_p5"] < pop["run_p95"] and pop["p5"] <= pop["p50"] <= pop["p95"]
    runs = run_quantiles(housing_out)
    assert len(runs) == 6 * table["indicator"].nunique() * 7 and runs["runs"].eq(5).all()
    means = read_results(housing_out, ["population.total"])
    means = means[means["year"] == 2030].groupby("scenario")["value"].mean()
    assert pop["mean"] == pytest.approx(means.mean(), rel=1e-12)
    assert (housing_out / "run_quantiles.csv").exists()
    sens = sensitivity(housing_out)
    main = sens[sens["indicator"] == "population.total"].set_index("axis")["value"]
    assert main["housing.other_completions_per_year"] > main["refugees.settled_per_year"] > 0
    html = report(housing_out).read_text(encoding="utf-8")
    assert "felles tilfeldige tall" in html and "Monte Carlo" in html
    assert (housing_out / "report" / "runs_population.png").stat().st_size > 1000
