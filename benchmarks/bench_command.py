"""Whole-command throughput: ``patchwalk run`` of an euler job vs the kernel alone vs NumPy.

Three particle-steps/s per core figures, measured in this one run on the same spec:

* **command** — ``patchwalk run SPEC --out STORE --workers W`` as a subprocess, wall clock
  from launch to exit (interpreter start, spec check, cost pilot, cluster start-up, warm-up,
  tasks, summaries, printing), divided by W;
* **kernel** — the same tasks through ``run_task`` in this process (medium + kernel), after one
  warm-up call;
* **numpy** — a vectorised NumPy Itô–Euler step (D1) over all particles at once on a
  tabulated κ_w, κ_w′ of the same smoothed medium (one gather per table, one normal draw per
  particle-step), timed over ``--numpy-steps`` steps.

Prints the three rates and the ratios kernel/command (goal ≤ 1.5) and command/numpy (goal ≥ 4),
the command's own phases (``patchwalk run --timings``: start-up, validation, store, cluster
start and kernel warm-up, tasks, shut-down) and ``os.getloadavg()`` before and after: on a
shared machine the figures move with the load, so ``--repeat`` runs it all several times and
prints the spread.

    uv run --all-packages python benchmarks/bench_command.py [--particles 100000]
        [--steps 10000] [--workers 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from patchwalk_client.spec import parse_spec
from patchwalk_worker.kernels.registry import warm_up
from patchwalk_worker.media import build_medium
from patchwalk_worker.rng import medium_rng
from patchwalk_worker.task import n_tasks, run_task


def spec_text(particles: int, steps: int, tasks: int) -> str:
    """Euler, D3 Δt = courant·l_min²/κ_max = 1e-3, so ``steps`` steps reach t = steps·1e-3."""
    per_task = -(-particles // tasks)
    return f"""
name = "bench-command"
seed = 9
kernel = "euler"
[medium]
length = 2000.0
high = {{ kappa = 1.0, patches = {{ pdf = "power_law", alpha = 2.5, l_min = 1.0, l_max = 20.0 }} }}
low = {{ kappa = 0.1, patches = {{ pdf = "same" }} }}
[particles]
count = {particles}
per_task = {per_task}
[times]
min = {steps * 1e-3 / 100:g}
max = {steps * 1e-3:g}
count = 10
[euler]
courant = 1e-3
"""


def numpy_rate(text: str, n_steps: int) -> float:
    """Particle-steps/s of a vectorised NumPy Euler on the spec's task-0 medium."""
    spec = parse_spec(text)
    m = build_medium(spec, medium_rng(spec.seed, 0, 0), spec.times.max)
    w = 0.1  # l_min / 10, the kernel's default smoothing width
    h = w / 16
    grid = np.arange(0.0, m.length, h)
    idx = np.clip(np.searchsorted(m.edges, grid, side="right") - 1, 0, m.kappa.size - 1)
    k_raw = m.kappa[idx]
    kernel = np.ones(16) / 16
    k_w = np.convolve(np.concatenate([k_raw[-8:], k_raw, k_raw[:7]]), kernel, mode="valid")
    dk_w = np.gradient(k_w, h)
    rng = np.random.default_rng(1)
    n = spec.particles.count
    x = rng.uniform(0.0, m.length, n)
    dt = 1e-3
    inv_h = 1.0 / h
    c0 = time.perf_counter()
    for _ in range(n_steps):
        j = (np.mod(x, m.length) * inv_h).astype(np.intp)
        np.minimum(j, k_w.size - 1, out=j)
        k = k_w[j]
        x += np.sqrt(2.0 * dt * k) * rng.standard_normal(n) + dk_w[j] * dt
    return n * n_steps / (time.perf_counter() - c0)


def command_run(text: str, workers: int) -> tuple[float, str]:
    """Wall seconds of ``patchwalk run`` (a subprocess of the console script) and its
    ``--timings`` report."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.toml"
        path.write_text(text)
        exe = Path(sys.executable).with_name("patchwalk")
        c0 = time.perf_counter()
        r = subprocess.run([str(exe), "run", str(path), "--out", str(Path(tmp) / "out.zarr"),
                            "--workers", str(workers), "--json", "--timings"],
                           capture_output=True, text=True, check=False)
        wall = time.perf_counter() - c0
    if r.returncode != 0:
        raise SystemExit(f"patchwalk run failed:\n{r.stderr}")
    timings = r.stderr[r.stderr.index("patchwalk run: timings"):]
    return wall, timings


def kernel_run(text: str) -> tuple[int, float]:
    """Particle-steps and seconds of the spec's tasks through ``run_task`` in this process."""
    spec = parse_spec(text)
    warm_up(["euler"])
    steps = 0
    k0 = time.perf_counter()
    for k in range(n_tasks(spec)):
        steps += run_task(spec, 0, k).steps
    return steps, time.perf_counter() - k0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--numpy-steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=1, help="runs of the three measurements")
    a = ap.parse_args()
    text = spec_text(a.particles, a.steps, a.tasks)
    spec = parse_spec(text)
    ratios: list[tuple[float, float]] = []
    for i in range(a.repeat):
        load0 = os.getloadavg()
        wall, timings = command_run(text, a.workers)
        steps, kernel_s = kernel_run(text)
        numpy = numpy_rate(text, a.numpy_steps)
        load1 = os.getloadavg()
        command = steps / wall / a.workers
        kernel = steps / kernel_s
        ratios.append((kernel / command, command / numpy))
        print(f"run {i + 1}/{a.repeat}: {a.particles} particles x {a.steps} euler steps = "
              f"{steps:.3g} particle-steps, {n_tasks(spec)} tasks, {a.workers} worker(s); "
              f"load average {load0[0]:.1f} -> {load1[0]:.1f}")
        print(f"command: {wall:7.2f} s wall  {command / 1e6:8.1f} M particle-steps/s/core")
        print(f"kernel : {kernel_s:7.2f} s      {kernel / 1e6:8.1f} M particle-steps/s")
        print(f"numpy  :                {numpy / 1e6:8.1f} M particle-steps/s")
        print(f"kernel/command = {kernel / command:.2f} (goal <= 1.5); "
              f"command/numpy = {command / numpy:.2f} (goal >= 4)")
        print(timings.rstrip() + f"\n  {wall - float(timings.split()[-3]):7.2f} s  "
              "process exit and launch (wall - total)")
    if a.repeat > 1:
        kc, cn = zip(*ratios, strict=True)
        print(f"kernel/command {min(kc):.2f}-{max(kc):.2f}; command/numpy {min(cn):.2f}-"
              f"{max(cn):.2f} over {a.repeat} runs")


if __name__ == "__main__":
    main()
