"""The admin log page: every administrative change of the admin's organisation (a platform
admin: of every organisation), newest first, a page at a time, filtered by action, by who made
it, by organisation (platform) and by day.

URL: ``GET /staff/admin/log?action=&actor=&org=&from=&to=&before=``
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.audit import AuditFilter
from serviceguide.services import audit, platform
from serviceguide.services.staff import day_range
from serviceguide.web.admin.page import AdminPage, get_page, parse_id
from serviceguide.web.guide.page import form_text

router = APIRouter(prefix="/staff/admin", include_in_schema=False)


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@router.get("/log", response_class=HTMLResponse)
async def log_page(request: Request) -> Response:
    async def handle(page: AdminPage) -> Response:
        q = request.query_params
        shown = {
            k: form_text(q.get(k), 200).replace("\x00", "").strip()
            for k in ("action", "actor", "org", "from", "to")
        }
        errors: dict[str, str] = {}
        day_from, day_to = _day(shown["from"]), _day(shown["to"])
        for key, parsed in (("from", day_from), ("to", day_to)):
            if shown[key] and parsed is None:
                errors[key] = page.t("log.bad_date")
        start, end = day_range(day_from, day_to if day_to != date.max else None)
        f = AuditFilter(
            org_id=parse_id(shown["org"]),
            action=shown["action"],
            actor=shown["actor"],
            since=start,
            before_at=end,
        )
        before = parse_id(form_text(q.get("before"), 20))
        ctx, actor = page.ctx, page.actor
        entries, next_before = await audit.list_entries(ctx, actor, f, before_id=before)
        orgs = await platform.organisations(ctx, actor) if actor.is_platform else []
        params = [(k, v) for k, v in shown.items() if v]
        return page.render(
            "admin/log.html",
            status=400 if errors else 200,
            section="log",
            entries=entries,
            shown=shown,
            field_errors=errors,
            actions=await audit.actions(ctx, actor),
            orgs=orgs,
            next_url=f"?{urlencode([*params, ('before', str(next_before))])}"
            if next_before
            else "",
            first_url=f"?{urlencode(params)}" if before else "",
        )

    return await get_page(request, handle)
