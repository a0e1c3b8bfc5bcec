"""Hot reads: polled answers that are already in memory are sent before routing.

Fifty clients polling a sweep ask, over and over, for two kinds of answers the service already
holds as bytes: a sweep's status (:class:`~patchwalk_service.status.StatusBoard`) and the
results of a done sweep (:class:`~patchwalk_service.cache.ResultsCache`). Routing, dependency
injection and validation of such a request cost several times more CPU than sending the bytes,
so :class:`HotReads`, an ASGI middleware in front of the router, answers them itself:

- ``GET /v1/sweeps/{id}``: the status snapshot (rendered by the board when it is stale);
- ``GET /v1/sweeps/{id}/{kappa,kappa2d,escape,theory,density,plot.png}``: a cached answer of a
  done sweep with its ``ETag`` (``304`` on a matching ``If-None-Match``).

Only after the same bearer-token check as every route (:func:`~patchwalk_service.auth.
require_token`, called here). Everything else — a miss, a request without a valid token, an
unknown sweep, an error of any kind — goes on to the application unchanged, which answers it
as it always does (401, 404, 409, 507, a partial answer, building and caching a final one). The
middleware never makes an answer of its own: it only serves, earlier, the bytes and headers the
routes would have sent.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import require_token
from .cache import CACHE_CONTROL, not_modified

_log = logging.getLogger(__name__)

#: Result routes whose final answers the results cache holds (``routes/results.py``).
CACHED_ROUTES = frozenset({"kappa", "kappa2d", "escape", "theory", "density", "plot.png"})

_PREFIX = "/v1/sweeps/"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class HotReads:
    """ASGI middleware serving polled status and cached results from memory (see module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(_PREFIX):
                try:
                    answer = await self._lookup(scope, path[len(_PREFIX):])
                except Exception:  # the application answers it, with its own error handling
                    _log.debug("hot read of %s passed on", path, exc_info=True)
                    answer = None
                if answer is not None:
                    self.served += 1
                    await _send(send, *answer)
                    return
        await self.app(scope, receive, send)

    async def _lookup(self, scope: Scope, rest: str) -> tuple[int, list[Any], bytes] | None:
        sweep_id, slash, route = rest.partition("/")
        if not sweep_id or (slash and route not in CACHED_ROUTES):
            return None
        state = scope["app"].state
        if not getattr(state, "ready", False):
            return None
        try:
            await require_token(Request(scope))
        except Exception:  # not authorised: the route answers 401
            return None
        if not route:
            body = state.status_board.get(sweep_id)
            if body is None:
                return None  # no such sweep: the route answers 404
            return 200, [(b"content-type", b"application/json")], body
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        hit = state.results_cache.get((sweep_id, route, query))
        if hit is None:
            return None  # built (or answered partial, 409...) by the route
        etag, media_type, body = hit
        headers = [(b"etag", etag.encode("latin-1")), (b"cache-control", CACHE_CONTROL.encode())]
        if not_modified(_header(scope, b"if-none-match"), etag):
            return 304, headers, b""
        return 200, [*headers, (b"content-type", media_type.encode("latin-1"))], body


async def _send(send: Send, status: int, headers: list[Any], body: bytes) -> None:
    if status != 304:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
