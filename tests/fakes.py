"""Fakes shared by the service and client tests: a backend without physics, a step-by-step runner.

Import them by name (``from fakes import FakeBackend``); the fixtures that build them live in
``tests/conftest.py``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from patchwalk_client.errors import SpecError
from patchwalk_client.models import SweepResults
from patchwalk_service.backend import OpenedSweep, Plan


class FakeBackend:
    """Spec = {"name", "points", "tasks", "steps", "fail"}; keeps "done" tasks in memory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: dict[str, set[tuple[int, int]]] = {}
        self.submitted: list[tuple[str, int, int]] = []
        self.executed: list[tuple[str, int, int]] = []
        self.finalized: list[str] = []
        self._lock = threading.Lock()

    def plan(
        self, source: str | Mapping[str, Any], *, media_type: str | None = None,
        estimate: bool = True, limits: Any = None,
    ) -> Plan:
        if isinstance(source, str):
            try:
                data = tomllib.loads(source)
            except tomllib.TOMLDecodeError:
                data = yaml.safe_load(source)
        else:
            data = dict(source)
        if not isinstance(data, dict) or "points" not in data:
            raise SpecError(
                [{"loc": "points", "msg": "give the number of points, e.g. points = 2"}]
            )
        if data["points"] < 1:
            raise SpecError([{"loc": "points", "msg": "must be at least 1"}])
        text = json.dumps(data, sort_keys=True)
        n_points = int(data["points"])
        tasks = n_points * int(data.get("tasks", 2))
        return Plan(
            spec=data,
            spec_hash=hashlib.sha256(text.encode()).hexdigest(),
            name=str(data.get("name", "sweep")),
            n_points=n_points,
            tasks_total=tasks,
            estimated_steps=float(data.get("steps", 1000.0)) * tasks,
            estimated_cpu_seconds=float(data.get("cpu_seconds", 1.0)) * tasks,
        )

    def open(self, sweep_id: str, spec: dict[str, Any]) -> OpenedSweep:
        done = self.done.setdefault(sweep_id, set())
        allt = [
            (p, t) for p in range(int(spec["points"])) for t in range(int(spec.get("tasks", 2)))
        ]
        return OpenedSweep(total=len(allt), pending=[x for x in allt if x not in done])

    def task(
        self, sweep_id: str, point: int, task: int
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        self.submitted.append((sweep_id, point, task))
        return self._run, (sweep_id, point, task)

    def _run(self, sweep_id: str, point: int, task: int) -> dict[str, float]:
        with self._lock:
            self.executed.append((sweep_id, point, task))
            attempts = self.executed.count((sweep_id, point, task))
        if sweep_id in self.failing or attempts <= self.fail_first:
            raise RuntimeError(f"boom in point {point} task {task}")
        with self._lock:
            self.done.setdefault(sweep_id, set()).add((point, task))
        return {"steps": 1000.0, "seconds": 0.001}

    failing: set[str] = set()
    #: every task raises on its first ``fail_first`` attempts
    fail_first = 0

    def finalize(self, sweep_id: str, spec: dict[str, Any]) -> None:
        self.finalized.append(sweep_id)

    def results(self, sweep_id: str) -> SweepResults:
        return SweepResults(kappa=[], kappa2d=[], escape=[], theory=[])

    def store_path(self, sweep_id: str) -> Path:
        return self.root / f"{sweep_id}.zarr"


class ManualRunner:
    """Runs nothing at submit; ``wait_any`` runs the oldest pending call (deterministic)."""

    def __init__(self) -> None:
        self.pending: list[Any] = []
        self.cancelled: list[Any] = []
        self.results: dict[int, Any] = {}

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        handle = {"fn": fn, "args": args, "key": key}
        self.pending.append(handle)
        return key

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        for h in self.pending:
            if h["key"] in handles:
                self.pending.remove(h)
                try:
                    self.results[id(h["key"])] = ("ok", h["fn"](*h["args"]))
                except Exception as exc:  # noqa: BLE001
                    self.results[id(h["key"])] = ("err", exc)
                return [h["key"]]
        return []

    def result(self, handle: Any) -> Any:
        kind, value = self.results.pop(id(handle))
        if kind == "err":
            raise value
        return value

    def cancel(self, handles: Iterable[Any]) -> None:
        keys = set(handles)
        self.cancelled.extend(keys)
        self.pending = [h for h in self.pending if h["key"] not in keys]

    def close(self) -> None:
        pass

    def workers(self) -> int:
        return 1

    def info(self) -> dict[str, Any]:
        return {"kind": "manual", "workers": 1, "cores": 1}
