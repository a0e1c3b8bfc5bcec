"""Run to a tolerance: how many tasks (realisations) a point needs for ``particles.target_rel_err``.

A point first runs its ``ceil(count/per_task)`` tasks (K₀). With ``particles.target_rel_err``
it then grows by *batches* of K₀ more tasks (each a new realisation with ``per_task``
particles, seeded like any task, ``spawn_key=(point, task, ·)``) up to
K_max = ``ceil(max_count/per_task)``. The stopping rule looks only at completed tasks taken in
task order: for each prefix 0..k−1 of consecutive finished tasks with k ≥ K₀, κ̄(t) and its
standard error between realisations are computed by
:func:`~patchwalk_worker.summary.combine_kappa` (the summaries' own error bar), and the point
stops at the first k where kappa_err < target · |κ̄| at every target time (every output time
unless ``particles.target_times``). The summaries use exactly tasks 0..k−1; tasks beyond k
that already ran are left out, and a new batch is only added once the previous one is
complete. The stop is therefore a function of the spec alone: the same on any number of
workers, in any completion order and after any restart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from patchwalk_client.spec import SweepSpec

from .summary import combine_kappa, realisations_differ


def initial_tasks(spec: SweepSpec) -> int:
    """K₀ = ``ceil(particles.count / particles.per_task)``: the tasks every point runs."""
    return int(math.ceil(spec.particles.count / spec.particles.per_task))


def max_tasks(spec: SweepSpec) -> int:
    """K_max: ``ceil(max_count / per_task)`` with a target, else K₀."""
    p = spec.particles
    if p.target_rel_err is None or p.max_count is None:
        return initial_tasks(spec)
    return max(initial_tasks(spec), int(math.ceil(p.max_count / p.per_task)))


def target_indices(spec: SweepSpec, t: np.ndarray) -> np.ndarray:
    """Indices of the output times the target applies to."""
    want = spec.particles.target_times
    if not want:
        return np.arange(t.shape[0])
    return np.asarray(sorted({int(np.argmin(np.abs(t - v))) for v in want}), dtype=np.int64)


@dataclass(frozen=True)
class Decision:
    """The tolerance state of one point.

    Attributes
    ----------
    tasks : int
        Tasks the point needs now (its summaries use tasks 0..tasks−1 once it has stopped).
    stopped : bool
        Whether the point is finished: the target is met, or K_max tasks are done.
    reached : bool
        Whether the target is met.
    rel_err : float
        Largest kappa_err/|κ̄| over the target times at the last prefix evaluated (nan if none).
    limiting_time : float
        The output time where that largest relative error is (nan if none).
    """

    tasks: int
    stopped: bool
    reached: bool
    rel_err: float
    limiting_time: float


def _worst(sums: np.ndarray, t: np.ndarray, idx: np.ndarray,
           distinct: bool) -> tuple[float, float]:
    s = combine_kappa(sums, t, distinct)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.asarray(s.kappa_err[idx] / np.abs(s.kappa[idx]), dtype=np.float64)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    j = int(np.argmax(rel))
    return float(rel[j]), float(t[idx[j]])


def decide(spec: SweepSpec, sums: np.ndarray, done: np.ndarray, t: np.ndarray) -> Decision:
    """How many tasks a point needs, from its per-task sums and done flags (see module doc).

    Parameters
    ----------
    spec : SweepSpec
        The resolved point spec.
    sums : ndarray, shape (≥ K_done, n_times, 5)
        Per-task moment sums in task order (rows of unfinished tasks are ignored).
    done : ndarray of bool
        Which tasks are finished, in task order.
    t : ndarray
        Output times.
    """
    k0, k_max = initial_tasks(spec), max_tasks(spec)
    target = spec.particles.target_rel_err
    if target is None:
        return Decision(k0, bool(np.all(done[:k0])), True, math.nan, math.nan)
    not_done = np.nonzero(~np.asarray(done[:k_max], dtype=bool))[0]
    prefix = int(not_done[0]) if not_done.shape[0] else min(k_max, done.shape[0])
    idx = target_indices(spec, t)
    distinct = realisations_differ(spec)
    rel, where = math.nan, math.nan
    for k in range(k0, prefix + 1):
        rel, where = _worst(sums[:k], t, idx, distinct)
        if rel < target:
            return Decision(k, True, True, rel, where)
    if prefix >= k_max:
        return Decision(k_max, True, False, rel, where)
    batch = k0
    need = k0 if prefix < k0 else k0 + batch * ((prefix - k0) // batch + 1)
    return Decision(min(need, k_max), False, False, rel, where)
