"""REST routes with a fake backend: submission, idempotency, paging, events, cancel, problems."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeBackend
from fastapi.testclient import TestClient
from patchwalk_service.app import create_app
from patchwalk_service.runners import ThreadRunner
from patchwalk_service.settings import ServiceSettings

PROBLEM = "application/problem+json"


def make_client(
    tmp_path: Path, backend: FakeBackend, start: bool = True, **kw: object
) -> TestClient:
    settings = ServiceSettings(data_dir=tmp_path / "data", events_interval=0.02, **kw)  # type: ignore[arg-type]
    app = create_app(
        settings, backend=backend, runner_factory=lambda s: ThreadRunner(2), start_scheduler=start
    )
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path, backend: FakeBackend) -> Iterator[TestClient]:
    with make_client(tmp_path, backend, start=False) as c:
        yield c


def _problem(r: object, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body: dict[str, object] = r.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_submit_is_idempotent_and_runs(client: TestClient) -> None:
    spec = {"name": "one", "points": 2, "tasks": 3}
    r = client.post("/v1/sweeps", json=spec)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    assert r.headers["location"] == f"/v1/sweeps/{sid}"
    assert r.json()["state"] == "queued" and r.json()["tasks_total"] == 6
    r2 = client.post("/v1/sweeps", json=spec)
    assert r2.status_code == 200 and r2.json()["id"] == sid
    client.app.state.scheduler.run_until_idle(timeout=20)  # type: ignore[attr-defined]
    st = client.get(f"/v1/sweeps/{sid}").json()
    assert st["state"] == "done" and st["tasks_done"] == 6 and st["eta_seconds"] == 0.0
    r3 = client.post("/v1/sweeps", json=spec)
    assert r3.status_code == 200 and r3.json()["state"] == "done"


def test_toml_and_yaml_bodies(client: TestClient) -> None:
    r = client.post(
        "/v1/sweeps",
        content='name = "t"\npoints = 1\n',
        headers={"content-type": "application/toml"},
    )
    assert r.status_code == 202, r.text
    r2 = client.post(
        "/v1/sweeps", content="name: t\npoints: 1\n", headers={"content-type": "application/yaml"}
    )
    assert r2.status_code == 200 and r2.json()["id"] == r.json()["id"]
    _problem(client.post("/v1/sweeps", content="x", headers={"content-type": "image/png"}), 415)


def test_invalid_spec_is_422_with_field_errors(client: TestClient) -> None:
    body = _problem(client.post("/v1/sweeps", json={"points": 0}), 422)
    assert body["errors"] == [{"loc": "points", "msg": "must be at least 1"}]
    body = _problem(
        client.post(
            "/v1/sweeps", content="{not json", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert "JSON" in str(body["detail"])
    _problem(client.post("/v1/sweeps", json=[1, 2]), 422)
    _problem(
        client.post("/v1/sweeps", content=b"", headers={"content-type": "application/json"}), 422
    )


def test_budget_and_body_size(tmp_path: Path, backend: FakeBackend) -> None:
    with make_client(tmp_path, backend, start=False, max_cpu_hours=1.0, max_body_bytes=200) as c:
        big_job = {"points": 10, "steps": 1e6, "cpu_seconds": 360.0}
        dry = c.post("/v1/sweeps?dry_run=1", json=big_job)
        assert dry.status_code == 200 and dry.json()["accepted"] is False
        assert dry.json()["estimated_cpu_hours"] == 2.0 and dry.json()["tasks"] == 20
        assert c.get("/v1/sweeps").json()["items"] == []  # a dry run creates nothing
        body = _problem(c.post("/v1/sweeps", json=big_job), 422)
        assert "budget" in str(body["detail"]) and body["budget_cpu_hours"] == 1.0
        assert body["estimated_steps"] == 2e7 and body["estimated_cpu_hours"] == 2.0
        big = {"points": 1, "pad": "x" * 500}
        _problem(c.post("/v1/sweeps", json=big), 413)

        def chunks() -> Iterator[bytes]:  # no content-length: counted while streaming
            yield b'{"points": 1, "pad": "'
            for _ in range(10):
                yield b"x" * 50
            yield b'"}'

        _problem(
            c.post("/v1/sweeps", content=chunks(), headers={"content-type": "application/json"}),
            413,
        )


def test_unknown_id_routes_and_bad_queries_are_problems(client: TestClient) -> None:
    body = _problem(client.get("/v1/sweeps/nope"), 404)
    assert "nope" in str(body["detail"]) and body["instance"] == "/v1/sweeps/nope"
    for path in (
        "/v1/sweeps/nope/kappa",
        "/v1/sweeps/nope/events",
        "/v1/sweeps/nope/plot.png",
        "/v1/sweeps/nope/dataset",
        "/v1/sweeps/nope/theory",
    ):
        _problem(client.get(path), 404)
    _problem(client.delete("/v1/sweeps/nope"), 404)
    _problem(client.get("/no/such/route"), 404)
    _problem(client.put("/v1/sweeps"), 405)
    body = _problem(client.get("/v1/sweeps?limit=0"), 422)
    assert body["errors"][0]["loc"] == "limit"  # type: ignore[index]
    _problem(client.get("/v1/sweeps?state=sleeping"), 422)


def test_results_before_done_are_409(client: TestClient) -> None:
    sid = client.post("/v1/sweeps", json={"points": 1}).json()["id"]
    body = _problem(client.get(f"/v1/sweeps/{sid}/kappa"), 409)
    assert body["state"] == "queued"


def test_paging_and_state_filter(client: TestClient) -> None:
    ids = [
        client.post("/v1/sweeps", json={"points": 1, "name": f"s{i}"}).json()["id"]
        for i in range(5)
    ]
    page = client.get("/v1/sweeps?limit=2").json()
    assert page["total"] == 5 and [s["id"] for s in page["items"]] == ids[::-1][:2]
    assert page["next"] == "/v1/sweeps?limit=2&offset=2"
    last = client.get("/v1/sweeps?limit=2&offset=4").json()
    assert [s["id"] for s in last["items"]] == [ids[0]] and last["next"] is None
    client.delete(f"/v1/sweeps/{ids[1]}")
    cancelled = client.get("/v1/sweeps?state=cancelled").json()
    assert [s["id"] for s in cancelled["items"]] == [ids[1]]
    assert client.get("/v1/sweeps?state=queued").json()["total"] == 4


def test_cancel_then_resubmit_requeues(client: TestClient) -> None:
    spec = {"points": 3, "tasks": 2}
    sid = client.post("/v1/sweeps", json=spec).json()["id"]
    r = client.delete(f"/v1/sweeps/{sid}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    client.app.state.scheduler.run_until_idle(timeout=5)  # type: ignore[attr-defined]
    assert client.get(f"/v1/sweeps/{sid}").json()["state"] == "cancelled"
    r = client.post("/v1/sweeps", json=spec)
    assert r.status_code == 202 and r.json()["state"] == "queued"
    client.app.state.scheduler.run_until_idle(timeout=20)  # type: ignore[attr-defined]
    assert client.get(f"/v1/sweeps/{sid}").json()["state"] == "done"
    assert client.delete(f"/v1/sweeps/{sid}").json()["state"] == "done"


def test_events_stream_until_done(tmp_path: Path, backend: FakeBackend) -> None:
    with make_client(tmp_path, backend, start=True) as c:
        sid = c.post("/v1/sweeps", json={"points": 4, "tasks": 3}).json()["id"]
        events: list[tuple[str, dict[str, object]]] = []
        with c.stream("GET", f"/v1/sweeps/{sid}/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            name = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                if len(events) > 1000:
                    break
        assert events[-1][0] == "end" and events[-1][1]["state"] == "done"
        assert events[-1][1]["tasks_done"] == 12
        done = [e[1]["tasks_done"] for e in events]
        assert done == sorted(done)


def test_failure_is_reported(tmp_path: Path, backend: FakeBackend) -> None:
    with make_client(tmp_path, backend, start=False) as c:
        sid = c.post("/v1/sweeps", json={"points": 1}).json()["id"]
        backend.failing = {sid}
        c.app.state.scheduler.run_until_idle(timeout=10)  # type: ignore[attr-defined]
        st = c.get(f"/v1/sweeps/{sid}").json()
        assert st["state"] == "failed" and "boom" in st["error"]
        body = _problem(c.get(f"/v1/sweeps/{sid}/kappa"), 409)
        assert "boom" in str(body["detail"])
        metrics = c.get("/metrics").text
        assert "patchwalk_sweep_failures_total 1" in metrics
        assert "patchwalk_task_failures_total 1" in metrics
        # the failed task was attempted RETRIES more times (the other task may have been, too)
        retries = [ln for ln in metrics.splitlines() if ln.startswith("patchwalk_task_retries")]
        assert len(retries) == 1 and 2 <= int(retries[0].split()[1]) <= 4
        assert 'patchwalk_sweeps{state="failed"} 1' in metrics


def test_health_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    client.post("/v1/sweeps", json={"points": 1})
    text = client.get("/metrics").text
    assert "# TYPE patchwalk_queue_depth gauge" in text and "patchwalk_queue_depth 1" in text
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/sweeps/{sweep_id}/kappa" in paths and "/v1/sweeps" in paths
