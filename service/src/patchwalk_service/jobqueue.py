"""dask-jobqueue clusters (SLURM, PBS) built from Dask's own configuration.

Everything a batch system needs — queue, account, cores, memory, walltime, job directives — is
read by dask-jobqueue from Dask's configuration (``~/.config/dask/jobqueue.yaml``,
``DASK_JOBQUEUE__SLURM__*``); patchwalk never copies those settings into its own. What it adds
is only what sweeps need:

- **walltime never kills a task silently**: each worker gets ``--lifetime`` shorter than the
  job's walltime, with ``--lifetime-stagger`` so a cluster's workers do not all leave at once
  (:func:`lifetime_for`). A worker that reaches its lifetime retires gracefully; its tasks in
  flight are rescheduled by Dask (not counted as a failure) and the scaling policy submits a
  replacement job;
- **node-local caches**: the job prologue puts ``NUMBA_CACHE_DIR`` and the worker's local
  directory on node-local storage (``$PATCHWALK_NODE_LOCAL``, default ``/tmp``), so kernels are
  compiled once per node rather than once per worker on a shared file system, and pins numba
  and BLAS to one thread per worker process;
- **TLS**: the jobs get this run's credential files (:mod:`patchwalk_service.security`);
- **where the scheduler listens**: ``interface`` (``lo`` in tests, ``ib0`` on clusters) from
  ``jobqueue.<kind>.scheduler-options.interface`` / ``jobqueue.<kind>.interface`` or patchwalk's
  override; no dashboard unless asked.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import dask

from .security import RunCredentials

#: The batch systems patchwalk builds clusters for, and their dask-jobqueue class names.
KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}

#: Exported in every job before the worker starts: one thread per worker process.
THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_WALLTIME = re.compile(r"^(?:(?P<d>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


def parse_walltime(text: str | int | float) -> float:
    """Seconds in a SLURM/PBS walltime.

    Accepts SLURM's ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS`` and
    PBS's ``HH:MM:SS``; a number is taken as minutes (SLURM's convention).

    Raises
    ------
    ValueError
        When the text is none of these (the message shows the accepted forms).
    """
    if isinstance(text, int | float):
        return float(text) * 60.0
    m = _WALLTIME.match(str(text).strip())
    if not m:
        raise ValueError(
            f"jobqueue walltime {text!r} is not a walltime: use HH:MM:SS (e.g. '02:00:00'), "
            "MM, MM:SS or D-HH:MM:SS"
        )
    days = int(m["d"] or 0)
    parts = [int(x) for x in (m["a"], m["b"], m["c"]) if x is not None]
    if m["d"] is not None:  # D-HH[:MM[:SS]]
        parts += [0] * (3 - len(parts))
        h, mi, s = parts
    elif len(parts) == 3:
        h, mi, s = parts
    elif len(parts) == 2:  # MM:SS
        h, mi, s = 0, parts[0], parts[1]
    else:  # MM
        h, mi, s = 0, parts[0], 0
    return float(((days * 24 + h) * 60 + mi) * 60 + s)


def lifetime_for(walltime_s: float) -> tuple[float, float]:
    """Worker ``(lifetime, stagger)`` in seconds for a job of ``walltime_s`` seconds.

    The worker leaves at ``lifetime ± stagger`` after it starts, which must come before the
    batch system kills the job at its walltime even though the worker starts some seconds after
    the job. The margin kept for start-up and a graceful exit is 10 % of the walltime, at least
    15 s and at most 10 min; the stagger is 5 % of it, between 3 s and 5 min. For a 1 h job:
    lifetime 51 min ± 3 min; for 1 min: 42 s ± 3 s.

    Raises
    ------
    ValueError
        When the walltime leaves no useful lifetime (under 45 s).
    """
    if walltime_s < 45:
        raise ValueError(
            f"jobqueue walltime of {walltime_s:.0f} s is too short for a worker: give at least "
            "'00:01:00' (patchwalk derives the worker --lifetime from it)"
        )
    margin = min(max(0.10 * walltime_s, 15.0), 600.0)
    stagger = min(max(0.05 * walltime_s, 3.0), 300.0)
    return walltime_s - margin - stagger, stagger


def prologue(kind: str) -> list[str]:
    """Shell lines run in each job before the worker: node-local caches, one thread each, and
    a worker HTTP server that answers /health only (no /metrics, no static files)."""
    job_id = "${SLURM_JOB_ID:-${PBS_JOBID:-$$}}"
    lines = [
        'PATCHWALK_NODE_DIR="${PATCHWALK_NODE_LOCAL:-/tmp}/patchwalk-${USER:-$(id -un)}"',
        f'export PATCHWALK_WORKER_DIR="$PATCHWALK_NODE_DIR/{kind}-{job_id}"',
        'export NUMBA_CACHE_DIR="$PATCHWALK_NODE_DIR/numba-cache"',
        'mkdir -p -m 700 "$PATCHWALK_WORKER_DIR" "$NUMBA_CACHE_DIR"',
    ]
    lines += [f"export {name}=1" for name in THREAD_ENV]
    lines.append("export DASK_DISTRIBUTED__WORKER__HTTP__ROUTES='[\"distributed.http.health\"]'")
    return lines


def _config(kind: str, key: str, default: Any = None) -> Any:
    return dask.config.get(f"jobqueue.{kind}.{key}", default=default)


def cluster_kwargs(
    kind: str,
    *,
    credentials: RunCredentials | None,
    interface: str | None = None,
    dashboard: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments patchwalk adds to ``SLURMCluster``/``PBSCluster``.

    Only what sweeps need (see the module docstring); anything the user's Dask configuration
    already sets for the same purpose wins (their own ``--lifetime``, ``local-directory``,
    scheduler ``interface`` or ``dashboard_address``), except ``interface``/``dashboard`` given
    to patchwalk explicitly.

    Raises
    ------
    ValueError
        For an unknown kind, or a walltime too short or unreadable.
    """
    if kind not in KINDS:
        raise ValueError(f"cluster kind {kind!r} is not a batch system: use one of {sorted(KINDS)}")
    extra = list(_config(kind, "worker-extra-args", []) or [])
    walltime = _config(kind, "walltime")
    if walltime is not None and not any(str(a).startswith("--lifetime") for a in extra):
        life, stagger = lifetime_for(parse_walltime(walltime))
        extra += ["--lifetime", f"{int(life)}s", "--lifetime-stagger", f"{int(stagger)}s"]
    options = dict(_config(kind, "scheduler-options", {}) or {})
    if interface:
        options["interface"] = interface
        options.pop("host", None)
    if dashboard is not None:
        options.update(dashboard=True, dashboard_address=dashboard)
    elif "dashboard_address" not in options:
        # no dashboard; Dask's HTTP server (/health only) takes a free loopback port
        options.update(dashboard=False, dashboard_address="127.0.0.1:0")
    kwargs: dict[str, Any] = {
        "worker_extra_args": extra,
        "job_script_prologue": list(_config(kind, "job-script-prologue", []) or [])
        + prologue(kind),
        "scheduler_options": options,
    }
    if _config(kind, "local-directory") is None:
        kwargs["local_directory"] = "$PATCHWALK_WORKER_DIR"
    if credentials is not None:
        kwargs["security"] = credentials.security
        kwargs["protocol"] = "tls://"
    return kwargs


