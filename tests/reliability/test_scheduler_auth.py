"""The embedded Dask scheduler refuses a connection without credentials (item 2, branch hpc).

The scheduler's address comes from ``GET /v1/cluster`` (added with Dask TLS on branch ``hpc``);
a plain ``distributed.Client`` without the service's TLS credentials must fail to connect.
Until that route exists the test is skipped, saying so.
"""

from __future__ import annotations

import httpx
import pytest
from live_service import Service
from reliability_helpers import record

TOKEN = "tok-reliability"  # conftest's shared service


def test_unauthenticated_scheduler_connection_refused(shared_service: Service) -> None:
    r = httpx.get(f"{shared_service.url}/v1/cluster",
                  headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    if r.status_code == 404:
        record("unauthenticated scheduler connection", "skipped: no /v1/cluster (branch hpc)")
        pytest.skip("GET /v1/cluster and Dask TLS arrive with branch hpc")
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
