"""``patchwalk show STORE``: what a sweep store holds, without a cluster.

A finished store is read as plain JSON (its root attributes and ``results.json``: none of
numpy, numba, zarr or dask is imported); an unfinished one through the store, with the partial
results of its finished tasks.
"""

from __future__ import annotations

import argparse
from typing import Any

from patchwalk_client.remote_cli import add_result_options

from .cli import err, finished_results, print_results


def register_show(subparsers: Any) -> None:
    """Add ``patchwalk show``."""
    p = subparsers.add_parser("show", help="print the results held by a sweep store",
                              description="Print the state and results of a sweep store.")
    p.add_argument("store", help="zarr store written by `patchwalk run --out`")
    add_result_options(p, default_what=None)
    p.set_defaults(func=cmd_show)



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
        return print_results(results, args)
    return _show_store(args)


def _show_store(args: argparse.Namespace) -> int:
    from patchwalk_worker.results import ResultsError, read_results
    from patchwalk_worker.store import StoreError, SweepStore

    try:
        store = SweepStore.open(args.store)
    except (StoreError, OSError) as exc:
        err(f"patchwalk show: {exc}")
        return 2
    done, total = store.done_count(), store.total()
    if not (args.json or args.csv):
        print(f"{args.store}: sweep {store.spec.name!r}, spec hash {store.spec_hash[:12]}, "
              f"{len(store.points)} points, {done} of {total} tasks done")
    if done < total:
        if done:
            from patchwalk_worker.partial import partial_results

            rc = print_results(partial_results(store).results, args)
            if rc:
                return rc
        err(f"patchwalk show: the sweep is incomplete ({done} of {total} tasks"
             + ("; partial results of the finished ones above" if done else "")
             + "); finish it with `patchwalk run SPEC --out STORE`")
        return 1
    try:
        results = read_results(args.store)
    except ResultsError as exc:
        err(f"patchwalk show: {exc}")
        return 1
    return print_results(results, args)
