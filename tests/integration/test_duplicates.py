"""Ordering the same twice: the same person (personnummer) with an open order for the same
service at the same access placed in the last 24 hours is warned on the review page and must
confirm again explicitly; the JSON API answers 409 with the existing orders unless
``"confirm_duplicate": true``. Nothing is stored by a refused request."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from serviceguide.app import create_app
from serviceguide.domain.clock import utcnow
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import orders
from tests.integration.test_guide_api import body
from tests.integration.test_guide_pages import (  # noqa: F401 - the fixture
    Browser,
    browser,
    order_numbers,
    review_of,
    stored,
)
from tests.support.world import SERIALS, World, with_check_digit

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(ctx: AppContext, world: World):
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("203.0.113.50", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_api_refuses_a_duplicate_with_the_existing_orders_unless_confirmed(
    ctx: AppContext, api: httpx.AsyncClient
):
    first = await api.post("/api/guide/orders", json=body())
    assert first.status_code == 201
    existing = [o["id"] for o in first.json()["orders"]]
    before = await stored(ctx)
    # The same person, one of the same services, the same access; another spelling of the
    # personnummer and another name do not make it another person.
    serial = SERIALS[0]
    again = body(services=[102, 101])
    again["customer"] = {**again["customer"], "serial": f"19{serial[:6]}-{serial[6:]}"}
    again["customer"]["firstname"] = "Evelina"
    r = await api.post("/api/guide/orders", json=again)
    assert r.status_code == 409, r.text
    assert r.json()["existing_orders"] == existing
    assert r.json()["errors"][0]["field"] == "confirm_duplicate"
    assert await stored(ctx) == before
    for bad in ("yes", 1, None):
        r = await api.post("/api/guide/orders", json={**again, "confirm_duplicate": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "confirm_duplicate"
    assert await stored(ctx) == before
    r = await api.post("/api/guide/orders", json={**again, "confirm_duplicate": True})
    assert r.status_code == 201 and await stored(ctx) != before


async def test_not_a_duplicate_another_person_service_or_access_a_closed_or_old_order(
    ctx: AppContext, api: httpx.AsyncClient
):
    first = await api.post("/api/guide/orders", json=body(services=[101]))
    assert first.status_code == 201
    (order_id,) = [o["id"] for o in first.json()["orders"]]
    other_person = body(services=[101])
    stranger = with_check_digit("851212567")  # nobody in the test world
    other_person["customer"] = {**other_person["customer"], "serial": stranger}
    for other in (other_person, body(services=[102]), body(services=[101], accessId="A2")):
        assert (await api.post("/api/guide/orders", json=other)).status_code == 201, other
    async with ctx.db.write() as conn:
        await conn.execute(update(orders).where(orders.c.id == order_id).values(status="cancelled"))
    # A cancelled order is no duplicate; the new one is open, so the next one is.
    assert (await api.post("/api/guide/orders", json=body(services=[101]))).status_code == 201
    assert (await api.post("/api/guide/orders", json=body(services=[101]))).status_code == 409
    async with ctx.db.write() as conn:  # every order placed more than a day ago
        await conn.execute(update(orders).values(created_at=utcnow() - timedelta(hours=25)))
    assert (await api.post("/api/guide/orders", json=body(services=[101]))).status_code == 201


async def test_the_review_page_warns_and_confirming_again_needs_the_box_ticked(
    ctx: AppContext,
    world: World,
    browser: Browser,  # noqa: F811 - the fixture imported above
):
    first = order_numbers(await browser.submit((await review_of(browser)).form("/confirm")))
    review = await review_of(browser)  # the same again: Back, new details, the same person
    assert review.status == 200
    assert "Du har redan beställt det här" in review.html
    for n in first:
        assert f"Order {n}:" in review.html
    assert 'name="confirm_duplicate" value="1" id="confirm_duplicate" required' in review.html
    before = await stored(ctx)
    refused = await browser.submit(review.form("/confirm"))  # without the box
    assert refused.status == 409 and "Kryssa i rutan" in refused.html
    assert await stored(ctx) == before
    thanks = await browser.submit(refused.form("/confirm"), {"confirm_duplicate": "1"})
    assert thanks.status == 200 and len(order_numbers(thanks)) == 2
    assert set(order_numbers(thanks)).isdisjoint(first)
