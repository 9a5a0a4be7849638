"""The XSP order API as a service provider's integration uses it, on SQLite and PostgreSQL,
in XML and in JSON."""

from __future__ import annotations

import re

import pytest

from serviceguide.domain.clock import today_local
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

FORMATS = [None, "json"]


async def test_login_returns_a_32_hex_hash_and_names_the_user(xsp: XspClient, world: World):
    tl1 = world.users["TL1"]
    r = await xsp.call("api_login", api_user=tl1.api_user, api_key=tl1.api_key)
    assert (r.code, r.root, r.status) == (200, "api_login", "success")
    assert re.fullmatch(r"[0-9a-f]{32}", r.response["hash_key"])
    assert r.response["message"] == "TL1 integration logged in"


async def test_each_login_issues_a_different_hash(xsp: XspClient, world: World):
    tl1 = world.users["TL1"]
    assert await xsp.login(tl1.api_user, tl1.api_key) != await xsp.login(tl1.api_user, tl1.api_key)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_tl_polls_orders_by_date_and_sees_only_its_own(
    xsp: XspClient, world: World, fmt: str | None
):
    s = await xsp.session(world.users["TL1"])
    r = await s.call("orders", date=today_local().isoformat(), output_format=fmt)
    assert (r.code, r.root, r.status) == (200, "orders", "success")
    ids = [int(o["id"]) for o in r.items("order")]
    assert ids == sorted(world.visible_orders("TL1"))
    first = r.items("order")[0]
    assert set(first) == {"id", "type", "date", "status", "service", "xsp", "delivery", "customer"}
    assert first["type"] == "order" and first["status"] == "new"
    assert first["xsp"] == "1001" and first["service"] == "101" and first["delivery"] == "asap"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first["date"])


async def test_json_reply_uses_integers_and_arrays(xsp: XspClient, world: World):
    s = await xsp.session(world.users["TL1"])
    r = await s.call("orders", date=today_local().isoformat(), output_format="json")
    assert r.http.headers["content-type"].startswith("application/json")
    order = r.response["order"][0]
    assert isinstance(order["id"], int) and isinstance(order["customer"], int)
    info = await s.call("order_info", id=order["id"], output_format="json")
    assert isinstance(info.response["order"], list) and len(info.response["order"]) == 1


async def test_accept_header_selects_json(xsp: XspClient, world: World):
    s = await xsp.session(world.users["TL1"])
    r = await xsp.call(
        "orders", hash=s.hash, date="2020-01-01", headers={"Accept": "application/json"}
    )
    assert r.http.headers["content-type"].startswith("application/json")


async def test_a_date_in_the_future_returns_no_orders(xsp: XspClient, world: World):
    s = await xsp.session(world.users["TL1"])
    for fmt in FORMATS:
        r = await s.call("orders", date="2999-01-01", output_format=fmt)
        assert (r.code, r.status) == (200, "success")
        assert r.items("order") == []
    r = await s.call("orders", date="2999-01-01", output_format="json")
    assert r.response == {"order": []}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_order_info_has_every_documented_field(xsp: XspClient, world: World, fmt: str | None):
    s = await xsp.session(world.users["TL2"])
    r = await s.call("order_info", id=world.orders["o2"], output_format=fmt)
    o = r.one("order")
    assert o == {
        "id": str(world.orders["o2"]),
        "type": "order",
        "date": o["date"],
        "status": "new",
        "service": "102",
        "xsp": "1002",
        "delivery": "asap",
        "customer": str(world.customers["c2"]),
        "service_uid": "S2UID",
        "service_name": "Tjänst S2",
        "xsp_name": "Leverantör Två AB",
        "coid": "KOA",
        "socket": "A2",
        "price_monthly": "199.50",
        "price_once": "495.00",
        "message": "Notering 2",
        "updated": o["updated"],
    }


