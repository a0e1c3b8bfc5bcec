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


def prepare(
    spec: SweepSpec, store_path: str | Path, *, max_cpu_hours: float = 100.0,
    estimate: bool = True,
) -> Prepared:
    """Validate every point, then create or open the store (nothing is written on error).

    ``estimate=False`` skips the cost pilots and the budget (a store with nothing left to run).

    Raises
    ------
    patchwalk_client.errors.SpecError
        A point cannot run, or the sweep exceeds ``max_cpu_hours`` (the errors say how to fix
        it).
    patchwalk_worker.store.StoreError
        The store holds another spec.
    """
    backend = StoreBackend(Path(store_path).parent, store=Path(store_path))
    plan = backend.plan(spec.model_dump(mode="json"), estimate=estimate)
    if plan.errors:
        raise SpecError(plan.errors, title="the sweep cannot run")
    over = plan.over_budget(max_cpu_hours) if estimate else None
    if over:
        raise SpecError.single("", over, title="the sweep is beyond the compute budget")
    opened = backend.open(sweep_id_for(plan.spec_hash), plan.spec)
    return Prepared(backend=backend, plan=plan, skipped=opened.total - len(opened.pending))


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
