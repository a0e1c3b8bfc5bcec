"""2D reference: block contour solver vs Lanczos quadrature, cost against the number of strips.

Medium: the issue-12 family (κ = 1 | 0.01, α = 2.5 on [1, 8] for both phases, l⊥ = 1,
κ⊥ = 0.01 so τ⊥ = 100) with strip length ``--length`` (default 9) and 4 … 512 strips,
generator seed 11 (task (0, 0)); one lattice per row (``--cells-per-l-min``, ``--cells-per-strip``,
no y-extrapolation), times 1, 10, 100. The block solver runs while its estimated work is below
``--block-max`` operations (else its estimate is printed); both run on one core.

Run: ``nice -n 5 uv run --all-packages python benchmarks/bench_reference2d.py [--strips 4 16 64]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from patchwalk_client.spec import load_spec
from patchwalk_worker.media import Medium, build_medium
from patchwalk_worker.reference2d import build_lattice_2d, msd_2d_block, work_estimate
from patchwalk_worker.reference2d_lanczos import lanczos_msd_2d, lanczos_step_estimate
from patchwalk_worker.task import medium_rng


def medium(strips: int, length: float, kappa_perp: float) -> Medium:
    """The issue-12 medium family with ``strips`` strips of ``length``."""
    spec = load_spec({
        "name": "bench-ref2d", "seed": 11, "kernel": "reference", "dimensions": 2,
        "medium": {"length": length, "l_perp": 1.0, "strips": strips,
                   "kappa_perp": kappa_perp,
                   "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": 2.5,
                                                      "l_min": 1.0, "l_max": 8.0}},
                   "low": {"kappa": 0.01, "patches": {"pdf": "same"}}},
        "particles": {"count": 1, "per_task": 1},
        "times": {"min": 1.0, "max": 100.0, "count": 3},
    })
    return build_medium(spec, medium_rng(11, 0, 0), 100.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strips", type=int, nargs="+", default=[4, 16, 64, 256, 512])
    ap.add_argument("--length", type=float, default=9.0)
    ap.add_argument("--kappa-perp", type=float, default=0.01)
    ap.add_argument("--cells-per-l-min", type=int, default=8)
    ap.add_argument("--cells-per-strip", type=int, default=4)
    ap.add_argument("--block-max", type=float, default=3e10)
    args = ap.parse_args()
    t = np.array([1.0, 10.0, 100.0])
    print("| strips | N_x × rows = cells | block (s) | Lanczos (s) | steps (estimate) "
          "| max rel. diff | κ̄(1), κ̄(10), κ̄(100) |")
    print("|---|---|---|---|---|---|---|")
    warm = build_lattice_2d(medium(2, 9.0, args.kappa_perp), cells_per_l_min=4,
                            cells_per_strip=2)
    lanczos_msd_2d(warm, t[:1])
    msd_2d_block(warm, t[:1])  # compile / load the numba caches
    for s in args.strips:
        lat = build_lattice_2d(medium(s, args.length, args.kappa_perp),
                               cells_per_l_min=args.cells_per_l_min,
                               cells_per_strip=args.cells_per_strip)
        t0 = time.process_time()
        res = lanczos_msd_2d(lat, t)
        t_lz = time.process_time() - t0
        work = work_estimate(lat, t.shape[0])
        blk_txt, diff_txt = f"(est. {work:.1e} ops)", "–"
        if work <= args.block_max:
            t0 = time.process_time()
            blk = msd_2d_block(lat, t)
            blk_txt = f"{time.process_time() - t0:.2f}"
            diff_txt = f"{np.max(np.abs(res.msd / blk - 1)):.1e}"
        kap = ", ".join(f"{v:.5f}" for v in res.msd / (2 * t))
        print(f"| {s} | {lat.n_cols} × {lat.n_rows} = {lat.n_cells} | {blk_txt} | {t_lz:.2f} "
              f"| {res.steps} ({lanczos_step_estimate(lat, float(t[-1]))}) | {diff_txt} "
              f"| {kap} |", flush=True)


if __name__ == "__main__":
    main()
