"""Server-sent progress events of a sweep, with bounded streams per client and in total.

An open stream costs the server a little memory and a look at the status snapshot
(:class:`..status.StatusBoard`) per interval, so the number is bounded: at most
``max_streams_per_client`` per token (per address without tokens) and ``max_streams`` in all
(``PATCHWALK_MAX_STREAMS_PER_CLIENT``, ``PATCHWALK_MAX_STREAMS``). Past a bound the answer is
``503`` with ``Retry-After`` and a problem document. Streams read the status snapshot on the
event loop (a registry row only when the status changed, no thread pool), so they never queue
behind heavy work nor delay ``/healthz`` and the status route.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..limits import client_of
from ..problems import ProblemError
from ..registry import TERMINAL
from .sweeps import get_record

router = APIRouter(tags=["sweeps"])


class StreamBounds:
    """Counts open event streams per client and in total (thread-safe)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str) -> str | None:
        """Take a slot for ``client``; None when taken, else why not."""
        with self._lock:
            mine = self.open.get(client, 0)
            if mine >= self.per_client:
                return (f"this client already has {mine} open event streams, the limit is "
                        f"{self.per_client} (PATCHWALK_MAX_STREAMS_PER_CLIENT); close one or "
                        "poll GET /v1/sweeps/{id}")
            if sum(self.open.values()) >= self.total:
                return (f"the service has {self.total} open event streams, its limit "
                        "(PATCHWALK_MAX_STREAMS); retry later or poll GET /v1/sweeps/{id}")
            self.open[client] = mine + 1
            return None

    def release(self, client: str) -> None:
        """Give a slot back."""
        with self._lock:
            left = self.open.get(client, 0) - 1
            if left > 0:
                self.open[client] = left
            else:
                self.open.pop(client, None)

    def count(self) -> int:
        """Open streams in total."""
        with self._lock:
            return sum(self.open.values())


@router.get(
    "/sweeps/{sweep_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "object"}}}}},
)
async def sweep_events(request: Request, sweep_id: str) -> StreamingResponse:
    """Server-sent ``progress`` events until the sweep ends (then one ``end`` event)."""
    board = request.app.state.status_board
    if board.get(sweep_id) is None:  # the snapshot: no registry read for a stream of a sweep
        get_record(request, sweep_id)  # the 404 problem
    settings = request.app.state.settings
    bounds: StreamBounds = request.app.state.streams
    client = client_of(request)
    why = bounds.acquire(client)
    if why is not None:
        raise ProblemError(503, why, title="Too many event streams",
                           headers={"Retry-After": "10"})

    async def stream() -> AsyncIterator[str]:
        payload = ""
        try:
            deadline = time.monotonic() + settings.events_max_seconds
            last: str | None = None
            last_sent = 0.0
            seen: bytes | None = None
            state = ""
            while True:
                status: bytes | None = board.get(sweep_id)  # the status snapshot
                if status is None:
                    yield 'event: end\ndata: {"state": "gone"}\n\n'
                    return
                if status != seen:  # parsed again only when the status changed
                    view: dict[str, Any] = json.loads(status)
                    payload = json.dumps(view, sort_keys=True)
                    seen, state = status, str(view["state"])
                now = time.monotonic()
                if payload != last:
                    yield f"event: progress\ndata: {payload}\n\n"
                    last, last_sent = payload, now
                elif now - last_sent > 15.0:
                    yield ": keep-alive\n\n"
                    last_sent = now
                if state in TERMINAL:
                    yield f"event: end\ndata: {payload}\n\n"
                    return
                if now > deadline or await request.is_disconnected():
                    yield "event: timeout\ndata: {}\n\n"
                    return
                await asyncio.sleep(settings.events_interval)
        finally:
            release()

    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            bounds.release(client)

    body = stream()
    weakref.finalize(body, release)  # a stream never started (client gone at once) frees it too
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
