"""A TL's offerings served in ON-API 2.6 ``products`` form: who may read them (the TL, the KOs of
networks admitting it, no one else), what is served (synced offerings and services entered by
hand, a document the guide's own reader accepts), one access, Last-Modified and
If-Modified-Since; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from serviceguide.app import create_app
from serviceguide.domain.products import parse_products
from serviceguide.services import offering, products, sp_settings
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import services
from tests.integration.test_products_sync import TL1, document
from tests.support.products_server import ProductsServer, products_server
from tests.support.world import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def sp() -> Iterator[ProductsServer]:
    with products_server() as server:
        server.serve(document())
        yield server


@pytest.fixture
async def synced(ctx: AppContext, world: World, sp: ProductsServer) -> ProductsServer:
    await sp_settings.set_onapi(ctx, TL1, sp.url, username="sim", password="sim")
    await products.sync_products(ctx, TL1)
    return sp


def auth(world: World, who: str) -> httpx.BasicAuth:
    u = world.users[who]
    return httpx.BasicAuth(str(u.api_user), u.api_key)


def offerings(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["productId"], o["offeringId"]) for p in doc["products"] for o in p["offerings"]}


SYNCED = {("p-100", "o-free"), ("p-100", "o-camp"), ("p-s2", "o-1")}


async def test_the_tl_reads_its_offerings_in_products_form(
    http: httpx.AsyncClient, world: World, synced: ProductsServer
):
    r = await http.get(f"/plain/onapi/{TL1}/products", auth=auth(world, "TL1"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    parsedate_to_datetime(r.headers["Last-Modified"])
    doc = r.json()
    # The guide's own reader takes it: the form is the spec's.
    parsed = parse_products(doc)
    assert offerings(doc) == SYNCED | {("S1UID", "S1UID"), ("S3UID", "S3UID")}
    assert doc["serviceProvider"]["phone"] == "013-212121"  # the last good sync's
    p100 = next(p for p in doc["products"] if p["productId"] == "p-100")
    assert p100["coProducts"] == ["S1UID"]
    assert p100["files"][0]["type"] == "TermsAndConditions"
    camp = next(o for o in p100["offerings"] if o["offeringId"] == "o-camp")
    assert camp["marketingInformation"] == {
        "offeringName": "Halva priset",
        "consumerTypes": ["residential", "business"],
        "description": "Halva priset, beskrivning",
        "startPrice": "0",
        "price": "125",
        "pricePeriod": "P1M",
        "periodOfNotice": "P1M",
        "agreementLength": "P12M",
        "campaignLength": "P3M",
        "basePrice": "250",
        "campaign": True,
    }
    free = next(o for o in p100["offerings"] if o["offeringId"] == "o-free")
    assert free["marketingInformation"]["price"] == "250,50"
    # A service entered by hand: its uid for both ids, a month's price, households.
    s1 = next(p for p in parsed.products if p.product_id == "S1UID")
    assert s1.co_products == ("S1UID",) and s1.name == "Tjänst S1"
    assert s1.offerings[0].price_period == "P1M"
    assert s1.offerings[0].consumer_types == ("residential",)


async def test_a_ko_reads_the_offerings_in_its_own_network_only(
    http: httpx.AsyncClient, world: World, synced: ProductsServer
):
    r = await http.get(f"/plain/onapi/{TL1}/products", auth=auth(world, "KOA"))
    assert r.status_code == 200
    assert offerings(r.json()) == SYNCED | {("S1UID", "S1UID")}
    r = await http.get(f"/plain/onapi/{TL1}/products", auth=auth(world, "KOB"))
    assert r.status_code == 200
    assert offerings(r.json()) == {("S3UID", "S3UID")}


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("TL2", f"/plain/onapi/{TL1}/products", 403),  # another TL
        ("TL1", "/plain/onapi/1002/products", 403),
        ("KOB", "/plain/onapi/1002/products", 403),  # TL2 does not sell in KOB's network
        ("KOA", "/plain/onapi/1002/products", 200),
        ("TL1", "/plain/onapi/99999/products", 403),  # no such TL: the same answer
        ("TL1", "/plain/onapi/abc/products", 403),
        ("TL1", "/plain/onapi/1234567890123/products", 403),
        (None, f"/plain/onapi/{TL1}/products", 401),
        (None, f"/plain/onapi/{TL1}/products/A1", 401),
        ("TL2", f"/plain/onapi/{TL1}/products/A1", 403),
    ],
)
async def test_who_may_read_a_tls_products(
    http: httpx.AsyncClient, world: World, synced: ProductsServer, who: str | None, path: str,
    status: int,
):  # fmt: skip
    r = await http.get(path, auth=auth(world, who) if who else None)
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    if status >= 400:
        assert set(r.json()) == {"cause"}


async def test_wrong_credentials_are_refused(http: httpx.AsyncClient, synced: ProductsServer):
    r = await http.get(f"/plain/onapi/{TL1}/products", auth=httpx.BasicAuth("1", "wrong"))
    assert r.status_code == 401


async def test_the_offerings_on_one_access(
    http: httpx.AsyncClient, world: World, synced: ProductsServer
):
    r = await http.get(f"/plain/onapi/{TL1}/products/A1", auth=auth(world, "TL1"))
    assert r.status_code == 200
    assert offerings(r.json()) == SYNCED | {("S1UID", "S1UID")}
    r = await http.get(f"/plain/onapi/{TL1}/products/B1", auth=auth(world, "TL1"))
    assert offerings(r.json()) == {("S3UID", "S3UID")}
    # KOA may not look at an access of KOB's network through the TL's products.
    r = await http.get(f"/plain/onapi/{TL1}/products/B1", auth=auth(world, "KOA"))
    assert r.status_code == 404
    r = await http.get(f"/plain/onapi/{TL1}/products/NOPE", auth=auth(world, "TL1"))
    assert r.status_code == 404 and "NOPE" in r.json()["cause"]
    r = await http.get(f"/plain/onapi/{TL1}/products/A%001", auth=auth(world, "TL1"))
    assert r.status_code == 404


async def test_a_retired_offering_is_no_longer_served(
    ctx: AppContext, http: httpx.AsyncClient, world: World, synced: ProductsServer
):
    doc = document()
    del doc["products"][0]["offerings"][1]
    synced.serve(doc)
    await products.sync_products(ctx, TL1)
    r = await http.get(f"/plain/onapi/{TL1}/products", auth=auth(world, "TL1"))
    assert ("p-100", "o-camp") not in offerings(r.json())


async def test_if_modified_since_answers_not_modified_until_a_change(
    ctx: AppContext, http: httpx.AsyncClient, world: World, synced: ProductsServer
):
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    async with ctx.db.write() as conn:
        await conn.execute(update(services).values(updated_at=long_ago))
    path, who = f"/plain/onapi/{TL1}/products", auth(world, "KOA")
    first = await http.get(path, auth=who)
    stamp = first.headers["Last-Modified"]
    r = await http.get(path, auth=who, headers={"If-Modified-Since": stamp})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["Last-Modified"] == stamp
    before = format_datetime(long_ago - timedelta(minutes=1), usegmt=True)
    r = await http.get(path, auth=who, headers={"If-Modified-Since": before})
    assert r.status_code == 200
    r = await http.get(path, auth=who, headers={"If-Modified-Since": "not a date"})
    assert r.status_code == 200
    # A change in KOA's network: the next conditional read gets the whole document again.
    await offering.retire(ctx, await _tl_admin(ctx), 101)  # S1UID, entered by hand
    r = await http.get(path, auth=who, headers={"If-Modified-Since": stamp})
    assert r.status_code == 200
    assert ("S1UID", "S1UID") not in offerings(r.json())


async def _tl_admin(ctx: AppContext) -> Any:
    from serviceguide.domain.model import OrgKind
    from serviceguide.domain.roles import Actor, Role
    from serviceguide.storage import catalogue

    async with ctx.db.read() as conn:
        org = await catalogue.org_by_xsp(conn, TL1)
    assert org is not None
    return Actor(
        user_id=1,
        name="Admin",
        org_id=org.id,
        org_kind=OrgKind.TL,
        org_name=org.name,
        role=Role.ADMIN,
    )


async def test_services_from_the_products_are_changed_there_not_by_hand(
    ctx: AppContext, synced: ProductsServer
):
    from serviceguide.domain.errors import Forbidden
    from serviceguide.storage.products import onapi_services

    admin = await _tl_admin(ctx)
    async with ctx.db.read() as conn:
        synced_ids = [s.id for s in await onapi_services(conn, admin.org_id)]
    with pytest.raises(Forbidden, match="ON-API products"):
        await offering.retire(ctx, admin, synced_ids[0])
    with pytest.raises(Forbidden, match="ON-API products"):
        await offering.update(
            ctx,
            admin,
            synced_ids[0],
            coid="KOA",
            uid="S1UID",
            name="Ändrad",
            price_monthly="1",
            price_once="0",
        )
    # A service entered by hand may share an offering's product code.
    made = await offering.create(
        ctx, admin, coid="KOA", uid="S2UID", name="Egen", price_monthly="1", price_once="0"
    )
    assert made


async def test_a_tl_that_never_synced_serves_its_services_and_contact_details(
    http: httpx.AsyncClient, world: World
):
    r = await http.get("/plain/onapi/1002/products", auth=auth(world, "TL2"))
    assert r.status_code == 200
    doc = r.json()
    assert offerings(doc) == {("S2UID", "S2UID")}
    assert doc["serviceProvider"]["presentation"] == "Leverantör Två AB"
    s2 = doc["products"][0]["offerings"][0]["marketingInformation"]
    assert (s2["price"], s2["startPrice"]) == ("199,50", "495")
    assert s2["periodOfNotice"] == "P1M"  # not stated for a service entered by hand: a month


async def test_the_admin_page_lists_offerings_from_the_products_without_an_edit_form(
    ctx: AppContext, synced: ProductsServer
):
    from serviceguide.storage.products import onapi_services
    from tests.support.admin import add_admin_users, admin_browser

    await add_admin_users(ctx)
    admin = await _tl_admin(ctx)
    async with ctx.db.read() as conn:
        synced_ids = [s.id for s in await onapi_services(conn, admin.org_id)]
    async with admin_browser(ctx, "tl1.admin") as b:
        page = await b.get("/staff/admin/services")
        assert page.status == 200
        assert "Bredband 100/100 – Halva priset" in page.html
        assert page.html.count("Från era ON-API-produkter: ändras där") == len(synced_ids)
        assert f'action="/staff/admin/services/{synced_ids[0]}"' not in page.html
        assert 'action="/staff/admin/services/101"' in page.html  # entered by hand
        r = await b.post(f"/staff/admin/services/{synced_ids[0]}/retire", {})
        assert r.status_code == 403  # refused: nothing retired
    async with ctx.db.read() as conn:
        assert all(s.active for s in await onapi_services(conn, admin.org_id))
