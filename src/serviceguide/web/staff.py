"""The staff pages: manual handling of orders for service providers (TL) and network owners (KO).

URLs (all under ``/staff``; every page but the login needs a session)::

    GET  /staff/                       overview: counts, 30-day chart, oldest open, flags, failures
    GET  /staff/login?next=/staff/…    the login form;  POST: log in, redirect to ``next``
    POST /staff/logout
    GET  /staff/password               change one's own password;  POST: change it
    GET  /staff/orders                 the filtered list, newest first, ``?before=ID`` pages
    GET  /staff/orders.csv             the same filter as CSV (UTF-8 with BOM, ``;``-separated)
    GET  /staff/orders/{id}            the order page (the link in the order e-mail)
    POST /staff/orders/{id}/status     change status (only allowed next statuses)
    POST /staff/orders/{id}/message    add a message to the log
    POST /staff/orders/{id}/flag       set or clear the organisation's follow-up flag
    POST /staff/orders/{id}/reveal     show the full personnummer (written to the log)

Another organisation's order is a 404 exactly like a missing one, on every URL. Every form
carries the guide's double-submit CSRF token; a POST without a valid one is refused (403) before
anything else is looked at. The session cookie holds a random token signed with the secret key;
the server keeps only its SHA-256.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from itsdangerous import BadSignature, Signer

from serviceguide.domain.clock import STOCKHOLM
from serviceguide.domain.errors import (
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    Throttled,
    TransitionNotAllowed,
)
from serviceguide.domain.listing import OrderFilter, OrderRow
from serviceguide.domain.ordering import MESSAGE_MAX, has_control_chars, is_digits
from serviceguide.domain.personnummer import masked
from serviceguide.domain.status import MessageType, OrderStatus, next_statuses
from serviceguide.services import orders as order_service
from serviceguide.services import staff as service
from serviceguide.services.context import AppContext
from serviceguide.services.staff import PASSWORD_MAX, PASSWORD_MIN, StaffSession
from serviceguide.web import secure_cookies, staff_i18n
from serviceguide.web.guide.page import FIELD_MAX, SECURITY_HEADERS, Page, web_secret

router = APIRouter(prefix="/staff", include_in_schema=False)

SESSION_COOKIE = "sg_staff"
MESSAGE_TYPES = [MessageType.LOG, MessageType.ALERT, MessageType.ERROR]
STAFF_MESSAGE_MAX = max(MESSAGE_MAX, 2000)
DATE_FORMAT = "%Y-%m-%d %H:%M"
#: The longest page to return to after logging in: a link that long is no staff page's, and
#: the login's redirect to a longer one would be a header that proxies refuse.
NEXT_MAX = 2000


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _signer(request: Request) -> Signer:
    return Signer(web_secret(request), salt="serviceguide.web.staff-session")


def _text(value: object, limit: int = FIELD_MAX) -> str:
    return value[:limit] if isinstance(value, str) else ""


def local_time(at: datetime | None) -> str:
    return at.astimezone(STOCKHOLM).strftime(DATE_FORMAT) if at else ""


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
        values.setdefault("nav", "")
        values.setdefault("field_errors", {})
        return super().render(
            template,
            status=status,
            staff=self.session,
            local_time=local_time,
            masked=masked,
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


async def _session(request: Request) -> StaffSession | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 200:
        return None
    try:
        token = _signer(request).unsign(raw).decode()
    except BadSignature:
        return None
    return await service.session(_ctx(request), token)


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


async def _signed_in(request: Request) -> StaffPage | Response:
    """The page for a signed-in user, or a redirect to the login page."""
    session = await _session(request)
    page = StaffPage(request, session)
    if session is None:
        return _to_login(page, expired=SESSION_COOKIE in request.cookies)
    return page


async def _posted(request: Request) -> tuple[StaffPage, Any] | Response:
    """A POSTed form of a signed-in user: 403 without a valid CSRF token (checked first)."""
    form = await request.form()
    if not StaffPage(request).guard.valid(request, form):
        return StaffPage(request, await _session(request)).forbidden()
    page = await _signed_in(request)
    if isinstance(page, Response):
        return page
    return page, form


def _order_id(raw: str) -> int | None:
    return int(raw) if is_digits(raw) and len(raw) < 19 else None


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# --- login, logout, password --------------------------------------------------------------------


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
    username = _text(form.get("username"), 100).strip()
    password = _text(form.get("password"), PASSWORD_MAX)
    target = safe_next(_text(form.get("next"), NEXT_MAX + 1))
    if has_control_chars(username):  # no one's (and PostgreSQL cannot even look up a NUL)
        return _render_login(page, status=401, username=username, error=page.t("login.failed"))
    try:
        token = await service.login(_ctx(request), username, password, _client_ip(request))
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
        _signer(request).sign(token).decode(),
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
            await service.logout(_ctx(request), _signer(request).unsign(raw).decode())
    response = page.redirect("/staff/login?out=1")
    response.delete_cookie(SESSION_COOKIE, path="/staff")
    return response


@router.get("/password", response_class=HTMLResponse)
async def password_form(request: Request) -> Response:
    page = await _signed_in(request)
    if isinstance(page, Response):
        return page
    return page.render("staff_password.html", nav="password", pw_min=PASSWORD_MIN)


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    page, form = posted
    assert page.session is not None
    current = _text(form.get("current"), PASSWORD_MAX + 1)
    new = _text(form.get("new"), PASSWORD_MAX + 1)
    errors: dict[str, str] = {}
    if new != _text(form.get("repeat"), PASSWORD_MAX + 1):
        errors["repeat"] = page.t("password.err.repeat")
    if not errors:
        try:
            await service.change_password(_ctx(request), page.session, current, new)
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


# --- the order list and CSV ---------------------------------------------------------------------


def _parse_day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filter(request: Request) -> tuple[OrderFilter, dict[str, str], dict[str, str]]:
    """The filter from the query, the values to show in the form, and errors in it."""
    q = request.query_params
    shown = {
        k: _text(q.get(k), 200).replace("\x00", "").strip()  # NUL: no text holds one
        for k in ("status", "network", "service", "from", "to", "q", "flagged")
    }
    errors: dict[str, str] = {}
    status = shown["status"] if shown["status"] in {s.value for s in OrderStatus} else ""
    shown["status"] = status
    service_id = int(shown["service"]) if is_digits(shown["service"]) else None
    day_from, day_to = _parse_day(shown["from"]), _parse_day(shown["to"])
    for key, parsed in (("from", day_from), ("to", day_to)):
        if shown[key] and parsed is None:
            errors[key] = "bad_date"
    # Up to and including the last day there is: no end (the day after it cannot be reckoned).
    start, end = service.day_range(day_from, day_to if day_to != date.max else None)
    f = OrderFilter(
        status=OrderStatus(status) if status else None,
        coid=shown["network"] or None,
        service_id=service_id if service_id is not None and service_id < 2**31 else None,
        created_from=start,
        created_before=end,
        flagged=shown["flagged"] == "1",
        text=shown["q"],
    )
    return f, shown, errors


def _filter_query(shown: dict[str, str], **extra: str) -> str:
    params = [(k, v) for k, v in shown.items() if v]
    params += [(k, v) for k, v in extra.items() if v]
    return urlencode(params)


@router.get("/orders", response_class=HTMLResponse)
async def order_list(request: Request) -> Response:
    page = await _signed_in(request)
    if isinstance(page, Response):
        return page
    assert page.session is not None
    caller = page.session.caller
    f, shown, errors = _filter(request)
    raw_before = request.query_params.get("before", "")
    before = _order_id(raw_before)
    ctx = _ctx(request)
    rows, next_before = await service.list_orders(
        ctx, caller, f, before=before, client=_client_ip(request)
    )
    svc, nets = await service.filter_choices(ctx, caller)
    return page.render(
        "staff_orders.html",
        nav="orders",
        rows=rows,
        shown=shown,
        filter_errors=errors,
        services=svc,
        networks=nets,
        statuses=list(OrderStatus),
        next_url=(
            f"/staff/orders?{_filter_query(shown, before=str(next_before))}"
            if next_before
            else None
        ),
        first_url=f"/staff/orders?{_filter_query(shown)}" if before else None,
        csv_url=f"/staff/orders.csv?{_filter_query(shown)}",
    )


CSV_COLUMNS = [
    "col.id",
    "col.created",
    "col.status",
    "col.service",
    "col.provider",
    "col.network",
    "col.access",
    "col.address",
    "col.customer",
    "col.delivery",
    "col.flag",
]


def _csv_cell(value: str) -> str:
    """Text that a spreadsheet would take for a formula is prefixed with an apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv(page: StaffPage, rows: list[OrderRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([page.t(c) for c in CSV_COLUMNS])
    for r in rows:
        writer.writerow(
            [
                str(r.id),
                local_time(r.created_at),
                r.status.value,
                _csv_cell(r.service_name),
                _csv_cell(r.xsp_name),
                r.coid,
                _csv_cell(r.access_id),
                _csv_cell(r.address),
                _csv_cell(r.customer_name),
                r.delivery.isoformat() if r.delivery else "",
                "1" if r.flagged else "",
            ]
        )
    return "\ufeff" + out.getvalue()


@router.get("/orders.csv")
async def order_csv(request: Request) -> Response:
    page = await _signed_in(request)
    if isinstance(page, Response):
        return page
    assert page.session is not None
    f, _shown, _errors = _filter(request)
    rows = await service.export_orders(_ctx(request), page.session.caller, f, _client_ip(request))
    response = Response(
        _csv(page, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
    )
    response.headers.update(SECURITY_HEADERS)
    return response


# --- the order page -----------------------------------------------------------------------------

NOTICES = {
    "status": "order.change.done",
    "same": "order.change.same",
    "message": "order.add.done",
    "flag-on": "order.flag.done.on",
    "flag-off": "order.flag.done.off",
}


async def _render_order(
    page: StaffPage,
    order_id: int,
    *,
    status: int = 200,
    serial: str | None = None,
    notice: str | None = None,
    change_error: str = "",
    message_error: str = "",
    message_text: str = "",
    message_type: str = MessageType.LOG.value,
) -> HTMLResponse:
    assert page.session is not None
    try:
        data = await service.order_page(
            _ctx(page.request), page.session.caller, order_id, _client_ip(page.request)
        )
    except NotFound:
        return page.not_found()
    page.get_path = f"/staff/orders/{order_id}"
    current = data.order.summary.status
    return page.render(
        "staff_order.html",
        status=status,
        nav="orders",
        data=data,
        o=data.order,
        x=data.extras,
        serial_shown=f"{serial[:8]}-{serial[8:]}" if serial else masked(data.extras.serial),
        revealed=serial is not None,
        next_statuses=next_statuses(current),
        message_types=MESSAGE_TYPES,
        message_max=STAFF_MESSAGE_MAX,
        notice=notice,
        change_error=change_error,
        message_error=message_error,
        message_text=message_text,
        message_type=message_type,
    )


@router.get("/orders/{raw_id}", response_class=HTMLResponse)
async def order_page(request: Request, raw_id: str) -> Response:
    page = await _signed_in(request)
    if isinstance(page, Response):
        return page
    order_id = _order_id(raw_id)
    if order_id is None:
        return page.not_found()
    key = NOTICES.get(request.query_params.get("done", ""))
    return await _render_order(page, order_id, notice=page.t(key) if key else None)


PostHandler = Callable[[StaffPage, Any, int], Awaitable[Response]]


async def _order_post(request: Request, raw_id: str, handle: PostHandler) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    page, form = posted
    order_id = _order_id(raw_id)
    if order_id is None:
        return page.not_found()
    try:
        return await handle(page, form, order_id)
    except NotFound:
        return page.not_found()


def _status_name(page: StaffPage, value: str) -> str:
    return page.t(f"status.{value}") if value in {s.value for s in OrderStatus} else value


@router.post("/orders/{raw_id}/status", response_class=HTMLResponse)
async def change_status(request: Request, raw_id: str) -> Response:
    async def handle(page: StaffPage, form: Any, order_id: int) -> Response:
        assert page.session is not None
        raw = _text(form.get("status"), 20)
        caller = page.session.caller
        try:
            new = OrderStatus(raw)
            changed = await order_service.set_status(_ctx(request), caller, order_id, new)
        except (ValueError, TransitionNotAllowed):
            current = (await order_service.order_info(_ctx(request), caller, order_id)).summary
            text = page.t(
                "order.change.refused",
                current=_status_name(page, current.status.value),
                new=_status_name(page, raw),
            )
            return await _render_order(page, order_id, status=409, change_error=text)
        done = "status" if changed else "same"
        return page.redirect(f"/staff/orders/{order_id}?done={done}#status")

    return await _order_post(request, raw_id, handle)


@router.post("/orders/{raw_id}/message", response_class=HTMLResponse)
async def add_message(request: Request, raw_id: str) -> Response:
    async def handle(page: StaffPage, form: Any, order_id: int) -> Response:
        assert page.session is not None
        text = _text(form.get("message")).strip()
        raw_type = _text(form.get("type"), 20)
        mtype = MessageType(raw_type) if raw_type in MESSAGE_TYPES else MessageType.LOG
        error = ""
        if not text:
            error = page.t("order.add.empty")
        elif len(text) > STAFF_MESSAGE_MAX:
            error = page.t("order.add.long", n=STAFF_MESSAGE_MAX)
        elif has_control_chars(text):  # as the XSP API refuses them (PostgreSQL stores no NUL)
            error = page.t("order.add.control")
        if error:
            # Checked to exist (404 otherwise) before saying anything about the message.
            await order_service.order_info(_ctx(request), page.session.caller, order_id)
            return await _render_order(
                page,
                order_id,
                status=400,
                message_error=error,
                message_text=text,
                message_type=mtype.value,
            )
        await order_service.add_message(_ctx(request), page.session.caller, order_id, text, mtype)
        return page.redirect(f"/staff/orders/{order_id}?done=message#log")

    return await _order_post(request, raw_id, handle)


@router.post("/orders/{raw_id}/flag", response_class=HTMLResponse)
async def flag(request: Request, raw_id: str) -> Response:
    async def handle(page: StaffPage, form: Any, order_id: int) -> Response:
        assert page.session is not None
        on = _text(form.get("flag"), 3) == "on"
        await service.set_flag(_ctx(request), page.session.caller, order_id, on)
        return page.redirect(f"/staff/orders/{order_id}?done=flag-{'on' if on else 'off'}#flag")

    return await _order_post(request, raw_id, handle)


@router.post("/orders/{raw_id}/reveal", response_class=HTMLResponse)
async def reveal(request: Request, raw_id: str) -> Response:
    async def handle(page: StaffPage, form: Any, order_id: int) -> Response:
        assert page.session is not None
        serial = await service.reveal_serial(
            _ctx(request), page.session.caller, order_id, _client_ip(request)
        )
        return await _render_order(page, order_id, serial=serial)

    return await _order_post(request, raw_id, handle)


# --- the overview -------------------------------------------------------------------------------

CHART_W, CHART_H, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 640, 220, 16, 28, 36


def chart(per_day: list[tuple[date, int]]) -> dict[str, Any]:
    """Bar geometry for the server-rendered SVG (no JavaScript, no external library)."""
    top = max((n for _, n in per_day), default=0)
    scale_max = max(top, 1)
    plot_h = CHART_H - CHART_TOP - CHART_BOTTOM
    step = (CHART_W - CHART_LEFT) / max(len(per_day), 1)
    bars = []
    for i, (day, n) in enumerate(per_day):
        h = round(plot_h * n / scale_max, 1)
        bars.append(
            {
                "x": round(CHART_LEFT + i * step + step * 0.15, 1),
                "y": round(CHART_TOP + plot_h - h, 1),
                "w": round(step * 0.7, 1),
                "h": h,
                "day": day,
                "n": n,
                "label": i % 5 == 0 or i == len(per_day) - 1,
                "cx": round(CHART_LEFT + i * step + step / 2, 1),
            }
        )
    return {
        "w": CHART_W,
        "h": CHART_H,
        "left": CHART_LEFT,
        "base": CHART_TOP + plot_h,
        "top_y": CHART_TOP,
        "max": top,
        "total": sum(n for _, n in per_day),
        "bars": bars,
    }


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    page = await _signed_in(request)
    if isinstance(page, Response):
        return page
    assert page.session is not None
    data = await service.overview(_ctx(request), page.session.caller, client=_client_ip(request))
    return page.render(
        "staff_overview.html",
        nav="overview",
        data=data,
        chart=chart(data.per_day),
        statuses=list(OrderStatus),
    )
