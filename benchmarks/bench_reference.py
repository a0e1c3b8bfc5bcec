"""Benchmark of the deterministic reference: cells/s and wall time for 10⁵ and 10⁶ cells × 40 times.

Run: ``uv run --all-packages python benchmarks/bench_reference.py [--sizes 1e5 1e6]``.
Prints one line per size; also checks ``contour`` against ``eigen`` on a small lattice.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from patchwalk_worker.media import generate_two_phase
from patchwalk_worker.patches import PowerLaw
from patchwalk_worker.reference import build_lattice, msd_contour, msd_eigen


def lattice_of_size(n_cells: int, rng: np.random.Generator):  # noqa: ANN201
    """A α = 3, l ∈ [1, 1000], κ = 1 | 1e-4 medium long enough for about ``n_cells`` cells."""
    pdf = PowerLaw(3.0, 1.0, 1000.0)
    length = 2.0
    while True:
        m = generate_two_phase(pdf, pdf, 1.0, 1e-4, length, rng)
        lat = build_lattice(m.edges, m.kappa, cells_per_l_min=64, l_min=1.0)
        if lat.n_cells >= n_cells:
            return lat
        length *= max(1.1, n_cells / lat.n_cells)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6])
    ap.add_argument("--times", type=int, default=40)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t = np.geomspace(1e-2, 1e8, args.times)
    small = lattice_of_size(1500, rng)
    msd_contour(small, t[:1])  # compile / load cache
    err = np.max(np.abs(msd_contour(small, t) / msd_eigen(small, t) - 1))
    print(f"contour vs eigen on {small.n_cells} cells: max rel diff {err:.1e}")
    for n in args.sizes:
        lat = lattice_of_size(int(n), rng)
        t0 = time.perf_counter()
        msd_contour(lat, t)
        wall = time.perf_counter() - t0
        rate = lat.n_cells * args.times / wall
        print(f"{lat.n_cells:>9d} cells x {args.times} times: {wall:7.2f} s, "
              f"{rate:.3e} cell-times/s")


if __name__ == "__main__":
    main()
