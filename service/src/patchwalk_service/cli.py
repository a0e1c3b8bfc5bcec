"""The service's commands ``patchwalk run``, ``show`` and ``serve`` (registered through the
``patchwalk.commands`` entry point; ``register`` adds one sub-command per function).

``patchwalk run SPEC [--out STORE] [--workers N | --scheduler ADDR] [--json]`` runs a sweep on
an embedded LocalCluster (or an existing scheduler) into a zarr store — a temporary one
without ``--out`` — resuming a store of the same spec, and prints κ̄(t) per point. It is the
service's scheduler running one sweep in this process (:mod:`patchwalk_service.engine`), with
the service's settings: an option overrides ``PATCHWALK_<OPTION>``, which overrides the default.
``patchwalk show STORE`` prints what a store holds. Both print κ̄(t), and in 2D κ̄_2D, and the
escape statistics when the spec has escape distances; ``--what kappa|kappa2d|escape|theory``
picks one, ``--json``/``--csv`` its machine-readable form (:mod:`patchwalk_client.render`).
``patchwalk serve`` runs the REST service under uvicorn.
Exit status: 0 done, 1 incomplete/cancelled/failed, 2 bad input or an unreachable scheduler
(nothing written).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from patchwalk_client.remote_cli import add_result_options

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.errors import SpecError
    from patchwalk_client.models import SweepResults

    from .settings import ServiceSettings


def register(subparsers: Any) -> None:
    """Add ``run``, ``show``, ``serve``, ``verify``, ``cluster`` and ``gallery`` to the
    ``patchwalk`` parser."""
    from .gallery import register_gallery
    from .verify_cli import register_verify

    register_run(subparsers)
    register_show(subparsers)
    register_serve(subparsers)
    from patchwalk_service.cluster_cmd import register_cluster

    register_cluster(subparsers)
    register_gallery(subparsers)
    register_verify(subparsers)


def add_cluster_arguments(p: argparse.ArgumentParser) -> None:
    """``--cluster``, ``--interface``, ``--dashboard``, ``--min-jobs``, ``--max-jobs``."""
    p.add_argument("--cluster", default=None, metavar="local|slurm|pbs|ADDRESS",
                   help="where tasks run (default $PATCHWALK_CLUSTER or local); slurm/pbs "
                        "build a dask-jobqueue cluster from Dask's jobqueue.yaml")
    p.add_argument("--interface", default=None, metavar="IFACE",
                   help="network interface the scheduler binds (e.g. lo, ib0)")
    p.add_argument("--dashboard", default=None, metavar="ADDR",
                   help="serve the Dask dashboard at ADDR (default: none)")
    p.add_argument("--min-jobs", type=int, default=None, help="batch jobs kept when idle")
    p.add_argument("--max-jobs", type=int, default=None, help="batch jobs at most")


def register_run(subparsers: Any) -> None:
    """Add ``patchwalk run``."""
    p = subparsers.add_parser(
        "run", help="run a sweep locally, on a batch cluster or on a Dask scheduler",
        description="Run (or resume) a parameter sweep into a zarr store. Defaults come from "
                    "PATCHWALK_* environment variables (PATCHWALK_CLUSTER, PATCHWALK_WORKERS, "
                    "PATCHWALK_SCHEDULER, PATCHWALK_MAX_IN_FLIGHT, PATCHWALK_MAX_CPU_HOURS); an "
                    "option overrides them.")
    p.add_argument("spec", help="sweep spec file (.toml, .json, .yaml)")
    p.add_argument("--out", metavar="STORE", default=None,
                   help="zarr store to write (resumed if it holds the same spec); "
                        "default: a temporary store, removed afterwards")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the embedded cluster (default: one per core)")
    g.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    add_result_options(p, default_what=None)
    add_cluster_arguments(p)
    p.add_argument("--max-in-flight", type=int, default=None, metavar="K",
                   help="tasks submitted at once (default: 2 x workers)")
    p.add_argument("--max-cpu-hours", type=float, default=None, metavar="H",
                   help="compute budget: estimated CPU-hours per sweep (default 100)")
    p.add_argument("--dry-run", action="store_true",
                   help="print tasks, estimated particle-steps and wall time; run nothing")
    p.add_argument("--timings", action="store_true",
                   help="print the seconds each phase took (start-up, validation, store, "
                        "cluster, tasks, shut-down) to stderr")
    p.set_defaults(func=cmd_run)


def register_show(subparsers: Any) -> None:
    """Add ``patchwalk show``."""
    p = subparsers.add_parser("show", help="print the results held by a sweep store",
                              description="Print the state and results of a sweep store.")
    p.add_argument("store", help="zarr store written by `patchwalk run --out`")
    add_result_options(p, default_what=None)
    p.set_defaults(func=cmd_show)


class TqdmProgress:
    """A tqdm bar over tasks with the particle-step rate as a postfix; tqdm gives the ETA."""

    def __init__(self, file: TextIO | None = None, desc: str = "patchwalk") -> None:
        self._file = file if file is not None else sys.stderr
        self._desc = desc
        self._bar: Any = None
        self._steps = 0
        self._t0 = 0.0

    def start(self, total: int, skipped: int) -> None:
        from tqdm import tqdm

        self._t0 = time.perf_counter()
        self._bar = tqdm(total=total, initial=skipped, desc=self._desc, unit="task",
                         file=self._file, dynamic_ncols=True, smoothing=0.1)

    def update(self, tasks: int, steps: int) -> None:
        if self._bar is None:
            return
        self._steps += steps
        dt = max(time.perf_counter() - self._t0, 1e-9)
        self._bar.set_postfix_str(f"{self._steps / dt:.3g} particle-steps/s", refresh=False)
        self._bar.update(tasks)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(enabled: bool | None = None) -> TqdmProgress | None:
    """A tqdm bar if ``enabled`` (default: stdout is a terminal), else None (nothing shown), so
    piped output (``--json``, CI logs) stays clean."""
    if enabled is None:
        enabled = sys.stdout.isatty()
    return TqdmProgress() if enabled else None


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _format_errors(exc: SpecError) -> str:
    return "\n".join(f"  {e['loc']}: {e['msg']}" for e in exc.errors) or f"  {exc}"


def _print_results(results: SweepResults, args: argparse.Namespace) -> int:
    """Print what ``--what``/``--json``/``--csv`` ask for; 2 if the sweep has no such result."""
    from patchwalk_client.render import render

    fmt = "json" if args.json else "csv" if args.csv else "table"
    if results.escape_stop:
        if args.what not in (None, "escape"):
            _err(f"patchwalk {args.command}: the sweep stops each particle at its escape "
                 f"(escape.stop = true), so {args.what} is not served (the particles still "
                 "walking at a time are a biased sample); use --what escape, or run the spec "
                 "without escape.stop for kappa")
            return 2
        print(render("escape", results.escape, fmt))
        return 0
    whats = [args.what] if args.what else ["kappa"]
    if args.what is None and fmt == "table":
        if results.dimensions == 2:
            whats.append("kappa2d")
        if any(p.fraction is not None for p in results.escape):
            whats.append("escape")
    if "kappa2d" in whats and results.dimensions != 2:
        _err(f"patchwalk {args.command}: the sweep is one-dimensional; kappa_2D exists for "
             "dimensions = 2 only (use --what kappa)")
        return 2
    blocks = [render(w, getattr(results, w), fmt) for w in whats]
    print("\n\n".join(blocks))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``patchwalk run``.

    A store that already holds this spec's results answers from its ``results.json`` before
    anything heavy is imported (no settings, zarr, numba, Dask, pilots or cluster); otherwise
    the sweep is validated and costed, and the cluster starts only when tasks are left.
    """
    from .startup import Phases

    args.phases = Phases(bool(getattr(args, "timings", False)))
    try:
        return _cmd_run(args)
    finally:
        args.phases.report()


