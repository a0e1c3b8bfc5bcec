"""exact vs the lattice reference vs euler to t = l_max²/κ_low, run by hand:
``uv run --all-packages python benchmarks/bench_exact_vs_reference.py [N] [workers] [early]``
(``early``: extra particles run only to t = 1e3, where they are cheap, for a tighter check there).

Two-phase power-law medium (α = 2.5 both phases, l ∈ [1, 100], κ_high = 1, κ_low = 1e-3,
length 20 000), so the horizon is l_max²/κ_low = 1e7. Prints the max |exact − reference|
relative deviation and its size in particle standard errors σ, the wall time per particle of
exact to 1e7, euler's at the paper's Δt (D3, courant 1e-3 → Δt = 1e-3) measured over a short
horizon and extrapolated linearly in steps to 1e7, and the ratio.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from patchwalk_worker.kernels import run_euler, run_exact
from patchwalk_worker.media import Medium, generate_two_phase
from patchwalk_worker.patches import PowerLaw
from patchwalk_worker.reference import reference_kappa
from patchwalk_worker.rng import task_state

HORIZON = 1e7
TIMES = np.logspace(-2, 7, 40)


def medium() -> Medium:
    pdf = PowerLaw(alpha=2.5, l_min=1.0, l_max=100.0)
    return generate_two_phase(pdf, pdf, 1.0, 1e-3, 20_000.0, np.random.default_rng(2025))


def exact_task(args: tuple[int, int, float]) -> tuple[np.ndarray, int, float]:
    task, n, t_last = args
    m = medium()
    times = TIMES[TIMES <= t_last]
    run_exact(m, [1.0], 1, task_state(0, 0, 999))  # compile / load cache outside the timing
    t0 = time.perf_counter()
    r = run_exact(m, times, n, task_state(0, 0, task))
    return r.sums, r.steps, time.perf_counter() - t0


def exact_kappa(
    n_particles: int, t_last: float, workers: int, first_task: int
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """κ̄ and its particle standard error at TIMES <= t_last; steps and CPU seconds."""
    per = max(16, n_particles // (8 * workers))
    jobs = [(first_task + i, min(per, n_particles - i * per), t_last)
            for i in range(-(-n_particles // per))]
    with ProcessPoolExecutor(workers) as ex:
        out = list(ex.map(exact_task, jobs))
    sums = sum(o[0] for o in out)
    n = sums[:, 0]
    t = TIMES[TIMES <= t_last]
    m2 = sums[:, 2] / n
    err = np.sqrt(np.maximum(sums[:, 3] / n - m2**2, 0.0) / n) / (2 * t)
    return m2 / (2 * t), err, sum(o[1] for o in out), sum(o[2] for o in out)


def main() -> None:
    n_late = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    n_early = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    t_split = 1e3
    m = medium()
    print(f"medium: {m.kappa.size} patches, length {m.length:g}, kappa_A {m.kappa_A:.4g}, "
          f"kappa_H {m.kappa_H:.4g}")
    t0 = time.perf_counter()
    ref = reference_kappa(m, TIMES)
    print(f"reference: 40 times 0.01..1e7 in {time.perf_counter() - t0:.1f} s")

    k, err, steps, cpu = exact_kappa(n_late, HORIZON, workers, 0)
    print(f"exact: {n_late} particles to 1e7, {steps / n_late:.3g} steps/particle, "
          f"{cpu / n_late:.3f} s/particle (one core), {cpu / steps * 1e9:.0f} ns/step")
    cpu_per_particle = cpu / n_late
    if n_early:
        # many more particles over the cheap early range, independent streams
        ke, ee, _, cpu_e = exact_kappa(n_early, t_split, workers, 10**6)
        j = ke.size
        k[:j], err[:j] = ke, ee
        print(f"exact: {n_early} more particles to t = {t_split:g} "
              f"({cpu_e / n_early * 1e3:.2f} ms/particle) used for t <= {t_split:g}")
    dev = np.abs(k - ref) / ref
    beyond = np.maximum(np.abs(k - ref) - 2 * err, 0.0) / ref
    print(f"  relative sigma: min {np.min(err / ref):.2%}, max {np.max(err / ref):.2%}")
    print(f"  max |exact-ref|/ref {np.max(dev):.2%}; "
          f"max in sigma {np.max(np.abs(k - ref) / err):.2f}; "
          f"max beyond 2 sigma {np.max(beyond):.2%}")
    for i in range(0, 40, 3):
        print(f"  t={TIMES[i]:9.3g} ref {ref[i]:.5g} exact {k[i]:.5g} +- {err[i]:.2g} "
              f"({(k[i] - ref[i]) / err[i]:+.1f} sigma)")

    dt = 1e-3  # D3: courant 1e-3 * l_min² / κ_max with l_min = 1, κ_max = 1
    l_min_medium = float(np.min(m.lengths()))
    courant = 1e-3 * (1.0 / l_min_medium) ** 2  # so that euler's own Δt is 1e-3 here too
    n_e = 64
    run_euler(m, [10 * dt], 2, task_state(0, 0, 998), courant=courant)
    t0 = time.perf_counter()
    r = run_euler(m, [4000 * dt], n_e, task_state(0, 0, 997), courant=courant)
    el = time.perf_counter() - t0
    ns_step = el / r.steps * 1e9
    euler_pp = ns_step * 1e-9 * HORIZON / dt
    print(f"euler: {ns_step:.1f} ns/step (dt = {dt:g}, measured to t = {4000 * dt:g}); "
          f"extrapolated linearly in steps to 1e7: {euler_pp:.0f} s/particle")
    print(f"ratio euler/exact wall per particle to 1e7: {euler_pp / cpu_per_particle:.0f}")


if __name__ == "__main__":
    main()
