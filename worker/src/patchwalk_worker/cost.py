"""What a sweep point will cost: particle-steps and CPU seconds, from a short pilot run.

The number of steps a particle kernel takes is a property of the walk, not of the spec alone:
the ``exact`` kernel's step is Δt = min(u_far, u_near + u_next)²/(2s²) in y = x/√κ units, and it
jumps across a patch in one exit-time draw of mean duration (l/√κ)²/8, so its step *rate* is
the time-average over the patches a particle visits of ~8κ/l² (plus a few steps per interface
crossing, per output time and per escape level). Particles start uniformly, which is the
invariant density of eq. (1), so that rate is stationary: the expected steps per particle grow
as s(t) ≈ c·n_out(t) + b·t from t = 0, with b a medium average no closed formula gets to 2×
for heavy-tailed pdfs (it is dominated by short fast patches, weighted by the time spent in
them). We therefore *measure* it:

* **pilot** — a few particles (:data:`PILOT_PARTICLES`) on the realisation of task 0 of the
  point (the same medium the task will draw, ``spawn_key=(point, 0, 0)``) with their own
  particle stream ``spawn_key=(point, 0, 2)`` (:func:`pilot_state`), on a ladder of horizons
  T₀ < 8T₀ < 64T₀ … ≤ t_max, each run on the spec's output times below T. The ladder stops at
  t_max (then the pilot's steps per particle are the estimate) or when the next rung would
  exceed :data:`PILOT_STEPS` particle-steps; then s(t_max) = s(T) + b·(t_max − T) with
  b = (s(T) − s(T/8))/(T − T/8), the late-time rate. The first rung is capped with the kernel's
  declared upper bound (``Kernel.cost``) so it never exceeds the budget either. Escape
  distances and every other option act on the pilot as on the real run, so the model needs no
  update when a kernel's step rule changes.
* **escape.stop** — a particle stops once it has passed the largest escape distance, so
  s(t) saturates: the pilot runs with the stop (every kernel of this module honours it, the
  euler and pitch kernels included, whose count·t_max/Δt would be far too high), and the
  extrapolation beyond the last rung charges only the particles still walking:
  s(t_max) = s(T) + r·∫_T^{t_max} f(t) dt, with f the fraction not yet escaped (measured at
  the last two rungs, continued as the power law through them) and r the steps per walking
  particle and unit time over the last rung interval (its walking fraction taken as the mean
  of its ends'); where the exact ⟨τ⟩ of the realisation is known (1D: the first-passage
  solve each task does anyway) the time walked after T is at most min(⟨τ⟩, t_max) minus the
  time walked by T, which caps the continuation when the pilot's rungs end before any escape.
  ``benchmarks/bench_escape_stop.py`` checks the estimate against the steps the run then
  took (docs/engine.md).
* **kernels with a known step count** (``euler``, ``pitch``: count·t_max/Δt exactly;
  ``reference``: its cell-updates) take their declared ``Kernel.cost``; the pilot only times
  them (task 0's particles on a horizon of ≥ :data:`PILOT_SECONDS`, or t_max; the reference
  runs task 0 whole when it is small).
* **wall time** — ns per step is *measured by the pilot* (its largest rung, after the kernel
  was compiled or loaded from the numba cache), and one task costs
  t_medium + steps·ns + :data:`TASK_OVERHEAD_S` (store writes and the Dask round trip,
  docs/engine.md). CPU seconds of the point are the sum over its tasks; the wall on a cluster
  of W workers is about CPU/W (never less than one task).

The pilot is deterministic in its steps (seeds from the spec); its timings are not, so only the
wall estimate varies between calls.

* **bound without a pilot** — :func:`cost_bound` is CPU seconds no run of a point exceeds: the
  kernel's declared step bound (``Kernel.cost``, exact for euler/pitch, 50–800× high for exact)
  at :data:`NS_PER_STEP_BOUND`, the realisation at :data:`NS_PER_PATCH_BOUND` per patch and the
  exact first-passage solve (O(N log N) per distance, :mod:`.first_passage`) at
  :data:`NS_PER_ESCAPE_LEVEL_BOUND`, each ≥ 10× what is measured. ``patchwalk run`` runs the
  pilots only when that bound exceeds the budget, i.e. when the budget could refuse the sweep
  (``--dry-run`` always runs them: it shows the estimate).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from patchwalk_client.spec import SweepSpec

from .kernels.common import KernelResult
from .kernels.registry import get_kernel, warm_up
from .media import Medium, build_medium
from .rng import medium_rng, seed_sequence
from .tolerance import max_tasks

#: Spawn-key stream of the pilot's particles: ``SeedSequence(seed, spawn_key=(point, 0, 2))``.
PILOT_STREAM = 2
#: Particles of a pilot (its own stream; more when the whole horizon is cheap).
PILOT_PARTICLES = 32
#: Most particles of a pilot (when the full horizon is cheap, more particles cut the noise).
PILOT_MAX_PARTICLES = 512
#: Largest pilot rung, in particle-steps (≈ 0.05 s for the exact kernel).
PILOT_STEPS = 1_000_000.0
#: Shortest timing run of a kernel whose step count is known (timer and cache noise).
PILOT_SECONDS = 0.05
#: Growth of the pilot's horizon from one rung to the next.
PILOT_GROWTH = 8.0
#: Fixed cost of one task beyond its kernel and medium: five chunk writes and a Dask round trip.
TASK_OVERHEAD_S = 0.02
#: Kernels whose declared cost is their exact step count (the pilot only times them).
EXACT_COUNT = frozenset({"euler", "pitch"})
#: Upper bound of ns per particle-step of any particle kernel (measured 6–140 ns on a loaded
#: 2-core machine: euler 6, pitch 21, exact 80–140, exact 2D 70).
NS_PER_STEP_BOUND = 2000.0
#: Upper bound of ns per patch to draw a realisation (measured 25–50 ns).
NS_PER_PATCH_BOUND = 1000.0
#: Upper bound of the exact first-passage solve, in ns per patch, distance and log₂(patches)
#: level of its segment tree (measured ≈ 0.9 ns·10³ on 3.9e5 patches).
NS_PER_ESCAPE_LEVEL_BOUND = 20000.0

_warm: set[str] = set()


@dataclass(frozen=True)
class PointCost:
    """Estimated cost of one sweep point.

    Attributes
    ----------
    tasks : int
        Tasks (realisations) of the point (with ``particles.target_rel_err``: the most it may
        take, ``max_count/per_task``, so that the budget bounds the worst case).
    steps : float
        Particle-steps of all its tasks (lattice cell-updates for ``reference``).
    cpu_seconds : float
        Seconds of one core for all its tasks (kernel + medium + per-task overhead).
    ns_per_step : float
        Measured by the pilot.
    task_seconds : float
        Seconds of its longest task (a cluster cannot finish the point faster).
    source : str
        ``"pilot"`` (steps measured and extrapolated) or ``"formula"`` (the kernel's count).
    """

    tasks: int
    steps: float
    cpu_seconds: float
    ns_per_step: float
    task_seconds: float
    source: str


def pilot_state(seed: int, point: int) -> np.ndarray:
    """xoshiro256 state of a point's pilot particles (``spawn_key=(point, 0, 2)``)."""
    state = seed_sequence(seed, point, 0, PILOT_STREAM).generate_state(4, np.uint64)
    if not state.any():  # pragma: no cover - probability 2**-256
        state[0] = np.uint64(0x9E3779B97F4A7C15)
    return state


def _ensure_warm(kernel: str) -> None:
    if kernel not in _warm:
        warm_up([kernel])
        _warm.add(kernel)


def _ensure_escape_warm() -> None:
    """Compile (or load from the numba cache) the first-passage solver on a tiny realisation,
    so that the pilot times one solve of the real one instead of two."""
    from patchwalk_client.spec import parse_spec

    from .kernels.registry import warm_up_spec
    from .task import escape_reference

    if "escape" in _warm:
        return
    tiny = parse_spec(warm_up_spec("exact", 1))
    escape_reference(tiny, build_medium(tiny, medium_rng(0, 0, 0), tiny.times.max))
    _warm.add("escape")


def cost_bound(spec: SweepSpec) -> float | None:
    """CPU seconds that no run of a resolved point spec exceeds, without a pilot (module doc).

    Parameters
    ----------
    spec : SweepSpec
        A resolved point spec (no sweep axes), already checked by ``check_feasible``.

    Returns
    -------
    float or None
        The bound, or None for the ``reference`` kernel (a dense eigen solve has no per-update
        bound): its cost is measured.
    """
    from .budget import BYTES_PER_PATCH, medium_bytes
    from .task import n_tasks, task_particles

    if spec.kernel == "reference":
        return None
    n_task = max_tasks(spec)
    steps_pp = float(get_kernel(spec.kernel).cost(spec)) / spec.particles.count
    particles = (n_task - 1) * spec.particles.per_task + task_particles(spec, n_tasks(spec) - 1)
    patches = max(medium_bytes(spec) / BYTES_PER_PATCH, 1.0)
    setup = patches * NS_PER_PATCH_BOUND
    if spec.escape.distances:
        levels = math.log2(patches) + 1.0
        setup += patches * len(spec.escape.distances) * levels * NS_PER_ESCAPE_LEVEL_BOUND
    return (n_task * (setup * 1e-9 + TASK_OVERHEAD_S)
            + particles * steps_pp * NS_PER_STEP_BOUND * 1e-9)


def _rung_times(times: np.ndarray, horizon: float) -> np.ndarray:
    below = times[times < horizon]
    return np.concatenate([below, [horizon]]).astype(np.float64)


def point_cost(spec: SweepSpec, point: int = 0) -> PointCost:
    """Estimated particle-steps and CPU seconds of one resolved point spec (see module doc).

    Parameters
    ----------
    spec : SweepSpec
        A resolved point spec (no sweep axes), already checked by ``check_feasible``.
    point : int
        Its index in the sweep (selects the pilot's medium and particle streams).

    Returns
    -------
    PointCost
    """
    from .task import escape_reference, task_particles

    kernel = get_kernel(spec.kernel)
    n_task = max_tasks(spec)
    count = spec.particles.count
    times = np.asarray(spec.output_times(), dtype=np.float64)
    t_max = float(times[-1])
    _ensure_warm(kernel.name)
    c0 = time.thread_time()
    medium = build_medium(spec, medium_rng(spec.seed, point, 0), t_max)
    t_medium = time.thread_time() - c0
    mean_tau = math.nan  # exact ⟨τ⟩ past the largest escape distance on this realisation
    if spec.escape.distances:  # each task also solves its exact first-passage moments
        _ensure_escape_warm()  # compiled (numba cache) on a tiny medium, not timed
        c0 = time.thread_time()
        ref = escape_reference(spec, medium)
        t_medium += time.thread_time() - c0  # per-task set-up: realisation and that solve
        mean_tau = float(ref[int(np.argmax(spec.escape.distances)), 0])
    state = pilot_state(spec.seed, point)
    formula = float(kernel.cost(spec))
    if kernel.name == "reference":
        return _reference_cost(spec, point, n_task, formula, t_medium)
    n_p = PILOT_PARTICLES  # its own particles: as many for a tiny task as for a big one
    stop = spec.escape.stop and bool(spec.escape.distances)
    if kernel.name in EXACT_COUNT:  # steps known: one timing run of about PILOT_STEPS
        steps_pp = formula / count
        if stop:  # t_max/Δt per particle only for those that never escape: Δt·E[min(τ, t_max)]
            exact = spec.model_copy(update={"kernel": "exact"})
            _, walked, _, _ = _ladder(exact, medium, times, n_p, state, formula / count / t_max,
                                      mean_tau)
            steps_pp *= walked / t_max
        n_p = max(1, min(task_particles(spec, 0), PILOT_MAX_PARTICLES))
        horizon = t_max * min(1.0, PILOT_STEPS / (n_p * steps_pp))
        while True:
            c0 = time.thread_time()
            res = kernel.run(spec, medium, _rung_times(times, horizon), n_p, state)
            wall = time.thread_time() - c0
            if wall >= PILOT_SECONDS or horizon >= t_max:
                break
            horizon = min(t_max, horizon * min(PILOT_SECONDS / max(wall, 1e-6), 64.0))
        ns = 1e9 * wall / max(res.steps, 1)
        return _totals(spec, n_task, steps_pp, ns, t_medium, "pilot" if stop else "formula")
    steps_pp, _, res, wall = _ladder(spec, medium, times, n_p, state, formula / count / t_max,
                                     mean_tau)
    ns = 1e9 * wall / max(res.steps, 1)
    return _totals(spec, n_task, steps_pp, ns, t_medium, "pilot")


def _ladder(spec: SweepSpec, medium: Medium, times: np.ndarray, n_p: int, state: np.ndarray,
            bound_pp: float, mean_tau: float = math.nan,
            ) -> tuple[float, float, KernelResult, float]:
    """The pilot's ladder of horizons (module doc): (steps per particle at t_max, the time a
    particle walks E[min(τ, t_max)] with τ the passage of the largest escape distance under
    ``escape.stop`` (else t_max), the last rung's result, its CPU seconds). ``bound_pp``
    bounds the steps per particle and unit time (sizes the first rung); ``mean_tau`` is the
    exact ⟨τ⟩ on the pilot's realisation (NaN if unknown): under ``escape.stop`` the time
    walked after the last rung is then min(⟨τ⟩, t_max) − E[min(τ, T)] (an upper bound, as
    E min(τ, t) ≤ min(⟨τ⟩, t)), else the power-law continuation of the walking fraction."""
    kernel = get_kernel(spec.kernel)
    t_max = float(times[-1])
    stop = spec.escape.stop and bool(spec.escape.distances)
    horizon = min(float(times[0]), PILOT_STEPS / n_p / max(bound_pp, 1e-300))
    horizon = min(max(horizon, t_max * 1e-12), t_max)
    prev: tuple[float, float, float] | None = None  # (horizon, steps per particle, walking)
    far = int(np.argmax(spec.escape.distances)) if stop else 0
    while True:
        c0 = time.thread_time()
        res = kernel.run(spec, medium, _rung_times(times, horizon), n_p, state.copy())
        wall = time.thread_time() - c0
        s_pp = res.steps / n_p
        # fraction still walking at the horizon (all of them without escape.stop), and the
        # mean time walked by then, E[min(τ, horizon)]
        walking, walked = 1.0, horizon
        if stop:
            walking = 1.0 - float(res.esc[far, 0]) / n_p
            walked = float(res.esc[far, 1]) / n_p + walking * horizon
        if horizon >= t_max:
            more = min(int(PILOT_STEPS / max(res.steps, 1)), PILOT_MAX_PARTICLES // n_p)
            if more >= 2:
                n_p *= more  # cheap: sample more particles
                continue
            return s_pp, walked, res, wall
        if res.steps * PILOT_GROWTH > PILOT_STEPS:
            if prev is None:
                rate = s_pp / horizon / (0.5 * (1.0 + walking))
                rest = _walking_time(horizon, t_max, walking, 1.0, horizon)
            else:
                rate = (s_pp - prev[1]) / (horizon - prev[0]) / max(0.5 * (prev[2] + walking),
                                                                    1e-12)
                rest = _walking_time(horizon, t_max, walking, prev[2], prev[0])
            if stop and math.isfinite(mean_tau):
                rest = min(rest, max(min(mean_tau, t_max) - walked, 0.0))
            return s_pp + max(rate, 0.0) * rest, walked + rest, res, wall
        prev = (horizon, s_pp, walking)
        horizon = min(horizon * PILOT_GROWTH, t_max)


def _walking_time(horizon: float, t_max: float, walking: float, before: float,
                  t_before: float) -> float:
    """∫ f(t) dt from ``horizon`` to ``t_max`` of the fraction f still walking, f taken as the
    power law through (t_before, before) and (horizon, walking), never rising (f = 1 without
    escape.stop: t_max − horizon). A power law decays slower than the exponential tail of
    an exit time, so this errs high."""
    span = t_max - horizon
    if walking <= 0.0 or span <= 0.0:
        return 0.0
    if t_before >= horizon or before <= walking:
        return walking * span
    gamma = math.log(before / walking) / math.log(horizon / t_before)
    r = t_max / horizon
    if abs(gamma - 1.0) < 1e-9:
        return walking * horizon * math.log(r)
    return float(walking * horizon * (r ** (1.0 - gamma) - 1.0) / (1.0 - gamma))


def _totals(spec: SweepSpec, n_task: int, steps_pp: float, ns: float, t_medium: float,
            source: str) -> PointCost:
    from .task import n_tasks, task_particles

    # O(1) in the number of tasks (a spec may ask for any count): every task has per_task
    # particles except possibly task K0-1 (the last of the first count particles)
    k0 = n_tasks(spec)
    last = task_particles(spec, k0 - 1)
    per = spec.particles.per_task
    particles = (n_task - 1) * per + last
    fixed = t_medium + TASK_OVERHEAD_S
    cpu = n_task * fixed + particles * steps_pp * ns * 1e-9
    longest = fixed + max(per if n_task > 1 else last, last) * steps_pp * ns * 1e-9
    return PointCost(tasks=n_task, steps=steps_pp * particles, cpu_seconds=cpu,
                     ns_per_step=ns, task_seconds=longest, source=source)


def _reference_cost(spec: SweepSpec, point: int, n_task: int, formula: float,
                    t_medium: float) -> PointCost:
    """The reference lattice: run task 0 when it is small, else assume 10 ns per cell-update."""
    from .task import run_task

    ns = 10.0
    if formula <= 50 * PILOT_STEPS:
        if "reference-solvers" not in _warm:  # first use in this process: compile/load first
            run_task(spec, point, 0)
            _warm.add("reference-solvers")
        c0 = time.thread_time()
        run_task(spec, point, 0)
        ns = 1e9 * max(time.thread_time() - c0 - t_medium, 0.0) / max(formula, 1.0)
    sec = t_medium + formula * ns * 1e-9 + TASK_OVERHEAD_S
    return PointCost(tasks=n_task, steps=formula * n_task, cpu_seconds=sec * n_task,
                     ns_per_step=ns, task_seconds=sec, source="formula")
