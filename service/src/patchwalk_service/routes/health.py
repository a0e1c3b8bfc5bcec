"""Liveness, readiness and the Prometheus metrics (text exposition, no client library needed)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from ..problems import ProblemError
from ..registry import Registry
from ..scheduler import Scheduler

public = APIRouter(tags=["health"])
protected = APIRouter(tags=["health"])


class Health(BaseModel):
    """``/healthz``: the process answers."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """``/readyz``: the service accepts work."""

    status: Literal["ready"] = "ready"


@public.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up (answered on the event loop: never waits for the thread pool)."""
    return Health()


@public.get("/readyz", response_model=Readiness)
async def readyz(request: Request) -> Readiness:
    """The registry and the cluster client are up and the scheduler accepts work."""
    if not request.app.state.ready:
        raise ProblemError(503, "the service is starting or stopping; retry in a few seconds")
    return Readiness()


@protected.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text: queue depth, tasks/s, failures."""
    text = render_metrics(request.app.state.registry, request.app.state.scheduler)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def render_metrics(registry: Registry, scheduler: Scheduler) -> str:
    """Queue depth, sweeps by state, in-flight tasks, tasks/s, retries, task and sweep failures."""
    counts = registry.count_by_state()
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[str]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(samples)

    metric(
        "patchwalk_queue_depth",
        "gauge",
        "Sweeps waiting for the cluster (state queued).",
        [_line("patchwalk_queue_depth", counts["queued"])],
    )
    metric(
        "patchwalk_sweeps",
        "gauge",
        "Sweeps in the registry by state.",
        [_line("patchwalk_sweeps", n, {"state": s}) for s, n in counts.items()],
    )
    metric(
        "patchwalk_tasks_in_flight",
        "gauge",
        "Tasks submitted to the cluster and not finished.",
        [_line("patchwalk_tasks_in_flight", scheduler.in_flight())],
    )
    metric(
        "patchwalk_tasks_per_second",
        "gauge",
        "Tasks finished per second over the last minute.",
        [_line("patchwalk_tasks_per_second", scheduler.tasks_per_second())],
    )
    metric(
        "patchwalk_tasks_completed_total",
        "counter",
        "Tasks finished since the service started.",
        [_line("patchwalk_tasks_completed_total", scheduler.tasks_completed)],
    )
    metric(
        "patchwalk_task_retries_total",
        "counter",
        "Task attempts that raised and were submitted again since the service started.",
        [_line("patchwalk_task_retries_total", scheduler.tasks_retried)],
    )
    metric(
        "patchwalk_task_failures_total",
        "counter",
        "Tasks that raised on every attempt since the service started.",
        [_line("patchwalk_task_failures_total", scheduler.tasks_failed)],
    )
    metric(
        "patchwalk_sweep_failures_total",
        "counter",
        "Sweeps marked failed since the service started.",
        [_line("patchwalk_sweep_failures_total", scheduler.sweeps_failed)],
    )
    return "\n".join(out) + "\n"
