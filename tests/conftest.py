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
