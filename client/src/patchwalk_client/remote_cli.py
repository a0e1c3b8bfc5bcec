"""``patchwalk submit | status | results | cancel``: the CLI that talks to a running service.

Every command takes ``--url`` (default ``$PATCHWALK_URL`` or http://127.0.0.1:8000) and reads
the bearer token from ``$PATCHWALK_TOKEN`` (or ``--token``). Exit status: 0 success, 1 the
sweep failed or was cancelled, 2 the request was rejected (spec, id, token), 3 no service.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from typing import Any

import httpx

from .client import DEFAULT_URL, Client
from .errors import ServiceError, SpecRejected, SweepFailed
from .models import SweepStatus


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", default=None, help=f"service URL (default $PATCHWALK_URL or {DEFAULT_URL})"
    )
    p.add_argument("--token", default=None, help="bearer token (default $PATCHWALK_TOKEN)")


def register(subparsers: Any) -> None:
    """Add the remote commands to the ``patchwalk`` parser."""
    p = subparsers.add_parser("submit", help="submit a sweep spec to a running service")
    p.add_argument("spec", help="spec file (.toml, .json, .yaml)")
    p.add_argument("--wait", action="store_true", help="wait for the sweep with a progress bar")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    _common(p)
    p.set_defaults(func=_guard(cmd_submit))

    p = subparsers.add_parser("status", help="state and progress of a sweep on the service")
    p.add_argument("id", nargs="?", default=None, help="sweep id (omit to list all sweeps)")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    _common(p)
    p.set_defaults(func=_guard(cmd_status))

    p = subparsers.add_parser("results", help="kappa(t) of a finished sweep on the service")
    p.add_argument("id", help="sweep id")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json",
        action="store_true",
        help='print {"points": [...]} (the `patchwalk run --json` shape)',
    )
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per point and time")
    _common(p)
    p.set_defaults(func=_guard(cmd_results))

    p = subparsers.add_parser("cancel", help="cancel a sweep on the service")
    p.add_argument("id", help="sweep id")
    p.add_argument("--purge", action="store_true",
                   help="also remove the sweep's store and record from the service")
    _common(p)
    p.set_defaults(func=_guard(cmd_cancel))


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except SpecRejected as exc:
            _err(f"patchwalk {args.command}: {exc}")
            for e in exc.errors:
                _err(f"  {e['loc']}: {e['msg']}" if e["loc"] else f"  {e['msg']}")
            return 2
        except SweepFailed as exc:
            _err(f"patchwalk {args.command}: {exc}")
            return 1
        except ServiceError as exc:
            _err(f"patchwalk {args.command}: {exc}")
            return 2
        except FileNotFoundError as exc:
            _err(f"patchwalk {args.command}: {exc}")
            return 2
        except httpx.HTTPError as exc:
            _err(
                f"patchwalk {args.command}: cannot reach the service at "
                f"{args.url or DEFAULT_URL} ({exc}); start it with `patchwalk serve` "
                "or pass --url"
            )
            return 3

    return run


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, token=args.token)


def _line(st: SweepStatus) -> str:
    eta = f", ETA {st.eta_seconds:.0f} s" if st.eta_seconds and st.state == "running" else ""
    rate = f", {st.steps_per_second:.3g} particle-steps/s" if st.steps_per_second else ""
    err = f"\n  error: {st.error}" if st.error else ""
    return f"{st.id}  {st.name}  {st.state}  {st.tasks_done}/{st.tasks_total} tasks{rate}{eta}{err}"


def cmd_submit(args: argparse.Namespace) -> int:
    """``patchwalk submit SPEC [--wait]``."""
    with _client(args) as c:
        sweep = c.submit(args.spec)
        st = sweep.status()
        _err(("submitted " if sweep.created else "already known: ") + _line(st))
        print(sweep.id)
        if args.wait:
            st = sweep.wait(progress=True, timeout=args.timeout)
            _err(_line(st))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """``patchwalk status [ID] [--json]``."""
    with _client(args) as c:
        if args.id is None:
            items = c.list()
            if args.json:
                print(json.dumps([s.model_dump(mode="json") for s in items]))
            else:
                for s in items:
                    print(_line(s))
            return 0
        st = c.get(args.id).status()
    print(json.dumps(st.model_dump(mode="json")) if args.json else _line(st))
    return 1 if st.state in ("failed", "cancelled") else 0


def cmd_results(args: argparse.Namespace) -> int:
    """``patchwalk results ID [--json | --csv]``."""
    with _client(args) as c:
        results = c.get(args.id).kappa()
    points = results.points
    if args.json:
        print(json.dumps(results.to_dict(), allow_nan=False))
    elif args.csv:
        keys = sorted({k for p in points for k in p.params})
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["point", *keys, "t", "kappa", "kappa_err", "kappa_A", "kappa_H"])
        for i, p in enumerate(points):
            for t, k, e in zip(p.t, p.kappa, p.kappa_err, strict=True):
                w.writerow([i, *(p.params.get(k_) for k_ in keys), t, k, e, p.kappa_A, p.kappa_H])
    else:
        for i, p in enumerate(points):
            params = ", ".join(f"{k}={v}" for k, v in p.params.items()) or "(no sweep axes)"
            print(
                f"point {i}: {params}: kappa_A = {p.kappa_A}, kappa_H = {p.kappa_H}, "
                f"{p.n_particles} particles in {p.n_tasks} tasks"
            )
            for t, k, e in zip(p.t, p.kappa, p.kappa_err, strict=True):
                print(f"  t = {t:<12.6g} kappa = {k:<12.6g} +- {e:.3g}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """``patchwalk cancel ID [--purge]``."""
    with _client(args) as c:
        sweep = c.get(args.id)
        if getattr(args, "purge", False):
            sweep.purge()
            print(f"{args.id} purged")
            return 0
        st = sweep.cancel()
    print(_line(st))
    return 0
