"""End to end: a real ``patchwalk serve`` (uvicorn + LocalCluster) on loopback.

Submit, progress events, results identical to ``patchwalk run --json``; SIGKILL mid-sweep,
restart (with auth on), completion with identical results and no finished task recomputed;
error paths; auth off and on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_service import CLI, Service
from patchwalk_client.client import Client
from patchwalk_client.errors import SpecRejected, SweepNotFound, Unauthorized

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

SPEC: dict[str, Any] = {
    "name": "e2e",
    "seed": 7,
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
    "particles": {"count": 24000, "per_task": 2000},
    "times": {"min": 0.01, "max": 30.0, "count": 8},
    "sweep": {"seed": [7, 8]},
}
def _reference(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    path = tmp / f"ref-{spec['seed']}.json"
    path.write_text(json.dumps(spec))
    out = subprocess.run(
        [*CLI, "run", str(path), "--json", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _chunk_stats(store: Path, tasks: list[tuple[int, int]]) -> dict[tuple[int, int], list[int]]:
    """mtime_ns and inode of each finished task's sums and done chunk files."""
    out = {}
    for p, t in tasks:
        files = sorted((store / "tasks" / "sums" / "c" / str(p) / str(t)).rglob("*"))
        files += sorted((store / "tasks" / "done" / "c" / str(p) / str(t)).rglob("*"))
        files = [f for f in files if f.is_file()]
        assert files, (p, t)
        out[(p, t)] = [v for f in files for v in (f.stat().st_mtime_ns, f.stat().st_ino)]
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("e2e")


def test_service_end_to_end(workdir: Path) -> None:
    data = workdir / "data"
    svc = Service(data)
    try:
        c = Client(svc.url, token="", timeout=30)
        # ---- error paths ------------------------------------------------------------------
        with pytest.raises(SweepNotFound):
            c.get("0123456789abcdef")
        with pytest.raises(SpecRejected) as bad:
            c.submit({**SPEC, "particles": {"count": -1, "per_task": 10}})
        assert bad.value.status_code == 422 and any(
            "particles" in e["loc"] for e in bad.value.errors
        )
        with pytest.raises(SpecRejected) as big:
            c.submit({**SPEC, "name": "x" * 30000})
        assert big.value.status_code == 413
        with pytest.raises(SpecRejected) as budget:
            c.submit({**SPEC, "particles": {"count": 10**9, "per_task": 10**6}})
        assert "budget" in str(budget.value) and budget.value.problem["budget_cpu_hours"] == 10
        dry = httpx.post(f"{svc.url}/v1/sweeps?dry_run=1", json=SPEC)
        assert dry.status_code == 200 and dry.json()["accepted"] is True, dry.text
        assert dry.json()["estimated_steps"] > 0 and dry.json()["estimated_wall_seconds"] > 0
        assert c.list() == []  # a dry run creates nothing
        r = httpx.get(f"{svc.url}/v1/sweeps/nope/kappa")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

        # ---- submit, events, results = patchwalk run --json -------------------------------
        sweep = c.submit(SPEC)
        assert sweep.created and c.submit(SPEC).id == sweep.id and not c.submit(SPEC).created
        seen = list(sweep.events(timeout=120))
        assert seen[-1].state == "done" and seen[-1].tasks_done == 24
        done_counts = [s.tasks_done for s in seen]
        assert done_counts == sorted(done_counts)
        assert sweep.wait(progress=False, timeout=60).state == "done"
        assert sweep.kappa() == _reference(SPEC, workdir)
        assert sweep.plot_png()[:4] == b"\x89PNG"
        assert "patchwalk_tasks_completed_total 24" in httpx.get(f"{svc.url}/metrics").text

        # ---- SIGKILL mid-sweep --------------------------------------------------------------
        # tasks long enough (~1 s) that the kill lands well before the sweep ends, even though
        # the progress counters we poll may lag the store by a save interval
        spec2 = {**SPEC, "seed": 11, "sweep": {"seed": [11, 12]},
                 "times": {"min": 0.01, "max": 300.0, "count": 8}}
        s2 = c.submit(spec2)
        deadline = time.monotonic() + 120
        st = s2.status()
        while st.tasks_done < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            st = s2.status()
        assert 3 <= st.tasks_done < 24, st
        svc.kill(signal.SIGKILL)
    finally:
        svc.kill()
    store = data / "stores" / f"{s2.id}.zarr"
    import zarr

    done = zarr.open_group(str(store), mode="r")["tasks/done"][...]
    finished = [(int(p), int(t)) for p, t in zip(*done.nonzero(), strict=True)]
    assert 3 <= len(finished) < 24
    before = _chunk_stats(store, finished)

    # ---- restart with auth on: resumes, identical results, nothing recomputed ----------------
    svc = Service(data, env={"PATCHWALK_TOKENS": "tok-1,tok-2"})
    try:
        assert httpx.get(f"{svc.url}/healthz").status_code == 200
        r = httpx.get(f"{svc.url}/v1/sweeps")
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        with pytest.raises(Unauthorized):
            Client(svc.url, token="wrong").get(s2.id)
        c = Client(svc.url, token="tok-2", timeout=30)
        s2 = c.get(s2.id)
        final = s2.wait(progress=False, timeout=180)
        assert final.state == "done" and final.tasks_done == 24
        assert _chunk_stats(store, finished) == before
        assert s2.kappa() == _reference(spec2, workdir)
        assert c.get(sweep.id).status().state == "done"
        # cancel of a finished sweep leaves it done
        assert c.get(sweep.id).cancel().state == "done"
    finally:
        svc.stop()


def test_remote_cli_and_bind_refusal(workdir: Path) -> None:
    out = subprocess.run(
        [*CLI, "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "PATCHWALK_TOKENS"},
    )
    assert out.returncode != 0 and "--insecure" in out.stderr
    out = subprocess.run(
        [*CLI, "status", "abc", "--url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3 and "cannot reach" in out.stderr
