"""The details step: the customer's details form for the services chosen. Sending it saves the
draft in the session and redirects: to the review when everything is right, to the form again
(``?check=1``: with what is wrong) when not, or — keeping what was typed — to the services page
("change services") or to the same form in the other language."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode

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
from serviceguide.web.guide.draft import Draft, check_draft, choose
from serviceguide.web.guide.page import ADDRESS_MAX, Page, form_text
from serviceguide.web.guide.services import render_services
from serviceguide.web.guide.session import GuideSession

router = APIRouter(include_in_schema=False)


def new_key() -> str:
    return secrets.token_urlsafe(18)


async def draft_at(request: Request, coid: str, access_id: str) -> Draft:
    """The session's draft as the start of an order at this access (see Draft.carried_to)."""
    saved = await GuideSession(request).draft()
    return (saved or Draft()).carried_to(coid, access_id)


@router.get("/access/{coid}/{access_id}/details", response_class=HTMLResponse)
async def details_page(request: Request, coid: str, access_id: str) -> Response:
    """The customer's details form, for the services chosen on the previous page (or kept in the
    session); with ``check=1``, with what is wrong in it."""
    page = Page(request)
    q = request.query_params
    draft = await draft_at(request, coid, access_id)
    if "service" in q or "adress" in q:
        draft.service = [form_text(v) for v in q.getlist("service")][:50]
        draft.adress = form_text(q.get("adress"))[:ADDRESS_MAX]
    access = await load_access(page, coid, access_id, draft.adress)
    if access is None:
        return unknown_access(page)
    checking = q.get("check") == "1"
    chosen, problem = choose(access.offered, draft.service, page.t)
    if problem and not checking:
        return render_services(page, access, draft.adress, draft.service, {"services": problem})
    if access.found is not None and not draft.premise:
        draft.premise = access.found.premise
    errors = check_draft(coid, access_id, access.offered, draft, page.t).errors if checking else {}
    return render_details(page, access, draft, chosen, errors)


def render_details(
    page: Page,
    access: Access,
    draft: Draft,
    chosen: list[OfferedService],
    errors: dict[str, str],
) -> HTMLResponse:
    today = today_local()
    return page.render(
        "details.html",
        status=422 if errors else 200,
        access=access,
        address=address_text(page, access.coid, access.access_id, access.found),
        draft=draft,
        chosen=chosen,
        errors=errors,
        today=today.isoformat(),
        last_day=(today + timedelta(days=365)).isoformat(),
        name_max=NAME_MAX,
        message_max=MESSAGE_MAX,
        switch_form="flow-form",
    )


@router.post("/access/{coid}/{access_id}/details", response_class=HTMLResponse)
async def save_details(request: Request, coid: str, access_id: str) -> Response:
    """Keep what was sent in the session, then go where the button asked."""
    posted = await posted_step(request, coid, access_id)
    if isinstance(posted, Response):
        return posted
    page, form, access = posted
    session = GuideSession(request)
    saved = await session.draft()
    draft = Draft.from_form(form, coid, access_id)
    if saved is not None and saved.is_for(coid, access_id) and not saved.placed:
        draft.token = saved.token  # a retried placement keeps the same order page
    draft.key = new_key()  # a new version: a review page of an older one confirms nothing
    await session.save(draft)
    then = form_text(form.get("then"), 20)
    if then == "services":
        url = f"{access.base}?{draft.services_query()}"
    elif then == "lang":
        url = f"{access.base}/details?{urlencode({'lang': page.t('lang.other')})}"
    elif check_draft(coid, access_id, access.offered, draft, page.t).errors:
        url = f"{access.base}/details?check=1"
    else:
        url = f"{access.base}/review"
    return session.redirect(page, url)
