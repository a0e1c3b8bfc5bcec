"""Disk full (item 4): the sweep fails at once with the cause, the API answers 507, and the
same spec submitted again resumes to the bitwise result once space is back.

``test_disk_full_tmpfs`` puts the data directory on a real 8 MB tmpfs (needs root and
``mount``; skipped otherwise) and fills it mid-sweep. ``test_disk_full_write_fault`` injects
``ENOSPC`` at the store's write layer and SQLite's "database or disk is full" at the registry,
so the behaviour is tested on any machine. The figures say which ran.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from patchwalk_client.spec import parse_spec
from patchwalk_service.app import create_app
from patchwalk_service.registry import Registry
from patchwalk_service.runners import ThreadRunner
from patchwalk_service.settings import ServiceSettings
from patchwalk_worker.execute import execute_task
from patchwalk_worker.store import SweepStore
from reliability_helpers import record, values_digest

SPEC: dict[str, Any] = {
    "name": "diskfull", "seed": 13,
    "medium": {"patches": [[1.0, 1.0], [0.5, 0.1]]},
    "particles": {"count": 4000, "per_task": 100},
    "times": {"min": 0.01, "max": 5.0, "count": 6},
}


def _reference(path: Path) -> str:
    store = SweepStore.create_or_open(path, parse_spec(SPEC))
    for p, k in store.pending():
        execute_task(str(path), p, k)
    return values_digest(path)


def _status(c: TestClient, sweep_id: str) -> dict[str, Any]:
    body: dict[str, Any] = c.get(f"/v1/sweeps/{sweep_id}").json()
    return body


def _wait(c: TestClient, sweep_id: str, pred: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    st = _status(c, sweep_id)
    while not pred(st) and time.monotonic() < deadline:
        time.sleep(0.05)
        st = _status(c, sweep_id)
    assert pred(st), st
    return st


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8); the write-fault test covers it")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({out.stderr.strip()}); write-fault test covers it")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_tmpfs(tmpfs: Path, tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmpfs / "data", max_in_flight=2)
    app = create_app(settings, runner_factory=lambda s: ThreadRunner(2))
    with TestClient(app) as c:
        sweep_id = c.post("/v1/sweeps", json=SPEC).json()["id"]
        _wait(c, sweep_id, lambda s: s["tasks_done"] >= 3)
        filler = _fill(tmpfs)
        t0 = time.monotonic()
        st = _wait(c, sweep_id, lambda s: s["state"] == "failed")
        seconds = time.monotonic() - t0
        assert "disk full" in st["error"], st
        sched = app.state.scheduler
        attempts = sched.tasks_failed + sched.tasks_retried
        r = c.post("/v1/sweeps", json={**SPEC, "seed": 14})
        assert r.status_code == 507 and r.headers["content-type"] == "application/problem+json"
        filler.unlink()
        time.sleep(0.5)
        again = c.post("/v1/sweeps", json=SPEC)
        assert again.status_code == 202, again.text
        _wait(c, sweep_id, lambda s: s["state"] == "done", timeout=120)
    same = values_digest(tmpfs / "data" / "stores" / f"{sweep_id}.zarr") == _reference(
        tmp_path / "ref.zarr")
    record("disk full (real 8 MB tmpfs): seconds to failed / failed attempts",
           f"{seconds:.2f} / {attempts}")
    record("disk full (tmpfs): new POST / resumed bitwise identical", f"{r.status_code} / {same}")
    assert attempts <= 2 and same  # the tasks in flight at most, no retry loop


def test_disk_full_write_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = SweepStore.write
    state = {"full": False, "calls": 0}

    def write(self: SweepStore, point: int, task: int, result: Any) -> None:
        state["calls"] += 1
        if state["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        real_write(self, point, task, result)

    monkeypatch.setattr(SweepStore, "write", write)
    app = create_app(ServiceSettings(data_dir=tmp_path / "data", max_in_flight=2),
                     runner_factory=lambda s: ThreadRunner(2))
    with TestClient(app) as c:
        sweep_id = c.post("/v1/sweeps", json=SPEC).json()["id"]
        _wait(c, sweep_id, lambda s: s["tasks_done"] >= 3)
        state["full"] = True
        st = _wait(c, sweep_id, lambda s: s["state"] == "failed")
        assert "disk full" in st["error"] and "resume" in st["error"]
        sched = app.state.scheduler
        attempts = sched.tasks_failed + sched.tasks_retried

        def full(*a: Any, **k: Any) -> Any:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(Registry, "create_or_get", full)
        r = c.post("/v1/sweeps", json={**SPEC, "seed": 15})
        assert r.status_code == 507 and r.json()["title"] == "Insufficient storage"
        monkeypatch.undo()
        monkeypatch.setattr(SweepStore, "write", real_write)
        assert c.post("/v1/sweeps", json=SPEC).status_code == 202
        _wait(c, sweep_id, lambda s: s["state"] == "done", timeout=120)
    same = values_digest(tmp_path / "data" / "stores" / f"{sweep_id}.zarr") == _reference(
        tmp_path / "ref.zarr")
    record("disk full (write-layer fault): failed attempts / POST / resumed identical",
           f"{attempts} / {r.status_code} / {same}")
    assert attempts <= 2 and same
