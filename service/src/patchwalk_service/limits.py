"""Per-token bounds on submissions: queued sweeps (quota) and submissions per minute (rate).

A client is known by a digest of its bearer token (:func:`owner_of`; the token itself is never
stored), or, on a service without tokens, as the one anonymous owner. Past a bound the answer is
``429 Too Many Requests`` with ``Retry-After`` (seconds) and a problem document saying which bound
and how to get under it. Rates are counted in memory over a sliding minute (they restart with the
service); quotas are counted in the registry (they survive restarts).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from typing import Any

from fastapi import Request

from .problems import ProblemError
from .registry import Registry

#: Owner of the sweeps of a service without tokens.
ANONYMOUS = "anonymous"
#: The rate window in seconds.
WINDOW = 60.0


def owner_of(request: Request) -> str:
    """Who is asking: a short digest of the bearer token, or :data:`ANONYMOUS`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not request.app.state.settings.tokens:
        return ANONYMOUS
    return "t-" + hashlib.sha256(token.strip().encode()).hexdigest()[:16]


def client_of(request: Request) -> str:
    """Who holds a connection: the token's owner, or the peer address without tokens."""
    owner = owner_of(request)
    if owner != ANONYMOUS:
        return owner
    return request.client.host if request.client else ANONYMOUS


class RateLimiter:
    """At most ``per_minute`` events per owner in any sliding minute (thread-safe)."""

    def __init__(self, per_minute: int, window: float = WINDOW) -> None:
        self.per_minute = per_minute
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, owner: str, now: float | None = None) -> float:
        """Count one event; 0.0 when allowed, else the seconds until one would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._seen.setdefault(owner, deque())
            while q and now - q[0] >= self.window:
                q.popleft()
            if len(q) >= self.per_minute:
                return max(q[0] + self.window - now, 0.001)
            q.append(now)
            if len(self._seen) > 10_000:  # forget idle owners
                for key in [k for k, v in self._seen.items() if not v]:
                    del self._seen[key]
            return 0.0


def too_many(detail: str, retry_after: float, **extra: Any) -> ProblemError:
    """A 429 problem with ``Retry-After`` in whole seconds."""
    seconds = max(1, math.ceil(retry_after))
    return ProblemError(
        429, detail, title="Too many requests", headers={"Retry-After": str(seconds)},
        retry_after=seconds, **extra,
    )


def check_rate(request: Request, owner: str) -> None:
    """429 when ``owner`` submitted ``submissions_per_minute`` sweeps within the last minute."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.hit(owner)
    if wait:
        raise too_many(
            f"more than {limiter.per_minute} submissions within a minute for this token "
            f"(PATCHWALK_SUBMISSIONS_PER_MINUTE); retry in {math.ceil(wait)} s",
            wait,
        )


def check_quota(request: Request, registry: Registry, owner: str) -> None:
    """429 when ``owner`` already has ``max_queued_per_token`` queued or running sweeps."""
    limit = int(request.app.state.settings.max_queued_per_token)
    active = registry.count_active(owner)
    if active >= limit:
        raise too_many(
            f"this token has {active} queued or running sweeps, the limit is {limit} "
            "(PATCHWALK_MAX_QUEUED_PER_TOKEN); wait for some to finish or cancel them "
            "(DELETE /v1/sweeps/{id})",
            30.0,
            active=active,
            limit=limit,
        )
