"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from ..metrics import render_metrics
from ..problems import ProblemError

public = APIRouter(tags=["health"])
protected = APIRouter(tags=["health"])


class Health(BaseModel):
    """``/healthz``: the process answers."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """``/readyz``: the service accepts work."""

    status: Literal["ready"] = "ready"


@public.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health()


@public.get("/readyz", response_model=Readiness)
def readyz(request: Request) -> Readiness:
    """The registry and the cluster client are up and the scheduler accepts work."""
    if not request.app.state.ready:
        raise ProblemError(503, "the service is starting or stopping; retry in a few seconds")
    return Readiness()


@protected.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text: queue depth, tasks/s, failures."""
    text = render_metrics(request.app.state.registry, request.app.state.scheduler)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
