"""Bounds on what a client may consume (items 6, 8): rate, quota, disk cap, purge, retention,
and a cancellation that stops the tasks in flight.

The app in this process (``create_app``) with the real store backend, SQLite registry and a
thread pool for tasks (no Dask cluster needed to test HTTP bounds), driven through TestClient.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import zarr
from fastapi.testclient import TestClient
from patchwalk_service.app import create_app
from patchwalk_service.runners import ThreadRunner
from patchwalk_service.settings import ServiceSettings
from reliability_helpers import record

TOKEN = "tok-limits"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _spec(seed: int, count: int = 200, per_task: int = 100, tmax: float = 1.0) -> dict[str, Any]:
    return {"name": f"limits-{seed}", "seed": seed,
            "medium": {"patches": [[1.0, 1.0], [0.5, 0.1]]},
            "particles": {"count": count, "per_task": per_task},
            "times": {"min": 0.01, "max": tmax, "count": 4}}


@contextmanager
def _client(tmp: Path, start: bool = True, **kw: Any) -> Iterator[TestClient]:
    settings = ServiceSettings(data_dir=tmp / "data", tokens=[TOKEN], **kw)
    app = create_app(settings, runner_factory=lambda s: ThreadRunner(2), start_scheduler=start)
    with TestClient(app) as client:
        yield client


def _wait(client: TestClient, sweep_id: str, states: tuple[str, ...] = ("done",)) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = str(client.get(f"/v1/sweeps/{sweep_id}", headers=AUTH).json()["state"])
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{sweep_id} not in {states}")


def test_rate_limit_429_with_retry_after(tmp_path: Path) -> None:
    with _client(tmp_path, start=False, submissions_per_minute=3) as c:
        codes = [c.post("/v1/sweeps", json=_spec(i), headers=AUTH).status_code for i in range(4)]
        r = c.post("/v1/sweeps", json=_spec(9), headers=AUTH)
    assert codes[:3] == [202, 202, 202] and codes[3] == 429
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"] == "application/problem+json"
    record("rate limit 3/min: 4th submission",
           f"{codes[3]}, Retry-After {r.headers['retry-after']} s")


def test_quota_of_queued_sweeps(tmp_path: Path) -> None:
    with _client(tmp_path, start=False, max_queued_per_token=2) as c:
        codes = [c.post("/v1/sweeps", json=_spec(i), headers=AUTH).status_code for i in range(3)]
        again = c.post("/v1/sweeps", json=_spec(0), headers=AUTH).status_code  # existing: 200
    assert codes == [202, 202, 429] and again == 200
    record("quota 2 queued per token: 3rd new sweep", codes[2])


def test_disk_cap_507(tmp_path: Path) -> None:
    with _client(tmp_path, start=False, max_disk_bytes=1) as c:
        r = c.post("/v1/sweeps", json=_spec(1), headers=AUTH)
    assert r.status_code == 507 and "PATCHWALK_MAX_DISK_BYTES" in r.json()["detail"]


def test_purge_removes_store_and_record(tmp_path: Path) -> None:
    with _client(tmp_path) as c:
        sweep_id = c.post("/v1/sweeps", json=_spec(4), headers=AUTH).json()["id"]
        _wait(c, sweep_id)
        store = tmp_path / "data" / "stores" / f"{sweep_id}.zarr"
        assert store.is_dir()
        assert c.delete(f"/v1/sweeps/{sweep_id}?purge=true", headers=AUTH).status_code == 204
        assert c.get(f"/v1/sweeps/{sweep_id}", headers=AUTH).status_code == 404
        assert c.get(f"/v1/sweeps/{sweep_id}/kappa", headers=AUTH).status_code == 404
    assert not store.exists()
    assert not any((tmp_path / "data" / "stores").iterdir())


def test_retention_purges_finished_sweeps(tmp_path: Path) -> None:
    with _client(tmp_path, retention_days=2e-5) as c:  # 1.7 s
        sweep_id = c.post("/v1/sweeps", json=_spec(5), headers=AUTH).json()["id"]
        _wait(c, sweep_id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if c.get(f"/v1/sweeps/{sweep_id}", headers=AUTH).status_code == 404:
                break
            time.sleep(0.1)
        assert c.get(f"/v1/sweeps/{sweep_id}", headers=AUTH).status_code == 404
    assert not (tmp_path / "data" / "stores" / f"{sweep_id}.zarr").exists()


def test_cancel_stops_tasks_in_flight(tmp_path: Path) -> None:
    with _client(tmp_path, max_in_flight=4) as c:
        sweep_id = c.post("/v1/sweeps", json=_spec(6, count=6000, per_task=100, tmax=20.0),
                          headers=AUTH).json()["id"]
        store = tmp_path / "data" / "stores" / f"{sweep_id}.zarr"
        deadline = time.monotonic() + 60
        while c.get(f"/v1/sweeps/{sweep_id}", headers=AUTH).json()["tasks_done"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert c.delete(f"/v1/sweeps/{sweep_id}", headers=AUTH).json()["state"] == "cancelled"
        time.sleep(1.5)  # tasks that were in flight have ended by now
        status = c.get(f"/v1/sweeps/{sweep_id}", headers=AUTH).json()

        def in_store() -> int:
            g = zarr.open_group(str(store), mode="r", use_consolidated=False)
            return int(g["tasks/done"][...].sum())

        first = in_store()
        time.sleep(1.0)
        later = in_store()
    record("cancel: tasks in store 1 s apart / status tasks_done", f"{first}, {later} / "
           f"{status['tasks_done']} of {status['tasks_total']}")
    assert first == later == status["tasks_done"] < status["tasks_total"]
