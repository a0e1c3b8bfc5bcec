"""``patchwalk run`` and ``patchwalk show`` (registered through the ``patchwalk.commands``
entry point; ``register`` adds one sub-command per function).

``patchwalk run SPEC [--out STORE] [--workers N | --scheduler ADDR] [--json]`` runs a sweep on
an embedded LocalCluster (or an existing scheduler) into a zarr store — a temporary one
without ``--out`` — resuming a store of the same spec, and prints κ̄(t) per point.
``patchwalk show STORE [--json]`` prints what a store holds.
Exit status: 0 done, 1 incomplete/cancelled, 2 bad input (nothing written).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the engine's commands to the ``patchwalk`` parser."""
    register_run(subparsers)
    register_show(subparsers)
    from patchwalk_service.serve import register_serve  # the REST service (issue 4)

    register_serve(subparsers)
    from patchwalk_service.cluster_cmd import register_cluster

    register_cluster(subparsers)


def register_run(subparsers: Any) -> None:
    """Add ``patchwalk run``."""
    from patchwalk_service.cluster_session import add_cluster_arguments

    p = subparsers.add_parser("run", help="run a sweep locally or on a Dask scheduler",
                              description="Run (or resume) a parameter sweep into a zarr store.")
    p.add_argument("spec", help="sweep spec file (.toml, .json, .yaml)")
    p.add_argument("--out", metavar="STORE", default=None,
                   help="zarr store to write (resumed if it holds the same spec); "
                        "default: a temporary store, removed afterwards")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the embedded cluster (default: one per core)")
    g.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--json", action="store_true", help='print {"points": [...]} as JSON')
    add_cluster_arguments(p)
    p.add_argument("--max-in-flight", type=int, default=None, metavar="K",
                   help="tasks submitted at once (default: 2 x workers)")
    p.set_defaults(func=cmd_run)


def register_show(subparsers: Any) -> None:
    """Add ``patchwalk show``."""
    p = subparsers.add_parser("show", help="print the results held by a sweep store",
                              description="Print the state and results of a sweep store.")
    p.add_argument("store", help="zarr store written by `patchwalk run --out`")
    p.add_argument("--json", action="store_true", help='print {"points": [...]} as JSON')
    p.set_defaults(func=cmd_show)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _format_errors(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return "\n".join(f"  {e.get('loc', '')}: {e.get('msg', '')}" for e in errors)
    return f"  {exc}"


def _dump(points: list[dict[str, Any]]) -> str:
    return json.dumps({"points": points}, allow_nan=False)


def _table(points: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for i, pt in enumerate(points):
        params = ", ".join(f"{k}={v}" for k, v in pt["params"].items()) or "(no sweep axes)"

        def f(x: Any) -> str:
            return "nan" if x is None else f"{x:.6g}"

        lines.append(f"point {i}: {params}")
        lines.append(
            f"  kappa_A = {f(pt['kappa_A'])} (ensemble {f(pt['kappa_A_ensemble'])}), "
            f"kappa_H = {f(pt['kappa_H'])} (ensemble {f(pt['kappa_H_ensemble'])}), "
            f"{pt['n_particles']} particles in {pt['n_tasks']} tasks"
            + (f", kappa_perp = {f(pt['kappa_perp'])}" if "kappa_perp" in pt else "")
        )
        lines.append(f"  {'t':>12}  {'kappa(t)':>12}  {'stderr':>10}   "
                     f"(error from {pt['kappa_err_source']})")
        for t, k, e in zip(pt["t"], pt["kappa"], pt["kappa_err"], strict=True):
            lines.append(f"  {f(t):>12}  {f(k):>12}  {f(e):>10}")
    return "\n".join(lines)


def _print_results(points: list[dict[str, Any]], as_json: bool) -> None:
    print(_dump(points) if as_json else _table(points))


def cmd_run(args: argparse.Namespace) -> int:
    """``patchwalk run``."""
    from patchwalk_client.errors import SpecError
    from patchwalk_client.spec import load_spec
    from patchwalk_worker.store import StoreError

    from patchwalk_service.engine import prepare, run_sweep

    try:
        spec = load_spec(Path(args.spec))
    except SpecError as exc:
        _err(f"patchwalk run: invalid spec {args.spec}:\n{_format_errors(exc)}")
        return 2
    except OSError as exc:
        _err(f"patchwalk run: cannot read {args.spec}: {exc}")
        return 2
    tmp = None
    out = args.out
    if out is None:
        tmp = tempfile.mkdtemp(prefix="patchwalk-")
        out = str(Path(tmp) / "sweep.zarr")
    try:
        try:
            prepare(spec, out)
        except SpecError as exc:
            _err(f"patchwalk run: the sweep cannot run:\n{_format_errors(exc)}")
            return 2
        except StoreError as exc:
            _err(f"patchwalk run: {exc}")
            return 2
        return _run(args, spec, out, run_sweep)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, spec: Any, out: str, run_sweep: Any) -> int:
    from patchwalk_worker.store import SweepStore

    from patchwalk_service.cluster_session import run_session
    from patchwalk_service.progress import make_progress

    try:
        session, in_flight = run_session(args)
    except ValueError as exc:
        _err(f"patchwalk run: {exc}")
        return 2
    try:
        report = run_sweep(spec, out, session.client, max_in_flight=in_flight,
                           progress=make_progress())
    finally:
        session.close()
    if report.skipped:
        _err(f"skipped {report.skipped} finished tasks")
    if args.out is not None:
        _err(f"results in {out} ({report.computed} tasks computed, "
             f"{report.steps:.3g} particle-steps in {report.seconds:.1f} s)")
    store = SweepStore.open(out)
    if not store.complete():
        _err(f"patchwalk run: {store.done_count()} of {store.total()} tasks done; "
             "rerun the same command to finish")
        return 1
    _print_results(store.point_results(), args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """``patchwalk show``."""
    from patchwalk_worker.store import StoreError, SweepStore

    try:
        store = SweepStore.open(args.store)
    except (StoreError, OSError) as exc:
        _err(f"patchwalk show: {exc}")
        return 2
    done, total = store.done_count(), store.total()
    if not args.json:
        print(f"{args.store}: sweep {store.spec.name!r}, spec hash {store.spec_hash[:12]}, "
              f"{len(store.points)} points, {done} of {total} tasks done")
    if done < total:
        _err(f"patchwalk show: the sweep is incomplete ({done} of {total} tasks); "
             "finish it with `patchwalk run SPEC --out STORE`")
        return 1
    _print_results(store.point_results(), args.json)
    return 0
