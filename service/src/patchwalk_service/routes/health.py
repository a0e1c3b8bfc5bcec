"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from ..metrics import render_metrics
from ..problems import ProblemError

public = APIRouter(tags=["health"])
protected = APIRouter(tags=["health"])


@public.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@public.get("/readyz")
def readyz(request: Request) -> dict[str, str]:
    """The registry and the cluster client are up and the scheduler accepts work."""
    if not getattr(request.app.state, "ready", False):
        raise ProblemError(503, "the service is starting or stopping; retry in a few seconds")
    return {"status": "ready"}


@protected.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text: queue depth, tasks/s, failures."""
    text = render_metrics(request.app.state.registry, request.app.state.scheduler)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
