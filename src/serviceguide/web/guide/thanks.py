"""The last step and the customer's order page, both opened by the order page's token (opaque:
192 random bits, nothing in it but itself): the thank-you page right after ordering, and
``/my-orders/{token}`` (the receipt's link), each order's status in words with its dated
history. A wrong or erased token is a 404 page; many wrong ones from one address, a 429."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.clock import fmt_minutes
from serviceguide.domain.errors import Throttled
from serviceguide.domain.status import OrderStatus
from serviceguide.services import customer_orders
from serviceguide.services.customer_orders import CustomerOrders
from serviceguide.web.guide.page import Page, app_ctx

router = APIRouter(include_in_schema=False)

NOINDEX = {"X-Robots-Tag": "noindex, nofollow"}


async def _find(page: Page, token: str) -> CustomerOrders | HTMLResponse:
    request = page.request
    try:
        found = await customer_orders.by_token(
            app_ctx(request), token, client_ip=request.client.host if request.client else None
        )
    except Throttled as e:
        response = page.problem(429, "orders.throttled.title", "orders.throttled.text")
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    if found is None:
        return page.problem(404, "thanks.invalid.title", "thanks.invalid.text")
    return found


def _finish(response: HTMLResponse) -> HTMLResponse:
    response.headers.update(NOINDEX)
    return response


@router.get("/thanks/{token}", response_class=HTMLResponse)
async def thanks(request: Request, token: str) -> Response:
    """The orders just placed, for whoever holds the link."""
    page = Page(request)
    found = await _find(page, token)
    if isinstance(found, HTMLResponse):
        return _finish(found)
    orders = found.placement.orders
    direct = sum(1 for o in orders if o.status == OrderStatus.DELIVERED)
    return _finish(
        page.render(
            "thanks.html",
            placement=found.placement,
            orders=orders,
            sp=found.sp,
            direct_count=direct,
            order_page=f"/my-orders/{token}",
            noindex=True,
        )
    )


@router.get("/my-orders/{token}", response_class=HTMLResponse)
async def my_orders(request: Request, token: str) -> Response:
    """The customer's orders: each one's status in words, and when it changed."""
    page = Page(request)
    found = await _find(page, token)
    if isinstance(found, HTMLResponse):
        return _finish(found)
    return _finish(
        page.render(
            "my_orders.html",
            placement=found.placement,
            orders=found.placement.orders,
            history=found.history,
            local_time=fmt_minutes,
            noindex=True,
        )
    )
