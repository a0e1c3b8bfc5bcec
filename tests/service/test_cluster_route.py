"""``GET /v1/cluster``: token-protected, reports what the runner runs tasks on."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeBackend
from patchwalk_service.settings import ServiceSettings

from .test_routes import make_client


def test_cluster_route_needs_a_token(tmp_path: Path, backend: FakeBackend) -> None:
    with make_client(tmp_path, backend, start=False, tokens=["s3cret"]) as c:
        assert c.get("/v1/cluster").status_code == 401
        r = c.get("/v1/cluster", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200
        assert r.json() == {"kind": "threads", "workers": 2, "cores": 2, "tasks_in_flight": 0}


def test_cluster_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWALK_CLUSTER", "slurm")
    monkeypatch.setenv("PATCHWALK_INTERFACE", "ib0")
    monkeypatch.setenv("PATCHWALK_MAX_JOBS", "16")
    s = ServiceSettings()
    assert (s.cluster, s.interface, s.max_jobs, s.min_jobs, s.dashboard) == (
        "slurm", "ib0", 16, 0, None)
