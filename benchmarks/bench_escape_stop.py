"""``escape.stop``: the cost estimate (pilot, :func:`patchwalk_worker.cost.point_cost`) against
the steps the run then took, and the saving against the same spec without the stop.

Usage: ``python benchmarks/bench_escape_stop.py [--full]`` (``--full`` also runs every spec
without the stop, which costs up to a few minutes). Prints one row per spec: predicted and
measured particle-steps of the stop run, their ratio, and (with ``--full``) the steps without
the stop.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from patchwalk_client.spec import SweepSpec, parse_spec
from patchwalk_worker import cost
from patchwalk_worker.task import n_tasks, run_task

POWER = {"pdf": "power_law", "alpha": 2.5, "l_min": 1.0, "l_max": 50.0}
EXPLICIT = {"patches": [[1.0, 1.0], [3.0, 0.1], [2.0, 1.0], [1.5, 0.1]]}


def spec(**over: Any) -> SweepSpec:
    """A two-phase power-law medium with escape distances and ``escape.stop``; ``a__b=v``
    sets nested keys."""
    d: dict[str, Any] = {
        "seed": 3, "kernel": "exact",
        "medium": {"length": 3000.0, "high": {"kappa": 1.0, "patches": POWER},
                   "low": {"kappa": 1e-2, "patches": {"pdf": "same"}}},
        "particles": {"count": 400, "per_task": 100},
        "times": {"min": 0.01, "max": 1e4, "count": 20},
        "escape": {"distances": [5.0, 20.0], "stop": True},
    }
    for key, value in over.items():
        node = d
        *head, last = key.split("__")
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    return parse_spec(d)


#: (name, spec) of the comparison table (and of tests/worker/test_cost.py's stop rows)
TABLE: list[tuple[str, SweepSpec]] = [
    ("exact-stop", spec()),
    ("exact-stop-long", spec(times__max=1e6, particles={"count": 200, "per_task": 100})),
    ("exact-stop-partial", spec(times__max=300.0)),
    ("exact-stop-2d", spec(dimensions=2, medium__kappa_perp=1e-2, medium__l_perp=1.0,
                           medium__strips=20, particles={"count": 100, "per_task": 50},
                           times__max=3e3, escape={"distances": [2.0, 5.0], "stop": True})),
    # euler's Δt follows the realisation's shortest patch (a trimmed closing patch of a
    # random medium can make one task 200x dearer than the pilot's): an explicit medium here
    ("euler-stop", spec(kernel="euler", medium=EXPLICIT, times__max=300.0,
                        escape={"distances": [2.0, 5.0], "stop": True})),
    ("pitch-stop", spec(kernel="pitch", medium__low__kappa=0.1, times__max=300.0,
                        particles={"count": 100, "per_task": 50}, pitch={"v": 5.0},
                        escape={"distances": [2.0, 5.0], "stop": True})),
]


def _fig4_point(alpha: float, energy: float) -> SweepSpec:
    """One point of examples/gallery/fig4.toml (its first task's 100 particles)."""
    from pathlib import Path

    from patchwalk_client.spec import load_spec

    path = Path(__file__).resolve().parents[1] / "examples" / "gallery" / "fig4.toml"
    d = load_spec(path).model_dump(mode="json")
    d.update(sweep={}, energy=energy, particles={"count": 100, "per_task": 100})
    d["medium"]["high"]["patches"]["alpha"] = alpha
    return parse_spec(d)


TABLE += [("fig4 a=3 E=10", _fig4_point(3.0, 10.0)), ("fig4 a=1.5 E=5.6", _fig4_point(1.5, 5.623))]


def measured(s: SweepSpec) -> float:
    """Particle-steps of every task of point 0 (what the store's ``steps`` would hold)."""
    return float(sum(run_task(s, 0, k).steps for k in range(n_tasks(s))))


def main(full: bool) -> None:
    print(f"{'spec':<20} {'predicted':>12} {'measured':>12} {'ratio':>7}"
          + (f" {'no stop':>14} {'saving':>8}" if full else ""))
    for name, s in TABLE:
        run_task(s, 0, 0)  # compile first
        est = cost.point_cost(s, 0)
        got = measured(s)
        row = f"{name:<20} {est.steps:>12.4g} {got:>12.4g} {est.steps / got:>7.2f}"
        if full:
            plain = s.model_copy(update={"escape": s.escape.model_copy(update={"stop": False})})
            c0 = time.perf_counter()
            base = measured(plain)
            row += f" {base:>14.4g} {base / got:>7.0f}x ({time.perf_counter() - c0:.0f} s)"
        print(row, flush=True)


if __name__ == "__main__":
    main("--full" in sys.argv[1:])
