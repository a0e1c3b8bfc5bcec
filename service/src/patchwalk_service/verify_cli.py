"""``patchwalk verify STORE [--repair] [--json]``: check a store's chunks, recompute bad tasks.

Every finished task's chunks must exist and decode with their crc32c checksum
(:mod:`patchwalk_worker.integrity`). ``--repair`` recomputes the failing tasks in this process —
bitwise what they were, since a task's numbers depend only on ``(spec, point, task)`` — and writes
the summaries again when the store had them.

Exit status: 0 every finished task verifies (after ``--repair``: was repaired); 1 some finished
task fails verification (without ``--repair``); 2 not a patchwalk store, or it cannot be opened.
A store written before checksums verifies only for missing and undecodable chunks; the output
says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register_verify(subparsers: Any) -> None:
    """Add ``verify`` to the ``patchwalk`` parser."""
    p = subparsers.add_parser(
        "verify",
        help="verify the checksums of a sweep store's chunks (and recompute bad tasks)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("store", help="path of the sweep's zarr store")
    p.add_argument("--repair", action="store_true",
                   help="recompute the tasks that fail verification (and the summaries)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """``patchwalk verify``."""
    from patchwalk_worker.integrity import repair, verify_store
    from patchwalk_worker.store import StoreError, SweepStore

    try:
        store = SweepStore.open(args.store, mode="r+" if args.repair else "r")
        report = verify_store(store)
    except (StoreError, OSError) as exc:
        print(f"patchwalk verify: {exc}", file=sys.stderr)
        return 2
    bad = sorted(report.bad)
    repaired = repair(store, bad) if args.repair and bad else 0
    if args.json:
        print(json.dumps({
            "store": str(args.store), "checked": report.checked,
            "checksummed": report.checksummed, "repaired": repaired,
            "bad": [{"point": p, "task": k, "reason": report.bad[(p, k)]} for p, k in bad],
        }))
    else:
        print(f"{args.store}: {report.checked} finished tasks checked, {len(bad)} failed"
              + (f", {repaired} recomputed" if repaired else ""))
        for p, k in bad:
            print(f"  point {p}, task {k}: {report.bad[(p, k)]}")
        if not report.checksummed:
            print("  note: this store was written without chunk checksums; missing and "
                  "undecodable chunks are found, a flipped bit is not", file=sys.stderr)
    if bad and not args.repair:
        print("patchwalk verify: recompute the failing tasks with --repair (or resume the sweep)",
              file=sys.stderr)
        return 1
    return 0
