"""TLS credentials for the Dask scheduler and workers: fresh ones for every run.

The embedded scheduler listens on a port any local user can reach; on an HPC login node every
other user is a stranger. So every cluster patchwalk starts speaks ``tls://`` with mutual
authentication (distributed's :class:`~distributed.Security`): a self-signed certificate and key
made for this run only (``Security.temporary()``), which the scheduler, the workers and the
service's own client present to each other. A connection without them — plain ``tcp://``, or
``tls://`` with no or other certificates — is refused during the handshake.

Workers of an embedded ``LocalCluster`` receive the credentials in memory. Batch jobs
(dask-jobqueue) start on other nodes, so there the certificate and key are written to files
readable only by the user (mode 0600, in a 0700 directory under the data directory, which the
jobs can read on the shared file system); they are removed when the cluster closes.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from distributed.security import Security

__all__ = ["RunCredentials", "temporary_security"]


def temporary_security() -> Security:
    """In-memory credentials for one run (a new CA, certificate and key)."""
    sec: Security = Security.temporary()  # type: ignore[no-untyped-call]
    return sec


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` created with mode 0600 (never world- or group-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


class RunCredentials:
    """This run's TLS credentials, in memory or on disk for batch jobs.

    Parameters
    ----------
    directory : path, optional
        Parent of a fresh ``run-<random>`` folder (mode 0700) holding ``ca.pem``, ``cert.pem``
        and ``key.pem`` (mode 0600). None keeps everything in memory (embedded cluster).
    """

    def __init__(self, directory: Path | None = None) -> None:
        memory = temporary_security()
        self.path: Path | None = None
        if directory is None:
            self.security = memory
            return
        parent = Path(directory)
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = parent / f"run-{secrets.token_hex(6)}"
        folder.mkdir(mode=0o700)
        self.path = folder
        ca, cert, key = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
        # Security.temporary() signs one certificate for every role with its own key (it is
        # its own CA), so one ca/cert/key triple serves scheduler, workers and client.
        pem: Any = memory  # Security's tls_* slots are untyped
        _write_private(ca, str(pem.tls_ca_file))
        _write_private(cert, str(pem.tls_worker_cert))
        _write_private(key, str(pem.tls_worker_key))
        files: dict[str, Any] = {"tls_ca_file": str(ca)}
        for role in ("client", "scheduler", "worker"):
            files[f"tls_{role}_cert"] = str(cert)
            files[f"tls_{role}_key"] = str(key)
        self.security = Security(require_encryption=True, **files)  # type: ignore[no-untyped-call]

    @property
    def files(self) -> list[Path]:
        """The credential files on disk (empty when held in memory)."""
        if self.path is None:
            return []
        return sorted(self.path.iterdir())

    def close(self) -> None:
        """Remove the files (the credentials die with the run)."""
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
