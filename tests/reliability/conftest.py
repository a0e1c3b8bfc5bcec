"""The reliability suite (issue 8): hostile users, crashes, full disks, corruption, overload.

Every test here runs against real components — ``patchwalk serve`` under uvicorn on loopback, a
real LocalCluster, real zarr stores, SQLite — and records what it measured with
``reliability_helpers.record``; :func:`pytest_terminal_summary` prints the figures at the end.
"""

from __future__ import annotations

from typing import Any

from reliability_helpers import FIGURES

def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print every figure the reliability tests measured."""
    if not FIGURES:
        return
    terminalreporter.section("patchwalk reliability figures (measured in this run)")
    width = max(len(name) for name, _ in FIGURES)
    for name, value in FIGURES:
        terminalreporter.write_line(f"{name.ljust(width)}  {value}")
