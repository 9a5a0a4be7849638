"""A TL's ON-API products read into the catalogue over real HTTP: offerings become services where
their coProduct fits, a re-read changes nothing that did not change, a gone offering retires (and
comes back), a bad or unreachable document changes nothing, one process syncs a TL at a time,
and orders keep what was ordered; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from serviceguide.domain.clock import utcnow
from serviceguide.domain.ordering import OrderRequest
from serviceguide.domain.products import ProductsRefused
from serviceguide.services import auth, placing, products, sp_settings
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue
from serviceguide.storage import orders as order_repo
from serviceguide.storage import products as repo
from serviceguide.storage.db import Database
from serviceguide.storage.tables import orders, product_syncs, services
from tests.support.products import spec_example
from tests.support.products_server import ProductsServer, products_server
from tests.support.world import World, customer

pytestmark = pytest.mark.integration

TL1 = 1001


def offering(oid: str, name: str, price: str, **more: Any) -> dict[str, Any]:
    mi = {
        "offeringName": name,
        "consumerTypes": ["residential", "business"],
        "description": f"{name}, beskrivning",
        "startPrice": "0",
        "price": price,
        "pricePeriod": "P1M",
        "periodOfNotice": "P1M",
        **more,
    }
    return {"offeringId": oid, "marketingInformation": mi}


def document() -> dict[str, Any]:
    """TL1's products: S1UID (a product of KOA), S2UID (TL2's code on KOA: also KOA's), a code
    no network knows, and a bundle."""
    doc = spec_example()
    product = doc["products"][0]
    doc["products"] = [
        {
            **product,
            "coProducts": ["S1UID"],
            "productId": "p-100",
            "offerings": [
                offering("o-free", "Utan bindningstid", "250,50", agreementLength=None),
                offering(
                    "o-camp",
                    "Halva priset",
                    "125",
                    agreementLength="P12M",
                    campaign=True,
                    campaignLength="P3M",
                    basePrice="250",
                ),
                offering("o-code", "Hemlig", "99", campaignCodes=["hemlig"]),
            ],
        },
        {**product, "coProducts": ["S2UID"], "productId": "p-s2", "offerings": [
            offering("o-1", "Bas", "199")
        ]},
        {**product, "coProducts": ["NOWHERE"], "productId": "p-none", "offerings": [
            offering("o-1", "Bas", "199")
        ]},
        {**product, "coProducts": ["S1UID", "S2UID"], "productId": "p-bundle", "offerings": [
            offering("o-1", "Paket", "399")
        ]},
    ]  # fmt: skip
    return doc


@pytest.fixture
def sp() -> Iterator[ProductsServer]:
    with products_server() as server:
        server.serve(document())
        yield server


@pytest.fixture
async def tl1(ctx: AppContext, world: World, sp: ProductsServer) -> ProductsServer:
    await sp_settings.set_onapi(ctx, TL1, sp.url, username="sim", password="sim")
    return sp


async def onapi_rows(ctx: AppContext) -> list[dict[str, Any]]:
    async with ctx.db.read() as conn:
        q = select(services).where(services.c.source == "onapi").order_by(services.c.id)
        return [dict(r._mapping) for r in await conn.execute(q)]


async def manual_rows(ctx: AppContext) -> list[dict[str, Any]]:
    async with ctx.db.read() as conn:
        q = select(services).where(services.c.source == "manual").order_by(services.c.id)
        return [dict(r._mapping) for r in await conn.execute(q)]


async def koa_id(ctx: AppContext) -> int:
    async with ctx.db.read() as conn:
        net = await catalogue.network_by_coid(conn, "KOA")
    assert net is not None
    return net.id


async def test_offerings_become_services_where_their_co_product_fits(
    ctx: AppContext, tl1: ProductsServer
):
    manual_before = await manual_rows(ctx)
    report = await products.sync_products(ctx, TL1)
    assert (report.offerings, report.added, report.updated, report.retired) == (6, 3, 0, 0)
    assert len(report.skipped) == 3  # the campaign code, no network, the bundle
    rows = await onapi_rows(ctx)
    koa = await koa_id(ctx)
    assert {(r["product_id"], r["offering_id"], r["network_id"]) for r in rows} == {
        ("p-100", "o-free", koa),
        ("p-100", "o-camp", koa),
        ("p-s2", "o-1", koa),
    }
    camp = next(r for r in rows if r["offering_id"] == "o-camp")
    assert camp["uid"] == "S1UID" and camp["name"] == "Bredband 100/100"
    assert camp["offering_name"] == "Halva priset"
    assert Decimal(camp["price_monthly"]) == Decimal("125") and Decimal(camp["price_once"]) == 0
    assert (camp["price_period"], camp["agreement_length"], camp["notice_period"]) == (
        "P1M",
        "P12M",
        "P1M",
    )
    assert camp["campaign"] and camp["campaign_length"] == "P3M"
    assert Decimal(camp["base_price"]) == Decimal("250")
    assert camp["consumer_types"] == "residential,business"
    assert camp["terms_url"] == "http://example.com/sarskildavilkor.pdf"  # the product's own
    assert camp["privacy_url"] == "http://example.com/integritetspolicy.pdf"
    assert camp["category"] == "internet" and camp["active"]
    # The guide offers them beside the services entered by hand, which stay as they were.
    async with ctx.db.read() as conn:
        offered = await catalogue.offered_services(conn, koa)
    by_offering = {s.offering_name: s for s in offered}
    assert by_offering["Halva priset"].campaign_length == "P3M"
    assert by_offering["Utan bindningstid"].agreement_length is None
    assert by_offering[None].name in ("Tjänst S1", "Tjänst S2")
    assert await manual_rows(ctx) == manual_before
    # Basic auth with the stored credentials.
    assert tl1.requests[-1]["authorization"] == "Basic " + base64.b64encode(b"sim:sim").decode()
    async with ctx.db.read() as conn:
        org = await catalogue.org_by_xsp(conn, TL1)
        assert org is not None
        state = await repo.sync_state(conn, org.id)
    assert state is not None and state.error is None and state.synced_at is not None


async def test_reading_the_same_document_again_changes_nothing(
    ctx: AppContext, tl1: ProductsServer
):
    await products.sync_products(ctx, TL1)
    before = await onapi_rows(ctx)
    report = await products.sync_products(ctx, TL1)
    assert (report.added, report.updated, report.unchanged, report.retired) == (0, 0, 3, 0)
    assert await onapi_rows(ctx) == before


async def test_a_gone_offering_retires_and_comes_back_with_its_id(
    ctx: AppContext, tl1: ProductsServer
):
    await products.sync_products(ctx, TL1)
    camp_id = next(r["id"] for r in await onapi_rows(ctx) if r["offering_id"] == "o-camp")
    doc = document()
    del doc["products"][0]["offerings"][1]
    doc["products"][0]["offerings"][0]["marketingInformation"]["price"] = "260"
    tl1.serve(doc)
    report = await products.sync_products(ctx, TL1)
    assert (report.added, report.updated, report.unchanged, report.retired) == (0, 1, 1, 1)
    rows = {r["offering_id"]: r for r in await onapi_rows(ctx)}
    assert not rows["o-camp"]["active"]  # retired, not deleted
    assert Decimal(rows["o-free"]["price_monthly"]) == Decimal("260")
    tl1.serve(document())
    report = await products.sync_products(ctx, TL1)
    assert report.added == 0 and report.updated == 2
    back = next(r for r in await onapi_rows(ctx) if r["offering_id"] == "o-camp")
    assert back["id"] == camp_id and back["active"]


async def test_an_order_keeps_what_was_ordered_after_the_offering_changes_and_goes(
    ctx: AppContext, tl1: ProductsServer, world: World
):
    await products.sync_products(ctx, TL1)
    camp = next(r for r in await onapi_rows(ctx) if r["offering_id"] == "o-camp")
    placed = await placing.place_order(
        ctx,
        OrderRequest(
            coid="KOA",
            access_id="A2",
            service_ids=[camp["id"]],
            customer=customer(7),
            delivery=None,
            message="",
        ),
        confirm_duplicate=True,
    )
    order_id = placed.orders[0].id
    doc = document()
    doc["products"][0]["offerings"][1]["marketingInformation"]["price"] = "149"
    tl1.serve(doc)
    await products.sync_products(ctx, TL1)
    del doc["products"][0]["offerings"][1]
    tl1.serve(doc)
    await products.sync_products(ctx, TL1)
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(orders).where(orders.c.id == order_id))).one()
    assert row.service_name == "Bredband 100/100 – Halva priset"
    assert Decimal(row.price_monthly) == Decimal("125")
    assert (row.product_id, row.offering_id) == ("p-100", "o-camp")
    assert (row.price_period, row.agreement_length, row.notice_period) == ("P1M", "P12M", "P1M")
    tl = world.users["TL1"]  # the TL's own view of the order
    caller = await auth.caller_for_basic(ctx, tl.api_user, tl.api_key, "127.0.0.1")
    detail = await order_repo.get_order(ctx.db.reader, caller, order_id)
    assert detail is not None
    assert (detail.product_id, detail.offering_id) == ("p-100", "o-camp")
    assert detail.agreement_length == "P12M"


async def test_the_push_names_the_product_and_offering_that_was_ordered(
    ctx: AppContext, tl1: ProductsServer, world: World
):
    await sp_settings.set_onapi(ctx, TL1, tl1.url, delivery="onapi")
    await products.sync_products(ctx, TL1)
    camp = next(r for r in await onapi_rows(ctx) if r["offering_id"] == "o-camp")
    placed = await placing.place_order(
        ctx,
        OrderRequest(
            coid="KOA",
            access_id="A3",
            service_ids=[camp["id"], 101],  # an offering read, and a service entered by hand
            customer=customer(8),
            delivery=None,
            message="",
        ),
        confirm_duplicate=True,
    )
    assert [o.sp.state.value if o.sp else None for o in placed.orders] == ["CONFIRMED"] * 2
    assert sorted(json.dumps(b["products"]) for b in tl1.orders) == sorted(
        [
            json.dumps([{"productId": "p-100", "offeringId": "o-camp"}]),
            json.dumps([{"productId": "S1UID", "offeringId": "S1UID"}]),
        ]
    )


async def test_an_order_of_a_service_entered_by_hand_names_its_uid(ctx: AppContext, world: World):
    tl = world.users["TL1"]
    caller = await auth.caller_for_basic(ctx, tl.api_user, tl.api_key, "127.0.0.1")
    detail = await order_repo.get_order(ctx.db.reader, caller, world.orders["o1"])
    assert detail is not None and (detail.product_id, detail.offering_id) == ("S1UID", "S1UID")


async def _catalogue(ctx: AppContext) -> list[dict[str, Any]]:
    async with ctx.db.read() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(services))]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda d: d["products"][1]["offerings"][0]["marketingInformation"].pop("price"),
            "products[1].offerings[0].marketingInformation.price: missing",
        ),
        (lambda d: d["serviceProvider"].pop("email"), "serviceProvider.email: missing"),
        (
            lambda d: d["products"][0]["offerings"][0]["marketingInformation"].update(
                pricePeriod="monthly"
            ),
            "products[0].offerings[0].marketingInformation.pricePeriod: must be an ISO 8601",
        ),
    ],
)
async def test_a_bad_document_refuses_the_whole_sync(
    ctx: AppContext, tl1: ProductsServer, damage: Any, message: str
):
    await products.sync_products(ctx, TL1)
    before = await _catalogue(ctx)
    doc = document()
    del doc["products"][0]["offerings"][0]  # would retire one, were the document good
    damage(doc)
    tl1.serve(doc)
    with pytest.raises(ProductsRefused) as e:
        await products.sync_products(ctx, TL1)
    assert str(e.value).startswith(message)
    assert await _catalogue(ctx) == before
    async with ctx.db.read() as conn:
        state = (await conn.execute(select(product_syncs))).one()
    assert state.error is not None and state.error.startswith(message)
    assert state.claimed_until is None  # handed back


@pytest.mark.parametrize(
    ("status", "raw", "error"),
    [
        (500, b'{"cause": "down"}', products.ProductsUnavailable),
        (404, b"", products.ProductsUnavailable),
        (200, b"<html>not json</html>", ProductsRefused),
        (200, b"\xff\xfe garbage", ProductsRefused),
        (200, b"[]", ProductsRefused),
    ],
)
async def test_an_unreadable_answer_changes_nothing(
    ctx: AppContext, tl1: ProductsServer, status: int, raw: bytes, error: type[Exception]
):
    await products.sync_products(ctx, TL1)
    before = await _catalogue(ctx)
    tl1.raw, tl1.status = raw, status
    with pytest.raises(error):
        await products.sync_products(ctx, TL1)
    assert await _catalogue(ctx) == before


async def test_wrong_credentials_and_no_server_change_nothing(ctx: AppContext, tl1: ProductsServer):
    await products.sync_products(ctx, TL1)
    before = await _catalogue(ctx)
    tl1.password = "changed"
    with pytest.raises(products.ProductsUnavailable, match="HTTP 401"):
        await products.sync_products(ctx, TL1)
    await sp_settings.set_onapi(ctx, TL1, "http://127.0.0.1:9/onapi/2.6")  # nothing listens
    with pytest.raises(products.ProductsUnavailable, match="no answer"):
        await products.sync_products(ctx, TL1)
    assert await _catalogue(ctx) == before


async def test_a_tl_without_an_onapi_url_is_told_how_to_set_one(ctx: AppContext, world: World):
    from serviceguide.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="tl set-onapi"):
        await products.sync_products(ctx, 1002)


async def test_one_process_syncs_a_tl_at_a_time(ctx: AppContext, tl1: ProductsServer):
    async with ctx.db.read() as conn:
        org = await catalogue.org_by_xsp(conn, TL1)
    assert org is not None
    now = utcnow()
    async with ctx.db.write() as conn:
        await repo.ensure_row(conn, org.id)
        assert await repo.claim(conn, org.id, "other-process", now, now + products.CLAIM)
    with pytest.raises(products.SyncBusy):
        await products.sync_products(ctx, TL1)
    assert tl1.reads == 0
    # A claim that ran out (its process died) is taken over.
    async with ctx.db.write() as conn:
        await conn.execute(update(product_syncs).values(claimed_until=now))
    await products.sync_products(ctx, TL1)
    assert tl1.reads == 1


async def test_the_periodic_sync_reads_a_tl_once_per_interval_across_processes(
    ctx: AppContext, tl1: ProductsServer
):
    """Two servers' sync rounds at once: one read of the TL; again only once it is due."""
    other = Database(ctx.settings.database_url, pool_size=2)
    try:
        second = AppContext(db=other, settings=ctx.settings)
        done = await asyncio.gather(products.sync_due(ctx), products.sync_due(second))
        assert sorted(done) == [0, 1]
        assert tl1.reads == 1
        assert len(await onapi_rows(ctx)) == 3
        assert await products.sync_due(ctx) == 0  # not due for an hour
        async with ctx.db.write() as conn:
            await conn.execute(update(product_syncs).values(attempted_at=None))
        soon = AppContext(db=ctx.db, settings=replace_settings(ctx, 3600))
        assert await products.sync_due(soon) == 1
        assert tl1.reads == 2
    finally:
        await other.dispose()


