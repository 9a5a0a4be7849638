"""The composition root: settings → database → services → HTTP entry points."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serviceguide import __version__, web
from serviceguide.api import guide, onapi, onapi_products, openapi, operations, xsp
from serviceguide.middleware import RequestLimits, SecurityHeaders, install_error_handlers
from serviceguide.notify.relay import relay_in_background
from serviceguide.observability import metrics
from serviceguide.observability.http import Observe
from serviceguide.services.context import AppContext
from serviceguide.services.imports import imports_in_background
from serviceguide.services.products import sync_in_background
from serviceguide.settings import Settings, get_settings
from serviceguide.storage.db import Database
from serviceguide.web.admin.accesses import UPLOAD_PATHS


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url, timeout=settings.db_timeout_seconds)
        app.state.ctx = ctx = AppContext(db=db, settings=settings)
        # Everything alive now (modules, routes, the schema) lives as long as the process: move
        # it out of the collector's sight, so that a full collection under load scans only what
        # requests allocate (it otherwise shows up as tens of milliseconds in p99 latency).
        gc.collect()
        gc.freeze()
        sampler = asyncio.create_task(_sample_connections(db), name="metrics-sampler")
        try:
            # Every worker runs one outbox relay; their claims keep them from sending twice.
            async with (
                relay_in_background(ctx, enabled=settings.relay_in_serve),
                imports_in_background(ctx),
                sync_in_background(ctx),
            ):
                yield
        finally:
            sampler.cancel()
            await db.dispose()
            metrics.process_stopping()

    app = FastAPI(
        title="serviceguide",
        version=__version__,
        description="Tjänsteguiden and the XSP order API for open fibre networks.",
        lifespan=lifespan,
        docs_url=None,  # served from the installed Swagger UI package instead: web.apidocs
        redoc_url=None,
    )
    app.include_router(xsp.router)
    web.install(app)  # the guide's pages at / and their static files
    web.install_staff(app)  # the staff pages at /staff (manual handling of orders)
    app.include_router(guide.router)
    app.include_router(onapi.router)
    app.include_router(onapi_products.router)
    app.include_router(operations.router)  # /healthz, /readyz, /metrics

    openapi.install(app, settings)  # the XSP API's forms and the auth schemes in /openapi.json
    web.install_api_docs(app)  # /docs, with Swagger UI's files from a package, not a CDN
    install_error_handlers(app)
    web.install_error_pages(app)  # unknown URLs and server errors: pages for browsers
    # The last added runs first: Observe sees every answer, including a 413.
    app.add_middleware(RequestLimits, max_bytes=settings.max_request_bytes, own_limits=UPLOAD_PATHS)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Observe, routes=app.router.routes)
    return app


#: How often a worker writes how many database connections it has in use (a gauge).
SAMPLE_SECONDS = 1.0


async def _sample_connections(db: Database) -> None:
    """Connections in use, written every second rather than counted on every checkout: off the
    request path, and a scrape answered by any worker sees every worker's figure."""
    while True:
        metrics.connections_in_use(db.connections_in_use())
        await asyncio.sleep(SAMPLE_SECONDS)
