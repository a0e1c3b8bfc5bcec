"""Sweep submission, listing, status and cancellation (progress events: :mod:`.events`).

Submission is bounded (:mod:`..limits`: submissions per minute, queued sweeps per token;
:mod:`..storage`: free space and the disk cap). Status is answered on the event loop from the
snapshot of :class:`..status.StatusBoard` (no registry read, no serialisation per request),
never queueing behind the thread pool.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from patchwalk_client.models import SweepPage, SweepStatus

from ..backend import PlanLimits
from ..contract import check_body_types
from ..limits import check_quota, check_rate, owner_of
from ..problems import ProblemError
from ..registry import ACTIVE, STATES, SweepRecord, sweep_id_for
from ..status import status_of
from ..storage import check_space, purge

router = APIRouter(tags=["sweeps"])
_log = logging.getLogger(__name__)

_TEXT_TYPES = ("toml", "yaml", "yml", "text/plain")


def sweep_view(request: Request, record: SweepRecord) -> SweepStatus:
    """The public status of a sweep (live counters when it is running here)."""
    return status_of(record, request.app.state.scheduler)


def get_record(request: Request, sweep_id: str) -> SweepRecord:
    """The registry row of ``sweep_id`` or a 404 problem."""
    record: SweepRecord | None = request.app.state.registry.get(sweep_id)
    if record is None:
        raise ProblemError(
            404, f"no sweep with id {sweep_id!r}; list the sweeps with GET /v1/sweeps"
        )
    return record


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ProblemError(
            413,
            f"request body of {length} bytes exceeds the limit of {limit} bytes "
            "(PATCHWALK_MAX_BODY_BYTES); send a smaller spec",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError(
                413,
                f"request body exceeds the limit of {limit} bytes "
                "(PATCHWALK_MAX_BODY_BYTES); send a smaller spec",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _spec_source(body: bytes, content_type: str) -> tuple[str | dict[str, Any], str | None]:
    """The spec of a request body — a JSON object, or text — and the media type to parse it.

    The body is only ever spec text: a body that looks like a path is parsed as text too (and
    fails as a spec), never opened.
    """
    ctype = content_type.split(";")[0].strip().lower()
    if ctype and not ctype.endswith("json") and not any(t in ctype for t in _TEXT_TYPES):
        raise ProblemError(
            415,
            f"unsupported content type {ctype!r}: use application/json, application/toml "
            "or application/yaml",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError(
            422,
            f"the body is not UTF-8 text ({exc}); send the spec as JSON, TOML or YAML",
            title="Invalid sweep spec",
            errors=[{"loc": "", "msg": "body is not UTF-8"}],
        ) from None
    if not text.strip():
        raise ProblemError(
            422,
            "empty body: send a sweep spec as JSON (application/json), TOML "
            "(application/toml) or YAML (application/yaml)",
            title="Invalid sweep spec",
            errors=[{"loc": "", "msg": "empty body"}],
        )
    if ctype.endswith("json") or (not ctype and text.lstrip().startswith("{")):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # bad JSON, too deep, too many digits
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise ProblemError(
                422,
                f"the body is not valid JSON: {why}",
                title="Invalid sweep spec",
                errors=[{"loc": "", "msg": f"invalid JSON: {why}"}],
            ) from None
        if not isinstance(data, dict):
            raise ProblemError(
                422,
                "the JSON body must be an object (the sweep spec)",
                title="Invalid sweep spec",
                errors=[{"loc": "", "msg": "expected a JSON object"}],
            )
        return data, "application/json"
    return text, ctype or None


def _check_text(spec: dict[str, Any]) -> None:
    """422 for text that cannot be stored: a lone UTF-16 surrogate such as ``\\ud800``."""
    try:
        json.dumps(spec, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start:exc.end] if isinstance(exc.object, str) else ""
        raise ProblemError(
            422,
            f"the spec contains text that is not valid Unicode ({bad!a}, a lone surrogate); "
            "send UTF-8 text without unpaired surrogates",
            title="Invalid sweep spec",
            errors=[{"loc": "", "msg": f"invalid Unicode {bad!a}"}],
        ) from None


@router.post(
    "/sweeps",
    status_code=202,
    response_model=SweepStatus,
    responses={200: {"model": SweepStatus, "description": "the identical sweep already exists"}},
)
async def submit_sweep(
    request: Request, response: Response,
    dry_run: bool = Query(False, description="only estimate the cost; create nothing"),
) -> Any:
    """Submit a spec (JSON, TOML or YAML body); an identical spec returns the existing sweep."""
    from patchwalk_client.errors import SpecError

    settings = request.app.state.settings
    owner = owner_of(request)
    check_rate(request, owner)
    body = await _read_body(request, settings.max_body_bytes)
    source, media_type = _spec_source(body, request.headers.get("content-type", ""))
    backend = request.app.state.backend
    registry = request.app.state.registry
    limits = PlanLimits(settings.max_points, settings.max_tasks)
    try:
        quick = await run_in_threadpool(backend.plan, source, media_type=media_type,
                                        estimate=False, limits=limits)
        existing = None if dry_run else registry.get(sweep_id_for(quick.spec_hash))
        if existing is not None and existing.state not in ("failed", "cancelled"):
            # an identical live or finished sweep: answered without the cost pilots
            response.status_code = 200
            response.headers["Location"] = f"/v1/sweeps/{existing.id}"
            return sweep_view(request, existing)
        plan = await run_in_threadpool(backend.plan, source, media_type=media_type,
                                       limits=limits)
    except SpecError as exc:
        raise ProblemError(422, str(exc), title="Invalid sweep spec", errors=exc.errors) from None
    except (ValueError, RecursionError, TypeError, ArithmeticError) as exc:
        # a parser's own limits (nesting depth, integer digits, a lone surrogate) or numbers
        # the planning arithmetic cannot take (5e-324 patches): the spec is unusable, say so
        _log.warning("spec refused while planning: %s: %s", type(exc).__name__, exc)
        why = "nested too deeply" if isinstance(exc, RecursionError) else (
            f"{type(exc).__name__}: {exc}")
        raise ProblemError(
            422, f"the spec cannot be read: {why}", title="Invalid sweep spec",
            errors=[{"loc": "", "msg": why}],
        ) from None
    _check_text(plan.spec)
    if isinstance(source, dict):
        check_body_types(source, plan.spec)
    existing = registry.get(sweep_id_for(plan.spec_hash))
    if existing is None or existing.state not in (*ACTIVE, "done"):
        check_quota(request, registry, owner)
        await run_in_threadpool(check_space, request)
    msg = plan.over_budget(settings.max_cpu_hours)
    if dry_run and not plan.errors:
        response.status_code = 200
        return JSONResponse({**plan.dry_run(settings.workers),
                             "budget_cpu_hours": settings.max_cpu_hours,
                             "accepted": msg is None})
    if msg:
        raise ProblemError(
            422,
            msg,
            title="Sweep beyond the compute budget",
            errors=[*plan.errors, {"loc": "", "msg": msg}],
            budget_cpu_hours=settings.max_cpu_hours,
            estimated_cpu_hours=plan.estimated_cpu_hours,
            estimated_steps=plan.estimated_steps,
        )
    if plan.errors:
        raise ProblemError(
            422,
            "the sweep cannot run: " + "; ".join(f"{e['loc']}: {e['msg']}" for e in plan.errors),
            title="Sweep not feasible",
            errors=plan.errors,
            budget_cpu_hours=settings.max_cpu_hours,
            estimated_cpu_hours=plan.estimated_cpu_hours,
            estimated_steps=plan.estimated_steps,
        )
    record, created = registry.create_or_get(
        spec_hash=plan.spec_hash,
        name=plan.name,
        spec=plan.spec,
        n_points=plan.n_points,
        tasks_total=plan.tasks_total,
        estimated_steps=plan.estimated_steps,
        owner=owner,
    )
    request.app.state.scheduler.wake()
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"/v1/sweeps/{record.id}"
    return sweep_view(request, record)


@router.get("/sweeps", response_model=SweepPage)
def list_sweeps(
    request: Request,
    state: Literal["queued", "running", "done", "failed", "cancelled"] | None = Query(
        None, description="only sweeps in this state"
    ),
    limit: int | None = Query(None, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=2**62),
) -> SweepPage:
    """List sweeps, newest first, paged (``limit``, ``offset``), optionally by ``state``."""
    if state is not None and state not in STATES:
        raise ProblemError(
            422,
            f"unknown state {state!r}; use one of {', '.join(STATES)}",
            errors=[{"loc": "state", "msg": f"use one of {', '.join(STATES)}"}],
        )
    limit = limit or request.app.state.settings.page_size
    records, total = request.app.state.registry.page(state, limit=limit, offset=offset)
    nxt = None
    if offset + len(records) < total:
        nxt = f"/v1/sweeps?limit={limit}&offset={offset + limit}" + (
            f"&state={state}" if state else ""
        )
    return SweepPage(
        items=[sweep_view(request, r) for r in records],
        total=total,
        limit=limit,
        offset=offset,
        next=nxt,
    )


@router.get("/sweeps/{sweep_id}", response_model=SweepStatus)
async def get_sweep(request: Request, sweep_id: str) -> Response:
    """State, tasks done/total, particle-steps/s, ETA and error of one sweep."""
    body = request.app.state.status_board.get(sweep_id)  # from memory, rendered once a change
    if body is None:
        get_record(request, sweep_id)  # the 404 problem
    return Response(body, media_type="application/json")


@router.delete(
    "/sweeps/{sweep_id}",
    response_model=SweepStatus,
    responses={204: {"description": "purged: the sweep's store and record are gone"}},
)
def cancel_sweep(
    request: Request,
    response: Response,
    sweep_id: str,
    purge_store: bool = Query(
        False, alias="purge", description="also remove the sweep's store and record (204)"
    ),
) -> SweepStatus | Response:
    """Cancel a queued or running sweep (a finished one is left); ``?purge=true`` removes it."""
    from patchwalk_worker.execute import mark_cancelled

    get_record(request, sweep_id)
    state = request.app.state
    if purge_store:
        purge(state, sweep_id)
        return Response(status_code=204)
    if state.registry.set_state(sweep_id, "cancelled", only_from=("queued", "running")):
        mark_cancelled(state.backend.store_path(sweep_id))  # tasks in flight write nothing
        state.scheduler.request_cancel(sweep_id)
    return sweep_view(request, get_record(request, sweep_id))
