"""Lørenskog's savings paces (seed 004) against the model: the seed's arithmetic, the gaps.

The first test is a transcription check: our reading of the seed's scenario tables (−202 mill.
before measures plus the listed measures plus 12 mill. from 2025) reproduces every surplus the
seed prints. The others check that the comparison names every difference and that the
differences add up to the gap between the model and the seed exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.budget import default_budget_config
from sim.budget.seed004 import PARTS_MODEL, TARGET_YEARS, compare, markdown, seed_ndr
from sim.run import run
from sim.scenarios import build_scenario


@pytest.fixture(scope="module")
def rows():
    sc = build_scenario(None, "3222", 2050, None, None)
    result = run(sc.model_copy(update={"budget": sc.budget.model_copy(
        update={"enabled": False})}))
    return compare(result)


def test_seed_arithmetic_reproduces_the_seed_tables():
    paces = default_budget_config("3222").savings.paces
    # 004:2567 (-2,6 % in 2024: -117 mill.), 004:2594 (Overskudd 32 000 86 000)
    assert seed_ndr("Sprint", paces["Sprint"], 2024) == pytest.approx(-117e6)
    assert seed_ndr("Sprint", paces["Sprint"], 2026) == pytest.approx(32e6)
    assert seed_ndr("Sprint", paces["Sprint"], 2027) == pytest.approx(86e6)
    # 004:2692 (Overskudd 2 000 36 000 72 000 102 000 for 2026-2029)
    for year, value in zip((2026, 2027, 2028, 2029), (2e6, 36e6, 72e6, 102e6), strict=True):
        assert seed_ndr("Mellomdistanse", paces["Mellomdistanse"], year) == pytest.approx(value)


def test_every_pace_compared_and_differences_add_up(rows):
    assert [r["pace"] for r in rows] == list(TARGET_YEARS)
    for r in rows:
        assert set(r["differences_nok"]) == set(PARTS_MODEL)
        total = sum(r["differences_nok"].values())
        assert r["model_ndr_nok"] == pytest.approx(r["seed_ndr_nok"] + total, abs=1.0)
        # the model starts where the seed starts (the 2024 prognosis is calibrated)
        assert r["model_first_nok"] == pytest.approx(r["seed_ndr_nok"] - r["seed_change_nok"],
                                                     abs=1.0)
        met = r["model_year"] is not None and abs(r["model_year"] - r["target_year"]) <= 1
        if not met:   # then the table must say what is missing, in mill. kr
            assert r["shortfall_nok"] > 0
            assert r["shortfall_nok"] == pytest.approx(
                0.02 * r["model_revenue_nok"] - r["model_ndr_nok"], abs=1.0)


def test_markdown_table_names_each_part(rows):
    text = markdown(rows)
    for label in PARTS_MODEL.values():
        assert label in text
    for pace, year in TARGET_YEARS.items():
        assert f"{pace} {year}" in text
    assert np.isfinite([r["model_ndr_pct"] for r in rows]).all()
