"""Logging in and out, and changing one's own password. The login page is the only staff page
open without a session; after logging in, the user is sent back to the staff page asked for
(``safe_next``: never another site's)."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from itsdangerous import BadSignature

from serviceguide.domain.errors import AuthenticationFailed, InvalidInput, Throttled
from serviceguide.domain.ordering import has_control_chars
from serviceguide.services import staff as service
from serviceguide.services.staff import PASSWORD_MAX, PASSWORD_MIN
from serviceguide.web import secure_cookies
from serviceguide.web.guide.page import app_ctx, form_text
from serviceguide.web.staff.page import (
    NEXT_MAX,
    SESSION_COOKIE,
    StaffPage,
    client_ip,
    posted_form,
    session_signer,
    signed_in,
)

router = APIRouter(prefix="/staff", include_in_schema=False)


def safe_next(raw: str | None) -> str:
    """A local staff path; anything else (another host, ``//``, ``\\``) is the overview."""
    if (
        raw
        and len(raw) <= NEXT_MAX
        and raw.startswith("/staff")
        and not raw.startswith("//")
        and "\\" not in raw
        and all(ord(c) > 31 for c in raw)
    ):
        return raw
    return "/staff/"


@router.get("", include_in_schema=False)
async def staff_root(request: Request) -> Response:
    return StaffPage(request).redirect("/staff/")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    page = StaffPage(request)
    notice = None
    if request.query_params.get("expired"):
        notice = page.t("login.expired")
    elif request.query_params.get("out"):
        notice = page.t("logout.done")
    return _render_login(page, notice=notice)


def _render_login(
    page: StaffPage, *, status: int = 200, username: str = "", error: str = "", notice: Any = None
) -> HTMLResponse:
    return page.render(
        "staff_login.html",
        status=status,
        next=safe_next(page.request.query_params.get("next")),
        username=username,
        login_error=error,
        notice=notice,
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    page = StaffPage(request)
    form = await request.form()
    if not page.guard.valid(request, form):
        return page.forbidden()
    username = form_text(form.get("username"), 100).strip()
    password = form_text(form.get("password"), PASSWORD_MAX)
    target = safe_next(form_text(form.get("next"), NEXT_MAX + 1))
    if has_control_chars(username):  # no one's (and PostgreSQL cannot even look up a NUL)
        return _render_login(page, status=401, username=username, error=page.t("login.failed"))
    try:
        token = await service.login(app_ctx(request), username, password, client_ip(request))
    except Throttled as e:
        response = _render_login(
            page, status=429, username=username, error=page.t("login.throttled", n=e.retry_after)
        )
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    except AuthenticationFailed:
        return _render_login(page, status=401, username=username, error=page.t("login.failed"))
    redirect = page.redirect(target)
    redirect.set_cookie(
        SESSION_COOKIE,
        session_signer(request).sign(token).decode(),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/staff",
    )
    return redirect


@router.post("/logout")
async def logout(request: Request) -> Response:
    page = StaffPage(request)
    form = await request.form()
    if not page.guard.valid(request, form):
        return page.forbidden()
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        with contextlib.suppress(BadSignature):
            await service.logout(app_ctx(request), session_signer(request).unsign(raw).decode())
    response = page.redirect("/staff/login?out=1")
    response.delete_cookie(SESSION_COOKIE, path="/staff")
    return response


@router.get("/password", response_class=HTMLResponse)
async def password_form(request: Request) -> Response:
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    return page.render("staff_password.html", nav="password", pw_min=PASSWORD_MIN)


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request) -> Response:
    posted = await posted_form(request)
    if isinstance(posted, Response):
        return posted
    page, form = posted
    assert page.session is not None
    current = form_text(form.get("current"), PASSWORD_MAX + 1)
    new = form_text(form.get("new"), PASSWORD_MAX + 1)
    errors: dict[str, str] = {}
    if new != form_text(form.get("repeat"), PASSWORD_MAX + 1):
        errors["repeat"] = page.t("password.err.repeat")
    if not errors:
        try:
            await service.change_password(
                app_ctx(request), page.session, current, new, client_ip(request)
            )
        except Throttled as e:  # wrong current passwords count as failed logins
            response = page.render(
                "staff_password.html",
                status=429,
                nav="password",
                pw_min=PASSWORD_MIN,
                field_errors={"current": page.t("login.throttled", n=e.retry_after)},
            )
            response.headers["Retry-After"] = str(e.retry_after)
            return response
        except InvalidInput as e:
            errors[e.field] = (
                page.t("password.err.current")
                if e.field == "current"
                else page.t("password.err.length", min=PASSWORD_MIN, max=PASSWORD_MAX)
            )
    if errors:
        return page.render(
            "staff_password.html",
            status=400,
            nav="password",
            pw_min=PASSWORD_MIN,
            field_errors=errors,
        )
    return page.render(
        "staff_password.html", nav="password", pw_min=PASSWORD_MIN, notice=page.t("password.done")
    )
