"""A TL admin's order delivery: the address new orders are mailed to, and the contact details
its customers see (phone, e-mail, website, opening hours), on the same service function and
rules as ``serviceguide tl update`` (services.organisations.update_tl).

URLs: ``GET /staff/admin/delivery`` the form; ``POST`` save it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import InvalidInput
from serviceguide.services import organisations
from serviceguide.web.admin.page import AdminPage, field, get_page, post_page

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

FIELDS = ("order_email", "phone", "contact_email", "website", "opening_hours")


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    org = await organisations.own_tl(page.ctx, page.actor)
    page.get_path = "/staff/admin/delivery"
    shown = values or {k: getattr(org, k) or "" for k in FIELDS}
    return page.render(
        "admin/delivery.html",
        status=status,
        section="delivery",
        org=org,
        values=shown,
        notice=notice,
        field_errors=field_errors or {},
    )


@router.get("/delivery", response_class=HTMLResponse)
async def delivery_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        done = request.query_params.get("done") == "saved"
        return await _render(page, notice=page.t("delivery.done") if done else None)

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
