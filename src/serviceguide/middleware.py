"""What every HTTP request and response goes through, whatever it is for.

* The request id, metrics and the request's log line: observability.http.Observe.
* :class:`SecurityHeaders` — the headers every response carries unless it sets its own:
  ``nosniff``, a Content-Security-Policy that at least forbids framing, ``Referrer-Policy``,
  ``Cache-Control: no-store`` (answers carry personal data) and, over HTTPS, HSTS.
* :class:`RequestLimits` — refuses request bodies larger than ``SERVICEGUIDE_MAX_REQUEST_BYTES``
  with 413 before the application reads them, whether announced by Content-Length or chunked.
* :func:`install_error_handlers` — a database that cannot be reached is a clean 503 with
  ``Retry-After``; anything unexpected is a 500 whose body says nothing about the code.

All plain ASGI rather than ``BaseHTTPMiddleware``: they stay off the hot path's cost sheet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serviceguide.domain.ordering import is_digits
from serviceguide.services.availability import RETRY_AFTER_SECONDS, is_outage

log = logging.getLogger(__name__)


#: For answers that did not set a policy of their own (the pages set a stricter, complete one).
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
#: FastAPI's interactive API reference loads its script and style from a CDN.
DOCS_CSP = b"frame-ancestors 'none'"
_DOCS_PATHS = ("/docs", "/redoc")
_DEFAULTS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Adds the default security headers to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith(_DOCS_PATHS) else DEFAULT_CSP
        https = scope.get("scheme") == "https"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _DEFAULTS if n not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp))
                if https and _HSTS[0] not in present:
                    headers.append(_HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


class RequestLimits:
    """Answers 413 to a request body over ``max_bytes``, announced or streamed.

    Paths in ``own_limits`` are passed through untouched: their routes stream the body to disk
    and enforce a limit of their own (the market-database upload: 413 page before reading a
    declared length over it, and while reading a chunked one)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, own_limits: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.own_limits = own_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.own_limits:
            await self.app(scope, receive, send)
            return
        length = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if length is not None:
            # The server holds the body to its Content-Length, so checking the number suffices.
            if not is_digits(length) or int(length) > self.max_bytes:
                await _too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not chunked:
            await self.app(scope, receive, send)
            return
        # Chunked: read it (it is small, or it is refused) before the application sees it.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await _too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"detail": "Request body is too large"}, status_code=413)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Tillfälligt otillgänglig</title></head>
<body><main><h1>Tjänsten är tillfälligt otillgänglig</h1>
<p>Försök igen om en liten stund. Inget av det du skickat har gått förlorat om du inte fått
en bekräftelse — skicka det då igen.</p></main></body></html>"""

_ERROR_PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Något gick fel</title></head>
<body><main><h1>Något gick fel</h1><p>Försök igen om en liten stund.</p></main></body></html>"""


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/plain/")) and path != "/openapi.json"


#: Makes the page in the site's look for an error status (with its own security headers), or
#: None (then the plain one above): set by the composition root (serviceguide.web.errors).
HtmlPage = Callable[[Request, int], HTMLResponse | None]


def _site_page(request: Request, status: int) -> HTMLResponse | None:
    make: HtmlPage | None = getattr(request.app.state, "error_page", None)
    return make(request, status) if make else None


def service_unavailable(request: Request) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_html(request):
        if (page := _site_page(request, 503)) is not None:
            page.headers.update(headers)
            return page
        return HTMLResponse(_UNAVAILABLE_PAGE, status_code=503, headers=headers)
    return JSONResponse(
        {"detail": "Service temporarily unavailable"}, status_code=503, headers=headers
    )


def internal_error(request: Request) -> Response:
    # Answered from Starlette's outermost layer, outside SecurityHeaders: set them here.
    headers = {k.decode(): v.decode() for k, v in _DEFAULTS}
    headers["Content-Security-Policy"] = DEFAULT_CSP.decode()
    if _wants_html(request):
        return _site_page(request, 500) or HTMLResponse(
            _ERROR_PAGE, status_code=500, headers=headers
        )
    return JSONResponse({"detail": "Internal server error"}, status_code=500, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_storage_error(request: Request, exc: Exception) -> Response:
        if is_outage(exc):
            # One line, no traceback: the database being away is an outage, not a bug.
            log.warning(
                "%s %s: database unavailable (%s)",
                request.method,
                request.url.path,
                type(exc).__name__,
            )
            return service_unavailable(request)
        log.exception("%s %s failed", request.method, request.url.path)
        return internal_error(request)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # Starlette runs a handler for Exception in its outermost layer and re-raises after
        # answering, so the server logs the traceback; the client sees only this.
        return internal_error(request)

    for cls in _outage_types():
        app.add_exception_handler(cls, on_storage_error)
    app.add_exception_handler(Exception, on_unexpected)


def _outage_types() -> tuple[type[Exception], ...]:
    import sqlite3

    import asyncpg
    import sqlalchemy.exc

    return (
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        sqlite3.Error,
    )
