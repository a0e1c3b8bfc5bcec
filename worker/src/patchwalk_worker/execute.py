"""Run one task of a sweep inside a (Dask) worker and write it to the sweep's store.

``execute_task(store_path, point, task)`` is the unit of work the engine submits. It is
idempotent — a task already marked done in the store is not recomputed — and writes only its
own chunks, ``done`` last, so a worker killed at any moment leaves the task absent, never
half-written. The store's spec and its expanded points are cached per process (keyed by the
store path and spec hash), so a worker opens and parses the spec once per sweep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwalk_worker.integrity import task_problem
from patchwalk_worker.store import SweepStore
from patchwalk_worker.task import TaskResult, run_task

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

#: A task runner: ``(resolved point spec, point, task) -> TaskResult``.
Runner = Callable[["SweepSpec", int, int], TaskResult]

#: Marker file in a store: its sweep is cancelled, tasks still in flight write nothing.
CANCEL_MARK = "cancelled"

_CACHE: dict[tuple[str, str], SweepStore] = {}
_LOCK = threading.Lock()


def mark_cancelled(store_path: str | Path) -> None:
    """Tell the tasks of the store's sweep still queued or running to write nothing."""
    folder = Path(store_path)
    if folder.is_dir():
        (folder / CANCEL_MARK).touch()


def clear_cancelled(store_path: str | Path) -> None:
    """Let the store's sweep run again (a resumed sweep)."""
    (Path(store_path) / CANCEL_MARK).unlink(missing_ok=True)


def is_cancelled(store_path: str | Path) -> bool:
    """Whether the store's sweep was cancelled (:func:`mark_cancelled`)."""
    return (Path(store_path) / CANCEL_MARK).exists()


def _open(store_path: str) -> SweepStore:
    """The store at ``store_path``, cached per process for as long as its spec is the same."""
    # the group's zarr.json names the spec hash: one small file read, not a zarr open
    meta = json.loads((Path(store_path) / "zarr.json").read_text())
    key = (store_path, str(meta.get("attributes", {}).get("spec_hash", "")))
    with _LOCK:
        store = _CACHE.get(key)
        if store is None:
            store = SweepStore.open(store_path, mode="r+")
            store.require_build("joined")  # a worker with other code must not write here
            _CACHE.clear()  # one sweep at a time per worker in practice; do not grow
            _CACHE[key] = store
            _ = store.points  # expand once
    return store


def execute_task(
    store_path: str, point: int, task: int, runner: Runner | None = None
) -> dict[str, Any]:
    """Compute task ``(point, task)`` of the sweep stored at ``store_path`` and write it.

    Parameters
    ----------
    store_path : str
        Path of the sweep's zarr store (created by the engine).
    point, task : int
        Which task.
    runner : callable, optional
        Replaces :func:`patchwalk_worker.task.run_task` (tests).

    Returns
    -------
    dict
        ``steps`` (particle-steps done), ``seconds`` (wall time of the computation, excluding
        store I/O), ``skipped`` (True if the task was already done and verifies, or its sweep
        was cancelled: then nothing is written).

    A task marked done whose chunks fail verification (:mod:`patchwalk_worker.integrity`) is
    computed again. A sweep cancelled while the task waited or ran (:func:`mark_cancelled`)
    gets nothing written: the store stops gaining tasks at the cancellation.
    """
    store = _open(str(store_path))
    if is_cancelled(store_path):
        return {"point": point, "task": task, "steps": 0, "seconds": 0.0, "skipped": True}
    if store.is_done(point, task) and task_problem(store, point, task) is None:
        return {"point": point, "task": task, "steps": 0, "seconds": 0.0, "skipped": True}
    spec = store.points[point].spec
    t0 = time.perf_counter()
    result = (runner or run_task)(spec, point, task)
    seconds = time.perf_counter() - t0
    if is_cancelled(store_path) or not (Path(store_path) / "zarr.json").exists():
        # cancelled (or purged) while computing: write nothing
        return {"point": point, "task": task, "steps": 0, "seconds": seconds, "skipped": True}
    store.write(point, task, result)
    return {
        "point": point,
        "task": task,
        "steps": int(result.steps),
        "seconds": seconds,
        "skipped": False,
    }
