"""A real ``patchwalk serve`` on loopback, asked what users look for: every result from the
command line, the spec back, a medium realisation, partial results of an unfinished sweep,
filters that match nothing, ``patchwalk list``/``wait`` — CLI through subprocesses."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from live_service import CLI, Service
from specs_2d import spec_2d

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

SPEC_2D = spec_2d("inspect-2d")

LONG: dict[str, Any] = {
    "name": "partial", "seed": 9, "medium": {"patches": [[1.0, 1.0], [1.0, 0.05]]},
    "particles": {"count": 60 * 400, "per_task": 400},
    "times": {"min": 0.01, "max": 300.0, "count": 6},
}


def pw(url: str, *args: str, shell_tail: str = "") -> subprocess.CompletedProcess[str]:
    if shell_tail:
        cmd = " ".join([*CLI, *args, "--url", url]) + shell_tail
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120)
    return subprocess.run([*CLI, *args, "--url", url], capture_output=True, text=True,
                          timeout=300)


def test_results_spec_medium_partial_and_filters(
    tmp_path: Path, live_service: Callable[..., Service]
) -> None:
    svc = live_service(tmp_path / "data")
    url = svc.url
    spec_file = tmp_path / "sweep.spec"  # not .toml: a path is a path
    spec_file.write_text(SPEC_2D)
    sub = pw(url, "submit", str(spec_file))
    assert sub.returncode == 0, sub.stderr
    sid = sub.stdout.strip()
    w = pw(url, "wait", sid)
    assert w.returncode == 0 and "done" in w.stdout, w.stderr
    assert sid in pw(url, "list").stdout and sid in pw(url, "list", "--state", "done").stdout

    # ---- every result on the command line ------------------------------------------------
    table = pw(url, "results", sid, "--what", "kappa2d").stdout
    assert "kappa_2D = " in table and "converged" in table
    esc = list(csv.reader(io.StringIO(pw(url, "results", sid, "--what", "escape",
                                         "--csv").stdout)))
    assert esc[0][:3] == ["point", "medium.kappa_perp", "distance"] and "rate_eq8" in esc[0]
    theory = json.loads(pw(url, "results", sid, "--what", "theory", "--json").stdout)
    assert theory["points"][0]["curves"]["scaling_7"][0] is None
    assert "reason" in theory["points"][0]["validity"]["scaling_7"]
    head = pw(url, "results", sid, "--csv", shell_tail=" | head -1")
    assert head.stdout.startswith("point,medium.kappa_perp,t,") and "Traceback" not in head.stderr

    # ---- filters that match nothing: 400 naming what exists --------------------------------
    r = httpx.get(f"{url}/v1/sweeps/{sid}/kappa", params={"medium.kappa_perp": "0.5"})
    assert r.status_code == 400 and "medium.kappa_perp = 0.0, 0.1" in r.json()["detail"]
    r = httpx.get(f"{url}/v1/sweeps/{sid}/escape", params={"medium.kappa_perp": "abc"})
    assert r.status_code == 400
    r = httpx.get(f"{url}/v1/sweeps/{sid}/kappa", params={"energy": "10"})
    assert r.status_code == 400 and "?medium.kappa_perp=0.0" in r.json()["detail"]
    bad = pw(url, "results", sid, "--where", "medium.kappa_perp=0.5")
    assert bad.returncode == 2 and "0.0, 0.1" in bad.stderr and bad.stderr.count("\n") == 1

    # ---- a rejected spec: each field error once, in one place --------------------------------
    bad_file = tmp_path / "bad.txt"
    bad_file.write_text(SPEC_2D.replace("count = 200", "count = -5"))
    bad_sub = pw(url, "submit", str(bad_file))
    assert bad_sub.returncode == 2 and bad_sub.stderr.count("particles.count") == 1, bad_sub.stderr
    assert "Traceback" not in bad_sub.stderr

    # ---- an unsupported content type is 415, whatever the body ------------------------------
    for body in (b"", b"\xff\xfe", b"name = 'x'"):
        r = httpx.post(f"{url}/v1/sweeps", content=body,
                       headers={"content-type": "application/octet-stream"})
        assert r.status_code == 415, (body, r.text)

    # ---- the spec back, and it resubmits to the same sweep ----------------------------------
    spec = json.loads(pw(url, "spec", sid).stdout)
    assert spec == httpx.get(f"{url}/v1/sweeps/{sid}/spec").json()
    assert spec["name"] == "inspect-2d" and spec["sweep"]
    again = httpx.post(f"{url}/v1/sweeps", json=spec)
    assert again.status_code == 200 and again.json()["id"] == sid

    # ---- a medium realisation is the one the task ran on ----------------------------------
    med = httpx.get(f"{url}/v1/sweeps/{sid}/medium", params={"point": 1, "task": 1}).json()
    import zarr

    stored = zarr.open_group(str(tmp_path / "data" / "stores" / f"{sid}.zarr"), mode="r")
    ka, kh = np.asarray(stored["tasks/realisation"][1, 1])
    assert med["kappa_A"] == ka and med["kappa_H"] == kh  # bitwise: rebuilt from the seed
    assert med["kappa_perp"] == 0.1 and med["params"] == {"medium.kappa_perp": 0.1}
    rows = list(csv.reader(io.StringIO(pw(url, "medium", sid, "--point", "1", "--task", "1",
                                          "--csv").stdout)))
    assert rows[0] == ["strip", "x_left", "x_right", "kappa"] and len(rows) - 1 == len(
        med["kappa"])
    r = httpx.get(f"{url}/v1/sweeps/{sid}/medium", params={"point": 7})
    assert r.status_code == 400 and "points 0 to 1" in r.json()["detail"]

    # ---- partial results of a running, then cancelled sweep --------------------------------
    long = httpx.post(f"{url}/v1/sweeps", json=LONG).json()["id"]
    deadline = time.monotonic() + 120
    st: dict[str, Any] = {}
    while time.monotonic() < deadline:
        st = httpx.get(f"{url}/v1/sweeps/{long}").json()
        if st["tasks_done"] >= 2:
            break
        time.sleep(0.2)
    assert 2 <= st["tasks_done"] < st["tasks_total"], st
    httpx.delete(f"{url}/v1/sweeps/{long}")
    body = httpx.get(f"{url}/v1/sweeps/{long}/kappa").json()
    assert body["partial"] is True and body["tasks_total"] == 60
    assert 2 <= body["tasks_done"] < 60
    pt = body["points"][0]
    assert pt["n_tasks"] == body["tasks_done"] and pt["n_particles"] == 400 * pt["n_tasks"]
    cli = pw(url, "results", long)
    assert cli.returncode == 0 and "partial results" in cli.stderr

    # ---- a sweep with escape.stop has no κ̄(t): `results` shows its escape table -----------
    stop = {"name": "stop", "seed": 4, "medium": {"patches": [[1.0, 1.0], [1.0, 0.1]]},
            "particles": {"count": 200, "per_task": 100},
            "times": {"min": 0.01, "max": 100.0, "count": 4},
            "escape": {"distances": [0.5, 1.0], "stop": True}}
    (tmp_path / "stop.json").write_text(json.dumps(stop))
    sid_stop = pw(url, "submit", str(tmp_path / "stop.json")).stdout.strip()
    assert pw(url, "wait", sid_stop).returncode == 0
    esc_table = pw(url, "results", sid_stop)
    assert esc_table.returncode == 0 and "<1/tau>" in esc_table.stdout, esc_table
    refused = pw(url, "results", sid_stop, "--what", "kappa")
    assert refused.returncode != 0 and "escape.stop" in refused.stderr, refused
