"""Sweep runner: equality with single runs, resume after a real kill, failures, backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.sweep import read_results, sweep
from experiments.sweep_config import load_sweep, plan_sweep
from sim.config import read_scenario_dict, scenario_from_dict
from sim.demography import AGE_GROUPS
from sim.errors import InputError
from sim.run import run

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "experiments" / "sweeps"
SCENARIOS = ROOT / "experiments" / "scenarios"


def expected_indicators(result) -> pd.DataFrame:
    """Indicators computed independently from a single run's population and service tables."""
    pop = result.projection.population
    years = result.projection.years
    cols = {"population.total": pop.sum(axis=(1, 2, 3))}
    for g, (lo, hi) in AGE_GROUPS.items():
        cols[f"population.{g}"] = pop[:, :, :, lo : hi + 1].sum(axis=(1, 2, 3))
    frame = pd.DataFrame(cols, index=years)
    if result.services is not None:
        svc = result.services.groupby(["year", "service"])[["users", "cost_nok"]].sum()
        for name in ("users", "cost_nok"):
            wide = svc[name].unstack()
            for k in wide.columns:
                frame[f"{name}.{k}"] = wide[k].reindex(years).to_numpy()
        frame["cost_nok.total"] = svc["cost_nok"].groupby("year").sum().reindex(years).values
        dk = result.demografikostnader.groupby("year")["cost_change_nok"].sum().cumsum()
        frame["demografikostnader_nok.total"] = dk.reindex(years).fillna(0.0).to_numpy()
    frame.index.name = "year"
    long = frame.reset_index().melt(id_vars="year", var_name="indicator", value_name="value")
    return long.sort_values(["indicator", "year"]).reset_index(drop=True)


def check_against_runs(out: Path, plan, scenarios=None) -> None:
    got = read_results(out)
    assert set(got["scenario"]) == set(range(plan.n) if scenarios is None else scenarios)
    for i in sorted(set(got["scenario"])):
        mine = got[got["scenario"] == i].sort_values(["indicator", "year"]).reset_index(drop=True)
        exp = expected_indicators(run(plan.scenario(i)))
        exp = exp[exp["indicator"].isin(mine["indicator"]) & exp["year"].isin(mine["year"])]
        assert sorted(exp["indicator"].unique()) == sorted(mine["indicator"].unique())
        np.testing.assert_array_equal(mine["year"].to_numpy(), exp["year"].to_numpy())
        np.testing.assert_allclose(mine["value"].to_numpy(), exp["value"].to_numpy(),
                                   rtol=1e-10, atol=1e-6, err_msg=f"scenario {i}")


