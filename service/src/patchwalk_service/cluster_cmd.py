"""``patchwalk cluster``: what a running service's sweeps run on (``GET /v1/cluster``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

#: Fields printed by the table form, in this order.
FIELDS = ("kind", "address", "jobs_running", "jobs_pending", "jobs_submitted", "jobs_replaced",
          "workers", "cores", "tasks_in_flight", "tasks_running", "tasks_queued",
          "workers_lost", "workers_retired", "tasks_recomputed", "results_lost")


def register_cluster(subparsers: Any) -> None:
    """Add ``patchwalk cluster``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "cluster", help="show the cluster a running service uses (jobs, workers, cores, tasks)")
    p.add_argument("--url", default=None, help="service URL (default $PATCHWALK_URL)")
    p.add_argument("--token", default=None, help="bearer token (default $PATCHWALK_TOKEN)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.set_defaults(func=cmd_cluster)


def cmd_cluster(args: argparse.Namespace) -> int:
    """Print ``GET /v1/cluster``; exit 3 when no service answers, 2 when it refuses."""
    import httpx
    from patchwalk_client.client import Client
    from patchwalk_client.errors import ServiceError

    try:
        with Client(args.url, args.token) as client:
            info: dict[str, Any] = client.request("GET", "/v1/cluster").json()
    except httpx.TransportError as exc:
        print(f"patchwalk cluster: no service answers: {exc}", file=sys.stderr)
        return 3
    except ServiceError as exc:
        print(f"patchwalk cluster: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info))
        return 0
    for name in FIELDS:
        if name in info:
            print(f"{name:>18}: {info[name]}")
    return 0
