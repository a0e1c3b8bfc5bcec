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
``patchwalk serve`` runs the REST service under uvicorn. (``show`` lives in :mod:`.show_cmd`,
``serve`` in :mod:`.serve_cmd`, the progress bar in :mod:`.progress`.)
Exit status: 0 done, 1 incomplete/cancelled/failed, 2 bad input or an unreachable scheduler
(nothing written).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwalk_client.remote_cli import add_result_options

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.errors import SpecError
    from patchwalk_client.models import SweepResults

    from .settings import ServiceSettings


def register(subparsers: Any) -> None:
    """Add ``run``, ``show``, ``serve``, ``verify``, ``cluster`` and ``gallery`` to the
    ``patchwalk`` parser."""
    from .gallery import register_gallery
    from .serve_cmd import register_serve
    from .show_cmd import register_show
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


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _format_errors(exc: SpecError) -> str:
    return "\n".join(f"  {e['loc']}: {e['msg']}" for e in exc.errors) or f"  {exc}"


def print_results(results: SweepResults, args: argparse.Namespace) -> int:
    """Print what ``--what``/``--json``/``--csv`` ask for; 2 if the sweep has no such result."""
    from patchwalk_client.render import render

    fmt = "json" if args.json else "csv" if args.csv else "table"
    if results.escape_stop:
        if args.what not in (None, "escape"):
            err(f"patchwalk {args.command}: the sweep stops each particle at its escape "
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
        err(f"patchwalk {args.command}: the sweep is one-dimensional; kappa_2D exists for "
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
        err(f"patchwalk run: {why}")
        return 2
    problem = spec_file_problem(args.spec)
    if problem:
        err(f"patchwalk run: {problem}")
        return 2
    try:
        spec = load_spec(Path(args.spec))  # the command line reads the file its user names
    except SpecError as exc:
        err(f"patchwalk run: invalid spec {args.spec}:\n{_format_errors(exc)}")
        return 2
    except OSError as exc:
        err(f"patchwalk run: cannot read {args.spec}: {exc}")
        return 2
    if args.what == "kappa2d" and spec.dimensions != 2:
        err("patchwalk run: the spec is one-dimensional; kappa_2D exists for dimensions = 2 "
             "only (use --what kappa)")
        return 2
    if spec.escape.stop and args.what not in (None, "escape"):
        err(f"patchwalk run: the spec sets escape.stop = true (each particle stops at its "
             f"escape), so {args.what} would not be served; use --what escape, or remove "
             "escape.stop for kappa")
        return 2
    args.phases.mark("spec")
    if args.out is not None and not args.dry_run:
        finished = finished_results(args.out, spec_hash(spec))
        if finished is not None:  # nothing to run: no cluster, no kernels, no pilots
            err(f"{args.out} is complete: nothing to run")
            return print_results(finished[1], args)
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
        err(f"patchwalk run: {exc}")
        return 2
    if settings.scheduler and (why := scheduler_problem(settings.scheduler)):
        err(f"patchwalk run: {why}")
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
            err(f"patchwalk run: {exc.title}:\n{_format_errors(exc)}")
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
        err(f"patchwalk run: invalid spec:\n{_format_errors(exc)}")
        return 2
    if plan.errors:
        err("patchwalk run: the sweep cannot run:\n" + "\n".join(
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
        err(f"patchwalk run: {over}")
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
        err(f"patchwalk run: {exc}")
        return 2
    phases.mark("store")
    if prepared.skipped == plan.tasks_total and starting is None:  # nothing left: no cluster
        backend.finalize(sweep_id_for(plan.spec_hash), plan.spec)
        err(f"skipped {prepared.skipped} finished tasks")
        phases.mark("summaries")
        return print_results(read_results(out), args)
    if starting is None:
        starting = Starting(local_workers(settings, most - prepared.skipped), plan.kernels)
    try:
        session = starting.result()
    except ValueError as exc:
        err(f"patchwalk run: {exc}")
        return 2
    except (OSError, TimeoutError) as exc:
        where = settings.scheduler or (
            settings.cluster if settings.cluster != "local" else "the embedded cluster")
        err(f"patchwalk run: cannot start or reach {where}: {exc}; check --cluster, "
             "--scheduler or --workers")
        return 2
    phases.mark("cluster start and kernel warm-up (beyond the store)")
    from .progress import make_progress

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
        err(f"skipped {report.skipped} finished tasks")
    if args.out is not None:
        err(f"results in {out} ({report.computed} tasks computed, "
             f"{report.steps:.3g} particle-steps in {report.seconds:.1f} s)")
    if report.error:
        err(f"patchwalk run: the sweep failed: {report.error}")
        return 1
    store = SweepStore.open(out)
    if not store.complete():
        err(f"patchwalk run: {store.done_count()} of {store.total()} tasks done; "
             "rerun the same command to finish")
        return 1
    rc = print_results(read_results(out), args)
    phases.mark("results")
    return rc
