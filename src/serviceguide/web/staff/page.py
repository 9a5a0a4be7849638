"""What every staff page needs: ``StaffPage`` (the guide's look and plumbing with the staff texts
and the signed-in user), the session behind the cookie, and the two ways in — ``signed_in`` for a
GET (or a redirect to the login page) and ``posted_form`` for a POST (403 without a valid CSRF
token, checked before anything else)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from itsdangerous import BadSignature, Signer

from serviceguide.domain.clock import STOCKHOLM
from serviceguide.domain.ordering import is_digits
from serviceguide.domain.personnummer import masked
from serviceguide.services import staff as service
from serviceguide.services.staff import StaffSession
from serviceguide.web import staff_i18n
from serviceguide.web.guide.page import Page, app_ctx, web_secret

SESSION_COOKIE = "sg_staff"
DATE_FORMAT = "%Y-%m-%d %H:%M"
#: The longest page to return to after logging in: a link that long is no staff page's, and
#: the login's redirect to a longer one would be a header that proxies refuse.
NEXT_MAX = 2000


def session_signer(request: Request) -> Signer:
    return Signer(web_secret(request), salt="serviceguide.web.staff-session")


def local_time(at: datetime | None) -> str:
    return at.astimezone(STOCKHOLM).strftime(DATE_FORMAT) if at else ""


class StaffPage(Page):
    """A staff page: the guide's look and plumbing, the staff texts, and the signed-in user."""

    def __init__(self, request: Request, session: StaffSession | None = None) -> None:
        super().__init__(request)
        self.t = staff_i18n.translator(self.lang)
        self.session = session
        # Where the language switch of a page made from a POST goes (a GET of the same thing).
        self.get_path = "/staff/"

    def switch_url(self) -> str:
        if self.request.method == "GET":
            return super().switch_url()
        return f"{self.get_path}?{urlencode([('lang', self.t('lang.other'))])}"

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("notice", None)
        values.setdefault("notice_at", "")  # a section of the page, or the top
        values.setdefault("nav", "")
        values.setdefault("field_errors", {})
        return super().render(
            template,
            status=status,
            staff=self.session,
            local_time=local_time,
            masked=masked,
            log_text=staff_i18n.log_text,
            **values,
        )

    def problem(self, status: int, title_key: str, text_key: str) -> HTMLResponse:
        return self.render(
            "staff_problem.html", status=status, title_key=title_key, text_key=text_key
        )

    def not_found(self) -> HTMLResponse:
        return self.problem(404, "staff.notfound.title", "staff.notfound.text")

    def forbidden(self) -> HTMLResponse:
        return self.problem(403, "staff.forbidden.title", "staff.forbidden.text")


async def current_session(request: Request) -> StaffSession | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 200:
        return None
    try:
        token = session_signer(request).unsign(raw).decode()
    except BadSignature:
        return None
    return await service.session(app_ctx(request), token)


def _to_login(page: StaffPage, *, expired: bool) -> Response:
    path = page.request.url.path
    query = page.request.url.query
    if page.request.method == "GET":
        target = f"{path}?{query}" if query else path
    else:
        # After logging in again, the page the form was on (a form's URL only takes POSTs).
        target = re.sub(r"^(/staff/orders/\d+)/\w+$", r"\1", path)
    if len(target) > NEXT_MAX:
        target = path if len(path) <= NEXT_MAX else "/staff/"
    params = {"next": target}
    if expired:
        params["expired"] = "1"
    return page.redirect(f"/staff/login?{urlencode(params)}")


async def signed_in(request: Request) -> StaffPage | Response:
    """The page for a signed-in user, or a redirect to the login page."""
    session = await current_session(request)
    page = StaffPage(request, session)
    if session is None:
        return _to_login(page, expired=SESSION_COOKIE in request.cookies)
    return page


async def posted_form(request: Request) -> tuple[StaffPage, Any] | Response:
    """A POSTed form of a signed-in user: 403 without a valid CSRF token (checked first)."""
    form = await request.form()
    if not StaffPage(request).guard.valid(request, form):
        return StaffPage(request, await current_session(request)).forbidden()
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    return page, form


def parse_order_id(raw: str) -> int | None:
    return int(raw) if is_digits(raw) and len(raw) < 19 else None


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
