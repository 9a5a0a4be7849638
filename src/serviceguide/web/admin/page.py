"""What every administration page needs: ``AdminPage`` (the staff pages' look, session, CSRF and
language, with the administration's texts and menu), the two ways in — ``admin_get`` for a GET
and ``admin_post`` for a POST (403 without a valid CSRF token, checked before anything else) —
and ``answer``, which turns the service layer's refusals into pages: :class:`Forbidden` is a 403
page, :class:`NotFound` a 404 page exactly like a missing object's.

Who may do what is decided in the service layer, never here: every page calls a service function
that checks the signed-in user's role and organisation first. The menu only shows the sections
of the user's kind of organisation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import Forbidden, InvalidInput, NotFound
from serviceguide.domain.model import OrgKind
from serviceguide.domain.roles import Actor
from serviceguide.services.context import AppContext
from serviceguide.web.admin import texts
from serviceguide.web.guide.page import app_ctx, form_text
from serviceguide.web.staff.page import StaffPage, current_session, signed_in

#: The sections of the administration, per kind of organisation, in menu order:
#: (path under /staff/admin, text key of its name).
SECTIONS: dict[OrgKind, list[tuple[str, str]]] = {
    OrgKind.TL: [
        ("services", "admin.nav.services"),
        ("delivery", "admin.nav.delivery"),
        ("api-users", "admin.nav.api_users"),
        ("webhooks", "admin.nav.webhooks"),
        ("users", "admin.nav.users"),
        ("log", "admin.nav.log"),
    ],
    OrgKind.KO: [
        ("network", "admin.nav.network"),
        ("accesses", "admin.nav.accesses"),
        ("api-users", "admin.nav.api_users"),
        ("webhooks", "admin.nav.webhooks"),
        ("users", "admin.nav.users"),
        ("log", "admin.nav.log"),
    ],
    OrgKind.PLATFORM: [
        ("platform", "admin.nav.platform"),
        ("users", "admin.nav.users"),
        ("log", "admin.nav.log"),
    ],
}


class AdminPage(StaffPage):
    """An administration page of the signed-in user."""

    def __init__(self, request: Request, session: Any = None) -> None:
        super().__init__(request, session)
        self.t = texts.translator(self.lang)

    @property
    def actor(self) -> Actor:
        assert self.session is not None
        actor: Actor = self.session.actor
        return actor

    @property
    def ctx(self) -> AppContext:
        return app_ctx(self.request)

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("nav", "admin")
        values.setdefault("section", "")
        kind = self.session.caller.org_kind if self.session else None
        return super().render(
            template, status=status, sections=SECTIONS.get(kind, []) if kind else [], **values
        )

    def problem(self, status: int, title_key: str, text_key: str) -> HTMLResponse:
        return self.render(
            "admin/problem.html", status=status, title_key=title_key, text_key=text_key
        )

    def not_found(self) -> HTMLResponse:
        return self.problem(404, "admin.notfound.title", "admin.notfound.text")

    def role_forbidden(self) -> HTMLResponse:
        return self.problem(403, "admin.forbidden.title", "admin.forbidden.text")

    def error_text(self, e: InvalidInput) -> str:
        return texts.error_text(self.t, e.field, e.message)


async def admin_get(request: Request) -> AdminPage | Response:
    """The page for a signed-in user, or a redirect to the login page."""
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    return AdminPage(request, page.session)


async def admin_post(request: Request, form: Any = None) -> tuple[AdminPage, Any] | Response:
    """A POSTed form of a signed-in user: 403 without a valid CSRF token (checked first)."""
    if form is None:
        form = await request.form()
    if not AdminPage(request).guard.valid(request, form):
        return AdminPage(request, await current_session(request)).forbidden()
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    return AdminPage(request, page.session), form


Handler = Callable[[AdminPage], Awaitable[Response]]


async def answer(page: AdminPage, handle: Handler) -> Response:
    """Run ``handle``; a refusal of the service layer becomes its page."""
    try:
        return await handle(page)
    except Forbidden:
        return page.role_forbidden()
    except NotFound:
        return page.not_found()


async def get_page(request: Request, handle: Handler) -> Response:
    page = await admin_get(request)
    if isinstance(page, Response):
        return page
    return await answer(page, handle)


FormHandler = Callable[[AdminPage, Any], Awaitable[Response]]


async def post_page(request: Request, handle: FormHandler) -> Response:
    posted = await admin_post(request)
    if isinstance(posted, Response):
        return posted
    page, form = posted
    return await answer(page, lambda p: handle(p, form))


def field(form: Any, name: str, limit: int = 500) -> str:
    return form_text(form.get(name), limit).strip()


def parse_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 12 else None
