"""The staff users of the admin's own organisation: create one (the password is shown once),
give one a new password (its sessions end), change a role, disable and enable. The last active
admin cannot lose the role or be disabled (services.accounts says why).

URLs::

    GET  /staff/admin/                      the first section of the user's administration
    GET  /staff/admin/users                 the list and the form for a new user
    POST /staff/admin/users                 create (username, name, role)
    POST /staff/admin/users/{id}/reset      a new password, shown once
    POST /staff/admin/users/{id}/role       change role (role)
    POST /staff/admin/users/{id}/disable    disable;  …/enable: enable
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.model import OrgKind
from serviceguide.domain.roles import Role
from serviceguide.services import accounts
from serviceguide.web.admin.page import (
    SECTIONS,
    AdminPage,
    field,
    get_page,
    parse_id,
    post_page,
)

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

NOTICES = {
    "role": "users.role.done",
    "disabled": "users.disabled.done",
    "enabled": "users.enabled.done",
}


@router.get("/", response_class=HTMLResponse)
async def admin_home(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        accounts.require_any_admin(page.actor)
        kind = page.actor.org_kind or OrgKind.PLATFORM
        return page.redirect(f"/staff/admin/{SECTIONS[kind][0][0]}")

    return await get_page(request, handle)


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    created: Any = None,
    reset: Any = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    row_errors: dict[int, str] | None = None,
) -> Response:
    users = await accounts.list_staff(page.ctx, page.actor)
    page.get_path = "/staff/admin/users"
    platform = page.actor.is_platform
    return page.render(
        "admin/users.html",
        status=status,
        section="users",
        users=users,
        roles=[Role.ADMIN] if platform else [Role.HANDLER, Role.ADMIN],
        notice=notice,
        created=created,
        reset=reset,
        field_errors=field_errors or {},
        values=values or {"username": "", "name": "", "role": "handler"},
        row_errors=row_errors or {},
    )


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        key = NOTICES.get(request.query_params.get("done", ""))
        return await _render(page, notice=page.t(key) if key else None)

    return await get_page(request, handle)


@router.post("/users", response_class=HTMLResponse)
async def create_user(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        values = {
            "username": field(form, "username", 200),
            "name": field(form, "name", 400),
            "role": field(form, "role", 20) or Role.HANDLER.value,
        }
        caller = page.actor
        try:
            org = await accounts.own_organisation(page.ctx, caller)
            created = await accounts.create_staff_user(
                page.ctx, caller, org, values["username"], values["name"], values["role"]
            )
        except InvalidInput as e:
            return await _render(
                page, status=400, field_errors={e.field: page.error_text(e)}, values=values
            )
        return await _render(page, created=created)

    return await post_page(request, handle)


def _user_post(action: str) -> Any:
    async def route(request: Request, raw_id: str) -> Response:
        async def handle(page: AdminPage, form: Any) -> Response:
            user_id = parse_id(raw_id)
            if user_id is None:
                return page.not_found()
            ctx, actor = page.ctx, page.actor
            try:
                if action == "reset":
                    reset = await accounts.reset_staff_password(ctx, actor, user_id=user_id)
                    return await _render(page, reset=reset)
                if action == "role":
                    role = field(form, "role", 20)
                    await accounts.set_staff_role(ctx, actor, role, user_id=user_id)
                    return page.redirect("/staff/admin/users?done=role")
                active = action == "enable"
                await accounts.set_staff_active(ctx, actor, active, user_id=user_id)
            except InvalidInput as e:
                return await _render(page, status=409, row_errors={user_id: page.error_text(e)})
            return page.redirect(f"/staff/admin/users?done={action}d")

        return await post_page(request, handle)

    return route


for _action in ("reset", "role", "disable", "enable"):
    router.add_api_route(
        f"/users/{{raw_id}}/{_action}",
        _user_post(_action),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"admin_user_{_action}",
    )
