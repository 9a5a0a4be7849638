"""An order keeps the service's uid, name and prices it was placed at: a later change of the
service changes what the guide offers from then on, never what earlier orders show — in the XSP
API, on the staff pages, in the CSV export and in the order mail."""

from __future__ import annotations

import csv
import email
import io
from collections.abc import Iterator
from decimal import Decimal
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from serviceguide.services import admin, guide
from serviceguide.services.context import AppContext
from serviceguide.storage import migrate
from serviceguide.storage.db import sync_url
from serviceguide.storage.tables import orders
from tests.conftest import create_pg_database, drop_pg_database
from tests.integration.test_staff_pages import (  # noqa: F401 - the fixtures
    StaffBrowser,
    _text,
    browser,
    staff_world,
)
from tests.support.notify import drain, place, rows, with_settings
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


async def _raise_price_and_rename(ctx: AppContext) -> None:
    await admin.update_service(
        ctx, 102, name="Tjänst S2 Plus", price_monthly="399", price_once="1000"
    )


async def test_order_info_shows_the_price_the_order_was_placed_at(
    ctx: AppContext, world: World, xsp: XspClient
):
    (before,) = await place(ctx, [102])
    await _raise_price_and_rename(ctx)
    (after,) = await place(ctx, [102], 2)

    s = await xsp.session(world.users["TL2"])
    old = (await s.call("order_info", id=before)).one("order")
    new = (await s.call("order_info", id=after)).one("order")
    assert (old["service_uid"], old["service_name"], old["price_monthly"], old["price_once"]) == (
        "S2UID",
        "Tjänst S2",
        "199.50",
        "495.00",
    )
    assert (new["service_name"], new["price_monthly"], new["price_once"]) == (
        "Tjänst S2 Plus",
        "399.00",
        "1000.00",
    )
    # The guide offers the new price; the order placed at the old one keeps it.
    offered = {s.id: s for s in await guide.services_for_access(ctx, "KOA", "A1")}
    assert offered[102].price_monthly == Decimal("399")


async def test_the_staff_pages_and_the_csv_show_the_name_and_price_of_the_order(
    ctx: AppContext,
    staff_world: World,  # noqa: F811 - the fixture imported above
    browser: StaffBrowser,  # noqa: F811 - the fixture imported above
):
    (order_id,) = await place(ctx, [102])
    await _raise_price_and_rename(ctx)
    await browser.login("TL2")

    page = await browser.get(f"/staff/orders/{order_id}")
    assert page.status == 200
    text = _text(page.html)
    assert "Tjänst S2 (S2UID" in text and "Plus" not in text
    assert "199,50" in text and "495" in text and "399" not in text

    # The list's rows name the order's service as it was (the filter names the service as it is).
    listing = _text((await browser.get("/staff/orders")).html)
    assert "Tjänst S2 Leverantör Två" in listing and "Plus Leverantör" not in listing

    body = (await browser.http.get(f"/staff/orders.csv?q={order_id}")).text
    (row,) = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))[1:]
    assert "Tjänst S2" in row and "Tjänst S2 Plus" not in row


async def test_the_order_mail_shows_the_name_and_prices_of_the_order(
    ctx: AppContext, world: World, tmp_path: Path
):
    c = with_settings(ctx, smtp_url=None, var_dir=tmp_path / "var")
    await drain(c)  # the world's own orders
    (order_id,) = await place(c, [102])
    await _raise_price_and_rename(c)
    await drain(c)

    (mail_row,) = [r for r in await rows(c, kind="mail") if r.order_id == order_id]
    raw = (tmp_path / "var" / "mail" / f"outbox-{mail_row.id}.eml").read_bytes()
    msg = email.message_from_bytes(raw, policy=default)
    assert "Tjänst S2," in msg["Subject"] and "Plus" not in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert "Tjänst S2 (S2UID)" in part
        assert "199,50\u00a0kr/mån, 495\u00a0kr engångsavgift" in part
        assert "399" not in part and "1\u202f000" not in part


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    admin_url = request.getfixturevalue("pg_server")
    url = create_pg_database(admin_url)
    try:
        yield url
    finally:
        drop_pg_database(admin_url, url)


async def test_existing_orders_take_the_current_values_when_the_database_is_migrated(
    fresh_url: str,
):
    """Orders placed before the snapshot existed get their service's values as they stand."""
    url = fresh_url
    migrate.upgrade(url, "0006")
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        now = "2026-01-01 10:00:00.000000"
        conn.execute(
            text(
                "INSERT INTO organisations (id, kind, name, coid, created_at) "
                "VALUES (1, 'ko', 'KO', 'KOA', :now), (2, 'tl', 'TL', NULL, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO networks (id, coid, name, ko_org_id, created_at) "
                "VALUES (1, 'KOA', 'Nät', 1, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO accesses (id, network_id, access_id, street_name, street_number, "
                "postal_code, city, updated_at) VALUES (1, 1, 'A1', 'Gatan', '1', '12345', "
                "'Stad', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO services (id, uid, name, tl_org_id, network_id, price_monthly, "
                "price_once, created_at) VALUES (7, 'U7', 'Tjänst 7', 2, 1, 249.5, 99, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO customers (id, access_pk, serial, firstname, surname, email, phone, "
                "address, zip, city, created_at) VALUES (1, 1, '199001011234', 'E', 'K', "
                "'e@example.se', '070', 'Gatan 1', '12345', 'Stad', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO orders (id, customer_id, service_id, access_pk, tl_org_id, ko_org_id,"
                " status, created_at, updated_at) VALUES (5, 1, 7, 1, 2, 1, 'new', :now, :now)"
            ),
            {"now": now},
        )
    migrate.upgrade(url)
    with engine.begin() as conn:
        r = conn.execute(
            select(
                orders.c.service_uid,
                orders.c.service_name,
                orders.c.price_monthly,
                orders.c.price_once,
            ).where(orders.c.id == 5)
        ).one()
        assert tuple(r) == ("U7", "Tjänst 7", Decimal("249.50"), Decimal("99.00"))
        if engine.dialect.name == "sqlite":
            # Ids are still never reused after the table was rebuilt (AUTOINCREMENT).
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'orders'")).scalar()
            assert "AUTOINCREMENT" in str(ddl)
    engine.dispose()
