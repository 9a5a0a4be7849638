"""The first step: the address search form, and the matching addresses as links to their
services."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.services.addresses import search_addresses
from serviceguide.web.guide.access import address_text
from serviceguide.web.guide.page import FIELD_MAX, Page, app_ctx

router = APIRouter(include_in_schema=False)

QUERY_MAX = 200


@router.get("/", response_class=HTMLResponse)
async def start(request: Request) -> Response:
    """Address search: the form, and with ``q`` the matching addresses as links."""
    page = Page(request)
    raw = request.query_params.get("q")
    if raw is None:
        return page.render("search.html", q="", results=[])
    q = raw.strip()
    errors: dict[str, str] = {}
    results: list[dict[str, str]] = []
    if not q:
        errors["q"] = page.t("search.empty")
    elif len(q) > QUERY_MAX:
        errors["q"] = page.t("search.too_long", n=QUERY_MAX)
    else:
        for m in await search_addresses(app_ctx(request), q):
            text = address_text(page, m.coid, m.access_id, m)
            url = f"/access/{m.coid}/{m.access_id}?{urlencode({'adress': m.address})}"
            results.append({"text": text, "url": url})
        if not results:
            errors["q"] = page.t("search.none", q=q)
    return page.render("search.html", q=raw[:FIELD_MAX], results=results, errors=errors)
