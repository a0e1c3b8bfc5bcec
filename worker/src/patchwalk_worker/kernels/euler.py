"""The ``euler`` kernel: the paper's Itô scheme (eqs D1, D2) on a smoothed κ(x).

x(t+Δt) = x + √(2κ(x)Δt) χ + κ′(x) Δt            (D1)
y(t+Δt) = y + √(2κ⊥Δt) χ′                         (D2, 2D only)

with Δt from κ_max Δt / l_min² = ``courant`` (D3; the paper uses 1e-3). Because D1 needs a
differentiable κ, the piecewise-constant medium is box-car smoothed over a width w (default
l_min/10, the paper's choice):

* ``smoothing="kappa"`` (the paper): κ_w = box-car average of κ -- near an interface a linear ramp
  of κ over [x_I - w/2, x_I + w/2]. This changes ∫dx/κ by w[ln(κ₁/κ₂)/(κ₁-κ₂) - (1/κ₁+1/κ₂)/2]
  per interface, so the late-time κ_H of the simulated medium is biased (VALIDATION item 6).
* ``smoothing="inverse_kappa"``: box-car average of 1/κ -- a linear ramp of 1/κ, which leaves
  ∫dx/κ, hence κ_H, exactly unchanged.

κ_w and κ_w′ are evaluated analytically from the particle's patch and its distance to the patch
edges (w ≤ l_min, so at most one ramp is ever in reach), never from a table. ``drift=False``
drops the κ′Δt term (the "drift trap", VALIDATION item 5: its occupation density is ∝ 1/κ, yet
from a uniform start on a periodic medium the law of Δx is exactly that of the drift process,
docs/kernels.md). The error is O(√Δt) until √(2Δt/κ_low)·Δκ/w (κ ramp) or
√(2κ_highΔt)(κ_high/κ_low − 1)/w (1/κ ramp) is ≲ 0.3 -- far from it at D3's Δt on high-contrast
media -- plus the smoothing bias above; it is kept to reproduce the paper's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from numba import njit
from patchwalk_client.options import EulerOptions

from ..media import Medium
from ..rng import normal, particle_state
from .bridge import bridge_hit, bridge_hit_time, record_level
from .common import (
    KernelResult,
    check_args,
    locate,
    neighbour,
    perp_step,
    record,
    start_position,
)
from .kernel import Kernel, escape_distances, l_min

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec


@njit(cache=True, inline="always")
def smoothed(
    x: float, a: float, b: float, kc: float, kl: float, kr: float, half_w: float, inv_w: float,
    inverse: bool,
) -> tuple[float, float]:
    """Smoothed (κ_w, κ_w′) at ``x`` in a patch [a, b) of κ = kc with neighbours kl, kr."""
    if x - a < half_w:
        s = (x - a + half_w) * inv_w  # in [0.5, 1): ramp from kl (s=0) to kc (s=1)
        k0 = kl
        k1 = kc
    elif b - x < half_w:
        s = (x - b + half_w) * inv_w  # in (0, 0.5]: ramp from kc (s=0) to kr (s=1)
        k0 = kc
        k1 = kr
    else:
        return kc, 0.0
    if inverse:
        g0 = 1.0 / k0
        g1 = 1.0 / k1
        kw = 1.0 / (g0 + (g1 - g0) * s)
        return kw, -(g1 - g0) * inv_w * kw * kw
    return k0 + (k1 - k0) * s, (k1 - k0) * inv_w


@njit(cache=True, inline="always")
def patch_data(
    edges: np.ndarray, kappa: np.ndarray, offsets: np.ndarray, length: float, s: int, g: int,
    w: int, half_w: float,
) -> tuple[float, float, float, float, float, float, float]:
    """(a, b, lo, hi, κ_c, κ_left, κ_right) of patch ``g`` (winding ``w``) of strip ``s``.

    [lo, hi) = [a + w/2, b − w/2) is the interior where the smoothed κ equals κ_c.
    """
    a = edges[g + s] + w * length
    b = edges[g + s + 1] + w * length
    gl, _wl = neighbour(g, w, s, offsets, -1)
    gr, _wr = neighbour(g, w, s, offsets, 1)
    return a, b, a + half_w, b - half_w, kappa[g], kappa[gl], kappa[gr]


@njit(cache=True, inline="always")
def relocate(
    edges: np.ndarray, offsets: np.ndarray, length: float, s: int, g: int, w: int, x: float,
    a: float, b: float,
) -> tuple[int, int]:
    """Patch and winding of ``x`` given that it was last in patch ``g`` = [a, b)."""
    gg, ww = neighbour(g, w, s, offsets, 1 if x >= b else -1)
    if edges[gg + s] + ww * length <= x < edges[gg + s + 1] + ww * length:
        return gg, ww
    return locate(edges, offsets, s, length, x)


@njit(cache=True, inline="always")
def check_escape(
    d0: float, d1: float, kw: float, h: float, t0: float, esc_dist: np.ndarray, jp: int,
    esc: np.ndarray, rs: np.ndarray,
) -> int:
    """First passages |Δx| ≥ L within a step Δx: d0 → d1 of length ``h`` from time ``t0``.

    The path between the step's end points is taken as a Brownian bridge with the frozen
    diffusivity κ_w (exact in a patch interior, where the drift vanishes; an O(Δt) approximation
    on a ramp): (BB1) decides whether each side's level was touched, (BB2) when; the next level
    is then tested on the rest of the step from the level. Distances are sorted; returns the
    first pending index.
    """
    n = esc_dist.shape[0]
    isk = 1.0 / math.sqrt(kw)
    while jp < n and h > 0.0:
        lev = esc_dist[jp]
        tau = math.inf
        side = 0.0
        mu = (lev - d0) * isk
        yu = (lev - d1) * isk
        if bridge_hit(mu, yu, h, rs):
            tau = bridge_hit_time(mu, yu, h, rs)
            side = 1.0
        ml = (lev + d0) * isk
        yl = (lev + d1) * isk
        if bridge_hit(ml, yl, h, rs):
            tl = bridge_hit_time(ml, yl, h, rs)
            if tl < tau:
                tau = tl
                side = -1.0
        if side == 0.0:
            break
        jp = record_level(esc, esc_dist, jp, t0 + tau)
        d0 = side * lev
        t0 += tau
        h -= tau
    return jp


@njit(cache=True)
def euler_kernel(
    edges: np.ndarray, kappa: np.ndarray, offsets: np.ndarray, length: float, l_perp: float,
    kappa_perp: float, times: np.ndarray, esc_dist: np.ndarray, n_particles: int,
    task: np.ndarray, dt: float, width: float, inverse: bool, drift: bool,
    sums: np.ndarray, esc: np.ndarray, halt: bool,
) -> int:
    """Itô-Euler particles (D1, D2) on the smoothed medium; fill ``sums``/``esc``; return steps.

    Between output times the particle takes ``n`` whole steps of Δt and one partial step to land
    on the output time. Hot path (1D, no first passage pending, x in the interior [lo, hi) of its
    patch where κ_w = κ_c): x += √(2κ_cΔt) χ. Otherwise the full step: move to the patch that
    holds x (lazily, after the step that left it), κ_w and κ_w′ from :func:`smoothed`, D1, the
    first-passage test and D2. First passage: each step's path is taken as a Brownian bridge
    between its end points (:func:`check_escape`), so crossings inside a step are caught and
    timed. ``halt`` (``escape.stop``): a particle stops after the step in which it passed the
    largest distance (same draws until then, so ``esc`` is bitwise that of ``halt = False``).
    """
    n_strips = offsets.shape[0] - 1
    height = n_strips * l_perp
    two_d = n_strips > 1 and kappa_perp > 0.0
    y_moves = kappa_perp > 0.0
    n_times = times.shape[0]
    n_dist = esc_dist.shape[0]
    half_w = 0.5 * width
    inv_w = 1.0 / width
    dflag = 1.0 if drift else 0.0
    two_dt = 2.0 * dt
    drift_dt = dflag * dt
    sy = math.sqrt(2.0 * kappa_perp * dt)
    rs = np.empty(4, dtype=np.uint64)
    steps = 0
    for p in range(n_particles):
        particle_state(task, p, rs)
        x, y, s, g, w = start_position(rs, edges, offsets, length, height, n_strips, l_perp)
        x0 = x
        y0 = y
        jp = 0  # esc_dist sorted: esc_dist[jp:] pending
        fast = not y_moves and jp == n_dist
        a, b, lo, hi, kc, kl, kr = patch_data(edges, kappa, offsets, length, s, g, w, half_w)
        sc = math.sqrt(two_dt * kc)
        if not fast:
            lo = math.inf
        t = 0.0
        for k in range(n_times):
            tk = times[k]
            n_full = int((tk - t) / dt)
            h_last = (tk - t) - n_full * dt
            n_done = n_full  # steps taken of the n_full (fewer when halted)
            for i in range(n_full):
                if lo <= x < hi:  # interior of the patch: constant κ, no drift
                    x += sc * normal(rs)
                    continue
                if x >= b or x < a:
                    g, w = relocate(edges, offsets, length, s, g, w, x, a, b)
                    a, b, lo, hi, kc, kl, kr = patch_data(
                        edges, kappa, offsets, length, s, g, w, half_w)
                    sc = math.sqrt(two_dt * kc)
                    if not fast:
                        lo = math.inf
                kw, dkw = smoothed(x, a, b, kc, kl, kr, half_w, inv_w, inverse)
                xp = x
                x += math.sqrt(two_dt * kw) * normal(rs) + drift_dt * dkw
                if jp < n_dist:
                    jp = check_escape(xp - x0, x - x0, kw, dt, t + i * dt, esc_dist, jp, esc, rs)
                    if jp == n_dist and halt:
                        n_done = i + 1
                        break
                    if jp == n_dist and not y_moves:
                        fast = True
                        lo = a + half_w
                if y_moves:
                    y, s, g, w, changed = perp_step(y, sy, rs, x, s, g, w, two_d, edges,
                                                    offsets, length, height, l_perp, n_strips)
                    if changed:
                        a, b, lo, hi, kc, kl, kr = patch_data(
                            edges, kappa, offsets, length, s, g, w, half_w)
                        sc = math.sqrt(two_dt * kc)
                        lo = math.inf
            steps += n_done
            if halt and jp == n_dist:
                break  # escape.stop: passed the largest distance
            if h_last > 1e-12 * dt:  # partial step onto the output time
                if x >= b or x < a:
                    g, w = relocate(edges, offsets, length, s, g, w, x, a, b)
                    a, b, lo, hi, kc, kl, kr = patch_data(
                        edges, kappa, offsets, length, s, g, w, half_w)
                    sc = math.sqrt(two_dt * kc)
                    if not fast:
                        lo = math.inf
                kw, dkw = smoothed(x, a, b, kc, kl, kr, half_w, inv_w, inverse)
                xp = x
                x += math.sqrt(2.0 * kw * h_last) * normal(rs) + dflag * dkw * h_last
                if jp < n_dist:
                    jp = check_escape(xp - x0, x - x0, kw, h_last, tk - h_last, esc_dist, jp, esc,
                                      rs)
                    if jp == n_dist and not y_moves:
                        fast = True
                        lo = a + half_w
                if y_moves:
                    sy_last = math.sqrt(2.0 * kappa_perp * h_last)
                    y, s, g, w, changed = perp_step(y, sy_last, rs, x, s, g, w, two_d, edges,
                                                    offsets, length, height, l_perp, n_strips)
                    if changed:
                        a, b, lo, hi, kc, kl, kr = patch_data(
                            edges, kappa, offsets, length, s, g, w, half_w)
                        sc = math.sqrt(two_dt * kc)
                        lo = math.inf
                steps += 1
            if halt and jp == n_dist:
                break
            t = tk
            record(sums, k, x - x0, y - y0)
    return steps


def euler_step(shortest: float, kappa_max: float, courant: float) -> float:
    """Time step of eq. (D3): κ_max Δt / l_min² = ``courant`` (the one definition)."""
    return courant * shortest * shortest / kappa_max


def euler_dt(medium: Medium, courant: float) -> float:
    """Time step of eq. (D3) on a realisation: its shortest patch and largest κ."""
    return euler_step(float(np.min(medium.lengths())), float(np.max(medium.kappa)), courant)


def run_euler(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    *, escape: Sequence[float] | np.ndarray = (),
    smoothing: Literal["kappa", "inverse_kappa"] = "kappa", width: float | None = None,
    courant: float = 1e-3, drift: bool = True, stop: bool = False,
) -> KernelResult:
    """Run the paper's Itô-Euler kernel (D1-D3) on the box-car smoothed ``medium``.

    Parameters
    ----------
    medium, times, n_particles, state, escape
        As for :func:`~patchwalk_worker.kernels.exact.run_exact`.
    smoothing : {"kappa", "inverse_kappa"}
        Smooth κ (the paper; biases κ_H) or 1/κ (preserves κ_H).
    width : float, optional
        Smoothing width w; default l_min/10. Must be in (0, l_min].
    courant : float
        κ_max Δt / l_min² (eq. D3), default 1e-3.
    drift : bool
        Include the κ′Δt term of D1 (False reproduces the drift trap, for tests only).
    stop : bool
        ``escape.stop``: end each particle's walk once it has passed the largest distance.
    """
    t, esc_in, st, sums, esc_sorted = check_args(medium, times, n_particles, state, escape)
    order = np.argsort(esc_in, kind="stable")  # the kernel walks the levels nearest first
    esc_d = np.ascontiguousarray(esc_in[order])
    if smoothing not in ("kappa", "inverse_kappa"):
        raise ValueError(f'smoothing must be "kappa" or "inverse_kappa" (got {smoothing!r})')
    l_min = float(np.min(medium.lengths()))
    w = l_min / 10.0 if width is None else float(width)
    if not 0.0 < w <= l_min:
        raise ValueError(f"width must be in (0, l_min = {l_min:g}] (got {w:g}); default l_min/10")
    if not courant > 0.0:
        raise ValueError(f"courant must be > 0 (got {courant}); the paper uses 1e-3")
    steps = euler_kernel(
        medium.edges, medium.kappa, medium.offsets, float(medium.length),
        float(medium.l_perp) if medium.n_strips > 1 else 0.0, float(medium.kappa_perp),
        t, esc_d, int(n_particles), st, euler_dt(medium, courant), w,
        smoothing == "inverse_kappa", bool(drift), sums, esc_sorted,
        bool(stop) and esc_d.size > 0,
    )
    esc = np.empty_like(esc_sorted)
    esc[order] = esc_sorted
    return KernelResult(sums=sums, esc=esc, steps=int(steps))


def spec_dt(spec: SweepSpec) -> float:
    """Time step of eq. (D3) for a point: the shortest possible patch and the largest κ."""
    return euler_step(l_min(spec), max(spec.phase_kappas()), spec.euler.courant)


def _cost(spec: SweepSpec) -> float:
    """count · t_max / Δt: exactly the steps the kernel takes."""
    return spec.particles.count * spec.times.max / spec_dt(spec)


def _run(spec: SweepSpec, medium: Medium, times: np.ndarray, n_particles: int,
         state: np.ndarray) -> KernelResult:
    o = spec.euler
    return run_euler(medium, times, n_particles, state, escape=escape_distances(spec),
                     smoothing=o.smoothing, width=o.width, courant=o.courant, drift=o.drift,
                     stop=spec.escape.stop)


KERNEL = Kernel(
    name="euler", options=EulerOptions, run=_run, cost=_cost, dt=spec_dt,
    advice=("times.max", "lower times.max or particles.count, or raise euler.courant "
            "(the paper's D3 uses 1e-3)"),
)
