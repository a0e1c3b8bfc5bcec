"""Overload benchmark (issue 8, item 5): 50 clients polling during a sweep, and an SSE flood.

Starts ``patchwalk serve --workers 2`` on loopback with a token, finishes a small sweep, then
submits a long one whose tasks keep both compute workers busy and, while it runs:

1. ``--clients`` (50) concurrent clients, each on its own keep-alive connection, alternate
   ``GET /v1/sweeps/{running id}`` (status) and ``GET /v1/sweeps/{finished id}/kappa``; a
   quarter of them revalidate the κ̄ answer with ``If-None-Match`` (304), the rest fetch the
   body every time. Two request patterns, each for ``--seconds``:

   - *polling*: a pause of ``--interval`` (0.5 s, the event stream's interval) after each
     answer, like a progress bar — about 100 requests/s offered by 50 clients;
   - *back to back*: the next request as soon as the answer is in (a closed loop: the hardest
     pattern, latency = 50 / throughput).

   p50/p95/p99/max of status and of the finished /kappa are printed for both, with the load
   average, the CPU the compute workers used (cores), the service's and the load client's;
2. ``--streams`` (300) event streams are opened at once (one token, its per-client bound
   lifted) while ``/healthz`` is polled: the streams past the bound in total (64) get 503 +
   Retry-After, and /healthz keeps answering.

The load client is one asyncio process speaking HTTP/1.1 over raw sockets with pre-built
requests (no HTTP library per request), so that it takes as little of the machine as it can.
Goals (checked here, printed as met/not met, exit 1 on a miss): p99 of status < 50 ms and of the
finished /kappa < 100 ms with 50 clients, in both patterns. :func:`poll_load` and
:func:`sse_flood` are also used, briefly, by ``tests/reliability/test_overload.py``.

Run: ``uv run --all-packages python benchmarks/bench_load.py [--clients 50] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
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
from urllib.parse import urlsplit

import httpx

GOAL_STATUS_P99_MS = 50.0
GOAL_KAPPA_P99_MS = 100.0

SMALL: dict[str, Any] = {
    "name": "bench-done", "seed": 1,
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
    "particles": {"count": 2000, "per_task": 1000},
    "times": {"min": 0.01, "max": 30.0, "count": 40},
    "sweep": {"seed": [1, 2, 3, 4]},
}
LONG: dict[str, Any] = {**SMALL, "name": "bench-running", "seed": 9,
                        "particles": {"count": 400000, "per_task": 2000},
                        "times": {"min": 0.01, "max": 300.0, "count": 40},
                        "sweep": {"seed": [9, 10]}}


def percentiles(xs: list[float]) -> dict[str, float]:
    """Count, p50, p95, p99 and max in milliseconds of latencies in seconds."""
    if not xs:
        nan = float("nan")
        return {"n": 0, "p50_ms": nan, "p95_ms": nan, "p99_ms": nan, "max_ms": nan}
    s = sorted(xs)

    def q(f: float) -> float:
        return 1000 * s[min(len(s) - 1, int(f * len(s)))]

    return {"n": len(s), "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99),
            "max_ms": 1000 * s[-1]}


class _Connection:
    """One keep-alive HTTP/1.1 connection sending pre-built GET requests (no HTTP library)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send ``request``; the status, the headers (lower-case names) and the body."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")
            body = b"".join(p[:-2] for p in parts)
        else:
            n = int(headers.get("content-length", "0"))
            body = await self.reader.readexactly(n) if n else b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        """Close the socket (the next request opens a new one)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _request(host: str, path: str, token: str, etag: str | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if etag:
        lines.append(f"If-None-Match: {etag}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def poll_load(url: str, token: str, status_path: str, kappa_path: str, *,
                    clients: int = 50, seconds: float = 10.0,
                    interval: float = 0.5) -> dict[str, dict[str, float]]:
    """``clients`` concurrent pollers alternating the two paths; latencies per path.

    Each client has its own keep-alive connection and polls like a progress bar does: a
    request, then ``interval`` seconds of pause (0: back to back, a closed loop). Clients
    ``i % 4 == 1`` revalidate κ̄ with ``If-None-Match`` (answered 304), the others fetch the
    body each time. Returns percentiles for ``status``, ``kappa`` (all), ``kappa_200`` (bodies
    only), ``errors`` (answers other than 200/304, or a failed connection) and ``client`` (the
    CPU this load client used, in cores).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    hostport = f"{host}:{port}"
    status_req = _request(hostport, status_path, token)
    kappa_req = _request(hostport, kappa_path, token)
    lat: dict[str, list[float]] = {"status": [], "kappa": [], "kappa_200": []}
    errors = 0
    stop = time.monotonic() + seconds

    async def one(i: int) -> None:
        nonlocal errors
        conn = _Connection(host, port)
        revalidating: bytes | None = None
        turn = i % 2
        if interval:  # pollers are not synchronised: spread their first requests
            await asyncio.sleep(interval * i / clients)
        await conn.get(status_req)  # connect before the clock starts
        try:
            while time.monotonic() < stop:
                req = status_req if turn == 0 else (revalidating or kappa_req)
                t0 = time.perf_counter()
                try:
                    code, headers, _ = await conn.get(req)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    conn.close()
                    continue
                dt = time.perf_counter() - t0
                if turn == 0:
                    lat["status"].append(dt)
                else:
                    lat["kappa"].append(dt)
                    if code == 200:
                        lat["kappa_200"].append(dt)
                    if i % 4 == 1 and "etag" in headers:
                        revalidating = _request(hostport, kappa_path, token, headers["etag"])
                if code not in (200, 304):
                    errors += 1
                turn ^= 1
                if interval:
                    await asyncio.sleep(interval)
        finally:
            conn.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    cpu = (time.process_time() - cpu0) / max(time.perf_counter() - t0, 1e-9)
    out = {k: percentiles(v) for k, v in lat.items()}
    out["errors"] = {"n": float(errors)}
    out["client"] = {"cpu_cores": cpu}
    return out


