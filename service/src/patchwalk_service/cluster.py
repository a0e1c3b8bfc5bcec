"""Dask clients for sweeps: an embedded LocalCluster, or an existing scheduler.

The embedded cluster has one worker *process* per core with one thread each, and numba (and
BLAS) limited to one thread per process: parallelism comes from tasks, never from threads,
so results cannot depend on thread scheduling. Each worker compiles — or, with ``cache=True``,
loads from ``NUMBA_CACHE_DIR`` — the kernels once, on a tiny medium, before the first task.
On a shared filesystem set ``NUMBA_CACHE_DIR`` to a directory every worker can write.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import dask
from distributed import Client

#: Environment of the embedded workers: one thread each for numba and BLAS.
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _tiny_spec(kernel: str, dimensions: int) -> dict[str, Any]:
    medium: dict[str, Any] = {"patches": [[1.0, 1.0], [1.0, 0.1]]}
    if dimensions == 2:
        medium.update(kappa_perp=0.1, l_perp=1.0)
    return {
        "name": "warm-up",
        "kernel": kernel,
        "dimensions": dimensions,
        "medium": medium,
        "particles": {"count": 4, "per_task": 4},
        "times": {"min": 0.01, "max": 0.05, "count": 2},
    }


def warm() -> list[str]:
    """Compile (or load from the numba cache) every kernel on a tiny medium.

    Returns the kernels warmed; a kernel that fails here is simply not warmed (the real task
    will report its error).
    """
    from patchwalk_client.spec import load_spec
    from patchwalk_worker.task import run_task

    warmed = []
    for kernel, dims in (("exact", 1), ("exact", 2), ("euler", 1), ("pitch", 1)):
        try:
            run_task(load_spec(_tiny_spec(kernel, dims)), 0, 0)
            warmed.append(f"{kernel}{dims}d")
        except Exception:  # noqa: BLE001 - warming is an optimisation only
            pass
    return warmed


def make_client(workers: int | None = None, scheduler: str | None = None) -> Client:
    """A Dask client for a sweep, with the kernels warmed on every worker.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the embedded LocalCluster (default: one per core).
    scheduler : str, optional
        Address of an existing scheduler (``tcp://host:8786``) instead of a LocalCluster.

    Raises
    ------
    ValueError
        If both are given, or ``workers < 1``.
    """
    if scheduler and workers:
        raise ValueError("give --workers N or --scheduler ADDRESS, not both")
    if scheduler:
        client = Client(scheduler, set_as_default=False)  # type: ignore[no-untyped-call]
    else:
        n = int(workers) if workers else (os.cpu_count() or 1)
        if n < 1:
            raise ValueError(f"--workers must be at least 1, got {n}")
        # The engine bounds the tasks in flight itself, so let the scheduler hand each worker
        # its next task before the current one ends (no idle round trip between tasks).
        with dask.config.set({"distributed.scheduler.worker-saturation": float("inf")}):
            client = Client(  # type: ignore[no-untyped-call]
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                env=dict(WORKER_ENV),
                set_as_default=False,
                security=True,  # tls:// with credentials made for this client (issue 8)
            )
    client.run(warm)
    return client
