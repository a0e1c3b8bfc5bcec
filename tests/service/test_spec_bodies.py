"""Over HTTP a request body is only ever spec text: a body naming a file is never opened.

The real backend (``StoreBackend``, ``parse_spec``) answers bodies that are paths — a system file,
``/proc/self/environ``, a valid spec file on the server — with a 4xx problem naming what is wrong
with the body, as text/plain, TOML and YAML; no file named by a body is opened or even looked at,
and no sweep is registered or run.
"""

from __future__ import annotations

import builtins
import io
import os
import pathlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from patchwalk_service.app import create_app
from patchwalk_service.runners import ThreadRunner
from patchwalk_service.settings import ServiceSettings

CANARY = "canary-spec-name-7f3a"
VALID_TOML = f"""
name = "{CANARY}"
seed = 3
[medium]
patches = [[1.0, 1.0], [1.0, 0.1]]
[particles]
count = 8
per_task = 4
[times]
min = 0.01
max = 0.1
count = 2
"""
VALID_YAML = f"""
name: {CANARY}
seed: 3
medium: {{patches: [[1.0, 1.0], [1.0, 0.1]]}}
particles: {{count: 8, per_task: 4}}
times: {{min: 0.01, max: 0.1, count: 2}}
"""
MEDIA_TYPES = ("text/plain", "application/toml", "application/yaml")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = ServiceSettings(data_dir=tmp_path / "data")
    app = create_app(settings, runner_factory=lambda s: ThreadRunner(1), start_scheduler=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened or stat'ed through the usual entry points while the test runs."""
    seen: list[str] = []

    def spy(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, (str, bytes, os.PathLike)):
                seen.append(os.fsdecode(path))
            return fn(path, *args, **kwargs)

        return wrapper

    for mod, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "stat")):
        monkeypatch.setattr(mod, name, spy(getattr(mod, name)))
    real_path_open = pathlib.Path.open

    def path_open(self: pathlib.Path, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(self))
        return real_path_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", path_open)
    return seen


def test_paths_in_bodies_are_never_opened(
    client: TestClient, tmp_path: Path, touched: list[str]
) -> None:
    spec_toml = tmp_path / "server-side.toml"
    spec_toml.write_text(VALID_TOML)
    spec_yaml = tmp_path / "server-side.yaml"
    spec_yaml.write_text(VALID_YAML)
    secret_env = Path("/proc/self/environ")
    bodies = ["/etc/hostname", str(secret_env), str(spec_toml), str(spec_yaml)]
    touched.clear()
    for body in bodies:
        for media_type in MEDIA_TYPES:
            r = client.post("/v1/sweeps", content=body, headers={"content-type": media_type})
            assert 400 <= r.status_code < 500, (body, media_type, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            problem = r.json()
            # the answer names the problem (the body is not a spec) and echoes no file content
            assert problem["title"] == "Invalid sweep spec", problem
            assert "spec" in problem["detail"] and problem["errors"], problem
            assert CANARY not in r.text
    opened = {p for p in touched if any(p == b or p.endswith(b) for b in bodies)}
    assert opened == set(), opened
    assert client.get("/v1/sweeps").json()["total"] == 0
    stores = tmp_path / "data" / "stores"
    assert not stores.exists() or not any(stores.iterdir())


def test_the_same_spec_as_text_is_accepted(client: TestClient) -> None:
    """The control: the file's content posted as TOML or YAML text is a valid sweep."""
    r = client.post("/v1/sweeps", content=VALID_TOML, headers={"content-type": "application/toml"})
    assert r.status_code == 202, r.text
    r2 = client.post("/v1/sweeps", content=VALID_YAML, headers={"content-type": "application/yaml"})
    assert r2.status_code == 200 and r2.json()["id"] == r.json()["id"]
    assert r.json()["name"] == CANARY
