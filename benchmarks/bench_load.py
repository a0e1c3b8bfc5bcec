"""Overload benchmark (issue 8, item 5): 50 clients polling during a sweep, and an SSE flood.

Starts ``patchwalk serve`` (one worker process) on loopback with a token, finishes a small
sweep, then submits a long one and, while it runs:

1. ``--clients`` (50) concurrent clients alternate ``GET /v1/sweeps/{running id}`` and
   ``GET /v1/sweeps/{done id}/kappa`` for ``--seconds``, each pausing ``--interval`` (0.5 s,
   the event stream's default interval) between its requests — 100 requests/s offered;
   ``--interval 0`` gives a closed loop (latency = 50 / throughput). p50/p99/max printed;
2. ``--streams`` (300) event streams are opened at once while ``/healthz`` is polled: the
   streams past the bound get 503 + Retry-After, and /healthz keeps answering.

Goals (checked here, printed as PASS/FAIL, exit 1 on a miss): p99 of the status route < 50 ms
and of the finished /kappa < 100 ms with 50 clients. The functions :func:`poll_load` and
:func:`sse_flood` are also used, briefly, by ``tests/reliability/test_overload.py``.

Run: ``uv run --all-packages python benchmarks/bench_load.py [--clients 50] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

GOAL_STATUS_P99_MS = 50.0
GOAL_KAPPA_P99_MS = 100.0

SMALL: dict[str, Any] = {
    "name": "bench-done", "seed": 1,
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
    "particles": {"count": 4000, "per_task": 1000},
    "times": {"min": 0.01, "max": 30.0, "count": 40},
    "sweep": {"seed": [1, 2, 3, 4]},
}
LONG: dict[str, Any] = {**SMALL, "name": "bench-running", "seed": 9,
                        "particles": {"count": 400000, "per_task": 2000},
                        "times": {"min": 0.01, "max": 300.0, "count": 40},
                        "sweep": {"seed": [9, 10]}}


def percentiles(xs: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds of latencies in seconds."""
    if not xs:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    s = sorted(xs)

    def q(f: float) -> float:
        return 1000 * s[min(len(s) - 1, int(f * len(s)))]

    return {"n": len(s), "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": 1000 * s[-1]}


async def poll_load(url: str, token: str, status_path: str, kappa_path: str, *,
                    clients: int = 50, seconds: float = 10.0,
                    interval: float = 0.5) -> dict[str, dict[str, float]]:
    """``clients`` concurrent pollers alternating the two paths; latencies per path.

    Each client polls like a progress bar does: a request, then ``interval`` seconds of pause
    (0 = back to back, a closed loop whose latency is only a measure of throughput).
    """
    lat: dict[str, list[float]] = {"status": [], "kappa": []}
    errors = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=30) as client:
        stop = time.monotonic() + seconds

        async def one(i: int) -> None:
            nonlocal errors
            etag = None
            turn = i % 2
            if interval:  # pollers are not synchronised: spread their first requests
                await asyncio.sleep(interval * i / clients)
            while time.monotonic() < stop:
                kind = "status" if turn == 0 else "kappa"
                path = status_path if turn == 0 else kappa_path
                extra = {"If-None-Match": etag} if kind == "kappa" and etag else {}
                t0 = time.perf_counter()
                r = await client.get(path, headers=extra)
                lat[kind].append(time.perf_counter() - t0)
                if r.status_code not in (200, 304):
                    errors += 1
                if kind == "kappa" and i % 4 == 1:  # a quarter of the clients revalidate
                    etag = r.headers.get("etag")
                turn ^= 1
                if interval:
                    await asyncio.sleep(interval)

        await asyncio.gather(*(one(i) for i in range(clients)))
    out = {k: percentiles(v) for k, v in lat.items()}
    out["errors"] = {"n": float(errors)}
    return out


async def sse_flood(url: str, token: str, sweep_id: str, *, streams: int = 300,
                    seconds: float = 5.0) -> dict[str, Any]:
    """Open ``streams`` event streams at once while polling /healthz; counts and latencies."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    opened = refused = retry_after = 0
    health: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=httpx.Timeout(30, read=seconds + 30)) as client:
        stop = time.monotonic() + seconds

        async def stream() -> None:
            nonlocal opened, refused, retry_after
            async with client.stream("GET", f"/v1/sweeps/{sweep_id}/events") as r:
                if r.status_code == 503:
                    refused += 1
                    retry_after += "retry-after" in r.headers
                    return
                opened += 1
                async for _ in r.aiter_lines():
                    if time.monotonic() > stop:
                        break

        async def healthz() -> None:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                await client.get("/healthz")
                health.append(time.perf_counter() - t0)
                await asyncio.sleep(0.02)

        await asyncio.gather(healthz(), *(stream() for _ in range(streams)))
    return {"opened": opened, "refused_503": refused, "with_retry_after": retry_after,
            "healthz": percentiles(health)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, sweep_id: str, token: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    h = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/v1/sweeps/{sweep_id}", headers=h).json()["state"] == "done":
            return
        time.sleep(0.3)
    raise SystemExit(f"sweep {sweep_id} not done after {timeout} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--streams", type=int, default=300)
    ap.add_argument("--interval", type=float, default=0.5)
    args = ap.parse_args()
    token = "bench-token"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data = Path(tempfile.mkdtemp(prefix="patchwalk-bench-load-"))
    env = {**os.environ, "PATCHWALK_TOKENS": token, "PATCHWALK_MAX_CPU_HOURS": "1e4"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "patchwalk_client.cli", "serve", "--port", str(port),
         "--data-dir", str(data), "--workers", "1", "--log-level", "warning"],
        env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        h = {"Authorization": f"Bearer {token}"}
        done_id = httpx.post(f"{url}/v1/sweeps", json=SMALL, headers=h).json()["id"]
        _wait(url, done_id, token)
        run_id = httpx.post(f"{url}/v1/sweeps", json=LONG, headers=h).json()["id"]
        time.sleep(2.0)
        res = asyncio.run(poll_load(url, token, f"/v1/sweeps/{run_id}",
                                    f"/v1/sweeps/{done_id}/kappa",
                                    clients=args.clients, seconds=args.seconds,
                                    interval=args.interval))
        state = httpx.get(f"{url}/v1/sweeps/{run_id}", headers=h).json()
        flood = asyncio.run(sse_flood(url, token, run_id, streams=args.streams))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    print(json.dumps({"load": res, "sweep_during_load": state["state"],
                      "tasks_done": state["tasks_done"], "flood": flood}, indent=1))
    ok_s = res["status"]["p99_ms"] < GOAL_STATUS_P99_MS
    ok_k = res["kappa"]["p99_ms"] < GOAL_KAPPA_P99_MS
    print(f"status p99 {res['status']['p99_ms']:.1f} ms (goal < {GOAL_STATUS_P99_MS:g}): "
          f"{'PASS' if ok_s else 'FAIL'}")
    print(f"finished /kappa p99 {res['kappa']['p99_ms']:.1f} ms (goal < {GOAL_KAPPA_P99_MS:g}): "
          f"{'PASS' if ok_k else 'FAIL'}")
    print(f"SSE flood: {flood['opened']} streams opened, {flood['refused_503']} refused with 503, "
          f"/healthz max {flood['healthz']['max_ms']:.1f} ms")
    return 0 if ok_s and ok_k else 1


if __name__ == "__main__":
    raise SystemExit(main())
