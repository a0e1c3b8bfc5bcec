"""Everything the service needs from the worker package, behind one small protocol.

The routes, the scheduler and ``patchwalk run`` talk to a :class:`SweepBackend`;
:class:`StoreBackend` is the real one (spec parsing and validation, budget, zarr store,
``execute_task``, the finalised results). Tests inject a fake. A spec reaches the backend as
text or a mapping, never as a path: nothing here opens a file a caller names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.models import SweepResults
    from patchwalk_worker.partial import PartialResults
    from patchwalk_worker.store import SweepStore


@dataclass
class Plan:
    """A validated sweep: canonical spec JSON, its hash, size, cost and its kernels."""

    spec: dict[str, Any]
    spec_hash: str
    name: str
    n_points: int
    tasks_total: int
    estimated_steps: float
    errors: list[dict[str, str]] = field(default_factory=list)
    kernels: frozenset[str] = frozenset()
    estimated_cpu_seconds: float = 0.0  # one core, all tasks (patchwalk_worker.cost)
    longest_task_seconds: float = 0.0
    advice: str = "use fewer particles or points, or a shorter times.max"

    @property
    def estimated_cpu_hours(self) -> float:
        """Estimated CPU-hours of the whole sweep."""
        return self.estimated_cpu_seconds / 3600.0

    def wall_seconds(self, workers: int) -> float:
        """Estimated wall time on ``workers`` worker processes (at least the longest task)."""
        return max(self.estimated_cpu_seconds / max(workers, 1), self.longest_task_seconds)

    def over_budget(self, max_cpu_hours: float) -> str | None:
        """Why the sweep exceeds a budget of ``max_cpu_hours``, or None if it does not."""
        if self.estimated_cpu_hours <= max_cpu_hours:
            return None
        return (
            f"the sweep needs an estimated {self.estimated_cpu_hours:.3g} CPU-hours "
            f"({self.estimated_steps:.3g} particle-steps), beyond the budget of "
            f"{max_cpu_hours:.3g} CPU-hours per sweep: raise it with --max-cpu-hours or "
            f"PATCHWALK_MAX_CPU_HOURS, or {self.advice}"
        )

    def dry_run(self, workers: int) -> dict[str, Any]:
        """What the sweep would cost on ``workers`` workers (``--dry-run``, ``?dry_run=1``)."""
        return {
            "name": self.name, "spec_hash": self.spec_hash, "n_points": self.n_points,
            "tasks": self.tasks_total, "kernels": sorted(self.kernels),
            "estimated_steps": self.estimated_steps,
            "estimated_cpu_hours": self.estimated_cpu_hours,
            "workers": workers, "estimated_wall_seconds": self.wall_seconds(workers),
        }


@dataclass(frozen=True)
class PlanLimits:
    """What one submission may ask for (``max_points``, ``max_tasks`` of the settings)."""

    max_points: int
    max_tasks: int

    def check_points(self, n: int) -> None:
        """Refuse a sweep of more than ``max_points`` points before it is expanded."""
        if n > self.max_points:
            from patchwalk_client.errors import SpecError

            raise SpecError([{"loc": "sweep", "msg": (
                f"expands to {n} points, more than this service's limit of {self.max_points}: "
                "sweep fewer values, or split the sweep into several submissions")}])

    def check_tasks(self, n: int) -> None:
        """Refuse a sweep of more than ``max_tasks`` tasks before any cost pilot runs."""
        if n > self.max_tasks:
            from patchwalk_client.errors import SpecError

            raise SpecError([{"loc": "particles.per_task", "msg": (
                f"the sweep has {n} tasks, more than this service's limit of "
                f"{self.max_tasks}: raise particles.per_task or lower particles.count")}])


@dataclass
class OpenedSweep:
    """A sweep's store opened for scheduling: its tasks and those still to run."""

    total: int
    pending: list[tuple[int, int]]
    steps_done: float = 0.0


