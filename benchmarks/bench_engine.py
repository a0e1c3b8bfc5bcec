"""Sweep-engine benchmark: 8 points x 8 tasks on 1 vs 2 local Dask workers.

Prints the parallel efficiency T1 / (2 T2) (goal >= 90 %) and the engine's overhead per task
relative to the bare ``run_task`` time of the same tasks run serially in this process
(goal <= 2 %). Cluster start-up and the numba warm-up are not timed; writing the store and the
summaries is. Run once, not in a loop:

    uv run --all-packages python benchmarks/bench_engine.py [--particles 2000] [--tmax 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from patchwalk_client.spec import load_spec
from patchwalk_client.sweep import expand_points
from patchwalk_service.cluster import open_cluster
from patchwalk_service.engine import run_sweep
from patchwalk_service.settings import ServiceSettings
from patchwalk_worker.task import n_tasks, run_task


def make_spec(particles: int, tmax: float) -> object:
    return load_spec({
        "name": "bench-engine",
        "seed": 1,
        "medium": {
            "length": 2000.0,
            "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": 2.5,
                                               "l_min": 1.0, "l_max": 100.0}},
            "low": {"kappa": 1e-3, "patches": {"pdf": "same"}},
        },
        "particles": {"count": 8 * particles, "per_task": particles},
        "times": {"min": 0.01, "max": tmax, "count": 20},
        "sweep": {"energy": [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0]},
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--particles", type=int, default=10000, help="particles per task")
    ap.add_argument("--tmax", type=float, default=50.0, help="last output time")
    a = ap.parse_args()
    spec = make_spec(a.particles, a.tmax)
    points = expand_points(spec)  # type: ignore[arg-type]
    tasks = [(p.index, k) for p in points for k in range(n_tasks(p.spec))]
    run_task(points[0].spec, 0, 0)  # compile / load the numba cache
    t0 = time.perf_counter()
    steps = 0
    for p, k in tasks:
        steps += run_task(points[p].spec, p, k).steps
    bare = time.perf_counter() - t0
    print(f"{len(points)} points x {len(tasks) // len(points)} tasks, "
          f"{steps:.3g} particle-steps; bare run_task, serial: {bare:.2f} s "
          f"({bare / len(tasks) * 1e3:.0f} ms/task, {steps / bare:.3g} steps/s)")
    wall: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2):
            with open_cluster(ServiceSettings(workers=n)) as session:
                client = session.client
                t0 = time.perf_counter()
                rep = run_sweep(spec, Path(tmp) / f"w{n}.zarr", client)  # type: ignore[arg-type]
                wall[n] = time.perf_counter() - t0
            assert rep.computed == len(tasks) and rep.steps == steps
            print(f"{n} worker(s): {wall[n]:.2f} s")
    eff = wall[1] / (2 * wall[2])
    overhead = (wall[1] - bare) / bare
    print(f"parallel efficiency 1 -> 2 workers: {eff:.1%} (goal >= 90%)")
    print(f"engine overhead per task vs bare run_task: {overhead:+.1%} "
          f"({(wall[1] - bare) / len(tasks) * 1e3:+.1f} ms/task; goal <= 2%)")


if __name__ == "__main__":
    main()
