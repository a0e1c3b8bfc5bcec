"""The Dask client a sweep runs on: an embedded LocalCluster, or an existing scheduler.

The embedded cluster has one worker *process* per core with one thread each, and numba (and
BLAS) limited to one thread per process: parallelism comes from tasks, never from threads,
so results cannot depend on thread scheduling. Each worker compiles — or, with ``cache=True``,
loads from ``NUMBA_CACHE_DIR`` — the kernels a sweep uses once, on a tiny medium, before the
first task (:func:`patchwalk_worker.kernels.registry.warm_up`). On a shared filesystem set
``NUMBA_CACHE_DIR`` to a directory every worker can write.

Which cluster comes from :class:`~patchwalk_service.settings.ServiceSettings` (``scheduler``,
``workers``); how the cluster itself behaves comes from Dask's own configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import dask
from distributed import Client
from patchwalk_worker.kernels.registry import warm_up

from .settings import ServiceSettings

#: Environment of the embedded workers: one thread each for numba and BLAS.
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

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
                # no dashboard; the scheduler's small HTTP server (health, metrics) on a free
                # loopback port instead of 8787 ("Port 8787 is already in use" otherwise)
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
                env=dict(WORKER_ENV),
                set_as_default=False,
            )
    client.run(warm_up, None if kernels is None else sorted(kernels))
    return client
