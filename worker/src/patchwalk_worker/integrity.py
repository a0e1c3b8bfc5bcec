"""What is on disk is verified before it is believed: checksummed chunks, task verification, repair.

Every array of a store written by this version carries zarr v3's ``crc32c`` codec after its
compressor (:data:`CHUNK_CODECS`): a chunk whose bytes changed — one flipped bit, a truncation —
fails to decode with a checksum error instead of yielding wrong numbers. The codec changes the
chunk bytes only; the decoded values are bitwise those of a store without it.

A finished task (its ``done`` chunk reads true) is *verified* when every chunk it wrote exists
and decodes. :func:`verify_store` lists the tasks that are done but not verified;
:meth:`patchwalk_worker.store.SweepStore.pending` treats them as not done (they are recomputed
on resume), :func:`patchwalk_worker.execute.execute_task` recomputes a task that fails, and the
summaries refuse to reduce over one (:func:`require_verified`). ``patchwalk verify STORE
[--repair]`` runs :func:`verify_store` and :func:`repair`.

Stores written before checksums (no ``crc32c`` codec) still open and are *unverifiable but
readable*: missing and undecodable (e.g. truncated) chunks are still found, a flipped bit is not.
:attr:`VerifyReport.checksummed` says which kind a store is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from zarr.codecs import Crc32cCodec, ZstdCodec

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_worker.store import SweepStore

#: The bytes-to-bytes codecs of every array: zarr's default compressor, then a crc32c checksum.
CHUNK_CODECS = (ZstdCodec(level=0, checksum=False), Crc32cCodec())

#: The per-task arrays, ``done`` last (the order a task writes them); ``esc`` and
#: ``esc_reference`` only with escape distances, ``hist`` only in stores with histograms.
TASK_ARRAYS = ("sums", "esc", "esc_reference", "realisation", "steps", "hist", "done")


class IntegrityError(ValueError):
    """Chunks of finished tasks fail verification; the message names the tasks and the fix."""

    def __init__(self, message: str, bad: list[tuple[int, int]]) -> None:
        super().__init__(message)
        self.bad = bad


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_store`.

    Attributes
    ----------
    checked : int
        Finished tasks whose chunks were checked.
    bad : dict
        ``(point, task) -> reason`` of each finished task that failed verification.
    checksummed : bool
        Whether the store's chunks carry crc32c checksums (False: written before checksums,
        readable but a flipped bit cannot be detected).
    """

    checked: int = 0
    bad: dict[tuple[int, int], str] = field(default_factory=dict)
    checksummed: bool = True

    @property
    def ok(self) -> bool:
        """No finished task failed verification."""
        return not self.bad


def has_checksums(store: SweepStore) -> bool:
    """Whether the store's per-task arrays carry the crc32c codec."""
    arr = store._tasks("done")
    return any(isinstance(c, Crc32cCodec) for c in arr.metadata.codecs)  # type: ignore[union-attr]


def _arrays(store: SweepStore) -> list[str]:
    """The per-task arrays every finished task has written (``esc``/``esc_reference`` only
    when the sweep has escape distances; ``esc_reference`` and ``hist`` where the store has
    them)."""
    n_d = store._tasks("esc").shape[2]
    names = store._task_names()
    return [a for a in TASK_ARRAYS if a in names and (n_d or a not in ("esc", "esc_reference"))]


def _chunk_path(store: SweepStore, name: str, point: int, task: int) -> Path:
    arr = store._tasks(name)
    rest = "/".join("0" for _ in arr.shape[2:])
    key = f"{point}/{task}" + (f"/{rest}" if rest else "")
    return Path(store.path) / "tasks" / name / "c" / key


