"""The review and confirm steps. The review page (a GET) shows the session's draft, checked once
more, with a button that confirms exactly that version of it. Confirming places the orders (once
per version, however often the button is pressed: the version is the idempotency key) and
redirects to the thank-you page; anything that stops it redirects to a page that says why."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serviceguide.domain.clock import fmt_minutes, today_local
from serviceguide.domain.errors import Conflict, DuplicateOrder, Throttled
from serviceguide.domain.ordering import ValidationFailed
from serviceguide.services import placing
from serviceguide.web.guide.access import Access, address_text, load_access, posted_step
from serviceguide.web.guide.draft import Checked, Draft, check_draft
from serviceguide.web.guide.page import Page, app_ctx, form_text
from serviceguide.web.guide.session import GuideSession

router = APIRouter(include_in_schema=False)

IDEMPOTENCY_PREFIX = "guide-web:"
#: Notices the confirm step redirects with: the text, and the status the review answers with.
NOTICES = {
    "throttled": ("throttled", 429),
    "changed": ("conflict", 409),
    "duplicate": ("duplicate.unconfirmed", 409),
}


@router.get("/access/{coid}/{access_id}/review", response_class=HTMLResponse)
async def review_page(request: Request, coid: str, access_id: str) -> Response:
    """Everything once more, to confirm; the details form again if something is wrong, the
    thank-you page if these orders are placed already."""
    page = Page(request)
    draft = await GuideSession(request).draft()
    if draft is None or not draft.is_for(coid, access_id):
        return page.redirect(f"/access/{coid}/{access_id}")
    if draft.placed:
        return page.redirect(f"/thanks/{draft.placed}")
    access = await load_access(page, coid, access_id, draft.adress)
    if access is None:
        return page.redirect("/")
    checked = check_draft(coid, access_id, access.offered, draft, page.t)
    if checked.errors:
        return page.redirect(f"{access.base}/details?check=1")
    notice, status = "", 200
    q = request.query_params
    if (found := NOTICES.get(q.get("notice", ""))) is not None:
        retry = q.get("retry", "")
        n = int(retry) if retry.isascii() and retry.isdigit() and len(retry) < 7 else 60
        notice, status = page.t(found[0], n=n), found[1]
    assert checked.request is not None
    try:
        duplicates = await placing.open_duplicates(app_ctx(request), checked.request)
    except ValidationFailed:
        duplicates = []
    response = _render_review(
        page, access, draft, checked, status=status, notice=notice, duplicates=duplicates
    )
    if status == 429:
        response.headers["Retry-After"] = q.get("retry", "60")[:6]
    return response


def _render_review(
    page: Page,
    access: Access,
    draft: Draft,
    checked: Checked,
    *,
    status: int,
    notice: str,
    duplicates: list[placing.RecentOrder],
) -> HTMLResponse:
    assert checked.request is not None and checked.customer is not None
    serial = checked.customer.serial
    delivery = checked.request.delivery
    return page.render(
        "review.html",
        status=status,
        access=access,
        address=address_text(page, access.coid, access.access_id, access.found),
        draft=draft,
        chosen=checked.chosen,
        customer=checked.customer,
        serial=f"{serial[:8]}-{serial[8:]}",
        delivery=delivery,
        direct_now=delivery is None or delivery <= today_local(),
        message=checked.message,
        total_monthly=sum((s.price_monthly for s in checked.chosen), Decimal(0)),
        total_once=sum((s.price_once for s in checked.chosen), Decimal(0)),
        notice=notice,
        duplicates=duplicates,
        local_time=fmt_minutes,
    )


@router.post("/access/{coid}/{access_id}/confirm", response_class=HTMLResponse)
async def confirm(request: Request, coid: str, access_id: str) -> Response:
    """Place the orders of the version of the draft the review showed, then redirect to the
    thank-you page."""
    session = GuideSession(request)
    draft = await session.draft()
    adress = draft.adress if draft is not None else ""
    posted = await posted_step(request, coid, access_id, adress)
    if isinstance(posted, Response):
        return posted
    page, form, access = posted
    if draft is None or not draft.is_for(coid, access_id):
        return page.redirect(f"{access.base}?notice=expired")
    if draft.placed:
        return page.redirect(f"/thanks/{draft.placed}")
    if form_text(form.get("key"), 100) != draft.key or not draft.key:
        return page.redirect(f"{access.base}/review?notice=changed")
    checked = check_draft(coid, access_id, access.offered, draft, page.t)
    if checked.errors or checked.request is None:
        return page.redirect(f"{access.base}/details?check=1")
    if not draft.token:
        # Kept before placing: a repeated confirm, answered from the first placement, still
        # knows the thank-you page.
        draft.token = placing.new_order_page_token()
        await session.save(draft)
    try:
        await placing.place_order(
            app_ctx(request),
            checked.request,
            client_ip=request.client.host if request.client else None,
            idempotency_key=IDEMPOTENCY_PREFIX + draft.key,
            order_page_token=draft.token,
            lang=page.lang,
            confirm_duplicate=form_text(form.get("confirm_duplicate"), 5) == "1",
        )
    except ValidationFailed:
        return page.redirect(f"{access.base}/details?check=1")
    except Throttled as e:
        query = urlencode({"notice": "throttled", "retry": e.retry_after})
        return page.redirect(f"{access.base}/review?{query}")
    except DuplicateOrder:
        return page.redirect(f"{access.base}/review?notice=duplicate")
    except Conflict:
        return page.redirect(f"{access.base}/review?notice=changed")
    # The personal details are not needed any more: only the way to the placed orders is kept.
    await session.save(
        Draft(coid=coid, access_id=access_id, adress=draft.adress, placed=draft.token)
    )
    return session.redirect(page, f"/thanks/{draft.token}")
