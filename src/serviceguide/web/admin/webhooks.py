"""A KO's or TL's webhooks: register an endpoint (its signing secret is shown once), give one a
new secret (shown once), disable one, send events again from an event number, and see the recent
delivery attempts and the deliveries that gave up.

URLs::

    GET  /staff/admin/webhooks                 endpoints, attempts, failures, the form
    POST /staff/admin/webhooks                 register (url, events)
    POST /staff/admin/webhooks/{id}/rotate     a new secret, shown once
    POST /staff/admin/webhooks/{id}/disable    disable
    POST /staff/admin/webhooks/{id}/replay     queue events after since_event again
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import Conflict, InvalidInput
from serviceguide.domain.status import EventType
from serviceguide.services import accounts, webhooks
from serviceguide.web.admin.page import AdminPage, field, get_page, parse_id, post_page
from serviceguide.web.guide.page import form_text

router = APIRouter(prefix="/staff/admin", include_in_schema=False)

NOTICES = {"disabled": "hooks.disabled.done"}


async def _render(
    page: AdminPage,
    *,
    status: int = 200,
    notice: str | None = None,
    secret: Any = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    ctx, actor = page.ctx, page.actor
    endpoints = await webhooks.list_endpoints(ctx, actor)
    page.get_path = "/staff/admin/webhooks"
    return page.render(
        "admin/webhooks.html",
        status=status,
        section="webhooks",
        endpoints=endpoints,
        attempts=await webhooks.attempts(ctx, actor),
        failures=await webhooks.attempts(ctx, actor, failed_only=True),
        event_types=list(EventType),
        notice=notice,
        secret=secret,
        field_errors=field_errors or {},
        values=values or {"url": "", "events": []},
    )


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        key = NOTICES.get(request.query_params.get("done", ""))
        return await _render(page, notice=page.t(key) if key else None)

    return await get_page(request, handle)


@router.post("/webhooks", response_class=HTMLResponse)
async def register(request: Request) -> Response:
    async def handle(page: AdminPage, form: Any) -> Response:
        events = [form_text(v, 40) for v in form.getlist("events")][:10]
        url = field(form, "url", 1000)
        values: dict[str, Any] = {"url": url, "events": events}
        try:
            org = await accounts.own_organisation(page.ctx, page.actor)
            secret = await webhooks.register(page.ctx, org, url, ",".join(events), actor=page.actor)
        except InvalidInput as e:
            errors = {e.field: page.error_text(e)}
            return await _render(page, status=400, field_errors=errors, values=values)
        return await _render(page, secret=secret, notice=page.t("hooks.registered"))

    return await post_page(request, handle)


def _hook_post(action: str) -> Any:
    async def route(request: Request, raw_id: str) -> Response:
        async def handle(page: AdminPage, form: Any) -> Response:
            endpoint_id = parse_id(raw_id)
            if endpoint_id is None:
                return page.not_found()
            ctx, actor = page.ctx, page.actor
            if action == "rotate":
                secret = await webhooks.rotate(ctx, endpoint_id, actor=actor)
                return await _render(page, secret=secret, notice=page.t("hooks.rotated"))
            if action == "disable":
                await webhooks.disable(ctx, endpoint_id, actor=actor)
                return page.redirect("/staff/admin/webhooks?done=disabled")
            raw = field(form, "since_event", 20)
            key = f"since-{endpoint_id}"
            try:
                if not raw.isdigit():
                    raise InvalidInput("since_event", "an event number")
                n = await webhooks.replay(ctx, endpoint_id, int(raw), actor=actor)
            except InvalidInput as e:
                return await _render(page, status=400, field_errors={key: page.error_text(e)})
            except Conflict:
                return await _render(page, status=409, field_errors={key: page.t("admin.disabled")})
            return await _render(page, notice=page.t("hooks.replayed", n=n))

        return await post_page(request, handle)

    return route


for _action in ("rotate", "disable", "replay"):
    router.add_api_route(
        f"/webhooks/{{raw_id}}/{_action}",
        _hook_post(_action),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"admin_webhook_{_action}",
    )
