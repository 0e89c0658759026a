"""Shared by the benchmarks: what machine (and how loaded) the figures come from."""

from __future__ import annotations

import os
import platform

import pytest


@pytest.fixture
def machine() -> str:
    """CPU model, cores and the load average (the figures may come from a shared machine)."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, load average {load:.1f} (1 min)"
