"""The ``patchwalk`` command.

The client registers the commands that talk to a running service (``submit``, ``status``,
``results``, ``cancel``). Packages installed beside it add their own commands through the
``patchwalk.commands`` entry-point group: each entry point is a function
``register(subparsers) -> None``. ``patchwalk-service`` adds ``run``, ``show`` and ``serve``.

Exit status of every command: 0 success; 1 the sweep failed, was cancelled or is incomplete;
2 bad input (spec file, spec, option, id, token) or a scheduler that cannot be reached;
3 no service at the URL; 4 a ``--timeout`` passed; 130 interrupted (Ctrl-C). A closed output
pipe (``| head``) ends the command quietly with 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from patchwalk_client import remote_cli


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every installed command group."""
    parser = argparse.ArgumentParser(
        prog="patchwalk",
        description="Cosmic-ray transport in patchy media: parameter sweeps on Dask.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    remote_cli.register(sub)
    for ep in sorted(entry_points(group="patchwalk.commands"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``patchwalk`` command line; returns the exit status."""
    return _main(argv)[0]


def _main(argv: Sequence[str] | None) -> tuple[int, bool]:
    """The exit status, and whether the command asked to skip the interpreter's teardown."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2, False
    try:
        result = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`patchwalk results ID --csv | head -1`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0, False
    except KeyboardInterrupt:
        print(f"patchwalk {args.command}: interrupted", file=sys.stderr)
        return 130, False
    return int(result or 0), bool(getattr(args, "exit_now", False))


def console_main() -> None:
    """The ``patchwalk`` console script: :func:`main`, then exit.

    A command that loaded the compute stack and has closed everything it started (``patchwalk
    run`` after its cluster) sets ``args.exit_now``: the process then ends at once, after
    flushing its output, instead of tearing down numba's and Dask's modules object by object
    (0.5–1 s that change nothing: its files are written and closed, its workers gone).
    """
    status, now = _main(None)
    if now:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    console_main()
