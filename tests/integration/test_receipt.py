"""The customer's side of a placement: one receipt for the orders placed together, through the
outbox and a real SMTP server (aiosmtpd), in the language ordered in; the order page it links
to, with each order's status in words and its dated history, and nothing of the organisations'
messages (docs/guide.md)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from serviceguide.services import organisations
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import customers, orders, outbox
from tests.integration.test_guide_pages import (  # noqa: F401 - the fixture
    GOOD,
    Browser,
    browser,
    order_numbers,
    review_of,
)
from tests.support.notify import drain, rows, with_settings
from tests.support.smtp import smtp_server
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


async def _place_in(b: Browser, lang: str) -> tuple[list[int], str]:
    """Order services 101 and 102 at A1 through the guide's pages; the orders and the token."""
    await b.get(f"/?lang={lang}")
    thanks = await b.submit((await review_of(b)).form("/confirm"))
    assert thanks.status == 200, thanks.html
    return order_numbers(thanks), urlsplit(b.url).path.rsplit("/", 1)[1]


CONTACT = {
    "phone": "0771-12 34 56",
    "contact_email": "kundtjanst@ett.example.se",
    "website": "https://ett.example.se/kundtjanst",
    "opening_hours": "Vardagar 8–17",
}


async def test_one_receipt_in_the_language_ordered_in_lists_the_orders_and_links_the_order_page(
    ctx: AppContext,
    world: World,
    browser: Browser,  # noqa: F811 - the fixture imported above
):
    await organisations.update_tl(ctx, 1001, **CONTACT)
    numbers, token = await _place_in(browser, "en")
    (receipt_row,) = [r for r in await rows(ctx, kind="receipt") if r.order_id in numbers]
    with smtp_server() as sink:
        c = with_settings(ctx, smtp_url=sink.url, base_url="https://guide.example.se")
        await drain(c)
        assert (await drain(c)).delivered == 0  # never twice
    (receipt,) = [r for r in sink.receipts() if r.rcpt_tos == [GOOD["email"]]]
    assert receipt.message["To"] == GOOD["email"]
    assert receipt.message["Subject"] == (
        f"Thank you for your order – order number {numbers[0]}, {numbers[1]}"
    )
    text, html = receipt.text(), receipt.html()
    link = f"https://guide.example.se/my-orders/{token}"
    for part in (text, html):
        assert "Eva" in part and link in part
        for n in numbers:
            assert str(n) in part
        assert "Tjänst S1" in part and "Tjänst S2" in part
        assert "Leverantör Ett AB" in part and "Leverantör Två AB" in part
        assert "SEK 299" in part and "SEK 199.50" in part and "As soon as possible" in part
        assert "Ring på dörren" not in part  # the note to the provider is not repeated
        for value in CONTACT.values():  # Leverantör Ett AB's contact details, as it gave them
            assert value in part
    serial = GOOD["serial"].replace("-", "")
    for spelling in (
        serial,
        serial[2:],
        f"{serial[:8]}-{serial[8:]}",
        f"{serial[2:8]}-{serial[8:]}",
    ):
        assert spelling.encode() not in receipt.raw
    # Delivered: the link is not kept in the outbox any more (only its hash, for the page).
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(outbox).where(outbox.c.id == receipt_row.id))).one()
    assert row.state == "delivered" and row.payload is None
    assert token.encode() not in str(row).encode()


