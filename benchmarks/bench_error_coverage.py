"""Coverage of the summaries' error bars for 2, 4 and 16 tasks (docs/kernels.md table).

Usage: ``uv run --all-packages python benchmarks/bench_error_coverage.py {A|B|C|D|E|N} [n]``

* A — one explicit medium (κ = 1 | 0.01, lengths 1 | 1; ``distinct_realisations=False``):
  K exact-kernel tasks, z against the lattice reference.
* B — realisation spread only: K lattice references of random realisations (α = 2.5,
  l ∈ [0.2, 2], κ = 1 | 0.1, period 6), z against the mean of a pool of 2500.
* C — both: K exact-kernel tasks of ``particles`` each, each on its own realisation, z against
  the lattice ensemble mean of 300 realisations (16 cells per l_min).
* D — κ̄_2D's error (:func:`kappa_2d`, late slope over t = 100…1000): K exact-kernel tasks on
  one explicit medium (κ = 1 | 0.1, lengths 1 | 1), and K on their own realisations of C's
  medium (z against the lattice ensemble slope of 200 realisations).
* E — mean escape times (:func:`escape_summary`) at L = 0.3, 1, 3: K exact-kernel tasks on
  their own realisations of C's medium, z against the mean over 3000 realisations of the exact
  ⟨τ⟩ (first_passage.py).
* N — the rule under normality with V_p known, against ρ = V_r/V_p (no kernel).
The lattices use the contour method (the same numbers as eigen to 1e-12; dense eigh is slow
with threaded BLAS on a loaded 2-core machine). Prints the fraction of |z| ≤ 2 for the new
error ("new"), the previous rule (max(V_b, V_p) with Welch–Satterthwaite ν, "ws") and the
spread alone ("spread"); for E also the particle error alone ("particles", the escape error
before).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
from patchwalk_worker.escape import escape_summary
from patchwalk_worker.first_passage import mean_first_passage
from patchwalk_worker.kernels import run_exact
from patchwalk_worker.media import Medium, generate_strip
from patchwalk_worker.patches import PowerLaw
from patchwalk_worker.reference import reference_msd
from patchwalk_worker.rng import task_state
from patchwalk_worker.student import Z975, t975
from patchwalk_worker.summary import (
    _ols_weights,
    combine_kappa,
    kappa_2d,
    late_window,
)

T = np.array([0.01, 0.1, 1.0])
KS = ((2, 200), (4, 100), (16, 50))


def realisation(i: int) -> Medium:
    pdf = PowerLaw(2.5, 0.2, 2.0)
    e, k = generate_strip(pdf, pdf, 1.0, 0.1, 6.0, np.random.default_rng([99, i]))
    return Medium.from_patches(list(zip(np.diff(e), k, strict=True)))


def ws_err(err_p: np.ndarray, err_b: np.ndarray, k: int) -> np.ndarray:
    """The previous rule: V = max(V_b, V_p), ν = (K − 1)(V/V_r)² (∞ if V_r = 0)."""
    vp = np.where(np.isnan(err_p), 0.0, err_p**2)
    vb = err_b**2
    vr = np.maximum(vb - vp, 0.0)
    var = vp + vr
    out = np.empty(var.shape)
    for i, (v, r) in enumerate(zip(var.ravel(), vr.ravel(), strict=True)):
        nu = (k - 1) * (v / r) ** 2 if r > 0 else np.inf
        out.flat[i] = np.sqrt(v) * (t975(nu) / Z975 if np.isfinite(nu) else 1.0)
    return out


def cov(z: list[np.ndarray]) -> np.ndarray:
    return np.asarray(np.mean(np.abs(np.array(z)) <= 2, axis=0))


def report(tag: str, k: int, zs: dict[str, list[np.ndarray]]) -> None:
    parts = "  ".join(f"{name} {np.round(cov(z), 3)}" for name, z in zs.items())
    print(f"{tag} K={k} ({len(next(iter(zs.values())))} groups): {parts}", flush=True)


def kappa_groups(tag: str, run: Callable[[int, int], np.ndarray], ref: np.ndarray,
                 distinct: bool) -> None:
    """z of κ̄(t) for groups of K tasks: ``run(group, k)`` gives the (k, n_t, 5) sums."""
    for k, groups in KS:
        zs: dict[str, list[np.ndarray]] = {"new": [], "ws": [], "spread": []}
        for g in range(groups):
            ks = combine_kappa(run(g, k), T, distinct)
            d = ks.kappa - ref
            zs["new"].append(d / ks.kappa_err)
            zs["ws"].append(d / ws_err(ks.kappa_err_particles, ks.kappa_err_between, k))
            zs["spread"].append(d / ks.kappa_err_between)
        report(tag, k, zs)


def mode_d(n: int) -> None:
    t = np.geomspace(1.0, 1000.0, 7)
    w = _ols_weights(t[late_window(t)])
    one = Medium.from_patches([(1.0, 1.0), (1.0, 0.1)])
    slope_one = float(np.sum(w * reference_msd(one, t)[late_window(t)])) / 2
    pool = np.array([reference_msd(realisation(i), t, cells_per_l_min=8, method="contour")
                     for i in range(200)])
    slope_ens = float(np.sum(w * pool.mean(axis=0)[late_window(t)])) / 2
    j = 300_000
    for k, groups in ((2, 60), (4, 30), (16, 12)):
        z_one, z_rand = [], []
        for g in range(groups):
            s = np.stack([run_exact(one, t, n, task_state(4000 + g, k, i)).sums for i in range(k)])
            r = kappa_2d(s, t, distinct_realisations=False)
            z_one.append(np.array([(r.kappa - slope_one) / r.kappa_err]))
            s = np.stack([run_exact(realisation(j + i), t, n, task_state(5000 + g, k, i)).sums
                          for i in range(k)])
            j += k
            r = kappa_2d(s, t)
            z_rand.append(np.array([(r.kappa - slope_ens) / r.kappa_err]))
        report("D", k, {"one medium": z_one, "own realisations": z_rand})


def mode_e(n: int) -> None:
    dist = np.array([0.3, 1.0, 3.0])
    ens = np.mean([mean_first_passage(realisation(i), dist)[:, 0] for i in range(3000)], axis=0)
    j = 200_000
    for k, groups in KS:
        zs: dict[str, list[np.ndarray]] = {"new": [], "ws": [], "spread": [], "particles": []}
        for g in range(groups):
            e = np.stack([run_exact(realisation(j + i), [400.0], n, task_state(3000 + g, k, i),
                                    escape=dist).esc for i in range(k)])
            j += k
            es = escape_summary(e, float(k * n))
            assert np.all(es.fraction == 1.0)
            d = es.mean_time - ens
            zs["new"].append(d / es.mean_time_err)
            zs["ws"].append(d / ws_err(es.mean_time_err_particles, es.mean_time_err_between, k))
            zs["spread"].append(d / es.mean_time_err_between)
            zs["particles"].append(d / es.mean_time_err_particles)  # the error before
        report("E", k, zs)


def mode_n() -> None:
    """The rule under normality: d ~ N(0, V_p + V_r), V_b ~ (V_p + V_r) χ²_{K−1}/(K − 1), V_p
    known; coverage of ±2 err against ρ = V_r/V_p, and of flooring before the widening."""
    rng = np.random.default_rng(0)
    draws = 400_000
    for k in (2, 4, 16):
        w = t975(k - 1) / Z975
        cells = []
        for rho in (0.0, 0.3, 1.0, 3.0, 10.0, 1e6):
            vb = (1 + rho) * rng.chisquare(k - 1, draws) / (k - 1)
            d = np.sqrt(1 + rho) * rng.standard_normal(draws)
            new = np.maximum(np.sqrt(vb) * w, 1.0)
            before = np.sqrt(np.maximum(vb, 1.0)) * w
            cells.append(f"ρ={rho:g}: {np.mean(np.abs(d) <= 2 * new):.3f}"
                         f" / {np.mean(np.abs(d) <= 2 * before):.3f}")
        print(f"N K={k} (new / floor before widening): " + ", ".join(cells), flush=True)


def main() -> None:
    mode = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    t0 = time.perf_counter()
    if mode == "A":
        m = Medium.from_patches([(1.0, 1.0), (1.0, 0.01)])
        kappa_groups("A", lambda g, k: np.stack([run_exact(m, T, n, task_state(1000 + g, k, i)).sums
                                                 for i in range(k)]),
                     reference_msd(m, T) / (2 * T), distinct=False)
    elif mode == "B":
        pool = np.array([reference_msd(realisation(i), T, cells_per_l_min=8, method="contour")
                         for i in range(2500)])
        rows = iter(range(0, 10**6, 1))

        def lattice(g: int, k: int) -> np.ndarray:
            s = np.zeros((k, T.size, 5))
            s[:, :, 0] = 1.0
            s[:, :, 2] = pool[[next(rows) for _ in range(k)]]
            s[:, :, 3] = np.nan
            return s

        kappa_groups("B", lattice, pool.mean(axis=0) / (2 * T), distinct=True)
    elif mode == "C":
        pool = np.array([reference_msd(realisation(i), T, cells_per_l_min=16, method="contour")
                         for i in range(300)])
        first = iter(range(100_000, 10**7, 1))

        def own(g: int, k: int) -> np.ndarray:
            return np.stack([run_exact(realisation(next(first)), T, n,
                                       task_state(2000 + g, k, i)).sums for i in range(k)])

        kappa_groups("C", own, pool.mean(axis=0) / (2 * T), distinct=True)
    elif mode == "D":
        mode_d(n)
    elif mode == "N":
        mode_n()
    else:
        mode_e(n)
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
