"""Error pages in the site's look: an unknown URL (404), a method a URL does not take (405), a
server error (500) and the database being away (503), for browsers. API clients — paths under
``/api/`` and ``/plain/``, ``/openapi.json``, or any request that does not ask for HTML — get
the JSON they always got.

Rendering touches no database: the page needs only its texts, in the language the visitor chose
(the ``lang`` cookie or parameter). Should rendering fail all the same, the plain page of
serviceguide.middleware is answered instead.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from serviceguide.web import i18n
from serviceguide.web.guide.page import LANG_COOKIE, SECURITY_HEADERS, TEMPLATES

log = logging.getLogger(__name__)

_API_PREFIXES = ("/api/", "/plain/")

#: Status → (title key, text key).
PAGES = {
    404: ("error.404.title", "error.404.text"),
    405: ("error.404.title", "error.404.text"),
    500: ("error.500.title", "error.500.text"),
    503: ("error.503.title", "error.503.text"),
}


def wants_html(request: Request) -> bool:
    """A browser asking for a page, not an API client."""
    path = request.url.path
    if path.startswith(_API_PREFIXES) or path == "/openapi.json":
        return False
    return "text/html" in request.headers.get("accept", "")


def render(request: Request, status: int) -> str:
    """The error page's HTML for ``status`` (404, 405, 500 or 503)."""
    asked = request.query_params.get("lang")
    lang = i18n.pick(asked if asked in i18n.LANGS else request.cookies.get(LANG_COOKIE))
    t = i18n.translator(lang)
    title, text = PAGES[status]
    return TEMPLATES.get_template("error.html").render(
        lang=lang,
        t=t,
        version="",
        title_key=title,
        text_key=text,
        status=status,
        switch_url=f"/?lang={t('lang.other')}",
        switch_form=None,
        noindex=True,
        errors={},
        error_summary=[],
        steps=[],
    )


def page(request: Request, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    response = HTMLResponse(render(request, status), status_code=status, headers=headers)
    response.headers.update(SECURITY_HEADERS)
    return response


def install(app: FastAPI) -> None:
    """Answer unknown URLs and refused methods with a page for browsers (JSON otherwise), and
    server errors with a page in the site's look (serviceguide.middleware decides when)."""
    app.state.error_page = page_or_none

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (404, 405) and wants_html(request):
            try:
                return page(request, exc.status_code, dict(exc.headers or {}))
            except Exception:
                log.exception("the error page could not be made")
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(StarletteHTTPException, on_http_error)


def page_or_none(request: Request, status: int) -> HTMLResponse | None:
    """The page for a 500 or 503 answer, or None if it cannot be made."""
    try:
        return page(request, status)
    except Exception:
        log.exception("the error page could not be made")
        return None
