"""The zarr v3 store of one sweep: per-task sums written chunk by chunk, summaries at the end.

Layout (docs/engine.md, docs/interfaces.md §8)::

    STORE/                       group; attrs: patchwalk (format), spec, spec_hash, seed,
                                 versions, build (build.py), axes, n_points, n_tasks (per
                                 point), initialised
    STORE/tasks/sums             (point, task, t, moment)   float64, chunk (1, 1, n_t, 5)
    STORE/tasks/esc              (point, task, escape_distance, esc_stat) chunk (1, 1, n_d, 5)
                                 count, Στ, Στ², Σ1/τ, Σ1/τ² (``ESC_COLUMNS``; 3 columns in
                                 stores written before the mean rate ⟨1/τ⟩)
    STORE/tasks/esc_reference    (point, task, escape_distance, tau_moment) exact ⟨τ⟩, ⟨τ²⟩
                                 of the task's realisation (first_passage.py)
    STORE/tasks/realisation      (point, task, phase_mean)  κ_A, κ_H of the task's medium
    STORE/tasks/steps            (point, task)              int64 particle-steps
    STORE/tasks/done             (point, task)              bool, chunk (1, 1), written LAST
    STORE/<summaries>            kappa, kappa_err, kappa_A, ... with one dimension per
                                 sweep axis plus t (written once every task is done)

Each task writes only its own chunks, ``done`` last: a task's region is absent or complete,
and ``done`` alone says what is finished. Summary arrays carry zarr v3 ``dimension_names``
so ``xarray.open_zarr(STORE)`` gives a Dataset; the raw per-task arrays open with
``xarray.open_zarr(STORE, group="tasks")``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numba
import numpy as np
import zarr
from patchwalk_client.spec import parse_spec, spec_hash
from patchwalk_client.sweep import axes, expand_points

from patchwalk_worker import __version__
from patchwalk_worker.build import build_id
from patchwalk_worker.dataset import write_dataset
from patchwalk_worker.histogram import n_hist_bins, wants_histogram
from patchwalk_worker.integrity import CHUNK_CODECS, require_verified, verified_done_mask
from patchwalk_worker.kernels.common import ESC_COLUMNS
from patchwalk_worker.kernels.kernel import escape_distances
from patchwalk_worker.results import read_results, records, summarise, write_results
from patchwalk_worker.task import TaskResult, n_tasks
from patchwalk_worker.tolerance import Decision, decide, max_tasks

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.model import SweepSpec

FORMAT = "patchwalk-sweep/1"


class StoreError(ValueError):
    """A store that cannot be used for this sweep; the message says how to fix the call."""


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence zarr's warnings about unstable v3 extensions (strings, consolidation)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Zarr.*")
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        yield


def _versions() -> dict[str, str]:
    return {
        "patchwalk_worker": __version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "zarr": zarr.__version__,
    }


class SweepStore:
    """One sweep's zarr store. Build with :meth:`create_or_open` or :meth:`open`."""

    def __init__(self, path: str | Path, group: zarr.Group, spec: SweepSpec, hash_: str) -> None:
        self.path = str(path)
        self.group = group
        self.spec = spec
        self.spec_hash = hash_
        self._arrays: dict[str, zarr.Array[Any]] = {}  # opened per-task arrays (metadata read once)
        self._names: set[str] | None = None
        self._decided: tuple[bytes, list[Decision]] | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def create_or_open(cls, path: str | Path, spec: SweepSpec) -> SweepStore:
        """Open the store of ``spec`` at ``path``, creating it if it does not exist.

        Raises
        ------
        StoreError
            If ``path`` holds a store of another spec, or something that is not a
            patchwalk store. Nothing is overwritten.
        """
        p = Path(path)
        h = spec_hash(spec)
        if (p / "zarr.json").exists():
            with _quiet():
                g = zarr.open_group(store=str(p), mode="r+", use_consolidated=False)
            attrs = dict(g.attrs)
            if attrs.get("patchwalk") != FORMAT:
                raise StoreError(
                    f"{p} is a zarr store but not a patchwalk sweep store; "
                    "choose another --out path"
                )
            if attrs.get("spec_hash") != h:
                raise StoreError(
                    f"{p} holds the results of another spec (hash {attrs.get('spec_hash')}) "
                    f"than this one (hash {h}); it is never overwritten. Choose another --out "
                    "path, or rerun with the spec stored there (patchwalk show STORE)."
                )
            store = cls(p, g, spec, h)
            if not attrs.get("initialised"):
                store._init_arrays()
            else:
                store.require_build("resumed")
            return store
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            raise StoreError(
                f"{p} exists and is not a patchwalk store; choose another --out path "
                "(a new or empty directory)"
            )
        with _quiet():
            g = zarr.create_group(store=str(p), attributes={"patchwalk": FORMAT, "spec_hash": h})
        store = cls(p, g, spec, h)
        store._init_arrays()
        return store

    @classmethod
    def open(cls, path: str | Path, mode: str = "r") -> SweepStore:
        """Open an existing store (its spec is read from the store)."""
        p = Path(path)
        if not (p / "zarr.json").exists():
            raise StoreError(f"{p} is not a patchwalk store (no zarr.json); check the path")
        with _quiet():
            g = zarr.open_group(store=str(p), mode=mode, use_consolidated=False)  # type: ignore[arg-type]
        attrs = dict(g.attrs)
        if attrs.get("patchwalk") != FORMAT or "spec" not in attrs:
            raise StoreError(f"{p} is not a patchwalk sweep store; check the path")
        spec = parse_spec(cast(Mapping[str, Any], attrs["spec"]))
        return cls(p, g, spec, str(attrs["spec_hash"]))

    def require_build(self, action: str) -> None:
        """Refuse to add tasks computed by another build (:mod:`patchwalk_worker.build`) to this
        store unless it is finished; stores written before builds were recorded are accepted.
        The done mask is read only when the builds differ."""
        built = self.group.attrs.get("build")
        if built is not None and built != build_id() and self.done_count() < self.total():
            raise StoreError(
                f"{self.path} was started by another build of patchwalk (build {built}; this "
                f"one is {build_id()}): its finished tasks cannot be {action} with this build's "
                "without mixing two versions of the kernels. Finish it with the build that "
                "started it, or move it aside to recompute the sweep from scratch."
            )

    def _init_arrays(self) -> None:
        pts = self.points
        n_p = len(pts)
        k_max = max(max_tasks(p.spec) for p in pts)
        n_t = max(len(x) for x in self.times)
        n_d = max(x.shape[0] for x in self.distances)
        with _quiet():
            t = self.group.require_group("tasks")
            # checksummed chunks (integrity.py); every chunk written, even one equal to the fill
            # value, so that a missing chunk always means a lost one
            common: dict[str, Any] = {"overwrite": True, "compressors": CHUNK_CODECS,
                                      "config": {"write_empty_chunks": True}}
            t.create_array("sums", shape=(n_p, k_max, n_t, 5), chunks=(1, 1, n_t, 5),
                           dtype="f8", fill_value=np.nan,
                           dimension_names=("point", "task", "t", "moment"), **common)
            n_e = len(ESC_COLUMNS)
            t.create_array("esc", shape=(n_p, k_max, n_d, n_e), chunks=(1, 1, max(n_d, 1), n_e),
                           dtype="f8", fill_value=np.nan,
                           dimension_names=("point", "task", "escape_distance", "esc_stat"),
                           **common)
            t.create_array("esc_reference", shape=(n_p, k_max, n_d, 2),
                           chunks=(1, 1, max(n_d, 1), 2), dtype="f8", fill_value=np.nan,
                           dimension_names=("point", "task", "escape_distance", "tau_moment"),
                           **common)
            t.create_array("realisation", shape=(n_p, k_max, 2), chunks=(1, 1, 2), dtype="f8",
                           fill_value=np.nan, dimension_names=("point", "task", "phase_mean"),
                           **common)
            t.create_array("steps", shape=(n_p, k_max), chunks=(1, 1), dtype="i8",
                           fill_value=0, dimension_names=("point", "task"), **common)
            n_h = max(n_hist_bins(p.spec) if wants_histogram(p.spec) else 0 for p in pts)
            if n_h:  # point-source histograms (histogram.py), integer counts
                t.create_array("hist", shape=(n_p, k_max, n_t, n_h), chunks=(1, 1, n_t, n_h),
                               dtype="i8", fill_value=0,
                               dimension_names=("point", "task", "t", "bin"), **common)
            t.create_array("done", shape=(n_p, k_max), chunks=(1, 1), dtype="bool",
                           fill_value=False, dimension_names=("point", "task"), **common)
            self.group.attrs.update({
                "spec": self.spec.model_dump(mode="json"),
                "seed": int(self.spec.seed),
                "versions": _versions(),
                "build": build_id(),
                "axes": [[name, list(vals)] for name, vals in axes(self.spec)],
                "n_points": n_p,
                "n_tasks": [n_tasks(p.spec) for p in pts],
                "params": [p.params for p in pts],
                "initialised": True,
            })

    # ------------------------------------------------------------------ sweep shape
    @cached_property
    def points(self) -> list[Any]:
        """The sweep's points (``patchwalk_client.sweep.expand_points``)."""
        return list(expand_points(self.spec))

    @property
    def n_tasks(self) -> list[int]:
        """Number of tasks of each point (with ``particles.target_rel_err``: the tasks it needs
        now, :func:`patchwalk_worker.tolerance.decide`)."""
        return [d.tasks for d in self.decisions()]

    def decisions(self) -> list[Decision]:
        """The tolerance state of each point, from the finished tasks (cached per done mask)."""
        pts = self.points
        if all(p.spec.particles.target_rel_err is None for p in pts):
            return [Decision(n_tasks(p.spec), True, True, math.nan, math.nan) for p in pts]
        mask = self.done_mask()
        key = mask.tobytes()
        if self._decided is not None and self._decided[0] == key:
            return self._decided[1]
        out = []
        for i, p in enumerate(pts):
            if p.spec.particles.target_rel_err is None:
                out.append(Decision(n_tasks(p.spec), True, True, math.nan, math.nan))
                continue
            k, n_t = max_tasks(p.spec), len(self.times[i])
            sums = np.asarray(self._tasks("sums")[i, :k, :n_t])
            out.append(decide(p.spec, sums, mask[i, :k], self.times[i]))
        self._decided = (key, out)
        return out

    @cached_property
    def times(self) -> list[np.ndarray]:
        """Output times of each point."""
        return [np.asarray(p.spec.output_times(), dtype=np.float64) for p in self.points]

    @cached_property
    def distances(self) -> list[np.ndarray]:
        """Escape distances of each point."""
        return [escape_distances(p.spec) for p in self.points]

    def total(self) -> int:
        """Number of tasks of the sweep."""
        return int(sum(self.n_tasks))

    def _tasks(self, name: str) -> zarr.Array[Any]:
        arr = self._arrays.get(name)
        if arr is None:
            found = self.group[f"tasks/{name}"]
            assert isinstance(found, zarr.Array)
            # the array config is not stored: every chunk is written, even one equal to the
            # fill value (steps = 0 of the reference kernel), so a missing chunk is a lost one
            arr = self._arrays[name] = found.with_config({"write_empty_chunks": True})
        return arr

    def _task_names(self) -> set[str]:
        """Names of the per-task arrays (stores written before ``esc_reference`` lack it)."""
        if self._names is None:
            found = self.group["tasks"]
            assert isinstance(found, zarr.Group)
            self._names = {name for name, _ in found.arrays()}
        return self._names

    def done_mask(self) -> np.ndarray:
        """Boolean ``(n_points, n_tasks_max)``: which tasks are finished."""
        return np.asarray(self._tasks("done")[...], dtype=bool)

    def done_count(self) -> int:
        """Number of finished tasks among those the points need."""
        mask = self.done_mask()
        return int(sum(np.count_nonzero(mask[p, :k]) for p, k in enumerate(self.n_tasks)))

    def steps_done(self) -> int:
        """Particle-steps of the finished tasks."""
        return int(np.sum(self._tasks("steps")[...]))

    def is_done(self, point: int, task: int) -> bool:
        """Whether task ``(point, task)`` is finished."""
        return bool(self._tasks("done")[point, task])

    def pending(self) -> list[tuple[int, int]]:
        """Unfinished ``(point, task)`` pairs in deterministic (point, task) order.

        A task marked done whose chunks fail verification (missing, truncated, checksum
        mismatch: :mod:`patchwalk_worker.integrity`) is unfinished: it is recomputed.
        """
        mask = verified_done_mask(self)
        return [(p, k) for p, nk in enumerate(self.n_tasks) for k in range(nk) if not mask[p, k]]

    # ------------------------------------------------------------------ task data
    def write(self, point: int, task: int, result: TaskResult) -> None:
        """Write one task's chunks, ``done`` last (each write is a whole chunk)."""
        n_t = self._tasks("sums").shape[2]
        sums = np.full((n_t, 5), np.nan)
        sums[: result.sums.shape[0]] = result.sums
        self._tasks("sums")[point, task] = sums
        n_d, n_e = self._tasks("esc").shape[2:]
        if n_d:  # an older store (3 columns) keeps its shape: the first columns are the same
            esc = np.full((n_d, n_e), np.nan)
            got = result.esc[:, :n_e]
            esc[: got.shape[0], : got.shape[1]] = got
            self._tasks("esc")[point, task] = esc
            if "esc_reference" in self._task_names():  # always written: verified per task
                ref = np.full((n_d, 2), np.nan)
                if result.esc_reference is not None:
                    ref[: result.esc_reference.shape[0]] = result.esc_reference
                self._tasks("esc_reference")[point, task] = ref
        self._tasks("realisation")[point, task] = np.array([result.kappa_A, result.kappa_H])
        self._tasks("steps")[point, task] = int(result.steps)
        if "hist" in self._task_names():  # every task writes a row (zeros without histogram)
            h = np.zeros(self._tasks("hist").shape[2:], dtype=np.int64)
            if result.hist is not None:
                h[: result.hist.shape[0], : result.hist.shape[1]] = result.hist
            self._tasks("hist")[point, task] = h
        self._tasks("done")[point, task] = True

    def read_hist(self, point: int) -> np.ndarray | None:
        """Histogram counts of one point's tasks, (n_tasks, n_times, n_bins + 2); None when
        the sweep has none (histogram.py)."""
        if "hist" not in self._task_names():
            return None
        k, n_t = self.n_tasks[point], len(self.times[point])
        n_h = n_hist_bins(self.points[point].spec)
        return np.asarray(self._tasks("hist")[point, :k, :n_t, :n_h], dtype=np.int64)

    def read_point(self, point: int) -> dict[str, np.ndarray]:
        """Per-task arrays of one point, trimmed to its tasks, times and distances."""
        k, n_t, n_d = self.n_tasks[point], len(self.times[point]), len(self.distances[point])
        return {
            "sums": np.asarray(self._tasks("sums")[point, :k, :n_t]),
            "esc": np.asarray(self._tasks("esc")[point, :k, :n_d]),
            "esc_reference": (np.asarray(self._tasks("esc_reference")[point, :k, :n_d])
                              if "esc_reference" in self._task_names()
                              else np.full((k, n_d, 2), np.nan)),
            "realisation": np.asarray(self._tasks("realisation")[point, :k]),
            "steps": np.asarray(self._tasks("steps")[point, :k]),
            "done": np.asarray(self._tasks("done")[point, :k]),
        }

    def complete(self) -> bool:
        """Whether every task is done (and every point with a target has stopped)."""
        return all(d.stopped for d in self.decisions()) and self.done_count() == self.total()

    def has_summaries(self) -> bool:
        """Whether the summary arrays have been written."""
        return bool(self.group.attrs.get("summaries"))

    # ------------------------------------------------------------------ summaries
    def point_results(self) -> list[dict[str, Any]]:
        """κ̄(t) per point as JSON dicts (docs/interfaces.md §9) of a finalised store."""
        return [p.to_dict() for p in read_results(self.path).kappa]

    def grid(self) -> tuple[list[str], list[int]]:
        """Dimension names and sizes of the sweep grid (one per independent axis)."""
        ax = axes(self.spec)
        return [a for a, _ in ax], [len(v) for _, v in ax]

    def write_summaries(self) -> None:
        """Finalise the sweep: write the summary arrays and the results records.

        Everything a reader needs (κ̄, κ̄_2D with its heuristics, escape, theory) is computed
        here, once (:mod:`patchwalk_worker.results`); the arrays are xarray-ready
        (:mod:`patchwalk_worker.dataset`).

        Raises
        ------
        StoreError
            If some task is not done yet.
        IntegrityError
            If a finished task fails verification (it is never summarised).
        """
        require_verified(self)
        if not self.complete():
            raise StoreError(
                f"{self.path}: {self.done_count()} of {self.total()} tasks done; "
                "run the sweep to completion before writing summaries"
            )
        points = summarise(self)
        with _quiet():
            write_dataset(self, points)
            write_results(self.path, records(points, self.spec.dimensions,
                                             self.spec.escape.stop))
            self.group.attrs["summaries"] = True
            zarr.consolidate_metadata(self.path)
