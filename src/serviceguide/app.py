"""The composition root: settings → database → services → HTTP entry points."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote_plus

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serviceguide import __version__, web
from serviceguide.api import guide, onapi, xsp
from serviceguide.notify.relay import relay_in_background
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings, get_settings
from serviceguide.storage.db import Database

access_log = logging.getLogger("serviceguide.access")

# Credentials never reach the access log, however their names are spelt or encoded.
_SECRET_NAMES = frozenset({"hash", "api_key", "password"})


def redact_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        if sep and unquote_plus(name).strip().lower() in _SECRET_NAMES:
            part = f"{name}=***"
        parts.append(part)
    return "&".join(parts)


class AccessLog:
    """One log line per request, with credentials in the query string redacted.

    Plain ASGI rather than ``BaseHTTPMiddleware``: it stays off the hot path's cost sheet.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            client = scope.get("client")
            access_log.info(
                '%s "%s %s%s" %d %.1fms',
                client[0] if client else "-",
                scope["method"],
                scope["path"],
                "?" + redact_query(query) if query else "",
                status,
                (time.perf_counter() - start) * 1000,
            )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        app.state.ctx = ctx = AppContext(db=db, settings=settings)
        # Everything alive now (modules, routes, the schema) lives as long as the process: move
        # it out of the collector's sight, so that a full collection under load scans only what
        # requests allocate (it otherwise shows up as tens of milliseconds in p99 latency).
        gc.collect()
        gc.freeze()
        try:
            # Every worker runs one outbox relay; their claims keep them from sending twice.
            async with relay_in_background(ctx, enabled=settings.relay_in_serve):
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
    web.install(app)  # the guide's pages at / and their static files
    web.install_staff(app)  # the staff pages at /staff (manual handling of orders)
    app.include_router(guide.router)
    app.include_router(onapi.router)

    app.add_middleware(AccessLog)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
