"""``GET /v1/cluster``: what the sweeps run on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["cluster"])


@router.get("/cluster")
def cluster(request: Request) -> dict[str, Any]:
    """Kind, jobs pending/running/lost/replaced, workers, cores, tasks in flight."""
    out: dict[str, Any] = request.app.state.runner.info()
    scheduler = request.app.state.scheduler
    if scheduler is not None:
        out["tasks_in_flight"] = scheduler.in_flight()
    return out
