"""Pieces shared by the Monte-Carlo kernels: the result type, argument checks, patch look-up.

Medium layout (``patchwalk_worker.media.Medium``): patch ``g`` of strip ``s`` spans
``[edges[g + s], edges[g + s + 1])``; strip ``s`` holds patches ``offsets[s] .. offsets[s+1]-1``.
Kernels keep, per particle, the global patch index ``g`` and a winding number ``w`` so that the
patch's unwrapped edges are ``edges[g + s] + w * length`` and ``edges[g + s + 1] + w * length``;
the particle position ``x`` is unwrapped, so Δx = x - x₀ directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..media import Medium
from ..rng import uniform


@dataclass(frozen=True)
class KernelResult:
    """Moment sums of one kernel run (docs/interfaces.md §3).

    Attributes
    ----------
    sums : ndarray, shape (n_times, 5)
        Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy² over particles at each output time.
    esc : ndarray, shape (n_dist, 3)
        Number escaped (first |Δx| ≥ L) by the last output time, Στ, Στ².
    steps : int
        Particle-steps taken.
    """

    sums: np.ndarray
    esc: np.ndarray
    steps: int


def check_args(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    escape: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate wrapper arguments; return (times, escape, state, sums, esc) arrays."""
    t = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] <= 0.0 or np.any(np.diff(t) <= 0.0):
        raise ValueError("times must be a non-empty, strictly increasing list of positive numbers")
    esc_d = np.ascontiguousarray(escape, dtype=np.float64).reshape(-1)
    if esc_d.size and (not np.all(np.isfinite(esc_d)) or np.any(esc_d <= 0.0)):
        raise ValueError("escape distances must be positive and finite, e.g. escape=(10.0,)")
    if int(n_particles) < 0:
        raise ValueError(f"n_particles must be >= 0 (got {n_particles})")
    st = np.ascontiguousarray(state, dtype=np.uint64).reshape(-1)
    if st.shape != (4,) or not st.any():
        raise ValueError("state must be 4 uint64 words, not all zero: use rng.task_state(...)")
    if medium.kappa.size == 0 or np.any(medium.kappa <= 0.0) or not np.all(np.isfinite(medium.kappa)):
        raise ValueError("every patch needs a positive, finite kappa")
    if medium.n_strips > 1 and not medium.l_perp > 0.0:
        raise ValueError("a medium with several strips needs l_perp > 0")
    for s in range(medium.n_strips):
        e, _ = medium.strip(s)
        if e.size < 2 or np.any(np.diff(e) <= 0.0):
            raise ValueError(f"strip {s}: patch lengths must all be positive")
    sums = np.zeros((t.size, 5))
    esc = np.zeros((esc_d.size, 3))
    return t, esc_d, st.copy(), sums, esc


def strip_height(medium: Medium) -> float:
    """Total y period n_strips * l_perp (0 for a single strip)."""
    return medium.n_strips * medium.l_perp if medium.n_strips > 1 else 0.0


@njit(cache=True)
def locate(edges: np.ndarray, offsets: np.ndarray, s: int, length: float, x: float) -> tuple[int, int]:
    """Patch (global index) and winding number of unwrapped ``x`` in strip ``s`` (binary search)."""
    w = int(math.floor(x / length))
    xl = x - w * length
    if xl >= length:  # rounding
        xl -= length
        w += 1
    lo = offsets[s] + s
    hi = offsets[s + 1] + s  # edges[hi] == length
    # largest k in [lo, hi-1] with edges[k] <= xl
    a = lo
    b = hi - 1
    while a < b:
        m = (a + b + 1) // 2
        if edges[m] <= xl:
            a = m
        else:
            b = m - 1
    return a - s, w


@njit(cache=True)
def start_position(
    rs: np.ndarray, edges: np.ndarray, offsets: np.ndarray, length: float, height: float,
    n_strips: int, l_perp: float,
) -> tuple[float, float, int, int, int]:
    """Uniform start: (x, y, strip, patch, winding)."""
    x = uniform(rs) * length
    y = 0.0
    s = 0
    if n_strips > 1:
        y = uniform(rs) * height
        s = min(int(y / l_perp), n_strips - 1)
    g, w = locate(edges, offsets, s, length, x)
    return x, y, s, g, w


@njit(cache=True)
def strip_of(y: float, height: float, l_perp: float, n_strips: int) -> int:
    """Strip index of (unwrapped) y in a stack of ``n_strips`` strips of height ``l_perp``."""
    yl = y - math.floor(y / height) * height
    return min(int(yl / l_perp), n_strips - 1)


@njit(cache=True)
def neighbour(g: int, w: int, s: int, offsets: np.ndarray, direction: int) -> tuple[int, int]:
    """Global index and winding of the patch next to ``g`` (``direction`` = +1 right, -1 left)."""
    first = offsets[s]
    last = offsets[s + 1] - 1
    if direction > 0:
        if g == last:
            return first, w + 1
        return g + 1, w
    if g == first:
        return last, w - 1
    return g - 1, w


@njit(cache=True)
def record(sums: np.ndarray, k: int, dx: float, dy: float) -> None:
    """Add one particle's displacement at output time ``k`` to the moment sums."""
    dx2 = dx * dx
    sums[k, 0] += 1.0
    sums[k, 1] += dx
    sums[k, 2] += dx2
    sums[k, 3] += dx2 * dx2
    sums[k, 4] += dy * dy


@njit(cache=True)
def record_escape(esc: np.ndarray, j: int, tau: float) -> None:
    """Add one first-passage time for distance ``j``."""
    esc[j, 0] += 1.0
    esc[j, 1] += tau
    esc[j, 2] += tau * tau
