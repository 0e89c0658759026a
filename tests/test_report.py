"""Sweep reports: fan charts, tornado, sensitivity indices, self-contained HTML, summary."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.report import group_stats, report, sensitivity, summary
from experiments.sweep import read_results, sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "experiments" / "sweeps"
BASE = ROOT / "experiments" / "scenarios" / "lorenskog_main.toml"


@pytest.fixture(scope="module")
def grid_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "out"
    sweep(SWEEPS / "lorenskog_refugees_growth.toml", out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def sobol_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("sobol") / "out"
    sweep(SWEEPS / "lorenskog_fertility_mortality_sobol.toml", out, workers=1, progress=False)
    return out


def test_report_html_self_contained(grid_out):
    path = report(grid_out)
    text = path.read_text(encoding="utf-8")
    assert "Lørenskog" in text
    srcs = re.findall(r"src='([^']*)'", text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    outside_images = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]*", "", text)
    assert "http" not in outside_images.replace("http-equiv", "")
    for name in ("fan_population.png", "fan_users.png", "fan_cost_nok.png", "tornado.png",
                 "sensitivity.png"):
        assert (grid_out / "report" / name).stat().st_size > 1000


def test_grid_main_effects(grid_out):
    sens = sensitivity(grid_out)
    assert set(sens["index"]) == {"main_effect"}
    assert sens["year"].eq(2050).all()
    per_ind = sens.groupby("indicator")["value"].sum()
    assert (per_ind <= 1 + 1e-9).all() and (sens["value"] >= -1e-12).all()
    pop = sens[sens["indicator"] == "population.total"].set_index("axis")["value"]
    assert pop["migration.in_multiplier"] > pop["refugees.settled_per_year"]
    early = sensitivity(grid_out, year=2026)
    assert early["year"].eq(2026).all()


def test_sobol_indices_and_summary(sobol_out):
    sens = sensitivity(sobol_out)
    assert {"S1", "ST"} == set(sens["index"])
    old = sens[(sens["indicator"] == "population.90+") & (sens["index"] == "ST")]
    old = old.set_index("axis")["value"]
    assert old["mortality.improvement_multiplier"] == old.max()  # oldest old: mortality
    kids = sens[(sens["indicator"] == "population.0") & (sens["index"] == "ST")]
    assert kids.set_index("axis")["value"].idxmax() in ("fertility.tfr",
                                                          "migration.in_multiplier")
    table = summary(sobol_out, csv=True)
    assert (table["p5"] <= table["p50"] + 1e-6).all()
    assert (table["p50"] <= table["p95"] + 1e-6).all()
    assert table["n"].eq(80).all()
    assert set(table["year"]) == {2024, 2026, 2028, 2030, 2035, 2040, 2045, 2050}
    assert (sobol_out / "summary.csv").exists()
    assert report(sobol_out).exists()


def test_lhs_regression_with_failures(tmp_path):
    sw = tmp_path / "lhs.toml"
    sw.write_text(f"""
base = "{BASE}"
[design]
method = "lhs"
samples = 24
[axes."fertility.tfr"]
range = [1.2, 1.9]
[axes."mortality.level"]
range = [0.5, 1.5]
[outputs]
indicators = ["population", "age_groups"]
""", encoding="utf-8")
    out = tmp_path / "out"
    sweep(sw, out, workers=1, progress=False)
    sens = sensitivity(out)
    assert set(sens["index"]) == {"SRC2"} and "r2" in sens
    births = sens[sens["indicator"] == "population.0"].set_index("axis")["value"]
    assert births["fertility.tfr"] > births["mortality.level"]
    assert np.isfinite(sens["value"]).all()
    html = report(out).read_text(encoding="utf-8")
    assert "SRC2" in html
    assert isinstance(summary(out), pd.DataFrame)


@pytest.mark.parametrize("layout", ["tiled", "equal", "unequal"])
def test_group_stats_equal_pandas(layout):
    """The columnar statistics against pandas' groupby (an independent implementation): a
    sweep's layout (the same groups repeated in one order), equal group sizes in random
    order, and unequal sizes with NaN values and an empty group."""
    rng = np.random.default_rng(7)
    n_groups = 9
    equal_sizes = layout != "unequal"
    sizes = np.full(n_groups, 40) if equal_sizes else rng.integers(1, 60, n_groups)
    if not equal_sizes:
        sizes[4] = 0
    key = (np.tile(rng.permutation(n_groups), 40) if layout == "tiled"
           else rng.permutation(np.repeat(np.arange(n_groups), sizes)))
    value = rng.lognormal(3, 1, len(key))
    if not equal_sizes:
        value[rng.random(len(key)) < 0.1] = np.nan
    got = group_stats(key, value, n_groups)
    grouped = pd.Series(value).groupby(key)
    want = grouped.agg(["count", "mean", "std", "min", "max"]).reindex(range(n_groups))
    np.testing.assert_array_equal(got["n"], want["count"].fillna(0).to_numpy())
    for col in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(got[col], want[col].to_numpy(), rtol=1e-12)
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        np.testing.assert_allclose(got[f"p{round(q * 100)}"],
                                   grouped.quantile(q).reindex(range(n_groups)).to_numpy(),
                                   rtol=1e-12)


def test_summary_equals_pandas_on_the_tidy_table(grid_out):
    """summary() computed on columns equals pandas' groupby over read_results' tidy table."""
    df = read_results(grid_out)
    grouped = df.groupby(["indicator", "year"], sort=True)["value"]
    want = grouped.agg(["count", "mean", "std", "min", "max"]).reset_index()
    want["p50"] = grouped.quantile(0.5).to_numpy()
    got = summary(grid_out)
    assert got["indicator"].tolist() == want["indicator"].tolist()
    assert got["year"].tolist() == want["year"].tolist()
    np.testing.assert_array_equal(got["n"], want["count"])
    for col in ("mean", "std", "min", "max", "p50"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12)
