"""Monte-Carlo histograms of a point source (Fig. 2), beside the lattice density of density.py.

The Monte-Carlo kernels start their particles uniformly (κ̄(t) of eq. 2 is an average over
starts), so the density n(x, t) of ONE point source x0 (Fig. 2) needs particles started at x0.
:func:`point_source_kernel` runs them with the step rule of the ``exact`` kernel
(:mod:`patchwalk_worker.kernels.exact`: skew Brownian motion in y = x/√κ, the per-step interface
rule of VALIDATION item 4 via :func:`~patchwalk_worker.kernels.exact.interface_step`, steps
limited by the nearest interface and the neighbouring patch, exact exit-time jumps) and counts
Δx = x − x0 at every output time in fixed bins: integer counts, so the sum over tasks is the
same in any order and on any number of workers. This is also the point-source test of the
interface rule that VALIDATION item 5 asks for (κ̄(t) from a uniform start cannot see a wrong
rule; the density of one source can).

Every task of a point runs its particles on the realisation of task 0 of that point (the one
:func:`~patchwalk_worker.density.density_record` evolves on the lattice), from the same x0,
with the window and bins of :func:`~patchwalk_worker.density.density_window`; its particles use
the task's particle stream at indices 2⁴⁰ + p, disjoint from those of its κ̄ particles.
Counts are stored per task as ``tasks/hist`` (point, task, t, bin) with an underflow and an
overflow column: bin 0 holds Δx < −half_width, bin n_bins + 1 holds Δx ≥ half_width.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from patchwalk_worker.kernels.common import (
    exit_horizon,
    exit_table,
    exit_time_quantile,
    locate,
    neighbour,
)
from patchwalk_worker.kernels.exact import interface_step
from patchwalk_worker.media import Medium, build_medium
from patchwalk_worker.rng import medium_rng, particle_state, uniform

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.models import DensityPoint
    from patchwalk_client.spec import SweepSpec

#: Offset of the histogram particles' indices in the task's particle stream.
HIST_PARTICLE_OFFSET = 1 << 40


@njit(cache=True)
def point_source_kernel(
    edges: np.ndarray, kappa: np.ndarray, offsets: np.ndarray, length: float, x0: float,
    times: np.ndarray, n_particles: int, task: np.ndarray, safety: float, lo: float,
    width: float, counts: np.ndarray, table: np.ndarray, horizon: float, jump_gain: float,
) -> int:  # pragma: no cover - numba
    """Run ``n_particles`` from ``x0`` (strip 0 of a 1D medium) with the exact kernel's rule;
    add Δx at each output time to ``counts`` (n_times, n_bins + 2; bins of ``width`` from
    ``lo``, under/overflow at the ends). Returns the steps (jumps included)."""
    n_bins = counts.shape[1] - 2
    inv2s2 = 1.0 / (2.0 * safety * safety)
    inv_h = 1.0 / horizon
    sqk = np.sqrt(kappa)
    isqk = 1.0 / sqk
    uext = np.empty(kappa.shape[0])
    for gg in range(offsets[0], offsets[1]):
        uext[gg] = (edges[gg + 1] - edges[gg]) * isqk[gg]
    rs = np.empty(4, dtype=np.uint64)
    steps = 0
    for p in range(n_particles):
        particle_state(task, HIST_PARTICLE_OFFSET + p, rs)
        x = x0
        g, w = locate(edges, offsets, 0, length, x)
        t = 0.0
        for k in range(times.shape[0]):
            tk = times[k]
            while t < tk:
                a = edges[g] + w * length
                b = edges[g + 1] + w * length
                sc = sqk[g]
                if b - x <= x - a:
                    direction, pn, pf = 1, b, a
                else:
                    direction, pn, pf = -1, a, b
                un = max(direction * (pn - x), 0.0) * isqk[g]
                uf = max(direction * (x - pf), 0.0) * isqk[g]
                gn, wn = neighbour(g, w, 0, offsets, direction)
                sn = sqk[gn]
                unx = uext[gn]
                dt = min(uf, un + unx) ** 2 * inv2s2
                rem = tk - t
                if jump_gain > 0.0 and dt < rem:
                    on_if = un <= 0.0
                    r = min(uf, unx) if on_if else un
                    r = min(r, math.sqrt(rem * inv_h))
                    if 0.5 * r * r >= jump_gain * dt:
                        tau = r * r * exit_time_quantile(uniform(rs), table)
                        if tau > rem:  # P <= 2Φ(-safety): neglected, stay put
                            tau = rem
                        elif not on_if:
                            if uniform(rs) < 0.5:
                                x = pn if r == un else x + direction * r * sc
                            else:
                                x = pf if r == uf else x - direction * r * sc
                        elif uniform(rs) * (sc + sn) < sn:  # skew BM: beyond, p = sn/(sc+sn)
                            x = pn + direction * r * sn
                            g, w = gn, wn
                        else:
                            x = pf if r == uf else pn - direction * r * sc
                        if x < edges[g] + w * length or x >= edges[g + 1] + w * length:
                            g, w = locate(edges, offsets, 0, length, x)
                        steps += 1
                        t = min(t + tau, tk)
                        continue
                last = dt >= rem
                if last:
                    dt = rem
                x, _touched, crossed = interface_step(x, pn, direction, kappa[g], sc, sn, un,
                                                      dt, rs)
                if crossed:
                    g, w = gn, wn
                if x < edges[g] + w * length or x >= edges[g + 1] + w * length:
                    g, w = locate(edges, offsets, 0, length, x)
                steps += 1
                t = tk if last else t + dt
            j = math.floor((x - x0 - lo) / width)
            if j < 0:
                counts[k, 0] += 1
            elif j >= n_bins:
                counts[k, n_bins + 1] += 1
            else:
                counts[k, j + 1] += 1
    return steps


def point_source_histogram(
    medium: Medium, x0: float, times: np.ndarray, n_particles: int, state: np.ndarray,
    bin_edges: np.ndarray, *, safety: float = 8.0, jump_gain: float = 4.0,
) -> tuple[np.ndarray, int]:
    """Counts of Δx = x(t) − x0 of ``n_particles`` started at ``x0`` in a 1D ``medium``.

    Parameters
    ----------
    medium : Medium
        One strip (1D), κ per patch.
    x0 : float
        Source, in [0, length).
    times : ndarray
        Output times, strictly increasing, > 0.
    n_particles : int
        Particles (each its own stream of ``state``, indices ``HIST_PARTICLE_OFFSET + p``).
    state : ndarray of uint64, shape (4,)
        The task's state (:func:`patchwalk_worker.rng.task_state`).
    bin_edges : ndarray
        Equal bins (offsets from x0), increasing.
    safety, jump_gain : float
        As for :func:`patchwalk_worker.kernels.exact.run_exact`.

    Returns
    -------
    counts : ndarray of int64, shape (n_times, n_bins + 2)
        Underflow, the bins, overflow; each row sums to ``n_particles``.
    steps : int
    """
    if medium.n_strips != 1:
        raise ValueError("point-source histograms need a 1D medium (dimensions = 1)")
    be = np.asarray(bin_edges, dtype=np.float64)
    width = float(be[1] - be[0])
    if be.ndim != 1 or be.size < 2 or not np.allclose(np.diff(be), width, rtol=1e-9):
        raise ValueError("bin_edges must be >= 2 equally spaced, increasing values")
    t = np.ascontiguousarray(times, dtype=np.float64)
    counts = np.zeros((t.size, be.size + 1), dtype=np.int64)
    steps = point_source_kernel(
        medium.edges, medium.kappa, medium.offsets, float(medium.length), float(x0), t,
        int(n_particles), np.ascontiguousarray(state, dtype=np.uint64), float(safety),
        float(be[0]), width, counts, exit_table(), exit_horizon(float(safety)),
        float(jump_gain))
    return counts, int(steps)


def wants_histogram(spec: SweepSpec) -> bool:
    """Whether a point's tasks accumulate point-source histograms: a ``[density]`` table with
    the ``exact`` kernel in 1D (the other kernels serve the lattice density only)."""
    return spec.density is not None and spec.kernel == "exact" and int(spec.dimensions) == 1


def n_hist_bins(spec: SweepSpec) -> int:
    """Columns of a point's histogram rows: ``density.bins`` + under- and overflow."""
    return int(spec.density.bins) + 2 if spec.density is not None else 0


