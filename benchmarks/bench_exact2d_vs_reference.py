"""2D ``exact`` kernel against the deterministic 2D reference on the issue-12 medium.

Medium: the project's generator with seed 11 (task (0, 0)), strip length 32, l_⊥ = 1,
4 strips, κ = 1 | 0.01, α = 2.5 on [1, 8] for both phases. For each κ⊥ the reference κ̄_2D(t)
(:mod:`patchwalk_worker.reference2d`, default grid) is compared with the kernel's κ̄ ± σ
(particle standard error), particles run in chunks of independent task streams so that a
partial run still prints a valid table.

Usage: ``python benchmarks/bench_exact2d_vs_reference.py KPERP[,KPERP..] PARTICLES TIMES
[CHUNK] [--no-reference] [--strips=N] [--l-perp=X] [--ref-cells=CPL,CPS]`` e.g.
``... 0.01 40000 1,100,300 2000``. ``--no-reference`` skips the reference (to time or compare
another kernel version on the same medium); ``--strips``/``--l-perp`` change the medium (the
many-strip rows of docs/kernels.md), ``--ref-cells`` the reference grid (cells_per_l_min,
cells_per_strip; default 32, 16).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from patchwalk_client.spec import load_spec
from patchwalk_worker.kernels import run_exact
from patchwalk_worker.media import Medium, build_medium
from patchwalk_worker.rng import task_state
from patchwalk_worker.task import medium_rng


def issue_medium(kappa_perp: float, strips: int = 4, l_perp: float = 1.0) -> Medium:
    """The issue-12 validation medium with κ⊥ = ``kappa_perp`` (optionally more strips or
    another l⊥)."""
    spec = load_spec({
        "name": "issue12-2d", "seed": 11, "kernel": "exact", "dimensions": 2,
        "medium": {"length": 32.0, "l_perp": l_perp, "strips": strips,
                   "kappa_perp": kappa_perp,
                   "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": 2.5,
                                                      "l_min": 1.0, "l_max": 8.0}},
                   "low": {"kappa": 0.01, "patches": {"pdf": "same"}}},
        "particles": {"count": 1, "per_task": 1},
        "times": {"min": 0.1, "max": 1e4, "count": 3},
    })
    return build_medium(spec, medium_rng(11, 0, 0), 1e4)


def main(argv: list[str]) -> None:
    no_ref = "--no-reference" in argv
    opts = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    strips = int(opts.get("strips", 4))
    l_perp = float(opts.get("l-perp", 1.0))
    cpl, cps = (int(v) for v in opts.get("ref-cells", "32,16").split(","))
    args = [a for a in argv if not a.startswith("--")]
    kperps = [float(v) for v in args[0].split(",")]
    n_total = int(args[1])
    times = np.array([float(v) for v in args[2].split(",")])
    chunk = int(args[3]) if len(args) > 3 else 2000
    for kp in kperps:
        m = issue_medium(kp, strips, l_perp)
        ref = np.full(times.shape, np.nan)
        if not no_ref:
            from patchwalk_worker.reference2d import reference_kappa_2d

            t0 = time.time()
            ref = reference_kappa_2d(m, times, cells_per_l_min=cpl, cells_per_strip=cps)
            print(f"# kperp={kp:g} reference {time.time() - t0:.0f} s: "
                  + " ".join(f"{v:.6f}" for v in ref), flush=True)
        sums = np.zeros((times.shape[0], 5))
        steps = 0
        wall = 0.0
        for c in range(n_total // chunk):
            t0 = time.time()
            r = run_exact(m, times, chunk, task_state(11, 0, c))
            wall += time.time() - t0
            sums += r.sums
            steps += r.steps
            n = sums[:, 0]
            m2 = sums[:, 2] / n
            k = m2 / (2 * times)
            e = np.sqrt((sums[:, 3] / n - m2**2) / n) / (2 * times)
            rows = " | ".join(
                f"t={t:g}: {kk:.5f}±{ee:.5f} ({(kk / rr - 1) * 100:+.2f}%, z {(kk - rr) / ee:+.1f})"
                for t, kk, ee, rr in zip(times, k, e, ref, strict=True))
            print(f"kperp={kp:g} N={int(n[0])} steps/p={steps / n[0]:.3g} "
                  f"wall/p={wall / n[0] * 1e3:.2f} ms | {rows}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
