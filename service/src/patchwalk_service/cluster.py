"""The Dask client a sweep runs on: an embedded LocalCluster, or an existing scheduler.

The embedded cluster has one worker *process* per core with one thread each, and numba (and
BLAS) limited to one thread per process: parallelism comes from tasks, never from threads,
so results cannot depend on thread scheduling. Each worker compiles — or, with ``cache=True``,
loads from ``NUMBA_CACHE_DIR`` — the kernels a sweep uses once, on a tiny medium, before the
first task. On a shared filesystem set ``NUMBA_CACHE_DIR`` to a directory every worker can write.

Which cluster comes from :class:`~patchwalk_service.settings.ServiceSettings` (``scheduler``,
``workers``); how the cluster itself behaves comes from Dask's own configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import dask
from distributed import Client

from .settings import ServiceSettings

#: Environment of the embedded workers: one thread each for numba and BLAS.
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

#: Warm-up tasks: (kernel, dimensions) on a tiny medium.
_WARM_UP = (("exact", 1), ("exact", 2), ("euler", 1), ("pitch", 1))


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


def warm(kernels: Collection[str] | None = None) -> list[str]:
    """Compile (or load from the numba cache) ``kernels`` (None: all) on a tiny medium.

    Returns the kernels warmed; a kernel that fails here is simply not warmed (the real task
    will report its error).
    """
    from patchwalk_client.spec import validate_spec
    from patchwalk_worker.task import run_task

    warmed = []
    for kernel, dims in _WARM_UP:
        if kernels is not None and kernel not in kernels:
            continue
        try:
            run_task(validate_spec(_tiny_spec(kernel, dims)), 0, 0)
            warmed.append(f"{kernel}{dims}d")
        except Exception:  # noqa: BLE001 - warming is an optimisation only
            pass
    return warmed


def make_client(settings: ServiceSettings, kernels: Collection[str] | None = None) -> Client:
    """A Dask client on the configured cluster, with ``kernels`` warmed on every worker.

    Parameters
    ----------
    settings : ServiceSettings
        ``scheduler`` (address of an existing scheduler) or else ``workers`` (worker
        processes of an embedded LocalCluster).
    kernels : collection of str, optional
        Kernel names to compile before the first task (None: every kernel).
    """
    if settings.scheduler:
        client = Client(settings.scheduler, set_as_default=False)  # type: ignore[no-untyped-call]
    else:
        # The scheduler bounds the tasks in flight itself, so let Dask hand each worker its
        # next task before the current one ends (no idle round trip between tasks).
        with dask.config.set({"distributed.scheduler.worker-saturation": float("inf")}):
            client = Client(  # type: ignore[no-untyped-call]
                n_workers=settings.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                env=dict(WORKER_ENV),
                set_as_default=False,
            )
    client.run(warm, None if kernels is None else sorted(kernels))
    return client