def build_cluster(
    kind: str,
    *,
    credentials: RunCredentials | None,
    interface: str | None = None,
    dashboard: str | None = None,
) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` or ``PBSCluster`` (no jobs yet: the policy scales it).

    Raises
    ------
    ValueError
        If dask-jobqueue is missing, or its configuration lacks ``cores``/``memory``.
    """
    try:
        import dask_jobqueue
    except ImportError as exc:
        raise ValueError(
            f"--cluster {kind} needs dask-jobqueue: pip install 'patchwalk-service[hpc]'"
        ) from exc
    cls = getattr(dask_jobqueue, KINDS[kind])
    kwargs = cluster_kwargs(kind, credentials=credentials, interface=interface,
                            dashboard=dashboard)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        if "cores and memory" in str(exc):
            raise ValueError(
                f"--cluster {kind}: Dask's configuration gives no job size; set "
                f"jobqueue.{kind}.cores and jobqueue.{kind}.memory in ~/.config/dask/jobqueue.yaml "
                f"(see deploy/jobqueue.yaml) or DASK_JOBQUEUE__{kind.upper()}__CORES / __MEMORY"
            ) from exc
        raise


def cores_per_job(cluster: Any) -> int:
    """Worker threads one job brings (dask-jobqueue's ``cores``)."""
    job = cluster._dummy_job
    return max(1, int(job.worker_cores))


def job_script(cluster: Any) -> str:
    """The job script the cluster submits (for ``--dry-run`` and the static tests)."""
    return str(cluster.job_script())


def shell_words(script: str) -> list[str]:
    """The worker command line of a job script, split like the shell would."""
    last = [ln for ln in script.splitlines() if "distributed.cli.dask_worker" in ln]
    return shlex.split(last[-1]) if last else []
