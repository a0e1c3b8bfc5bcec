"""The zarr v3 store of one sweep: per-task sums written chunk by chunk, summaries at the end.

Layout (docs/engine.md, docs/interfaces.md §8)::

    STORE/                       group; attrs: patchwalk (format), spec, spec_hash, seed,
                                 versions, axes, n_points, n_tasks (per point), initialised
    STORE/tasks/sums             (point, task, t, moment)   float64, chunk (1, 1, n_t, 5)
    STORE/tasks/esc              (point, task, escape_distance, esc_stat) chunk (1, 1, n_d, 3)
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

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import zarr

from patchwalk_worker.media import ensemble_means
from patchwalk_worker.summary import (
    CONVERGED_SLOPE_TOL,
    combine_kappa,
    escape_summary,
    kappa_2d,
    point_result,
)
from patchwalk_worker.task import TaskResult, escape_distances, n_tasks

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

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
    import numba

    import patchwalk_worker

    return {
        "patchwalk_worker": patchwalk_worker.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "zarr": zarr.__version__,
    }


def _spec_hash(spec: SweepSpec) -> str:
    from patchwalk_client.spec import spec_hash

    return str(spec_hash(spec))


class SweepStore:
    """One sweep's zarr store. Build with :meth:`create_or_open` or :meth:`open`."""

    def __init__(self, path: str | Path, group: zarr.Group, spec: SweepSpec, hash_: str) -> None:
        self.path = str(path)
        self.group = group
        self.spec = spec
        self.spec_hash = hash_
        self._arrays: dict[str, zarr.Array[Any]] = {}  # opened per-task arrays (metadata read once)

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
        h = _spec_hash(spec)
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
        from patchwalk_client.spec import load_spec

        p = Path(path)
        if not (p / "zarr.json").exists():
            raise StoreError(f"{p} is not a patchwalk store (no zarr.json); check the path")
        with _quiet():
            g = zarr.open_group(store=str(p), mode=mode, use_consolidated=False)  # type: ignore[arg-type]
        attrs = dict(g.attrs)
        if attrs.get("patchwalk") != FORMAT or "spec" not in attrs:
            raise StoreError(f"{p} is not a patchwalk sweep store; check the path")
        spec = load_spec(cast(Mapping[str, Any], attrs["spec"]))
        return cls(p, g, spec, str(attrs["spec_hash"]))

    def _init_arrays(self) -> None:
        from patchwalk_client.sweep import axes

        pts = self.points
        n_p = len(pts)
        k_max = max(self.n_tasks)
        n_t = max(len(x) for x in self.times)
        n_d = max(x.shape[0] for x in self.distances)
        with _quiet():
            t = self.group.require_group("tasks")
            common: dict[str, Any] = {"overwrite": True}
            t.create_array("sums", shape=(n_p, k_max, n_t, 5), chunks=(1, 1, n_t, 5),
                           dtype="f8", fill_value=np.nan,
                           dimension_names=("point", "task", "t", "moment"), **common)
            t.create_array("esc", shape=(n_p, k_max, n_d, 3), chunks=(1, 1, max(n_d, 1), 3),
                           dtype="f8", fill_value=np.nan,
                           dimension_names=("point", "task", "escape_distance", "esc_stat"),
                           **common)
            t.create_array("realisation", shape=(n_p, k_max, 2), chunks=(1, 1, 2), dtype="f8",
                           fill_value=np.nan, dimension_names=("point", "task", "phase_mean"),
                           **common)
            t.create_array("steps", shape=(n_p, k_max), chunks=(1, 1), dtype="i8",
                           fill_value=0, dimension_names=("point", "task"), **common)
            t.create_array("done", shape=(n_p, k_max), chunks=(1, 1), dtype="bool",
                           fill_value=False, dimension_names=("point", "task"), **common)
            self.group.attrs.update({
                "spec": self.spec.model_dump(mode="json"),
                "seed": int(self.spec.seed),
                "versions": _versions(),
                "axes": [[name, list(vals)] for name, vals in axes(self.spec)],
                "n_points": n_p,
                "n_tasks": list(self.n_tasks),
                "params": [p.params for p in pts],
                "initialised": True,
            })

    # ------------------------------------------------------------------ sweep shape
    @cached_property
    def points(self) -> list[Any]:
        """The sweep's points (``patchwalk_client.sweep.expand_points``)."""
        from patchwalk_client.sweep import expand_points

        return list(expand_points(self.spec))

    @cached_property
    def n_tasks(self) -> list[int]:
        """Number of tasks of each point."""
        return [n_tasks(p.spec) for p in self.points]

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
            arr = self._arrays[name] = found
        return arr

    def done_mask(self) -> np.ndarray:
        """Boolean ``(n_points, n_tasks_max)``: which tasks are finished."""
        return np.asarray(self._tasks("done")[...], dtype=bool)

    def done_count(self) -> int:
        """Number of finished tasks."""
        return int(np.count_nonzero(self.done_mask()))

    def steps_done(self) -> int:
        """Particle-steps of the finished tasks."""
        return int(np.sum(self._tasks("steps")[...]))

    def is_done(self, point: int, task: int) -> bool:
        """Whether task ``(point, task)`` is finished."""
        return bool(self._tasks("done")[point, task])

    def pending(self) -> list[tuple[int, int]]:
        """Unfinished ``(point, task)`` pairs in deterministic (point, task) order."""
        mask = self.done_mask()
        return [(p, k) for p, nk in enumerate(self.n_tasks) for k in range(nk) if not mask[p, k]]

    # ------------------------------------------------------------------ task data
    def write(self, point: int, task: int, result: TaskResult) -> None:
        """Write one task's chunks, ``done`` last (each write is a whole chunk)."""
        n_t = self._tasks("sums").shape[2]
        sums = np.full((n_t, 5), np.nan)
        sums[: result.sums.shape[0]] = result.sums
        self._tasks("sums")[point, task] = sums
        n_d = self._tasks("esc").shape[2]
        if n_d:
            esc = np.full((n_d, 3), np.nan)
            esc[: result.esc.shape[0]] = result.esc
            self._tasks("esc")[point, task] = esc
        self._tasks("realisation")[point, task] = np.array([result.kappa_A, result.kappa_H])
        self._tasks("steps")[point, task] = int(result.steps)
        self._tasks("done")[point, task] = True

    def read_point(self, point: int) -> dict[str, np.ndarray]:
        """Per-task arrays of one point, trimmed to its tasks, times and distances."""
        k, n_t, n_d = self.n_tasks[point], len(self.times[point]), len(self.distances[point])
        return {
            "sums": np.asarray(self._tasks("sums")[point, :k, :n_t]),
            "esc": np.asarray(self._tasks("esc")[point, :k, :n_d]),
            "realisation": np.asarray(self._tasks("realisation")[point, :k]),
            "steps": np.asarray(self._tasks("steps")[point, :k]),
            "done": np.asarray(self._tasks("done")[point, :k]),
        }

    def complete(self) -> bool:
        """Whether every task is done."""
        return self.done_count() == self.total()

    def has_summaries(self) -> bool:
        """Whether the summary arrays have been written."""
        return bool(self.group.attrs.get("summaries"))

    # ------------------------------------------------------------------ summaries
    def point_results(self) -> list[dict[str, Any]]:
        """Per-point result objects (docs/interfaces.md §9) of a complete store."""
        out = []
        for i, pt in enumerate(self.points):
            d = self.read_point(i)
            ka, kh = ensemble_means(pt.spec)
            out.append(point_result(
                params=pt.params, t=self.times[i], sums=d["sums"], realisation=d["realisation"],
                kappa_A_ensemble=ka, kappa_H_ensemble=kh,
                n_particles=int(pt.spec.particles.count),
                kappa_perp=pt.spec.kappa_perp_scaled() if pt.spec.dimensions == 2 else None,
            ))
        return out

    def grid(self) -> tuple[list[str], list[int]]:
        """Dimension names and sizes of the sweep grid (one per independent axis)."""
        from patchwalk_client.sweep import axes

        ax = axes(self.spec)
        return [a for a, _ in ax], [len(v) for _, v in ax]

    def write_summaries(self) -> None:
        """Write the summary arrays (xarray-ready) once every task is done.

        Raises
        ------
        StoreError
            If some task is not done yet.
        """
        if not self.complete():
            raise StoreError(
                f"{self.path}: {self.done_count()} of {self.total()} tasks done; "
                "run the sweep to completion before writing summaries"
            )
        with _quiet():
            _write_summaries(self)
            self.group.attrs["summaries"] = True
            zarr.consolidate_metadata(self.path)