def test_grid_sweep_equals_individual_runs(tmp_path):
    path = SWEEPS / "lorenskog_refugees_growth.toml"
    res = sweep(path, tmp_path / "out", workers=1, progress=False)
    assert res.n_scenarios == 12 and res.n_failed == 0
    plan = plan_sweep(load_sweep(path))
    check_against_runs(tmp_path / "out", plan)
    # the scenarios themselves: "twice" x "high" is the main file with those two keys changed
    i = plan.labels.index(("twice", "high"))
    data = read_scenario_dict(SCENARIOS / "lorenskog_main.toml")
    data["refugees"]["settled_per_year"] = {2024: 380, 2025: 310, 2026: 200, 2028: 100}
    data["migration"]["in_multiplier"] = {2024: 1.15}
    exp = run(scenario_from_dict(data, "by hand"))
    got = read_results(tmp_path / "out", ["population.total"])
    got = got[got["scenario"] == i]["value"].to_numpy()
    np.testing.assert_allclose(got, exp.projection.population.sum(axis=(1, 2, 3)), rtol=1e-12)
    # the settlement axis moves introduksjonsprogram (recent-refugee driver): on 1 January 2024
    # only the recorded 2022-2023 settlement counts; from 2026 only plan years are in the
    # two-year window, so twice the plan gives twice the participants and no plan none
    intro = read_results(tmp_path / "out", ["users.introduksjonsprogram"])
    wide = intro.pivot(index="year", columns="scenario", values="value")
    zero, request, twice = (wide[plan.labels.index((lab, "main"))]
                            for lab in ("zero", "request", "twice"))
    assert zero[2024] == request[2024] == twice[2024] > 100
    assert zero[2025] < request[2025] < twice[2025] < 2 * request[2025]
    later = wide.index >= 2026
    assert (zero[later] == 0).all()
    np.testing.assert_allclose(twice[later], 2 * request[later], rtol=1e-12)
    assert request[2026] == pytest.approx(0.7398 * (190 + 155) * 0.58699, rel=1e-4)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_abm_sweep_recent_refugee_users_equal_run_abm_scenario(tmp_path):
    """ABM sweep: each run counts its own settled refugees; their mean is run_abm_scenario's."""
    from sim.run import run_abm_scenario
    from sim.services import services_tables

    sw = write(tmp_path / "abm.toml", f"""
engine = "abm"
runs = 3
[base]
extends = "{SCENARIOS / 'lorenskog_main.toml'}"
horizon = 2027
[axes."refugees.settled_per_year"]
values.request = {{ 2024 = 190, 2025 = 155, 2026 = 100 }}
values.twice = {{ 2024 = 380, 2025 = 310, 2026 = 200 }}
[outputs]
indicators = ["users", "demografikostnader"]
""")
    assert sweep(sw, tmp_path / "out", workers=1, progress=False).n_failed == 0
    got = read_results(tmp_path / "out", ["users.introduksjonsprogram",
                                          "demografikostnader_nok.total"])
    plan = plan_sweep(load_sweep(sw))
    means = []
    for i in range(plan.n):
        res = run_abm_scenario(plan.scenario(i), plan.runs)
        mine = got[got["scenario"] == i]
        for r in range(plan.runs):
            services, dk = services_tables(res.abm.run_projection(r), res.catalogue)
            exp = services[services.service == "introduksjonsprogram"].groupby("year")["users"]
            run_r = mine[(mine["run"] == r) & (mine["indicator"] == "users.introduksjonsprogram")]
            np.testing.assert_allclose(run_r["value"].to_numpy(), exp.sum().to_numpy(),
                                       rtol=1e-12)
            dk_exp = dk.groupby("year")["cost_change_nok"].sum().cumsum()
            dk_got = mine[(mine["run"] == r)
                          & (mine["indicator"] == "demografikostnader_nok.total")]
            np.testing.assert_allclose(dk_got["value"].to_numpy()[1:], dk_exp.to_numpy(),
                                       rtol=1e-10)
        mean = mine[mine["indicator"] == "users.introduksjonsprogram"].groupby("year")["value"]
        svc = res.services[res.services.service == "introduksjonsprogram"]
        np.testing.assert_allclose(mean.mean().to_numpy(),
                                   svc.groupby("year")["users"].sum().to_numpy(), rtol=1e-12)
        means.append(mean.mean())
    # twice the plan: about twice the participants once the history has left the window
    assert 1.7 < means[1][2027] / means[0][2027] < 2.3


def test_mixed_axes_batched_and_alone_equal_runs(tmp_path):
    """TFR path, capped out-rates, mortality (resolved per value) and a growth target."""
    sw = write(tmp_path / "mixed.toml", f"""
name = "mixed"
chunk_size = 5
[base]
extends = "{SCENARIOS / 'lillestrom_main.toml'}"
horizon = 2034
[base.services]
unit_cost_growth = 0.01
[design]
method = "grid"
[axes."fertility.tfr"]
values = {{ flat = 1.3, path = {{ 2024 = 1.44, 2030 = 1.8 }} }}
[axes."migration.out_rate_multiplier"]
values = [0.8, 1.25]
[axes."mortality.improvement_multiplier"]
values = [0.5, 1.0]
[axes."services.coverage_path.institusjon"]
values = {{ same = 1.0, less = {{ 2024 = 1.0, 2034 = 0.8 }} }}
""")
    res = sweep(sw, tmp_path / "out", workers=1, progress=False)
    assert res.n_failed == 0 and res.n_scenarios == 16
    check_against_runs(tmp_path / "out", plan_sweep(load_sweep(sw)))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["n_batched"] > 0

    growth = write(tmp_path / "growth.toml", f"""
base = "{SCENARIOS / 'lorenskog_main.toml'}"
[axes."migration.growth_target_pct"]
values = [0.5, 1.5]
[outputs]
indicators = ["population", "cost"]
years = [2030, 2050]
""")
    sweep(growth, tmp_path / "g", workers=1, progress=False)
    check_against_runs(tmp_path / "g", plan_sweep(load_sweep(growth)))


