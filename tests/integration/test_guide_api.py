"""The guide's JSON API (docs/guide-api.md): placing orders, bad input, idempotency, throttling,
and direct activation against a KO simulator over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from serviceguide.app import create_app
from serviceguide.domain.clock import today_local
from serviceguide.services import admin
from serviceguide.services.context import AppContext
from serviceguide.simulator.activation import Network
from serviceguide.simulator.app import create_simulator
from serviceguide.storage.tables import customers, idempotency_keys, order_log, orders
from tests.support.servers import free_port, serve_in_thread
from tests.support.world import SERIALS, World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


def body(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "coid": "KOA",
        "accessId": "A1",
        "services": [101, 102],
        "customer": {
            "firstname": "Eva",
            "surname": "Ek",
            "serial": SERIALS[0],
            "email": "eva@example.se",
            "phone": "070-1234567",
        },
        "delivery": "asap",
    }
    doc.update(overrides)
    return doc


def with_customer(**fields: Any) -> dict[str, Any]:
    doc = body()
    doc["customer"] = {**doc["customer"], **fields}
    return doc


@pytest.fixture
async def guide(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def counts(ctx: AppContext) -> tuple[int, int, int]:
    async with ctx.db.read() as conn:
        return (
            (await conn.execute(select(func.count()).select_from(customers))).scalar_one(),
            (await conn.execute(select(func.count()).select_from(orders))).scalar_one(),
            (await conn.execute(select(func.count()).select_from(order_log))).scalar_one(),
        )


async def test_two_services_make_one_customer_and_two_orders_each_for_its_own_tl(
    ctx: AppContext, world: World, guide: httpx.AsyncClient, xsp: XspClient
):
    r = await guide.post("/api/guide/orders", json=body())
    assert r.status_code == 201, r.text
    doc = r.json()
    assert isinstance(doc["customer"], int)
    assert [(o["service"], o["xsp"], o["status"]) for o in doc["orders"]] == [
        (101, 1001, "new"),
        (102, 1002, "new"),
    ]
    assert all(isinstance(o["id"], int) for o in doc["orders"])
    tl1 = await xsp.session(world.users["TL1"])
    tl2 = await xsp.session(world.users["TL2"])
    mine, theirs = doc["orders"][0]["id"], doc["orders"][1]["id"]
    assert (await tl1.call("order_info", id=mine)).code == 200
    assert (await tl1.call("order_info", id=theirs)).code == 404
    assert (await tl2.call("order_info", id=theirs)).code == 200
    assert (await tl2.call("order_info", id=mine)).code == 404
    c = (await tl1.call("customer_info", id=doc["customer"])).one("customer")
    assert c["serial"] == "19" + SERIALS[0] and c["socket"] == "A1"


@pytest.mark.parametrize("serial", ["7001011233", "700101-1233", "19700101-1233", "197001011233"])
async def test_serial_is_stored_as_twelve_digits(
    guide: httpx.AsyncClient, world: World, xsp: XspClient, serial: str
):
    r = await guide.post("/api/guide/orders", json=with_customer(serial=serial))
    assert r.status_code == 201, r.text
    tl1 = await xsp.session(world.users["TL1"])
    c = (await tl1.call("customer_info", id=r.json()["customer"])).one("customer")
    assert c["serial"] == "197001011233"


BAD = [
    (body(coid=""), {"coid"}),
    (body(coid=5), {"coid"}),
    (body(accessId="NOPE"), {"accessId"}),
    (body(accessId=None), {"accessId"}),
    (body(services=[]), {"services"}),
    (body(services=[101, 101]), {"services"}),
    (body(services=[103]), {"services"}),  # sold on KOB, not on this access
    (body(services=[999]), {"services"}),
    (body(services=["101"]), {"services"}),
    (body(services=101), {"services"}),
    (body(delivery="tomorrow"), {"delivery"}),
    (body(delivery=None), {"delivery"}),
    (body(delivery=(today_local() - timedelta(days=1)).isoformat()), {"delivery"}),
    (body(delivery=(today_local() + timedelta(days=400)).isoformat()), {"delivery"}),
    (body(message="x" * 1001), {"message"}),
    (body(message=["not", "text"]), {"message"}),
    (with_customer(firstname=""), {"customer.firstname"}),
    (with_customer(firstname="x" * 101), {"customer.firstname"}),
    (with_customer(surname="   "), {"customer.surname"}),
    (with_customer(serial="197001011234"), {"customer.serial"}),
    (with_customer(serial="abc"), {"customer.serial"}),
    (with_customer(serial=197001011233), {"customer.serial"}),
    (with_customer(email="not-an-email"), {"customer.email"}),
    (with_customer(email="<script>@x.se"), {"customer.email"}),
    (with_customer(phone="call me"), {"customer.phone"}),
    (with_customer(premise="<b>1001</b>"), {"customer.premise"}),
    (with_customer(firstname="Eva\x00"), {"customer.firstname"}),
    # Digits of other scripts: int() reads them, but they are not a personnummer's digits.
    (with_customer(serial="１９７００１０１１２３３"), {"customer.serial"}),
    (with_customer(serial="19700101-١٢٣٣"), {"customer.serial"}),
    # C1 controls, like the C0 ones: NEL, CSI (an ESC [ to some terminals), the whole range.
    (with_customer(firstname="E\x85va"), {"customer.firstname"}),
    (with_customer(surname="\x9b31mEk"), {"customer.surname"}),
    (body(message="hej\x80då"), {"message"}),
    (body(message="\x9f"), {"message"}),
]


@pytest.mark.parametrize("doc,fields", BAD)
async def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    ctx: AppContext, guide: httpx.AsyncClient, doc: dict[str, Any], fields: set[str]
):
    before = await counts(ctx)
    r = await guide.post("/api/guide/orders", json=doc)
    assert r.status_code == 422, r.text
    named = {e["field"] for e in r.json()["errors"]}
    assert named == fields
    assert all(e["message"] for e in r.json()["errors"])
    assert await counts(ctx) == before


async def test_every_bad_field_is_named_at_once(ctx: AppContext, guide: httpx.AsyncClient):
    before = await counts(ctx)
    doc = {
        "coid": "",
        "accessId": "",
        "services": [],
        "customer": {
            "firstname": "",
            "surname": "",
            "serial": "1",
            "email": "x",
            "phone": "x",
            "premise": "!!",
        },
        "delivery": "someday",
        "message": "m" * 2000,
    }
    r = await guide.post("/api/guide/orders", json=doc)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {
        "coid",
        "accessId",
        "services",
        "delivery",
        "message",
        "customer.firstname",
        "customer.surname",
        "customer.serial",
        "customer.email",
        "customer.phone",
        "customer.premise",
    }
    assert await counts(ctx) == before


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"\xff\xfe", b'"text"'])
async def test_a_body_that_is_not_a_json_object_is_422(
    ctx: AppContext, guide: httpx.AsyncClient, raw: bytes
):
    before = await counts(ctx)
    r = await guide.post(
        "/api/guide/orders", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"
    assert await counts(ctx) == before


async def test_script_in_a_name_is_stored_and_returned_as_text(
    guide: httpx.AsyncClient, world: World, xsp: XspClient
):
    name = "<script>alert(1)</script>&amp;"
    r = await guide.post("/api/guide/orders", json=with_customer(firstname=name))
    assert r.status_code == 201
    tl1 = await xsp.session(world.users["TL1"])
    for fmt in (None, "json"):
        c = await tl1.call("customer_info", id=r.json()["customer"], output_format=fmt)
        assert c.one("customer")["firstname"] == name


async def test_an_idempotency_key_repeat_returns_the_first_answer_and_stores_nothing(
    ctx: AppContext, guide: httpx.AsyncClient
):
    headers = {"Idempotency-Key": "order-7f3c"}
    first = await guide.post("/api/guide/orders", json=body(), headers=headers)
    assert first.status_code == 201
    after_first = await counts(ctx)
    again = await guide.post("/api/guide/orders", json=body(), headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert await counts(ctx) == after_first
    other = await guide.post("/api/guide/orders", json=body(services=[101]), headers=headers)
    assert other.status_code == 409
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await counts(ctx) == after_first


async def test_concurrent_repeats_of_one_idempotency_key_place_once(
    ctx: AppContext, guide: httpx.AsyncClient
):
    before = await counts(ctx)
    headers = {"Idempotency-Key": "same-key-concurrently"}
    replies = await asyncio.gather(
        *(guide.post("/api/guide/orders", json=body(), headers=headers) for _ in range(4))
    )
    assert [r.status_code for r in replies] == [201] * 4
    assert len({str(r.json()) for r in replies}) == 1
    assert (await counts(ctx))[0] == before[0] + 1
    async with ctx.db.read() as conn:
        assert (
            await conn.execute(select(func.count()).select_from(idempotency_keys))
        ).scalar_one() == 1


@pytest.mark.parametrize("key", [b"", b"x" * 201, "två ord".encode(), b"two words"])
async def test_a_malformed_idempotency_key_is_refused(
    ctx: AppContext, guide: httpx.AsyncClient, key: bytes
):
    before = await counts(ctx)
    r = await guide.post(
        "/api/guide/orders",
        json=body(),
        headers={"Idempotency-Key": key},
    )
    assert r.status_code == 422
    assert await counts(ctx) == before


async def test_orders_are_throttled_per_client_address(ctx: AppContext, world: World):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"guide_rate": 3}))
    app = create_app(strict.settings)
    app.state.ctx = strict

    def client(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 1)), base_url="http://testserver"
        )

    async with client("203.0.113.1") as a, client("203.0.113.2") as b:
        assert (await a.post("/api/guide/orders", json=body())).status_code == 201  # 2 orders
        before = await counts(ctx)
        again = {**body(), "confirm_duplicate": True}  # the same person again, knowingly
        r = await a.post("/api/guide/orders", json=again)  # would be 4 > 3
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert await counts(ctx) == before
        one = {**body(services=[101]), "confirm_duplicate": True}
        assert (await a.post("/api/guide/orders", json=one)).status_code == 201
        assert (await b.post("/api/guide/orders", json=again)).status_code == 201


async def test_address_search_and_services_on_an_access(guide: httpx.AsyncClient):
    r = await guide.get("/api/guide/addresses", params={"q": "A-gatan"})
    assert r.status_code == 200
    found = r.json()
    assert found and set(found[0]) == {"coid", "accessId", "address", "premise"}
    assert "A1" in {a["accessId"] for a in found}
    r = await guide.get("/api/guide/accesses/KOA/A1/services")
    assert r.status_code == 200
    offered = r.json()
    assert {s["id"] for s in offered} == {101, 102}
    s = next(s for s in offered if s["id"] == 102)
    assert s == {
        "id": 102,
        "uid": "S2UID",
        "name": "Tjänst S2",
        "xsp": 1002,
        "xsp_name": "Leverantör Två AB",
        "price_monthly": 199.5,
        "price_once": 495.0,
        "direct_activation": False,
        "description": "",
        # Extensions a service entered by hand does not state (an ON-API offering does).
        "offering_name": None,
        "price_period": None,
        "agreement_length": None,
        "notice_period": None,
        "campaign": False,
        "campaign_length": None,
        "base_price": None,
        "consumer_types": [],
        "terms_url": None,
        "privacy_url": None,
    }
    assert (await guide.get("/api/guide/accesses/KOA/NOPE/services")).status_code == 404
    assert (await guide.get("/api/guide/addresses", params={"q": ""})).json() == []


# ---- direct activation ------------------------------------------------------------------


@pytest.fixture
def ko_simulator() -> Iterator[tuple[str, Network]]:
    net = Network("KOA", {"A1", "A2", "A3", "A4", "A5"}, insufficient={"A4"})
    with serve_in_thread(create_simulator({"KOA": net})) as url:
        yield url, net


async def _direct_service(ctx: AppContext, activation_url: str | None) -> None:
    await admin.create_service(
        ctx,
        xsp=1002,
        coid="KOA",
        uid="TVDIRECT",
        name="TV direkt",
        price_monthly="99",
        price_once="0",
        direct_activation=True,
        service_id=104,
    )
    await admin.set_activation_url(ctx, "KOA", activation_url)


async def _log(xsp: XspClient, world: World, order_id: int) -> list[dict[str, Any]]:
    tl2 = await xsp.session(world.users["TL2"])
    return (await tl2.call("order_log", id=order_id)).items("entry")


async def test_a_direct_activation_service_is_delivered_at_once(
    ctx: AppContext, world: World, guide: httpx.AsyncClient, xsp: XspClient, ko_simulator
):
    url, net = ko_simulator
    await _direct_service(ctx, f"{url}/KOA/activation")
    r = await guide.post("/api/guide/orders", json=body(services=[101, 104]))
    assert r.status_code == 201
    statuses = {o["service"]: o["status"] for o in r.json()["orders"]}
    assert statuses == {101: "new", 104: "delivered"}
    assert net.active["A1"] == {"TVDIRECT"}
    direct = next(o["id"] for o in r.json()["orders"] if o["service"] == 104)
    log = await _log(xsp, world, direct)
    assert [e["type"] for e in log] == ["system", "system"]
    assert "Direktaktiverad" in log[1]["message"]
    tl2 = await xsp.session(world.users["TL2"])
    events = (await tl2.call("events", since_id=0)).items("event")
    assert events[-1]["order"] == str(direct) and events[-1]["status"] == "delivered"


async def test_a_refused_direct_activation_still_stores_the_order_as_new(
    ctx: AppContext, world: World, guide: httpx.AsyncClient, xsp: XspClient, ko_simulator
):
    url, net = ko_simulator
    await _direct_service(ctx, f"{url}/KOA/activation")
    r = await guide.post("/api/guide/orders", json=body(accessId="A4", services=[104]))
    assert r.status_code == 201
    (order,) = r.json()["orders"]
    assert order["status"] == "new"
    log = await _log(xsp, world, order["id"])
    assert "428" in log[-1]["message"] and "nekad" in log[-1]["message"]
    assert "A4" not in net.active or not net.active["A4"]


async def test_an_unreachable_ko_still_stores_the_order_as_new(
    ctx: AppContext, world: World, guide: httpx.AsyncClient, xsp: XspClient
):
    await _direct_service(ctx, f"http://127.0.0.1:{free_port()}/KOA/activation")
    r = await guide.post("/api/guide/orders", json=body(services=[104]))
    assert r.status_code == 201
    (order,) = r.json()["orders"]
    assert order["status"] == "new"
    log = await _log(xsp, world, order["id"])
    assert "kunde inte nå" in log[-1]["message"]


async def test_a_network_without_activation_url_does_not_activate_directly(
    ctx: AppContext, world: World, guide: httpx.AsyncClient
):
    await _direct_service(ctx, None)
    offered = (await guide.get("/api/guide/accesses/KOA/A1/services")).json()
    assert next(s for s in offered if s["id"] == 104)["direct_activation"] is False
    r = await guide.post("/api/guide/orders", json=body(services=[104]))
    assert r.json()["orders"][0]["status"] == "new"


async def test_an_idempotency_key_is_the_clients_own(ctx: AppContext, world: World):
    """One client cannot claim another's key: another address with the same key gets its own
    order, not the first client's answer (nor a 409 for a different body)."""
    app = create_app(ctx.settings)
    app.state.ctx = ctx

    def client(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 1)), base_url="http://testserver"
        )

    headers = {"Idempotency-Key": "shared-key"}
    async with client("203.0.113.31") as a, client("203.0.113.32") as b:
        again = {**body(), "confirm_duplicate": True}
        first = await a.post("/api/guide/orders", json=body(), headers=headers)
        theirs = await b.post("/api/guide/orders", json=again, headers=headers)
        assert (first.status_code, theirs.status_code) == (201, 201)
        assert theirs.json()["customer"] != first.json()["customer"]
        other_body = await b.post("/api/guide/orders", json=body(services=[101]), headers=headers)
        assert other_body.status_code == 409  # b's own key, now with another body
        again = await a.post("/api/guide/orders", json=body(), headers=headers)
        assert again.json() == first.json()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        None,
    ],
)
async def test_an_order_not_sent_as_json_is_415_and_stores_nothing(
    ctx: AppContext, guide: httpx.AsyncClient, content_type: str | None
):
    """What a page on any other site can make a visitor's browser send without a preflight."""
    import json as json_

    before = await counts(ctx)
    headers = {"content-type": content_type} if content_type else {}
    r = await guide.post("/api/guide/orders", content=json_.dumps(body()).encode(), headers=headers)
    assert r.status_code == 415, r.text
    assert r.json()["errors"][0]["field"] == "Content-Type"
    assert await counts(ctx) == before


