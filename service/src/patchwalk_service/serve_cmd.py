"""``patchwalk serve``: the REST service under uvicorn, every check before anything starts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli import add_cluster_arguments


def register_serve(subparsers: Any) -> None:
    """Add ``serve`` to the ``patchwalk`` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the REST service (embedded Dask LocalCluster unless --scheduler)",
        description=(
            "Run the patchwalk REST service. Defaults come from PATCHWALK_* environment "
            "variables (PATCHWALK_TOKENS: comma-separated bearer tokens). Without tokens the "
            "service only binds a loopback address unless --insecure is given."
        ),
    )
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="registry.db and stores/ live here (default ./patchwalk-data)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the embedded LocalCluster (default: one per core)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="address of an existing Dask scheduler instead of a LocalCluster",
    )
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="tasks on the cluster at once (default: 2 x workers)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without tokens",
    )
    p.add_argument("--log-level", default="info", help="uvicorn log level")
    add_cluster_arguments(p)
    p.set_defaults(func=serve_command)


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (None when it can): checked before anything
    starts, so that a busy port costs no cluster start-up."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return str(exc)
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def serve_command(args: argparse.Namespace) -> int:
    """Run the service until interrupted; every check (options, bind, scheduler, port) comes
    before the web stack, the registry or the cluster is loaded."""
    from .auth import check_bind
    from .preflight import scheduler_problem, workers_problem
    from .settings import SettingsError, settings_from_args

    if why := workers_problem(args.workers):
        print(f"patchwalk serve: {why}", file=sys.stderr)
        return 2
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        print(f"patchwalk serve: {exc}", file=sys.stderr)
        return 2
    check_bind(settings.host, settings.tokens, settings.insecure)
    if settings.scheduler and (why := scheduler_problem(settings.scheduler)):
        print(f"patchwalk serve: {why}", file=sys.stderr)
        return 2
    busy = port_in_use(settings.host, settings.port)
    if busy:  # before the cluster or the registry start
        print(f"patchwalk serve: cannot listen on {settings.host}:{settings.port} ({busy}); "
              "choose another --port (or PATCHWALK_PORT)", file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    return 0
