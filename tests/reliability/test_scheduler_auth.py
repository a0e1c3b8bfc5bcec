"""No listener of the service but its REST port and /health answers without credentials (item 2).

The scheduler's address comes from ``GET /v1/cluster``; a plain ``distributed.Client`` without
the service's TLS credentials must fail to connect. Every other port the service's process tree
listens on (workers, nannies, the Dask HTTP servers) refuses a plain Dask connection, and an
HTTP server among them answers /health only.
"""

from __future__ import annotations

import asyncio

import httpx
import psutil
from live_service import Service
from reliability_helpers import record

TOKEN = "tok-reliability"  # conftest's shared service


def test_unauthenticated_scheduler_connection_refused(shared_service: Service) -> None:
    r = httpx.get(f"{shared_service.url}/v1/cluster",
                  headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    info = r.json()
    address = str(info.get("scheduler") or info.get("address") or "")
    assert address, info
    from distributed import Client

    refused = False
    plain = address.replace("tls://", "tcp://")
    for addr in {address, plain}:
        try:
            client = Client(addr, timeout=5, set_as_default=False)  # type: ignore[no-untyped-call]
        except Exception:
            refused = True
            continue
        client.close()
        refused = False
        break
    record("unauthenticated scheduler connection", "refused" if refused else "ACCEPTED")
    assert refused


def _listening_ports(pid: int) -> set[int]:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    ports: set[int] = set()
    for proc in procs:
        for conn in proc.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                ports.add(int(conn.laddr.port))
    return ports


async def _plain_dask_answers(port: int) -> bool:
    from distributed.comm import connect

    try:
        comm = await asyncio.wait_for(connect(f"tcp://127.0.0.1:{port}", timeout=3), 5)
        await comm.write({"op": "identity"})
        await asyncio.wait_for(comm.read(), 3)
    except Exception:
        return False
    return True


def test_every_other_listener_refuses_or_answers_health_only(shared_service: Service) -> None:
    ports = _listening_ports(shared_service.proc.pid) - {shared_service.port}
    assert len(ports) >= 3, ports  # scheduler, its HTTP server, a worker (and its nanny)
    http = 0
    for port in sorted(ports):
        assert not asyncio.run(_plain_dask_answers(port)), port
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/sitemap.json", timeout=3)
        except httpx.HTTPError:
            continue  # not an HTTP server (a TLS comm listener)
        http += 1
        assert r.status_code == 200 and set(r.json()["paths"]) <= {"/health", "/sitemap.json"}, (
            port, r.text[:200])
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=3).status_code == 404
    assert http >= 2  # the scheduler's and the worker's
    record("other listeners without credentials", f"{len(ports)} ports: Dask refused, HTTP "
           f"/health only ({http} HTTP servers)")