async def sse_flood(url: str, token: str, sweep_id: str, *, streams: int = 300,
                    seconds: float = 5.0) -> dict[str, Any]:
    """Open ``streams`` event streams at once while polling /healthz; counts and latencies.

    Raw sockets as in :func:`poll_load`: each stream sends its request, reads the answer's head
    (503 + Retry-After past the bound) and then reads events until ``seconds`` have passed;
    /healthz is polled every 20 ms on a connection of its own.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    events_req = _request(f"{host}:{port}", f"/v1/sweeps/{sweep_id}/events", token)
    health_req = _request(f"{host}:{port}", "/healthz", "")
    opened = refused = retry_after = 0
    health: list[float] = []
    stop = time.monotonic() + seconds

    async def stream() -> None:
        nonlocal opened, refused, retry_after
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(events_req)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            if head.split(" ", 2)[1] == "503":
                refused += 1
                retry_after += "\r\nretry-after:" in head
                return
            opened += 1
            while (left := stop - time.monotonic()) > 0:
                try:
                    if not await asyncio.wait_for(reader.read(65536), left):
                        break  # the stream ended (a finished sweep's ends at once)
                except TimeoutError:
                    break
        finally:
            writer.close()

    async def healthz() -> None:
        conn = _Connection(host, port)
        try:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                await conn.get(health_req)
                health.append(time.perf_counter() - t0)
                await asyncio.sleep(0.02)
        finally:
            conn.close()

    await asyncio.gather(healthz(), *(stream() for _ in range(streams)))
    return {"opened": opened, "refused_503": refused, "with_retry_after": retry_after,
            "healthz": percentiles(health)}


# ---- the machine: CPU of the service, of its compute workers, load average -------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process from /proc (None when gone or not Linux)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _cpu_of_tree(root: int) -> tuple[float, float]:
    """CPU seconds of process ``root`` and of all its descendants (the compute workers)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    own = stats.get(root, (0, 0.0))[1]
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    below, todo = 0.0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        below += stats[pid][1]
        todo.extend(children.get(pid, []))
    return own, below


def measured(root: int, fn: Any) -> tuple[Any, dict[str, float]]:
    """Run ``fn()``; its result and the machine while it ran: load average, cores used by the
    service process and by its compute workers."""
    own0, below0 = _cpu_of_tree(root)
    t0 = time.perf_counter()
    out = fn()
    wall = max(time.perf_counter() - t0, 1e-9)
    own1, below1 = _cpu_of_tree(root)
    return out, {"loadavg_1min": os.getloadavg()[0], "service_cores": (own1 - own0) / wall,
                 "workers_cores": (below1 - below0) / wall}


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


def _line(name: str, p: dict[str, float], goal: float | None = None) -> str:
    text = (f"  {name:<22} p50 {p['p50_ms']:7.1f}  p95 {p['p95_ms']:7.1f}  p99 {p['p99_ms']:7.1f}"
            f"  max {p['max_ms']:7.1f} ms  (n={p['n']})")
    if goal is not None:
        text += f"  goal p99 < {goal:g} ms: {'met' if p['p99_ms'] < goal else 'NOT met'}"
    return text