FAILING = """
name = "failing"
chunk_size = 3
[base]
municipality = "3222"
horizon = 2030
[axes.base_year]
values = { now = 2024, early = 2021 }
[axes."migration.estimation_years"]
values = { ok = [2017, 2021], late = [2020, 2024] }
[axes."migration.in_multiplier"]
values = [0.9, 1.1]
"""


def test_failing_scenario_recorded_others_complete(tmp_path):
    """Every axis value works with the base (checked before the sweep), but the window 'late'
    ends after the base year 'early': those 2 of 8 scenarios fail, are recorded, the rest run."""
    sw = write(tmp_path / "f.toml", FAILING)
    res = sweep(sw, tmp_path / "out", workers=1, progress=False)
    assert res.n_scenarios == 8 and res.n_failed == 2
    errors = pd.read_parquet(tmp_path / "out" / "errors.parquet")
    assert len(errors) == 2
    assert set(errors["base_year"]) == {"early"}
    assert set(errors["migration.estimation_years"]) == {"late"}
    assert errors["error"].str.contains("migration.estimation_years").all()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    status = {e["scenario"]: e["status"] for e in manifest["scenarios"]}
    plan = plan_sweep(load_sweep(sw))
    ok = [i for i in range(8) if plan.labels[i][:2] != ("early", "late")]
    assert all(status[i] == "ok" for i in ok) and manifest["n_failed"] == 2
    check_against_runs(tmp_path / "out", plan, scenarios=ok)


def test_resume_after_injected_abort(tmp_path):
    path = SWEEPS / "lorenskog_fertility_mortality_sobol.toml"
    full = tmp_path / "full"
    sweep(path, full, workers=1, progress=False)

    def abort(chunk, n):
        if n == 2:
            raise RuntimeError("killed")

    part = tmp_path / "part"
    with pytest.raises(RuntimeError):
        sweep(path, part, workers=1, progress=False, on_chunk=abort)
    assert len(list(part.glob("part-*.parquet"))) == 2
    with pytest.raises(InputError, match="--resume"):
        sweep(path, part, workers=1, progress=False)
    seen = []
    res = sweep(path, part, workers=1, progress=False, resume=True,
                on_chunk=lambda c, n: seen.append(c))
    plan = plan_sweep(load_sweep(path))
    assert res.chunks_computed == plan.n_chunks - 2 == len(seen)
    pd.testing.assert_frame_equal(read_results(part), read_results(full), check_exact=True)
    again = sweep(path, part, workers=1, progress=False, resume=True)
    assert again.chunks_computed == 0


KILL_SCRIPT = """
import sys, time
from experiments.sweep import sweep
sweep(sys.argv[1], sys.argv[2], workers=1, progress=False,
      on_chunk=lambda c, n: time.sleep(0.4))
"""


