"""What a sweep is made of: its spec back, and any of its medium realisations.

``GET /v1/sweeps/{id}/spec`` returns the validated spec the sweep runs (JSON), so a client
that lost its file can resubmit or edit it. ``GET /v1/sweeps/{id}/medium?point=&task=`` returns
the medium realisation of one task, rebuilt deterministically from the sweep's seed stream
(``backend.medium``): the edges and κ of every patch. Nothing here reads a path a client names.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..problems import ProblemError
from .sweeps import get_record

router = APIRouter(tags=["sweeps"])

#: Largest medium (patches over all strips) served as JSON.
MAX_PATCHES = 2_000_000


@router.get("/sweeps/{sweep_id}/spec")
def sweep_spec(request: Request, sweep_id: str) -> dict[str, Any]:
    """The sweep's validated spec (JSON); ``POST`` it to ``/v1/sweeps`` to run it again."""
    spec: dict[str, Any] = get_record(request, sweep_id).spec
    return spec


@router.get("/sweeps/{sweep_id}/medium")
async def sweep_medium(
    request: Request,
    sweep_id: str,
    point: int = Query(0, ge=0, description="point index"),
    task: int = Query(0, ge=0, description="task index within the point"),
) -> dict[str, Any]:
    """The medium realisation of task ``(point, task)``: ``edges``, ``kappa``, ``offsets`` …"""
    record = get_record(request, sweep_id)
    try:
        medium: dict[str, Any] = await run_in_threadpool(
            request.app.state.backend.medium, record.spec, point, task)
    except ValueError as exc:
        loc = "point" if str(exc).startswith("point") else "task"
        raise ProblemError(400, str(exc), title="No such task",
                           errors=[{"loc": loc, "msg": str(exc)}]) from exc
    if len(medium.get("kappa", ())) > MAX_PATCHES:
        raise ProblemError(413, f"the medium has {len(medium['kappa'])} patches, more than "
                                f"{MAX_PATCHES} served as JSON; download /dataset instead")
    return medium
