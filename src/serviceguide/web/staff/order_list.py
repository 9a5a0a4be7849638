"""The order list: the organisation's orders, filtered and newest first, a page at a time, and
the same filter as a CSV file for a spreadsheet (cells that would be taken for a formula are
prefixed with an apostrophe)."""

from __future__ import annotations

import csv
import io
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.listing import OrderFilter, OrderRow
from serviceguide.domain.ordering import is_digits
from serviceguide.domain.status import OrderStatus
from serviceguide.services import staff as service
from serviceguide.web.guide.page import SECURITY_HEADERS, app_ctx, form_text
from serviceguide.web.staff.page import (
    StaffPage,
    client_ip,
    local_time,
    parse_order_id,
    signed_in,
)

router = APIRouter(prefix="/staff", include_in_schema=False)


def _parse_day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filter(request: Request) -> tuple[OrderFilter, dict[str, str], dict[str, str]]:
    """The filter from the query, the values to show in the form, and errors in it."""
    q = request.query_params
    shown = {
        k: form_text(q.get(k), 200).replace("\x00", "").strip()  # NUL: no text holds one
        for k in ("status", "network", "service", "from", "to", "q", "flagged")
    }
    errors: dict[str, str] = {}
    status = shown["status"] if shown["status"] in {s.value for s in OrderStatus} else ""
    shown["status"] = status
    service_id = int(shown["service"]) if is_digits(shown["service"]) else None
    day_from, day_to = _parse_day(shown["from"]), _parse_day(shown["to"])
    for key, parsed in (("from", day_from), ("to", day_to)):
        if shown[key] and parsed is None:
            errors[key] = "bad_date"
    # Up to and including the last day there is: no end (the day after it cannot be reckoned).
    start, end = service.day_range(day_from, day_to if day_to != date.max else None)
    f = OrderFilter(
        status=OrderStatus(status) if status else None,
        coid=shown["network"] or None,
        service_id=service_id if service_id is not None and service_id < 2**31 else None,
        created_from=start,
        created_before=end,
        flagged=shown["flagged"] == "1",
        text=shown["q"],
    )
    return f, shown, errors


def _filter_query(shown: dict[str, str], **extra: str) -> str:
    params = [(k, v) for k, v in shown.items() if v]
    params += [(k, v) for k, v in extra.items() if v]
    return urlencode(params)


@router.get("/orders", response_class=HTMLResponse)
async def order_list(request: Request) -> Response:
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    assert page.session is not None
    caller = page.session.caller
    f, shown, errors = _filter(request)
    raw_before = request.query_params.get("before", "")
    before = parse_order_id(raw_before)
    ctx = app_ctx(request)
    rows, next_before = await service.list_orders(
        ctx, caller, f, before=before, client=client_ip(request)
    )
    svc, nets = await service.filter_choices(ctx, caller)
    return page.render(
        "staff_orders.html",
        nav="orders",
        rows=rows,
        shown=shown,
        filter_errors=errors,
        services=svc,
        networks=nets,
        statuses=list(OrderStatus),
        next_url=(
            f"/staff/orders?{_filter_query(shown, before=str(next_before))}"
            if next_before
            else None
        ),
        first_url=f"/staff/orders?{_filter_query(shown)}" if before else None,
        csv_url=f"/staff/orders.csv?{_filter_query(shown)}",
    )


CSV_COLUMNS = [
    "col.id",
    "col.created",
    "col.status",
    "col.status_code",
    "col.service",
    "col.provider",
    "col.network",
    "col.access",
    "col.address",
    "col.customer",
    "col.delivery",
    "col.flag",
]


def _csv_cell(value: str) -> str:
    """Text that a spreadsheet would take for a formula is prefixed with an apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv(page: StaffPage, rows: list[OrderRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([page.t(c) for c in CSV_COLUMNS])
    for r in rows:
        writer.writerow(
            [
                str(r.id),
                local_time(r.created_at),
                page.t(f"status.{r.status.value}"),
                r.status.value,
                _csv_cell(r.service_name),
                _csv_cell(r.xsp_name),
                r.coid,
                _csv_cell(r.access_id),
                _csv_cell(r.address),
                _csv_cell(r.customer_name),
                r.delivery.isoformat() if r.delivery else "",
                "1" if r.flagged else "",
            ]
        )
    return "\ufeff" + out.getvalue()


@router.get("/orders.csv")
async def order_csv(request: Request) -> Response:
    page = await signed_in(request)
    if isinstance(page, Response):
        return page
    assert page.session is not None
    f, _shown, _errors = _filter(request)
    rows = await service.export_orders(app_ctx(request), page.session.caller, f, client_ip(request))
    response = Response(
        _csv(page, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
    )
    response.headers.update(SECURITY_HEADERS)
    return response
