"""Crashes: SIGKILL of the service three times in one sweep, then of a Dask worker mid-task.

The sweep ends bitwise identical to an uninterrupted computation of the same spec, and no task
finished before a kill is computed again (its chunk files keep their mtime and inode).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import zarr
from live_service import Service
from patchwalk_client.spec import parse_spec
from patchwalk_worker.execute import execute_task
from patchwalk_worker.store import SweepStore
from reliability_helpers import chunk_stats, record, values_digest

SPEC: dict[str, Any] = {
    "name": "crash",
    "seed": 5,
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
    "particles": {"count": 8000, "per_task": 1000},
    "times": {"min": 0.01, "max": 100.0, "count": 6},
    "sweep": {"seed": [5, 6]},
}
TOTAL = 16


def _reference(path: Path) -> str:
    """The same sweep computed in this process, task after task, uninterrupted, finalised."""
    store = SweepStore.create_or_open(path, parse_spec(SPEC))
    for p, k in store.pending():
        execute_task(str(path), p, k)
    SweepStore.open(path, mode="r+").write_summaries()
    return values_digest(path)


def _done(store: Path) -> int:
    try:
        g = zarr.open_group(str(store), mode="r", use_consolidated=False)
        return int(g["tasks/done"][...].sum())
    except Exception:
        return 0


def _wait_done(store: Path, at_least: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    n = _done(store)
    while n < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
        n = _done(store)
    return n


def _worker_pids(svc: Service) -> list[int]:
    kids = psutil.Process(svc.proc.pid).children(recursive=True)
    return [k.pid for k in kids if "spawn_main" in " ".join(k.cmdline())]


def test_sigkill_service_three_times_and_a_worker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    svc = Service(data)
    r = httpx.post(f"{svc.url}/v1/sweeps", json=SPEC, timeout=30)
    assert r.status_code == 202, r.text
    sweep_id = r.json()["id"]
    store = data / "stores" / f"{sweep_id}.zarr"
    seen: dict[tuple[int, int], tuple[int, ...]] = {}
    kills = []
    try:
        for _ in range(3):
            n = _wait_done(store, len(seen) + 2)
            svc.kill(signal.SIGKILL)
            assert n < TOTAL, "the sweep finished before the kill; make its tasks longer"
            now = chunk_stats(store)
            assert all(now[t] == v for t, v in seen.items())  # nothing finished was rewritten
            seen.update(now)
            kills.append(len(now))
            svc = Service(data)
        # a Dask worker killed mid-task: Dask reschedules it, the sweep goes on
        _wait_done(store, len(seen) + 1)
        pids = _worker_pids(svc)
        assert pids, "no worker process found"
        psutil.Process(pids[0]).kill()
        deadline = time.monotonic() + 240
        state = ""
        while time.monotonic() < deadline:
            state = httpx.get(f"{svc.url}/v1/sweeps/{sweep_id}", timeout=10).json()["state"]
            if state in ("done", "failed", "cancelled"):
                break
            time.sleep(0.2)
        assert state == "done"
        kappa = httpx.get(f"{svc.url}/v1/sweeps/{sweep_id}/kappa", timeout=30)
        assert kappa.status_code == 200
    finally:
        svc.stop()
    final = chunk_stats(store)
    recomputed = sum(1 for t, v in seen.items() if final[t] != v)
    ref = tmp_path / "ref.zarr"
    same = values_digest(store) == _reference(ref)
    ref_kappa = json.loads((ref / "results.json").read_text())["kappa"]
    record("SIGKILL x3 + worker kill: tasks done at each service kill", kills)
    record("SIGKILL x3 + worker kill: finished tasks recomputed", recomputed)
    record("SIGKILL x3 + worker kill: task values identical to uninterrupted", same)
    assert recomputed == 0
    assert same
    assert (store / "results.json").read_bytes() == (ref / "results.json").read_bytes()
    assert [p["kappa"] for p in kappa.json()["points"]] == [p["kappa"] for p in ref_kappa]