async def test_a_receipt_in_swedish_by_default_from_the_json_api(ctx: AppContext, world: World):
    from serviceguide.app import create_app

    app = create_app(ctx.settings)
    app.state.ctx = ctx
    body = {
        "coid": "KOA",
        "accessId": "A2",
        "services": [101],
        "customer": {k: GOOD[k] for k in ("firstname", "surname", "serial", "email", "phone")},
        "delivery": "asap",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        r = await http.post("/api/guide/orders", json=body)
        assert r.status_code == 201, r.text
        assert "token" not in r.text and "my-orders" not in r.text  # the answer is unchanged
        en = await http.post(
            "/api/guide/orders",
            json={**body, "confirm_duplicate": True},
            headers={"Accept-Language": "en-GB,sv;q=0.5"},
        )
        assert en.status_code == 201
    with smtp_server() as sink:
        await drain(with_settings(ctx, smtp_url=sink.url))
    subjects = sorted(str(m.message["Subject"]) for m in sink.receipts())
    placed = [r.json()["orders"][0]["id"] for r in (r, en)]
    assert f"Tack för din beställning – ordernummer {placed[0]}" in subjects
    assert f"Thank you for your order – order number {placed[1]}" in subjects


async def test_the_order_page_shows_statuses_in_words_and_their_history_but_no_messages(
    ctx: AppContext,
    world: World,
    browser: Browser,  # noqa: F811 - the fixture imported above
    xsp: XspClient,
):
    numbers, token = await _place_in(browser, "sv")
    page = await browser.get(f"/my-orders/{token}")
    assert page.status == 200
    assert page.response.headers["x-robots-tag"].startswith("noindex")
    assert page.response.headers["referrer-policy"] == "no-referrer"
    assert '<meta name="robots" content="noindex' in page.html
    assert order_numbers(page) == numbers
    assert page.html.count("Skickad till leverantören") >= 2
    tl1 = await xsp.session(world.users["TL1"])
    first = numbers[0]
    assert (await tl1.call("set_status", id=first, status="active")).code == 200
    said = await tl1.call("add_message", id=first, type="log", message="Internt: kunden verkar sur")
    assert said.code == 200
    page = await browser.get(f"/my-orders/{token}")
    assert "Leverantören arbetar med din order" in page.html
    assert "Internt" not in page.html and "TL1" not in page.html
    history = re.findall(r"<time datetime=\"[^\"]+\">([^<]+)</time> – ([^<]+)</li>", page.html)
    assert [s for _, s in history][:2] == [
        "Skickad till leverantören",
        "Leverantören arbetar med din order",
    ]
    english = await browser.get(f"/my-orders/{token}?lang=en")
    assert "The provider is working on your order" in english.html


async def test_the_thank_you_and_order_pages_show_the_providers_contact_details(
    ctx: AppContext,
    world: World,
    browser: Browser,  # noqa: F811 - the fixture imported above
):
    await organisations.update_tl(ctx, 1001, **CONTACT)
    numbers, token = await _place_in(browser, "sv")
    for path in (f"/thanks/{token}", f"/my-orders/{token}"):
        page = await browser.get(path)
        first, second = page.html.split(f'data-order-id="{numbers[1]}"')
        assert "Kontakta Leverantör Ett AB" in first and 'href="tel:0771123456"' in first
        assert 'href="mailto:kundtjanst@ett.example.se"' in first
        assert 'href="https://ett.example.se/kundtjanst"' in first and "Vardagar 8–17" in first
        assert "Kontakta Leverantör" not in second  # Två AB gave none: nothing is made up


async def test_a_wrong_token_is_a_404_and_many_from_one_address_are_throttled(
    ctx: AppContext,
    world: World,
    browser: Browser,  # noqa: F811 - the fixture imported above
):
    _numbers, token = await _place_in(browser, "sv")
    limited = with_settings(ctx, order_page_misses=3)
    from tests.integration.test_guide_pages import _browser

    async with _browser(limited) as b:
        for bad in (token[:-1] + "A", "x" * 32, "1"):
            page = await b.get(f"/my-orders/{bad}")
            assert page.status == 404 and "Sidan kan inte visas" in page.html
            assert not order_numbers(page)
        page = await b.get(f"/my-orders/{token}")
        assert page.status == 429 and int(page.response.headers["retry-after"]) > 0
        assert not order_numbers(page)


async def test_blanked_personal_data_closes_the_order_page(
    ctx: AppContext,
    world: World,
    browser: Browser,  # noqa: F811 - the fixture imported above
):
    numbers, token = await _place_in(browser, "sv")
    async with ctx.db.read() as conn:
        (customer_id,) = (
            await conn.execute(select(orders.c.customer_id).where(orders.c.id == numbers[0]))
        ).one()
    await drain(with_settings(ctx, smtp_url=None))  # every mail kept as an .eml copy
    (receipt_row,) = [r for r in await rows(ctx, kind="receipt") if r.order_id == numbers[0]]
    copy = ctx.settings.var_dir / "mail" / f"outbox-{receipt_row.id}.eml"
    assert GOOD["email"].encode() in copy.read_bytes()
    from serviceguide.services import privacy

    await privacy.erase_customer(ctx, customer_id, force=True)
    page = await browser.get(f"/my-orders/{token}")
    assert page.status == 404 and not order_numbers(page)
    assert GOOD["email"].encode() not in copy.read_bytes()  # the receipt's copy is masked too
    async with ctx.db.read() as conn:
        blanked = (
            await conn.execute(select(customers.c.email).where(customers.c.id == customer_id))
        ).scalar_one()
    assert blanked == ""
