"""``patchwalk submit | status | list | wait | results | spec | medium | cancel``: the CLI that
talks to a running service.

Every command takes ``--url`` (default ``$PATCHWALK_URL`` or http://127.0.0.1:8000) and reads
the bearer token from ``$PATCHWALK_TOKEN`` (or ``--token``). Exit status: 0 success, 1 the
sweep failed or was cancelled, 2 the request was rejected (spec file, spec, id, token),
3 no service, 4 ``--timeout`` passed while waiting.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ServiceError, SpecRejected, SweepFailed

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from .models import Record, SweepStatus

# httpx, pydantic-settings (.client) and the result models (.models, .render) load when a
# command runs, not when the parser is built: ``patchwalk show`` and a finished ``patchwalk
# run`` never talk to a service.

#: The service URL without --url or $PATCHWALK_URL (``patchwalk_client.client.DEFAULT_URL``;
#: a test checks that the two agree).
DEFAULT_URL = "http://127.0.0.1:8000"

#: The results ``--what`` picks (``patchwalk_client.render.WHATS``; a test checks they agree).
WHATS: tuple[str, ...] = ("kappa", "kappa2d", "escape", "theory")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", default=None, help=f"service URL (default $PATCHWALK_URL or {DEFAULT_URL})"
    )
    p.add_argument("--token", default=None, help="bearer token (default $PATCHWALK_TOKEN)")


def add_result_options(p: argparse.ArgumentParser, *, default_what: str | None,
                       default_note: str = "kappa, plus kappa2d and escape when the sweep has "
                                           "them (tables), kappa (--json, --csv)") -> None:
    """``--what`` and ``--json | --csv``, shared with ``patchwalk run``, ``show`` and
    ``results``; ``default_note`` says what ``--what`` defaults to when ``default_what`` is
    None (decided from the sweep)."""
    p.add_argument(
        "--what", choices=WHATS, default=default_what,
        help="which result: kappa (kappa(t)), kappa2d (converged 2D kappa), escape (first "
             "passage per distance, with eq. 8), theory (curves, nan outside their validity)"
             + ("" if default_what else f"; default: {default_note}"))
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true",
                     help='print {"points": [...]}, the REST body of the result')
    fmt.add_argument("--csv", action="store_true",
                     help="print CSV: one row per point and time (kappa, theory), per point and "
                          "distance (escape) or per point (kappa2d); axes in the spec's order")


def register(subparsers: Any) -> None:
    """Add the remote commands to the ``patchwalk`` parser."""
    p = subparsers.add_parser("submit", help="submit a sweep spec file to a running service")
    p.add_argument("spec", help="spec file (TOML, JSON or YAML, whatever its name)")
    p.add_argument("--wait", action="store_true", help="wait for the sweep with a progress bar")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    _common(p)
    p.set_defaults(func=_guard(cmd_submit))

    p = subparsers.add_parser("status", help="state and progress of a sweep on the service")
    p.add_argument("id", nargs="?", default=None, help="sweep id (omit to list all sweeps)")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    _common(p)
    p.set_defaults(func=_guard(cmd_status))

    p = subparsers.add_parser("list", help="the sweeps on the service, newest first")
    p.add_argument("--state", default=None,
                   choices=("queued", "running", "done", "failed", "cancelled"),
                   help="only sweeps in this state")
    p.add_argument("--json", action="store_true", help="print the statuses as JSON")
    _common(p)
    p.set_defaults(func=_guard(cmd_list))

    p = subparsers.add_parser("wait", help="wait for a sweep to finish (progress bar on a tty)")
    p.add_argument("id", help="sweep id")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    _common(p)
    p.set_defaults(func=_guard(cmd_wait))

    p = subparsers.add_parser(
        "results", help="results of a sweep on the service",
        description="Print a result of a sweep. A running or cancelled sweep gives the partial "
                    "results of its finished tasks (marked partial).")
    p.add_argument("id", help="sweep id")
    add_result_options(p, default_what=None,
                       default_note="kappa, or escape for a sweep with escape.stop (whose "
                                    "particles stop at escape, so it has no kappa)")
    p.add_argument("--where", action="append", default=[], metavar="AXIS=VALUE",
                   help="only points with this axis value (repeatable)")
    _common(p)
    p.set_defaults(func=_guard(cmd_results))

    p = subparsers.add_parser("spec", help="the spec of a sweep on the service (JSON)")
    p.add_argument("id", help="sweep id")
    _common(p)
    p.set_defaults(func=_guard(cmd_spec))

    p = subparsers.add_parser(
        "medium", help="one medium realisation of a sweep on the service",
        description="Print one medium realisation (rebuilt from the sweep's seed) as JSON "
                    "(edges, kappa, offsets, length ...) or CSV (strip, x_left, x_right, kappa).")
    p.add_argument("id", help="sweep id")
    p.add_argument("--point", type=int, default=0, help="point index (default 0)")
    p.add_argument("--task", type=int, default=0, help="task index (default 0)")
    p.add_argument("--csv", action="store_true", help="one row per patch")
    _common(p)
    p.set_defaults(func=_guard(cmd_medium))

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
        import httpx

        try:
            return fn(args)
        except SpecRejected as exc:
            if exc.errors:
                _err(f"patchwalk {args.command}: the service rejected the spec:")
                for e in exc.errors:
                    _err(f"  {e['loc']}: {e['msg']}" if e["loc"] else f"  {e['msg']}")
            else:
                _err(f"patchwalk {args.command}: {exc}")
            return 2
        except SpecFileError as exc:
            _err(f"patchwalk {args.command}: {exc}")
            return 2
        except TimeoutError as exc:
            _err(f"patchwalk {args.command}: {exc}")
            return 4
        except SweepFailed as exc:
            _err(f"patchwalk {args.command}: {exc}")
            return 1
        except ServiceError as exc:
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
    from .client import Client

    return Client(args.url, token=args.token)


def _line(st: SweepStatus) -> str:
    eta = f", ETA {st.eta_seconds:.0f} s" if st.eta_seconds and st.state == "running" else ""
    rate = f", {st.steps_per_second:.3g} particle-steps/s" if st.steps_per_second else ""
    err = f"\n  error: {st.error}" if st.error else ""
    return f"{st.id}  {st.name}  {st.state}  {st.tasks_done}/{st.tasks_total} tasks{rate}{eta}{err}"


class SpecFileError(ValueError):
    """A spec file that cannot be submitted (missing, a directory, empty, unreadable)."""


_MEDIA_TYPES = {".json": "application/json", ".toml": "application/toml",
                ".yaml": "application/yaml", ".yml": "application/yaml"}


def read_spec_file(name: str) -> tuple[bytes, str]:
    """The bytes and media type of a spec file: a path is a path, whatever its extension."""
    path = Path(name)
    if not path.exists():
        raise SpecFileError(f"{name}: file not found; pass the path of a spec file "
                            "(TOML, JSON or YAML)")
    if path.is_dir():
        raise SpecFileError(f"{name} is a directory; pass the path of a spec file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    if not data.strip():
        raise SpecFileError(f"{name} is empty; write a sweep spec in it (TOML, JSON or YAML, "
                            "see examples/example.toml)")
    return data, _MEDIA_TYPES.get(path.suffix.lower(), "text/plain")


def cmd_submit(args: argparse.Namespace) -> int:
    """``patchwalk submit FILE [--wait]``."""
    from .models import SweepStatus

    data, ctype = read_spec_file(args.spec)
    with _client(args) as c:
        r = c.request("POST", "/v1/sweeps", content=data, headers={"content-type": ctype})
        st = SweepStatus.model_validate(r.json())
        _err(("submitted " if r.status_code == 202 else "already known: ") + _line(st))
        print(st.id)
        if args.wait:
            st = c.get(st.id).wait(progress=sys.stderr.isatty(), timeout=args.timeout)
            _err(_line(st))
    return 0


def _print_list(items: list[SweepStatus], as_json: bool) -> None:
    if as_json:
        print(json.dumps([s.model_dump(mode="json") for s in items]))
    else:
        for s in items:
            print(_line(s))


def cmd_status(args: argparse.Namespace) -> int:
    """``patchwalk status [ID] [--json]``."""
    with _client(args) as c:
        if args.id is None:
            _print_list(c.list(), args.json)
            return 0
        st = c.get(args.id).status()
    print(json.dumps(st.model_dump(mode="json")) if args.json else _line(st))
    return 1 if st.state in ("failed", "cancelled") else 0


def cmd_list(args: argparse.Namespace) -> int:
    """``patchwalk list [--state S] [--json]``."""
    with _client(args) as c:
        _print_list(c.list(args.state), args.json)
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    """``patchwalk wait ID``: 0 done, 1 failed/cancelled, 4 timeout."""
    with _client(args) as c:
        st = c.get(args.id).wait(progress=sys.stderr.isatty(), timeout=args.timeout)
    print(_line(st))
    return 0


def _filters(where: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in where:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecFileError(f"--where {item!r}: write AXIS=VALUE, e.g. --where energy=10")
        out[key] = value
    return out


def cmd_results(args: argparse.Namespace) -> int:
    """``patchwalk results ID [--what W] [--json | --csv]``."""
    from .models import EscapeResults, Kappa2DResults, KappaResults, TheoryResults
    from .render import render

    filters = _filters(args.where)
    with _client(args) as c:
        sweep = c.get(args.id)
        if args.what is None:
            stop = bool((sweep.spec().get("escape") or {}).get("stop"))
            args.what = "escape" if stop else "kappa"
        body = sweep._get(args.what, **filters)
    models: dict[str, type[Record]] = {
        "kappa": KappaResults, "kappa2d": Kappa2DResults, "escape": EscapeResults,
        "theory": TheoryResults}
    model = models[args.what]
    points = model.model_validate(body)["points"]
    fmt = "json" if args.json else "csv" if args.csv else "table"
    if args.json:
        print(json.dumps(body, allow_nan=False))
    else:
        print(render(args.what, points, fmt))
    if body.get("partial"):
        _err(f"patchwalk results: partial results: {body.get('tasks_done')} of "
             f"{body.get('tasks_total')} tasks finished")
    return 0


def cmd_spec(args: argparse.Namespace) -> int:
    """``patchwalk spec ID``: the sweep's spec as JSON."""
    with _client(args) as c:
        print(json.dumps(c.get(args.id).spec(), indent=2))
    return 0


def cmd_medium(args: argparse.Namespace) -> int:
    """``patchwalk medium ID [--point P] [--task T] [--csv]``."""
    with _client(args) as c:
        med = c.get(args.id).medium(args.point, args.task)
    if not args.csv:
        print(json.dumps(med))
        return 0
    from .render import num

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["strip", "x_left", "x_right", "kappa"])
    edges, kappa, offsets = med["edges"], med["kappa"], med["offsets"]
    for s in range(len(offsets) - 1):
        for g in range(offsets[s], offsets[s + 1]):
            w.writerow([s, num(edges[g + s]), num(edges[g + s + 1]), num(kappa[g])])
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
