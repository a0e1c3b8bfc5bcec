"""The xarray-ready summary arrays of a finished store (one dimension per sweep axis, plus t).

Written once by :meth:`patchwalk_worker.store.SweepStore.write_summaries` from the point
summaries of :func:`patchwalk_worker.results.summarise`, so the arrays and the records that
the REST API serves come from the same numbers. ``xarray.open_zarr(STORE)`` opens them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
from patchwalk_client.sweep import axes

from patchwalk_worker.integrity import CHUNK_CODECS
from patchwalk_worker.summary import CONVERGED_SLOPE_TOL

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_worker.results import PointSummary
    from patchwalk_worker.store import SweepStore


def _coord_values(values: Sequence[Any]) -> np.ndarray:
    """Axis values as a numpy array (non-scalar values as their JSON text)."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.ndim != 1:
        arr = np.asarray([json.dumps(v, sort_keys=True) for v in values])
    return arr


def _put(g: zarr.Group, name: str, data: Any, dims: Sequence[str], **attrs: Any) -> None:
    """Write one summary array with its zarr v3 ``dimension_names``."""
    arr = np.asarray(data)
    if arr.dtype.kind == "U" and arr.size == 0:
        arr = arr.astype("<U1")
    a = g.create_array(name, shape=arr.shape, dtype=arr.dtype,
                       dimension_names=tuple(dims), overwrite=True,
                       compressors=CHUNK_CODECS,
                       fill_value=np.nan if arr.dtype.kind == "f" else None,
                       attributes=attrs)
    a[...] = arr


def _write_coords(store: SweepStore, names: list[str], shape: list[int]) -> None:
    """One coordinate per axis; zipped companions as non-dimension coordinates."""
    g, pts = store.group, store.points
    for name, values in axes(store.spec):
        _put(g, name, _coord_values(values), (name,))
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
                _put(g, key, line, (dim,), zipped_with=dim)
                break


def write_dataset(store: SweepStore, points: Sequence[PointSummary]) -> None:
    """Write the summary arrays of ``store`` from its point summaries (point order)."""
    g = store.group
    names, shape = store.grid()
    n_p = len(points)
    if int(np.prod(shape)) != n_p:  # pragma: no cover - guards the sweep contract
        raise ValueError(f"sweep grid {shape} does not match {n_p} points")
    _write_coords(store, names, shape)

    n_t = max(len(x) for x in store.times)
    same_t = all(len(x) == n_t and np.array_equal(x, store.times[0]) for x in store.times)
    tdims = (*names, "t")
    if same_t:
        _put(g, "t", store.times[0], ("t",), long_name="output time")
    else:
        tt = np.full((n_p, n_t), np.nan)
        for i, x in enumerate(store.times):
            tt[i, : len(x)] = x
        _put(g, "time", tt.reshape((*shape, n_t)), tdims, long_name="output time of each point")

    f = {k: np.full((n_p, n_t), np.nan)
         for k in ("kappa", "kappa_err", "msd", "msd_err", "kappa_y")}
    s = {k: np.full(n_p, np.nan) for k in ("kappa_A", "kappa_H", "kappa_A_ensemble",
                                          "kappa_H_ensemble", "kappa_2d", "kappa_2d_err",
                                          "kappa_2d_log_slope", "kappa_perp",
                                          "kappa_2d_heuristic", "kappa_2d_scaling_11")}
    conv = np.zeros(n_p, dtype=bool)
    ints = {k: np.zeros(n_p, dtype=np.int64) for k in ("n_particles", "n_tasks", "steps")}
    n_d = max(x.shape[0] for x in store.distances)
    esc_f = {k: np.full((n_p, n_d), np.nan) for k in ("escape_fraction", "escape_time",
                                                      "escape_time_err", "escape_rate",
                                                      "escape_rate_err", "escape_mean_rate",
                                                      "escape_mean_rate_err",
                                                      "escape_mean_rate_upper")}
    two_d = store.spec.dimensions == 2
    for i, p in enumerate(points):
        ks, m = p.kappa, len(p.t)
        f["kappa"][i, :m], f["kappa_err"][i, :m] = ks.kappa, ks.kappa_err
        f["msd"][i, :m], f["msd_err"][i, :m], f["kappa_y"][i, :m] = ks.msd, ks.msd_err, ks.kappa_y
        s["kappa_A"][i], s["kappa_H"][i] = p.realisation
        s["kappa_A_ensemble"][i], s["kappa_H_ensemble"][i] = p.ensemble
        ints["n_particles"][i], ints["n_tasks"][i], ints["steps"][i] = (
            p.n_particles, p.n_tasks, p.steps)
        if p.kappa_2d is not None:
            k2 = p.kappa_2d
            s["kappa_2d"][i], s["kappa_2d_err"][i] = k2.kappa, k2.kappa_err
            s["kappa_2d_log_slope"][i], conv[i] = k2.log_slope, k2.converged
        if p.kappa_perp is not None:
            s["kappa_perp"][i] = p.kappa_perp
        if p.heuristic is not None:
            s["kappa_2d_heuristic"][i], s["kappa_2d_scaling_11"][i] = p.heuristic
        nd = p.distances.shape[0]
        if p.escape is not None:
            es = p.escape
            for key, val in zip(esc_f, (es.fraction, es.mean_time, es.mean_time_err, es.rate,
                                         es.rate_err, es.mean_rate, es.mean_rate_err,
                                         es.mean_rate_upper), strict=True):
                esc_f[key][i, :nd] = val

    for k, v in f.items():
        if k == "kappa_y" and not two_d:
            continue
        _put(g, k, v.reshape((*shape, n_t)), tdims)
    for k in ("kappa_A", "kappa_H", "kappa_A_ensemble", "kappa_H_ensemble"):
        _put(g, k, s[k].reshape(shape), names)
    for k, iv in ints.items():
        _put(g, k, iv.reshape(shape), names)
    sources = [p.kappa.source for p in points]
    if len(set(sources)) == 1:
        g.attrs["kappa_err_source"] = sources[0] if sources else "particles"
    else:
        _put(g, "kappa_err_source", np.asarray(sources).reshape(shape), names)
    if two_d:
        for k in ("kappa_2d", "kappa_2d_err", "kappa_2d_log_slope", "kappa_perp"):
            _put(g, k, s[k].reshape(shape), names)
        _put(g, "kappa_2d_converged", conv.reshape(shape), names,
             rule=f"|d ln<dx^2>/d ln t - 1| <= {CONVERGED_SLOPE_TOL} over the last third of ln t")
        _put(g, "kappa_2d_heuristic", s["kappa_2d_heuristic"].reshape(shape), names,
             source="eq. (10) with the progressive harmonic mean (C2) at t = l_perp^2/kappa_perp")
        _put(g, "kappa_2d_scaling_11", s["kappa_2d_scaling_11"].reshape(shape), names,
             source="eq. (11), two-phase power-law scaling (order-unity factors)")
    if n_d:
        same_d = all(np.array_equal(x, store.distances[0]) for x in store.distances)
        ddims = (*names, "escape_distance")
        if same_d:
            _put(g, "escape_distance", store.distances[0], ("escape_distance",))
        for k, v in esc_f.items():
            _put(g, k, v.reshape((*shape, n_d)), ddims)