async def test_an_order_as_json_with_a_charset_is_accepted(guide: httpx.AsyncClient):
    import json as json_

    r = await guide.post(
        "/api/guide/orders",
        content=json_.dumps(body()).encode(),
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert r.status_code == 201, r.text


async def test_a_direct_activation_service_for_a_later_date_is_left_to_the_provider(
    ctx: AppContext, world: World, guide: httpx.AsyncClient, xsp: XspClient, ko_simulator
):
    url, net = ko_simulator
    await _direct_service(ctx, f"{url}/KOA/activation")
    later = (today_local() + timedelta(days=10)).isoformat()
    r = await guide.post("/api/guide/orders", json=body(services=[104], delivery=later))
    assert r.status_code == 201
    (order,) = r.json()["orders"]
    assert order["status"] == "new"  # not delivered today: the customer asked for a later day
    assert not net.active.get("A1")  # the network was not asked to activate anything
    log = await _log(xsp, world, order["id"])
    assert f"önskat leveransdatum {later}" in log[-1]["message"]
    # Today is today: activated at once, as with "as soon as possible".
    today = today_local().isoformat()
    r = await guide.post(
        "/api/guide/orders", json=body(accessId="A2", services=[104], delivery=today)
    )
    assert r.json()["orders"][0]["status"] == "delivered" and net.active["A2"] == {"TVDIRECT"}
