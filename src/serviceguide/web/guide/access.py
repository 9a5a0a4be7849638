"""The access a step is about: the services offered on it, its address once the address search
confirms the customer came from there, and ``posted_step``, which takes a POSTed step's form
(CSRF checked first) together with its access."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import NotFound
from serviceguide.domain.model import AddressMatch, OfferedService
from serviceguide.services.addresses import search_addresses
from serviceguide.services.context import AppContext
from serviceguide.services.guide import services_for_access
from serviceguide.web.guide.page import ADDRESS_MAX, Page, app_ctx, form_text


async def _verified_address(
    ctx: AppContext, coid: str, access_id: str, claimed: str
) -> AddressMatch | None:
    """The address as the market database has it, if ``claimed`` really leads to this access."""
    claimed = claimed.strip()[:ADDRESS_MAX]
    if not claimed:
        return None
    for match in await search_addresses(ctx, claimed):
        if match.coid == coid and match.access_id == access_id:
            return match
    return None


def address_text(page: Page, coid: str, access_id: str, found: AddressMatch | None) -> str:
    if found is None:
        return page.t("access.label", access=access_id, coid=coid)
    if found.premise:
        return f"{found.address}, {page.t('search.premise', p=found.premise)}"
    return found.address


@dataclass(frozen=True)
class Access:
    """The access a page is about: its services, and its address once the search confirms it."""

    coid: str
    access_id: str
    offered: list[OfferedService]
    found: AddressMatch | None

    @property
    def base(self) -> str:
        return f"/access/{self.coid}/{self.access_id}"


async def load_access(page: Page, coid: str, access_id: str, adress: str) -> Access | None:
    ctx = app_ctx(page.request)
    try:
        offered = await services_for_access(ctx, coid, access_id)
    except NotFound:
        return None
    return Access(coid, access_id, offered, await _verified_address(ctx, coid, access_id, adress))


def unknown_access(page: Page) -> HTMLResponse:
    return page.problem(404, "access.unknown.title", "access.unknown.text")


async def posted_step(
    request: Request, coid: str, access_id: str, adress: str | None = None
) -> tuple[Page, Any, Access] | Response:
    """A POSTed step's form, or the answer refusing it: 403 without a valid CSRF token (before
    anything else is looked at), 404 for no such access. The access's address is confirmed
    from ``adress``, or else the form's."""
    page = Page(request)
    form = await request.form()
    if not page.guard.valid(request, form):
        return page.problem(403, "forbidden.title", "forbidden.text")
    claimed = adress if adress is not None else form_text(form.get("adress"))[:ADDRESS_MAX]
    access = await load_access(page, coid, access_id, claimed)
    if access is None:
        return unknown_access(page)
    return page, form, access
