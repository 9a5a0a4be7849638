"""Server-rendered pages: Tjänsteguiden for customers, with its templates and static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"


class GuideStatic(StaticFiles):
    """The guide's CSS and JavaScript, revalidated on each use and never sniffed as another type."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


def secure_cookies(request: Request) -> bool:
    """Cookies are ``Secure`` when the request came over HTTPS (directly, or through a proxy
    the server trusts) or the installation's public address is HTTPS — then a request over
    plain HTTP is a mistake whose cookies must not be trusted back over it either."""
    if request.url.scheme == "https":
        return True
    ctx = getattr(request.app.state, "ctx", None)
    return bool(ctx and ctx.settings.base_url.lower().startswith("https://"))


def install(app: FastAPI) -> None:
    """Add the guide's pages at ``/`` and its static files at ``/static``."""
    from serviceguide.web import guide

    app.include_router(guide.router)
    app.mount("/static", GuideStatic(directory=STATIC_DIR), name="static")


def install_staff(app: FastAPI) -> None:
    """Add the staff pages at ``/staff`` and the administration at ``/staff/admin`` (they share
    the guide's templates and static files)."""
    from serviceguide.domain.errors import Forbidden
    from serviceguide.web import admin, staff

    app.include_router(staff.router)
    app.include_router(admin.router)
    # A refusal of the service layer that a page did not turn into its own answer (the
    # platform's staff on an order page): the administration's 403 page.
    app.add_exception_handler(Forbidden, admin.forbidden_page)


def install_api_docs(app: FastAPI) -> None:
    """The interactive API reference at ``/docs``, with its files (serviceguide.web.apidocs)."""
    from serviceguide.web import apidocs

    apidocs.install(app)


def install_error_pages(app: FastAPI) -> None:
    """Error pages in the site's look for browsers (serviceguide.web.errors)."""
    from serviceguide.web import errors

    errors.install(app)
