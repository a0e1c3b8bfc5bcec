"""The ``exact`` kernel in 2D: skew Brownian x, Brownian y, strip edges crossed exactly.

The medium is a stack of strips of height l_⊥, periodic in y, each with its own
piecewise-constant κ_s(x); y diffuses with a constant κ⊥ (eq. D2) and is independent of x
given the strip. Inside one strip the 1D kernel's construction holds unchanged
(:mod:`.exact`); what is new is the crossing of a strip edge, treated as an event like an
interface crossing (derivation in docs/kernels.md, "2D: strip edges"). Each step is one of two
kinds, whichever allows the longer step:

* **x-step** (the 1D step): the y-path cannot reach the nearest strip edge within ``safety``
  standard deviations, Δt ≤ z²/(2s²κ⊥) with z the y-distance to that edge; x takes the exact
  skew-Brownian interface step in its strip; y += √(2κ⊥Δt)χ.
* **y-first step** (y could reach the edge within the 1D step, Δt = min(1D rule,
  (l_⊥ − z)²/(2s²κ⊥))): the hitting time τ = z²/(2κ⊥Z²) is drawn first (y is independent of
  x); if τ < Δt, x takes the exact 1D step of length τ and y is put on the edge (which strip
  labels a particle on the edge does not matter: the next step is an edge step from z = 0);
  else x takes the 1D step of Δt and y's end point is drawn from the law killed at the edge.
* **edge step**: x cannot reach a patch edge of *either* strip beside the edge (distance d,
  Δt ≤ d²/(2s² max κ)), nor y the far edges, Δt ≤ (l_⊥ − z)²/(2s²κ⊥). Then x given the y-path
  is a Brownian motion run with the clock Θ = κ_own T_own + κ_other T_other, T_other the time y
  spends across the edge, so Δx = √(2Θ)χ exactly. (T_other, z_end) is sampled exactly: the
  free end point and the Brownian-bridge test exp(−z₀z₁/(κ⊥Δt)) decide whether y hits the
  edge; if it does, the hitting time τ = z₀²/(2κ⊥Z²) is drawn conditioned on τ < Δt (Z from
  the normal tail beyond z₀/√(2κ⊥Δt)); from the edge, over r = Δt − τ, the last zero
  g = r sin²(πU/2) (arcsine law) splits the path into a Brownian bridge, whose time across is
  Uniform(0, g) (Lévy), and a final meander of length r − g on either side with probability ½
  and end distance √(4κ⊥(r − g)E), E ~ Exp(1) (Rayleigh).

Near a corner (x near a patch edge *and* y near a strip edge) both limits are short; the
larger one is used. A 2D Brownian path does not hit the corner point, but it does come close
(in 2D the probability to reach distance ε decays only like 1/ln(1/ε)), so both limits are
floored at ``CORNER_FLOOR`` = 1e-4 of the smallest natural step, min(ℓ²/κ (median patch),
l_⊥²/κ⊥)/(2s²): inside that corner box (x and y distances ≲ 1e-2 of the patch and strip
scales) an x-step may cross the strip edge and its x-move uses the strip held at its start.
The time a particle spends in such boxes is a fraction ~ (corners) · 1e-2 · 1e-2 · (√κ⊥/√κ)
of the total (~1e-5 on the issue-12 medium), far below the statistical error. Else only the
neglected > ``safety``-σ events of every step approximate, as in 1D. No jumps in 2D.

First passage (|Δx| ≥ L), exact as in 1D: the pending levels x₀ ± L are event points.
* x-steps and y-first steps use the 1D rule with levels (:func:`.bridge.patch_events`): a
  step towards a level inside the patch is a free step, (BB1)/(BB2) decide whether and when
  it touched the level, and the particle restarts there. y at that time: on an x-step
  y += √(2κ⊥τ)χ; on a y-first step, whose y hitting time τ_y of the edge was drawn first, y(τ)
  given τ_y is a Bessel(3) bridge (:func:`.bridge.first_passage_bridge`). The pair is then
  exact: τ_y is drawn from its full law, so given τ < τ_y, y(τ) has the law given survival to
  τ only.
* edge steps: the levels limit the step like patch edges, Δt ≤ d_L²/(2s² max κ), so an edge
  step never reaches one (> s σ). Inside a level's corner box (that limit below
  ``CORNER_FLOOR``·L²/(2s² max κ), i.e. x within ~1e-2 L of the level, y on the edge) the
  step is floored and may reach the level: x = W(2Θ) with W independent of the clock, so
  (BB1)/(BB2) in clock time give the passage exactly, and it is recorded at t + Δt·θ/Θ,
  off by less than the (floored) step (:func:`clock_levels`); the particle continues from
  the step's end. Measured: recording such passages at the step's start instead of its end
  moves ⟨τ⟩ by ≤ 2e-9 relative (docs/kernels.md). Without pending levels (or with levels out
of reach) the kernel draws exactly the same random numbers as without escape distances.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..rng import normal, particle_state, uniform
from .bridge import (
    bridge_hit,
    bridge_hit_time,
    first_passage_bridge,
    free_level_step,
    neighbour_reach,
    patch_events,
    record_level,
    record_passed,
)
from .common import locate, neighbour, record, start_position
from .exact import interface_step

#: Steps near a corner are not shorter than this fraction of the smallest natural step.
CORNER_FLOOR = 1e-4


@njit(cache=True, inline="always")
def normal_tail(c: float, rs: np.ndarray) -> float:
    """|Z| conditioned on |Z| > c ≥ 0 for a standard normal Z (exact; rejection)."""
    if c < 1.0:
        while True:
            z = abs(normal(rs))
            if z > c:
                return z
    while True:  # Marsaglia: exponential proposal beyond c
        e1 = -math.log(1.0 - uniform(rs)) / c
        e2 = -math.log(1.0 - uniform(rs))
        if 2.0 * e2 > e1 * e1:
            return c + e1


@njit(cache=True, inline="always")
def edge_crossing(z0: float, dt: float, dperp: float, rs: np.ndarray) -> tuple[float, float]:
    """Brownian y near an edge over ``dt``: (time spent across the edge, signed end distance).

    ``z0`` ≥ 0 is the distance from the edge on the own side; the end distance is > 0 on the
    own side, < 0 across. Exact (see module docstring).
    """
    var = 2.0 * dperp * dt
    z1 = z0 + math.sqrt(var) * normal(rs)
    if z1 > 0.0:
        q = z0 * z1 / (dperp * dt)
        if q >= 40.0 or uniform(rs) >= math.exp(-q):
            return 0.0, z1
    # the path hit the edge: hitting time conditioned on tau < dt
    c = z0 / math.sqrt(var)
    zt = normal_tail(c, rs)
    tau = 0.0 if z0 == 0.0 else z0 * z0 / (2.0 * dperp * zt * zt)
    r = max(dt - tau, 0.0)
    s = math.sin(0.5 * math.pi * uniform(rs))
    g = r * s * s  # last zero in [0, r]: arcsine law
    t_other = g * uniform(rs)  # Brownian bridge: time across is Uniform(0, g)
    m = r - g
    zend = math.sqrt(4.0 * dperp * m * -math.log(1.0 - uniform(rs)))
    if uniform(rs) < 0.5:
        return t_other + m, -zend
    return t_other, zend


@njit(cache=True, inline="always")
def strip_step(
    x: float, xi_: float, direction: int, kc: float, sc: float, sn: float, un: float,
    near_lvl: bool, dt: float, rs: np.ndarray,
) -> tuple[float, bool, bool, float]:
    """The 1D step inside one strip (:mod:`.exact`): a free step towards a pending level
    (:func:`.bridge.free_level_step`) or the exact interface step; returns (new x, crossed the
    interface, hit the level, duration: the hitting time on a hit, else ``dt``)."""
    if near_lvl:
        dxs, hit, tau = free_level_step(un, direction, kc, sc, dt, rs)
        return x + dxs, False, hit, tau
    x1, _touched, crossed = interface_step(x, xi_, direction, kc, sc, sn, un, dt, rs)
    return x1, crossed, False, dt


@njit(cache=True, inline="always")
def clock_levels(
    esc: np.ndarray, esc_dist: np.ndarray, jp: int, x0: float, xa: float, xb: float,
    theta: float, t: float, dt: float, rs: np.ndarray,
) -> int:
    """Passages of pending levels on an edge step xa → xb on which x = W(2Θ(u)).

    W is independent of the y-path, so in clock time θ the step is a free unit-diffusivity
    bridge over [0, Θ]: (BB1) decides whether the nearest level was touched, (BB2) at which
    clock value θ₁; from that level the path is again a free bridge to ``xb`` over Θ − θ₁, so
    the next level is tested the same way. A passage is recorded at t + Δt·θ/Θ: Θ(u) has
    slope κ_s or κ_s' at every u, so this is off by less than the step Δt. Returns the new
    first pending index.
    """
    n = esc_dist.shape[0]
    th = 0.0
    xs = xa
    while jp < n and th < theta:
        lev = x0 + esc_dist[jp]
        if lev - xs > xs - (x0 - esc_dist[jp]):
            lev = x0 - esc_dist[jp]
        m = abs(lev - xs)
        yhat = (lev - xb) if lev > xs else (xb - lev)
        rest = theta - th
        if not bridge_hit(m, yhat, rest, rs):
            break
        th += bridge_hit_time(m, yhat, rest, rs)
        jp = record_level(esc, esc_dist, jp, t + dt * min(th / theta, 1.0))
        xs = lev
    return jp


@njit(cache=True)
def exact2d_kernel(
    edges: np.ndarray, kappa: np.ndarray, offsets: np.ndarray, length: float, l_perp: float,
    kappa_perp: float, times: np.ndarray, esc_dist: np.ndarray, n_particles: int,
    task: np.ndarray, safety: float, sums: np.ndarray, esc: np.ndarray, halt: bool,
) -> int:
    """Run ``n_particles`` particles in a 2D medium (κ⊥ > 0); fill ``sums``, ``esc``.

    Arguments as :func:`.exact.exact_kernel` (no jumps; ``halt``: ``escape.stop``); one strip
    works too. Allocates O(patches) per call, nothing per step. Returns the number of steps.
    """
    n_strips = offsets.shape[0] - 1
    two_d = n_strips > 1
    height = n_strips * l_perp
    n_times = times.shape[0]
    n_dist = esc_dist.shape[0]
    inv2s2 = 1.0 / (2.0 * safety * safety)
    inv_kp = 1.0 / kappa_perp
    sig_y = math.sqrt(2.0 * kappa_perp)
    sqk = np.sqrt(kappa)
    isqk = 1.0 / sqk
    n_patch = kappa.shape[0]
    uext = np.empty(n_patch)
    for st in range(n_strips):
        for gg in range(offsets[st], offsets[st + 1]):
            uext[gg] = (edges[gg + st + 1] - edges[gg + st]) * isqk[gg]
    rs = np.empty(4, dtype=np.uint64)
    u_med = np.median(uext)  # the patch scale (a trimmed closing patch may be tiny)
    dt_floor = min(l_perp * l_perp * inv_kp if two_d else math.inf, u_med * u_med)
    dt_floor *= CORNER_FLOOR * inv2s2
    steps = 0
    for p in range(n_particles):
        particle_state(task, p, rs)
        x, y, s, g, w = start_position(rs, edges, offsets, length, height, n_strips, l_perp)
        if two_d:
            s_chk = int(math.floor(y / l_perp)) % n_strips
            if s_chk != s:
                s = s_chk
                g, w = locate(edges, offsets, s, length, x)
        x0 = x
        y0 = y
        jp = 0  # distances are sorted: esc_dist[jp:] are pending
        lp = esc_dist[0] if n_dist > 0 else math.inf
        lvl_hi = x0 + lp
        lvl_lo = x0 - lp
        sq = -1  # cached patch of the strip across the nearest edge
        gq = 0
        wq = 0
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
                d_l = x - a
                d_r = b - x
                # the 1D step (exact.py): event points are patch edges or pending levels
                direction, near_lvl, _far, pn, _pf, xi_, un, uf = patch_events(
                    x, a, b, lvl_lo, lvl_hi, isqk[g])
                gn, wn = neighbour(g, w, s, offsets, direction)
                sn = sqk[gn]
                if near_lvl:
                    lim = uf  # free up to the level (then it restarts there)
                else:
                    unx, _lvl_n = neighbour_reach(direction, a, b, uext[gn], sn, lvl_lo, lvl_hi)
                    lim = min(uf, un + unx)
                dt = lim * lim * inv2s2
                rem = tk - t
                edge_step = False
                clock_lvl = False
                y_first = False
                z0 = 0.0
                y_e = 0.0
                e_dir = 1
                s_o = s
                if two_d:
                    ki = math.floor(y / l_perp)
                    yl = y - ki * l_perp
                    if yl < 0.5 * l_perp:
                        z0 = max(yl, 0.0)
                        y_e = ki * l_perp
                        e_dir = -1
                        s_o = (s - 1) % n_strips
                    else:
                        z0 = max(l_perp - yl, 0.0)
                        y_e = (ki + 1.0) * l_perp
                        e_dir = 1
                        s_o = (s + 1) % n_strips
                    dt_x = z0 * z0 * inv2s2 * inv_kp
                    if dt_x < dt and dt_x < rem:
                        if sq != s_o or x < edges[gq + sq] + wq * length or (
                                x >= edges[gq + sq + 1] + wq * length):
                            gq, wq = locate(edges, offsets, s_o, length, x)
                            sq = s_o
                        aq = edges[gq + sq] + wq * length
                        bq = edges[gq + sq + 1] + wq * length
                        dx = min(d_l, d_r, x - aq, bq - x)
                        kq = kappa[gq]
                        km = max(kc, kq)
                        dt_far = (l_perp - z0) * (l_perp - z0) * inv2s2 * inv_kp
                        dt_e = min(dx * dx * inv2s2 / km, dt_far)
                        dt_a = min(dt, dt_far)
                        on_edge = z0 <= 1e-9 * l_perp  # rounding of y_e = k·l⊥
                        ok_e = dt_e >= dt_floor
                        if ok_e and jp < n_dist:
                            # pending levels are event points of the edge step too; next to
                            # one (inside the level's corner box) the step may reach it and
                            # the crossing is timed on the clock (error < the step)
                            dl = min(lvl_hi - x, x - lvl_lo)
                            dt_l = dl * dl * inv2s2 / km
                            if dt_l < dt_e:
                                lfloor = CORNER_FLOOR * lp * lp * inv2s2 / km
                                if dt_l >= lfloor:
                                    dt_e = dt_l
                                else:
                                    dt_e = min(dt_e, lfloor)
                                    clock_lvl = True
                        if ok_e and (dt_e >= dt_a or on_edge):
                            edge_step = True
                            dt = dt_e
                        elif not on_edge:  # y-first: stop at the edge if y hits it
                            y_first = True
                            dt = dt_a
                        else:  # corner box (both limits below the floor): floored x-step
                            dt = min(dt, dt_floor)
                    else:
                        dt = min(dt, dt_x)
                last = dt >= rem
                if last:
                    dt = rem
                if y_first:
                    zh = normal(rs)
                    tau = math.inf if zh == 0.0 else z0 * z0 / (2.0 * kappa_perp * zh * zh)
                    if tau < dt:  # y reaches the edge at tau: x-step of tau, y on the edge
                        dt = tau
                        last = False
                        y_new = y_e
                    else:  # no hit: y's end point from the law killed at the edge
                        sd = math.sqrt(2.0 * kappa_perp * dt)
                        while True:
                            z1 = z0 + sd * normal(rs)
                            if z1 > 0.0:
                                q = z0 * z1 / (kappa_perp * dt)
                                if q >= 40.0 or uniform(rs) >= math.exp(-q):
                                    break
                        y_new = y_e - e_dir * z1
                    x1, crossed, hit, tx = strip_step(x, xi_, direction, kc, sc, sn, un,
                                                      near_lvl, dt, rs)
                    if hit:  # x met the level first: y then, given its hitting time tau
                        x1 = pn
                        y_new = y_e - e_dir * first_passage_bridge(z0, tau, tx,
                                                                   2.0 * kappa_perp, rs)
                        dt = tx
                        last = t + dt >= tk
                        jp = record_level(esc, esc_dist, jp, t + dt)
                    x = x1
                    if crossed:
                        g = gn
                        w = wn
                        sq = -1
                    y = y_new
                    s_new = int(math.floor(y / l_perp)) % n_strips
                    if s_new != s:  # on the edge, labelled by the strip above: either is exact
                        s = s_new
                        g, w = locate(edges, offsets, s, length, x)
                        sq = -1
                elif edge_step:
                    kq = kappa[gq]
                    t_o, zend = edge_crossing(z0, dt, kappa_perp, rs)
                    theta = kc * (dt - t_o) + kq * t_o
                    x1 = x + math.sqrt(2.0 * theta) * normal(rs)
                    if clock_lvl:
                        jp = clock_levels(esc, esc_dist, jp, x0, x, x1, theta, t, dt, rs)
                    x = x1
                    y = y_e - e_dir * zend
                    s_new = int(math.floor(y / l_perp)) % n_strips
                    if s_new != s:
                        if s_new == sq:  # swap: the cached patch becomes the current one
                            g, gq = gq, g
                            w, wq = wq, w
                            sq = s
                        else:
                            g, w = locate(edges, offsets, s_new, length, x)
                            sq = -1
                        s = s_new
                else:
                    x1, crossed, hit, tx = strip_step(x, xi_, direction, kc, sc, sn, un,
                                                      near_lvl, dt, rs)
                    if hit:
                        x1 = pn
                        dt = tx
                        last = t + dt >= tk
                        jp = record_level(esc, esc_dist, jp, t + dt)
                    x = x1
                    if crossed:
                        g = gn
                        w = wn
                    y += sig_y * math.sqrt(dt) * normal(rs)
                    if two_d:
                        s_new = int(math.floor(y / l_perp)) % n_strips
                        if s_new != s:  # rare (> safety sigma): re-locate
                            s = s_new
                            g, w = locate(edges, offsets, s, length, x)
                            sq = -1
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
            if halt and jp >= n_dist:  # escape.stop: passed the largest distance
                break
            record(sums, k, x - x0, y - y0)
    return steps
