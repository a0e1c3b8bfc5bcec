"""``GET /v1/cluster``: what the sweeps run on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["cluster"])


@router.get("/cluster")
def cluster(request: Request) -> dict[str, Any]:
    """Kind, jobs pending/running/lost/replaced, workers, cores, tasks in flight."""
    runner = request.app.state.runner
    session = getattr(runner, "session", None)
    out: dict[str, Any] = {"kind": "none"} if session is None else session.info()
    scheduler = getattr(request.app.state, "scheduler", None)
    if scheduler is not None:
        out["tasks_in_flight"] = scheduler.in_flight()
    return out
