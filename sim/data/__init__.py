"""Embedded default data (see SOURCES.md) and helpers to locate it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_path(name: str) -> Path:
    """Path of an embedded data file shipped in ``sim/data``."""
    return Path(str(resources.files("sim.data").joinpath(name)))
