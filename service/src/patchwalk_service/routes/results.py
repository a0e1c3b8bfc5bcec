"""Results of a finished sweep: κ̄(t), κ̄_2D, escape rates, theory, plot and dataset."""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from ..problems import ProblemError
from ..registry import SweepRecord
from .sweeps import get_record

router = APIRouter(tags=["results"])


def _done_record(request: Request, sweep_id: str) -> SweepRecord:
    record = get_record(request, sweep_id)
    if record.state != "done":
        hint = {
            "failed": f"it failed: {record.error}",
            "cancelled": "it was cancelled; submit the same spec again to resume it",
        }.get(record.state, f"poll GET /v1/sweeps/{sweep_id} or its /events until state is done")
        raise ProblemError(
            409,
            f"sweep {sweep_id} is {record.state}, results exist once it is done; {hint}",
            title="Sweep not finished",
            state=record.state,
        )
    return record


def _open_store(request: Request, sweep_id: str) -> Any:
    from patchwalk_worker.store import SweepStore

    path = request.app.state.backend.store_path(sweep_id)
    return SweepStore.open(path)


def _same(value: Any, wanted: str) -> bool:
    """Whether a parameter value matches a query string (numbers compared numerically)."""
    try:
        target = json.loads(wanted)
    except json.JSONDecodeError:
        target = wanted
    if isinstance(value, (int, float)) and isinstance(target, (int, float)):
        return math.isclose(float(value), float(target), rel_tol=1e-9, abs_tol=0.0)
    if isinstance(value, str):
        return value == wanted or value == target
    return bool(value == target)


def point_filter(request: Request, params_list: list[dict[str, Any]]) -> list[int]:
    """Indices of the points whose params match every query parameter naming a sweep axis."""
    filters = {k: v for k, v in request.query_params.multi_items()}
    if not filters:
        return list(range(len(params_list)))
    known = set(params_list[0]) if params_list else set()
    unknown = [k for k in filters if k not in known]
    if unknown:
        names = ", ".join(sorted(known)) or "(this sweep has no axes)"
        raise ProblemError(
            422,
            f"unknown filter {', '.join(unknown)}: filter by a sweep axis, one of {names} "
            "(e.g. ?energy=10)",
            errors=[{"loc": k, "msg": f"not a sweep axis; use one of {names}"} for k in unknown],
        )
    return [i for i, p in enumerate(params_list) if all(_same(p[k], v) for k, v in filters.items())]


def kappa_points(request: Request, sweep_id: str) -> list[dict[str, Any]]:
    """§9 point objects of a finished sweep (same code path as ``patchwalk run --json``)."""
    _done_record(request, sweep_id)
    points: list[dict[str, Any]] = _open_store(request, sweep_id).point_results()
    keep = point_filter(request, [p["params"] for p in points])
    return [points[i] for i in keep]


@router.get("/sweeps/{sweep_id}/kappa")
def kappa(request: Request, sweep_id: str) -> JSONResponse:
    """κ̄(t) ± error per point, the ``patchwalk run --json`` shape; filter with ``?axis=value``."""
    return JSONResponse({"points": kappa_points(request, sweep_id)})


def kappa2d_points(request: Request, sweep_id: str) -> list[dict[str, Any]]:
    """Converged κ̄_2D per point with error, convergence flag, κ_A, κ_H and heuristics (10), (11)."""
    import numpy as np
    from patchwalk_worker.summary import _jsonable, kappa_2d

    record = _done_record(request, sweep_id)
    if int(record.spec.get("dimensions", 1)) != 2:
        raise ProblemError(
            409,
            f"sweep {sweep_id} is one-dimensional; κ̄_2D exists for dimensions = 2 only — "
            "use /kappa for κ̄(t)",
            title="Not a 2D sweep",
        )
    store = _open_store(request, sweep_id)
    from patchwalk_worker.theory import kappa_2d_heuristic

    out = []
    for i, pt in enumerate(store.points):
        d = store.read_point(i)
        k2 = kappa_2d(d["sums"], store.times[i])
        r = np.mean(np.asarray(d["realisation"], dtype=np.float64).reshape(-1, 2), axis=0)
        out.append(
            _jsonable(
                {
                    "params": pt.params,
                    "kappa_2d": k2.kappa,
                    "kappa_2d_err": k2.kappa_err,
                    "converged": k2.converged,
                    "log_slope": k2.log_slope,
                    "kappa_A": float(r[0]),
                    "kappa_H": float(r[1]),
                    "kappa_perp": pt.spec.kappa_perp_scaled(),
                    **{f"heuristic_{k[2:]}": v for k, v in kappa_2d_heuristic(pt.spec).items()},
                    "n_particles": int(pt.spec.particles.count),
                    "n_tasks": int(store.n_tasks[i]),
                }
            )
        )
    keep = point_filter(request, [p["params"] for p in out])
    return [out[i] for i in keep]


