"""The sweep engine: points × tasks on Dask, written to one zarr store, resumable.

``run_sweep`` validates every point before any work or any write, opens (or creates) the
sweep's store, submits the tasks the store does not yet hold with a bounded number in flight
(backpressure through ``distributed.as_completed``), and writes the summaries once every task
is done. Each task writes its own chunks from inside the worker
(:func:`patchwalk_worker.execute.execute_task`), so the result bits depend only on the spec:
not on the number of workers, the completion order, or restarts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwalk_worker.execute import execute_task
from patchwalk_worker.store import SweepStore

from patchwalk_service.progress import NullProgress, ProgressSink

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client
    from patchwalk_client.spec import SweepSpec

Cancel = Callable[[], bool] | threading.Event

#: Dask retries of a task that raised (a worker that dies is rescheduled by Dask itself).
RETRIES = 2


@dataclass(frozen=True)
class RunReport:
    """What one ``run_sweep`` call did."""

    total: int  # tasks in the sweep
    skipped: int  # already done in the store before this call
    computed: int  # done by this call
    seconds: float  # wall time of this call
    steps: int  # particle-steps done by this call
    cancelled: bool = False


def feasibility_errors(spec: SweepSpec) -> list[dict[str, str]]:
    """Field errors of every point that cannot run (``budget.check_feasible``)."""
    from patchwalk_client.sweep import expand_points
    from patchwalk_worker.budget import check_feasible

    errors: list[dict[str, str]] = []
    for point in expand_points(spec):
        where = ", ".join(f"{k}={v}" for k, v in point.params.items())
        for err in check_feasible(point.spec):
            msg = str(err.get("msg", ""))
            errors.append({"loc": str(err.get("loc", "")),
                           "msg": f"{msg} (at point {where})" if where else msg})
    return errors


def _spec_error(errors: list[dict[str, str]]) -> Exception:
    from patchwalk_client.errors import SpecError

    err: Exception = SpecError(errors, title="the sweep cannot run")
    return err


def prepare(spec: SweepSpec, store_path: str | Path) -> SweepStore:
    """Validate every point, then create or open the store (nothing is written on error).

    Raises
    ------
    patchwalk_client.spec.SpecError
        A point cannot run (the errors name the fields and how to fix them).
    patchwalk_worker.store.StoreError
        The store holds another spec.
    """
    errors = feasibility_errors(spec)
    if errors:
        raise _spec_error(errors)
    return SweepStore.create_or_open(store_path, spec)


def task_key(spec_hash: str, point: int, task: int) -> str:
    """Deterministic Dask key of a task."""
    return f"pw-{spec_hash[:12]}-{point}-{task}"


def _n_workers(client: Client) -> int:
    try:
        return max(1, len(client.scheduler_info()["workers"]))
    except Exception:  # noqa: BLE001 - a scheduler that cannot say
        return 1


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
    progress: ProgressSink | None = None,
    cancel: Cancel | None = None,
    runner: Callable[..., Any] | None = None,
) -> RunReport:
    """Run (or resume) a sweep into ``store_path`` on ``client``.

    Parameters
    ----------
    spec : SweepSpec
        The sweep (with its axes).
    store_path : path
        Its zarr store; created if absent, resumed if it holds the same spec.
    client : distributed.Client
    max_in_flight : int, optional
        Tasks submitted at once (default: twice the number of workers).
    progress : ProgressSink, optional
    cancel : callable or threading.Event, optional
        Checked after each finished task; when true, the rest is cancelled (what was
        written stays, and a later call resumes).
    runner : callable, optional
        Replaces ``run_task`` inside ``execute_task`` (tests; must be picklable).

    Returns
    -------
    RunReport
    """
    from distributed import as_completed

    t0 = time.perf_counter()
    store = prepare(spec, store_path)
    sink: ProgressSink = progress if progress is not None else NullProgress()
    pending = store.pending()
    total = store.total()
    skipped = total - len(pending)
    limit = int(max_in_flight) if max_in_flight else 2 * _n_workers(client)
    limit = max(1, limit)
    path = str(store.path)
    extra = (runner,) if runner is not None else ()

    def submit(pk: tuple[int, int]) -> Any:
        p, k = pk
        return client.submit(execute_task, path, p, k, *extra,
                             key=task_key(store.spec_hash, p, k), retries=RETRIES, pure=False)

    todo = iter(pending)
    computed = 0
    steps = 0
    cancelled = False
    sink.start(total, skipped)
    try:
        ac = as_completed([submit(pk) for pk in islice(todo, limit)], loop=client.loop)  # type: ignore[no-untyped-call]
        for fut in ac:
            res = fut.result()
            fut.release()
            # a task pending at the start is done by this call even when its result says
            # "skipped": an attempt on a worker that died after writing it finished the work
            computed += 1
            steps += int(res["steps"])
            sink.update(1, int(res["steps"]))
            if _cancelled(cancel):
                cancelled = True
                break
            nxt = next(todo, None)
            if nxt is not None:
                ac.add(submit(nxt))  # type: ignore[no-untyped-call]
        if cancelled:
            rest = list(ac.futures)
            ac.clear()  # type: ignore[no-untyped-call]
            client.cancel(rest)  # type: ignore[no-untyped-call]
    finally:
        sink.close()
    if not cancelled and store.complete() and not store.has_summaries():
        store.write_summaries()
    return RunReport(total=total, skipped=skipped, computed=computed,
                     seconds=time.perf_counter() - t0, steps=steps, cancelled=cancelled)
