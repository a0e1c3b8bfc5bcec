"""Escape (first-passage) times of the kernels against the deterministic mean first-passage time.

Usage: ``uv run --all-packages python benchmarks/bench_escape.py [particles] [plain]``.
Prints, per medium and L, the Monte-Carlo ⟨τ⟩ ± σ, the exact value of
:func:`patchwalk_worker.first_passage.mean_first_passage`, the relative deviation and z. All
particles must escape before t_max = 40 ⟨τ⟩_max (checked). docs/kernels.md has the figures.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from patchwalk_worker.first_passage import mean_first_passage
from patchwalk_worker.kernels import run_exact
from patchwalk_worker.media import Medium
from patchwalk_worker.rng import task_state

CASES = [
    ([(8.0, 0.5)], [0.2, 0.7, 2.5]),
    ([(10.0, 1.0)], [0.3]),
    ([(1.0, 1.0), (0.5, 0.01)], [0.9, 1.0, 1.1]),
]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    modes = (True, False) if len(sys.argv) > 2 and sys.argv[2] == "plain" else (True,)
    for patches, dist in CASES:
        m = Medium.from_patches(patches)
        L = np.array(dist)
        ref = mean_first_passage(m, L)
        for jumps in modes:
            t0 = time.perf_counter()
            r = run_exact(m, [40 * ref[:, 0].max()], n, task_state(1, 0, int(jumps)), escape=L,
                          jumps=jumps)
            c, s1, s2 = r.esc[:, :3].T
            mean = s1 / c
            err = np.sqrt((s2 / c - mean**2) / c)
            print(f"{patches} jumps={jumps} n={n} ({time.perf_counter() - t0:.1f} s, "
                  f"escaped {c.min() / n:.4f})")
            for j in range(L.size):
                print(f"  L={L[j]:<4g} MC {mean[j]:.5g} ± {err[j]:.2g}  exact {ref[j, 0]:.5g}  "
                      f"{mean[j] / ref[j, 0] - 1:+.2%}  z {(mean[j] - ref[j, 0]) / err[j]:+.2f}")


if __name__ == "__main__":
    main()
