"""The data directory's disk: full-disk detection (507), the disk-use cap, purge and retention.

A write that fails for lack of space (``ENOSPC``/``EDQUOT``, SQLite's "database or disk is full")
is never a 500 and never retried in a loop: the API answers ``507 Insufficient Storage`` with a
problem document, and the scheduler fails the sweep at once with the cause in its ``error``
(:func:`is_disk_full`; submitting the same spec again resumes it once space is back — finished
tasks are kept). ``PATCHWALK_MAX_DISK_BYTES`` caps the data directory: past it new sweeps get 507.
``DELETE /v1/sweeps/{id}?purge=true`` removes a sweep's store and row (:func:`purge`), and
``PATCHWALK_RETENTION_DAYS`` purges finished sweeps older than that (:func:`retention_loop`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .problems import ProblemError, problem_response

_log = logging.getLogger(__name__)

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
#: Free bytes below which the data directory counts as full before any write is tried.
MIN_FREE_BYTES = 256 * 1024


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is a write that failed for lack of space."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        text = str(exc).lower()
        if "no space left on device" in text or "disk is full" in text or "quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def disk_full_message(exc: BaseException) -> str:
    """The ``error`` of a sweep stopped by a full disk: the cause and how to resume."""
    return (
        f"disk full: the data directory has no space left ({type(exc).__name__}: {exc}); "
        "free space (or purge finished sweeps: DELETE /v1/sweeps/{id}?purge=true), then submit "
        "the same spec again to resume — finished tasks are kept"
    )


def insufficient_storage(detail: str) -> ProblemError:
    """A 507 problem."""
    return ProblemError(507, detail, title="Insufficient storage",
                        headers={"Retry-After": "60"})


def install_storage_handlers(app: FastAPI) -> None:
    """Answer disk-full errors anywhere in a request with 507 instead of 500."""

    async def _storage(request: Request, exc: Exception) -> JSONResponse:
        if is_disk_full(exc):
            return problem_response(
                request, 507, disk_full_message(exc), title="Insufficient storage",
                headers={"Retry-After": "60"},
            )
        _log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return problem_response(request, 500, f"internal error: {type(exc).__name__}: {exc}")

    app.add_exception_handler(OSError, _storage)
    app.add_exception_handler(sqlite3.Error, _storage)


class DiskMeter:
    """Size of the data directory (cached for ``ttl`` seconds: walking it is not free)."""

    def __init__(self, root: Path, ttl: float = 5.0) -> None:
        self.root = Path(root)
        self.ttl = ttl
        self._at = -1e9
        self._used = 0
        self._lock = threading.Lock()

    def used(self) -> int:
        """Bytes in files under the data directory."""
        now = time.monotonic()
        with self._lock:
            if now - self._at > self.ttl:
                total = 0
                for dirpath, _dirs, files in os.walk(self.root):
                    for name in files:
                        try:
                            total += os.lstat(os.path.join(dirpath, name)).st_size
                        except OSError:
                            pass
                self._used, self._at = total, now
            return self._used


def check_space(request: Request) -> None:
    """507 before accepting a sweep when the disk is (nearly) full or the cap is reached."""
    settings = request.app.state.settings
    try:
        free = shutil.disk_usage(settings.data_dir).free
    except OSError:
        free = MIN_FREE_BYTES
    if free < MIN_FREE_BYTES:
        raise insufficient_storage(
            f"the data directory's disk has {free} bytes free; free space or purge finished "
            "sweeps (DELETE /v1/sweeps/{id}?purge=true) and submit again"
        )
    cap = settings.max_disk_bytes
    if cap is not None:
        used = request.app.state.disk_meter.used()
        if used >= cap:
            raise insufficient_storage(
                f"the data directory holds {used} bytes, at its cap of {cap} bytes "
                "(PATCHWALK_MAX_DISK_BYTES); purge finished sweeps "
                "(DELETE /v1/sweeps/{id}?purge=true) or raise the cap"
            )


def purge(state: Any, sweep_id: str, wait: float = 10.0) -> None:
    """Cancel a sweep if it runs, then remove its store and its registry row.

    ``state`` is the app's state (registry, scheduler, backend, results cache). Blocking: call
    it from a worker thread.
    """
    from patchwalk_worker.execute import mark_cancelled

    registry, scheduler, backend = state.registry, state.scheduler, state.backend
    store = Path(backend.store_path(sweep_id))
    mark_cancelled(store)  # tasks still in flight write nothing
    if registry.set_state(sweep_id, "cancelled", only_from=("queued", "running")):
        scheduler.request_cancel(sweep_id)
    deadline = time.monotonic() + wait
    while scheduler.progress(sweep_id) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if store.exists():
        trash = store.with_name(f".purged-{store.name}-{uuid.uuid4().hex[:8]}")
        os.replace(store, trash)  # atomic: no reader sees a half-deleted store
        shutil.rmtree(trash, ignore_errors=True)
    registry.delete(sweep_id)
    cache = getattr(state, "results_cache", None)
    if cache is not None:
        cache.forget(sweep_id)


async def retention_loop(app: FastAPI) -> None:
    """Purge finished sweeps older than ``retention_days``, checking every few minutes."""
    days = app.state.settings.retention_days
    if days is None:
        return
    period = min(600.0, days * 86400.0 / 10)
    while True:
        try:
            old = app.state.registry.finished_before(time.time() - days * 86400.0)
            for sweep_id in old:
                await asyncio.to_thread(purge, app.state, sweep_id)
                _log.info("retention: purged sweep %s (finished > %g days ago)", sweep_id, days)
        except Exception:  # keep serving; try again next period
            _log.exception("retention pass failed")
        await asyncio.sleep(period)