def replace_settings(ctx: AppContext, seconds: float) -> Any:
    return ctx.settings.model_copy(update={"products_sync_seconds": seconds})


async def test_the_periodic_sync_keeps_going_past_a_bad_document(
    ctx: AppContext, tl1: ProductsServer
):
    tl1.raw = b"{}"
    assert await products.sync_due(ctx) == 1
    async with ctx.db.read() as conn:
        state = (await conn.execute(select(product_syncs))).one()
    assert state.error == "serviceProvider: missing" and state.synced_at is None
    assert await onapi_rows(ctx) == []
    # A failed read is tried again after a few minutes, not an hour.
    tl1.serve(document())
    assert await products.sync_due(ctx) == 0
    async with ctx.db.write() as conn:
        await conn.execute(
            update(product_syncs).values(
                attempted_at=utcnow() - products.RETRY - timedelta(seconds=1)
            )
        )
    assert await products.sync_due(ctx) == 1
    assert len(await onapi_rows(ctx)) == 3
    # A good read waits the whole interval.
    async with ctx.db.write() as conn:
        await conn.execute(
            update(product_syncs).values(
                attempted_at=utcnow() - products.RETRY - timedelta(seconds=1)
            )
        )
    assert await products.sync_due(ctx) == 0


async def test_a_network_that_withdraws_the_tl_loses_its_offerings_at_the_next_sync(
    ctx: AppContext, tl1: ProductsServer
):
    await products.sync_products(ctx, TL1)
    from serviceguide.storage import admissions

    async with ctx.db.write() as conn:
        org = await catalogue.org_by_xsp(conn, TL1)
        assert org is not None
        await admissions.withdraw(conn, await koa_id(ctx), org.id)
    report = await products.sync_products(ctx, TL1)
    assert report.retired == 3
    assert not any(r["active"] for r in await onapi_rows(ctx))
