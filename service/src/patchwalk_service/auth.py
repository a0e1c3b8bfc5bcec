"""Bearer-token authentication (constant-time comparison against the configured tokens)."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request

from .problems import ProblemError


def token_ok(presented: str, tokens: list[str]) -> bool:
    """True when ``presented`` equals one of ``tokens`` (every token is compared)."""
    ok = False
    for token in tokens:
        ok |= hmac.compare_digest(presented.encode(), token.encode())
    return ok


async def require_token(request: Request) -> None:
    """FastAPI dependency: with tokens configured, the request must carry one."""
    tokens: list[str] = request.app.state.settings.tokens
    if not tokens:
        return
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented or not token_ok(presented.strip(), tokens):
        raise ProblemError(
            401,
            "missing or invalid bearer token: send 'Authorization: Bearer <token>' "
            "with one of the service's PATCHWALK_TOKENS",
            headers={"WWW-Authenticate": "Bearer"},
        )


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host in {"localhost", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tokens: list[str], insecure: bool) -> None:
    """Refuse to expose an unauthenticated service beyond loopback."""
    if tokens or insecure or is_loopback(host):
        return
    raise SystemExit(
        f"refusing to bind {host!r} without authentication: set PATCHWALK_TOKENS "
        "(comma-separated bearer tokens), bind 127.0.0.1, or pass --insecure"
    )
