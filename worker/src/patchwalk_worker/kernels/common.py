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
from functools import lru_cache

import numpy as np
from numba import njit

from ..media import Medium
from ..rng import normal, uniform

#: Columns of the escape sums ``esc`` (docs/interfaces.md §3): count, Στ, Στ², Σ1/τ, Σ1/τ².
ESC_COLUMNS: tuple[str, ...] = ("count", "tau", "tau2", "inv_tau", "inv_tau2")


@dataclass(frozen=True)
class KernelResult:
    """Moment sums of one kernel run (docs/interfaces.md §3).

    Attributes
    ----------
    sums : ndarray, shape (n_times, 5)
        Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy² over particles at each output time.
    esc : ndarray, shape (n_dist, 5)
        Per escape distance (columns :data:`ESC_COLUMNS`): number escaped (first |Δx| ≥ L) by
        the last output time, Στ, Στ², Σ1/τ, Σ1/τ² over those particles.
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
    k = medium.kappa
    if k.size == 0 or np.any(k <= 0.0) or not np.all(np.isfinite(k)):
        raise ValueError("every patch needs a positive, finite kappa")
    if medium.n_strips > 1 and not medium.l_perp > 0.0:
        raise ValueError("a medium with several strips needs l_perp > 0")
    for s in range(medium.n_strips):
        e, _ = medium.strip(s)
        if e.size < 2 or np.any(np.diff(e) <= 0.0):
            raise ValueError(f"strip {s}: patch lengths must all be positive")
    sums = np.zeros((t.size, 5))
    esc = np.zeros((esc_d.size, len(ESC_COLUMNS)))
    return t, esc_d, st.copy(), sums, esc


def strip_height(medium: Medium) -> float:
    """Total y period n_strips * l_perp (0 for a single strip)."""
    return medium.n_strips * medium.l_perp if medium.n_strips > 1 else 0.0


@njit(cache=True)
def locate(
    edges: np.ndarray, offsets: np.ndarray, s: int, length: float, x: float
) -> tuple[int, int]:
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


@njit(cache=True, inline="always")
def perp_step(
    y: float, sigma: float, rs: np.ndarray, x: float, s: int, g: int, w: int, two_d: bool,
    edges: np.ndarray, offsets: np.ndarray, length: float, height: float, l_perp: float,
    n_strips: int,
) -> tuple[float, int, int, int, bool]:
    """Perpendicular move y += σχ (D2); in 2D re-locate x's patch if the strip changed.

    Returns the new ``(y, s, g, w, changed)``; the x-move of the same step used the strip held
    at its start (the D1–D2 time discretisation of ``euler`` and ``pitch``; the ``exact``
    kernel crosses strip edges exactly in :mod:`.exact2d` instead).
    """
    y += sigma * normal(rs)
    if two_d:
        s_new = strip_of(y, height, l_perp, n_strips)
        if s_new != s:
            g, w = locate(edges, offsets, s_new, length, x)
            return y, s_new, g, w, True
    return y, s, g, w, False


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
    """Add one first-passage time τ > 0 for distance ``j``: 1, τ, τ², 1/τ, 1/τ²
    (:data:`ESC_COLUMNS`; the moments of the mean time and of the mean rate ⟨1/τ⟩)."""
    inv = 1.0 / tau
    esc[j, 0] += 1.0
    esc[j, 1] += tau
    esc[j, 2] += tau * tau
    esc[j, 3] += inv
    esc[j, 4] += inv * inv


# --- Exit time of Brownian motion from a symmetric interval (the exact kernel's jumps) -------
#
# T = first exit time from [-1, 1] of y(t) = √2 W(t) (unit diffusivity D = 1) started at 0; the
# exit from [-r, r] takes r²T and leaves by either end with probability ½. E[T] = 1/(2D) = 1/2,
# E[T²] = 5/12. Two exact series for the law (images, for small s; eigenfunctions, for large s):
#   F(s) = P(T ≤ s) = 2 Σ_{k≥1} (-1)^{k+1} erfc((2k-1)/(2√s)),
#   S(s) = P(T > s) = (4/π) Σ_{n≥0} (-1)^n/(2n+1) exp(-(2n+1)²π²s/4),
# with densities f = s^{-3/2}/√π Σ (-1)^{k+1}(2k-1) e^{-(2k-1)²/(4s)} = π Σ (-1)^n (2n+1) e^{-...}.
# The image series is used below s = 0.3, the eigen series above; terms are summed until they
# fall below e^-40 of the leading one (at most 4 image / 5 eigen terms).

EXIT_SWITCH = 0.3
EXIT_TABLE_N = 1024
_PI2_4 = math.pi * math.pi / 4.0


@njit(cache=True)
def exit_cdf_small(s: float) -> tuple[float, float]:
    """(F(s), f(s)) of the unit exit time by the image series (accurate for s ≤ 0.3)."""
    if s <= 0.0:
        return 0.0, 0.0
    rs = math.sqrt(s)
    cdf = 0.0
    pdf = 0.0
    sign = 1.0
    for k in range(1, 5):
        c = 2.0 * k - 1.0
        q = c * c / (4.0 * s)
        if k > 1 and q > 45.0:
            break
        cdf += sign * 2.0 * math.erfc(c / (2.0 * rs))
        pdf += sign * c * math.exp(-q)
        sign = -sign
    return cdf, pdf / (math.sqrt(math.pi) * s * rs)


@njit(cache=True)
def exit_survival_large(s: float) -> tuple[float, float]:
    """(S(s), f(s)) of the unit exit time by the eigenfunction series (accurate for s ≥ 0.3)."""
    surv = 0.0
    pdf = 0.0
    sign = 1.0
    for n in range(5):
        c = 2.0 * n + 1.0
        if n > 0 and (c * c - 1.0) * _PI2_4 * s > 40.0:
            break
        e = math.exp(-c * c * _PI2_4 * s)
        surv += sign * e / c
        pdf += sign * c * e
        sign = -sign
    return surv * (4.0 / math.pi), pdf * math.pi


@njit(cache=True)
def exit_residual(s: float, u: float) -> tuple[float, float]:
    """(F(s) - u, f(s)), each series where it is accurate."""
    if s < EXIT_SWITCH:
        cdf, pdf = exit_cdf_small(s)
        return cdf - u, pdf
    surv, pdf = exit_survival_large(s)
    return (1.0 - u) - surv, pdf


@njit(cache=True)
def exit_quantile_slow(u: float) -> float:
    """Inverse CDF of the unit exit time T at ``u`` ∈ [0, 1) without a table (tails, table).

    Safeguarded Newton on ln F (u below F(0.3)) or on ln S (above), started from the leading
    term of the respective series; a bisection step whenever Newton leaves the bracket.
    """
    if u <= 0.0:
        return 0.0
    fc, _ = exit_cdf_small(EXIT_SWITCH)
    if u < fc:
        lo = 0.0
        hi = EXIT_SWITCH
        # leading term F ≈ 4 e^{-1/(4s)} √s/√π, i.e. w = 1/s solves w/4 = ln(4/(u√(πw)))
        w = 4.0 * math.log(4.0 / (u * math.sqrt(math.pi)))
        for _ in range(3):
            w = 4.0 * math.log(4.0 / (u * math.sqrt(math.pi * max(w, 1.0))))
        s = min(max(1.0 / max(w, 1e-300), 1e-300), hi)
        target = math.log(u)
        for _ in range(60):
            cdf, pdf = exit_cdf_small(s)
            if cdf <= 0.0:
                lo = s
                s = 0.5 * (lo + hi)
                continue
            h = math.log(cdf) - target
            if h > 0.0:
                hi = s
            else:
                lo = s
            s_new = s - h * cdf / pdf
            if not (lo < s_new < hi):
                s_new = 0.5 * (lo + hi)
            if abs(s_new - s) <= 1e-13 * s:
                return s_new
            s = s_new
        return s
    v = 1.0 - u
    lo = EXIT_SWITCH
    hi = math.inf
    s = max(math.log(4.0 / (math.pi * v)) / _PI2_4, EXIT_SWITCH)
    target = math.log(v)
    for _ in range(60):
        surv, pdf = exit_survival_large(s)
        h = math.log(surv) - target  # decreasing in s
        if h > 0.0:
            lo = s
        else:
            hi = s
        s_new = s + h * surv / pdf
        if not (lo < s_new < hi):
            s_new = 0.5 * (lo + hi) if hi < math.inf else 2.0 * s
        if abs(s_new - s) <= 1e-13 * s:
            return s_new
        s = s_new
    return s


@njit(cache=True)
def exit_quantile_table(n: int) -> np.ndarray:
    """Quantiles ``Q[i] = F⁻¹(i/n)``, i = 0..n (``Q[n] = inf``): the start points of
    :func:`exit_time_quantile`."""
    q = np.empty(n + 1)
    for i in range(n):
        q[i] = exit_quantile_slow(i / n)
    q[n] = math.inf
    return q


@njit(cache=True)
def exit_time_quantile(u: float, table: np.ndarray) -> float:
    """Inverse CDF of the unit exit time T at ``u`` ∈ [0, 1), to ~1e-13 relative.

    Linear interpolation in ``table`` (:func:`exit_quantile_table`, relative error ≲ 1e-5) and
    Newton on the exact series until the correction is below 1e-13 (one or two evaluations);
    the outer two table cells use :func:`exit_quantile_slow`.
    """
    n = table.shape[0] - 1
    un = u * n
    i = int(un)
    if i < 1 or i >= n - 1:
        return exit_quantile_slow(u)
    lo: float = table[i]
    hi: float = table[i + 1]
    s: float = lo + (un - i) * (hi - lo)
    for _ in range(8):
        r, pdf = exit_residual(s, u)
        s_new = min(max(s - r / pdf, lo), hi)
        if abs(s_new - s) <= 1e-13 * s:
            return s_new
        s = s_new
    return s


def exit_time_horizon(eps: float) -> float:
    """The s with P(T > s) = ``eps``: a jump of half-width r (y units) is taken only if
    r² s ≤ the time left to the next output time, so it overshoots with probability ≤ eps."""
    lo, hi = EXIT_SWITCH, 200.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(exit_survival_large(mid)[0]) > eps:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


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