def test_resume_after_real_kill(tmp_path):
    sw = write(tmp_path / "s.toml", f"""
name = "kill me"
chunk_size = 1
base = "{SCENARIOS / 'lorenskog_main.toml'}"
[axes."refugees.settled_per_year"]
values = [0, 100, 200, 400]
[axes."migration.in_multiplier"]
values = [0.85, 1.0, 1.15]
""")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(sw), str(out)],
                            cwd=ROOT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not (out / "part-00000.parquet").exists():
            assert time.time() < deadline and proc.poll() is None, "sweep did not start"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    n_before = len(list(out.glob("part-*.parquet")))
    assert 1 <= n_before < 12
    res = sweep(sw, out, workers=1, progress=False, resume=True)
    assert res.chunks_computed == 12 - n_before
    full = tmp_path / "full"
    sweep(sw, full, workers=1, progress=False)
    got = read_results(out)
    assert not got.duplicated(["scenario", "year", "indicator"]).any()
    pd.testing.assert_frame_equal(got, read_results(full), check_exact=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["n_ok"] == 12


def test_resume_refuses_a_different_sweep(tmp_path):
    a = SWEEPS / "lorenskog_refugees_growth.toml"
    sweep(a, tmp_path / "out", workers=1, progress=False)
    with pytest.raises(InputError, match="different sweep"):
        sweep(SWEEPS / "lillestrom_refugees_growth.toml", tmp_path / "out", workers=1,
              progress=False, resume=True)


def test_design_reproducible_from_seed():
    sw = load_sweep(SWEEPS / "lorenskog_fertility_mortality_sobol.toml")
    a, b = plan_sweep(sw), plan_sweep(sw)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.digest == b.digest and a.n == 16 * (3 + 2)
    other = plan_sweep(sw.model_copy(update={"seed": 1}))
    assert not np.array_equal(a.x, other.x)


def test_lhs_design_within_ranges(tmp_path):
    sw = write(tmp_path / "lhs.toml", f"""
base = "{SCENARIOS / 'lorenskog_main.toml'}"
[design]
method = "lhs"
samples = 10
[axes."fertility.tfr"]
range = [1.2, 1.9]
[axes."refugees.settled_per_year"]
range = [0, 2]
scale = {{ 2024 = 190, 2026 = 100 }}
""")
    plan = plan_sweep(load_sweep(sw))
    assert plan.n == 10
    assert (plan.x[:, 0] >= 1.2).all() and (plan.x[:, 0] <= 1.9).all()
    # one sample per tenth of each range (Latin hypercube)
    assert sorted(np.floor((plan.x[:, 1] / 2) * 10).astype(int).tolist()) == list(range(10))
    sc = plan.scenario(0)
    assert sc.refugees.settled_per_year[2024] == pytest.approx(190 * plan.x[0, 1])


def test_engine_abm_needs_runs(tmp_path):
    with pytest.raises(InputError, match="required for engine 'abm'"):
        sweep(SWEEPS / "lorenskog_refugees_growth.toml", tmp_path / "o", engine="abm",
              progress=False)
    with pytest.raises(InputError, match="only with engine abm"):
        sweep(SWEEPS / "lorenskog_refugees_growth.toml", tmp_path / "o", runs=5,
              progress=False)
    assert not (tmp_path / "o").exists()


def test_inline_base_extends_follows_the_scenario_chain(tmp_path):
    """An inline base's ``extends`` is relative to the sweep file; the chain is sim's."""
    (tmp_path / "scen").mkdir()
    write(tmp_path / "scen" / "a.toml", f'extends = "{SCENARIOS / "lorenskog_main.toml"}"\n'
          "horizon = 2040\n[migration]\nin_multiplier = { 2024 = 1.2 }\n")
    body = ('[base]\nextends = "scen/{parent}"\nname = "inline"\n[base.migration]\n'
            'out_rate_multiplier = {{ 2024 = 0.9 }}\n'
            '[axes."fertility.tfr"]\nvalues = [1.4, 1.6]\n')
    plan = plan_sweep(load_sweep(write(tmp_path / "s.toml", body.format(parent="a.toml"))))
    sc = plan.scenario(0)
    assert sc.horizon == 2040 and sc.name.startswith("inline")
    assert sc.migration.in_multiplier == {2024: 1.2}
    assert sc.migration.out_rate_multiplier == {2024: 0.9}
    write(tmp_path / "scen" / "b.toml", 'extends = "c.toml"\n')
    write(tmp_path / "scen" / "c.toml", 'extends = "b.toml"\n')
    with pytest.raises(InputError, match="circular 'extends' chain"):
        load_sweep(write(tmp_path / "s.toml", body.format(parent="b.toml")))
    with pytest.raises(InputError, match="field 'base.extends': file not found"):
        load_sweep(write(tmp_path / "s.toml", body.format(parent="nope.toml")))


def test_local_pool_equals_in_process(tmp_path, monkeypatch):
    """Pool workers (which write their own parts) give the same bits as this process."""
    import experiments.sweep as sweep_module

    path = SWEEPS / "lorenskog_fertility_mortality_sobol.toml"
    sweep(path, tmp_path / "one", workers=1, progress=False)
    # a pool even for a short sweep, and a slow driver, so that workers compute tasks too
    monkeypatch.setattr(sweep_module, "POOL_AFTER_S", 0.0)
    in_driver = []
    real = sweep_module.run_chunks

    def slow(*args, **kwargs):
        in_driver.append(args[1])
        if len(in_driver) > 1:
            time.sleep(3.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_chunks", slow)
    sweep(path, tmp_path / "two", workers=3, progress=False)
    assert len(list((tmp_path / "two").glob("part-*.parquet"))) == 5 > len(in_driver)
    pd.testing.assert_frame_equal(read_results(tmp_path / "one"), read_results(tmp_path / "two"),
                                  check_exact=True)


@pytest.mark.slow
def test_dask_local_cluster_equals_local_pool(tmp_path):
    from distributed import LocalCluster

    path = SWEEPS / "lorenskog_fertility_mortality_sobol.toml"
    sweep(path, tmp_path / "local", workers=2, progress=False)
    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                      dashboard_address=None) as cluster:
        res = sweep(path, tmp_path / "dask", backend="dask",
                    scheduler=cluster.scheduler_address, progress=False)
    assert res.n_failed == 0
    a, b = read_results(tmp_path / "local"), read_results(tmp_path / "dask")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a["value"].to_numpy().tobytes() == b["value"].to_numpy().tobytes()


GROUPS = """
name = "groups"
chunk_size = {chunk}
base = "{base}"
[axes."fertility.tfr"]
values = [1.3, 1.8]
[axes."refugees.settled_per_year"]
values = {{ none = 0, plan = {{ 2024 = 150, 2027 = 40 }} }}
[axes."services.unit_cost_growth"]
values = [0.0, 0.02]
[outputs]
years = [2024, 2030, 2050]
"""


def test_results_do_not_depend_on_what_is_computed_together(tmp_path):
    """Batched projections and columnar indicators: a scenario's numbers are the same bits
    whether its chunk holds 1, 3 or all 8 scenarios, in-process or in a pool of 2."""
    base = SCENARIOS / "lorenskog_main.toml"
    frames = []
    for chunk, workers in ((1, 1), (3, 2), (8, 1)):
        sw = write(tmp_path / f"g{chunk}.toml", GROUPS.format(chunk=chunk, base=base))
        sweep(sw, tmp_path / f"out{chunk}", workers=workers, progress=False)
        frames.append(read_results(tmp_path / f"out{chunk}"))
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other, check_exact=True)
    check_against_runs(tmp_path / "out3", plan_sweep(load_sweep(tmp_path / "g3.toml")))


