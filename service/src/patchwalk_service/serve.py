"""The ``patchwalk serve`` command: the REST service under uvicorn."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .auth import check_bind
from .cluster_session import add_cluster_arguments, cluster_overrides
from .settings import ServiceSettings


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
    p.add_argument("--max-in-flight", type=int, default=None, help="tasks on the cluster at once")
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without tokens",
    )
    p.add_argument("--log-level", default="info", help="uvicorn log level")
    add_cluster_arguments(p)
    p.set_defaults(func=serve_command)


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    """Environment settings overridden by the command-line options that were given."""
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir", "workers", "scheduler", "max_in_flight"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "insecure", False):
        overrides["insecure"] = True
    overrides.update(cluster_overrides(args))
    return ServiceSettings(**overrides)


def serve_command(args: argparse.Namespace) -> int:
    """Run the service until interrupted."""
    import uvicorn

    from .app import create_app

    settings = settings_from_args(args)
    check_bind(settings.host, settings.tokens, settings.insecure)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    return 0
