"""Shared pytest configuration and the fixtures every test directory may use.

The fakes themselves are plain modules beside this file (``fakes``, ``live_service``); pytest
puts this folder on ``sys.path`` because it holds this conftest and no ``__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes import FakeBackend
from live_service import Service


@pytest.fixture
def backend(tmp_path: Path) -> FakeBackend:
    """A :class:`FakeBackend` with its stores under ``tmp_path`` and no failing sweep."""
    b = FakeBackend(tmp_path / "stores")
    b.failing = set()
    return b


@pytest.fixture
def live_service() -> Iterator[Callable[..., Service]]:
    """Start ``patchwalk serve`` subprocesses (``live_service(data_dir, env=...)``); each one
    still running at the end of the test is stopped."""
    started: list[Service] = []

    def start(data_dir: Path, env: dict[str, str] | None = None) -> Service:
        svc = Service(data_dir, env)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()
