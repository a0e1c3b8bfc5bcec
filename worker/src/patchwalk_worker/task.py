"""One task of a sweep: one medium realisation, one block of particles, one set of sums.

A point of a sweep is split into ``n_tasks(spec)`` tasks of ``particles.per_task`` particles
(the last task may be smaller). Task ``(point, task)`` draws its own medium realisation from
:func:`~patchwalk_worker.rng.medium_rng` and its particles' random stream from
:func:`~patchwalk_worker.rng.task_state` (the streams of :mod:`patchwalk_worker.rng`), so its
result depends on ``(spec, point, task)`` only — never on the worker, the thread, or the order
of tasks. The kernel is the spec's entry of :mod:`patchwalk_worker.kernels.registry`.

The moment sums are those of the kernels (docs/interfaces.md §3): at each output time,
Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy². κ̄(t) = ⟨Δx²⟩/(2t) (eq. 2 of the paper) and its error follow
from them (see :mod:`patchwalk_worker.summary`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from patchwalk_worker.first_passage import mean_first_passage
from patchwalk_worker.histogram import task_histogram
from patchwalk_worker.kernels.common import ESC_COLUMNS
from patchwalk_worker.kernels.kernel import escape_distances
from patchwalk_worker.kernels.registry import get_kernel
from patchwalk_worker.media import Medium, build_medium
from patchwalk_worker.rng import medium_rng, task_state

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

#: Column order of the ``sums`` array.
SUM_COLUMNS: tuple[str, ...] = ("n", "dx", "dx2", "dx4", "dy2")


@dataclass
class TaskResult:
    """Moment sums of one task.

    Attributes
    ----------
    sums : ndarray of float64, shape (n_times, 5)
        Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy² at each output time. For the deterministic
        ``reference`` kernel Σ1 = 1, ΣΔx = 0, ΣΔx² = ⟨Δx²⟩ of the lattice, ΣΔx⁴ = nan.
    esc : ndarray of float64, shape (n_dist, 5)
        Per escape distance L (columns ``ESC_COLUMNS``): number of particles with |Δx| ≥ L
        by t_max, and over them Στ, Στ², Σ1/τ, Σ1/τ² (NaN for the reference kernel).
    kappa_A, kappa_H : float
        Arithmetic and harmonic means of this task's realisation (eqs 3 and 4).
    steps : int
        Particle-steps done (0 for the reference).
    hist : ndarray of int64, shape (n_times, n_bins + 2), optional
        Counts of x(t) − x0 of particles started at the ``[density]`` source
        (:func:`patchwalk_worker.histogram.task_histogram`).
    esc_reference : ndarray of float64, shape (n_dist, 2), optional
        Exact ⟨τ⟩ and ⟨τ²⟩ of the first passage past each escape distance on this task's
        realisation from a uniform start (:func:`patchwalk_worker.first_passage.
        mean_first_passage`); NaN where it does not apply (2D with κ⊥ > 0).
    """

    sums: np.ndarray
    esc: np.ndarray
    kappa_A: float
    kappa_H: float
    steps: int
    esc_reference: np.ndarray | None = None
    #: int64 (n_times, density.bins + 2): point-source histogram counts of the task
    #: (:mod:`patchwalk_worker.histogram`); None when the point has none
    hist: np.ndarray | None = None


def n_tasks(spec: SweepSpec) -> int:
    """Number of tasks of a point: ``ceil(particles.count / particles.per_task)``."""
    return int(math.ceil(spec.particles.count / spec.particles.per_task))


def task_particles(spec: SweepSpec, task: int) -> int:
    """Particles of task ``task`` (all ``per_task`` except possibly the last of the first
    ``n_tasks``; the tasks a ``particles.target_rel_err`` adds have ``per_task`` each).

    Raises
    ------
    IndexError
        If ``task`` is not in ``range(max_tasks(spec))`` (:mod:`patchwalk_worker.tolerance`).
    """
    from .tolerance import max_tasks

    k = max_tasks(spec)
    if not 0 <= task < k:
        raise IndexError(f"task {task} out of range: this point has {k} tasks (0..{k - 1})")
    per = spec.particles.per_task
    if task >= n_tasks(spec):
        return int(per)
    return int(min(per, spec.particles.count - task * per))


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
    times = np.asarray(spec.output_times(), dtype=np.float64)
    medium = build_medium(spec, medium_rng(spec.seed, point, task), float(times[-1]))
    res = get_kernel(spec.kernel).run(
        spec, medium, times, task_particles(spec, task), task_state(spec.seed, point, task)
    )
    return TaskResult(
        sums=np.ascontiguousarray(res.sums, dtype=np.float64),
        esc=np.ascontiguousarray(res.esc, dtype=np.float64).reshape(-1, len(ESC_COLUMNS)),
        kappa_A=float(medium.kappa_A),
        kappa_H=float(medium.kappa_H),
        steps=int(res.steps),
        esc_reference=escape_reference(spec, medium),
        hist=task_histogram(spec, point, task, medium, times, task_particles(spec, task),
                            task_state(spec.seed, point, task)),
    )


def escape_reference(spec: SweepSpec, medium: Medium) -> np.ndarray:
    """Exact ⟨τ⟩, ⟨τ²⟩ per escape distance on one realisation, shape (n_dist, 2).

    The yardstick served beside the Monte-Carlo escape statistics (eq. 8): the backward
    equations (FP1) of :mod:`patchwalk_worker.first_passage`, averaged over a uniform start.
    NaN in 2D with κ⊥ > 0, where no deterministic solution is computed.
    """
    distances = escape_distances(spec)
    if distances.size == 0 or medium.kappa_perp > 0.0:
        return np.full((distances.size, 2), np.nan)
    return np.ascontiguousarray(mean_first_passage(medium, distances), dtype=np.float64)
