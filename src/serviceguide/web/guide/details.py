"""The details step: the customer's details form for the services chosen, first from the
services page and again, filled in, from the review page's "change" button."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.clock import today_local
from serviceguide.domain.model import OfferedService
from serviceguide.domain.ordering import MESSAGE_MAX, NAME_MAX
from serviceguide.web.guide.access import (
    Access,
    address_text,
    load_access,
    posted_step,
    unknown_access,
)
from serviceguide.web.guide.draft import Draft, choose
from serviceguide.web.guide.page import Page
from serviceguide.web.guide.services import render_services

router = APIRouter(include_in_schema=False)


@router.get("/access/{coid}/{access_id}/details", response_class=HTMLResponse)
async def details_page(request: Request, coid: str, access_id: str) -> Response:
    """The customer's details form, for the services chosen on the previous page."""
    page = Page(request)
    draft = Draft.from_form(request.query_params)
    access = await load_access(page, coid, access_id, draft.adress)
    if access is None:
        return unknown_access(page)
    chosen, problem = choose(access.offered, draft.service, page.t)
    if problem:
        return render_services(page, access, draft.adress, draft.service, {"services": problem})
    if access.found is not None:
        draft.premise = access.found.premise
    return render_details(page, access, draft, chosen, {})


def render_details(
    page: Page,
    access: Access,
    draft: Draft,
    chosen: list[OfferedService],
    errors: dict[str, str],
    *,
    status: int | None = None,
) -> HTMLResponse:
    today = today_local()
    return page.render(
        "details.html",
        status=status or (422 if errors else 200),
        access=access,
        address=address_text(page, access.coid, access.access_id, access.found),
        draft=draft,
        chosen=chosen,
        errors=errors,
        today=today.isoformat(),
        last_day=(today + timedelta(days=365)).isoformat(),
        name_max=NAME_MAX,
        message_max=MESSAGE_MAX,
        switch_draft=draft if page.request.method == "POST" else None,
        switch_path=f"{access.base}/review" if errors else f"{access.base}/details",
    )


@router.post("/access/{coid}/{access_id}/details", response_class=HTMLResponse)
async def details_again(request: Request, coid: str, access_id: str) -> Response:
    """The details form filled in with what was posted (the review page's "change" button)."""
    posted = await posted_step(request, coid, access_id)
    if isinstance(posted, Response):
        return posted
    page, draft, access = posted
    chosen, problem = choose(access.offered, draft.service, page.t)
    if problem:
        return render_services(page, access, draft.adress, draft.service, {"services": problem})
    return render_details(page, access, draft, chosen, {})