def _cmd_run(args: argparse.Namespace) -> int:
    from patchwalk_client.errors import SpecError
    from patchwalk_client.spec import load_spec, spec_hash

    from .preflight import spec_file_problem, workers_problem

    if why := workers_problem(args.workers):
        _err(f"patchwalk run: {why}")
        return 2
    problem = spec_file_problem(args.spec)
    if problem:
        _err(f"patchwalk run: {problem}")
        return 2
    try:
        spec = load_spec(Path(args.spec))  # the command line reads the file its user names
    except SpecError as exc:
        _err(f"patchwalk run: invalid spec {args.spec}:\n{_format_errors(exc)}")
        return 2
    except OSError as exc:
        _err(f"patchwalk run: cannot read {args.spec}: {exc}")
        return 2
    if args.what == "kappa2d" and spec.dimensions != 2:
        _err("patchwalk run: the spec is one-dimensional; kappa_2D exists for dimensions = 2 "
             "only (use --what kappa)")
        return 2
    if spec.escape.stop and args.what not in (None, "escape"):
        _err(f"patchwalk run: the spec sets escape.stop = true (each particle stops at its "
             f"escape), so {args.what} would not be served; use --what escape, or remove "
             "escape.stop for kappa")
        return 2
    args.phases.mark("spec")
    if args.out is not None and not args.dry_run:
        finished = finished_results(args.out, spec_hash(spec))
        if finished is not None:  # nothing to run: no cluster, no kernels, no pilots
            _err(f"{args.out} is complete: nothing to run")
            return _print_results(finished[1], args)
    return _run_or_plan(args, spec)