def task_problem(store: SweepStore, point: int, task: int) -> str | None:
    """Why finished task ``(point, task)`` fails verification, or None when it passes.

    Each chunk the task wrote must exist and decode (crc32c checked when present).
    """
    for name in _arrays(store):
        if not _chunk_path(store, name, point, task).is_file():
            return f"chunk tasks/{name} is missing"
        try:
            store._tasks(name)[point, task]
        except Exception as exc:  # a checksum mismatch, a truncated or garbled chunk
            return f"chunk tasks/{name} is corrupt ({type(exc).__name__}: {exc})"
    return None


def verify_store(store: SweepStore) -> VerifyReport:
    """Check every finished task of ``store`` (fast path: whole arrays; per task on failure)."""
    report = VerifyReport(checksummed=has_checksums(store))
    try:
        done = store.done_mask()
    except Exception:  # a done chunk itself is corrupt: find which, task by task
        done = np.zeros(store._tasks("done").shape, dtype=bool)
        for p, nk in enumerate(store.n_tasks):
            for k in range(nk):
                try:
                    done[p, k] = bool(store._tasks("done")[p, k])
                except Exception as exc:
                    report.bad[(p, k)] = f"chunk tasks/done is corrupt ({type(exc).__name__})"
    finished = [(int(p), int(k)) for p, k in zip(*np.nonzero(done), strict=True)]
    report.checked = len(finished) + len(report.bad)
    if not finished:
        return report
    suspects: set[tuple[int, int]] = set()
    for name in _arrays(store):
        suspects.update(t for t in finished if not _chunk_path(store, name, *t).is_file())
        try:
            store._tasks(name)[...]
        except Exception:
            suspects.update(finished)  # some chunk of this array is corrupt: check each task
            break
    for p, k in sorted(suspects):
        why = task_problem(store, p, k)
        if why is not None:
            report.bad[(p, k)] = why
    return report


def verified_done_mask(store: SweepStore) -> np.ndarray:
    """Boolean ``(n_points, n_tasks_max)``: finished tasks whose chunks pass verification."""
    report = verify_store(store)
    try:
        mask = store.done_mask()
    except Exception:
        mask = np.zeros(store._tasks("done").shape, dtype=bool)
        for p, nk in enumerate(store.n_tasks):
            for k in range(nk):
                mask[p, k] = (p, k) not in report.bad and task_problem(store, p, k) is None
    for p, k in report.bad:
        mask[p, k] = False
    return mask


def require_verified(store: SweepStore) -> None:
    """Refuse to summarise a store holding finished tasks that fail verification.

    Raises
    ------
    IntegrityError
        Naming the tasks and how to repair them.
    """
    report = verify_store(store)
    if report.ok:
        return
    listed = "; ".join(f"(point {p}, task {k}): {why}" for (p, k), why in
                       sorted(report.bad.items())[:5])
    more = f" and {len(report.bad) - 5} more" if len(report.bad) > 5 else ""
    raise IntegrityError(
        f"{store.path}: {len(report.bad)} finished task(s) fail verification — {listed}{more}. "
        "They are not summarised; recompute them with `patchwalk verify STORE --repair` "
        "(or resume the sweep: `patchwalk run SPEC --out STORE`, or submit the spec again).",
        sorted(report.bad),
    )


def repair(store: SweepStore, bad: list[tuple[int, int]], runner: Any = None) -> int:
    """Recompute the tasks ``bad`` in this process and rewrite their chunks (bitwise as before).

    Parameters
    ----------
    store : SweepStore
        Opened writable (``mode="r+"``).
    bad : list of (point, task)
        Tasks to recompute (from :func:`verify_store`).
    runner : callable, optional
        Replaces :func:`patchwalk_worker.task.run_task` (tests).

    Returns
    -------
    int
        Number of tasks recomputed. If the store had summaries they are written again.
    """
    from patchwalk_worker.task import run_task

    run = runner or run_task
    for p, k in bad:
        store.write(p, k, run(store.points[p].spec, p, k))
    if bad and store.has_summaries() and store.complete():
        store.write_summaries()
    return len(bad)
