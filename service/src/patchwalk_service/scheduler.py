"""The sweep driver: the one loop that runs sweeps, for ``patchwalk serve`` and ``patchwalk run``.

It holds the one definition of a task's key (:func:`task_key`), of the retry policy
(:data:`RETRIES`), of cancellation (:meth:`Scheduler.request_cancel`) and of progress
(:class:`SweepRun`, reported to the registry and to any :class:`ProgressSink` watching a sweep).
``patchwalk run`` is this scheduler running one sweep in-process (:mod:`.engine`).

FIFO across sweeps (oldest first), at most ``max_running`` sweeps at once, and among the running
ones a fair share of the ``max_in_flight`` task slots: free slots are dealt round-robin, one task
per sweep per turn, so a small sweep queued behind a huge one is not starved. Finished tasks are
read from each sweep's store when it is (re)opened, so a restart never recomputes them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from .backend import SweepBackend
from .registry import Registry
from .runners import TaskRunner
from .storage import disk_full_message, is_disk_full

_log = logging.getLogger(__name__)

#: Further attempts of a task that raised before its sweep is marked failed (a worker that dies
#: mid-task is rescheduled by Dask itself and costs no attempt).
RETRIES = 2


class ProgressSink(Protocol):
    """What the scheduler calls while a watched sweep runs (:meth:`Scheduler.watch`)."""

    def start(self, total: int, skipped: int) -> None:
        """``total`` tasks in the sweep, ``skipped`` of them already done."""

    def update(self, tasks: int, steps: int) -> None:
        """``tasks`` more tasks finished, having done ``steps`` particle-steps."""

    def close(self) -> None:
        """The sweep ended (finished, cancelled or failed)."""


class NullProgress:
    """A sink that reports nothing."""

    def start(self, total: int, skipped: int) -> None:  # noqa: D102
        pass

    def update(self, tasks: int, steps: int) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


def task_key(sweep_id: str, point: int, task: int, attempt: int = 0) -> str:
    """Deterministic cluster key of one attempt at task ``(point, task)`` of a sweep.

    ``sweep_id`` may be the sweep id or its spec hash (the id is the hash's first 16 digits).
    A retry gets its own key, so that it never meets the failed attempt's result.
    """
    key = f"pw-{sweep_id[:12]}-{point}-{task}"
    return key if attempt == 0 else f"{key}-retry{attempt}"


@dataclass
class SweepRun:
    """In-memory state of a running sweep."""

    id: str
    spec: dict[str, Any]
    total: int
    done: int
    pending: deque[tuple[int, int]]
    in_flight: dict[Any, tuple[int, int]] = field(default_factory=dict)
    attempts: dict[tuple[int, int], int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    done_here: int = 0
    steps_here: float = 0.0
    steps_before: float = 0.0
    last_saved: float = 0.0

    def progress(self) -> dict[str, Any]:
        """Counters: tasks done/total, particle-steps/s and ETA (s) from this session's rate."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.steps_here / elapsed if self.done_here else None
        remaining = self.total - self.done
        eta = (elapsed / self.done_here) * remaining if self.done_here else None
        return {
            "tasks_done": self.done,
            "tasks_total": self.total,
            "steps_done": self.steps_before + self.steps_here,
            "steps_per_second": rate,
            "eta_seconds": eta,
        }


class Scheduler:
    """Feeds tasks of the registry's active sweeps to a :class:`TaskRunner`.

    ``max_in_flight`` tasks are submitted at once (default: twice the runner's workers), shared
    by at most ``max_running`` sweeps. Use :meth:`start` for a background thread, or
    :meth:`step` / :meth:`run_until_idle` to drive it from the calling thread.
    """

    def __init__(
        self,
        registry: Registry,
        backend: SweepBackend,
        runner: TaskRunner,
        *,
        max_in_flight: int | None = None,
        max_running: int = 4,
        poll: float = 0.2,
    ) -> None:
        self.registry = registry
        self.backend = backend
        self.runner = runner
        self.max_in_flight = max_in_flight or 2 * runner.workers()
        self.max_running = max_running
        self.poll = poll
        self.runs: dict[str, SweepRun] = {}
        self._order: deque[str] = deque()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cancel: set[str] = set()
        self._thread: threading.Thread | None = None
        self._sinks: dict[str, ProgressSink] = {}
        self.tasks_completed = 0
        self.tasks_retried = 0
        self.tasks_failed = 0
        self.sweeps_failed = 0
        self._completions: deque[float] = deque(maxlen=10_000)
        # sweeps failed (disk full) whose state the registry could not take yet: id -> error
        self._unrecorded: dict[str, str] = {}
        # stopped sweeps whose cancelled tasks may still be running: id -> (run, handles)
        self._draining: dict[str, tuple[SweepRun, set[Any]]] = {}
        #: Counts changes of what :meth:`progress` and :meth:`unrecorded_failure` answer, made
        #: after each change: status snapshots (:mod:`.status`) are valid while it stands still.
        self.changes = 0

    # ---- control -------------------------------------------------------------------------
    def start(self) -> None:
        """Run the loop in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="patchwalk-scheduler", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (in-flight tasks are left to finish or be dropped with the cluster)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Tell the loop that the registry changed (new sweep, cancellation)."""
        self._wake.set()

    def request_cancel(self, sweep_id: str) -> None:
        """Stop scheduling ``sweep_id`` and cancel its in-flight tasks (state set by caller)."""
        with self._lock:
            self._cancel.add(sweep_id)
        self._wake.set()

    def watch(self, sweep_id: str, sink: ProgressSink) -> None:
        """Report the progress of ``sweep_id`` to ``sink`` while it runs here."""
        with self._lock:
            self._sinks[sweep_id] = sink

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Step the loop in this thread until no sweep is active (for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self.step()
            if not busy and not self.registry.active():
                return
        raise TimeoutError(f"scheduler not idle after {timeout} s")

    # ---- queries ---------------------------------------------------------------------------
    def progress(self, sweep_id: str) -> dict[str, Any] | None:
        """Live counters of a running sweep, or None when it is not running here.

        Lock-free (a dict read and a few attributes), so that the status route never waits
        behind a turn of the loop that submits tasks or writes summaries.
        """
        run = self.runs.get(sweep_id)
        return None if run is None else run.progress()

    def unrecorded_failure(self, sweep_id: str) -> str | None:
        """The error of a sweep failed here whose state the registry could not store yet."""
        return self._unrecorded.get(sweep_id)

    def in_flight(self) -> int:
        """Tasks submitted and not yet finished."""
        with self._lock:
            return sum(len(r.in_flight) for r in self.runs.values())

    def tasks_per_second(self, window: float = 60.0) -> float:
        """Tasks finished per second over the last ``window`` seconds."""
        now = time.monotonic()
        with self._lock:
            n = sum(1 for t in self._completions if now - t <= window)
        return n / window

    # ---- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.step()
            except Exception:  # keep serving; the error is in the log
                _log.exception("scheduler step failed")
                busy = False
            if not busy:
                self._wake.wait(self.poll)
                self._wake.clear()

    def step(self) -> bool:
        """One turn: cancel, activate, submit, collect. True while work is in flight."""
        self._apply_cancellations()
        self._activate()
        self._fill()
        handles: list[Any] = []
        with self._lock:
            for run in self.runs.values():
                handles.extend(run.in_flight)
            working = bool(handles)
            for _, left in self._draining.values():  # cancelled tasks: not work, just waited on
                handles.extend(left)
        if not handles:
            return bool(self.runs)
        for handle in self.runner.wait_any(handles, timeout=self.poll):
            self._complete(handle)
        return working or bool(self.runs)

    def _apply_cancellations(self) -> None:
        with self._lock:
            ids, self._cancel = self._cancel, set()
            for sweep_id in ids:
                self._drop(sweep_id)

    def _activate(self) -> None:
        with self._lock:
            for sweep_id, error in list(self._unrecorded.items()):
                try:  # the disk has room again: record the failure now
                    self.registry.set_state(sweep_id, "failed", error=error,
                                            only_from=("running", "queued"))
                    del self._unrecorded[sweep_id]
                    self.changes += 1
                except Exception:
                    pass
            if len(self.runs) >= self.max_running:
                return
            for record in self.registry.active():
                if len(self.runs) >= self.max_running:
                    break
                if record.id in self.runs or record.id in self._unrecorded:
                    continue
                try:
                    opened = self.backend.open(record.id, record.spec)
                except Exception as exc:  # the spec or the store cannot be opened
                    self._fail(record.id, disk_full_message(exc) if is_disk_full(exc)
                               else f"cannot open the sweep's store: {exc}")
                    continue
                run = SweepRun(
                    id=record.id,
                    spec=record.spec,
                    total=opened.total,
                    done=opened.total - len(opened.pending),
                    pending=deque(opened.pending),
                    steps_before=opened.steps_done,
                )
                self.runs[record.id] = run
                self._order.append(record.id)
                if record.id in self._sinks:
                    self._sinks[record.id].start(run.total, run.done)
                self.registry.set_state(record.id, "running", only_from=("queued", "running"))
                self._save(run, force=True)

    def _fill(self) -> None:
        with self._lock:
            free = self.max_in_flight - sum(len(r.in_flight) for r in self.runs.values())
            while free > 0:
                gave = False
                for _ in range(len(self._order)):
                    if free <= 0:
                        break
                    sweep_id = self._order[0]
                    self._order.rotate(-1)
                    run = self.runs[sweep_id]
                    if not run.pending:
                        continue
                    point, task = run.pending.popleft()
                    fn, args = self.backend.task(run.id, point, task)
                    attempt = run.attempts.get((point, task), 0)
                    key = task_key(run.id, point, task, attempt)
                    run.in_flight[self.runner.submit(fn, *args, key=key)] = (point, task)
                    free -= 1
                    gave = True
                if not gave:
                    break
            for run in list(self.runs.values()):
                if not run.pending and not run.in_flight and not self._extend(run):
                    self._finish(run)

    def _complete(self, handle: Any) -> None:
        with self._lock:
            for sweep_id, (stopped, left) in list(self._draining.items()):
                if handle in left:  # a task of a stopped sweep ended: count the store again
                    left.discard(handle)
                    try:
                        self.runner.result(handle)
                    except BaseException:  # cancelled, or it raised: nothing to report
                        pass
                    if not left:
                        del self._draining[sweep_id]
                        if sweep_id not in self.runs:  # not resumed meanwhile
                            self._recount(stopped)
                    return
            run = next((r for r in self.runs.values() if handle in r.in_flight), None)
            if run is None:
                return
            point, task = run.in_flight.pop(handle)
            try:
                out = self.runner.result(handle)
            except Exception as exc:
                if is_disk_full(exc):  # no retry loop: stop the sweep with the cause
                    self.tasks_failed += 1
                    self._fail(run.id, disk_full_message(exc))
                    return
                attempt = run.attempts.get((point, task), 0) + 1
                if attempt <= RETRIES:
                    _log.warning("sweep %s: task (%d, %d) raised %r; retry %d of %d",
                                 run.id, point, task, exc, attempt, RETRIES)
                    self.tasks_retried += 1
                    run.attempts[(point, task)] = attempt
                    run.pending.appendleft((point, task))
                    return
                self.tasks_failed += 1
                self._fail(
                    run.id, f"task (point {point}, task {task}) failed: {type(exc).__name__}: {exc}"
                )
                return
            self.tasks_completed += 1
            self._completions.append(time.monotonic())
            steps = float(out.get("steps", 0) or 0) if isinstance(out, dict) else 0.0
            run.done += 1
            run.done_here += 1
            run.steps_here += steps
            if run.id in self._sinks:
                self._sinks[run.id].update(1, int(steps))
            self._save(run)
            if not run.pending and not run.in_flight and not self._extend(run):
                self._finish(run)

    def _extend(self, run: SweepRun) -> bool:
        """Ask the store for more tasks once every task given so far is done.

        A point run to a tolerance (``particles.target_rel_err``) gets its next batch of
        realisations only here, after the whole previous batch finished, so which tasks run is
        a function of the spec alone. True when tasks were added.
        """
        try:
            opened = self.backend.open(run.id, run.spec)
        except Exception as exc:
            self._fail(run.id, f"cannot reopen the sweep's store: {exc}")
            return True
        if not opened.pending:
            return False
        run.pending.extend(opened.pending)
        run.total = opened.total
        run.done = opened.total - len(opened.pending)
        if run.id in self._sinks:
            self._sinks[run.id].start(run.total, run.done)
        self._save(run, force=True)
        return True

    def _finish(self, run: SweepRun) -> None:
        self.runs.pop(run.id, None)
        if run.id in self._order:
            self._order.remove(run.id)
        self._save(run, force=True)
        self._close_sink(run.id)
        try:
            self.backend.finalize(run.id, run.spec)
        except Exception as exc:
            self._fail(run.id, disk_full_message(exc) if is_disk_full(exc) else
                       f"writing the summaries failed: {type(exc).__name__}: {exc}")
            return
        self.registry.set_state(run.id, "done", only_from=("running", "queued"))

    def _fail(self, sweep_id: str, error: str) -> None:
        _log.error("sweep %s failed: %s", sweep_id, error)
        self.sweeps_failed += 1
        self._drop(sweep_id)
        try:
            self.registry.set_state(sweep_id, "failed", error=error,
                                    only_from=("running", "queued"))
        except Exception as exc:  # e.g. the disk is full: hold it here, record it later
            _log.error("sweep %s: cannot record its failure (%s); holding it", sweep_id, exc)
            self._unrecorded[sweep_id] = error
            self.changes += 1

    def _drop(self, sweep_id: str) -> None:
        """Stop scheduling a sweep: cancel its in-flight tasks and save its progress."""
        run = self.runs.pop(sweep_id, None)
        if sweep_id in self._order:
            self._order.remove(sweep_id)
        if run is not None:
            self.runner.cancel(list(run.in_flight))
            if run.in_flight:  # recount once the cancelled tasks have ended
                self._draining[sweep_id] = (run, set(run.in_flight))
            self._recount(run)
        self._close_sink(sweep_id)

    def _recount(self, run: SweepRun) -> None:
        """Save a stopped sweep's progress with the finished tasks its store holds."""
        count = getattr(self.backend, "count_done", None)
        if count is not None:  # status counts what is in the store, not what we saw
            try:
                run.done = int(count(run.id))
            except Exception:
                _log.warning("sweep %s: cannot count its finished tasks", run.id)
        try:
            self._save(run, force=True)
        except Exception:
            _log.warning("sweep %s: cannot save its progress", run.id)

    def _close_sink(self, sweep_id: str) -> None:
        sink = self._sinks.pop(sweep_id, None)
        if sink is not None:
            sink.close()

    def _save(self, run: SweepRun, force: bool = False) -> None:
        self.changes += 1  # called after every change of a run's counters, and of self.runs
        now = time.monotonic()
        if not force and now - run.last_saved < 0.5:
            return
        run.last_saved = now
        self.registry.update_progress(run.id, **run.progress())