@router.get("/sweeps/{sweep_id}/kappa2d")
def kappa2d(request: Request, sweep_id: str) -> JSONResponse:
    """Converged κ̄_2D per point (2D sweeps), with the heuristics of eqs (10), (11)."""
    return JSONResponse({"points": kappa2d_points(request, sweep_id)})


@router.get("/sweeps/{sweep_id}/escape")
def escape(request: Request, sweep_id: str) -> JSONResponse:
    """Escape (first-passage) fraction, mean time and rate per point and distance (eq. 8)."""
    from patchwalk_worker.summary import _jsonable, escape_summary

    _done_record(request, sweep_id)
    store = _open_store(request, sweep_id)
    out = []
    for i, pt in enumerate(store.points):
        dist = store.distances[i]
        item: dict[str, Any] = {"params": pt.params, "distance": dist}
        if len(dist):
            es = escape_summary(store.read_point(i)["esc"], float(pt.spec.particles.count))
            item.update(
                fraction=es.fraction,
                mean_time=es.mean_time,
                mean_time_err=es.mean_time_err,
                rate=es.rate,
                rate_err=es.rate_err,
            )
        out.append(_jsonable(item))
    keep = point_filter(request, [p["params"] for p in out])
    return JSONResponse({"points": [out[i] for i in keep]})


def theory_points(request: Request, sweep_id: str) -> list[dict[str, Any]]:
    """Theory curves of each point at its output times (needs only the spec)."""
    record = get_record(request, sweep_id)
    import numpy as np
    from patchwalk_client.spec import load_spec
    from patchwalk_client.sweep import expand_points
    from patchwalk_worker.summary import _jsonable
    from patchwalk_worker.theory import theory_curves

    pts = expand_points(load_spec(record.spec))
    keep = point_filter(request, [p.params for p in pts])
    out = []
    for i in keep:
        pt = pts[i]
        t = pt.spec.output_times()
        curves = theory_curves(pt.spec, np.asarray(t, dtype=np.float64))
        out.append(_jsonable({"params": pt.params, "t": t, "curves": dict(curves)}))
    return out


@router.get("/sweeps/{sweep_id}/theory")
def theory(request: Request, sweep_id: str) -> JSONResponse:
    """Theory curves (κ_A, κ_H, scalings 7 and 11, progressive harmonic mean) per point."""
    return JSONResponse({"points": theory_points(request, sweep_id)})


@router.get(
    "/sweeps/{sweep_id}/plot.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def plot(request: Request, sweep_id: str) -> Response:
    """Log-log κ̄(t) with κ_A and κ_H marked per point; κ̄_2D against the swept axis in 2D."""
    from ..plots import plot_kappa, plot_kappa2d

    record = _done_record(request, sweep_id)
    if int(record.spec.get("dimensions", 1)) == 2:
        png = plot_kappa2d(kappa2d_points(request, sweep_id), title=record.name)
    else:
        png = plot_kappa(kappa_points(request, sweep_id), title=record.name)
    return Response(png, media_type="image/png")


def _zip_dir(src: Path) -> str:
    fd, name = tempfile.mkstemp(prefix="patchwalk-", suffix=".zip")
    os.close(fd)
    with zipfile.ZipFile(name, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(src).as_posix())
    return name


@router.get(
    "/sweeps/{sweep_id}/dataset",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def dataset(request: Request, sweep_id: str) -> FileResponse:
    """The sweep's zarr store as a zip: ``xr.open_zarr(zarr.storage.ZipStore(path, mode="r"))``."""
    _done_record(request, sweep_id)
    src = request.app.state.backend.store_path(sweep_id)
    if not Path(src).is_dir():
        raise ProblemError(404, f"the store of sweep {sweep_id} is missing from the data directory")
    name = _zip_dir(Path(src))
    return FileResponse(
        name,
        media_type="application/zip",
        filename=f"{sweep_id}.zarr.zip",
        background=BackgroundTask(os.unlink, name),
    )
