"""The overview, the staff's start page: counts by status, orders per day over 30 days as a chart
drawn on the server (SVG, no JavaScript), the oldest open orders, the flagged ones and failed
deliveries."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.status import OrderStatus
from serviceguide.services import staff as service
from serviceguide.web.guide.page import app_ctx
from serviceguide.web.staff.page import client_ip, signed_in

router = APIRouter(prefix="/staff", include_in_schema=False)

CHART_W, CHART_H, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 640, 220, 16, 28, 36


def chart(per_day: list[tuple[date, int]]) -> dict[str, Any]:
    """Bar geometry for the server-rendered SVG (no JavaScript, no external library)."""
    top = max((n for _, n in per_day), default=0)
    scale_max = max(top, 1)
    plot_h = CHART_H - CHART_TOP - CHART_BOTTOM
    step = (CHART_W - CHART_LEFT) / max(len(per_day), 1)
    bars = []
    for i, (day, n) in enumerate(per_day):
        h = round(plot_h * n / scale_max, 1)
        bars.append(
            {
                "x": round(CHART_LEFT + i * step + step * 0.15, 1),
                "y": round(CHART_TOP + plot_h - h, 1),
                "w": round(step * 0.7, 1),
                "h": h,
                "day": day,
                "n": n,
                "label": i % 5 == 0 or i == len(per_day) - 1,
                "cx": round(CHART_LEFT + i * step + step / 2, 1),
            }
        )
    return {
        "w": CHART_W,
        "h": CHART_H,
        "left": CHART_LEFT,
        "base": CHART_TOP + plot_h,
        "top_y": CHART_TOP,
        "max": top,
        "total": sum(n for _, n in per_day),
        "bars": bars,
    }


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    assert page.session is not None
    if page.session.is_platform:  # the platform's staff see no orders: their start page
        return page.redirect("/staff/admin/")
    data = await service.overview(app_ctx(request), page.session.caller, client=client_ip(request))
    return page.render(
        "staff_overview.html",
        nav="overview",
        data=data,
        chart=chart(data.per_day),
        statuses=list(OrderStatus),
    )
