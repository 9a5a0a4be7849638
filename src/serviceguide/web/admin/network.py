"""A KO admin's network: its name and direct-activation URL, the "test the URL" button (one
``service_deliverable`` call, its answer shown), and the TLs admitted to sell in it (admit,
withdraw).

URLs::

    GET  /staff/admin/network            settings, the test form, the admitted TLs
    POST /staff/admin/network            save name and activation_url
    POST /staff/admin/network/test       test the URL (access_id, service_uid)
    POST /staff/admin/network/admit      admit a TL (xsp)
    POST /staff/admin/network/withdraw   withdraw a TL (xsp)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import InvalidInput
from serviceguide.services import networks
from serviceguide.web.admin.page import AdminPage, field, get_page, post_page

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

NOTICES = {
    "saved": "network.saved",
    "admitted": "network.admitted.done",
    "withdrawn": "network.withdrawn.done",
}


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    test: dict[str, str] | None = None,
    answer: Any = None,
) -> Response:
    view = await networks.view(page.ctx, page.actor)
    page.get_path = "/staff/admin/network"
    net = view.network
    return page.render(
        "admin/network.html",
        status=status,
        section="network",
        view=view,
        notice=notice,
        field_errors=field_errors or {},
        values=values or {"name": net.name, "activation_url": net.activation_url or ""},
        test=test
        or {
            "access_id": view.first_access,
            "service_uid": view.service_uids[0] if view.service_uids else "",
        },
        answer=answer,
    )


@router.get("/network", response_class=HTMLResponse)
async def network_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        key = NOTICES.get(request.query_params.get("done", ""))
        return await _render(page, notice=page.t(key) if key else None)

    return await get_page(request, handle)


@router.post("/network", response_class=HTMLResponse)
async def save_network(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        values = {
            "name": field(form, "name", 400),
            "activation_url": field(form, "activation_url", 1000),
        }
        try:
            await networks.update(page.ctx, page.actor, **values)
        except InvalidInput as e:
            errors = {e.field: page.error_text(e)}
            return await _render(page, status=400, field_errors=errors, values=values)
        return page.redirect("/staff/admin/network?done=saved")

    return await post_page(request, handle)


@router.post("/network/test", response_class=HTMLResponse)
async def test_url(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        test = {
            "access_id": field(form, "access_id", 100),
            "service_uid": field(form, "service_uid", 100),
        }
        try:
            answer = await networks.test_url(page.ctx, page.actor, **test)
        except InvalidInput as e:
            key = "test-" + e.field if e.field != "activation_url" else "test-access_id"
            text = page.t("network.test.off") if e.field == "activation_url" else page.error_text(e)
            return await _render(page, status=400, field_errors={key: text}, test=test)
        return await _render(page, test=test, answer=answer)

    return await post_page(request, handle)


def _admission(action: str) -> Any:
    async def route(request: Request) -> Response:
        async def handle(page: AdminPage, form: Any) -> Response:
            xsp = field(form, "xsp", 20)
            try:
                if action == "admit":
                    await networks.admit(page.ctx, page.actor, xsp)
                else:
                    await networks.withdraw(page.ctx, page.actor, xsp)
            except InvalidInput as e:
                return await _render(page, status=400, field_errors={"xsp": page.error_text(e)})
            done = "admitted" if action == "admit" else "withdrawn"
            return page.redirect(f"/staff/admin/network?done={done}#tls")

        return await post_page(request, handle)

    return route


for _action in ("admit", "withdraw"):
    router.add_api_route(
        f"/network/{_action}",
        _admission(_action),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"admin_network_{_action}",
    )
