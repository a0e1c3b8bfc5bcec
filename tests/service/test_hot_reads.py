"""Status snapshots and hot reads (issue 8, overload): answers from memory, never stale, never
without a token, never partial.

The fake backend and the step-by-step runner make every change explicit: a status must change
at the very next request after a registry write or a finished task, and must cost no registry
read or rendering while nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend, ManualRunner
from fastapi.testclient import TestClient
from patchwalk_service.app import create_app
from patchwalk_service.hotpath import HotReads
from patchwalk_service.settings import ServiceSettings
from patchwalk_service.status import StatusBoard, status_of

TOKEN = "tok-hot"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(tmp_path: Path, backend: FakeBackend, **kw: Any) -> TestClient:
    settings = ServiceSettings(data_dir=tmp_path / "data", **kw)
    app = create_app(settings, backend=backend, runner_factory=lambda s: ManualRunner(),
                     start_scheduler=False)
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path, backend: FakeBackend) -> Iterator[TestClient]:
    with _client(tmp_path, backend, tokens=[TOKEN]) as c:
        c.headers.update(AUTH)
        yield c


def _hot(c: TestClient) -> HotReads:
    """The app's HotReads middleware (the stack is built at the first request)."""
    layer: Any = c.app.middleware_stack  # type: ignore[attr-defined]
    while layer is not None and not isinstance(layer, HotReads):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, HotReads)
    return layer


def _board(c: TestClient) -> StatusBoard:
    board: StatusBoard = c.app.state.status_board  # type: ignore[attr-defined]
    return board


def test_status_is_rendered_once_per_change(client: TestClient) -> None:
    sid = client.post("/v1/sweeps", json={"points": 1, "tasks": 3}).json()["id"]
    app: Any = client.app
    board, scheduler, registry = _board(client), app.state.scheduler, app.state.registry
    first = client.get(f"/v1/sweeps/{sid}")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.json() == status_of(registry.get(sid), scheduler).model_dump(mode="json")
    renders, reads = board.renders, 0
    real_get = registry.get

    def counting_get(sweep_id: str) -> Any:
        nonlocal reads
        reads += 1
        return real_get(sweep_id)

    registry.get = counting_get
    served = _hot(client).served
    for _ in range(20):  # nothing changed: the same bytes, no registry read, no rendering
        assert client.get(f"/v1/sweeps/{sid}").content == first.content
    assert (board.renders, reads) == (renders, 0)
    assert _hot(client).served == served + 20
    scheduler.step()  # activates the sweep (a registry write) and runs one task
    scheduler.step()
    st = client.get(f"/v1/sweeps/{sid}").json()
    assert st["state"] == "running" and st["tasks_done"] == scheduler.progress(sid)["tasks_done"]
    assert st["tasks_done"] >= 1
    assert reads == 1 and board.renders == renders + 1
    scheduler.run_until_idle(timeout=10)
    st = client.get(f"/v1/sweeps/{sid}").json()
    assert st["state"] == "done" and st["tasks_done"] == 3 and st["eta_seconds"] == 0.0


def test_status_follows_every_write_at_once(client: TestClient) -> None:
    sid = client.post("/v1/sweeps", json={"points": 2, "tasks": 2}).json()["id"]
    assert client.get(f"/v1/sweeps/{sid}").json()["state"] == "queued"
    client.app.state.scheduler.step()  # type: ignore[attr-defined]
    assert client.get(f"/v1/sweeps/{sid}").json()["state"] == "running"
    assert client.delete(f"/v1/sweeps/{sid}").json()["state"] == "cancelled"
    assert client.get(f"/v1/sweeps/{sid}").json()["state"] == "cancelled"
    assert client.post("/v1/sweeps", json={"points": 2, "tasks": 2}).status_code == 202
    assert client.get(f"/v1/sweeps/{sid}").json()["state"] == "queued"
    assert client.delete(f"/v1/sweeps/{sid}?purge=true").status_code == 204
    gone = client.get(f"/v1/sweeps/{sid}")
    assert gone.status_code == 404 and gone.headers["content-type"].startswith(
        "application/problem+json")


