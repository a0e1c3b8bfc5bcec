"""Kernel speed, run by hand: ``uv run --all-packages python benchmarks/bench_kernels.py``.

Two-phase power-law medium (α = 2.5, l_max/l_min = 100, κ_high/κ_low = 1e3), built here with
numpy. Prints ns per normal (ours, numba's np.random, numpy), particle-steps/s of euler and exact,
a NumPy-vectorised Euler of the same scheme, and the ratios.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit
from patchwalk_worker import rng
from patchwalk_worker.kernels import run_euler, run_exact
from patchwalk_worker.kernels.euler import euler_dt
from patchwalk_worker.media import Medium


def power_law(g: np.random.Generator, n: int, alpha: float, lo: float, hi: float) -> np.ndarray:
    u = g.random(n)
    a = 1.0 - alpha
    return (lo**a + u * (hi**a - lo**a)) ** (1.0 / a)


def medium() -> Medium:
    g = np.random.default_rng(0)
    n = 2000
    lengths = power_law(g, n, 2.5, 1.0, 100.0)
    kappa = np.where(np.arange(n) % 2 == 0, 1.0, 1e-3)
    return Medium.from_patches(list(zip(lengths, kappa, strict=True)))


@njit(cache=True)
def numba_np_normals(n: int) -> float:
    acc = 0.0
    for _ in range(n):
        acc += np.random.standard_normal()
    return acc


def per_call(f, n: int) -> float:  # type: ignore[no-untyped-def]
    f(1000)
    t0 = time.perf_counter()
    f(n)
    return (time.perf_counter() - t0) / n * 1e9


def numpy_euler(m: Medium, n: int, steps: int, dt: float, w: float) -> float:
    """Vectorised NumPy version of the euler kernel's step (κ-ramp smoothing); s per step."""
    g = np.random.default_rng(1)
    e, k = m.edges, m.kappa
    x = g.random(n) * m.length
    t0 = time.perf_counter()
    for _ in range(steps):
        xl = np.mod(x, m.length)
        j = np.searchsorted(e, xl, side="right") - 1
        a, b = e[j], e[j + 1]
        kc, kl, kr = k[j], k[j - 1], k[(j + 1) % k.size]
        s1 = (xl - a + w / 2) / w
        s2 = (xl - b + w / 2) / w
        left, right = xl - a < w / 2, b - xl < w / 2
        kw = np.where(left, kl + (kc - kl) * s1, np.where(right, kc + (kr - kc) * s2, kc))
        dk = np.where(left, (kc - kl) / w, np.where(right, (kr - kc) / w, 0.0))
        x = x + np.sqrt(2 * kw * dt) * g.standard_normal(n) + dk * dt
    return (time.perf_counter() - t0) / (n * steps)


def main() -> None:
    st = rng.task_state(0, 0, 0)
    ns_ours = per_call(lambda n: rng.sum_normals(st, n), 50_000_000)
    ns_nb = per_call(numba_np_normals, 50_000_000)
    ns_np = per_call(lambda n: np.random.default_rng(0).standard_normal(n).sum(), 20_000_000)
    print(f"normals: ours {ns_ours:.2f} ns, numba np.random {ns_nb:.2f} ns, numpy {ns_np:.2f} ns")

    m = medium()
    dt = euler_dt(m, 1e-3)
    run_euler(m, np.array([10 * dt]), 2, st)  # load the numba cache outside the timing
    n_e = 1000
    t_e = np.array([20000 * dt])
    ns_all = []
    for _ in range(3):  # best of 3 (the machine is shared)
        t0 = time.perf_counter()
        r = run_euler(m, t_e, n_e, st)
        ns_all.append((time.perf_counter() - t0) / r.steps * 1e9)
    ns_euler = min(ns_all)
    print(f"euler: {1e9 / ns_euler:.3g} steps/s ({ns_euler:.1f} ns/step, dt = {dt:.3g}, "
          f"{n_e} particles x {r.steps // n_e} steps, best of 3)")
    ns_npe = numpy_euler(m, 20_000, 50, dt, 0.1) * 1e9
    print(f"numpy euler: {1e9 / ns_npe:.3g} steps/s ({ns_npe:.1f} ns/step)")
    horizon = 1e4  # l_max^2 / kappa_low = 1e4 / 1e-3 = 1e7 is far beyond one run; see docs
    n_x = 200
    t0 = time.perf_counter()
    rx = run_exact(m, np.array([horizon]), n_x, st)
    elx = time.perf_counter() - t0
    per_particle_exact = elx / n_x
    per_particle_euler = ns_euler * 1e-9 * horizon / dt
    print(f"exact: {rx.steps / elx:.3g} steps/s ({elx / rx.steps * 1e9:.1f} ns/step), "
          f"{rx.steps / n_x:.3g} steps/particle to t = {horizon:g}")
    print(f"ratios: euler/normal {ns_euler / ns_ours:.2f}, "
          f"numpy-euler/euler {ns_npe / ns_euler:.1f}, "
          f"euler/exact wall per particle to t = {horizon:g} (euler extrapolated) "
          f"{per_particle_euler / per_particle_exact:.1f}")


if __name__ == "__main__":
    main()