def test_lhs_sweep_with_per_scenario_settings_equals_individual_runs(tmp_path):
    sw = write(tmp_path / "lhs.toml", f"""
base = "{SCENARIOS / 'lorenskog_main.toml'}"
chunk_size = 4
[design]
method = "lhs"
samples = 6
[axes."fertility.tfr"]
range = [1.2, 1.9]
[axes."refugees.settled_per_year"]
range = [0, 2]
scale = {{ 2024 = 190, 2026 = 100 }}
[axes."services.unit_cost_growth"]
range = [0.0, 0.02]
[outputs]
years = [2024, 2035, 2050]
""")
    res = sweep(sw, tmp_path / "out", workers=1, progress=False)
    assert res.n_failed == 0
    check_against_runs(tmp_path / "out", plan_sweep(load_sweep(sw)))


def test_one_resolve_per_shared_setting_for_the_whole_sweep(tmp_path, monkeypatch):
    """The worker keeps what it resolved from chunk to chunk: 8 scenarios in 8 chunks that
    differ only in multipliers and unit-cost growth resolve once."""
    import experiments.sweep as sweep_module

    calls = []
    real = sweep_module.resolve
    monkeypatch.setattr(sweep_module, "resolve", lambda sc: calls.append(1) or real(sc))
    sw = write(tmp_path / "g.toml", GROUPS.format(chunk=1, base=SCENARIOS / "lorenskog_main.toml"))
    sweep(sw, tmp_path / "out", workers=1, progress=False)
    assert len(calls) == 1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["n_batched"] == 8 and manifest["n_ok"] == 8


