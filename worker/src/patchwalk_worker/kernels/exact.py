"""The ``exact`` kernel: skew Brownian motion through piecewise-constant κ (the default).

Within a patch the particle of eq. (1) moves as dx = √(2κ) dW. In y = (x - x_I)/√κ± on either
side of an interface x_I it is a skew Brownian motion with unit diffusivity that leaves the
interface to the + side with probability p = √κ₊/(√κ₊ + √κ₋) (the invariant density of x is
uniform, so that of y is ∝ √κ± on each side; VALIDATION item 4). A step of length Δt near one
interface is therefore exact: y₁ = y₀ + √(2Δt) ξ; the path touched the interface if the sign
changed, or otherwise with the Brownian-bridge probability exp(-y₀y₁/Δt); if it touched, |y₁|
is kept and put on the + side with probability p, then mapped back with that side's √κ.

Step sizes are adapted per particle so that only the nearest interface can matter: with
``u`` distances in y units and ``s`` = ``safety``, Δt = min(u_far, u_near + u_next)² / (2s²),
where u_far is the distance to the other edge of the current patch and u_near + u_next the
shortest path that crosses the nearest interface and the whole neighbouring patch. Any other
event needs a Brownian excursion of more than ``s`` standard deviations (probability
≈ 2Φ(-s) ≈ 1e-15 per step for s = 8); such an event, if it happens, is still placed in the right
patch by a binary search. Steps stop exactly on the output times. There is no smoothing and no
Δt bias: the only approximation is the neglected > s-sigma event.

Exit-time jumps (default; ``jumps=False`` gives the plain scheme above). Short fast patches
would otherwise cost ~l²/(2s²κ) per step. Instead, when the time left to the next output time
allows it, the particle jumps exactly to the exit of a y-interval of half-width r:

* inside a patch (distance u > 0 to the nearest interface): the symmetric interval
  [y - r, y + r], r = u, lies in the patch, so the exit time is r²T and the exit side ±r has
  probability ½ each; with r = u the + end is exactly the interface;
* on an interface (u = 0): |y| is a reflected BM, so the exit of the skew BM from
  [-r, r] (r = min(whole current patch, whole neighbour patch) in y) also takes r²T, and it
  leaves on the neighbour's side with probability p = √κₙ/(√κₙ + √κ_c) (the skew rule).

T is the exit time from [-1, 1] of a unit-diffusivity BM from 0 (E T = 1/2, E T² = 5/12),
sampled by exact inversion of its series (``common.exit_time_quantile``: table start, Newton on
the image/eigenfunction series to 1e-13). A jump may not overrun the next output time: r is
capped so that r²·s_h ≤ time left, where P(T > s_h) = 2Φ(-s) (s_h ≈ 14.0 for s = 8) — the
same per-step neglected probability as the steps' (≈ 1.2e-15); if T does overrun (that
probability) the particle is left where it was until the output time. A jump is taken only if its
mean duration r²/2 is ≥ ``jump_gain`` ordinary steps, otherwise (and for the final step onto an
output time) the ordinary step is used. Jumps are off in 2D with κ⊥ > 0 and never straddle a
pending escape level (a level is an event point, so it is at most an end of the interval; the
path stays inside the interval, and an exit through a level is its passage at the exact time).

``safety`` s = 8 (spec option ``exact.safety``): a step or a jump's overrun goes wrong with
probability 2Φ(-s) ≈ 1.2e-15 per step (docs/kernels.md on the choice).

2D (Appendix D, eq. D2; κ⊥ > 0): :func:`run_exact` hands the medium to
:func:`.exact2d.exact2d_kernel`, which crosses strip edges exactly (an edge crossing is an
event like an interface crossing; derivation in docs/kernels.md). ``exact_kernel`` below is the
1D (and κ⊥ = 0) kernel.

First passage (|Δx| ≥ L), exact: pending levels x₀ ± L (distances walked nearest first) are
step events like the interfaces — the event points of a patch are its edges or a level inside
it, and beyond an interface the neighbour counts only up to a level in it, so an interface step
never reaches a level. A step whose nearest event is a level is a free step: (BB1) of
:mod:`.bridge` decides whether it touched the level, (BB2) samples when; the passage is recorded
then and the particle restarts from the level (exact: τ depends only on the path before it).
Jumps end exactly on levels. Only a > s σ excursion can pass a level unseen (recorded at the
step's end). docs/kernels.md, "Escape times".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit
from patchwalk_client.options import ExactOptions

from ..media import Medium
from ..rng import normal, particle_state, uniform
from .bridge import bridge_hit, bridge_hit_time, record_level, record_passed
from .common import (
    KernelResult,
    check_args,
    exit_horizon,
    exit_table,
    exit_time_quantile,
    locate,
    neighbour,
    record,
    start_position,
)
from .kernel import Kernel, escape_distances, l_min

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec


@njit(cache=True, inline="always")
def interface_step(
    x: float, xi_: float, direction: int, kc: float, sc: float, sn: float, un: float, dt: float,
    rs: np.ndarray,
) -> tuple[float, bool, bool]:
    """One exact step of length ``dt`` next to the interface at ``xi_`` (VALIDATION item 4).

    The particle is at ``x`` in a patch of κ = ``kc`` (√κ = ``sc``), at distance ``un`` (in
    y = x/√κ units) from the interface, which lies in ``direction`` (±1); √κ beyond it is ``sn``.
    Returns (new x, whether the path touched the interface, whether it ended beyond it).
    """
    dxs = math.sqrt(2.0 * kc * dt) * normal(rs)
    y1u = un - direction * dxs / sc  # y distance to the interface at the end, > 0 on own side
    touched = y1u <= 0.0
    if not touched:
        q = un * y1u / dt  # Brownian bridge: P(touch) = exp(-y0 y1 / dt)
        if q < 40.0 and uniform(rs) < math.exp(-q):
            touched = True
    if not touched:
        return x + dxs, False, False
    ay = abs(y1u)
    if uniform(rs) * (sc + sn) < sn:  # + side with p = sqrt(k+)/(sqrt(k+) + sqrt(k-))
        return xi_ + direction * ay * sn, True, True
    return xi_ - direction * ay * sc, True, False


@njit(cache=True)
def exact_kernel(
    edges: np.ndarray, kappa: np.ndarray, offsets: np.ndarray, length: float, l_perp: float,
    kappa_perp: float, times: np.ndarray, esc_dist: np.ndarray, n_particles: int,
    task: np.ndarray, safety: float, sums: np.ndarray, esc: np.ndarray,
    exit_table: np.ndarray, horizon: float, jump_gain: float, halt: bool,
) -> int:
    """Run ``n_particles`` skew-Brownian particles; fill ``sums`` and ``esc``; return steps.

    Parameters are the flat arrays of :class:`~patchwalk_worker.media.Medium`, the output
    ``times`` (increasing), escape distances, the task's xoshiro state and the output arrays
    (docs/interfaces.md §3); ``exit_table`` (:func:`~.common.exit_quantile_table`), ``horizon``
    (jumps of half-width r need r²·horizon ≤ time left) and ``jump_gain`` (a jump is taken when
    its mean duration r²/2 is at least ``jump_gain`` ordinary steps; 0 disables jumps) and
    ``halt`` (``escape.stop``: a particle stops once it has passed the largest distance; its
    draws until then are those of ``halt = False``, so ``esc`` is bitwise the same, while
    ``sums`` then lack it at the later output times). y never moves here (κ⊥ > 0 runs in
    :func:`.exact2d.exact2d_kernel`); strips are independent 1D media.
    Allocates only a few work arrays per call (O(patches)), nothing per step. Jumps and
    ordinary steps both count as steps.
    """
    n_strips = offsets.shape[0] - 1
    height = n_strips * l_perp
    jumps = jump_gain > 0.0
    n_times = times.shape[0]
    n_dist = esc_dist.shape[0]
    inv2s2 = 1.0 / (2.0 * safety * safety)
    inv_h = 1.0 / horizon
    n_patch = kappa.shape[0]
    sqk = np.sqrt(kappa)
    isqk = 1.0 / sqk
    uext = np.empty(n_patch)  # patch length in y = x/√κ units
    for st in range(n_strips):
        for gg in range(offsets[st], offsets[st + 1]):
            uext[gg] = (edges[gg + st + 1] - edges[gg + st]) * isqk[gg]
    rs = np.empty(4, dtype=np.uint64)
    steps = 0
    for p in range(n_particles):
        particle_state(task, p, rs)
        x, y, s, g, w = start_position(rs, edges, offsets, length, height, n_strips, l_perp)
        x0 = x
        y0 = y
        jp = 0  # distances are sorted: esc_dist[jp:] are pending
        lp = esc_dist[0] if n_dist > 0 else math.inf
        lvl_hi = x0 + lp
        lvl_lo = x0 - lp
        t = 0.0
        for k in range(n_times):
            tk = times[k]
            while t < tk:
                if halt and jp >= n_dist:
                    break
                base = g + s
                a = edges[base] + w * length
                b = edges[base + 1] + w * length
                kc = kappa[g]
                sc = sqk[g]
                # event points of the patch: its edges, or a pending level inside it
                lev_r = lvl_hi <= b
                lev_l = lvl_lo >= a
                pr = lvl_hi if lev_r else b
                pl = lvl_lo if lev_l else a
                if pr - x <= x - pl:
                    direction = 1
                    near_lvl = lev_r
                    far_lvl = lev_l
                    pn = pr
                    pf = pl
                    xi_ = b
                else:
                    direction = -1
                    near_lvl = lev_l
                    far_lvl = lev_r
                    pn = pl
                    pf = pr
                    xi_ = a
                un = max(direction * (pn - x), 0.0) * isqk[g]  # y distance to the near event
                uf = max(direction * (x - pf), 0.0) * isqk[g]  # ... and to the far one
                gn, wn = neighbour(g, w, s, offsets, direction)
                sn = sqk[gn]
                unx = uext[gn]  # beyond the interface: up to the neighbour's far edge or a level
                lvl_n = False
                if not near_lvl:
                    if direction > 0:
                        if lvl_hi < b + unx * sn:
                            unx = (lvl_hi - b) / sn
                            lvl_n = True
                    elif lvl_lo > a - unx * sn:
                        unx = (a - lvl_lo) / sn
                        lvl_n = True
                    lim = min(uf, un + unx)
                else:
                    lim = uf  # the path is free until it meets the level (then it restarts)
                dt = lim * lim * inv2s2
                rem = tk - t
                if jumps and dt < rem:
                    # exact jump to the exit of a y-interval of half-width r: centred (its
                    # ends at most the nearest event), or straddling the interface it sits on
                    on_if = un <= 0.0 and not near_lvl
                    r = min(uf, unx) if on_if else un
                    r = min(r, math.sqrt(rem * inv_h))
                    if 0.5 * r * r >= jump_gain * dt:
                        tau = r * r * exit_time_quantile(uniform(rs), exit_table)
                        hit = False
                        if tau > rem:  # P <= 2Phi(-safety): neglected, stay put
                            tau = rem
                        elif not on_if:
                            if uniform(rs) < 0.5:  # towards the near event
                                if r == un:
                                    x = pn
                                    hit = near_lvl
                                else:
                                    x = x + direction * r * sc
                            elif r == uf:
                                x = pf
                                hit = far_lvl
                            else:
                                x = x - direction * r * sc
                        elif uniform(rs) * (sc + sn) < sn:  # skew BM: beyond, p = sn/(sc+sn)
                            if r == unx and lvl_n:
                                x = lvl_hi if direction > 0 else lvl_lo
                                hit = True
                            else:
                                x = xi_ + direction * r * sn
                                g = gn
                                w = wn
                        elif r == uf:
                            x = pf
                            hit = far_lvl
                        else:
                            x = xi_ - direction * r * sc
                        if hit:
                            jp = record_level(esc, esc_dist, jp, t + tau)
                        jp = record_passed(esc, esc_dist, jp, abs(x - x0), t + tau)
                        lp = esc_dist[jp] if jp < n_dist else math.inf
                        lvl_hi = x0 + lp
                        lvl_lo = x0 - lp
                        base = g + s
                        if x < edges[base] + w * length or x >= edges[base + 1] + w * length:
                            g, w = locate(edges, offsets, s, length, x)
                        steps += 1
                        t += tau
                        if t >= tk:
                            t = tk
                        continue
                last = dt >= rem
                if last:
                    dt = rem
                if near_lvl:
                    # free step towards a pending level: (BB1) decides whether it was touched,
                    # (BB2) when; the particle then restarts from the level at that time
                    dxs = math.sqrt(2.0 * kc * dt) * normal(rs)
                    yhat = un - direction * dxs / sc
                    if bridge_hit(un, yhat, dt, rs):
                        dt = bridge_hit_time(un, yhat, dt, rs)
                        x = pn
                        jp = record_level(esc, esc_dist, jp, t + dt)
                        last = t + dt >= tk
                    else:
                        x = x + dxs
                else:
                    x, _touched, crossed = interface_step(x, xi_, direction, kc, sc, sn, un, dt,
                                                          rs)
                    if crossed:
                        g = gn
                        w = wn
                if n_dist > 0:
                    # only a > safety-sigma excursion can pass a level unseen: end of the step
                    jp = record_passed(esc, esc_dist, jp, abs(x - x0), t + dt)
                    lp = esc_dist[jp] if jp < n_dist else math.inf
                    lvl_hi = x0 + lp
                    lvl_lo = x0 - lp
                # rare: left the patch by more than the one interface considered
                base = g + s
                if x < edges[base] + w * length or x >= edges[base + 1] + w * length:
                    g, w = locate(edges, offsets, s, length, x)
                steps += 1
                if last:
                    t = tk
                else:
                    t += dt
            if halt and jp >= n_dist:
                break  # escape.stop: passed the largest distance
            record(sums, k, x - x0, y - y0)
    return steps


def run_exact(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    *, escape: Sequence[float] | np.ndarray = (), safety: float = 8.0, jumps: bool = True,
    jump_gain: float = 4.0, stop: bool = False,
) -> KernelResult:
    """Run the exact skew-Brownian kernel on ``medium`` (1D or 2D).

    Parameters
    ----------
    medium : Medium
        The realisation (κ per patch, energy scaling applied).
    times : sequence of float
        Output times, strictly increasing, > 0.
    n_particles : int
        Particles, started uniformly over the medium.
    state : ndarray of uint64, shape (4,)
        Task state from :func:`patchwalk_worker.rng.task_state`.
    escape : sequence of float
        First-passage distances L (|Δx| ≥ L).
    safety : float
        A step may not reach beyond the nearest interface's neighbour patch, nor the far edge of
        the current patch, within ``safety`` standard deviations (default 8); a jump may not
        overrun the next output time except with the same probability 2Φ(-safety).
    jumps : bool
        Use exact exit-time jumps (default); ``False`` gives the plain adaptive-step scheme.
    jump_gain : float
        A jump is taken when its mean duration is at least this many ordinary steps (a jump
        costs about as much as 4-6 steps). Jumps are not used with κ⊥ > 0 (2D kernel).
    stop : bool
        ``escape.stop``: end each particle's walk once it has passed the largest escape
        distance (``esc`` bitwise as without it; ``sums`` then miss the stopped particles).

    Returns
    -------
    KernelResult
    """
    t, esc_in, st, sums, esc_sorted = check_args(medium, times, n_particles, state, escape)
    order = np.argsort(esc_in, kind="stable")  # the kernel walks the levels nearest first
    esc_d = np.ascontiguousarray(esc_in[order])
    if not safety >= 2.0:
        raise ValueError(f"safety must be >= 2 standard deviations (got {safety}); default is 8")
    if medium.kappa_perp < 0.0:
        raise ValueError("kappa_perp must be >= 0")
    if medium.kappa_perp > 0.0:
        from .exact2d import exact2d_kernel

        steps = exact2d_kernel(
            medium.edges, medium.kappa, medium.offsets, float(medium.length),
            float(medium.l_perp) if medium.n_strips > 1 else 0.0, float(medium.kappa_perp),
            t, esc_d, int(n_particles), st, float(safety), sums, esc_sorted,
            bool(stop) and esc_d.size > 0,
        )
    else:
        steps = exact_kernel(
            medium.edges, medium.kappa, medium.offsets, float(medium.length),
            float(medium.l_perp) if medium.n_strips > 1 else 0.0, float(medium.kappa_perp),
            t, esc_d, int(n_particles), st, float(safety), sums, esc_sorted,
            exit_table(), exit_horizon(float(safety)), float(jump_gain) if jumps else 0.0,
            bool(stop) and esc_d.size > 0,
        )
    esc = np.empty_like(esc_sorted)
    esc[order] = esc_sorted
    return KernelResult(sums=sums, esc=esc, steps=int(steps))


def spec_dt(spec: SweepSpec) -> float:
    """Smallest step of the exact kernel: Δt = (l_min/safety)² / (2 κ_max).

    A step of standard deviation √(2κΔt) may not reach the next-but-one interface (at least
    one whole patch, ≥ l_min, away) within ``safety`` deviations. In 2D with κ⊥ > 0 the
    strip height bounds it too: (l_⊥/safety)² / (2 κ⊥).
    """
    dt = (l_min(spec) / spec.exact.safety) ** 2 / (2.0 * max(spec.phase_kappas()))
    k_perp = spec.kappa_perp_scaled()
    if spec.dimensions == 2 and k_perp > 0 and spec.medium.l_perp:
        dt = min(dt, (spec.medium.l_perp / spec.exact.safety) ** 2 / (2.0 * k_perp))
    return dt


def _cost(spec: SweepSpec) -> float:
    """count · (n_times + t_max / Δt_min): an upper bound (every step in the fastest phase
    next to the shortest patch); measured 2.7–24× above the true count (docs/engine.md)."""
    n_times = len(spec.output_times())
    return spec.particles.count * (n_times + spec.times.max / spec_dt(spec))


def _run(spec: SweepSpec, medium: Medium, times: np.ndarray, n_particles: int,
         state: np.ndarray) -> KernelResult:
    return run_exact(medium, times, n_particles, state, escape=escape_distances(spec),
                     safety=spec.exact.safety, stop=spec.escape.stop)


KERNEL = Kernel(
    name="exact", options=ExactOptions, run=_run, cost=_cost, dt=spec_dt, warm_up=(1, 2),
    advice=("times.max", "lower times.max or particles.count, or lower exact.safety"),
)
