"""Coverage of combine_kappa's error bars for 2, 4 and 16 tasks (docs/kernels.md table).

Usage: ``uv run --all-packages python benchmarks/bench_error_coverage.py {A|B|C} [particles]``

* A — particle noise only: K tasks of the exact kernel on one explicit medium
  (κ = 1 | 0.01, lengths 1 | 1), z against its lattice reference; also the old error (the
  between-task spread alone).
* B — realisation spread only: K lattice references of random realisations (α = 2.5,
  l ∈ [0.2, 2], κ = 1 | 0.1, period 6), z against the mean of a pool of 2500.
* C — both: K exact-kernel tasks, each on its own realisation, z against the lattice
  ensemble mean of 300 realisations (16 cells per l_min).
Prints the fraction of |z| ≤ 2 at t = 0.01, 0.1, 1.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from patchwalk_worker.kernels import run_exact
from patchwalk_worker.media import Medium, generate_strip
from patchwalk_worker.patches import PowerLaw
from patchwalk_worker.reference import reference_msd
from patchwalk_worker.rng import task_state
from patchwalk_worker.summary import combine_kappa

T = np.array([0.01, 0.1, 1.0])


def realisation(i: int) -> Medium:
    pdf = PowerLaw(2.5, 0.2, 2.0)
    e, k = generate_strip(pdf, pdf, 1.0, 0.1, 6.0, np.random.default_rng([99, i]))
    return Medium.from_patches(list(zip(np.diff(e), k, strict=True)))


def cov(z: list[np.ndarray]) -> np.ndarray:
    return np.asarray(np.mean(np.abs(np.array(z)) <= 2, axis=0))


def main() -> None:
    mode = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    t0 = time.perf_counter()
    if mode == "A":
        m = Medium.from_patches([(1.0, 1.0), (1.0, 0.01)])
        ref = reference_msd(m, T) / (2 * T)
        for k, groups in ((2, 150), (4, 150), (16, 100)):
            z, z_old = [], []
            for g in range(groups):
                s = np.stack([run_exact(m, T, n, task_state(1000 + g, k, i)).sums
                              for i in range(k)])
                ks = combine_kappa(s, T)
                z.append((ks.kappa - ref) / ks.kappa_err)
                z_old.append((ks.kappa - ref) / ks.kappa_err_between)
            print(f"A K={k}: new {cov(z)} old {cov(z_old)}", flush=True)
    elif mode == "B":
        pool = np.array([reference_msd(realisation(i), T, cells_per_l_min=8)
                         for i in range(2500)])
        ens = pool.mean(axis=0)
        i = 0
        for k, groups in ((2, 150), (4, 150), (16, 100)):
            z = []
            for _ in range(groups):
                s = np.zeros((k, T.size, 5))
                s[:, :, 0] = 1.0
                s[:, :, 2] = pool[i:i + k]
                s[:, :, 3] = np.nan
                i += k
                ks = combine_kappa(s, T)
                z.append((ks.msd - ens) / ks.msd_err)
            print(f"B K={k}: {cov(z)}", flush=True)
    else:
        pool = np.array([reference_msd(realisation(i), T, cells_per_l_min=16)
                         for i in range(300)])
        ens = pool.mean(axis=0) / (2 * T)
        j = 100_000
        for k, groups in ((2, 80), (4, 50), (16, 25)):
            z, z_old = [], []
            for g in range(groups):
                s = np.stack([run_exact(realisation(j + i), T, n, task_state(2000 + g, k, i)).sums
                              for i in range(k)])
                j += k
                ks = combine_kappa(s, T)
                z.append((ks.kappa - ens) / ks.kappa_err)
                z_old.append((ks.kappa - ens) / ks.kappa_err_between)
            print(f"C K={k}: new {cov(z)} old {cov(z_old)}", flush=True)
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
