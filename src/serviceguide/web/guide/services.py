"""The services step: what a customer at the access can order, grouped by provider, to choose
from."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.model import OfferedService
from serviceguide.web.guide import compare
from serviceguide.web.guide.access import Access, address_text, load_access, unknown_access
from serviceguide.web.guide.draft import Draft
from serviceguide.web.guide.page import ADDRESS_MAX, Page, form_text
from serviceguide.web.guide.session import GuideSession

router = APIRouter(include_in_schema=False)


def _groups(offered: list[OfferedService]) -> list[tuple[str, list[OfferedService]]]:
    """Services by provider, in the order offered (by provider name, then price)."""
    groups: dict[int, tuple[str, list[OfferedService]]] = {}
    for s in offered:
        groups.setdefault(s.xsp, (s.xsp_name, []))[1].append(s)
    return list(groups.values())


@router.get("/access/{coid}/{access_id}", response_class=HTMLResponse)
async def services_page(request: Request, coid: str, access_id: str) -> Response:
    """The services a customer at this access can order, grouped by provider."""
    page = Page(request)
    adress = form_text(request.query_params.get("adress"))
    access = await load_access(page, coid, access_id, adress)
    if access is None:
        return unknown_access(page)
    selected = request.query_params.getlist("service")
    if not selected:  # back from a later step: what was chosen then
        draft = (await GuideSession(request).draft()) or Draft()
        if draft.is_for(coid, access_id) and not draft.placed:
            selected = draft.service
    expired = request.query_params.get("notice") == "expired"
    return render_services(page, access, adress, selected, {}, expired=expired)


def render_services(
    page: Page,
    access: Access,
    adress: str,
    selected: list[str],
    errors: dict[str, str],
    *,
    expired: bool = False,
) -> HTMLResponse:
    if access.found is None:
        heading = page.t("services.title.access", access=access.access_id, coid=access.coid)
    else:
        heading = page.t("services.title", address=address_text(page, "", "", access.found))
    return page.render(
        "services.html",
        status=422 if errors else 200,
        access=access,
        heading=heading,
        adress=adress[:ADDRESS_MAX],
        groups=_groups(access.offered),
        prices={s.id: compare.price(page.t, page.money, s) for s in access.offered},
        facts={s.id: compare.facts(page.t, page.money, s) for s in access.offered},
        selected=set(selected),
        errors=errors,
        notice=page.t("services.expired") if expired else "",
    )
