"""Durable sweep registry: one SQLite table in WAL mode.

A sweep's id is a short hash of its spec hash, so an identical spec maps to the existing sweep.
States: ``queued`` → ``running`` → ``done`` | ``failed`` | ``cancelled``. After a restart, the
scheduler picks up ``queued`` and ``running`` sweeps again (oldest first); finished tasks are
read from each sweep's store, never from here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")
TERMINAL = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    name TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    error TEXT,
    n_points INTEGER NOT NULL DEFAULT 0,
    tasks_total INTEGER NOT NULL DEFAULT 0,
    tasks_done INTEGER NOT NULL DEFAULT 0,
    steps_done REAL NOT NULL DEFAULT 0,
    steps_per_second REAL,
    eta_seconds REAL,
    estimated_steps REAL,
    owner TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sweeps_state ON sweeps(state, seq);
"""


def sweep_id_for(spec_hash: str) -> str:
    """Short id of a spec hash (16 hex digits: collisions need ~2^32 sweeps)."""
    return spec_hash[:16]


@dataclass
class SweepRecord:
    """One row of the registry."""

    id: str
    name: str
    spec_hash: str
    spec: dict[str, Any]
    state: str
    created: float
    updated: float
    error: str | None
    n_points: int
    tasks_total: int
    tasks_done: int
    steps_done: float
    steps_per_second: float | None
    eta_seconds: float | None
    estimated_steps: float | None
    seq: int = 0
    owner: str = ""  # who submitted it (a digest of the token; limits.py), never the token

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (spec included)."""
        return asdict(self)


class Registry:
    """Thread-safe access to the SQLite registry at ``path``.

    ``":memory:"`` gives a registry that lives only as long as this process (``patchwalk run``).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            cols = {r[1] for r in self._conn.execute("PRAGMA table_info(sweeps)").fetchall()}
            if "owner" not in cols:  # a registry written before per-token quotas
                self._conn.execute("ALTER TABLE sweeps ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            self._conn.commit()

    @property
    def version(self) -> int:
        """A number that changes whenever a row is written (inserted, updated, deleted):
        SQLite's count of the rows this one connection changed."""
        return int(self._conn.total_changes)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise

    @staticmethod
    def _record(row: sqlite3.Row) -> SweepRecord:
        data = dict(row)
        data["spec"] = json.loads(data["spec"])
        return SweepRecord(**data)

    def create_or_get(
        self,
        *,
        spec_hash: str,
        name: str,
        spec: dict[str, Any],
        n_points: int,
        tasks_total: int,
        estimated_steps: float | None = None,
        owner: str = "",
    ) -> tuple[SweepRecord, bool]:
        """Insert a queued sweep, or return the existing one; ``(record, created)``.

        A ``failed`` or ``cancelled`` sweep submitted again is queued again (its finished tasks
        stay in its store and are not recomputed).
        """
        sweep_id = sweep_id_for(spec_hash)
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO sweeps (id, name, spec_hash, spec, state, created, updated,"
                    " n_points, tasks_total, estimated_steps, owner)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        sweep_id,
                        name,
                        spec_hash,
                        json.dumps(spec),  # key order kept: the sweep axes' order is the points'
                        "queued",
                        now,
                        now,
                        n_points,
                        tasks_total,
                        estimated_steps,
                        owner,
                    ),
                )
                created = True
            elif row["state"] in ("failed", "cancelled"):
                db.execute(
                    "UPDATE sweeps SET state='queued', error=NULL, updated=?,"
                    " steps_per_second=NULL, eta_seconds=NULL WHERE id=?",
                    (now, sweep_id),
                )
                created = True
            else:
                created = False
            row = db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        return self._record(row), created

    def get(self, sweep_id: str) -> SweepRecord | None:
        """The sweep with this id, or None."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        return None if row is None else self._record(row)

    def page(
        self, state: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[SweepRecord], int]:
        """A page of sweeps, newest first, and the total count matching ``state``."""
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM sweeps {where}", args).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT * FROM sweeps {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [self._record(r) for r in rows], int(total)

    def active(self) -> list[SweepRecord]:
        """Queued and running sweeps, oldest first (the FIFO order)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM sweeps WHERE state IN ('queued','running') ORDER BY seq"
            ).fetchall()
        return [self._record(r) for r in rows]

    def count_active(self, owner: str) -> int:
        """Queued and running sweeps submitted by ``owner`` (the per-token quota)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM sweeps WHERE owner = ? AND state IN ('queued','running')",
                (owner,),
            ).fetchone()
        return int(row[0])

    def finished_before(self, when: float) -> list[str]:
        """Ids of the sweeps done, failed or cancelled whose last update is older than ``when``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM sweeps WHERE state IN ('done','failed','cancelled')"
                " AND updated < ? ORDER BY seq",
                (when,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def delete(self, sweep_id: str) -> bool:
        """Remove a sweep's row (purge); True if it existed."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,))
        return cur.rowcount > 0

    def count_by_state(self) -> dict[str, int]:
        """Number of sweeps in each state."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, COUNT(*) FROM sweeps GROUP BY state"
            ).fetchall()
        counts = dict.fromkeys(STATES, 0)
        counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    def set_state(
        self,
        sweep_id: str,
        state: str,
        *,
        error: str | None = None,
        only_from: tuple[str, ...] = (),
    ) -> bool:
        """Move a sweep to ``state``; with ``only_from``, only from those states. True if moved."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; use one of {STATES}")
        sql = "UPDATE sweeps SET state=?, error=?, updated=? WHERE id=?"
        args: list[Any] = [state, error, time.time(), sweep_id]
        if only_from:
            sql += f" AND state IN ({','.join('?' * len(only_from))})"
            args.extend(only_from)
        with self._tx() as db:
            cur = db.execute(sql, args)
        return cur.rowcount > 0

    def update_progress(
        self,
        sweep_id: str,
        *,
        tasks_done: int,
        tasks_total: int,
        steps_done: float,
        steps_per_second: float | None,
        eta_seconds: float | None,
    ) -> None:
        """Store the progress counters of a sweep."""
        with self._tx() as db:
            db.execute(
                "UPDATE sweeps SET tasks_done=?, tasks_total=?, steps_done=?, steps_per_second=?,"
                " eta_seconds=?, updated=? WHERE id=?",
                (
                    tasks_done,
                    tasks_total,
                    steps_done,
                    steps_per_second,
                    eta_seconds,
                    time.time(),
                    sweep_id,
                ),
            )
