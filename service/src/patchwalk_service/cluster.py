"""The Dask cluster a run or the service uses: ``--cluster local|slurm|pbs|ADDRESS``.

:func:`open_cluster` starts (or connects to) the cluster and returns a :class:`ClusterSession`
holding the client, this run's TLS credentials, the scaling policy of a batch cluster and the
worker-event counters; :meth:`ClusterSession.info` is what ``GET /v1/cluster`` and
``patchwalk cluster`` show. Every cluster patchwalk starts speaks ``tls://`` with credentials
made for this run (:mod:`patchwalk_service.security`), and has no dashboard unless
``--dashboard ADDR`` asks for one.

- ``local`` (default): an embedded ``LocalCluster``: one worker *process* per core with one
  thread each, numba and BLAS limited to one thread per process, so parallelism comes from
  tasks and results cannot depend on thread scheduling;
- ``slurm`` / ``pbs``: a dask-jobqueue cluster configured by Dask's ``jobqueue.yaml``
  (:mod:`patchwalk_service.jobqueue`), scaled by :class:`~patchwalk_service.scaling.QueuePolicy`;
- anything else is the address of a running scheduler (``tls://host:8786``); its credentials
  come from Dask's configuration (``distributed.comm.tls.*``).

Each worker compiles — or loads from ``NUMBA_CACHE_DIR`` — only the kernels a sweep uses,
once, on a tiny medium, before the first task (:func:`patchwalk_worker.kernels.registry.warm_up`).
Which cluster comes from :class:`~patchwalk_service.settings.ServiceSettings`; how the cluster
itself behaves comes from Dask's own configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import dask
from patchwalk_worker.kernels.registry import warm_up

from .jobqueue import KINDS, build_cluster, cores_per_job
from .priority import LowPriority
from .runners import DaskRunner
from .scaling import QueuePolicy, WorkerEvents, scheduler_load
from .security import RunCredentials
from .settings import ServiceSettings

_log = logging.getLogger(__name__)

#: Environment of the embedded workers: one thread each for numba and BLAS.
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

#: The scheduler's and the workers' HTTP servers only answer /health unless a dashboard is asked
#: for (the workers' default routes also serve /metrics and distributed's static files).
_HEALTH_ONLY = {"distributed.scheduler.http.routes": ["distributed.http.health"],
                "distributed.worker.http.routes": ["distributed.http.health"]}


class ClusterSession:
    """A client on a running cluster, with what patchwalk added around it."""

    def __init__(self, kind: str, client: Any, cluster: Any = None, *,
                 credentials: RunCredentials | None = None, policy: QueuePolicy | None = None,
                 events: WorkerEvents | None = None) -> None:
        self.kind = kind
        self.client = client
        self.cluster = cluster
        self.credentials = credentials
        self.policy = policy
        self.events = events

    @property
    def address(self) -> str:
        """The scheduler's address (``tls://...`` for every cluster patchwalk starts)."""
        return str(self.client.scheduler.address)

    def info(self) -> dict[str, Any]:
        """Kind, jobs pending/running, workers, cores, tasks in flight, jobs lost/replaced."""
        out: dict[str, Any] = {"kind": self.kind, "address": self.address}
        scheduler = getattr(self.cluster, "scheduler", None)
        if self.policy is not None and self.policy.last:
            out.update(self.policy.snapshot())
        elif scheduler is not None and hasattr(scheduler, "queued"):
            out.update(self.cluster.sync(_load, scheduler))
        else:
            workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
            out.update(workers=len(workers), threads=sum(w["nthreads"] for w in workers))
        if self.events is not None:
            out.update(self.events.snapshot())
        out["cores"] = out.pop("threads", 0)
        return out

    def __enter__(self) -> ClusterSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop scaling, close client and cluster (cancelling its jobs), remove the credentials."""
        if self.policy is not None:
            self.policy.stop()
        try:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            if self.credentials is not None:
                self.credentials.close()


async def _load(scheduler: Any) -> dict[str, int]:
    return scheduler_load(scheduler)


def _local(settings: ServiceSettings, credentials: RunCredentials, opts: dict[str, Any]) -> Any:
    from distributed import LocalCluster

    n = int(settings.workers)
    host = None if settings.interface else "127.0.0.1"  # else the interface decides
    return LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=n, threads_per_worker=1, processes=True, host=host,
        interface=settings.interface, protocol="tls://", security=credentials.security,
        dashboard_address=settings.dashboard, silence_logs=logging.ERROR,
        env=dict(WORKER_ENV), scheduler_kwargs=opts,
    )


def open_cluster(
    settings: ServiceSettings, kernels: Collection[str] | None = None
) -> ClusterSession:
    """Start or join the cluster ``settings.cluster`` names, with ``kernels`` warmed.

    ``kernels`` (None: every kernel of the registry) are compiled on each worker of the
    embedded cluster or of a scheduler address before the first task; batch workers warm when
    they start. Credential files of a batch cluster go under ``settings.data_dir/tls``.

    Raises
    ------
    ValueError
        A bad combination of options, or a batch cluster Dask's configuration cannot build.
    """
    from distributed import Client

    warm = sorted(kernels) if kernels is not None else None
    kind = settings.cluster or "local"
    if settings.scheduler and kind == "local":
        kind = settings.scheduler  # --scheduler ADDRESS is --cluster ADDRESS
    # The engine bounds the tasks in flight itself: on the embedded cluster hand each worker
    # its next task early (no idle round trip). Batch workers may leave (walltime, scancel):
    # there a task waits on the scheduler until a thread is free, so a worker that leaves takes
    # only the tasks it was executing with it, not a queue of assigned ones.
    saturation = float("inf") if kind == "local" else 1.0
    config: dict[str, Any] = {"distributed.scheduler.worker-saturation": saturation}
    if settings.dashboard is None:
        config.update(_HEALTH_ONLY)
    # without a dashboard the scheduler's remaining HTTP server (/health) takes a free port
    opts = ({"dashboard": False, "dashboard_address": "127.0.0.1:0"}
            if settings.dashboard is None else {})
    if kind not in ("local", *KINDS):
        client = Client(kind, set_as_default=False)  # type: ignore[no-untyped-call]
        client.run(warm_up, warm)
        return ClusterSession("address", client)
    events = WorkerEvents()
    if kind == "local":
        credentials = RunCredentials()
        with dask.config.set(config):
            cluster = _local(settings, credentials, opts)
        policy = None
    else:
        credentials = RunCredentials(Path(settings.data_dir) / "tls")
        try:
            with dask.config.set(config):
                cluster = build_cluster(kind, credentials=credentials,
                                        interface=settings.interface,
                                        dashboard=settings.dashboard)
        except BaseException:
            credentials.close()
            raise
        policy = QueuePolicy(cluster, cores_per_job=cores_per_job(cluster),
                             min_jobs=settings.min_jobs, max_jobs=settings.max_jobs,
                             idle_release=settings.idle_release,
                             interval=settings.scale_interval)
    cluster.scheduler.add_plugin(events)
    events.workers_seen.update(cluster.scheduler.workers)
    client = Client(cluster, security=credentials.security,  # type: ignore[no-untyped-call]
                    set_as_default=False)
    if kind == "local":  # the workers share this machine: the service answers first
        client.register_plugin(LowPriority())
    if policy is not None:
        policy.start()
    else:
        client.run(warm_up, warm)
    return ClusterSession(kind, client, cluster, credentials=credentials, policy=policy,
                          events=events)


def batch_in_flight(policy: QueuePolicy) -> int:
    """Tasks to keep on a batch cluster's scheduler: three per core of ``max_jobs`` jobs.

    Enough for the policy to see work for every job, and more than twice the cores, which makes
    Dask treat the tasks as root-ish and keep the surplus queued on the scheduler rather than
    assigned to workers (so a worker that leaves takes only the tasks it was executing).
    """
    return 3 * policy.max_jobs * policy.cores_per_job


def default_in_flight(settings: ServiceSettings, session: ClusterSession) -> int | None:
    """Tasks in flight: ``settings.max_in_flight``, else :func:`batch_in_flight` on a batch
    cluster, else None (the scheduler's default, twice the workers)."""
    if settings.max_in_flight is not None:
        return settings.max_in_flight
    if session.policy is not None:
        return batch_in_flight(session.policy)
    return None


def cluster_runner(settings: ServiceSettings) -> DaskRunner:
    """``create_app``'s runner factory: the cluster of ``settings``, every kernel warmed.

    On a batch cluster an unset ``max_in_flight`` is raised to :func:`batch_in_flight`: the
    policy scales from the tasks it sees, which the scheduler bounds.
    """
    session = open_cluster(settings)
    in_flight = default_in_flight(settings, session)
    if in_flight is not None and settings.max_in_flight is None:
        settings.max_in_flight = in_flight
    return DaskRunner(session.client, session=session)
