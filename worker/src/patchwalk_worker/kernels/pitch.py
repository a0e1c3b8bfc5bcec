"""The ``pitch`` kernel: pitch-angle random walk (eqs D4, D5).

x(t+Δt) = x + v cos θ Δt                            (D4)
θ(t+Δt) = θ + √(2σ(x)Δt) χ                          (D5)

with θ(0) uniform on the circle and σ(x) = v² / (2κ(x)). The factor 2 follows from this update
rule (docs/kernels.md; VALIDATION item 8): for constant σ, ⟨cos θ(t) cos θ(0)⟩ = ½ e^{-σt}, so
⟨Δx²⟩ = v² ∫∫ ½ e^{-σ|s-s'|} = (v²/σ)[t - (1 - e^{-σt})/σ] and

κ̄(t) = κ [1 - (1 - e^{-σt})/(σt)],  κ = v²/(2σ)

(the paper writes v²/σ = κ). Δt = ``courant``/σ_max. The discrete walk has the same cosine
correlation exactly (E cos(√(2σΔt)χ) = e^{-σΔt}), and its diffusion coefficient differs from
v²/(2σ) only by a factor 1 + (σΔt)²/12. σ is piecewise constant (no smoothing needed); in 2D, y
diffuses with κ⊥ as in the other kernels (D2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit
from patchwalk_client.options import PitchOptions

from ..media import Medium
from ..rng import normal, particle_state, uniform
from .common import (
    KernelResult,
    check_args,
    locate,
    neighbour,
    perp_step,
    record,
    record_escape,
    start_position,
)
from .kernel import Kernel, escape_distances, l_min

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec


@njit(cache=True)
def pitch_kernel(
    edges: np.ndarray, kappa: np.ndarray, offsets: np.ndarray, length: float, l_perp: float,
    kappa_perp: float, times: np.ndarray, esc_dist: np.ndarray, n_particles: int,
    task: np.ndarray, v: float, dt: float, sums: np.ndarray, esc: np.ndarray, halt: bool,
) -> int:
    """Pitch-angle walkers (D4, D5); fill ``sums``/``esc``; return particle-steps.

    Within a step x moves on a straight line (D4), so the first passage |Δx| ≥ L is found at
    the step's end and timed exactly by linear interpolation. ``halt`` (``escape.stop``): a
    particle stops after the step in which it passed the largest distance.
    """
    n_strips = offsets.shape[0] - 1
    height = n_strips * l_perp
    two_d = n_strips > 1 and kappa_perp > 0.0
    y_moves = kappa_perp > 0.0
    n_times = times.shape[0]
    n_dist = esc_dist.shape[0]
    sigma = v * v / (2.0 * kappa)
    rs = np.empty(4, dtype=np.uint64)
    two_pi = 2.0 * math.pi
    steps = 0
    for p in range(n_particles):
        particle_state(task, p, rs)
        x, y, s, g, w = start_position(rs, edges, offsets, length, height, n_strips, l_perp)
        theta = (uniform(rs) - 0.5) * two_pi
        x0 = x
        y0 = y
        jp = 0  # esc_dist sorted: esc_dist[jp:] pending
        t = 0.0
        a = edges[g + s] + w * length
        b = edges[g + s + 1] + w * length
        for k in range(n_times):
            tk = times[k]
            while t < tk:
                if halt and jp >= n_dist:
                    break
                rem = tk - t
                h = dt
                last = h >= rem * (1.0 - 1e-12)
                if last:
                    h = rem
                x1 = x + v * math.cos(theta) * h
                theta += math.sqrt(2.0 * sigma[g] * h) * normal(rs)
                if theta > math.pi:
                    theta -= two_pi
                elif theta < -math.pi:
                    theta += two_pi
                d1 = x1 - x0
                while jp < n_dist and abs(d1) >= esc_dist[jp]:
                    # straight-line motion: the crossing time is the linear interpolant
                    d0 = x - x0
                    lev = esc_dist[jp] if d1 > d0 else -esc_dist[jp]
                    tau = t + h * min(max((lev - d0) / (d1 - d0), 0.0), 1.0)
                    record_escape(esc, jp, tau)
                    jp += 1
                x = x1
                moved = False
                if x >= b or x < a:
                    gg, ww = neighbour(g, w, s, offsets, 1 if x >= b else -1)
                    if edges[gg + s] + ww * length <= x < edges[gg + s + 1] + ww * length:
                        g = gg
                        w = ww
                    else:
                        g, w = locate(edges, offsets, s, length, x)
                    moved = True
                if y_moves:
                    y, s, g, w, changed = perp_step(y, math.sqrt(2.0 * kappa_perp * h), rs, x, s,
                                                    g, w, two_d, edges, offsets, length, height,
                                                    l_perp, n_strips)
                    moved = moved or changed
                if moved:
                    a = edges[g + s] + w * length
                    b = edges[g + s + 1] + w * length
                steps += 1
                if last:
                    t = tk
                else:
                    t += h
            if halt and jp >= n_dist:
                break  # escape.stop: passed the largest distance
            record(sums, k, x - x0, y - y0)
    return steps


def pitch_step(kappa_min: float, v: float, courant: float) -> float:
    """Time step ``courant / σ_max`` with σ = v²/(2κ) (eq. D5; the one definition)."""
    return courant * 2.0 * kappa_min / (v * v)


def pitch_dt(medium: Medium, v: float, courant: float) -> float:
    """Time step ``courant / σ_max`` on a realisation (its smallest κ)."""
    return pitch_step(float(np.min(medium.kappa)), v, courant)


def run_pitch(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    *, escape: Sequence[float] | np.ndarray = (), v: float = 1.0, courant: float = 0.05,
    stop: bool = False,
) -> KernelResult:
    """Run the pitch-angle kernel (D4, D5) with σ(x) = v²/(2κ(x)).

    Parameters
    ----------
    medium, times, n_particles, state, escape
        As for :func:`~patchwalk_worker.kernels.exact.run_exact`.
    v : float
        Particle speed; the mean free path in a patch is v/σ = 2κ/v, and the diffusive picture
        needs it below the patch sizes.
    courant : float
        σ_max Δt (default 0.05).
    stop : bool
        ``escape.stop``: end each particle's walk once it has passed the largest distance.
    """
    t, esc_in, st, sums, esc_sorted = check_args(medium, times, n_particles, state, escape)
    order = np.argsort(esc_in, kind="stable")  # the kernel walks the levels nearest first
    esc_d = np.ascontiguousarray(esc_in[order])
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"v must be positive and finite (got {v})")
    if not courant > 0.0:
        raise ValueError(f"courant must be > 0 (got {courant}); default 0.05")
    steps = pitch_kernel(
        medium.edges, medium.kappa, medium.offsets, float(medium.length),
        float(medium.l_perp) if medium.n_strips > 1 else 0.0, float(medium.kappa_perp),
        t, esc_d, int(n_particles), st, float(v), pitch_dt(medium, v, courant), sums,
        esc_sorted, bool(stop) and esc_d.size > 0,
    )
    esc = np.empty_like(esc_sorted)
    esc[order] = esc_sorted
    return KernelResult(sums=sums, esc=esc, steps=int(steps))


def spec_dt(spec: SweepSpec) -> float:
    """Time step ``courant / σ_max`` of a point (its smallest κ)."""
    return pitch_step(min(spec.phase_kappas()), spec.pitch.v, spec.pitch.courant)


def mean_free_path(spec: SweepSpec) -> float:
    """Longest mean free path v/σ = 2κ_max/v; the paper keeps it below l_min (Appendix D)."""
    return 2.0 * max(spec.phase_kappas()) / spec.pitch.v


def _cost(spec: SweepSpec) -> float:
    """count · t_max / Δt: exactly the steps the kernel takes."""
    return spec.particles.count * spec.times.max / spec_dt(spec)


def _check(spec: SweepSpec, max_bytes: float) -> list[dict[str, str]]:
    """The walk must scatter within a patch: mean free path < shortest patch."""
    mfp, shortest = mean_free_path(spec), l_min(spec)
    if mfp < shortest:
        return []
    k_max = max(spec.phase_kappas())
    return [{"loc": "pitch.v", "msg": (
        f"v = {spec.pitch.v:g} gives a mean free path 2*kappa_max/v = {mfp:g} >= the "
        f"shortest patch {shortest:g}; the pitch-angle walk must scatter within a patch: "
        f"raise pitch.v above {2 * k_max / shortest:g}")}]


def _run(spec: SweepSpec, medium: Medium, times: np.ndarray, n_particles: int,
         state: np.ndarray) -> KernelResult:
    o = spec.pitch
    return run_pitch(medium, times, n_particles, state, escape=escape_distances(spec),
                     v=o.v, courant=o.courant, stop=spec.escape.stop)


KERNEL = Kernel(
    name="pitch", options=PitchOptions, run=_run, cost=_cost, dt=spec_dt, check=_check,
    advice=("times.max", "lower times.max or particles.count, or raise pitch.courant"),
)
