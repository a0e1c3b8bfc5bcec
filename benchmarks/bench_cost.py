"""The cost model against real runs: estimated vs measured particle-steps and CPU seconds.

For every point of the examples (``examples/*.toml|json|yaml``, ``examples/gallery/*``) and for
the late-time benchmark medium (``bench_exact_vs_reference.py``: example.toml's medium to
t = 1e7), prints the estimate of :func:`patchwalk_worker.cost.point_cost` (pilot run), the
particle-steps and one-core seconds of the real tasks (``run_task``, in this process), and
their ratios; the old upper bound (``Kernel.cost``) is shown for comparison.

Real runs of whole examples take long on a small machine, so ``--fraction`` scales every
spec's ``particles.count`` and ``per_task`` (the model is per particle: the ratio does not
depend on it), ``--max-seconds`` skips points whose estimate is longer, and
``--late-particles`` sets the particles of the t = 1e7 run.

    uv run --all-packages python benchmarks/bench_cost.py [--fraction 0.1] [--max-seconds 30]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from patchwalk_client.spec import SweepSpec, load_spec, parse_spec
from patchwalk_client.sweep import expand_points
from patchwalk_worker.cost import TASK_OVERHEAD_S, point_cost
from patchwalk_worker.kernels.registry import get_kernel
from patchwalk_worker.task import n_tasks, run_task

ROOT = Path(__file__).resolve().parents[1]


def scaled(spec: SweepSpec, fraction: float, **times: Any) -> SweepSpec:
    d = spec.model_dump(mode="json")
    p = d["particles"]
    p["count"] = max(1, math.ceil(p["count"] * fraction))
    p["per_task"] = max(1, math.ceil(p["per_task"] * fraction))
    d["times"].update(times)
    if times:
        d["times"].pop("values", None)
    return parse_spec(d)


def measure(spec: SweepSpec, point: int) -> tuple[float, float]:
    steps = 0
    c0 = time.perf_counter()
    for k in range(n_tasks(spec)):
        steps += run_task(spec, point, k).steps
    return float(steps), time.perf_counter() - c0


def row(label: str, spec: SweepSpec, point: int, max_seconds: float) -> None:
    c0 = time.perf_counter()
    est = point_cost(spec, point)
    pilot = time.perf_counter() - c0
    kernel_cpu = est.cpu_seconds - est.tasks * TASK_OVERHEAD_S
    if kernel_cpu > max_seconds:
        print(f"{label:34s} {spec.kernel:6s} est {est.steps:9.3g} steps {kernel_cpu:8.3g} s "
              f"(skipped: over --max-seconds)")
        return
    steps, wall = measure(spec, point)
    bound = get_kernel(spec.kernel).cost(spec)
    if steps == 0:  # the reference lattice counts no particle-steps: its cost is its formula
        steps = bound = est.steps
    print(f"{label:34s} {spec.kernel:6s} est {est.steps:9.3g} meas {steps:9.3g} "
          f"x{est.steps / steps:5.2f} | cpu est {kernel_cpu:7.3g} s meas {wall:7.3g} s "
          f"x{kernel_cpu / wall:5.2f} | old bound x{bound / steps:7.1f} | pilot {pilot:5.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--max-seconds", type=float, default=30.0)
    ap.add_argument("--late-particles", type=int, default=4)
    ap.add_argument("--only", default="", help="substring of the spec files to run")
    a = ap.parse_args()
    files = sorted([*(ROOT / "examples").glob("*.toml"), *(ROOT / "examples").glob("*.json"),
                    *(ROOT / "examples").glob("*.yaml"), *(ROOT / "examples/gallery").glob("*")])
    for f in files:
        if a.only not in str(f):
            continue
        try:
            spec = scaled(load_spec(f), a.fraction)
        except ValueError as exc:
            print(f"{f.relative_to(ROOT)}: skipped ({str(exc).splitlines()[-1].strip()})")
            continue
        for pt in expand_points(spec):
            where = ",".join(f"{v}" for v in pt.params.values())
            row(f"{f.relative_to(ROOT)}[{where}]"[:34], pt.spec, pt.index, a.max_seconds)
    late = load_spec(ROOT / "examples" / "example.toml").model_dump(mode="json")
    late["particles"] = {"count": a.late_particles, "per_task": a.late_particles}
    late["times"]["max"] = 1e7
    row("benchmark medium to t = 1e7", parse_spec(late), 0, math.inf)


if __name__ == "__main__":
    main()