@pytest.mark.parametrize("fmt", FORMATS)
async def test_customer_info_and_customers(xsp: XspClient, world: World, fmt: str | None):
    s = await xsp.session(world.users["TL1"])
    r = await s.call("customer_info", id=world.customers["c1"], output_format=fmt)
    c = r.one("customer")
    assert c["socket"] == "A1" and c["firstname"] == "Förnamn1" and len(c["serial"]) == 12
    assert c["address"] == "A-gatan 1" and c["zip"] == "12345" and c["city"] == "Teststad"
    assert c["email"] == "kund1@example.se"
    assert r.response["data"] == {"phone": "070-1234567", "premise": ""}
    listing = await s.call("customers", date=today_local().isoformat(), output_format=fmt)
    ids = [int(x["id"]) for x in listing.items("customer")]
    assert ids == sorted({world.customers[k] for k in ("c1", "c3", "c4")})
    assert set(listing.items("customer")[0]) == {
        "id",
        "socket",
        "serial",
        "firstname",
        "surname",
        "date",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", listing.items("customer")[0]["date"])


@pytest.mark.parametrize("fmt", FORMATS)
async def test_full_lifecycle_writes_the_log(xsp: XspClient, world: World, fmt: str | None):
    s = await xsp.session(world.users["TL1"])
    oid = world.orders["o1"]
    for status in ("received", "active", "waiting", "active", "delivered"):
        r = await s.call("set_status", id=oid, status=status, output_format=fmt)
        assert (r.code, r.root, r.status) == (200, "set_status", "success")
        assert r.message == f"Status changed to {status} for order {oid}"
    for mtype in ("error", "alert", "system", "log"):
        r = await s.call(
            "add_message", id=oid, type=mtype, message=f"Text {mtype} <&>", output_format=fmt
        )
        assert (r.code, r.status, r.message) == (200, "success", f"Message added to order {oid}")
    info = await s.call("order_info", id=oid)
    assert info.one("order")["status"] == "delivered"
    log = await s.call("order_log", id=oid, output_format=fmt)
    entries = log.items("entry")
    assert [e["type"] for e in entries] == ["system"] * 6 + ["error", "alert", "system", "log"]
    assert entries[1]["message"].startswith("Status changed from new to received")
    assert entries[-1]["message"] == "Text log <&>"
    assert entries[-1]["user"] == "TL1 integration" and entries[-1]["org"] == "Leverantör Ett AB"
    assert [int(e["id"]) for e in entries] == sorted(int(e["id"]) for e in entries)


async def test_disallowed_change_is_409_naming_both_statuses_and_changes_nothing(
    xsp: XspClient, world: World
):
    s = await xsp.session(world.users["TL1"])
    oid = world.orders["o1"]
    await s.call("set_status", id=oid, status="delivered")
    before = (await s.call("order_log", id=oid)).items("entry")
    r = await s.call("set_status", id=oid, status="active")
    assert (r.code, r.status) == (409, "failed")
    assert "delivered" in r.message and "active" in r.message
    assert r.response["code"] == "409"
    assert (await s.call("order_info", id=oid)).one("order")["status"] == "delivered"
    assert (await s.call("order_log", id=oid)).items("entry") == before


async def test_setting_the_same_status_succeeds_without_a_log_entry(xsp: XspClient, world: World):
    s = await xsp.session(world.users["TL1"])
    oid = world.orders["o1"]
    await s.call("set_status", id=oid, status="received")
    before = (await s.call("order_log", id=oid)).items("entry")
    r = await s.call("set_status", id=oid, status="received")
    assert (r.code, r.status) == (200, "success")
    assert (await s.call("order_log", id=oid)).items("entry") == before


async def test_post_form_works_like_get(xsp: XspClient, world: World):
    tl1 = world.users["TL1"]
    r = await xsp.call("api_login", post=True, api_user=tl1.api_user, api_key=tl1.api_key)
    h = r.response["hash_key"]
    r = await xsp.call("set_status", post=True, hash=h, id=world.orders["o1"], status="received")
    assert (r.code, r.status) == (200, "success")
    r = await xsp.call("order_info", post=True, hash=h, id=world.orders["o1"])
    assert r.one("order")["status"] == "received"


async def test_bearer_header_is_accepted(xsp: XspClient, world: World):
    s = await xsp.session(world.users["TL1"])
    r = await xsp.call(
        "order_info", id=world.orders["o1"], headers={"Authorization": f"Bearer {s.hash}"}
    )
    assert (r.code, r.status) == (200, "success")


async def test_ko_sees_its_network_and_the_tls_messages(xsp: XspClient, world: World):
    tl = await xsp.session(world.users["TL1"])
    ko = await xsp.session(world.users["KOA"])
    oid = world.orders["o1"]
    await tl.call("add_message", id=oid, type="alert", message="Port finns ej")
    r = await ko.call("orders", date="2020-01-01")
    assert {int(o["id"]) for o in r.items("order")} == world.visible_orders("KOA")
    entries = (await ko.call("order_log", id=oid)).items("entry")
    assert entries[-1]["message"] == "Port finns ej"
    r = await ko.call("set_status", id=oid, status="active")
    assert (r.code, r.status) == (200, "success")
    entries = (await tl.call("order_log", id=oid)).items("entry")
    assert entries[-1]["org"] == "Stadsnät A"


async def test_allowlisted_api_user_adds_message_without_hash(xsp: XspClient, world: World):
    u = world.users["KOA_IP"]
    r = await xsp.call(
        "add_message",
        api_user=u.api_user,
        id=world.orders["o1"],
        message="Port finns ej",
        type="error",
    )
    assert (r.code, r.status) == (200, "success")


async def test_api_user_without_hash_is_refused_from_an_address_off_its_list(
    xsp: XspClient, world: World
):
    for key in ("KOA_FAR", "TL1"):
        u = world.users[key]
        r = await xsp.call(
            "add_message", api_user=u.api_user, id=world.orders["o1"], message="x", type="error"
        )
        assert (r.code, r.status) == (401, "failed")
    ko = await xsp.session(world.users["KOA"])
    assert len((await ko.call("order_log", id=world.orders["o1"])).items("entry")) == 1


async def test_api_user_alone_does_not_open_other_methods(xsp: XspClient, world: World):
    u = world.users["KOA_IP"]
    r = await xsp.call("order_info", api_user=u.api_user, id=world.orders["o1"])
    assert r.code == 401