def task_histogram(spec: SweepSpec, point: int, task: int, medium: Medium, times: np.ndarray,
                   n_particles: int, state: np.ndarray) -> np.ndarray | None:
    """The histogram counts of task ``(point, task)`` (None when the point has none).

    ``medium`` is the task's own realisation; tasks other than 0 rebuild that of task 0.
    """
    from patchwalk_worker.density import density_window

    if not wants_histogram(spec):
        return None
    med = medium if task == 0 else build_medium(spec, medium_rng(spec.seed, point, 0),
                                                float(times[-1]))
    x0, bin_edges = density_window(spec, med, times)
    counts, _ = point_source_histogram(med, x0, times, n_particles, state, bin_edges,
                                       safety=spec.exact.safety)
    return counts


def histogram_record(lattice: DensityPoint, counts: np.ndarray) -> DensityPoint:
    """The ``method = "histogram"`` record of a point from its tasks' counts, summed.

    ``counts`` is (n_tasks, n_times, n_bins + 2) int64, summed over tasks here (integers: the
    same total in any order). Density = count/(N·width) per bin; ``mass`` is the fraction
    inside the window; ``msd`` uses bin centres and is None at a time with particles outside
    the window. Window, source and staircase are those of the ``lattice`` record.
    """
    total = np.sum(np.asarray(counts, dtype=np.int64), axis=0)
    n = int(total[0].sum())
    edges = np.asarray(lattice.edges, dtype=np.float64)
    width = np.diff(edges)
    inside = total[:, 1:-1].astype(np.float64)
    centre = 0.5 * (edges[1:] + edges[:-1])
    dens = inside / (max(n, 1) * width)
    mass = inside.sum(axis=1) / max(n, 1)
    outside = (total[:, 0] + total[:, -1]) > 0
    msd = np.where(outside, math.nan, inside @ centre**2 / max(n, 1))

    def nums(a: Any) -> list[float | None]:
        return [float(v) if math.isfinite(v) else None
                for v in np.asarray(a, dtype=np.float64).tolist()]

    return lattice.model_copy(update={
        "density": [nums(r) for r in dens], "mass": nums(mass), "msd": nums(msd),
        "method": "histogram", "n_particles": n,
    })