def test_hot_reads_need_the_token(client: TestClient) -> None:
    sid = client.post("/v1/sweeps", json={"points": 1, "tasks": 1}).json()["id"]
    client.app.state.scheduler.run_until_idle(timeout=10)  # type: ignore[attr-defined]
    for path in (f"/v1/sweeps/{sid}", f"/v1/sweeps/{sid}/kappa"):
        assert client.get(path).status_code == 200  # now in memory
        for bad in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN}, {"Authorization": f"bearer {TOKEN}x"}):
            client.headers.pop("Authorization", None)
            r = client.get(path, headers=bad)
            assert r.status_code == 401, (path, bad, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert "points" not in r.text and sid not in r.json().get("detail", "")
        client.headers.update(AUTH)
        assert client.get(path, headers={"Authorization": f"bearer  {TOKEN} "}).status_code == 200


def test_cached_results_are_the_routes_bytes_with_etag(client: TestClient) -> None:
    sid = client.post("/v1/sweeps", json={"points": 1, "tasks": 1}).json()["id"]
    assert client.get(f"/v1/sweeps/{sid}/kappa").status_code == 409  # not done: the route
    client.app.state.scheduler.run_until_idle(timeout=10)  # type: ignore[attr-defined]
    hot = _hot(client)
    built = client.get(f"/v1/sweeps/{sid}/kappa")  # built and cached by the route
    served = hot.served
    again = client.get(f"/v1/sweeps/{sid}/kappa")  # from memory
    assert hot.served == served + 1
    assert built.status_code == again.status_code == 200
    assert again.content == built.content and json.loads(again.content) == {"points": []}
    keep = ("content-type", "content-length", "etag", "cache-control")
    assert {k: again.headers[k] for k in keep} == {k: built.headers[k] for k in keep}
    etag = again.headers["etag"]
    for header in (etag, f'"x", {etag}', f"W/{etag}", "*"):
        r = client.get(f"/v1/sweeps/{sid}/kappa", headers={"If-None-Match": header})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert client.get(f"/v1/sweeps/{sid}/kappa", headers={"If-None-Match": '"x"'}).content \
        == built.content
    # a query is its own answer: built by the route the first time
    served = hot.served
    client.get(f"/v1/sweeps/{sid}/kappa?seed=1")
    assert hot.served == served


def test_other_requests_go_to_the_routes(client: TestClient) -> None:
    sid = client.post("/v1/sweeps", json={"points": 1, "tasks": 1}).json()["id"]
    client.app.state.scheduler.run_until_idle(timeout=10)  # type: ignore[attr-defined]
    client.get(f"/v1/sweeps/{sid}/kappa")
    hot = _hot(client)
    served = hot.served
    assert client.get("/v1/sweeps/0123456789abcdef").status_code == 404
    assert client.get("/v1/sweeps/0123456789abcdef/kappa").status_code == 404
    assert client.get(f"/v1/sweeps/{sid}/spec").status_code == 200
    assert client.get(f"/v1/sweeps/{sid}/", follow_redirects=False).status_code in (307, 404)
    assert client.get("/v1/sweeps//kappa", follow_redirects=False).status_code in (307, 404)
    assert client.post(f"/v1/sweeps/{sid}/kappa").status_code == 405
    assert client.get("/v1/sweeps").status_code == 200
    assert hot.served == served


def test_without_tokens_hot_reads_serve_everyone(tmp_path: Path, backend: FakeBackend) -> None:
    with _client(tmp_path, backend) as c:
        sid = c.post("/v1/sweeps", json={"points": 1}).json()["id"]
        served = _hot(c).served
        assert c.get(f"/v1/sweeps/{sid}").json()["id"] == sid
        assert _hot(c).served == served + 1
