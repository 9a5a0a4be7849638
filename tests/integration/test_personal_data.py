"""Personal data: every read of a customer's data is audited (API and staff pages), customers
are anonymised after the retention and erased on request, and the orders' history stays."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from serviceguide.domain import personnummer
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.masking import mask_text, tokens_of
from serviceguide.services import privacy
from serviceguide.services.context import AppContext
from serviceguide.storage import tables
from tests.integration.test_staff_pages import _as, staff_world  # noqa: F401 - fixture
from tests.support.notify import command, command_process
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


async def audit(ctx: AppContext) -> list[tuple[Any, ...]]:
    async with ctx.db.read() as conn:
        q = select(
            tables.personal_data_reads.c.customer_id,
            tables.personal_data_reads.c.reader_kind,
            tables.personal_data_reads.c.reader_name,
            tables.personal_data_reads.c.org_name,
            tables.personal_data_reads.c.via,
            tables.personal_data_reads.c.client,
        ).order_by(tables.personal_data_reads.c.id)
        return [tuple(r) for r in await conn.execute(q)]


async def history(ctx: AppContext) -> dict[str, Any]:
    """What anonymising must not touch: orders (minus the customer's note), log, events."""
    async with ctx.db.read() as conn:
        o = tables.orders.c
        return {
            "orders": [
                tuple(r)
                for r in await conn.execute(
                    select(o.id, o.customer_id, o.service_id, o.status, o.created_at).order_by(o.id)
                )
            ],
            "log": [
                tuple(r)
                for r in await conn.execute(
                    select(
                        tables.order_log.c.id,
                        tables.order_log.c.order_id,
                        tables.order_log.c.type,
                        tables.order_log.c.user_name,
                        tables.order_log.c.created_at,
                    ).order_by(tables.order_log.c.id)
                )
            ],
            "events": (
                await conn.execute(select(func.count()).select_from(tables.events))
            ).scalar_one(),
        }


async def customer_row(ctx: AppContext, customer_id: int) -> Any:
    async with ctx.db.read() as conn:
        return (
            await conn.execute(select(tables.customers).where(tables.customers.c.id == customer_id))
        ).one()


async def close(ctx: AppContext, order_ids: list[int], status: str, days_ago: float) -> None:
    async with ctx.db.write() as conn:
        await conn.execute(
            update(tables.orders)
            .where(tables.orders.c.id.in_(order_ids))
            .values(status=status, updated_at=utcnow() - timedelta(days=days_ago))
        )


# -- the audit -----------------------------------------------------------------------------


async def test_api_reads_of_personal_data_are_audited_and_other_reads_are_not(
    ctx: AppContext, world: World, xsp: XspClient
):
    tl1 = await xsp.session(world.users["TL1"])
    c1 = world.customers["c1"]
    assert (await tl1.call("order_info", id=world.orders["o1"])).code == 200
    assert (await tl1.call("orders", since_id=0)).code == 200
    assert (await tl1.call("order_log", id=world.orders["o1"])).code == 200
    assert await audit(ctx) == []  # no personal data in those answers

    assert (await tl1.call("customer_info", id=c1)).code == 200
    assert (await tl1.call("customer_info", id=world.customers["c2"])).code == 404  # TL2's
    assert (await tl1.call("customers", since_id=0)).code == 200
    rows = await audit(ctx)
    tl1_customers = sorted({world.customers[c] for c in ("c1", "c3", "c4")})
    assert rows == [
        (c1, "api_user", "TL1 integration", "Leverantör Ett AB", "api:customer_info", "127.0.0.1"),
        *[
            (cid, "api_user", "TL1 integration", "Leverantör Ett AB", "api:customers", "127.0.0.1")
            for cid in tl1_customers
        ],
    ]


async def test_staff_pages_audit_the_list_the_order_the_reveal_and_the_export(
    ctx: AppContext,
    staff_world: World,  # noqa: F811 - the fixture imported above
):
    client, browser = await _as(ctx, "KOB")
    try:
        o3 = staff_world.orders["o3"]
        c3 = staff_world.customers["c3"]
        assert (await browser.get("/staff/")).status == 200  # o3 is among the oldest open
        assert (await browser.get("/staff/orders")).status == 200
        assert (await browser.get(f"/staff/orders/{o3}")).status == 200
        page = await browser.get(f"/staff/orders/{o3}")
        assert (await browser.submit(page.form(f"/staff/orders/{o3}/reveal"), {})).status == 200
        assert (await browser.http.get("/staff/orders.csv")).status_code == 200
        other = await browser.http.get(f"/staff/orders/{staff_world.orders['o1']}")
        assert other.status_code == 404  # KOA's order: not shown, not audited
    finally:
        await client.__aexit__(None, None, None)
    vias = [(cid, kind, org, via) for cid, kind, _name, org, via, _client in await audit(ctx)]
    assert vias == [
        (c3, "staff", "Stadsnät B", via)
        for via in (
            "staff:overview",  # where the login lands
            "staff:overview",
            "staff:list",
            "staff:order",
            "staff:order",
            "staff:reveal",
            "staff:order",  # the page shown again, with the number
            "staff:csv",
        )
    ]


# -- anonymising and erasing ---------------------------------------------------------------


async def test_customers_closed_longer_than_the_retention_are_anonymised_history_kept(
    ctx: AppContext, world: World, xsp: XspClient
):
    c1, c2, c4 = (world.customers[c] for c in ("c1", "c2", "c4"))
    kept = await customer_row(ctx, c1)
    # A message that names the customer, as a service provider might write it.
    tl1 = await xsp.session(world.users["TL1"])
    note = f"Ringde {kept.firstname} {kept.surname} på {kept.phone}, mejl {kept.email}."
    assert (
        await tl1.call("add_message", id=world.orders["o1"], type="log", message=note)
    ).code == 200
    await close(ctx, [world.orders["o1"]], "delivered", days_ago=40)  # c1: closed long ago
    await close(ctx, [world.orders["o2"]], "cancelled", days_ago=5)  # c2: closed recently
    await close(ctx, [world.orders["o4"]], "delivered", days_ago=40)  # c4: o5 still open
    before = await history(ctx)

    result = await privacy.anonymise_closed(ctx, retention_days=30)

    assert result.customers == [c1]
    row = await customer_row(ctx, c1)
    assert row.anonymised_at is not None
    assert {name: getattr(row, name) for name in ("serial", "firstname", "surname", "email")} == {
        "serial": "",
        "firstname": "",
        "surname": "",
        "email": "",
    }
    assert (row.phone, row.address, row.zip, row.city, row.premise) == ("", "", "", "", "")
    for untouched in (c2, c4):
        assert (await customer_row(ctx, untouched)).anonymised_at is None
    assert await history(ctx) == before  # every order, log entry and event is still there
    log = await tl1.call("order_log", id=world.orders["o1"])
    texts = [e["message"] for e in log.items("entry")]
    assert "Ringde *** *** på ***, mejl ***." in texts
    assert not [t for t in texts if kept.firstname in t or kept.email in t]
    info = await tl1.call("order_info", id=world.orders["o1"])
    assert info.one("order")["message"] in ("", None)  # the customer's own note is gone
    shown = await tl1.call("customer_info", id=c1)
    assert shown.code == 200 and shown.one("customer")["serial"] in ("", None)

    again = await privacy.anonymise_closed(ctx, retention_days=30)
    assert again.customers == []


async def test_erasure_on_request_is_refused_while_an_order_is_open(ctx: AppContext, world: World):
    c4 = world.customers["c4"]
    before = (await customer_row(ctx, c4), await history(ctx))
    with pytest.raises(InvalidInput, match="open orders"):
        await privacy.erase_customer(ctx, c4)
    assert (await customer_row(ctx, c4), await history(ctx)) == before
    with pytest.raises(NotFound):
        await privacy.erase_customer(ctx, 999_999)

    assert await privacy.erase_customer(ctx, c4, force=True) == privacy.Blanked()
    row = await customer_row(ctx, c4)
    assert row.anonymised_at is not None and row.serial == "" and row.firstname == ""
    assert await history(ctx) == before[1]
    assert await privacy.erase_customer(ctx, c4) is None  # already done


def test_masking_finds_the_customers_data_in_free_text_only_as_whole_words():
    class C:
        firstname, surname, email, phone = "Eva", "Ek", "eva@example.se", "070-1234567"
        serial = "197001011233"

    tokens = tokens_of(C)
    text = "Eva Ek (700101-1233, 197001011233) ringde från 070-1234567; Evangelina ej kund. Ekorre."
    assert mask_text(text, tokens) == (
        "*** *** (***, ***) ringde från ***; Evangelina ej kund. Ekorre."
    )
    # Every way the personnummer may be written, this one only; another person's stays.
    other = "19800101-1231"
    assert personnummer.is_valid(C.serial) and personnummer.is_valid(other)
    spaced = f"Pnr 19700101 1233 och 700101 1233, inte 197001011232 eller {other}."
    assert mask_text(spaced, tokens, C.serial) == (
        f"Pnr *** och ***, inte 197001011232 eller {other}."
    )
    assert mask_text(spaced, tokens) == spaced  # without the serial: only the usual spellings


async def test_the_commands_anonymise_erase_and_list_the_reads(
    ctx: AppContext, world: World, xsp: XspClient
):
    c1, c3 = world.customers["c1"], world.customers["c3"]
    tl1 = await xsp.session(world.users["TL1"])
    assert (await tl1.call("customer_info", id=c1)).code == 200
    await close(ctx, [world.orders["o1"]], "delivered", days_ago=10)
    url = ctx.settings.database_url

    dry = await command(url, "privacy", "anonymise", "--retention-days", "5", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1 customers would be anonymised" in dry.stdout
    assert (await customer_row(ctx, c1)).anonymised_at is None

    kept = await command(url, "privacy", "anonymise", "--retention-days", "30")
    assert kept.returncode == 0 and "0 customers anonymised" in kept.stdout, kept
    by_setting = await command(url, "privacy", "anonymise", SERVICEGUIDE_RETENTION_DAYS="5")
    assert by_setting.returncode == 0, by_setting.stderr
    assert "1 customers anonymised" in by_setting.stdout
    assert (await customer_row(ctx, c1)).anonymised_at is not None

    refused = await command_process(url, "privacy", "erase", str(c3))  # a real process
    assert refused.returncode == 1 and "open orders" in refused.stderr
    assert (await customer_row(ctx, c3)).anonymised_at is None
    erased = await command(url, "privacy", "erase", str(c3), "--force")
    assert erased.returncode == 0 and f"customer {c3} erased" in erased.stdout

    reads = await command(url, "privacy", "reads", "--customer", str(c1), "--json")
    assert reads.returncode == 0, reads.stderr
    docs = [json.loads(line) for line in reads.stdout.splitlines()]
    assert [(d["customer_id"], d["via"], d["reader_kind"]) for d in docs] == [
        (c1, "api:customer_info", "api_user")
    ]


async def test_concurrent_reads_are_each_audited(ctx: AppContext, world: World, xsp: XspClient):
    tl1 = await xsp.session(world.users["TL1"])
    c1, c3 = world.customers["c1"], world.customers["c3"]
    replies = await asyncio.gather(
        *(tl1.call("customer_info", id=(c1, c3)[i % 2]) for i in range(40))
    )
    assert [r.code for r in replies] == [200] * 40
    rows = await audit(ctx)
    assert Counter(r[0] for r in rows) == {c1: 20, c3: 20}
