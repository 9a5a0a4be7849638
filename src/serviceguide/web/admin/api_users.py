"""The API users of the admin's own organisation (KO or TL): create one — its number and key
are shown once, in ``data-field="api_user"`` and ``data-field="api_key"`` — set its IP
allow-list, give it a new key (shown once; the old key and its login hashes stop working),
disable and enable it, and see when it was last used.

URLs::

    GET  /staff/admin/api-users                the list and the form for a new API user
    POST /staff/admin/api-users                create (name, allow_ip)
    POST /staff/admin/api-users/{n}/allow-ip   replace the allow-list (allow_ip)
    POST /staff/admin/api-users/{n}/rotate     a new key, shown once
    POST /staff/admin/api-users/{n}/disable    disable;  …/enable: enable
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import InvalidInput
from serviceguide.services import accounts
from serviceguide.web.admin.page import AdminPage, field, get_page, parse_id, post_page

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

NOTICES = {
    "allow-ip": "api.allow.done",
    "disabled": "api.disabled.done",
    "enabled": "api.enabled.done",
}


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    created: Any = None,
    rotated: Any = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    row_errors: dict[int, tuple[str, str]] | None = None,
) -> Response:
    found = await accounts.list_api_users(page.ctx, page.actor)
    page.get_path = "/staff/admin/api-users"
    return page.render(
        "admin/api_users.html",
        status=status,
        section="api-users",
        api_users=found,
        notice=notice,
        created=created,
        rotated=rotated,
        field_errors=field_errors or {},
        values=values or {"name": "", "allow_ip": ""},
        row_errors=row_errors or {},
    )


@router.get("/api-users", response_class=HTMLResponse)
async def api_users_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        key = NOTICES.get(request.query_params.get("done", ""))
        return await _render(page, notice=page.t(key) if key else None)

    return await get_page(request, handle)


@router.post("/api-users", response_class=HTMLResponse)
async def create_api_user(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        values = {"name": field(form, "name", 400), "allow_ip": field(form, "allow_ip", 5000)}
        accounts.require_api_admin(page.actor)
        try:
            org = await accounts.own_organisation(page.ctx, page.actor)
            created = await accounts.create_api_user(
                page.ctx, page.actor, org, values["name"], values["allow_ip"] or None
            )
        except InvalidInput as e:
            return await _render(
                page, status=400, field_errors={e.field: page.error_text(e)}, values=values
            )
        return await _render(page, created=created)

    return await post_page(request, handle)


def _api_post(action: str) -> Any:
    async def route(request: Request, raw_id: str) -> Response:
        async def handle(page: AdminPage, form: Any) -> Response:
            number = parse_id(raw_id)
            if number is None:
                return page.not_found()
            ctx, actor = page.ctx, page.actor
            if action == "rotate":
                rotated = await accounts.rotate_api_key(ctx, actor, number)
                return await _render(page, rotated=rotated)
            if action == "allow-ip":
                raw = field(form, "allow_ip", 5000)
                try:
                    await accounts.set_allowlist(ctx, actor, number, raw or None)
                except InvalidInput as e:
                    return await _render(
                        page, status=400, row_errors={number: (raw, page.error_text(e))}
                    )
                return page.redirect("/staff/admin/api-users?done=allow-ip")
            await accounts.set_api_user_active(ctx, actor, number, action == "enable")
            return page.redirect(f"/staff/admin/api-users?done={action}d")

        return await post_page(request, handle)

    return route


for _action in ("allow-ip", "rotate", "disable", "enable"):
    router.add_api_route(
        f"/api-users/{{raw_id}}/{_action}",
        _api_post(_action),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"admin_api_user_{_action}",
    )
