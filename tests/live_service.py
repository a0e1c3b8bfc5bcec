"""A real ``patchwalk serve`` in a subprocess on loopback, for the end-to-end and reliability tests.

Import :class:`Service` by name (``from live_service import Service``), or use the
``live_service`` fixture of ``tests/conftest.py``, which stops every service it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "patchwalk_client.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float,
               tail: Callable[[], str]) -> bool:
    """Poll ``url``/readyz until 200 (True) or ``timeout`` s (False); fail if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, tail()
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


class Service:
    """A ``patchwalk serve`` subprocess in its own process group (killed by that id only)."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "PATCHWALK_MAX_BODY_BYTES": "20000",
            "PATCHWALK_MAX_CPU_HOURS": "10",
            **(env or {}),
        }
        self.log = (data_dir.parent / f"serve-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                *CLI,
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                "--workers",
                "1",
                "--max-in-flight",
                "2",
                "--log-level",
                "warning",
            ],
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait_ready(self.proc, self.url, 180, self._tail):
            return
        self.kill()
        raise AssertionError("service not ready after 180 s\n" + self._tail())

    def _tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.log.close()
