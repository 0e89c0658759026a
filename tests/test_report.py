"""Sweep reports: fan charts, tornado, sensitivity indices, self-contained HTML, summary."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.report import report, sensitivity, summary
from experiments.sweep import sweep

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
