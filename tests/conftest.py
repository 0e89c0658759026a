"""Shared fixtures: small scenarios, a CLI runner and helpers for the output-folder checks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def folder_is_empty_or_missing(path) -> bool:
    """True when nothing was written to ``path``."""
    return not path.exists() or not any(path.iterdir())


@pytest.fixture(scope="session")
def sweep_root(tmp_path_factory):
    """A folder holding one finished sweep, ``flyktninger`` (Lørenskog: settlement x growth),
    for the web app's sweep browser (unit and browser tests)."""
    from experiments.sweep import sweep

    root = tmp_path_factory.mktemp("sweeps")
    sweep("experiments/sweeps/lorenskog_refugees_growth.toml", root / "flyktninger",
          workers=1, progress=False)
    return root
