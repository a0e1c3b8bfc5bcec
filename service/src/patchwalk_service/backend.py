"""Everything the service needs from the worker package, behind one small protocol.

The routes and the scheduler talk to a :class:`SweepBackend`; :class:`StoreBackend` is the real
one (spec validation, budget, zarr store, ``execute_task``). Tests may inject a fake.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

_log = logging.getLogger(__name__)


@dataclass
class Plan:
    """A validated sweep: canonical spec JSON, its hash, size and cost."""

    spec: dict[str, Any]
    spec_hash: str
    name: str
    n_points: int
    tasks_total: int
    estimated_steps: float
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class OpenedSweep:
    """A sweep's store opened for scheduling: its tasks and those still to run."""

    total: int
    pending: list[tuple[int, int]]
    steps_done: float = 0.0


class SweepBackend(Protocol):
    """What the service asks of the physics package."""

    def plan(self, source: str | Mapping[str, Any], *, max_steps: float) -> Plan:
        """Validate a spec (raises ``SpecError``) and size it; ``errors`` lists budget faults."""

    def open(self, sweep_id: str, spec: dict[str, Any]) -> OpenedSweep:
        """Create or open the sweep's store; list the tasks not yet done there."""

    def task(
        self, sweep_id: str, point: int, task: int
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The call that computes one task and writes it to the store."""

    def finalize(self, sweep_id: str, spec: dict[str, Any]) -> None:
        """Write the sweep's summaries once every task is done."""

    def store_path(self, sweep_id: str) -> Path:
        """Folder of the sweep's zarr store."""


class StoreBackend:
    """The real backend: ``patchwalk_client.spec``/``sweep`` and ``patchwalk_worker``."""

    def __init__(self, stores_dir: Path) -> None:
        self.stores_dir = Path(stores_dir)
        self.stores_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def store_path(self, sweep_id: str) -> Path:
        return self.stores_dir / f"{sweep_id}.zarr"

    def plan(self, source: str | Mapping[str, Any], *, max_steps: float) -> Plan:
        from patchwalk_client.spec import load_spec, spec_hash
        from patchwalk_client.sweep import expand_points
        from patchwalk_worker.budget import check_feasible, estimate_steps
        from patchwalk_worker.task import n_tasks

        spec = load_spec(source)
        points = expand_points(spec)
        errors: list[dict[str, str]] = []
        steps = 0.0
        tasks = 0
        for point in points:
            for err in check_feasible(point.spec, max_steps=max_steps):
                where = ", ".join(f"{k}={v}" for k, v in point.params.items())
                msg = str(err.get("msg", ""))
                errors.append(
                    {
                        "loc": str(err.get("loc", "")),
                        "msg": f"{msg} (point {where})" if where else msg,
                    }
                )
            steps += float(estimate_steps(point.spec))
            tasks += n_tasks(point.spec)
        return Plan(
            spec=spec.model_dump(mode="json"),
            spec_hash=spec_hash(spec),
            name=spec.name,
            n_points=len(points),
            tasks_total=tasks,
            estimated_steps=steps,
            errors=errors,
        )

    def _store(self, sweep_id: str, spec: dict[str, Any]) -> Any:
        from patchwalk_client.spec import load_spec
        from patchwalk_worker.store import SweepStore

        with self._lock:
            return SweepStore.create_or_open(self.store_path(sweep_id), load_spec(spec))

    def open(self, sweep_id: str, spec: dict[str, Any]) -> OpenedSweep:
        store = self._store(sweep_id, spec)
        pending = [(int(p), int(t)) for p, t in store.pending()]
        steps = 0.0
        steps_done = getattr(store, "steps_done", None)
        if callable(steps_done):
            steps = float(steps_done())
        return OpenedSweep(total=int(store.total()), pending=pending, steps_done=steps)

    def task(
        self, sweep_id: str, point: int, task: int
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        from patchwalk_worker.execute import execute_task

        return execute_task, (str(self.store_path(sweep_id)), point, task)

    def finalize(self, sweep_id: str, spec: dict[str, Any]) -> None:
        store = self._store(sweep_id, spec)
        for name in ("write_summaries", "finalize", "summarize"):
            method = getattr(store, name, None)
            if callable(method):
                method()
                return
