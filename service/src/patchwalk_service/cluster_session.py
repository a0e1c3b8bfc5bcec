"""The Dask cluster a run or the service uses: ``--cluster local|slurm|pbs|ADDRESS``.

:func:`open_cluster` starts (or connects to) the cluster and returns a :class:`ClusterSession`
holding the client, this run's TLS credentials, the scaling policy of a batch cluster and the
worker-event counters; :meth:`ClusterSession.info` is what ``GET /v1/cluster`` and
``patchwalk cluster`` show. Every cluster patchwalk starts speaks ``tls://`` with credentials
made for this run, and has no dashboard unless ``--dashboard ADDR`` asks for one.

- ``local`` (default): an embedded ``LocalCluster`` (``--workers`` processes, one thread each);
- ``slurm`` / ``pbs``: a dask-jobqueue cluster configured by Dask's ``jobqueue.yaml``
  (:mod:`patchwalk_service.jobqueue`), scaled by :class:`~patchwalk_service.scaling.QueuePolicy`;
- anything else is the address of a running scheduler (``tls://host:8786``); its credentials
  come from Dask's configuration (``distributed.comm.tls.*``).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path
from typing import Any

import dask
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .jobqueue import KINDS, build_cluster, cores_per_job
from .runners import DaskRunner
from .scaling import QueuePolicy, WorkerEvents, scheduler_load
from .security import RunCredentials

_log = logging.getLogger(__name__)

#: The scheduler's HTTP server only answers /health unless a dashboard is asked for.
_HEALTH_ONLY = {"distributed.scheduler.http.routes": ["distributed.http.health"]}


class ClusterSettings(BaseSettings):
    """Where tasks run; each field is also ``PATCHWALK_<NAME>`` (shared by run and serve)."""

    model_config = SettingsConfigDict(env_prefix="PATCHWALK_", extra="ignore")

    cluster: str = Field(
        default="local",
        description="local (embedded LocalCluster), slurm, pbs, or a scheduler address",
    )
    interface: str | None = Field(
        default=None, description="network interface the scheduler binds (lo, ib0, ...)"
    )
    dashboard: str | None = Field(
        default=None, description="address of the Dask dashboard (e.g. 127.0.0.1:8787); none"
    )
    min_jobs: int = Field(default=0, ge=0, description="batch jobs kept when idle")
    max_jobs: int = Field(default=4, ge=1, description="batch jobs at most")
    idle_release: float = Field(
        default=60.0, ge=0, description="seconds of empty queue before jobs are released"
    )
    scale_interval: float = Field(default=2.0, gt=0, description="seconds between decisions")


def add_cluster_arguments(p: argparse.ArgumentParser) -> None:
    """``--cluster``, ``--interface``, ``--dashboard``, ``--min-jobs``, ``--max-jobs``."""
    p.add_argument("--cluster", default=None, metavar="local|slurm|pbs|ADDRESS",
                   help="where tasks run (default $PATCHWALK_CLUSTER or local); slurm/pbs "
                        "read Dask's jobqueue.yaml")
    p.add_argument("--interface", default=None, metavar="IFACE",
                   help="network interface the scheduler binds (e.g. lo, ib0)")
    p.add_argument("--dashboard", default=None, metavar="ADDR",
                   help="serve the Dask dashboard at ADDR (default: none)")
    p.add_argument("--min-jobs", type=int, default=None, help="batch jobs kept when idle")
    p.add_argument("--max-jobs", type=int, default=None, help="batch jobs at most")


def cluster_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The cluster options given on the command line, as settings fields."""
    names = ("cluster", "interface", "dashboard", "min_jobs", "max_jobs")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


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


def _local(settings: Any, credentials: RunCredentials, opts: dict[str, Any]) -> Any:
    from distributed import LocalCluster

    from .cluster import WORKER_ENV

    n = int(getattr(settings, "workers", 0) or os.cpu_count() or 1)
    host = None if settings.interface else "127.0.0.1"  # else the interface decides
    return LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=n, threads_per_worker=1, processes=True, host=host,
        interface=settings.interface, protocol="tls://", security=credentials.security,
        dashboard_address=settings.dashboard, silence_logs=logging.ERROR,
        env=dict(WORKER_ENV), scheduler_kwargs=opts,
    )