class SweepBackend(Protocol):
    """What the service asks of the physics package."""

    def plan(
        self, source: str | Mapping[str, Any], *, media_type: str | None = None,
        estimate: bool = True, limits: PlanLimits | None = None,
    ) -> Plan:
        """Parse and validate spec text or a mapping (raises ``SpecError``) and size it.

        ``media_type`` (``application/toml``, ``application/yaml``...) says how to parse text;
        ``errors`` of the plan lists the points that cannot run; ``estimate`` runs the cost
        pilots (``patchwalk_worker.cost``; skipped for a store that is already complete).
        ``limits`` bounds the points and tasks before anything is expanded or estimated
        (raises ``SpecError`` naming the field and the limit).
        """

    def open(self, sweep_id: str, spec: dict[str, Any]) -> OpenedSweep:
        """Create or open the sweep's store; list the tasks not yet done there."""

    def task(
        self, sweep_id: str, point: int, task: int
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The call that computes one task and writes it to the store."""

    def finalize(self, sweep_id: str, spec: dict[str, Any]) -> None:
        """Write the sweep's summaries and results once every task is done."""

    def results(self, sweep_id: str) -> SweepResults:
        """The typed results of a finalised sweep (read, never computed)."""

    def store_path(self, sweep_id: str) -> Path:
        """Folder of the sweep's zarr store."""

    def partial(self, sweep_id: str) -> PartialResults | None:
        """Results of the finished tasks of an unfinished sweep, computed now (None: no store)."""

    def medium(self, spec: dict[str, Any], point: int, task: int) -> dict[str, Any]:
        """The medium realisation of task ``(point, task)``, rebuilt from the spec's seed
        (raises ``ValueError`` for an index out of range)."""


class StoreBackend:
    """The real backend: ``patchwalk_client.spec``/``sweep`` and ``patchwalk_worker``.

    Parameters
    ----------
    stores_dir : Path
        One store per sweep, ``<stores_dir>/<sweep id>.zarr``.
    store : Path, optional
        The store of every sweep instead (``patchwalk run --out``: one sweep, a store the
        user names).
    """

    def __init__(self, stores_dir: Path, *, store: Path | None = None) -> None:
        self.stores_dir = Path(stores_dir)
        self._store_path = None if store is None else Path(store)
        self._lock = threading.Lock()

    def store_path(self, sweep_id: str) -> Path:
        return self._store_path or self.stores_dir / f"{sweep_id}.zarr"

    def plan(
        self, source: str | Mapping[str, Any], *, media_type: str | None = None,
        estimate: bool = True, limits: PlanLimits | None = None,
    ) -> Plan:
        from patchwalk_client.spec import parse_spec, spec_hash
        from patchwalk_client.sweep import count_points, expand_points
        from patchwalk_worker.budget import check_feasible
        from patchwalk_worker.cost import PointCost, point_cost
        from patchwalk_worker.kernels.registry import get_kernel
        from patchwalk_worker.task import n_tasks

        spec = parse_spec(source, media_type=media_type)
        if limits is not None:
            limits.check_points(count_points(spec))
        points = expand_points(spec)
        errors: list[dict[str, str]] = []
        tasks = 0
        costs: list[PointCost] = []
        for point in points:
            where = ", ".join(f"{k}={v}" for k, v in point.params.items())
            for err in check_feasible(point.spec):
                msg = str(err.get("msg", ""))
                msg = f"{msg} (point {where})" if where else msg
                errors.append({"loc": str(err.get("loc", "")), "msg": msg})
            tasks += n_tasks(point.spec)
        if limits is not None:
            limits.check_tasks(tasks)
        if estimate and not errors:
            costs = [point_cost(point.spec, point.index) for point in points]
        worst = max(range(len(costs)), key=lambda i: costs[i].cpu_seconds, default=0)
        advice = get_kernel(points[worst].spec.kernel).advice[1]
        return Plan(
            spec=spec.model_dump(mode="json"),
            spec_hash=spec_hash(spec),
            name=spec.name,
            n_points=len(points),
            tasks_total=tasks,
            estimated_steps=sum(c.steps for c in costs),
            errors=errors,
            kernels=frozenset(point.spec.kernel for point in points),
            estimated_cpu_seconds=sum(c.cpu_seconds for c in costs),
            longest_task_seconds=max((c.task_seconds for c in costs), default=0.0),
            advice=advice,
        )

    def _store(self, sweep_id: str, spec: dict[str, Any]) -> SweepStore:
        from patchwalk_client.spec import validate_spec
        from patchwalk_worker.store import SweepStore

        with self._lock:
            return SweepStore.create_or_open(self.store_path(sweep_id), validate_spec(spec))

    def open(self, sweep_id: str, spec: dict[str, Any]) -> OpenedSweep:
        from patchwalk_worker.execute import clear_cancelled

        store = self._store(sweep_id, spec)
        clear_cancelled(store.path)  # resumed: its tasks may write again
        return OpenedSweep(
            total=store.total(), pending=store.pending(), steps_done=float(store.steps_done())
        )

    def task(
        self, sweep_id: str, point: int, task: int
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        from patchwalk_worker.execute import execute_task

        return execute_task, (str(self.store_path(sweep_id)), point, task)

    def count_done(self, sweep_id: str) -> int:
        """Finished tasks in the sweep's store, as the store says (after a cancellation)."""
        from patchwalk_worker.store import SweepStore

        done: int = SweepStore.open(self.store_path(sweep_id)).done_count()
        return done

    def finalize(self, sweep_id: str, spec: dict[str, Any]) -> None:
        store = self._store(sweep_id, spec)
        if not store.has_summaries():
            store.write_summaries()

    def results(self, sweep_id: str) -> SweepResults:
        from patchwalk_worker.results import read_results

        return read_results(self.store_path(sweep_id))

    def partial(self, sweep_id: str) -> PartialResults | None:
        from patchwalk_worker.partial import partial_results
        from patchwalk_worker.store import SweepStore

        path = self.store_path(sweep_id)
        if not (path / "zarr.json").exists():
            return None
        return partial_results(SweepStore.open(path))

    def medium(self, spec: dict[str, Any], point: int, task: int) -> dict[str, Any]:
        from patchwalk_client.spec import validate_spec
        from patchwalk_worker.partial import medium_realisation

        return medium_realisation(validate_spec(spec), point, task)
