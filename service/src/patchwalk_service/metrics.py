"""Prometheus text exposition of the service's counters (no client library needed)."""

from __future__ import annotations

from .registry import Registry
from .scheduler import Scheduler


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def render_metrics(registry: Registry, scheduler: Scheduler) -> str:
    """Queue depth, sweeps by state, in-flight tasks, tasks/s, task and sweep failures."""
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
        "patchwalk_task_failures_total",
        "counter",
        "Tasks that raised since the service started.",
        [_line("patchwalk_task_failures_total", scheduler.tasks_failed)],
    )
    metric(
        "patchwalk_sweep_failures_total",
        "counter",
        "Sweeps marked failed since the service started.",
        [_line("patchwalk_sweep_failures_total", scheduler.sweeps_failed)],
    )
    return "\n".join(out) + "\n"