def test_parts_store_indicator_names_once_and_read_as_text(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    sw = write(tmp_path / "g.toml", GROUPS.format(chunk=8, base=SCENARIOS / "lorenskog_main.toml"))
    sweep(sw, tmp_path / "out", workers=1, progress=False)
    part = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    assert pa.types.is_dictionary(part.schema.field("indicator").type)
    names = part["indicator"].combine_chunks().dictionary.to_pylist()
    assert len(names) == len(set(names)) == part.num_rows // (8 * 3)
    got = read_results(tmp_path / "out")
    assert pd.api.types.is_string_dtype(got["indicator"])  # text, not a categorical
    assert not isinstance(got["indicator"].dtype, pd.CategoricalDtype)
    assert set(got["indicator"]) == set(names)
    # a part written with plain-text names (earlier versions) reads the same
    plain = part.set_column(2, "indicator", part["indicator"].cast(pa.string()))
    pq.write_table(plain, tmp_path / "out" / "part-00000.parquet")
    pd.testing.assert_frame_equal(read_results(tmp_path / "out"), got, check_exact=True)
    sub = read_results(tmp_path / "out", ["population.total"])
    assert set(sub["indicator"]) == {"population.total"} and len(sub) == 8 * 3


def test_tasks_group_consecutive_chunks():
    from experiments.sweep import MAX_TASK, _tasks

    class Plan:
        chunk_size = 10

    assert _tasks(Plan, list(range(40)), 2) == [list(range(k, k + 5)) for k in range(0, 40, 5)]
    assert _tasks(Plan, [0, 1, 2, 5, 6, 9], 1) == [[0, 1], [2], [5, 6], [9]]
    big = _tasks(Plan, list(range(10_000)), 1)
    assert max(len(t) for t in big) * Plan.chunk_size <= MAX_TASK
    assert [c for t in big for c in t] == list(range(10_000))
    Plan.chunk_size = 5000
    assert _tasks(Plan, [0, 1, 2], 2) == [[0], [1], [2]]


def test_sweep_of_a_kommune_without_own_records_equals_runs(tmp_path):
    """Bærum has no refugee record of its own: the sweep counts the same estimated settlement
    history as single runs (introduksjonsprogram users), and the national catalogue."""
    sw = write(tmp_path / "b.toml", """
seed = 3
[base]
municipality = "Bærum"
horizon = 2028
[axes."refugees.settled_per_year"]
values = { low = { 2024 = 100 }, high = { 2024 = 600 } }
[axes."migration.in_multiplier"]
values = [0.9, 1.1]
""")
    sweep(sw, tmp_path / "out", workers=1, progress=False)
    plan = plan_sweep(load_sweep(sw))
    check_against_runs(tmp_path / "out", plan)
    intro = read_results(tmp_path / "out", ["users.introduksjonsprogram"])
    assert intro[intro["year"] == 2024]["value"].min() > 100  # the estimated 2022-2023 arrivals


def test_zones_are_indicators_like_any_other(tmp_path):
    """A sweep over Oslo's bydeler keeps population and users per zone, equal to the runs'."""
    sw = write(tmp_path / "z.toml", """
seed = 3
[base]
municipality = "oslo"
horizon = 2027
zones = { source = "bydeler" }
[axes."migration.in_multiplier"]
values = [0.9, 1.1]
[outputs]
indicators = ["population", "users", "zones"]
""")
    sweep(sw, tmp_path / "out", workers=1, progress=False)
    plan = plan_sweep(load_sweep(sw))
    got = read_results(tmp_path / "out")
    for i in range(plan.n):
        res = run(plan.scenario(i))
        mine = got[got["scenario"] == i].set_index(["indicator", "year"])["value"]
        for d, zone in enumerate(res.inputs.districts):
            pop = res.projection.population[:, d].sum(axis=(1, 2))
            np.testing.assert_allclose(
                mine.xs(f"population.total@{zone}", level="indicator").to_numpy(), pop,
                rtol=1e-10)
            users = res.services[(res.services.district == zone)
                                 & (res.services.service == "barnehage")].users.to_numpy()
            np.testing.assert_allclose(
                mine.xs(f"users.barnehage@{zone}", level="indicator").to_numpy(), users,
                rtol=1e-10)
        zone_sum = sum(mine.xs(f"population.total@{z}", level="indicator")
                       for z in res.inputs.districts)
        np.testing.assert_allclose(zone_sum.to_numpy(),
                                   mine.xs("population.total", level="indicator").to_numpy(),
                                   rtol=1e-12)
    assert not any("introduksjonsprogram@" in n for n in got["indicator"].unique())


def test_in_multiplier_with_a_housing_programme_equals_runs(tmp_path):
    """With a housing programme the in-multiplier scales only the stock's turnover, not the
    programme's movers (``sim.inputs.housing_led``): it is not a linear multiplier on the
    in-migrants, so the sweep must resolve each value and still equal single runs."""
    sw = write(tmp_path / "housing.toml", """
name = "housing x in_multiplier"
chunk_size = 4
[base]
extends = "lorenskog_housing"
horizon = 2030
[axes."migration.in_multiplier"]
values = [0.5, 1.0]
[axes."fertility.tfr"]
values = [1.3, 1.6]
[outputs]
indicators = ["population"]
""")
    res = sweep(sw, tmp_path / "out", workers=1, progress=False)
    assert res.n_failed == 0 and res.n_scenarios == 4
    check_against_runs(tmp_path / "out", plan_sweep(load_sweep(sw)))