def _coord_values(values: Sequence[Any]) -> np.ndarray:
    """Axis values as a numpy array (non-scalar values as their JSON text)."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.ndim != 1:
        arr = np.asarray([json.dumps(v, sort_keys=True) for v in values])
    return arr


def _write_summaries(store: SweepStore) -> None:
    g = store.group
    names, shape = store.grid()
    pts = store.points
    n_p = len(pts)
    if int(np.prod(shape)) != n_p:  # pragma: no cover - guards the sweep contract
        raise StoreError(f"sweep grid {shape} does not match {n_p} points")

    def put(name: str, data: Any, dims: Sequence[str], **attrs: Any) -> None:
        arr = np.asarray(data)
        if arr.dtype.kind == "U" and arr.size == 0:
            arr = arr.astype("<U1")
        a = g.create_array(name, shape=arr.shape, dtype=arr.dtype,
                           dimension_names=tuple(dims), overwrite=True,
                           fill_value=np.nan if arr.dtype.kind == "f" else None,
                           attributes=attrs)
        a[...] = arr

    # sweep coordinates: one dimension per axis, zipped companions as non-dimension coords
    from patchwalk_client.sweep import axes

    for name, values in axes(store.spec):
        put(name, _coord_values(values), (name,))
    keys = list(pts[0].params) if pts else []
    for key in keys:
        if key in names:
            continue
        vals = _coord_values([p.params[key] for p in pts]).reshape(shape)
        for ax_i, dim in enumerate(names):
            line = vals[tuple(slice(None) if j == ax_i else 0 for j in range(len(names)))]
            bshape = [1] * len(names)
            bshape[ax_i] = shape[ax_i]
            if np.array_equal(np.broadcast_to(line.reshape(bshape), vals.shape), vals):
                put(key, line, (dim,), zipped_with=dim)
                break

    n_t = max(len(x) for x in store.times)
    same_t = all(len(x) == n_t and np.array_equal(x, store.times[0]) for x in store.times)
    tdims = (*names, "t")
    if same_t:
        put("t", store.times[0], ("t",), long_name="output time")
    else:
        tt = np.full((n_p, n_t), np.nan)
        for i, x in enumerate(store.times):
            tt[i, : len(x)] = x
        put("time", tt.reshape((*shape, n_t)), tdims, long_name="output time of each point")

    f = {k: np.full((n_p, n_t), np.nan)
         for k in ("kappa", "kappa_err", "msd", "msd_err", "kappa_y")}
    s = {k: np.full(n_p, np.nan) for k in ("kappa_A", "kappa_H", "kappa_A_ensemble",
                                          "kappa_H_ensemble", "kappa_2d", "kappa_2d_err",
                                          "kappa_2d_log_slope", "kappa_perp")}
    conv = np.zeros(n_p, dtype=bool)
    ints = {k: np.zeros(n_p, dtype=np.int64) for k in ("n_particles", "n_tasks", "steps")}
    sources = []
    n_d = max(x.shape[0] for x in store.distances)
    esc_f = {k: np.full((n_p, n_d), np.nan) for k in ("escape_fraction", "escape_time",
                                                      "escape_time_err", "escape_rate",
                                                      "escape_rate_err")}
    two_d = store.spec.dimensions == 2
    for i, pt in enumerate(pts):
        d = store.read_point(i)
        t = store.times[i]
        ks = combine_kappa(d["sums"], t)
        m = len(t)
        f["kappa"][i, :m], f["kappa_err"][i, :m] = ks.kappa, ks.kappa_err
        f["msd"][i, :m], f["msd_err"][i, :m], f["kappa_y"][i, :m] = ks.msd, ks.msd_err, ks.kappa_y
        sources.append(ks.source)
        s["kappa_A"][i], s["kappa_H"][i] = np.mean(d["realisation"], axis=0)
        s["kappa_A_ensemble"][i], s["kappa_H_ensemble"][i] = ensemble_means(pt.spec)
        ints["n_particles"][i] = int(pt.spec.particles.count)
        ints["n_tasks"][i] = store.n_tasks[i]
        ints["steps"][i] = int(np.sum(d["steps"]))
        if two_d:
            k2 = kappa_2d(d["sums"], t)
            s["kappa_2d"][i], s["kappa_2d_err"][i] = k2.kappa, k2.kappa_err
            s["kappa_2d_log_slope"][i], conv[i] = k2.log_slope, k2.converged
            s["kappa_perp"][i] = pt.spec.kappa_perp_scaled()
        nd = store.distances[i].shape[0]
        if nd:
            es = escape_summary(d["esc"], float(pt.spec.particles.count))
            for key, val in zip(esc_f, (es.fraction, es.mean_time, es.mean_time_err, es.rate,
                                         es.rate_err), strict=True):
                esc_f[key][i, :nd] = val

    for k, v in f.items():
        if k == "kappa_y" and not two_d:
            continue
        put(k, v.reshape((*shape, n_t)), tdims)
    for k in ("kappa_A", "kappa_H", "kappa_A_ensemble", "kappa_H_ensemble"):
        put(k, s[k].reshape(shape), names)
    for k, iv in ints.items():
        put(k, iv.reshape(shape), names)
    if len(set(sources)) == 1:
        g.attrs["kappa_err_source"] = sources[0] if sources else "particles"
    else:
        put("kappa_err_source", np.asarray(sources).reshape(shape), names)
    if two_d:
        for k in ("kappa_2d", "kappa_2d_err", "kappa_2d_log_slope", "kappa_perp"):
            put(k, s[k].reshape(shape), names)
        put("kappa_2d_converged", conv.reshape(shape), names,
            rule=f"|d ln<dx^2>/d ln t - 1| <= {CONVERGED_SLOPE_TOL} over the last third of ln t")
        eq10, eq11 = _heuristic_2d(store)
        put("kappa_2d_heuristic", eq10.reshape(shape), names,
            source="eq. (10) with the progressive harmonic mean (C2) at t = l_perp^2/kappa_perp")
        put("kappa_2d_scaling_11", eq11.reshape(shape), names,
            source="eq. (11), two-phase power-law scaling (order-unity factors)")
    if n_d:
        same_d = all(np.array_equal(x, store.distances[0]) for x in store.distances)
        ddims = (*names, "escape_distance")
        if same_d:
            put("escape_distance", store.distances[0], ("escape_distance",))
        for k, v in esc_f.items():
            put(k, v.reshape((*shape, n_d)), ddims)


def _heuristic_2d(store: SweepStore) -> tuple[np.ndarray, np.ndarray]:
    """κ̄_2D heuristics per point: eq. (10) with the progressive harmonic mean, and eq. (11)."""
    from patchwalk_worker.theory import kappa_2d_heuristic

    h = [kappa_2d_heuristic(p.spec) for p in store.points]
    return np.asarray([x["eq10"] for x in h]), np.asarray([x["eq11"] for x in h])
