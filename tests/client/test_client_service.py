"""The thin client against the app (fake backend): typed errors, submit forms, wait, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeBackend
from fastapi.testclient import TestClient
from patchwalk_client.client import Client
from patchwalk_client.errors import SpecRejected, SweepFailed, SweepNotFound, Unauthorized
from patchwalk_service.app import create_app
from patchwalk_service.runners import ThreadRunner
from patchwalk_service.settings import ServiceSettings


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Client, FakeBackend]]:
    backend = FakeBackend(tmp_path / "stores")
    backend.failing = set()
    settings = ServiceSettings(data_dir=tmp_path / "d", events_interval=0.02, tokens=["tok"])
    app = create_app(settings, backend=backend, runner_factory=lambda s: ThreadRunner(2))
    with TestClient(app) as tc:
        c = Client("http://testserver", token="tok")
        tc.headers.update(c.http.headers)
        c.http = tc
        yield c, backend


def test_submit_wait_and_errors(api: tuple[Client, FakeBackend], tmp_path: Path) -> None:
    c, backend = api
    sweep = c.submit({"points": 2, "tasks": 2})
    assert sweep.created
    assert sweep.wait(progress=True, timeout=30).state == "done"
    spec = tmp_path / "s.toml"
    spec.write_text("points = 2\ntasks = 2\n")
    again = c.submit(spec)
    assert again.id == sweep.id and not again.created
    assert c.submit("points: 2\ntasks: 2\n").id == sweep.id
    assert [s.id for s in c.list()] == [sweep.id]
    assert c.list(state="queued") == []
    with pytest.raises(SweepNotFound):
        c.get("missing")
    with pytest.raises(SpecRejected) as exc:
        c.submit({"points": 0})
    assert exc.value.errors == [{"loc": "points", "msg": "must be at least 1"}]
    with pytest.raises(FileNotFoundError):
        c.submit("nothing.toml")
    bad_spec = {"points": 1, "name": "bad"}
    backend.failing = {backend.plan(bad_spec).spec_hash[:16]}
    bad = c.submit(bad_spec)
    assert bad.id in backend.failing
    with pytest.raises(SweepFailed) as failed:
        bad.wait(progress=False, timeout=30)
    assert failed.value.state == "failed" and "boom" in str(failed.value.error)


def test_unauthorized(api: tuple[Client, FakeBackend]) -> None:
    c, _ = api
    c.http.headers["Authorization"] = "Bearer nope"
    with pytest.raises(Unauthorized):
        c.list()


def test_client_imports_no_heavy_packages() -> None:
    code = (
        "import sys, patchwalk_client, patchwalk_client.client, patchwalk_client.models, "
        "patchwalk_client.errors, patchwalk_client.remote_cli;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy','numba','dask','distributed','zarr','xarray'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json;" + code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == []


def test_typed_results_and_their_schema(api: tuple[Client, FakeBackend]) -> None:
    from patchwalk_client.models import EscapeResults, KappaResults, TheoryResults

    c, _ = api
    sweep = c.submit({"points": 1, "tasks": 1})
    sweep.wait(progress=False, timeout=30)
    kappa = sweep.kappa()
    assert isinstance(kappa, KappaResults) and kappa["points"] == [] and kappa == {"points": []}
    assert isinstance(sweep.escape(), EscapeResults) and isinstance(sweep.theory(), TheoryResults)
    schema = c.request("GET", "/openapi.json").json()
    ok = schema["paths"]["/v1/sweeps/{sweep_id}/kappa"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/KappaResults")
    point = schema["components"]["schemas"]["KappaPoint"]["properties"]
    assert {"kappa", "kappa_err", "kappa_A_ensemble", "n_tasks"} <= set(point)
