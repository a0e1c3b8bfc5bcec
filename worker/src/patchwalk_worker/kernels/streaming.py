"""The ``streaming`` kernel: one streaming phase, one diffusive phase (Appendix E).

Streaming phase: the particle moves at ±v_str and is scattered at rate σ into a new direction
drawn uniformly from {+1, −1} (the 1D isotropic re-draw); only half of the scatterings reverse
it, so reversals are a Poisson process of rate σ/2 and ⟨v(t)v(0)⟩ = v²e^{−σt}:

    κ̄_str(t) = (v²/σ) [1 − (1 − e^{−σt})/(σt)],   κ_str = v²/σ,

the long-time limit of (E1) and the paper's v²/σ = κ (Appendix D). (Reversal at rate σ would
give v²/(2σ); VALIDATION item 12.) Legs are exact: reversal times are exponential, interface,
output and escape-level crossings are solved for, nothing is discretised.

Diffusive phase (κ of the medium's patch): Brownian motion, dx = √(2κ) dW.

Interface (docs/kernels.md, "streaming: interface condition"): a streaming particle that reaches
a diffusive patch enters it at the interface; a diffusive particle is reflected at the interface
(Skorokhod: x = w + ℓ with the push ℓ) and leaves into the streaming patch, moving away, when
its push ℓ exceeds θ ~ Exp(mean 2κ/v) — an elastic (Robin) boundary with exit current
(v/2)ρ_d(0). That is the one local rule with entry at the interface whose invariant density is
uniform (ρ_± = ρ_d/2), so the uniform start with a uniform direction is stationary, as the
paper's ⟨…⟩_{x0} assumes. The interface then has a contact resistance 1/v: the long-time limit
is κ_∞ = P / (Σ_str lσ/v² + Σ_diff l/κ + N_interfaces/v) (theory_streaming.kappa_long_time).

Diffusive moves near an interface are exact steps of length h: θ is drawn afresh (the threshold
is memoryless in ℓ), the free path w exits when it first hits −θ, at the Lévy time
(u + θ)²/(2κξ²); otherwise (w_h, min w) is drawn from the law conditioned on not hitting −θ
(rejection on the free end point plus the Brownian-bridge hit probability, then the bridge
minimum from its truncated law) and u_h = w_h + max(0, −min w). h = min(F/2, …)²/(2s²κ) with F
the far edge's distance, so only the near interface can matter except with probability ~2Φ(−s).
Away from interfaces the particle takes the exact kernel's exit-time jumps. First passage
(|Δx| ≥ L): exact time on streaming legs; in the diffusive phase detected at the end point of
each step or jump (late by < one step).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit
from patchwalk_client.options import StreamingOptions

from ..media import Medium, build_medium
from ..rng import normal, particle_state, theory_rng, uniform
from ..theory_streaming import streaming_curves
from .common import (
    KernelResult,
    check_args,
    exit_time_quantile,
    locate,
    neighbour,
    record,
    record_escape,
)
from .exact import exit_horizon, exit_table
from .kernel import Kernel, escape_distances
from .streaming_strip import STREAMING_PHASES, StreamingStrip, estimate_events, streaming_strip

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

__all__ = ["STREAMING_PHASES", "KERNEL", "StreamingStrip", "estimate_events", "run_streaming",
           "streaming_kernel", "streaming_positions", "streaming_strip"]

@njit(cache=True, inline="always")
def _expo(rs: np.ndarray) -> float:
    return -math.log(1.0 - uniform(rs))


@njit(cache=True)
def _check_escapes(
    esc: np.ndarray, esc_dist: np.ndarray, done: np.ndarray, n_left: int, dx: float, t: float
) -> int:
    for j in range(esc_dist.shape[0]):
        if not done[j] and abs(dx) >= esc_dist[j]:
            done[j] = True
            n_left -= 1
            record_escape(esc, j, t)
    return n_left


@njit(cache=True)
def elastic_step(
    u: float, kc: float, h: float, theta: float, rs: np.ndarray
) -> tuple[float, float]:
    """One exact step of length ``h`` of reflected BM (diffusivity ``kc``) at distance ``u`` from
    an elastic wall that it leaves once its push exceeds ``theta``.

    Returns ``(tau, u_h)``: ``tau < h`` is the exit time (``u_h`` = 0), otherwise ``tau = inf``
    and ``u_h`` is the distance at the end of the step.
    """
    d = u + theta
    xi = normal(rs)
    if xi != 0.0:
        tau = d * d / (2.0 * kc * xi * xi)  # Lévy first-passage time of w to -theta
        if tau < h:
            return tau, 0.0
    s = math.sqrt(2.0 * kc * h)
    kh = kc * h
    for _ in range(100000):
        b = u + s * normal(rs)
        if b <= -theta:
            continue
        e_theta = (u + theta) * (b + theta) / kh
        if e_theta < 40.0 and uniform(rs) < math.exp(-e_theta):
            continue
        # bridge minimum m: (u - m)(b - m) = kh E, E ~ Exp(1) truncated to E < e_theta
        e = -math.log(1.0 - uniform(rs) * (-math.expm1(-e_theta)))
        m = 0.5 * ((u + b) - math.sqrt((u - b) * (u - b) + 4.0 * kh * e))
        return math.inf, b + max(0.0, -m)
    return math.inf, u  # pragma: no cover - acceptance probability ~ 0 never reached


@njit(cache=True)
def streaming_kernel(
    edges: np.ndarray, kappa: np.ndarray, is_str: np.ndarray, length: float,
    times: np.ndarray, esc_dist: np.ndarray, n_particles: int, task: np.ndarray,
    v: float, sigma: float, exit_factor: float, safety: float, table: np.ndarray,
    horizon: float, jump_gain: float, sums: np.ndarray, esc: np.ndarray, pos: np.ndarray,
    origin: float, halt: bool,
) -> int:
    """Run ``n_particles`` streaming/diffusive particles; fill ``sums``, ``esc``, ``pos``.

    ``edges``/``kappa``/``is_str``: one periodic strip whose neighbouring patches differ in
    phase (:func:`streaming_strip`); ``sigma`` is the scattering rate (reversals at σ/2);
    ``exit_factor`` sets the mean push threshold exit_factor·κ/v (2 = uniform invariant
    density). ``pos`` (n_times + 1, n_rec) receives x + ``origin`` of particles p < n_rec at
    the start and at every output time. Returns the number of events (legs, steps, jumps).
    ``halt`` (``escape.stop``): a particle stops once it has passed every distance.
    """
    n_patch = kappa.shape[0]
    offsets = np.zeros(2, dtype=np.int64)
    offsets[1] = n_patch
    n_times = times.shape[0]
    n_dist = esc_dist.shape[0]
    n_rec = pos.shape[1]
    rrev = 0.5 * sigma
    inv2s2 = 1.0 / (2.0 * safety * safety)
    inv_h = 1.0 / horizon
    rs = np.empty(4, dtype=np.uint64)
    done = np.zeros(max(n_dist, 1), dtype=np.bool_)
    events = 0
    for p in range(n_particles):
        particle_state(task, p, rs)
        x = uniform(rs) * length
        dirn = 1 if uniform(rs) < 0.5 else -1
        g, w = locate(edges, offsets, 0, length, x)
        x0 = x
        if p < n_rec:
            pos[0, p] = x + origin
        for j in range(n_dist):
            done[j] = False
        n_left = n_dist
        t = 0.0
        t_rev = -1.0  # next reversal time; < t means "draw afresh"
        for k in range(n_times):
            tk = times[k]
            while t < tk:
                if halt and n_left == 0:
                    break
                events += 1
                a = edges[g] + w * length
                b = edges[g + 1] + w * length
                if is_str[g]:
                    if t_rev < t:
                        t_rev = t + _expo(rs) / rrev
                    d_edge = b - x if dirn > 0 else x - a
                    t_hit = t + max(d_edge, 0.0) / v
                    t_end = min(t_hit, t_rev, tk)
                    if n_left > 0:
                        for j in range(n_dist):
                            if not done[j]:
                                gap = esc_dist[j] - dirn * (x - x0)
                                if t + gap / v <= t_end:
                                    done[j] = True
                                    n_left -= 1
                                    record_escape(esc, j, t + gap / v)
                    if t_hit <= t_rev and t_hit <= tk:
                        x = b if dirn > 0 else a
                        t = t_hit
                        gn, wn = neighbour(g, w, 0, offsets, dirn)
                        g = gn
                        w = wn
                        if not is_str[g]:
                            t_rev = -1.0
                    elif t_rev <= tk:
                        x += dirn * v * (t_rev - t)
                        t = t_rev
                        dirn = -dirn
                        t_rev = t + _expo(rs) / rrev
                    else:
                        x += dirn * v * (tk - t)
                        t = tk
                    continue
                # diffusive patch
                kc = kappa[g]
                d_l = x - a
                d_r = b - x
                if d_r <= d_l:
                    direction = 1
                    un = max(d_r, 0.0)
                    far = d_l
                    xi_ = b
                else:
                    direction = -1
                    un = max(d_l, 0.0)
                    far = d_r
                    xi_ = a
                rem = tk - t
                dt = 0.25 * far * far * inv2s2 / kc
                if un > 0.0 and dt < rem:
                    r = min(un, math.sqrt(kc * rem * inv_h))
                    if 0.5 * r * r / kc >= jump_gain * dt:
                        free = True
                        if n_left > 0:
                            for j in range(n_dist):
                                lev = esc_dist[j]
                                if not done[j] and (abs(x0 + lev - x) < r or abs(x - x0 + lev) < r):
                                    free = False
                        if free:
                            tau = r * r / kc * exit_time_quantile(uniform(rs), table)
                            if tau > rem:  # P <= 2Phi(-safety): neglected, stay put
                                tau = rem
                            elif uniform(rs) < 0.5:
                                x = xi_ if r == un else x + direction * r
                            else:
                                x = x - direction * r
                            t = min(t + tau, tk)
                            if n_left > 0:
                                n_left = _check_escapes(esc, esc_dist, done, n_left, x - x0, t)
                            continue
                h = min(dt, rem)
                theta = exit_factor * kc / v * _expo(rs)
                tau, u_new = elastic_step(un, kc, h, theta, rs)
                if tau < h:
                    gn, wn = neighbour(g, w, 0, offsets, direction)
                    x = xi_
                    g = gn
                    w = wn
                    dirn = direction
                    t_rev = -1.0
                    t = t + tau
                else:
                    x = xi_ - direction * u_new
                    t = tk if dt >= rem else t + h
                    if x < a or x >= b:  # beyond the far edge: ~2Phi(-safety) per step
                        g, w = locate(edges, offsets, 0, length, x)
                        dirn = 1 if x >= b else -1
                        t_rev = -1.0
                if n_left > 0:
                    n_left = _check_escapes(esc, esc_dist, done, n_left, x - x0, t)
            if halt and n_left == 0:
                break  # escape.stop: passed every distance
            record(sums, k, x - x0, 0.0)
            if p < n_rec:
                pos[k + 1, p] = x + origin
    return events


def _run(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    escape: Sequence[float] | np.ndarray, v_str: float, sigma: float | None,
    streaming_phase: str, safety: float, jump_gain: float, exit_factor: float, n_record: int,
    stop: bool = False,
) -> tuple[KernelResult, np.ndarray]:
    t, esc_d, st, sums, esc = check_args(medium, times, n_particles, state, escape)
    if not (v_str > 0.0 and math.isfinite(v_str)):
        raise ValueError(f"v_str must be positive and finite (got {v_str})")
    strip = streaming_strip(medium, streaming_phase)
    k_str = float(strip.kappa[strip.is_str][0])
    sig = v_str * v_str / k_str if sigma is None else float(sigma)
    if not (sig > 0.0 and math.isfinite(sig)):
        raise ValueError(f"sigma must be positive and finite (got {sigma}); None = v_str²/κ")
    if not safety >= 2.0:
        raise ValueError(f"safety must be >= 2 standard deviations (got {safety}); default is 8")
    if not exit_factor > 0.0:
        raise ValueError(f"exit_factor must be > 0 (got {exit_factor}); 2 is the model")
    n_rec = max(0, min(int(n_record), int(n_particles)))
    pos = np.zeros((t.size + 1, n_rec))
    events = streaming_kernel(
        strip.edges, strip.kappa, strip.is_str, strip.length, t, esc_d, int(n_particles), st,
        float(v_str), sig, float(exit_factor), float(safety), exit_table(),
        exit_horizon(float(safety)), float(jump_gain), sums, esc, pos, strip.origin,
        bool(stop) and esc_d.size > 0,
    )
    return KernelResult(sums=sums, esc=esc, steps=int(events)), pos


def run_streaming(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    *, escape: Sequence[float] | np.ndarray = (), v_str: float = 1.0,
    sigma: float | None = None, streaming_phase: str = "high", safety: float = 8.0,
    jump_gain: float = 4.0, exit_factor: float = 2.0, stop: bool = False,
) -> KernelResult:
    """Run the streaming kernel (Appendix E) on a 1D homogeneous or two-phase ``medium``.

    Parameters
    ----------
    medium, times, n_particles, state, escape
        As for :func:`~patchwalk_worker.kernels.exact.run_exact` (1D only). A homogeneous
        medium streams everywhere (the single-phase limit, eq. E1).
    v_str : float
        Streaming speed.
    sigma : float, optional
        Scattering rate σ of the streaming phase (isotropic re-draw: reversals at σ/2), so
        κ_str = v_str²/σ. Default ``None``: σ = v_str²/κ of the streaming patches, so that the
        medium's κ is that phase's long-time diffusivity.
    streaming_phase : {"high", "low"}
        Which phase of a two-phase medium streams; the other diffuses with its κ.
    safety : float
        Diffusive steps and jumps neglect events beyond ``safety`` standard deviations.
    jump_gain : float
        Exit-time jumps in the diffusive phase when they save this many steps.
    exit_factor : float
        Mean push threshold at an interface in units of κ/v; 2 (default) is the model with a
        uniform invariant density. Other values exist for tests only.
    stop : bool
        ``escape.stop``: end each particle's walk once it has passed every escape distance.

    Returns
    -------
    KernelResult
        ``steps`` counts events: streaming legs, diffusive steps and jumps.
    """
    res, _ = _run(medium, times, n_particles, state, escape, v_str, sigma, streaming_phase,
                  safety, jump_gain, exit_factor, 0, stop)
    return res


def streaming_positions(
    medium: Medium, times: Sequence[float] | np.ndarray, n_particles: int, state: np.ndarray,
    *, v_str: float = 1.0, sigma: float | None = None, streaming_phase: str = "high",
    safety: float = 8.0, jump_gain: float = 4.0, exit_factor: float = 2.0,
) -> tuple[KernelResult, np.ndarray]:
    """As :func:`run_streaming`, also returning positions, shape (n_times + 1, n_particles).

    Row 0 holds the start positions, row k + 1 the (unwrapped) positions at ``times[k]``, in the
    coordinates of ``medium``; the same streams as :func:`run_streaming` (same sums).
    """
    return _run(medium, times, n_particles, state, (), v_str, sigma, streaming_phase, safety,
                jump_gain, exit_factor, n_particles)


def _options(spec: SweepSpec) -> StreamingOptions:
    opts = spec.kernel_options()
    if not isinstance(opts, StreamingOptions):  # pragma: no cover - dispatch is by name
        raise TypeError(f"spec.kernel is {spec.kernel!r}, not 'streaming'")
    return opts


def _run_task(spec: SweepSpec, medium: Medium, times: np.ndarray, n_particles: int,
              state: np.ndarray) -> KernelResult:
    o = _options(spec)
    return run_streaming(medium, times, n_particles, state, escape=escape_distances(spec),
                         v_str=o.v_str, sigma=o.sigma, streaming_phase=o.streaming_phase,
                         safety=o.safety, stop=spec.escape.stop)


def _cost(spec: SweepSpec) -> float:
    """count · :func:`estimate_events` on the theory realisation (events, not steps)."""
    o = _options(spec)
    times = spec.output_times()
    medium = build_medium(spec, theory_rng(spec.seed), float(times[-1]))
    return spec.particles.count * estimate_events(
        medium, float(times[-1]), len(times), v_str=o.v_str, sigma=o.sigma,
        streaming_phase=o.streaming_phase, safety=o.safety)


def _curves(spec: SweepSpec, t: np.ndarray) -> dict[str, np.ndarray]:
    o = _options(spec)
    medium = build_medium(spec, theory_rng(spec.seed), float(t[-1]))
    strip = streaming_strip(medium, o.streaming_phase)
    return streaming_curves(spec, t, strip.edges, strip.kappa, strip.is_str, o.v_str, o.sigma)


KERNEL = Kernel(
    name="streaming", options=StreamingOptions, run=_run_task, cost=_cost, curves=_curves,
    cost_unit="events", advice=("times.max", "lower times.max or particles.count"),
)
