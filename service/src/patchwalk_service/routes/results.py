"""Results of a finished sweep: κ̄(t), κ̄_2D, escape rates, theory, plot and dataset.

Every answer of a done sweep is read from what it stored when it was finalised
(``request.app.state.backend.results``); no handler computes physics. Answers of a done sweep
are built once and then served from :mod:`patchwalk_service.cache` with an ``ETag``
(``If-None-Match`` → 304), without the thread pool. A running or cancelled sweep answers
``/kappa``, ``/kappa2d``, ``/escape``, ``/theory`` and ``/density`` with the results of its
finished tasks, computed on request and marked ``partial`` (``backend.partial``); never cached.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse, Response
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

from ..cache import cached
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


def _refuse_if_stopped(request: Request, sweep_id: str, what: str) -> None:
    """409 for κ̄(t), κ̄_2D, theory and the plot of a sweep with ``escape.stop``: its
    particles stop at their escape, so what is still walking at a time is a biased sample."""
    record = get_record(request, sweep_id)
    escape = record.spec.get("escape") or {}
    if isinstance(escape, dict) and escape.get("stop"):
        raise ProblemError(
            409,
            f"sweep {sweep_id} stops each particle at its escape (escape.stop = true), so "
            f"{what} is not served: the particles still walking at a time are a biased "
            "sample. Its escape statistics are at /escape; submit the spec without "
            "escape.stop for κ̄(t)",
            title="Escape-only sweep",
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
        keep: list[int] = filter_points(params, dict(request.query_params.multi_items()))
    except UnknownAxisError as exc:
        raise ProblemError(400, str(exc), title="No such points", errors=exc.errors) from exc
    return keep


def _kappa(request: Request, sweep_id: str) -> KappaResults:
    _refuse_if_stopped(request, sweep_id, "κ̄(t)")
    ans = _results(request, sweep_id)
    pts = ans.results.kappa
    return KappaResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                        **ans.extra)


def _kappa2d(request: Request, sweep_id: str) -> Kappa2DResults:
    _refuse_if_stopped(request, sweep_id, "κ̄_2D")
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


def _escape(request: Request, sweep_id: str) -> EscapeResults:
    ans = _results(request, sweep_id)
    pts = ans.results.escape
    return EscapeResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                         **ans.extra)


def _theory(request: Request, sweep_id: str) -> TheoryResults:
    _refuse_if_stopped(request, sweep_id, "theory (curves of κ̄(t))")
    ans = _results(request, sweep_id)
    pts = ans.results.theory
    return TheoryResults(points=[pts[i] for i in _keep(request, [p.params for p in pts])],
                         **ans.extra)


def _density(request: Request, sweep_id: str) -> DensityResults:
    ans = _results(request, sweep_id)
    pts = ans.results.density
    if not pts:
        raise ProblemError(
            409,
            f"sweep {sweep_id} has no density: add a [density] table to the spec "
            "(kernel = 'reference') and submit it again",
            title="No density requested",
        )
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "source"]
    try:
        keep = filter_points([p.params for p in pts], dict(query))
    except UnknownAxisError as exc:
        raise ProblemError(400, str(exc), title="No such points", errors=exc.errors) from exc
    if request.query_params.get("source", "lattice") == "histogram":
        pts = _histograms(request, sweep_id, pts, ans)
    return DensityResults(points=[pts[i] for i in keep], **ans.extra)


def _histograms(request: Request, sweep_id: str, lattice: list[Any],
                ans: _Answer) -> list[Any]:
    """The Monte-Carlo histogram records of a done sweep's points (tasks' integer counts
    summed in task order, :func:`patchwalk_worker.histogram.histogram_record`)."""
    from patchwalk_worker.histogram import histogram_record
    from patchwalk_worker.store import SweepStore

    if ans.extra.get("partial"):
        raise ProblemError(409, f"sweep {sweep_id} is not done: histograms are served once "
                           "every task has finished", title="Sweep not finished")
    store = SweepStore.open(request.app.state.backend.store_path(sweep_id))
    out = []
    for i, rec in enumerate(lattice):
        counts = store.read_hist(i)
        if counts is None or not counts.size:
            raise ProblemError(
                409, f"sweep {sweep_id} has no Monte-Carlo histograms: they are accumulated "
                "by the exact kernel in 1D with a [density] table (kernel = 'exact'); use "
                "?source=lattice for the lattice density", title="No histograms")
        out.append(histogram_record(rec, counts))
    return out


def _plot(request: Request, sweep_id: str) -> bytes:
    _refuse_if_stopped(request, sweep_id, "the κ̄ plot")
    record = _done_record(request, sweep_id)
    if int(record.spec.get("dimensions", 1)) == 2:
        return plot_kappa2d(_kappa2d(request, sweep_id).points, title=record.name)
    return plot_kappa(_kappa(request, sweep_id).points, title=record.name)


def _body(model: Any) -> bytes:
    """The JSON bytes FastAPI would send for ``model`` (same encoder, same separators)."""
    return bytes(JSONResponse(jsonable_encoder(model)).body)


async def _json_route(request: Request, sweep_id: str, route: str, fn: Any) -> Response:
    async def build() -> tuple[str, bytes, bool]:
        model = await run_in_threadpool(fn, request, sweep_id)
        return "application/json", _body(model), model.partial is None

    return await cached(request, sweep_id, route, build)


@router.get("/sweeps/{sweep_id}/kappa", response_model=KappaResults)
async def kappa(request: Request, sweep_id: str) -> Response:
    """κ̄(t) ± error per point, the ``patchwalk run --json`` shape; filter with ``?axis=value``
    (partial while the sweep runs)."""
    return await _json_route(request, sweep_id, "kappa", _kappa)


@router.get("/sweeps/{sweep_id}/kappa2d", response_model=Kappa2DResults)
async def kappa2d(request: Request, sweep_id: str) -> Response:
    """Converged κ̄_2D per point (2D sweeps), with the heuristics of eqs (10), (11)."""
    return await _json_route(request, sweep_id, "kappa2d", _kappa2d)


@router.get("/sweeps/{sweep_id}/escape", response_model=EscapeResults)
async def escape(request: Request, sweep_id: str) -> Response:
    """Escape fraction, mean time, 1/⟨τ⟩ (``rate``) and the mean rate ⟨1/τ⟩ (``mean_rate``,
    eq. 8, with its upper bound) per point and distance, beside the exact mean first-passage
    time of the same realisations."""
    return await _json_route(request, sweep_id, "escape", _escape)


@router.get("/sweeps/{sweep_id}/theory", response_model=TheoryResults)
async def theory(request: Request, sweep_id: str) -> Response:
    """Theory curves (κ_A, κ_H, scalings 7 and 11, progressive harmonic mean) per point, each
    with its range of validity."""
    return await _json_route(request, sweep_id, "theory", _theory)


@router.get("/sweeps/{sweep_id}/density", response_model=DensityResults)
async def density(request: Request, sweep_id: str,
                  source: Literal["lattice", "histogram"] = "lattice") -> Response:
    """n(x, t) of a point source per point (``[density]`` of the spec; Fig. 2): evolved on
    the lattice (``source=lattice``, default) or counted from Monte-Carlo particles started at
    the source (``source=histogram``; exact kernel, 1D, done sweeps)."""
    return await _json_route(request, sweep_id, "density", _density)


@router.get(
    "/sweeps/{sweep_id}/plot.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def plot(request: Request, sweep_id: str) -> Response:
    """Log-log κ̄(t) with κ_A and κ_H marked per point; κ̄_2D against the swept axis in 2D."""

    async def build() -> tuple[str, bytes, bool]:
        return "image/png", await run_in_threadpool(_plot, request, sweep_id), True

    return await cached(request, sweep_id, "plot.png", build)


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
