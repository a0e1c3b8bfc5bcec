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
pending escape level (the path stays inside the jump interval, so a level outside it cannot be
crossed; a level on the interval's end is detected at the end point, at the exact time).

Choice of ``safety`` (s = 8): a step (or a jump's output-time overrun) goes wrong only with
probability 2Φ(-s) ≈ 1.2e-15 per step; s = 7.13 would give ~1e-12 and 1.26× fewer ordinary
steps. With jumps the ordinary steps are a minority of the cost, so the default stays 8 (a
spec option, ``exact.safety``).

2D (Appendix D, eq. D2; κ⊥ > 0): :func:`run_exact` hands the medium to
:func:`.exact2d.exact2d_kernel`, which crosses strip edges exactly (an edge crossing is an
event like an interface crossing; derivation in docs/kernels.md). ``exact_kernel`` below is the
1D (and κ⊥ = 0) kernel.

First passage (|Δx| ≥ L): the crossing of the level x₀ ± L is detected exactly — by the end
point, and by the Brownian-bridge probability exp(-d₀d₁/(κΔt)) on steps that stay in one patch
(steps that touch an interface use the end point only, missing a crossing only when the level is
within that step's reach of the interface). The reported τ is the end of the step in which the
crossing is detected: τ is late by less than that one step, Δt ≤ (l/√κ)²/(2s²) for the patch
scales l involved (≈ l²/(512 κ) for s = 8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numba import njit

from ..media import Medium
from ..rng import normal, particle_state, uniform
from .common import (
    EXIT_TABLE_N,
    KernelResult,
    check_args,
    exit_quantile_table,
    exit_time_horizon,
    exit_time_quantile,
    locate,
    neighbour,
    record,
    record_escape,
    start_position,
)


@lru_cache(maxsize=1)
def exit_table() -> np.ndarray:
    """Quantile table of the unit exit time (built once per process, read-only)."""
    q = exit_quantile_table(EXIT_TABLE_N)
    q.flags.writeable = False
    return q


@lru_cache(maxsize=16)
def exit_horizon(safety: float) -> float:
    """s with P(T > s) = 2Φ(-safety), the same per-step neglected probability as the steps."""
    return exit_time_horizon(math.erfc(safety / math.sqrt(2.0)))


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
def skew_fraction(k_minus: float, k_plus: float, t: float, n_steps: int, n: int,
                  task: np.ndarray) -> float:
    """Fraction of ``n`` particles started on an isolated interface (x = 0, κ₋ | κ₊) with
    x_t > 0 after ``n_steps`` equal exact steps. Skew-BM theory: p = √κ₊/(√κ₊+√κ₋) for all t.
    """
    rs = np.empty(4, dtype=np.uint64)
    s_m = math.sqrt(k_minus)
    s_p = math.sqrt(k_plus)
    dt = t / n_steps
    above = 0
    for p in range(n):
        particle_state(task, p, rs)
        x = 0.0
        for _ in range(n_steps):
            if x >= 0.0:  # on the + side: interface to the left
                x, _t, _c = interface_step(x, 0.0, -1, k_plus, s_p, s_m, x / s_p, dt, rs)
            else:
                x, _t, _c = interface_step(x, 0.0, 1, k_minus, s_m, s_p, -x / s_m, dt, rs)
        if x > 0.0:
            above += 1
    return above / n


@njit(cache=True)
def exact_kernel(
    edges: np.ndarray, kappa: np.ndarray, offsets: np.ndarray, length: float, l_perp: float,
    kappa_perp: float, times: np.ndarray, esc_dist: np.ndarray, n_particles: int,
    task: np.ndarray, safety: float, sums: np.ndarray, esc: np.ndarray,
    exit_table: np.ndarray, horizon: float, jump_gain: float,
) -> int:
    """Run ``n_particles`` skew-Brownian particles; fill ``sums`` and ``esc``; return steps.

    Parameters are the flat arrays of :class:`~patchwalk_worker.media.Medium`, the output
    ``times`` (increasing), escape distances, the task's xoshiro state and the output arrays
    (docs/interfaces.md §3); ``exit_table`` (:func:`~.common.exit_quantile_table`), ``horizon``
    (jumps of half-width r need r²·horizon ≤ time left) and ``jump_gain`` (a jump is taken when
    its mean duration r²/2 is at least ``jump_gain`` ordinary steps; 0 disables jumps).
    y never moves here (κ⊥ > 0 runs in :func:`.exact2d.exact2d_kernel`); strips are
    independent 1D media.
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
    done = np.zeros(max(n_dist, 1), dtype=np.bool_)
    steps = 0
    for p in range(n_particles):
        particle_state(task, p, rs)
        x, y, s, g, w = start_position(rs, edges, offsets, length, height, n_strips, l_perp)
        x0 = x
        y0 = y
        for j in range(n_dist):
            done[j] = False
        n_left = n_dist
        t = 0.0
        for k in range(n_times):
            tk = times[k]
            while t < tk:
                base = g + s
                a = edges[base] + w * length
                b = edges[base + 1] + w * length
                kc = kappa[g]
                sc = sqk[g]
                d_l = x - a
                d_r = b - x
                if d_r <= d_l:
                    direction = 1
                    dn = d_r
                    df = d_l
                    xi_ = b
                    xf = a
                else:
                    direction = -1
                    dn = d_l
                    df = d_r
                    xi_ = a
                    xf = b
                gn, wn = neighbour(g, w, s, offsets, direction)
                sn = sqk[gn]
                un = max(dn, 0.0) * isqk[g]
                uf = df * isqk[g]
                unx = uext[gn]
                lim = min(uf, un + unx)
                dt = lim * lim * inv2s2
                rem = tk - t
                if jumps and dt < rem:
                    # exact jump to the exit of a y-interval of half-width r (centred, or
                    # straddling the interface the particle sits on), if it pays
                    r = un if un > 0.0 else min(uf, unx)
                    r = min(r, math.sqrt(rem * inv_h))
                    if 0.5 * r * r >= jump_gain * dt:
                        if un > 0.0:
                            lo = x - r * sc
                            hi = x + r * sc
                        elif direction > 0:
                            lo = xi_ - r * sc
                            hi = xi_ + r * sn
                        else:
                            lo = xi_ - r * sn
                            hi = xi_ + r * sc
                        free = True
                        if n_left > 0:
                            for j in range(n_dist):
                                if not done[j]:
                                    lu = x0 + esc_dist[j]
                                    ll = x0 - esc_dist[j]
                                    if lo < lu < hi or lo < ll < hi:
                                        free = False
                        if free:
                            tau = r * r * exit_time_quantile(uniform(rs), exit_table)
                            if tau > rem:  # P <= 2Phi(-safety): neglected, stay put
                                tau = rem
                            elif un > 0.0:
                                if uniform(rs) < 0.5:  # towards the interface
                                    x = xi_ if r == un else x + direction * r * sc
                                else:
                                    x = x - direction * r * sc
                            elif uniform(rs) * (sc + sn) < sn:  # skew BM: beyond, p = sn/(sc+sn)
                                x = xi_ + direction * r * sn
                                g = gn
                                w = wn
                            else:
                                x = xf if r == uf else xi_ - direction * r * sc
                            if n_left > 0:
                                for j in range(n_dist):
                                    if not done[j] and abs(x - x0) >= esc_dist[j]:
                                        done[j] = True
                                        n_left -= 1
                                        record_escape(esc, j, t + tau)
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
                x1, touched, crossed = interface_step(x, xi_, direction, kc, sc, sn, un, dt, rs)
                gnew = g
                wnew = w
                if crossed:
                    gnew = gn
                    wnew = wn
                # first passage
                if n_left > 0:
                    for j in range(n_dist):
                        if done[j]:
                            continue
                        lev = esc_dist[j]
                        hit = abs(x1 - x0) >= lev
                        if not hit and not touched:
                            du0 = x0 + lev - x
                            du1 = x0 + lev - x1
                            dl0 = x - (x0 - lev)
                            dl1 = x1 - (x0 - lev)
                            q = min(du0 * du1, dl0 * dl1) / (kc * dt)
                            if q < 40.0:
                                pu = math.exp(-du0 * du1 / (kc * dt))
                                pl = math.exp(-dl0 * dl1 / (kc * dt))
                                hit = uniform(rs) < pu + pl - pu * pl
                        if hit:
                            done[j] = True
                            n_left -= 1
                            record_escape(esc, j, t + dt)
                x = x1
                g = gnew
                w = wnew
                # rare: left the patch by more than the one interface considered
                base = g + s
                if x < edges[base] + w * length or x >= edges[base + 1] + w * length:
                    g, w = locate(edges, offsets, s, length, x)
                steps += 1
                if last:
                    t = tk
                else:
                    t += dt
            record(sums, k, x - x0, y - y0)
    return steps


def run_exact(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    *, escape: Sequence[float] | np.ndarray = (), safety: float = 8.0, jumps: bool = True,
    jump_gain: float = 4.0,
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

    Returns
    -------
    KernelResult
    """
    t, esc_d, st, sums, esc = check_args(medium, times, n_particles, state, escape)
    if not safety >= 2.0:
        raise ValueError(f"safety must be >= 2 standard deviations (got {safety}); default is 8")
    if medium.kappa_perp < 0.0:
        raise ValueError("kappa_perp must be >= 0")
    if medium.kappa_perp > 0.0:
        from .exact2d import exact2d_kernel

        steps = exact2d_kernel(
            medium.edges, medium.kappa, medium.offsets, float(medium.length),
            float(medium.l_perp) if medium.n_strips > 1 else 0.0, float(medium.kappa_perp),
            t, esc_d, int(n_particles), st, float(safety), sums, esc,
        )
        return KernelResult(sums=sums, esc=esc, steps=int(steps))
    steps = exact_kernel(
        medium.edges, medium.kappa, medium.offsets, float(medium.length),
        float(medium.l_perp) if medium.n_strips > 1 else 0.0, float(medium.kappa_perp),
        t, esc_d, int(n_particles), st, float(safety), sums, esc,
        exit_table(), exit_horizon(float(safety)), float(jump_gain) if jumps else 0.0,
    )
    return KernelResult(sums=sums, esc=esc, steps=int(steps))
