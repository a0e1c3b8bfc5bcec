"""The embedded Dask scheduler speaks TLS with this run's credentials and refuses strangers.

A real LocalCluster (one worker) from :func:`open_cluster`: the service's own client works; a
client without the credentials — plain ``tcp://``, ``tls://`` with other certificates, a bare
TLS socket without a client certificate — is refused; the scheduler's HTTP server is not on
8787 and serves no dashboard; credential files for batch jobs are private and removed.
"""

from __future__ import annotations

import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from distributed import Client
from distributed.security import Security
from patchwalk_service.cluster import ClusterSession, open_cluster
from patchwalk_service.security import RunCredentials
from patchwalk_service.settings import ServiceSettings

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSession]:
    s = open_cluster(ServiceSettings(workers=1, data_dir=tmp_path_factory.mktemp("data")), ())
    try:
        yield s
    finally:
        s.close()


def _host_port(address: str) -> tuple[str, int]:
    host, port = address.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def _square(x: int) -> int:
    return x * x


def test_the_service_client_works_over_tls(session: ClusterSession) -> None:
    assert session.address.startswith("tls://127.0.0.1:")
    assert session.client.submit(_square, 7).result(timeout=60) == 49
    info = session.info()
    assert info["kind"] == "local" and info["workers"] == 1 and info["cores"] == 1


def test_plain_tcp_is_refused(session: ClusterSession) -> None:
    host, port = _host_port(session.address)
    with pytest.raises((OSError, TimeoutError)):
        Client(f"tcp://{host}:{port}", timeout=3, set_as_default=False)


def test_tls_with_other_credentials_is_refused(session: ClusterSession) -> None:
    stranger: Any = Security.temporary()  # type: ignore[no-untyped-call]
    with pytest.raises((OSError, TimeoutError)):
        Client(session.address, security=stranger, timeout=3, set_as_default=False)


def test_tls_without_credentials_is_refused(session: ClusterSession) -> None:
    # Dask's own client will not even try tls:// without credentials ...
    with pytest.raises((OSError, TimeoutError, TypeError, ValueError)):
        Client(session.address, timeout=3, set_as_default=False)
    # ... so speak TLS by hand, trusting anything, presenting no certificate
    host, port = _host_port(session.address)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    refused = ""
    with socket.create_connection((host, port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                tls.recv(1024)  # TLS 1.3: the server's verdict on our (missing) certificate
        except (ssl.SSLError, ConnectionResetError) as exc:
            refused = str(exc)
    # an accepting server would wait for our first message: recv would time out instead
    assert refused, "the scheduler accepted a TLS client without a certificate"


def test_no_dashboard(session: ClusterSession) -> None:
    http = session.cluster.scheduler.http_server
    assert http.port != 8787
    base = f"http://127.0.0.1:{http.port}"
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200
    for path in ("/status", "/info/main/workers.html", "/json/identity.json", "/metrics"):
        assert httpx.get(f"{base}{path}", timeout=5).status_code == 404, path


def test_batch_credentials_are_private_and_removed(tmp_path: Path) -> None:
    creds = RunCredentials(tmp_path / "tls")
    assert creds.path is not None and len(creds.files) == 3
    assert stat.S_IMODE(creds.path.stat().st_mode) == 0o700
    for f in creds.files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    sec = creds.security
    assert sec.require_encryption and Path(sec.tls_worker_key).is_file()
    assert Path(sec.tls_ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
    other = RunCredentials(tmp_path / "tls")
    assert other.path != creds.path  # a fresh pair for every run
    assert Path(other.security.tls_worker_key).read_text() != Path(sec.tls_worker_key).read_text()
    folder = creds.path
    creds.close()
    other.close()
    assert not folder.exists()
