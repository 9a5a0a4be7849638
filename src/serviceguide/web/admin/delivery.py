"""A TL admin's order delivery: the address new orders are mailed to, and the contact details
its customers see (phone, e-mail, website, opening hours), on the same service function and
rules as ``serviceguide tl update`` (services.organisations.update_tl); and the TL's ON-API
settings — where its orders are pushed, with which Basic credentials, and whether the e-mail
still goes — as ``serviceguide tl set-onapi`` sets them (services.sp_settings). The password
field is write-only: never filled in, and left empty it keeps the stored password.

URLs: ``GET /staff/admin/delivery`` the forms; ``POST`` save the first,
``POST /staff/admin/delivery/onapi`` the ON-API settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import InvalidInput
from serviceguide.services import organisations, sp_settings
from serviceguide.web.admin.page import AdminPage, field, get_page, post_page

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

FIELDS = ("order_email", "phone", "contact_email", "website", "opening_hours")
ONAPI_FIELDS = ("onapi_url", "onapi_username", "onapi_delivery")
#: The service's field names → the form's.
ONAPI_ERRORS = {
    "url": "onapi_url",
    "username": "onapi_username",
    "password": "onapi_password",
    "delivery": "onapi_delivery",
}


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    onapi_values: dict[str, str] | None = None,
) -> Response:
    org = await organisations.own_tl(page.ctx, page.actor)
    assert org.xsp is not None
    page.get_path = "/staff/admin/delivery"
    shown = values or {k: getattr(org, k) or "" for k in FIELDS}
    onapi = await sp_settings.onapi_settings(page.ctx, org.xsp, actor=page.actor)
    onapi_shown = onapi_values or {
        "onapi_url": onapi.url or "",
        "onapi_username": onapi.username or "",
        "onapi_delivery": onapi.delivery.value,
    }
    return page.render(
        "admin/delivery.html",
        status=status,
        section="delivery",
        org=org,
        values=shown,
        onapi=onapi,
        onapi_values=onapi_shown,
        notice=notice,
        field_errors=field_errors or {},
    )


@router.get("/delivery", response_class=HTMLResponse)
async def delivery_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        done = request.query_params.get("done")
        notice = {"saved": "delivery.done", "onapi": "delivery.onapi.done"}.get(done or "")
        return await _render(page, notice=page.t(notice) if notice else None)

    return await get_page(request, handle)


@router.post("/delivery", response_class=HTMLResponse)
async def save_delivery(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        values = {k: field(form, k, 600) for k in FIELDS}
        org = await organisations.own_tl(page.ctx, page.actor)
        assert org.xsp is not None
        try:
            await organisations.update_tl(
                page.ctx,
                org.xsp,
                order_email=values["order_email"],
                phone=values["phone"],
                contact_email=values["contact_email"],
                website=values["website"],
                opening_hours=values["opening_hours"],
                actor=page.actor,
            )
        except InvalidInput as e:
            key = "order_email" if e.field == "email" else e.field
            errors = {key: page.error_text(e)}
            return await _render(page, status=400, field_errors=errors, values=values)
        return page.redirect("/staff/admin/delivery?done=saved")

    return await post_page(request, handle)


@router.post("/delivery/onapi", response_class=HTMLResponse)
async def save_onapi(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        values = {k: field(form, k, 600) for k in ONAPI_FIELDS}
        password = field(form, "onapi_password", 600)
        org = await organisations.own_tl(page.ctx, page.actor)
        assert org.xsp is not None
        url = values["onapi_url"].strip()
        try:
            if not url:
                await sp_settings.set_onapi(page.ctx, org.xsp, None, actor=page.actor)
            else:
                await sp_settings.set_onapi(
                    page.ctx,
                    org.xsp,
                    url,
                    username=values["onapi_username"].strip(),
                    password=password or None,  # empty: keep the stored one
                    delivery=values["onapi_delivery"],
                    actor=page.actor,
                )
        except InvalidInput as e:
            errors = {ONAPI_ERRORS.get(e.field, "onapi_url"): page.error_text(e)}
            return await _render(page, status=400, field_errors=errors, onapi_values=values)
        return page.redirect("/staff/admin/delivery?done=onapi")

    return await post_page(request, handle)