def _run_or_plan(args: argparse.Namespace, spec: Any) -> int:
    """``patchwalk run`` of a spec with work left (or ``--dry-run``)."""
    from patchwalk_client.errors import SpecError

    from .engine import plan_sweep
    from .preflight import scheduler_problem
    from .settings import SettingsError, settings_from_args

    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        _err(f"patchwalk run: {exc}")
        return 2
    if settings.scheduler and (why := scheduler_problem(settings.scheduler)):
        _err(f"patchwalk run: {why}")
        return 2
    if args.dry_run:
        return _dry_run(spec, settings, args.json)
    tmp = None
    out = args.out
    if out is None:
        tmp = tempfile.mkdtemp(prefix="patchwalk-")
        out = str(Path(tmp) / "sweep.zarr")
    try:
        try:  # pilots only when the budget could refuse the sweep
            backend, plan = plan_sweep(spec, out, max_cpu_hours=settings.max_cpu_hours,
                                       estimate=None)
        except SpecError as exc:
            _err(f"patchwalk run: {exc.title}:\n{_format_errors(exc)}")
            return 2
        args.phases.mark("validate and budget")
        return _run(args, settings, backend, plan, out)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def finished_results(store: str | Path, spec_hash: str | None = None
                     ) -> tuple[dict[str, Any], SweepResults] | None:
    """The root attributes and results of a finalised store (of ``spec_hash`` if given), read
    as plain JSON — no zarr, numba or Dask imported — or None when it is not one."""
    from patchwalk_client.models import SweepResults

    path = Path(store)
    try:
        attrs = json.loads((path / "zarr.json").read_text(encoding="utf-8"))["attributes"]
        if not isinstance(attrs, dict) or not attrs.get("summaries"):
            return None
        if attrs.get("patchwalk") != "patchwalk-sweep/1":
            return None
        if spec_hash is not None and attrs.get("spec_hash") != spec_hash:
            return None
        text = (path / "results.json").read_text(encoding="utf-8")
        return attrs, SweepResults.model_validate_json(text)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _dry_run(spec: Any, settings: ServiceSettings, as_json: bool) -> int:
    """``patchwalk run --dry-run``: the plan and its cost on this cluster; nothing written."""
    from patchwalk_client.errors import SpecError

    from .backend import StoreBackend

    try:
        plan = StoreBackend(Path(tempfile.gettempdir())).plan(spec.model_dump(mode="json"))
    except SpecError as exc:
        _err(f"patchwalk run: invalid spec:\n{_format_errors(exc)}")
        return 2
    if plan.errors:
        _err("patchwalk run: the sweep cannot run:\n" + "\n".join(
            f"  {e['loc']}: {e['msg']}" for e in plan.errors))
        return 2
    workers = settings.workers
    info = plan.dry_run(workers)
    over = plan.over_budget(settings.max_cpu_hours)
    info["budget_cpu_hours"] = settings.max_cpu_hours
    info["accepted"] = over is None
    print(json.dumps(info) if as_json else (
        f"sweep {plan.name!r}: {plan.n_points} points, {plan.tasks_total} tasks "
        f"({', '.join(sorted(plan.kernels))})\n"
        f"estimated {plan.estimated_steps:.3g} particle-steps, "
        f"{plan.estimated_cpu_hours:.3g} CPU-hours, about {_hms(plan.wall_seconds(workers))} "
        f"on {workers} workers (budget {settings.max_cpu_hours:g} CPU-hours)"))
    if over:
        _err(f"patchwalk run: {over}")
        return 2
    return 0


