"""Adaptive scaling of a batch cluster from the work queued, and what workers came and went.

:class:`QueuePolicy` asks for as many jobs as the tasks waiting on or running in the Dask
scheduler can use, between ``min_jobs`` and ``max_jobs``. It scales **up** at once, never
**down** while any task is queued or running — Dask's own ``adapt`` may release every worker
between two computations and strand a running sweep (dask-jobqueue #701) — and releases the jobs
above ``min_jobs`` only after the queue has been empty for ``idle_release`` seconds. Each tick
also re-asserts the target, which makes dask-jobqueue resubmit a job whose worker left (walltime
lifetime reached, ``scancel``, node failure): that is how lost jobs are replaced.

:class:`WorkerEvents` is a scheduler plugin counting, from the scheduler's ``remove-worker``
events, the workers lost (unexpected exits) and retired (graceful: lifetime or scale-down) and
the tasks that were running on them — the tasks Dask computes again elsewhere, by sweep — and
the results they held that the service had not collected yet (Dask runs those tasks again too,
but they find their chunks in the store and return at once). None of this counts as a task
failure: the service's scheduler only sees each task's final result.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

_log = logging.getLogger(__name__)


def task_sweep(key: Any) -> str | None:
    """The sweep in a task key ``pw-<sweep id[:12]>-<point>-<task>[-retry<n>]``
    (:func:`patchwalk_service.scheduler.task_key`): the first 12 digits of the sweep id."""
    text = key if isinstance(key, str) else str(key)
    if not text.startswith("pw-"):
        return None
    parts = text.split("-")
    return parts[1] if len(parts) >= 4 else None


class WorkerEvents(SchedulerPlugin):
    """Counts workers lost/retired and the tasks they were running (scheduler plugin)."""

    name = "patchwalk-worker-events"

    def __init__(self) -> None:
        self.workers_lost = 0
        self.workers_retired = 0
        self.tasks_recomputed = 0  # executing on a worker that left: computed again
        self.results_lost = 0  # finished but not yet collected: run again, found in the store
        self.recomputed_by_sweep: Counter[str] = Counter()
        self.workers_seen: set[str] = set()
        self.removals: list[dict[str, Any]] = []  # the last 20 removals, for the status

    def add_worker(self, scheduler: Any, worker: str) -> None:
        self.workers_seen.add(worker)

    def log_event(self, topic: str, msg: Any) -> None:
        if topic != "all" or not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        if msg.get("expected"):
            self.workers_retired += 1
        else:
            self.workers_lost += 1
        running = list(msg.get("processing-tasks", ()))
        held = list(msg.get("lost-computed-tasks", ()))
        self.removals.append({"worker": str(msg.get("worker", "")),
                              "expected": bool(msg.get("expected")),
                              "running": len(running), "results_lost": len(held),
                              "why": str(msg.get("stimulus_id", "")).rsplit("-", 1)[0]})
        del self.removals[:-20]
        self.results_lost += len(held)
        for key in running:
            self.tasks_recomputed += 1
            sweep = task_sweep(key)
            if sweep is not None:
                self.recomputed_by_sweep[sweep] += 1

    def snapshot(self) -> dict[str, Any]:
        """Counters as plain data."""
        return {
            "workers_started": len(self.workers_seen),
            "workers_lost": self.workers_lost,
            "workers_retired": self.workers_retired,
            "tasks_recomputed": self.tasks_recomputed,
            "results_lost": self.results_lost,
            "tasks_recomputed_by_sweep": dict(self.recomputed_by_sweep),
            "removals": list(self.removals),
        }


def scheduler_load(scheduler: Any) -> dict[str, int]:
    """Tasks running, queued and unrunnable, workers and threads of an in-process scheduler.

    Call it on the scheduler's event loop (it reads the scheduler's state).
    """
    running = sum(len(ws.processing) for ws in scheduler.workers.values())
    queued = len(scheduler.queued) + len(scheduler.unrunnable)
    return {
        "tasks_running": running,
        "tasks_queued": queued,
        "workers": len(scheduler.workers),
        "threads": int(scheduler.total_nthreads),
    }


class QueuePolicy:
    """Scales a dask-jobqueue cluster between ``min_jobs`` and ``max_jobs`` from its queue.

    Parameters
    ----------
    cluster : dask_jobqueue.JobQueueCluster
        With an in-process scheduler (dask-jobqueue's default).
    cores_per_job : int
        Tasks one job runs at once.
    min_jobs, max_jobs : int
        Bounds; ``min_jobs`` are kept even when idle.
    idle_release : float
        Seconds the queue must stay empty before jobs above ``min_jobs`` are released.
    interval : float
        Seconds between two decisions.
    """

    def __init__(
        self,
        cluster: Any,
        *,
        cores_per_job: int,
        min_jobs: int = 0,
        max_jobs: int = 4,
        idle_release: float = 60.0,
        interval: float = 2.0,
    ) -> None:
        if not 0 <= min_jobs <= max_jobs or max_jobs < 1:
            raise ValueError(
                f"need 0 <= min_jobs <= max_jobs and max_jobs >= 1, got min_jobs={min_jobs}, "
                f"max_jobs={max_jobs}: set --min-jobs/--max-jobs (PATCHWALK_MIN_JOBS/MAX_JOBS)"
            )
        self.cluster = cluster
        self.cores_per_job = max(1, cores_per_job)
        self.min_jobs = min_jobs
        self.max_jobs = max_jobs
        self.idle_release = idle_release
        self.interval = interval
        self.target = min_jobs
        self.idle_since: float | None = None
        self.job_ids: dict[str, set[str]] = {}
        self.releases = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: dict[str, Any] = {}

    # ---- the decision (pure; tested without a cluster) -----------------------------------------
    def decide(self, demand: int, now: float) -> int:
        """The job target for ``demand`` tasks queued or running at time ``now``."""
        wanted = min(self.max_jobs, max(self.min_jobs, math.ceil(demand / self.cores_per_job)))
        if demand > 0:
            self.idle_since = None
            self.target = max(self.target, wanted)  # never release while work is queued
        elif self.idle_since is None:
            self.idle_since = now
        elif now - self.idle_since >= self.idle_release and self.target > self.min_jobs:
            self.target = self.min_jobs
            self.releases += 1
        return self.target

    # ---- the loop ----------------------------------------------------------------------------
    async def tick(self) -> dict[str, Any]:
        """One decision on the cluster's event loop; returns the load it saw."""
        load = scheduler_load(self.cluster.scheduler)
        target = self.decide(load["tasks_running"] + load["tasks_queued"], time.monotonic())
        self.cluster.scale(jobs=target)  # also resubmits jobs whose worker left
        for name, job in list(self.cluster.workers.items()):
            job_id = getattr(job, "job_id", None)
            if job_id:
                self.job_ids.setdefault(str(name), set()).add(str(job_id))
        connected = {str(w.get("name")) for w in self.cluster.scheduler_info["workers"].values()}
        names = [str(n) for n in self.cluster.workers]
        running = sum(1 for n in names if any(c == n or c.startswith(f"{n}-") for c in connected))
        self.last = dict(load, jobs_target=target, jobs_running=running,
                         jobs_pending=max(0, len(names) - running))
        return self.last

    def start(self) -> None:
        """Decide every ``interval`` seconds in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="patchwalk-scaling",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        loop = self.cluster.loop.asyncio_loop
        while not self._stop.wait(self.interval):
            try:
                asyncio.run_coroutine_threadsafe(self.tick(), loop).result(timeout=30)
            except Exception:  # keep scaling; the cause is in the log
                _log.exception("scaling decision failed")

    def stop(self) -> None:
        """Stop deciding (the jobs are left to the cluster's close)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 30)
            self._thread = None

    def snapshot(self) -> dict[str, Any]:
        """Jobs submitted/replaced and the last load seen."""
        submitted = sum(len(ids) for ids in self.job_ids.values())
        replaced = sum(len(ids) - 1 for ids in self.job_ids.values())
        return dict(self.last, jobs_submitted=submitted, jobs_replaced=replaced,
                    min_jobs=self.min_jobs, max_jobs=self.max_jobs, releases=self.releases)
