"""The last step: the order numbers, shown to whoever holds the signed link made when the orders
were placed (nothing about the customer is looked up by the number in the URL alone)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import NotFound
from serviceguide.domain.status import OrderStatus
from serviceguide.services.guide import services_for_access
from serviceguide.web import csrf
from serviceguide.web.guide.page import Page, app_ctx, form_text, web_secret

router = APIRouter(include_in_schema=False)

THANKS_MAX_AGE = 60 * 60 * 24 * 30


def thanks_signer(request: Request) -> csrf.LinkSigner:
    return csrf.LinkSigner(web_secret(request), "thanks")


@router.get("/thanks/{customer_id}", response_class=HTMLResponse)
async def thanks(request: Request, customer_id: str) -> Response:
    """The order numbers, for whoever holds the signed link made when the orders were placed."""
    page = Page(request)
    data = thanks_signer(request).loads(form_text(request.query_params.get("t")), THANKS_MAX_AGE)
    if not isinstance(data, dict) or str(data.get("c")) != customer_id:
        return page.problem(404, "thanks.invalid.title", "thanks.invalid.text")
    try:
        offered = await services_for_access(app_ctx(request), str(data["k"]), str(data["x"]))
    except NotFound:
        offered = []
    names = {s.id: s for s in offered}
    orders = [
        {
            "id": oid,
            "service": names.get(sid),
            "service_id": sid,
            "direct": status == OrderStatus.DELIVERED.value,
            "status": status,
        }
        for oid, sid, status in data["o"]
    ]
    return page.render(
        "thanks.html",
        name=str(data.get("n", "")),
        address=str(data.get("a", "")),
        orders=orders,
        direct_count=sum(1 for o in orders if o["direct"]),
    )