def open_cluster(settings: Any, *, data_dir: Path | None = None) -> ClusterSession:
    """Start or join the cluster ``settings.cluster`` names; kernels are warmed on workers.

    ``settings`` needs the :class:`ClusterSettings` fields (and ``workers``/``scheduler`` of
    the service settings, when present). Credential files of a batch cluster go under
    ``data_dir/tls`` (default ``./patchwalk-data``).

    Raises
    ------
    ValueError
        A bad combination of options, or a batch cluster Dask's configuration cannot build.
    """
    from distributed import Client

    from .cluster import warm

    kind = settings.cluster or "local"
    legacy = getattr(settings, "scheduler", None)
    if legacy and kind == "local":
        kind = legacy  # --scheduler ADDRESS is --cluster ADDRESS
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
        client.run(warm)
        return ClusterSession("address", client)
    events = WorkerEvents()
    if kind == "local":
        credentials = RunCredentials()
        with dask.config.set(config):
            cluster = _local(settings, credentials, opts)
        policy = None
    else:
        credentials = RunCredentials(Path(data_dir or "patchwalk-data") / "tls")
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
    if policy is not None:
        policy.start()
    else:
        client.run(warm)
    return ClusterSession(kind, client, cluster, credentials=credentials, policy=policy,
                          events=events)


class ClusterRunner(DaskRunner):
    """The service's task runner on a :class:`ClusterSession` (closes the whole session)."""

    def __init__(self, session: ClusterSession) -> None:
        super().__init__(session.client, close_client=False)
        self.session = session

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        """Finished handles, waiting up to ``timeout`` s for one (no exception on timeout).

        ``distributed.wait(..., timeout=)`` raises on timeout, and the traceback keeps the
        futures it was given alive for a while: their results then stay in worker memory,
        and a worker that leaves takes them along — Dask recomputes every one of them.
        """
        done = [h for h in handles if h.done()]
        if done or not handles:
            return done
        event = threading.Event()
        for h in handles:
            h.add_done_callback(lambda _f: event.set())
        event.wait(timeout)
        return [h for h in handles if h.done()]

    def close(self) -> None:
        self.session.close()


def batch_in_flight(policy: QueuePolicy) -> int:
    """Tasks to keep on a batch cluster's scheduler: three per core of ``max_jobs`` jobs.

    Enough for the policy to see work for every job, and more than twice the cores, which makes
    Dask treat the tasks as root-ish and keep the surplus queued on the scheduler rather than
    assigned to workers (so a worker that leaves takes only the tasks it was executing).
    """
    return 3 * policy.max_jobs * policy.cores_per_job


def cluster_runner(settings: Any) -> ClusterRunner:
    """``create_app``'s runner factory: the cluster of ``settings``.

    On a batch cluster an unset ``max_in_flight`` is raised to :func:`batch_in_flight`: the
    policy scales from the tasks it sees, which the scheduler bounds.
    """
    session = open_cluster(settings, data_dir=getattr(settings, "data_dir", None))
    policy = session.policy
    if policy is not None and "max_in_flight" not in settings.model_fields_set:
        settings.max_in_flight = max(settings.max_in_flight, batch_in_flight(policy))
    return ClusterRunner(session)


class _RunSettings(ClusterSettings):
    """``patchwalk run``'s cluster settings: the shared ones plus its own worker options."""

    workers: int | None = None
    scheduler: str | None = None
    data_dir: Path = Path("patchwalk-data")


def run_session(args: argparse.Namespace) -> tuple[ClusterSession, int | None]:
    """``patchwalk run``'s cluster and its tasks in flight (``--max-in-flight`` or a default).

    On a batch cluster the default is :func:`batch_in_flight`.
    """
    overrides = cluster_overrides(args)
    for name in ("workers", "scheduler"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if overrides.get("scheduler") and overrides.get("cluster") not in (None, "local"):
        raise ValueError("give --cluster or --scheduler, not both")
    settings = _RunSettings(**overrides)
    session = open_cluster(settings, data_dir=settings.data_dir)
    in_flight = getattr(args, "max_in_flight", None)
    if in_flight is None and session.policy is not None:
        in_flight = batch_in_flight(session.policy)
    return session, in_flight
