"""One sweep driven to completion in this process: ``patchwalk run`` on the service's scheduler.

:func:`run_sweep` is the :class:`~patchwalk_service.scheduler.Scheduler` of ``patchwalk serve``
given one sweep: an in-memory registry holds it, a :class:`StoreBackend` pinned to the store the
user names holds its tasks, and the loop is stepped in this thread until the sweep is done,
failed or cancelled. Task keys, retries, cancellation and progress are therefore exactly the
service's. Every point is validated (feasibility, compute budget) before any write, a store of
another spec is refused, finished tasks are skipped, and each task writes its own chunks from
inside the worker, so the result bits depend only on the spec: not on the number of workers,
the completion order, or restarts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from patchwalk_client.errors import SpecError

from .backend import Plan, StoreBackend
from .registry import ACTIVE, Registry, sweep_id_for
from .runners import DaskRunner
from .scheduler import NullProgress, ProgressSink, Scheduler

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client
    from patchwalk_client.spec import SweepSpec

Cancel = Callable[[], bool] | threading.Event


@dataclass(frozen=True)
class RunReport:
    """What one ``run_sweep`` call did."""

    total: int  # tasks in the sweep
    skipped: int  # already done in the store before this call
    computed: int  # done by this call
    seconds: float  # wall time of this call
    steps: int  # particle-steps done by this call
    cancelled: bool = False
    error: str | None = None  # why the sweep failed (a task raised on every attempt)


@dataclass(frozen=True)
class Prepared:
    """A validated sweep and its opened store."""

    backend: StoreBackend
    plan: Plan
    skipped: int


def plan_sweep(
    spec: SweepSpec, store_path: str | Path, *, max_cpu_hours: float = 100.0,
    estimate: bool | None = True,
) -> tuple[StoreBackend, Plan]:
    """Validate every point and check the budget; nothing is written, nothing started.

    ``estimate``: True runs the cost pilots (``patchwalk_worker.cost.point_cost``) and checks
    the budget against their estimate; False runs none and checks no budget (a store with
    nothing left to run); None runs them only when the pilot-free bound
    (``patchwalk_worker.cost.cost_bound``) exceeds ``max_cpu_hours`` — when the budget could
    refuse the sweep. Without pilots the plan's estimates are 0.

    Raises
    ------
    patchwalk_client.errors.SpecError
        A point cannot run, or the sweep exceeds ``max_cpu_hours`` (the errors say how to fix
        it).
    """
    backend = StoreBackend(Path(store_path).parent, store=Path(store_path))
    source = spec.model_dump(mode="json")
    if estimate is None:
        plan = backend.plan(source, estimate=False)
        if not plan.errors and _budget_could_bind(spec, max_cpu_hours):
            plan = backend.plan(source, estimate=True)
        estimate = plan.estimated_cpu_seconds > 0.0
    else:
        plan = backend.plan(source, estimate=estimate)
    if plan.errors:
        raise SpecError(plan.errors, title="the sweep cannot run")
    over = plan.over_budget(max_cpu_hours) if estimate else None
    if over:
        raise SpecError.single("", over, title="the sweep is beyond the compute budget")
    return backend, plan


def _budget_could_bind(spec: SweepSpec, max_cpu_hours: float) -> bool:
    """Whether the pilot-free cost bound of the sweep exceeds the budget (or is unknown)."""
    from patchwalk_client.sweep import expand_points
    from patchwalk_worker.cost import cost_bound

    total = 0.0
    for point in expand_points(spec):
        bound = cost_bound(point.spec)
        if bound is None:
            return True
        total += bound
    return total > max_cpu_hours * 3600.0


def max_tasks_total(plan: Plan) -> int:
    """The most tasks the sweep can have (with ``particles.target_rel_err``: up to
    ``max_count/per_task`` per point; else its tasks)."""
    from patchwalk_client.spec import validate_spec
    from patchwalk_client.sweep import expand_points
    from patchwalk_worker.tolerance import max_tasks

    return sum(max_tasks(p.spec) for p in expand_points(validate_spec(plan.spec)))


def open_prepared(backend: StoreBackend, plan: Plan) -> Prepared:
    """Create or open the store of a planned sweep.

    Raises
    ------
    patchwalk_worker.store.StoreError
        The store holds another spec.
    """
    opened = backend.open(sweep_id_for(plan.spec_hash), plan.spec)
    return Prepared(backend=backend, plan=plan, skipped=opened.total - len(opened.pending))


def prepare(
    spec: SweepSpec, store_path: str | Path, *, max_cpu_hours: float = 100.0,
    estimate: bool | None = True,
) -> Prepared:
    """Validate every point, then create or open the store (nothing is written on error).

    :func:`plan_sweep` then :func:`open_prepared`; ``estimate`` as there (False: a store with
    nothing left to run).

    Raises
    ------
    patchwalk_client.errors.SpecError
        A point cannot run, or the sweep exceeds ``max_cpu_hours`` (the errors say how to fix
        it).
    patchwalk_worker.store.StoreError
        The store holds another spec.
    """
    backend, plan = plan_sweep(spec, store_path, max_cpu_hours=max_cpu_hours,
                               estimate=estimate)
    return open_prepared(backend, plan)


class _Tally:
    """Counts what a sweep did in this call and passes it on to the caller's sink."""

    def __init__(self, sink: ProgressSink) -> None:
        self.sink = sink
        self.tasks = 0
        self.steps = 0

    def start(self, total: int, skipped: int) -> None:
        self.sink.start(total, skipped)

    def update(self, tasks: int, steps: int) -> None:
        self.tasks += tasks
        self.steps += steps
        self.sink.update(tasks, steps)

    def close(self) -> None:
        self.sink.close()


