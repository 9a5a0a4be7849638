"""The composition root: settings → database → services → HTTP entry points."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide import __version__
from serviceguide.api import xsp
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings, get_settings
from serviceguide.storage.db import Database

access_log = logging.getLogger("serviceguide.access")

# Credentials never reach the access log.
_SECRET_PARAMS = re.compile(r"((?:^|&)(?:hash|api_key|password)=)[^&]*", re.IGNORECASE)


def redact_query(query: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", query)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        app.state.ctx = AppContext(db=db, settings=settings)
        try:
            yield
        finally:
            await db.dispose()

    app = FastAPI(
        title="serviceguide",
        version=__version__,
        description="Tjänsteguiden and the XSP order API for open fibre networks.",
        lifespan=lifespan,
    )
    app.include_router(xsp.router)

    @app.middleware("http")
    async def log_requests(request: Request, call_next):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        response: Response = await call_next(request)
        if access_log.isEnabledFor(logging.INFO):
            query = request.scope.get("query_string", b"").decode("latin-1")
            access_log.info(
                '%s "%s %s%s" %d %.1fms',
                request.client.host if request.client else "-",
                request.method,
                request.url.path,
                "?" + redact_query(query) if query else "",
                response.status_code,
                (time.perf_counter() - start) * 1000,
            )
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return _INDEX

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


_INDEX = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Tjänsteguiden</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Tjänsteguiden</h1>
<ul>
<li><a href="/docs">XSP order API — interactive reference (OpenAPI)</a></li>
<li><a href="/plain/serviceguide_log">/plain/serviceguide_log</a> — the XSP order API endpoint</li>
</ul></main></body></html>
"""
