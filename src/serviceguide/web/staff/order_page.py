"""One order's page (the link in the order e-mail) and what staff do on it: change its status
(only to the statuses allowed next), add a message to its log, set or clear the follow-up flag,
and show the full personnummer (which is written to the log). Another organisation's order is a
404 exactly like a missing one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import NotFound, TransitionNotAllowed
from serviceguide.domain.ordering import MESSAGE_MAX, has_control_chars
from serviceguide.domain.personnummer import masked
from serviceguide.domain.status import (
    NEEDS_CONFIRMATION,
    MessageType,
    OrderStatus,
    next_statuses,
)
from serviceguide.services import orders as order_service
from serviceguide.services import staff as service
from serviceguide.web.guide.page import app_ctx, form_text
from serviceguide.web.staff.page import (
    StaffPage,
    client_ip,
    parse_order_id,
    posted_form,
    signed_in,
)

router = APIRouter(prefix="/staff", include_in_schema=False)

MESSAGE_TYPES = [MessageType.LOG, MessageType.ALERT, MessageType.ERROR]
STAFF_MESSAGE_MAX = max(MESSAGE_MAX, 2000)

#: The confirmation shown after a change, and the section of the page it is shown in: where
#: the user is (the redirect's fragment, ``#notice``, is inside that section).
NOTICES = {
    "status": ("order.change.done", "status"),
    "same": ("order.change.same", "status"),
    "message": ("order.add.done", "log"),
    "flag-on": ("order.flag.done.on", "flag"),
    "flag-off": ("order.flag.done.off", "flag"),
}
REASON_MAX = 500


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
    notice_at: str = "",
    confirm: OrderStatus | None = None,
    reason_error: str = "",
    reason_text: str = "",
) -> HTMLResponse:
    assert page.session is not None
    try:
        data = await service.order_page(
            app_ctx(page.request), page.session.caller, order_id, client_ip(page.request)
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
        notice_at=notice_at,
        confirm=confirm
        if confirm is not None and (current, confirm) in NEEDS_CONFIRMATION
        else None,
        reason_error=reason_error,
        reason_text=reason_text,
        reason_max=REASON_MAX,
    )


@router.get("/orders/{raw_id}", response_class=HTMLResponse)
async def order_page(request: Request, raw_id: str) -> Response:
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    order_id = parse_order_id(raw_id)
    if order_id is None:
        return page.not_found()
    found = NOTICES.get(request.query_params.get("done", ""))
    raw_confirm = request.query_params.get("confirm", "")
    confirm = OrderStatus(raw_confirm) if raw_confirm in {s.value for s in OrderStatus} else None
    return await _render_order(
        page,
        order_id,
        notice=page.t(found[0]) if found else None,
        notice_at=found[1] if found else "",
        confirm=confirm,
    )


PostHandler = Callable[[StaffPage, Any, int], Awaitable[Response]]


async def _order_post(request: Request, raw_id: str, handle: PostHandler) -> Response:
    posted = await posted_form(request)
    if isinstance(posted, Response):
        return posted
    page, form = posted
    order_id = parse_order_id(raw_id)
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
        raw = form_text(form.get("status"), 20)
        caller = page.session.caller
        ctx = app_ctx(request)
        confirmed = form_text(form.get("confirmed"), 3) == "1"
        reason = form_text(form.get("reason")).strip()
        try:
            new = OrderStatus(raw)
            current = (await order_service.order_info(ctx, caller, order_id)).summary.status
            if (current, new) in NEEDS_CONFIRMATION:
                if not confirmed:  # straight from new to the end: asked first
                    return page.redirect(f"/staff/orders/{order_id}?confirm={new.value}#confirm")
                problem = _reason_problem(page, new, reason)
                if problem:
                    return await _render_order(
                        page,
                        order_id,
                        status=400,
                        confirm=new,
                        reason_error=problem,
                        reason_text=reason,
                    )
            changed = await order_service.set_status(
                ctx, caller, order_id, new, reason=reason if new == OrderStatus.CANCELLED else ""
            )
        except (ValueError, TransitionNotAllowed):
            current = (await order_service.order_info(ctx, caller, order_id)).summary.status
            text = page.t(
                "order.change.refused",
                current=_status_name(page, current.value),
                new=_status_name(page, raw),
            )
            return await _render_order(page, order_id, status=409, change_error=text)
        done = "status" if changed else "same"
        return page.redirect(f"/staff/orders/{order_id}?done={done}#notice")

    return await _order_post(request, raw_id, handle)


def _reason_problem(page: StaffPage, new: OrderStatus, reason: str) -> str:
    """What is wrong with the reason given for ending a new order ("" for nothing)."""
    if new != OrderStatus.CANCELLED:
        return ""
    if not reason:
        return page.t("order.confirm.reason.missing")
    if len(reason) > REASON_MAX:
        return page.t("order.add.long", n=REASON_MAX)
    if has_control_chars(reason):
        return page.t("order.add.control")
    return ""


@router.post("/orders/{raw_id}/message", response_class=HTMLResponse)
async def add_message(request: Request, raw_id: str) -> Response:
    async def handle(page: StaffPage, form: Any, order_id: int) -> Response:
        assert page.session is not None
        text = form_text(form.get("message")).strip()
        raw_type = form_text(form.get("type"), 20)
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
            await order_service.order_info(app_ctx(request), page.session.caller, order_id)
            return await _render_order(
                page,
                order_id,
                status=400,
                message_error=error,
                message_text=text,
                message_type=mtype.value,
            )
        await order_service.add_message(
            app_ctx(request), page.session.caller, order_id, text, mtype
        )
        return page.redirect(f"/staff/orders/{order_id}?done=message#notice")

    return await _order_post(request, raw_id, handle)


@router.post("/orders/{raw_id}/flag", response_class=HTMLResponse)
async def flag(request: Request, raw_id: str) -> Response:
    async def handle(page: StaffPage, form: Any, order_id: int) -> Response:
        assert page.session is not None
        on = form_text(form.get("flag"), 3) == "on"
        await service.set_flag(app_ctx(request), page.session.caller, order_id, on)
        return page.redirect(f"/staff/orders/{order_id}?done=flag-{'on' if on else 'off'}#notice")

    return await _order_post(request, raw_id, handle)


@router.post("/orders/{raw_id}/reveal", response_class=HTMLResponse)
async def reveal(request: Request, raw_id: str) -> Response:
    async def handle(page: StaffPage, form: Any, order_id: int) -> Response:
        assert page.session is not None
        serial = await service.reveal_serial(
            app_ctx(request), page.session.caller, order_id, client_ip(request)
        )
        return await _render_order(page, order_id, serial=serial)

    return await _order_post(request, raw_id, handle)
