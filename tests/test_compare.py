"""``kommunesim compare``: scenarios side by side, read back from CSV and XLSX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import folder_is_empty_or_missing

from sim.cli import app
from sim.numbers import number, percent, signed, tick
from sim.run import run
from sim.scenarios import scenario_for

MAIN = Path(__file__).parents[1] / "experiments" / "scenarios" / "lorenskog_main.toml"


def _housing(tmp_path, name="boliger", horizon=2036) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'extends = "{MAIN}"\nname = "{name}"\nhorizon = {horizon}\n'
                    '[[housing.projects]]\nname = "Sentrum"\ndwelling_type = "blokk"\n'
                    'completions = { 2028 = 200, 2029 = 200, 2030 = 200 }\n')
    return path


def test_compare_differences_equal_separate_runs(runner, tmp_path):
    other = _housing(tmp_path)
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["compare", str(MAIN), str(other), "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "compare.csv")
    a = run(scenario_for(MAIN)[0]).services
    b = run(scenario_for(other)[0]).services
    for year in (2030, 2035):
        for service in ("barnehage", "grunnskole"):
            want = (b[(b.year == year) & (b.service == service)].users.sum()
                    - a[(a.year == year) & (a.service == service)].users.sum())
            got = table[(table.scenario == "boliger") & (table.year == year)
                        & (table.service == service)].users_diff.iloc[0]
            assert got == pytest.approx(want, rel=1e-12)
            assert got > 0  # new blocks bring children
    ref = table[table.scenario == "main (MMMM)"]
    assert (ref.users_diff == 0).all()
    assert "brukere av barnehage i 2030" in res.output
    # The XLSX holds the same numbers under Norwegian headers.
    ws = openpyxl.load_workbook(out / "compare.xlsx")["Sammenligning"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["Scenario", "År", "Sone", "Tjeneste", "Brukere"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(table)
    col = header.index("Endring i brukere mot referansen")
    assert [r[col] for r in rows] == pytest.approx(table.users_diff.tolist())
    assert ws.freeze_panes == "A2"
    assert ws.cell(2, header.index("Brukere") + 1).number_format == "#,##0"


@pytest.mark.parametrize(("extra", "message"), [
    (["--years", "2060"], "not projected"),
    (["--years", "soon"], "--years"),
    (["--services", "slottet"], "no service slottet"),
])
def test_compare_bad_input(runner, tmp_path, extra, message):
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["compare", str(MAIN), str(_housing(tmp_path)), *extra,
                              "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert folder_is_empty_or_missing(out)


def test_compare_needs_two_differently_named_scenarios(runner, tmp_path):
    res = runner.invoke(app, ["compare", str(MAIN), "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "two or more" in res.output
    res = runner.invoke(app, ["compare", str(MAIN), str(MAIN), "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "names must differ" in res.output


def test_norwegian_numbers():
    assert number(48188) == "48 188"
    assert signed(229) == "+229" and signed(-0.4) == "0"
    assert number(-1234.4) == "\u22121 234"
    assert percent(1.5) == "1,5 %" and number(1.57, 2) == "1,57"
    assert number(float("nan")) == "\u2013"
    # axis ticks (plots): whole numbers grouped, small fractions with one decimal
    assert tick(120000.0) == "120 000" and tick(2.5) == "2,5" and tick(-3.0) == "\u22123"
    assert tick(-0.04) == "0,0"
    # with the spacing of the axis's ticks: as many decimals as the step needs
    assert [tick(v, 0.25) for v in (0, 0.25, 0.5, 0.75)] == ["0,00", "0,25", "0,50", "0,75"]
    assert tick(1500.0, 500.0) == "1 500" and tick(2.5, 2.5) == "2,5"


def test_compare_places_include_new_buildings():
    """The gap is counted against today's places and the model's new buildings, both shown."""
    from sim.compare import compare_table
    from sim.config import load_scenario

    scenarios = Path(__file__).parents[1] / "experiments" / "scenarios"
    results = [run(load_scenario(scenarios / f"lillestrom_{name}.toml"))
               for name in ("zones", "zones_housing")]
    assert any((r.services.new_places > 0).any() for r in results)
    table = compare_table(results, [2030, 2035])
    zones = table[table.district != "Hele kommunen"].set_index(
        ["scenario", "year", "district", "service"])
    for r in results:
        s = r.services[r.services.year.isin([2030, 2035])
                       & r.services.service.isin(["barnehage", "grunnskole"])]
        for row in s.itertuples():
            got = zones.loc[(r.scenario.name, row.year, row.district, row.service)]
            assert got.capacity + got.new_places == pytest.approx(row.places, rel=1e-12)
            assert got.shortage == pytest.approx(max(row.gap, 0.0), abs=1e-9)
            assert got.gap == pytest.approx(row.place_demand - row.places, rel=1e-12, abs=1e-9)
    # "Hele kommunen": the zones' sums, the gap netted over zones, the shortage only where
    # zones are short; a kommune-wide service (sykehjem) has its own shortage max(gap, 0)
    whole = table[table.district == "Hele kommunen"].set_index(["scenario", "year", "service"])
    for (name, year, service), rows in zones.groupby(level=[0, 1, 3]):
        got = whole.loc[(name, year, service)]
        assert got.users == pytest.approx(rows.users.sum(), rel=1e-12)
        assert got.gap == pytest.approx(rows.place_demand.sum() - (rows.capacity.sum()
                                        + rows.new_places.sum()), rel=1e-12, abs=1e-9)
        assert got.shortage == pytest.approx(rows.gap.clip(lower=0).sum(), abs=1e-9)
    wide = compare_table(results, [2030], services=("institusjon",))
    inst = wide[wide.district == "Hele kommunen"]
    assert len(inst) and inst.shortage.notna().all()
    assert np.allclose(inst.shortage, inst.gap.clip(lower=0))
