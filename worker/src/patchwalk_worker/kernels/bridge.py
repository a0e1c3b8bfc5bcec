"""First passage of a pending escape level inside one step: the Brownian-bridge law.

A step of length Δt of a unit-diffusivity Brownian motion (y = x/√κ inside one patch, so
Var Δy = 2Δt) from distance m > 0 below a level to a free end point at signed distance ŷ from
the level (ŷ > 0: still short of it; ŷ ≤ 0: beyond it) touched the level with probability

    P(hit) = 1                      if ŷ ≤ 0,
             exp(−m ŷ / Δt)         otherwise                                      (BB1)

(the reflection principle for the bridge). Given a hit, the first-passage time has the law
below. Scale to a standard bridge (variance 1 per unit time on [0, 1]): a = m/√(2Δt),
b = ŷ/√(2Δt). The bridge from 0 to a − b is B(u) = (a − b)u + (1 − u)W(u/(1 − u)) for a standard
BM W, so it touches a at u iff W(s) = a + b s at s = u/(1 − u): the hitting time of level a by a
Brownian motion with drift −b. Conditioned on a hit (for b > 0, by Girsanov; for b < 0 it is
certain) that time is inverse Gaussian,

    s ~ IG(mean a/|b|, shape a²),    τ = Δt · s/(1 + s),                           (BB2)

and for b = 0 it is the Lévy law s = a²/χ² (χ standard normal). IG is sampled by the method of
Michael, Schucany & Haas (1976) in a cancellation-free form: with A = χ²/(2a|b|),
s₁ = μ/(1 + A + √(A² + 2A)); keep s₁ with probability μ/(μ + s₁), else μ²/s₁.

Shared with the 2D kernel (:mod:`.exact2d`): the 1D event geometry of a patch with pending
levels (``patch_events``, ``neighbour_reach``), the free step towards a level
(``free_level_step``) and the position of a Brownian path given its first hitting time of a
line (``first_passage_bridge``, the Bessel(3) bridge).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..rng import normal, uniform
from .common import record_escape


@njit(cache=True, inline="always")
def bridge_hit(m: float, yhat: float, dt: float, rs: np.ndarray) -> bool:
    """Whether the step touched the level (BB1); ``m``, ``yhat`` in y units (Var Δy = 2Δt)."""
    if yhat <= 0.0 or m <= 0.0:
        return True
    q = m * yhat / dt
    return q < 40.0 and uniform(rs) < math.exp(-q)


@njit(cache=True)
def bridge_hit_time(m: float, yhat: float, dt: float, rs: np.ndarray) -> float:
    """First-passage time of the level within a step that touched it (BB2).

    Parameters
    ----------
    m : float
        Distance from the start to the level (y units, unit diffusivity), ≥ 0.
    yhat : float
        Signed distance from the level to the step's end point (> 0 short of the level).
    dt : float
        Step length.
    rs : ndarray of uint64
        Particle stream.

    Returns
    -------
    float
        τ ∈ [0, dt].
    """
    if m <= 0.0:
        return 0.0
    scale = 1.0 / math.sqrt(2.0 * dt)
    a = m * scale
    b = abs(yhat) * scale
    z = normal(rs)
    if b == 0.0:
        if z == 0.0:
            return dt
        s = a * a / (z * z)
    else:
        mu = a / b
        aa = z * z / (2.0 * a * b)
        s1 = mu / (1.0 + aa + math.sqrt(aa * aa + 2.0 * aa))
        if uniform(rs) * (mu + s1) <= mu:
            s = s1
        else:
            s = mu * mu / s1
    if s <= 0.0:
        return 0.0
    return dt / (1.0 + 1.0 / s)


@njit(cache=True, inline="always")
def record_level(esc: np.ndarray, esc_dist: np.ndarray, jp: int, tau: float) -> int:
    """Record the first passage of the nearest pending level ``esc_dist[jp]`` (and of equal
    distances) at time ``tau``; return the new first pending index (distances sorted)."""
    n = esc_dist.shape[0]
    if jp >= n:
        return jp
    lev = esc_dist[jp]
    while jp < n and esc_dist[jp] <= lev:
        record_escape(esc, jp, tau)
        jp += 1
    return jp


@njit(cache=True, inline="always")
def record_passed(esc: np.ndarray, esc_dist: np.ndarray, jp: int, dist: float,
                  tau: float) -> int:
    """Record at ``tau`` every pending level with ``dist`` ≥ L (sorted distances)."""
    n = esc_dist.shape[0]
    while jp < n and dist >= esc_dist[jp]:
        record_escape(esc, jp, tau)
        jp += 1
    return jp


# --- shared by the 2D kernel (kernels/exact2d.py): the 1D event geometry and level step ------


@njit(cache=True, inline="always")
def patch_events(
    x: float, a: float, b: float, lvl_lo: float, lvl_hi: float, isq: float,
) -> tuple[int, bool, bool, float, float, float, float, float]:
    """Event points of the patch [a, b) holding ``x``: its edges, or a pending level inside it.

    The 1D rule of :mod:`.exact` (docstring, "First passage"): the nearer event point is
    ``pn`` in ``direction`` (±1), the other ``pf``; ``near_lvl``/``far_lvl`` say whether they
    are levels; ``xi_`` is the patch edge in ``direction``; ``un``, ``uf`` are the distances to
    ``pn``, ``pf`` in y = x/√κ units (``isq`` = 1/√κ). With no pending level (``lvl_lo`` = −∞,
    ``lvl_hi`` = +∞) the event points are the patch edges.

    Returns
    -------
    tuple
        (direction, near_lvl, far_lvl, pn, pf, xi_, un, uf).
    """
    lev_r = lvl_hi <= b
    lev_l = lvl_lo >= a
    pr = lvl_hi if lev_r else b
    pl = lvl_lo if lev_l else a
    if pr - x <= x - pl:
        un = max(pr - x, 0.0) * isq
        uf = max(x - pl, 0.0) * isq
        return 1, lev_r, lev_l, pr, pl, b, un, uf
    un = max(x - pl, 0.0) * isq
    uf = max(pr - x, 0.0) * isq
    return -1, lev_l, lev_r, pl, pr, a, un, uf


@njit(cache=True, inline="always")
def neighbour_reach(
    direction: int, a: float, b: float, unx: float, sn: float, lvl_lo: float, lvl_hi: float,
) -> tuple[float, bool]:
    """Reach beyond the interface in ``direction``: the neighbour patch (``unx`` in its y
    units, √κ = ``sn``) up to a pending level inside it; returns (reach, ends on a level)."""
    if direction > 0:
        if lvl_hi < b + unx * sn:
            return (lvl_hi - b) / sn, True
    elif lvl_lo > a - unx * sn:
        return (a - lvl_lo) / sn, True
    return unx, False


@njit(cache=True, inline="always")
def free_level_step(
    un: float, direction: int, kc: float, sc: float, dt: float, rs: np.ndarray,
) -> tuple[float, bool, float]:
    """Free step of length ``dt`` towards a pending level ``un`` away (y units; κ = ``kc``,
    √κ = ``sc``): (BB1) decides whether the path touched it, (BB2) when.

    Returns (Δx of the free end point, hit, τ); on a hit the particle restarts from the level
    at τ (the path after τ is not needed), otherwise τ = ``dt``.
    """
    dxs = math.sqrt(2.0 * kc * dt) * normal(rs)
    yhat = un - direction * dxs / sc
    if bridge_hit(un, yhat, dt, rs):
        return dxs, True, bridge_hit_time(un, yhat, dt, rs)
    return dxs, False, dt


@njit(cache=True, inline="always")
def first_passage_bridge(z0: float, hit: float, u: float, var_rate: float,
                         rs: np.ndarray) -> float:
    """Distance from a line at time ``u`` of a Brownian path that starts ``z0`` > 0 from it
    and first hits it at time ``hit`` > ``u`` (``hit`` = ∞: never), Var = ``var_rate``·time.

    Given its first hitting time the path is a Bessel(3) bridge from z0 to 0 (Williams), the
    norm of a 3D Brownian bridge from (z0, 0, 0) to the origin: mean z0(1 − u/hit) along the
    first axis, variance var_rate·u(hit − u)/hit per axis (hit = ∞: the Bessel(3) process,
    mean z0, variance var_rate·u).
    """
    if math.isinf(hit):
        c = z0
        v = var_rate * u
    else:
        c = z0 * (1.0 - u / hit)
        v = var_rate * u * (hit - u) / hit
    sd = math.sqrt(max(v, 0.0))
    e1 = c + sd * normal(rs)
    e2 = sd * normal(rs)
    e3 = sd * normal(rs)
    return math.sqrt(e1 * e1 + e2 * e2 + e3 * e3)
