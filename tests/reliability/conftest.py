"""The reliability suite (issue 8): hostile users, crashes, full disks, corruption, overload.

Every test here runs against real components — ``patchwalk serve`` under uvicorn on loopback, a
real LocalCluster, real zarr stores, SQLite — and records what it measured with
``reliability_helpers.record``; :func:`pytest_terminal_summary` prints the figures at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from live_service import Service
from reliability_helpers import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print every figure the reliability tests measured."""
    if not FIGURES:
        return
    terminalreporter.section("patchwalk reliability figures (measured in this run)")
    width = max(len(name) for name, _ in FIGURES)
    for name, value in FIGURES:
        terminalreporter.write_line(f"{name.ljust(width)}  {value}")



#: The token of the shared service.
TOKEN = "tok-reliability"


@pytest.fixture(scope="session")
def shared_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One ``patchwalk serve`` with a token for the schema, hostile-input and overload tests.

    Generous submission bounds (schemathesis submits many specs; the bounds themselves are
    tested in test_limits.py), a small compute budget, at most 64 event streams in all.
    """
    svc = Service(tmp_path_factory.mktemp("shared") / "data", env={
        "PATCHWALK_TOKENS": TOKEN,
        "PATCHWALK_MAX_CPU_HOURS": "0.02",
        "PATCHWALK_SUBMISSIONS_PER_MINUTE": "100000",
        "PATCHWALK_MAX_QUEUED_PER_TOKEN": "100000",
        "PATCHWALK_MAX_STREAMS": "64",
        "PATCHWALK_MAX_STREAMS_PER_CLIENT": "1000",
    })
    yield svc
    svc.stop()
