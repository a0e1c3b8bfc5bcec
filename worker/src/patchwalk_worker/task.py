"""One task of a sweep: one medium realisation, one block of particles, one set of sums.

A point of a sweep is split into ``n_tasks(spec)`` tasks of ``particles.per_task`` particles
(the last task may be smaller). Task ``(point, task)`` draws its own medium realisation from
``SeedSequence(seed, spawn_key=(point, task, 0))`` and its particles' random stream from
``task_state(seed, point, task)`` (``spawn_key=(point, task, 1)``), so its result depends on
``(spec, point, task)`` only — never on the worker, the thread, or the order of tasks.

The moment sums are those of the kernels (docs/interfaces.md §3): at each output time,
Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy². κ̄(t) = ⟨Δx²⟩/(2t) (eq. 2 of the paper) and its error follow
from them (see :mod:`patchwalk_worker.summary`).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

#: Column order of the ``sums`` array.
SUM_COLUMNS: tuple[str, ...] = ("n", "dx", "dx2", "dx4", "dy2")
#: Column order of the ``esc`` array.
ESC_COLUMNS: tuple[str, ...] = ("count", "tau", "tau2")


@dataclass
class TaskResult:
    """Moment sums of one task.

    Attributes
    ----------
    sums : ndarray of float64, shape (n_times, 5)
        Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy² at each output time. For the deterministic
        ``reference`` kernel Σ1 = 1, ΣΔx = 0, ΣΔx² = ⟨Δx²⟩ of the lattice, ΣΔx⁴ = nan.
    esc : ndarray of float64, shape (n_dist, 3)
        Per escape distance L: number of particles with |Δx| ≥ L by t_max, Στ, Στ².
    kappa_A, kappa_H : float
        Arithmetic and harmonic means of this task's realisation (eqs 3 and 4).
    steps : int
        Particle-steps done (0 for the reference).
    """

    sums: np.ndarray
    esc: np.ndarray
    kappa_A: float
    kappa_H: float
    steps: int


def n_tasks(spec: SweepSpec) -> int:
    """Number of tasks of a point: ``ceil(particles.count / particles.per_task)``."""
    return int(math.ceil(spec.particles.count / spec.particles.per_task))


def task_particles(spec: SweepSpec, task: int) -> int:
    """Particles of task ``task`` (all ``per_task`` except possibly the last).

    Raises
    ------
    IndexError
        If ``task`` is not in ``range(n_tasks(spec))``.
    """
    k = n_tasks(spec)
    if not 0 <= task < k:
        raise IndexError(f"task {task} out of range: this point has {k} tasks (0..{k - 1})")
    per = spec.particles.per_task
    return int(min(per, spec.particles.count - task * per))


def medium_rng(seed: int, point: int, task: int) -> np.random.Generator:
    """Generator of the medium realisation of task ``(point, task)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(point, task, 0)))


def escape_distances(spec: SweepSpec) -> np.ndarray:
    """Escape distances L_esc of the spec as float64."""
    return np.asarray(list(spec.escape.distances), dtype=np.float64).reshape(-1)


def _reference_result(spec: SweepSpec, medium: Any, times: np.ndarray) -> TaskResult:
    """Sums of the deterministic reference (docs/interfaces.md §4)."""
    from patchwalk_worker.reference import reference_msd

    n_t = times.shape[0]
    sums = np.zeros((n_t, 5), dtype=np.float64)
    sums[:, 0] = 1.0
    sums[:, 3] = np.nan
    if spec.dimensions == 2:
        from patchwalk_worker.reference2d import reference_msd_2d

        kperp = float(medium.kappa_perp)
        sums[:, 4] = 2.0 * kperp * times  # VALIDATION item 7: exact at all t
        sums[:, 2] = np.asarray(reference_msd_2d(medium, times, spec.reference), dtype=np.float64)
    else:
        sums[:, 2] = np.asarray(reference_msd(medium, times, spec.reference), dtype=np.float64)
    n_d = escape_distances(spec).shape[0]
    esc = np.full((n_d, 3), np.nan, dtype=np.float64)
    return TaskResult(sums, esc, float(medium.kappa_A), float(medium.kappa_H), 0)


def _kernel_kwargs(runner: Any, options: Any, escape: np.ndarray) -> dict[str, Any]:
    """Keyword arguments of a kernel wrapper: the kernel's options (by name) and ``escape``.

    A wrapper takes either an ``options`` model or its fields as keywords; only the
    parameters it declares are passed.
    """
    params = inspect.signature(runner).parameters
    kw: dict[str, Any] = {}
    if "options" in params:
        kw["options"] = options
    else:
        for name, value in options.model_dump().items():
            if name in params:
                kw[name] = value
    if "escape" in params:
        kw["escape"] = escape
    return kw


def run_task(spec: SweepSpec, point: int, task: int) -> TaskResult:
    """Run task ``(point, task)`` of a resolved point spec.

    Parameters
    ----------
    spec : SweepSpec
        The fully resolved spec of the point (``Point.spec``: no sweep axes left).
    point, task : int
        Indices of the point in the sweep and of the task in the point.

    Returns
    -------
    TaskResult
        The task's moment sums, escape sums, realisation means and step count.
    """
    from patchwalk_worker.media import build_medium

    times = np.asarray(spec.output_times(), dtype=np.float64)
    n_particles = task_particles(spec, task)
    medium = build_medium(spec, medium_rng(spec.seed, point, task), float(times[-1]))
    if spec.kernel == "reference":
        return _reference_result(spec, medium, times)

    from patchwalk_worker import kernels
    from patchwalk_worker.rng import task_state

    runner = getattr(kernels, f"run_{spec.kernel}")
    state = task_state(spec.seed, point, task)
    kwargs = _kernel_kwargs(runner, getattr(spec, spec.kernel), escape_distances(spec))
    res = runner(medium, times, n_particles, state, **kwargs)
    return TaskResult(
        sums=np.ascontiguousarray(res.sums, dtype=np.float64),
        esc=np.ascontiguousarray(res.esc, dtype=np.float64).reshape(-1, 3),
        kappa_A=float(medium.kappa_A),
        kappa_H=float(medium.kappa_H),
        steps=int(res.steps),
    )
