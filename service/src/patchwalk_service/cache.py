"""Finished results, cached: each answer of a done sweep is built once and served with an ETag.

A done sweep's results never change (until it is purged), so the bytes of each result answer —
per sweep, route and query — are kept in a bounded LRU with a strong ``ETag`` (a digest of the
bytes). A request whose ``If-None-Match`` names it gets ``304 Not Modified`` and no body; any
other request gets the cached bytes without touching the store or the thread pool — most of
them before routing (:mod:`.hotpath`). Concurrent requests of an answer not yet built share one
build (a sweep that just finished, polled by fifty clients, is read once).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

#: Headers of every cached answer: clients may keep it but must revalidate.
CACHE_CONTROL = "private, max-age=0, must-revalidate"


class ResultsCache:
    """LRU of ``(sweep_id, route, query) -> (etag, media type, body)`` (thread-safe)."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 256 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str, str], tuple[str, str, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        #: Counts :meth:`forget` calls: an answer whose build spans one is not kept.
        self.epoch = 0
        #: Answers being built, by key (event loop only): concurrent requests share one build.
        self.building: dict[tuple[str, str, str], asyncio.Future[Any]] = {}

    def get(self, key: tuple[str, str, str]) -> tuple[str, str, bytes] | None:
        """The cached answer, or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: tuple[str, str, str], media_type: str, body: bytes,
            epoch: int | None = None) -> str:
        """Keep an answer; returns its ETag. With ``epoch`` (:attr:`epoch` when the answer's
        build began), an answer built across a :meth:`forget` is not kept."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        with self._lock:
            if epoch is not None and epoch != self.epoch:
                return etag
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[2])
            self._items[key] = (etag, media_type, body)
            self._bytes += len(body)
            while self._items and (
                len(self._items) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped[2])
        return etag

    def forget(self, sweep_id: str) -> None:
        """Drop every answer of a sweep (purged)."""
        with self._lock:
            self.epoch += 1
            for key in [k for k in self._items if k[0] == sweep_id]:
                self._bytes -= len(self._items.pop(key)[2])


def not_modified(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header value names ``etag`` (or is ``*``)."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def query_key(request: Request) -> str:
    """The query part of a cache key: the raw query string, as the client sent it."""
    return bytes(request.scope.get("query_string", b"")).decode("latin-1")


def _answer(request: Request, etag: str, media_type: str, body: bytes) -> Response:
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


async def _build_once(
    cache: ResultsCache,
    key: tuple[str, str, str],
    build: Callable[[], Awaitable[tuple[str, bytes, bool]]],
) -> tuple[str, bytes, bool, str | None]:
    """``build()`` once for concurrent requests of one key; the answer and its ETag if kept.

    The first request builds; the others wait for its answer (or its error) instead of each
    computing the same one again — fifty pollers of a sweep that just finished cost one build.
    An answer built across a purge of its sweep is not kept.
    """
    waiting = cache.building.get(key)
    if waiting is not None:
        try:
            return await asyncio.shield(waiting)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not waiting.cancelled() or (task is not None and task.cancelling()):
                raise
            # the building request was cancelled (client gone): build it here instead
            return await _build_once(cache, key, build)
    future: asyncio.Future[tuple[str, bytes, bool, str | None]] = (
        asyncio.get_running_loop().create_future())
    future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
    cache.building[key] = future
    epoch = cache.epoch
    try:
        media_type, body, final = await build()
        etag = cache.put(key, media_type, body, epoch=epoch) if final else None
    except asyncio.CancelledError:
        future.cancel()
        raise
    except BaseException as exc:
        future.set_exception(exc)
        raise
    else:
        future.set_result((media_type, body, final, etag))
        return media_type, body, final, etag
    finally:
        cache.building.pop(key, None)


async def cached(
    request: Request,
    sweep_id: str,
    route: str,
    build: Callable[[], Awaitable[tuple[str, bytes, bool]]],
) -> Response:
    """Serve ``route`` of a done sweep from the cache, building it once with ``build``.

    ``build`` returns ``(media type, body, final)`` and raises (409, 404, 422...) when there is
    no answer; only a final answer (a done sweep's, not the partial one of a running sweep) is
    cached. Concurrent requests of an answer not yet cached share one build (final or not).
    """
    cache: ResultsCache = request.app.state.results_cache
    key = (sweep_id, route, query_key(request))
    hit = cache.get(key)
    if hit is not None:
        return _answer(request, *hit)
    media_type, body, final, etag = await _build_once(cache, key, build)
    if etag is None:
        headers = {"Cache-Control": "no-store"}
        return Response(body, media_type=media_type, headers=headers)
    return _answer(request, etag, media_type, body)
