"""The FastAPI application: ``create_app(settings)`` wires registry, backend, runner, scheduler.

Nothing is global: every piece hangs off ``app.state`` and lives for the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from . import __version__
from .auth import require_token
from .backend import StoreBackend, SweepBackend
from .cache import ResultsCache
from .cluster import cluster_runner
from .contract import install_contract
from .hotpath import HotReads
from .limits import RateLimiter
from .priority import responsive_interpreter
from .problems import install_problem_handlers
from .registry import Registry
from .routes import cluster as cluster_routes
from .routes import events, health, inspect, results, sweeps
from .routes.events import StreamBounds
from .runners import TaskRunner
from .scheduler import Scheduler
from .settings import ServiceSettings
from .status import StatusBoard
from .storage import DiskMeter, install_storage_handlers, retention_loop

_log = logging.getLogger(__name__)


def dask_runner(settings: ServiceSettings) -> TaskRunner:
    """A runner on the cluster ``settings.cluster`` names (every kernel warmed: any sweep may
    come)."""
    return cluster_runner(settings)


def create_app(
    settings: ServiceSettings | None = None,
    *,
    backend: SweepBackend | None = None,
    runner_factory: Callable[[ServiceSettings], TaskRunner] | None = None,
    start_scheduler: bool = True,
) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Service settings (default: from ``PATCHWALK_*`` environment variables).
    backend
        The physics backend (default: :class:`StoreBackend` under ``settings.stores_dir``).
    runner_factory
        Builds the task runner at startup (default: :func:`dask_runner`).
    start_scheduler
        Run the scheduler loop in a background thread; tests pass False and call
        ``app.state.scheduler.run_until_idle()``.
    """
    settings = settings or ServiceSettings()
    make_runner = runner_factory or dask_runner

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with responsive_interpreter():  # the event loop never waits long for the GIL
            async with _serving(app):
                yield

    @asynccontextmanager
    async def _serving(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        registry = Registry(settings.registry_path)
        the_backend = backend or StoreBackend(settings.stores_dir)
        runner = make_runner(settings)
        scheduler = Scheduler(
            registry,
            the_backend,
            runner,
            max_in_flight=settings.max_in_flight,
            max_running=settings.max_running,
        )
        app.state.registry = registry
        app.state.backend = the_backend
        app.state.runner = runner
        app.state.scheduler = scheduler
        app.state.status_board = StatusBoard(registry, scheduler)
        app.state.ready = True
        if start_scheduler:
            scheduler.start()
        retention = asyncio.get_running_loop().create_task(retention_loop(app))
        try:
            yield
        finally:
            retention.cancel()
            app.state.ready = False
            scheduler.stop()
            try:
                runner.close()
            except Exception:  # the cluster may already be gone
                _log.exception("closing the task runner failed")
            registry.close()

    app = FastAPI(
        title="patchwalk",
        version=__version__,
        description="Parameter sweeps of cosmic-ray transport in patchy media (Ewart et al. 2025).",
        lifespan=lifespan,
        # with tokens configured the schema and its UI need a token too (added below)
        openapi_url=None if settings.tokens else "/openapi.json",
        docs_url=None if settings.tokens else "/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.ready = False
    app.state.rate_limiter = RateLimiter(settings.submissions_per_minute)
    app.state.streams = StreamBounds(settings.max_streams, settings.max_streams_per_client)
    app.state.results_cache = ResultsCache()
    app.state.disk_meter = DiskMeter(settings.data_dir)
    app.add_middleware(HotReads)  # polled status and cached results, before routing
    install_problem_handlers(app)
    install_storage_handlers(app)
    auth: list[Any] = [Depends(require_token)]
    if settings.tokens:
        _protected_docs(app, auth)
    app.include_router(health.public)
    app.include_router(health.protected, dependencies=auth)
    app.include_router(sweeps.router, prefix="/v1", dependencies=auth)
    app.include_router(events.router, prefix="/v1", dependencies=auth)
    app.include_router(results.router, prefix="/v1", dependencies=auth)
    app.include_router(cluster_routes.router, prefix="/v1", dependencies=auth)
    app.include_router(inspect.router, prefix="/v1", dependencies=auth)
    install_contract(app)
    return app


def _protected_docs(app: FastAPI, auth: list[Any]) -> None:
    """Serve ``/openapi.json`` and ``/docs`` behind the bearer-token dependency."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse

    @app.get("/openapi.json", include_in_schema=False, dependencies=auth)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=auth)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="patchwalk")
