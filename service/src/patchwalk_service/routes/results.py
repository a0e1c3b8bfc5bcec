"""Results of a finished sweep: κ̄(t), κ̄_2D, escape rates, theory, plot and dataset.

Every answer of a done sweep is read from what it stored when it was finalised
(``request.app.state.backend.results``). A running or cancelled sweep answers ``/kappa``,
``/kappa2d``, ``/escape`` and ``/theory`` with the results of its finished tasks, computed on
request and marked ``partial`` (``backend.partial``); never cached.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from patchwalk_client.errors import UnknownAxisError
from patchwalk_client.models import (
    DensityResults,
    EscapeResults,
    Kappa2DResults,
    KappaResults,
    SweepResults,
    TheoryResults,
    filter_points,
)
from starlette.background import BackgroundTask

from ..plots import plot_kappa, plot_kappa2d
from ..problems import ProblemError
from ..registry import SweepRecord

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_worker.partial import PartialResults
from .sweeps import get_record

router = APIRouter(tags=["results"])


def _not_done(record: SweepRecord, sweep_id: str, what: str) -> ProblemError:
    hint = {
        "failed": f"it failed: {record.error}",
        "cancelled": "it was cancelled; submit the same spec again to resume it",
    }.get(record.state, f"poll GET /v1/sweeps/{sweep_id} or its /events until state is done")
    return ProblemError(
        409,
        f"sweep {sweep_id} is {record.state}, {what} exist once it is done; {hint}",
        title="Sweep not finished",
        state=record.state,
    )


def _done_record(request: Request, sweep_id: str) -> SweepRecord:
    record = get_record(request, sweep_id)
    if record.state != "done":
        raise _not_done(record, sweep_id, "results")
    return record


class _Answer:
    """Results to serve: the stored ones of a done sweep, or the partial ones of the rest."""

    def __init__(self, results: SweepResults, partial: PartialResults | None = None) -> None:
        self.results = results
        self.extra: dict[str, Any] = {} if partial is None else {
            "partial": True, "tasks_done": partial.tasks_done,
            "tasks_total": partial.tasks_total}


def _results(request: Request, sweep_id: str) -> _Answer:
    """The stored results of a done sweep; those of the finished tasks of a running or
    cancelled one (computed now, marked partial); 409 while none is finished."""
    record = get_record(request, sweep_id)
    backend = request.app.state.backend
    if record.state == "done":
        return _Answer(backend.results(sweep_id))
    if record.state in ("running", "cancelled"):
        partial = backend.partial(sweep_id)
        if partial is not None and partial.tasks_done > 0:
            return _Answer(partial.results, partial)
    raise _not_done(record, sweep_id, "results (partial ones once a task has finished)")


def _keep(request: Request, params: list[dict[str, Any]]) -> list[int]:
    """Indices of the points matching the ``?axis=value`` query (400 naming what exists)."""
    try:
        return filter_points(params, dict(request.query_params.multi_items()))
    except UnknownAxisError as exc:
        raise ProblemError(400, str(exc), title="No such points", errors=exc.errors) from exc


def _kappa(request: Request, sweep_id: str) -> KappaResults:
    ans = _results(request, sweep_id)
    pts = ans.results.kappa
    return KappaResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                        **ans.extra)


def _kappa2d(request: Request, sweep_id: str) -> Kappa2DResults:
    ans = _results(request, sweep_id)
    res = ans.results
    if res.dimensions != 2:
        raise ProblemError(
            409,
            f"sweep {sweep_id} is one-dimensional; κ̄_2D exists for dimensions = 2 only — "
            "use /kappa for κ̄(t)",
            title="Not a 2D sweep",
        )
    pts = res.kappa2d
    return Kappa2DResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                          **ans.extra)


@router.get("/sweeps/{sweep_id}/kappa", response_model=KappaResults)
def kappa(request: Request, sweep_id: str) -> KappaResults:
    """κ̄(t) ± error per point, the ``patchwalk run --json`` shape; filter with ``?axis=value``
    (partial while the sweep runs)."""
    return _kappa(request, sweep_id)


@router.get("/sweeps/{sweep_id}/kappa2d", response_model=Kappa2DResults)
def kappa2d(request: Request, sweep_id: str) -> Kappa2DResults:
    """Converged κ̄_2D per point (2D sweeps), with the heuristics of eqs (10), (11)."""
    return _kappa2d(request, sweep_id)


@router.get("/sweeps/{sweep_id}/escape", response_model=EscapeResults)
def escape(request: Request, sweep_id: str) -> EscapeResults:
    """Escape (first-passage) fraction, mean time and rate per point and distance (eq. 8)."""
    ans = _results(request, sweep_id)
    pts = ans.results.escape
    return EscapeResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                         **ans.extra)


@router.get("/sweeps/{sweep_id}/theory", response_model=TheoryResults)
def theory(request: Request, sweep_id: str) -> TheoryResults:
    """Theory curves (κ_A, κ_H, scalings 7 and 11, progressive harmonic mean) per point."""
    ans = _results(request, sweep_id)
    pts = ans.results.theory
    return TheoryResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                         **ans.extra)


@router.get("/sweeps/{sweep_id}/density", response_model=DensityResults)
def density(request: Request, sweep_id: str) -> DensityResults:
    """n(x, t) of a point source per point (``[density]`` of the spec; Fig. 2)."""
    ans = _results(request, sweep_id)
    pts = ans.results.density
    if not pts:
        raise ProblemError(
            409,
            f"sweep {sweep_id} has no density: add a [density] table to the spec "
            "(kernel = 'reference') and submit it again",
            title="No density requested",
        )
    return DensityResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                          **ans.extra)


@router.get(
    "/sweeps/{sweep_id}/plot.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def plot(request: Request, sweep_id: str) -> Response:
    """Log-log κ̄(t) with κ_A and κ_H marked per point; κ̄_2D against the swept axis in 2D."""
    record = _done_record(request, sweep_id)
    if int(record.spec.get("dimensions", 1)) == 2:
        png = plot_kappa2d(_kappa2d(request, sweep_id).points, title=record.name)
    else:
        png = plot_kappa(_kappa(request, sweep_id).points, title=record.name)
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