def _hms(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def _run(args: argparse.Namespace, settings: ServiceSettings, backend: Any, plan: Any,
         out: str) -> int:
    """Make or open the store and run what is left; the cluster starts only when tasks are
    left, and, for a new store, while the store is made."""
    from patchwalk_worker.results import read_results
    from patchwalk_worker.store import StoreError, SweepStore

    from .cluster import default_in_flight
    from .engine import max_tasks_total, open_prepared, run_prepared
    from .registry import sweep_id_for
    from .startup import Starting, local_workers

    phases = args.phases
    most = max_tasks_total(plan)
    starting = None
    if not (Path(out) / "zarr.json").exists():  # a new store: every task is left
        starting = Starting(local_workers(settings, most), plan.kernels)
    try:
        prepared = open_prepared(backend, plan)
    except BaseException as exc:  # the sweep will not run: close what was started
        if starting is not None:
            starting.discard()
        if not isinstance(exc, StoreError):
            raise
        _err(f"patchwalk run: {exc}")
        return 2
    phases.mark("store")
    if prepared.skipped == plan.tasks_total and starting is None:  # nothing left: no cluster
        backend.finalize(sweep_id_for(plan.spec_hash), plan.spec)
        _err(f"skipped {prepared.skipped} finished tasks")
        phases.mark("summaries")
        return _print_results(read_results(out), args)
    if starting is None:
        starting = Starting(local_workers(settings, most - prepared.skipped), plan.kernels)
    try:
        session = starting.result()
    except ValueError as exc:
        _err(f"patchwalk run: {exc}")
        return 2
    except (OSError, TimeoutError) as exc:
        where = settings.scheduler or (
            settings.cluster if settings.cluster != "local" else "the embedded cluster")
        _err(f"patchwalk run: cannot start or reach {where}: {exc}; check --cluster, "
             "--scheduler or --workers")
        return 2
    phases.mark("cluster start and kernel warm-up (beyond the store)")
    try:
        report = run_prepared(prepared, session.client,
                              max_in_flight=default_in_flight(settings, session),
                              progress=make_progress())
        phases.mark("tasks and summaries")
    finally:
        session.close()
        phases.mark("cluster shut-down")
        args.exit_now = True  # nothing of this process is left to tear down (console_main)
    if report.skipped:
        _err(f"skipped {report.skipped} finished tasks")
    if args.out is not None:
        _err(f"results in {out} ({report.computed} tasks computed, "
             f"{report.steps:.3g} particle-steps in {report.seconds:.1f} s)")
    if report.error:
        _err(f"patchwalk run: the sweep failed: {report.error}")
        return 1
    store = SweepStore.open(out)
    if not store.complete():
        _err(f"patchwalk run: {store.done_count()} of {store.total()} tasks done; "
             "rerun the same command to finish")
        return 1
    rc = _print_results(read_results(out), args)
    phases.mark("results")
    return rc


def cmd_show(args: argparse.Namespace) -> int:
    """``patchwalk show``: a finished store is read as plain JSON (its root attributes and
    ``results.json``); an unfinished one through the store (zarr), with partial results."""
    finished = finished_results(args.store)
    if finished is not None:
        attrs, results = finished
        if not (args.json or args.csv):
            total = (sum(p.n_tasks for p in results.kappa) if results.kappa
                     else sum(int(n) for n in attrs.get("n_tasks", [])))
            name = attrs.get("spec", {}).get("name", "")
            print(f"{args.store}: sweep {name!r}, spec hash {str(attrs['spec_hash'])[:12]}, "
                  f"{len(results.escape)} points, {total} of {total} tasks done")
        return _print_results(results, args)
    return _show_store(args)


def _show_store(args: argparse.Namespace) -> int:
    from patchwalk_worker.results import ResultsError, read_results
    from patchwalk_worker.store import StoreError, SweepStore

    try:
        store = SweepStore.open(args.store)
    except (StoreError, OSError) as exc:
        _err(f"patchwalk show: {exc}")
        return 2
    done, total = store.done_count(), store.total()
    if not (args.json or args.csv):
        print(f"{args.store}: sweep {store.spec.name!r}, spec hash {store.spec_hash[:12]}, "
              f"{len(store.points)} points, {done} of {total} tasks done")
    if done < total:
        if done:
            from patchwalk_worker.partial import partial_results

            rc = _print_results(partial_results(store).results, args)
            if rc:
                return rc
        _err(f"patchwalk show: the sweep is incomplete ({done} of {total} tasks"
             + ("; partial results of the finished ones above" if done else "")
             + "); finish it with `patchwalk run SPEC --out STORE`")
        return 1
    try:
        results = read_results(args.store)
    except ResultsError as exc:
        _err(f"patchwalk show: {exc}")
        return 1
    return _print_results(results, args)


def register_serve(subparsers: Any) -> None:
    """Add ``serve`` to the ``patchwalk`` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the REST service (embedded Dask LocalCluster unless --scheduler)",
        description=(
            "Run the patchwalk REST service. Defaults come from PATCHWALK_* environment "
            "variables (PATCHWALK_TOKENS: comma-separated bearer tokens). Without tokens the "
            "service only binds a loopback address unless --insecure is given."
        ),
    )
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="registry.db and stores/ live here (default ./patchwalk-data)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the embedded LocalCluster (default: one per core)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="address of an existing Dask scheduler instead of a LocalCluster",
    )
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="tasks on the cluster at once (default: 2 x workers)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without tokens",
    )
    p.add_argument("--log-level", default="info", help="uvicorn log level")
    add_cluster_arguments(p)
    p.set_defaults(func=serve_command)


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (None when it can): checked before anything
    starts, so that a busy port costs no cluster start-up."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return str(exc)
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def serve_command(args: argparse.Namespace) -> int:
    """Run the service until interrupted; every check (options, bind, scheduler, port) comes
    before the web stack, the registry or the cluster is loaded."""
    from .auth import check_bind
    from .preflight import scheduler_problem, workers_problem
    from .settings import SettingsError, settings_from_args

    if why := workers_problem(args.workers):
        print(f"patchwalk serve: {why}", file=sys.stderr)
        return 2
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        print(f"patchwalk serve: {exc}", file=sys.stderr)
        return 2
    check_bind(settings.host, settings.tokens, settings.insecure)
    if settings.scheduler and (why := scheduler_problem(settings.scheduler)):
        print(f"patchwalk serve: {why}", file=sys.stderr)
        return 2
    busy = port_in_use(settings.host, settings.port)
    if busy:  # before the cluster or the registry start
        print(f"patchwalk serve: cannot listen on {settings.host}:{settings.port} ({busy}); "
              "choose another --port (or PATCHWALK_PORT)", file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    return 0
