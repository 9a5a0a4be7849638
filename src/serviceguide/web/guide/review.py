"""The review and confirm steps: everything checked and shown once more, then the orders placed
(once per idempotency key, however often the confirm button is pressed) and the customer sent
on to the thank-you page."""

from __future__ import annotations

import secrets
from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.errors import Conflict, Throttled
from serviceguide.domain.ordering import ValidationFailed
from serviceguide.services import placing
from serviceguide.web import i18n
from serviceguide.web.guide.access import Access, address_text, posted_step
from serviceguide.web.guide.details import render_details
from serviceguide.web.guide.draft import Checked, Draft, check_draft, ordered
from serviceguide.web.guide.page import Page, app_ctx, form_text
from serviceguide.web.guide.thanks import thanks_signer

router = APIRouter(include_in_schema=False)

IDEMPOTENCY_PREFIX = "guide-web:"


@router.post("/access/{coid}/{access_id}/review", response_class=HTMLResponse)
async def review_page(request: Request, coid: str, access_id: str) -> Response:
    """Check everything; show it for confirmation, or the form again with what is wrong."""
    posted = await posted_step(request, coid, access_id)
    if isinstance(posted, Response):
        return posted
    page, draft, access = posted
    checked = check_draft(coid, access_id, access.offered, draft, page.t)
    if checked.errors:
        return render_details(page, access, draft, checked.chosen, checked.errors)
    return _render_review(page, access, draft, checked)


def _render_review(
    page: Page,
    access: Access,
    draft: Draft,
    checked: Checked,
    *,
    status: int = 200,
    notice: str = "",
) -> HTMLResponse:
    assert checked.request is not None and checked.customer is not None
    serial = checked.customer.serial
    return page.render(
        "review.html",
        status=status,
        access=access,
        address=address_text(page, access.coid, access.access_id, access.found),
        draft=draft,
        chosen=checked.chosen,
        customer=checked.customer,
        serial=f"{serial[:8]}-{serial[8:]}",
        delivery=checked.request.delivery,
        message=checked.message,
        total_monthly=sum((s.price_monthly for s in checked.chosen), Decimal(0)),
        total_once=sum((s.price_once for s in checked.chosen), Decimal(0)),
        idempotency_key=secrets.token_urlsafe(24),
        notice=notice,
        switch_draft=draft,
        switch_path=f"{access.base}/review",
    )


def _idempotency_key(form_value: str) -> str | None:
    key = form_value.strip()
    if 16 <= len(key) <= 64 and all(c.isalnum() or c in "-_" for c in key):
        return IDEMPOTENCY_PREFIX + key
    return None


@router.post("/access/{coid}/{access_id}/confirm", response_class=HTMLResponse)
async def confirm(request: Request, coid: str, access_id: str) -> Response:
    """Place the orders (once per idempotency key) and redirect to the thank-you page."""
    posted = await posted_step(request, coid, access_id)
    if isinstance(posted, Response):
        return posted
    page, draft, access = posted
    checked = check_draft(coid, access_id, access.offered, draft, page.t)
    if checked.errors or checked.request is None:
        return render_details(page, access, draft, checked.chosen, checked.errors)
    form = await request.form()
    try:
        placement = await placing.place_order(
            app_ctx(request),
            checked.request,
            client_ip=request.client.host if request.client else None,
            idempotency_key=_idempotency_key(form_text(form.get("idempotency_key"))),
        )
    except ValidationFailed as e:
        errors = {err.field: i18n.error_text(page.t, err.field, err.message) for err in e.errors}
        return render_details(page, access, draft, checked.chosen, ordered(errors))
    except Throttled as e:
        response = _render_review(
            page, access, draft, checked, status=429, notice=page.t("throttled", n=e.retry_after)
        )
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    except Conflict:
        return _render_review(page, access, draft, checked, status=409, notice=page.t("conflict"))
    assert checked.customer is not None
    token = thanks_signer(request).dumps(
        {
            "c": placement.customer_id,
            "n": checked.customer.firstname,
            "k": coid,
            "x": access_id,
            "a": address_text(page, coid, access_id, access.found),
            "o": [[o.id, o.service_id, str(o.status)] for o in placement.orders],
        }
    )
    return page.redirect(f"/thanks/{placement.customer_id}?{urlencode({'t': token})}")
