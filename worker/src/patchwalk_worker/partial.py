"""What a sweep that is not finished can already say: partial results and medium realisations.

:func:`partial_results` summarises the finished tasks of a running or cancelled sweep on demand
(never cached: the finished set changes; finished sweeps serve the results stored at
finalisation instead, :func:`patchwalk_worker.results.read_results`). Each point uses only its
finished tasks, whatever their order, so the error bars are those of the realisations computed
so far; points with no finished task are left out. The same reduction as the final one
(:func:`patchwalk_worker.results.summarise`) runs on a view of the store that shows only the
finished tasks and counts only their particles.

:func:`medium_realisation` rebuilds the medium of task ``(point, task)`` from the sweep's seed
stream (:func:`patchwalk_worker.rng.medium_rng`), exactly as :func:`patchwalk_worker.task.run_task`
draws it: nothing is read from a path a client names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from patchwalk_client.models import SweepResults
from patchwalk_client.sweep import Point, expand_points

from patchwalk_worker.media import build_medium
from patchwalk_worker.results import records, summarise
from patchwalk_worker.rng import medium_rng
from patchwalk_worker.task import n_tasks, task_particles
from patchwalk_worker.tolerance import Decision

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

    from patchwalk_worker.store import SweepStore

__all__ = ["PartialResults", "medium_realisation", "partial_results"]


@dataclass(frozen=True)
class PartialResults:
    """Results of the finished tasks: ``results`` and how many tasks they hold."""

    results: SweepResults
    tasks_done: int
    tasks_total: int


class _FinishedTasks:
    """A read-only view of a store that holds only its finished tasks (for ``summarise``)."""

    def __init__(self, store: SweepStore) -> None:
        self._store = store
        self.spec = store.spec
        mask = store.done_mask()
        self._keep: list[np.ndarray] = []
        self.points: list[Point] = []
        self.times: list[np.ndarray] = []
        self.distances: list[np.ndarray] = []
        self.n_tasks: list[int] = []
        self._index: list[int] = []
        for i, pt in enumerate(store.points):
            keep = np.flatnonzero(mask[i, : store.n_tasks[i]])
            if keep.size == 0:
                continue
            count = sum(task_particles(pt.spec, int(k)) for k in keep)
            spec = pt.spec.model_copy(update={
                "particles": pt.spec.particles.model_copy(update={"count": int(count)})})
            self.points.append(Point(index=pt.index, params=pt.params, spec=spec))
            self.times.append(store.times[i])
            self.distances.append(store.distances[i])
            self.n_tasks.append(int(keep.size))
            self._keep.append(keep)
            self._index.append(i)

    def decisions(self) -> list[Decision]:
        """Each point summarises exactly its finished tasks (no tolerance stop decided yet)."""
        return [Decision(n, False, False, math.nan, math.nan) for n in self.n_tasks]

    def read_point(self, j: int) -> dict[str, np.ndarray]:
        data = self._store.read_point(self._index[j])
        return {k: np.asarray(v)[self._keep[j]] for k, v in data.items()}


def partial_results(store: SweepStore) -> PartialResults:
    """κ̄, κ̄_2D, escape and theory of the finished tasks of ``store`` (computed now)."""
    view = _FinishedTasks(store)
    points = summarise(view)  # type: ignore[arg-type]
    return PartialResults(records(points, store.spec.dimensions, store.spec.escape.stop),
                          int(sum(view.n_tasks)),
                          store.total())


class MediumIndexError(ValueError):
    """A point or task index that the sweep does not have; the message gives the range."""


def medium_realisation(spec: SweepSpec, point: int, task: int) -> dict[str, Any]:
    """The medium of task ``(point, task)`` of a sweep spec as a JSON-ready dict.

    Keys: ``point``, ``task``, ``params``, ``edges``, ``kappa``, ``offsets`` (strip ``s`` has the
    patches ``kappa[offsets[s]:offsets[s+1]]`` and the edges ``edges[offsets[s] + s :
    offsets[s+1] + s + 1]``), ``length``, ``l_perp``, ``kappa_perp``, ``n_strips``, ``kappa_A``,
    ``kappa_H`` (eqs 3–4 of the realisation).

    Raises
    ------
    MediumIndexError
        If ``point`` or ``task`` is out of range.
    """
    points = expand_points(spec)
    if not 0 <= point < len(points):
        raise MediumIndexError(f"point {point} does not exist: the sweep has points 0 to "
                               f"{len(points) - 1}")
    p = points[point].spec
    k = n_tasks(p)
    if not 0 <= task < k:
        raise MediumIndexError(f"task {task} does not exist: point {point} has tasks 0 to {k - 1}")
    t_max = float(p.output_times()[-1])
    m = build_medium(p, medium_rng(p.seed, point, task), t_max)
    return {
        "point": point, "task": task, "params": points[point].params,
        "edges": m.edges.tolist(), "kappa": m.kappa.tolist(), "offsets": m.offsets.tolist(),
        "length": float(m.length), "l_perp": float(m.l_perp), "kappa_perp": float(m.kappa_perp),
        "n_strips": int(m.n_strips), "kappa_A": float(m.kappa_A), "kappa_H": float(m.kappa_H),
    }
