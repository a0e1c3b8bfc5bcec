"""The ``patchwalk`` command.

The client registers the commands that talk to a running service (``submit``, ``status``,
``results``, ``cancel``). Packages installed beside it add their own commands through the
``patchwalk.commands`` entry-point group: each entry point is a function
``register(subparsers) -> None``. ``patchwalk-service`` adds ``run``, ``show`` and ``serve``.
"""

from __future__ import annotations

import argparse
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
