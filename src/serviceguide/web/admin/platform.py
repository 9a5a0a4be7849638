"""The platform's page: every organisation with its counts of staff users, admins, API users and
webhooks; create a KO (coId, name) or a TL (xsp, name, order e-mail) with its first admin, whose
password is shown once; disable and enable an organisation; look at one organisation's settings
(never its orders or customers).

URLs::

    GET  /staff/admin/platform                    the organisations and the two forms
    POST /staff/admin/platform/ko                 create a KO with its first admin
    POST /staff/admin/platform/tl                 create a TL with its first admin
    GET  /staff/admin/platform/orgs/{id}          one organisation's settings
    POST /staff/admin/platform/orgs/{id}/disable  disable;  …/enable: enable
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import InvalidInput
from serviceguide.services import platform
from serviceguide.web.admin.page import AdminPage, field, get_page, parse_id, post_page

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

NOTICES = {"disabled": "platform.disabled.done", "enabled": "platform.enabled.done"}
KO_FIELDS = ("coid", "name", "username", "admin_name")
TL_FIELDS = ("xsp", "name", "order_email", "username", "admin_name")


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    created: Any = None,
    form: str = "",
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    orgs = await platform.organisations(page.ctx, page.actor)
    page.get_path = "/staff/admin/platform"
    empty_ko = {k: "" for k in KO_FIELDS}
    empty_tl = {k: "" for k in TL_FIELDS}
    return page.render(
        "admin/platform.html",
        status=status,
        section="platform",
        orgs=orgs,
        notice=notice,
        created=created,
        field_errors=field_errors or {},
        ko=values if form == "ko" and values else empty_ko,
        tl=values if form == "tl" and values else empty_tl,
    )


@router.get("/platform", response_class=HTMLResponse)
async def platform_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        key = NOTICES.get(request.query_params.get("done", ""))
        return await _render(page, notice=page.t(key) if key else None)

    return await get_page(request, handle)


def _create(kind: str) -> Any:
    names = KO_FIELDS if kind == "ko" else TL_FIELDS

    async def route(request: Request) -> Response:
        async def handle(page: AdminPage, form: Any) -> Response:
            values = {k: field(form, k, 400) for k in names}
            try:
                if kind == "ko":
                    created = await platform.create_ko(
                        page.ctx, page.actor, values["coid"], values["name"],
                        values["username"], values["admin_name"],
                    )  # fmt: skip
                else:
                    created = await platform.create_tl(
                        page.ctx, page.actor, values["xsp"], values["name"],
                        values["order_email"], values["username"], values["admin_name"],
                    )  # fmt: skip
            except InvalidInput as e:
                errors = {f"{kind}-{e.field}": page.error_text(e)}
                return await _render(
                    page, status=400, form=kind, field_errors=errors, values=values
                )
            notice = page.t("platform.created", name=values["name"], username=created.ident)
            return await _render(page, created=created, notice=notice)

        return await post_page(request, handle)

    return route


for _kind in ("ko", "tl"):
    router.add_api_route(
        f"/platform/{_kind}",
        _create(_kind),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"admin_platform_create_{_kind}",
    )


@router.get("/platform/orgs/{raw_id}", response_class=HTMLResponse)
async def org_page(request: Request, raw_id: str) -> Response:
    async def handle(page: AdminPage) -> Response:
        org_id = parse_id(raw_id)
        if org_id is None:
            return page.not_found()
        settings = await platform.org_settings(page.ctx, page.actor, org_id)
        return page.render("admin/platform_org.html", section="platform", s=settings)

    return await get_page(request, handle)


def _org_post(action: str) -> Any:
    async def route(request: Request, raw_id: str) -> Response:
        async def handle(page: AdminPage, form: Any) -> Response:
            org_id = parse_id(raw_id)
            if org_id is None:
                return page.not_found()
            await platform.set_org_active(page.ctx, page.actor, org_id, action == "enable")
            return page.redirect(f"/staff/admin/platform?done={action}d")

        return await post_page(request, handle)

    return route


for _action in ("disable", "enable"):
    router.add_api_route(
        f"/platform/orgs/{{raw_id}}/{_action}",
        _org_post(_action),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"admin_platform_org_{_action}",
    )
