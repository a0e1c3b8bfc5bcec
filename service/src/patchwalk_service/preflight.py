"""Checks made before anything starts, so that a command fails in one line, not a traceback.

:func:`scheduler_problem` tries a TCP connection to a Dask scheduler address (``tcp://``,
``tls://`` or ``host:port``) with a short timeout; ``patchwalk run --scheduler`` and
``patchwalk serve --scheduler`` call it before they connect Dask's client, whose own failure
is a long traceback after a 30 s wait. :func:`spec_file_problem` says what is wrong with a spec
path (missing, a directory, empty) in the user's terms.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["scheduler_problem", "spec_file_problem", "workers_problem"]


def workers_problem(workers: int | None) -> str | None:
    """Why ``--workers N`` cannot run a cluster (N < 1), or None."""
    if workers is None or workers >= 1:
        return None
    return (f"--workers {workers}: an embedded cluster needs at least one worker process; "
            "give --workers 1 or more, leave it out (one per core), or pass --scheduler ADDR")


def _host_port(address: str) -> tuple[str, int] | None:
    if "://" not in address:
        address = "tcp://" + address
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "tls") or parts.hostname is None:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname, 8786 if port is None else port)


def scheduler_problem(address: str, timeout: float = 5.0) -> str | None:
    """Why the scheduler at ``address`` cannot be reached, or None if a connection opens.

    Addresses of other schemes (``inproc://``, ``ucx://``) are not checked (None).
    """
    hp = _host_port(address)
    if hp is None:
        if "://" in address and urlsplit(address).scheme not in ("tcp", "tls"):
            return None
        return (f"{address!r} is not a scheduler address; write tcp://HOST:PORT "
                "(e.g. tcp://127.0.0.1:8786)")
    try:
        with socket.create_connection(hp, timeout=timeout):
            return None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        return (f"cannot reach the Dask scheduler at {address} ({why}); start one with "
                "`dask scheduler` or check the address, or leave --scheduler out to run an "
                "embedded cluster")


def spec_file_problem(name: str) -> str | None:
    """What is wrong with a spec file path (missing, a directory, empty), or None."""
    path = Path(name)
    if not path.exists():
        return f"{name}: file not found; pass the path of a spec file (TOML, JSON or YAML)"
    if path.is_dir():
        return f"{name} is a directory; pass the path of a spec file"
    try:
        if not path.read_bytes().strip():
            return (f"{name} is empty; write a sweep spec in it (TOML, JSON or YAML, see "
                    "examples/example.toml)")
    except OSError as exc:
        return f"cannot read {name}: {exc.strerror or exc}"
    return None
