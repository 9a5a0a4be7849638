"""A TL admin's services, per network that admits the TL: create one, change one (the same
fields: ``coid``, ``uid``, ``name``, ``price_monthly``, ``price_once``, and ``description``,
``category``, ``direct_activation``), retire one. What is saved is what the guide offers at once.

URLs::

    GET  /staff/admin/services                 the services and the form for a new one
    POST /staff/admin/services                 create
    POST /staff/admin/services/{id}            change
    POST /staff/admin/services/{id}/retire     retire (the guide no longer offers it)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.catalogue import ServiceCategory
from serviceguide.domain.errors import InvalidInput
from serviceguide.services import offering
from serviceguide.web.admin.page import AdminPage, field, get_page, parse_id, post_page

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

FIELDS = ("coid", "uid", "name", "price_monthly", "price_once", "description", "category")
NOTICES = {"saved": "services.saved", "retired": "services.retired.done"}


def _values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: field(form, k, 600) for k in FIELDS}
    values["direct_activation"] = field(form, "direct_activation", 5) in ("on", "1", "true")
    return values


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    editing: int | None = None,
) -> Response:
    view = await offering.view(page.ctx, page.actor)
    page.get_path = "/staff/admin/services"
    new = values if editing is None and values else {}
    return page.render(
        "admin/services.html",
        status=status,
        section="services",
        view=view,
        categories=list(ServiceCategory),
        notice=notice,
        field_errors=field_errors or {},
        new=new,
        edit_values=values if editing is not None else {},
        editing=editing,
    )


@router.get("/services", response_class=HTMLResponse)
async def services_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        key = NOTICES.get(request.query_params.get("done", ""))
        return await _render(page, notice=page.t(key) if key else None)

    return await get_page(request, handle)


@router.post("/services", response_class=HTMLResponse)
async def create_service(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        values = _values(form)
        try:
            await offering.create(page.ctx, page.actor, **values)
        except InvalidInput as e:
            errors = {f"new-{e.field}": page.error_text(e)}
            return await _render(page, status=400, field_errors=errors, values=values)
        return await _render(page, notice=page.t("services.created"))

    return await post_page(request, handle)


@router.post("/services/{raw_id}", response_class=HTMLResponse)
async def update_service(request: Request, raw_id: str) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        service_id = parse_id(raw_id)
        if service_id is None:
            return page.not_found()
        values = _values(form)
        try:
            await offering.update(page.ctx, page.actor, service_id, **values)
        except InvalidInput as e:
            errors = {f"s{service_id}-{e.field}": page.error_text(e)}
            return await _render(
                page, status=400, field_errors=errors, values=values, editing=service_id
            )
        return page.redirect(f"/staff/admin/services?done=saved#service-{service_id}")

    return await post_page(request, handle)


@router.post("/services/{raw_id}/retire", response_class=HTMLResponse)
async def retire_service(request: Request, raw_id: str) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        service_id = parse_id(raw_id)
        if service_id is None:
            return page.not_found()
        await offering.retire(page.ctx, page.actor, service_id)
        return page.redirect("/staff/admin/services?done=retired")

    return await post_page(request, handle)
