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