def _cancelled(cancel: Cancel | None) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def run_sweep(
    spec: SweepSpec,
    store_path: str | Path,
    client: Client,
    *,
    max_in_flight: int | None = None,
    max_cpu_hours: float = 100.0,
    progress: ProgressSink | None = None,
    cancel: Cancel | None = None,
) -> RunReport:
    """Run (or resume) a sweep into ``store_path`` on ``client``.

    Parameters
    ----------
    spec : SweepSpec
        The sweep (with its axes).
    store_path : path
        Its zarr store; created if absent, resumed if it holds the same spec.
    client : distributed.Client
        Left open.
    max_in_flight : int, optional
        Tasks submitted at once (default: twice the number of workers).
    max_cpu_hours : float
        Compute budget of the sweep in estimated CPU-hours.
    progress : ProgressSink, optional
    cancel : callable or threading.Event, optional
        Checked after each finished task; when true, the rest is cancelled (what was
        written stays, and a later call resumes). Ctrl-C (``KeyboardInterrupt``) cancels too.

    Returns
    -------
    RunReport

    Raises
    ------
    patchwalk_client.errors.SpecError, patchwalk_worker.store.StoreError
        As :func:`prepare`, before any task runs.
    """
    t0 = time.perf_counter()
    prepared = prepare(spec, store_path, max_cpu_hours=max_cpu_hours)
    return run_prepared(prepared, client, max_in_flight=max_in_flight, progress=progress,
                        cancel=cancel, started=t0)


def run_prepared(
    prepared: Prepared,
    client: Client,
    *,
    max_in_flight: int | None = None,
    progress: ProgressSink | None = None,
    cancel: Cancel | None = None,
    started: float | None = None,
) -> RunReport:
    """:func:`run_sweep` of a prepared sweep (``started``: the clock of its report)."""
    t0 = time.perf_counter() if started is None else started
    plan = prepared.plan
    registry = Registry(":memory:")
    record, _ = registry.create_or_get(
        spec_hash=plan.spec_hash, name=plan.name, spec=plan.spec, n_points=plan.n_points,
        tasks_total=plan.tasks_total, estimated_steps=plan.estimated_steps,
    )
    runner = DaskRunner(client, close_client=False)
    scheduler = Scheduler(
        registry, prepared.backend, runner, max_in_flight=max_in_flight, max_running=1
    )
    tally = _Tally(progress if progress is not None else NullProgress())
    scheduler.watch(record.id, tally)
    cancelled = False
    try:
        while not cancelled:
            seen = tally.tasks
            scheduler.step()
            record = registry.get(record.id) or record
            if record.state not in ACTIVE:
                break
            cancelled = tally.tasks > seen and _cancelled(cancel)
    except KeyboardInterrupt:
        cancelled = True
    if cancelled:
        registry.set_state(record.id, "cancelled", only_from=ACTIVE)
        scheduler.request_cancel(record.id)
        scheduler.step()
    final = registry.get(record.id)
    registry.close()
    return RunReport(
        total=plan.tasks_total, skipped=prepared.skipped, computed=tally.tasks,
        seconds=time.perf_counter() - t0, steps=tally.steps, cancelled=cancelled,
        error=None if final is None else final.error,
    )
