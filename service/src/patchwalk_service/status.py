"""The status of a sweep, and its snapshots: ``GET /v1/sweeps/{id}`` answered from memory.

:func:`status_of` is the one definition of a sweep's public status: its registry row, with the
live counters of the scheduler while it runs here. A status changes only when the registry is
written — one SQLite connection, whose ``total_changes`` counts every row written — or when the
scheduler's live counters move (:attr:`Scheduler.changes
<patchwalk_service.scheduler.Scheduler.changes>`). :class:`StatusBoard` renders each sweep's
answer to JSON bytes once per such change and serves those bytes until the next one, so a
client polling a sweep costs neither a registry read nor a validation or serialisation; a
change anywhere re-renders a sweep at its next request. Rates and ETA of a running sweep are
those of its last finished task (they are recomputed when a task finishes, not per request).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from patchwalk_client.models import SweepStatus

from .registry import ACTIVE, Registry, SweepRecord
from .scheduler import Scheduler


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def status_of(record: SweepRecord, scheduler: Scheduler) -> SweepStatus:
    """The public status of a sweep (live counters when it is running here)."""
    data: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "state": record.state,
        "created": _iso(record.created),
        "updated": _iso(record.updated),
        "error": record.error,
        "n_points": record.n_points,
        "tasks_done": record.tasks_done,
        "tasks_total": record.tasks_total,
        "steps_done": record.steps_done,
        "steps_per_second": record.steps_per_second,
        "eta_seconds": record.eta_seconds,
        "estimated_steps": record.estimated_steps,
        "spec_hash": record.spec_hash,
    }
    live = scheduler.progress(record.id)
    if live is not None and record.state == "running":
        data.update(live)
    held = scheduler.unrecorded_failure(record.id)
    if held is not None and record.state in ACTIVE:  # failed, the registry could not be written
        data.update(state="failed", error=held)
    if record.state == "done":
        data["eta_seconds"] = 0.0
    base = f"/v1/sweeps/{record.id}"
    data["links"] = {
        "self": base,
        "events": f"{base}/events",
        "kappa": f"{base}/kappa",
        "kappa2d": f"{base}/kappa2d",
        "escape": f"{base}/escape",
        "theory": f"{base}/theory",
        "plot": f"{base}/plot.png",
        "dataset": f"{base}/dataset",
        "spec": f"{base}/spec",
        "medium": f"{base}/medium?point=0&task=0",
    }
    return SweepStatus(**data)


def json_bytes(model: Any) -> bytes:
    """The JSON bytes FastAPI sends for ``model`` (same encoder, same separators)."""
    return bytes(JSONResponse(jsonable_encoder(model)).body)


class StatusBoard:
    """Rendered status answers per sweep, valid until the registry or the scheduler changes.

    Thread-safe; at most ``max_entries`` sweeps are kept (least recently asked dropped).
    """

    def __init__(self, registry: Registry, scheduler: Scheduler, max_entries: int = 4096) -> None:
        self.registry = registry
        self.scheduler = scheduler
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[tuple[int, int], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.renders = 0

    def version(self) -> tuple[int, int]:
        """What every snapshot is valid for: (registry writes, scheduler changes)."""
        return self.registry.version, self.scheduler.changes

    def get(self, sweep_id: str) -> bytes | None:
        """The status of ``sweep_id`` as JSON bytes, or None when there is no such sweep."""
        version = self.version()  # read before the row: a write after it re-renders next time
        with self._lock:
            item = self._items.get(sweep_id)
            if item is not None and item[0] == version:
                self._items.move_to_end(sweep_id)
                return item[1]
        record = self.registry.get(sweep_id)
        if record is None:
            with self._lock:
                self._items.pop(sweep_id, None)
            return None
        body = json_bytes(status_of(record, self.scheduler))
        with self._lock:
            self.renders += 1
            self._items[sweep_id] = (version, body)
            self._items.move_to_end(sweep_id)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return body