def _start(port: int, data: Path, token: str, workers: int, log: Any) -> subprocess.Popen[bytes]:
    # one token stands in for many clients: the per-client bound of event streams is lifted so
    # that the flood meets the bound in total (64 by default)
    env = {**os.environ, "PATCHWALK_TOKENS": token, "PATCHWALK_MAX_CPU_HOURS": "1e4",
           "PATCHWALK_MAX_STREAMS_PER_CLIENT": "100000"}
    return subprocess.Popen(
        [sys.executable, "-m", "patchwalk_client.cli", "serve", "--port", str(port),
         "--data-dir", str(data), "--workers", str(workers), "--log-level", "warning"],
        env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0, help="per request pattern")
    ap.add_argument("--streams", type=int, default=300)
    ap.add_argument("--interval", type=float, default=0.5, help="pause of the polling pattern")
    ap.add_argument("--workers", type=int, default=2, help="compute worker processes")
    ap.add_argument("--py-spy", metavar="FILE", default=None,
                    help="record the service process with py-spy (collapsed stacks) during "
                         "the back-to-back pattern (a development aid; py-spy must be on PATH)")
    args = ap.parse_args()
    token = "bench-token"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data = Path(tempfile.mkdtemp(prefix="patchwalk-bench-load-"))
    log = (data.parent / f"{data.name}.log").open("wb")
    proc = _start(port, data, token, args.workers, log)
    report: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds,
                              "cores": os.cpu_count(), "loadavg_before": os.getloadavg()}
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the service exited; see {log.name}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        h = {"Authorization": f"Bearer {token}"}
        done_id = httpx.post(f"{url}/v1/sweeps", json=SMALL, headers=h, timeout=60).json()["id"]
        _wait(url, done_id, token)
        run_id = httpx.post(f"{url}/v1/sweeps", json=LONG, headers=h, timeout=60).json()["id"]
        time.sleep(3.0)  # the workers take their first tasks
        paths = (f"/v1/sweeps/{run_id}", f"/v1/sweeps/{done_id}/kappa")
        for name, interval in (("polling", args.interval), ("back_to_back", 0.0)):
            spy = None
            if args.py_spy and interval == 0.0:
                spy = subprocess.Popen(["py-spy", "record", "--pid", str(proc.pid), "--threads",
                                        "--format", "raw", "--rate", "200", "--nonblocking",
                                        "--duration", str(int(args.seconds)),
                                        "--output", args.py_spy], stdout=subprocess.DEVNULL)
            res, machine = measured(proc.pid, functools.partial(
                asyncio.run, poll_load(url, token, *paths, clients=args.clients,
                                       seconds=args.seconds, interval=interval)))
            if spy is not None:
                spy.wait(timeout=60)
            report[name] = {"interval_s": interval, **res, "machine": machine}
        state = httpx.get(f"{url}/v1/sweeps/{run_id}", headers=h).json()
        report["sweep_during_load"] = {"state": state["state"], "tasks_done": state["tasks_done"]}
        report["flood"] = asyncio.run(sse_flood(url, token, run_id, streams=args.streams))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        log.close()
    report["loadavg_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    ok = True
    print(f"\n{args.clients} clients, each alternating status (running sweep) and finished "
          f"/kappa; a quarter revalidate /kappa (304); {args.seconds:g} s per pattern; "
          f"{report['cores']} cores; load average before {report['loadavg_before'][0]:.2f}, "
          f"after {report['loadavg_after'][0]:.2f}")
    for name in ("polling", "back_to_back"):
        r, m = report[name], report[name]["machine"]
        label = (f"{name.replace('_', ' ')}"
                 + (f" (pause {r['interval_s']:g} s after each answer)" if r["interval_s"] else ""))
        n = r["status"]["n"] + r["kappa"]["n"]
        print(f"{label}: load average {m['loadavg_1min']:.2f}; compute workers used "
              f"{m['workers_cores']:.2f} cores, the service {m['service_cores']:.2f} "
              f"({1e6 * m['service_cores'] * args.seconds / max(n, 1):.0f} µs of CPU per "
              f"request, {n / args.seconds:.0f} requests/s), the load client "
              f"{r['client']['cpu_cores']:.2f}; errors {r['errors']['n']:g}")
        print(_line("status", r["status"], GOAL_STATUS_P99_MS))
        print(_line("finished /kappa", r["kappa"], GOAL_KAPPA_P99_MS))
        print(_line("  of which 200 + body", r["kappa_200"]))
        ok &= r["status"]["p99_ms"] < GOAL_STATUS_P99_MS
        ok &= r["kappa"]["p99_ms"] < GOAL_KAPPA_P99_MS
    flood = report["flood"]
    print(f"SSE flood of {args.streams}: {flood['opened']} streams opened, "
          f"{flood['refused_503']} refused with 503 ({flood['with_retry_after']} with "
          f"Retry-After); /healthz p99 {flood['healthz']['p99_ms']:.1f} ms, "
          f"max {flood['healthz']['max_ms']:.1f} ms")
    print(f"goal (p99 status < {GOAL_STATUS_P99_MS:g} ms, finished /kappa < "
          f"{GOAL_KAPPA_P99_MS:g} ms, both patterns): {'MET' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
