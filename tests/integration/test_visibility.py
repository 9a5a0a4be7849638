"""Tenant isolation in the XSP order API: a TL sees the orders for its services, a KO the orders
on its network, each with their customers, and nobody sees anything else. An order or customer
the caller may not see is indistinguishable from one that does not exist, and touching it
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import VISIBLE, World
from tests.support.xsp import Reply, Session, XspClient

pytestmark = pytest.mark.integration

ORGS = ["TL1", "TL2", "KOA", "KOB"]
MISSING_ID = 999999
FORMATS = [None, "json"]

# What each order-id method needs besides the id, chosen so that it would succeed if visible.
ORDER_METHODS: dict[str, dict[str, str]] = {
    "order_info": {},
    "order_log": {},
    "set_status": {"status": "received"},
    "add_message": {"type": "alert", "message": "Hemligt meddelande"},
}


def visible_customers(who: str) -> set[str]:
    """Customer keys an org sees: the customers of the orders it sees (o4 and o5 share c4)."""
    return {"c4" if o in ("o4", "o5") else "c" + o[1:] for o in VISIBLE[who]}


def owner_of(order_key: str) -> str:
    return next(tl for tl in ("TL1", "TL2") if order_key in VISIBLE[tl])


@pytest.fixture
async def sessions(xsp: XspClient, world: World) -> dict[str, Session]:
    return {k: await xsp.session(world.users[k]) for k in ORGS}


async def state(sessions: dict[str, Session], world: World) -> dict[str, Any]:
    """Everything the orgs can observe: every order's info and log (read by its TL and its KO),
    every customer, every org's events."""
    seen: dict[str, Any] = {}
    for key, oid in world.orders.items():
        for org in ORGS:
            if key in VISIBLE[org]:
                s = sessions[org]
                info, log = await s.call("order_info", id=oid), await s.call("order_log", id=oid)
                assert (info.code, log.code) == (200, 200)
                seen[f"{key}/{org}"] = (info.one("order"), log.items("entry"))
    for key, cid in world.customers.items():
        s = sessions[next(org for org in ORGS if key in visible_customers(org))]
        seen[key] = (await s.call("customer_info", id=cid)).response
    for org, s in sessions.items():
        r = await s.call("events", since_id=0)
        assert r.code == 200
        seen[org] = r.items("event")
    return seen


def assert_same_as_missing(hidden: Reply, missing: Reply, ident: int) -> None:
    """``hidden`` (an existing id the caller may not see) answers exactly like ``missing``
    (MISSING_ID): same status, same headers, same bytes apart from the id."""
    assert hidden.code == missing.code == 404, (hidden.code, hidden.response)
    assert hidden.status == "failed"
    expected = missing.http.content.replace(str(MISSING_ID).encode(), str(ident).encode())
    assert hidden.http.content == expected
    skip = {"content-length", "date", "x-request-id"}  # every answer gets its own request id
    assert {k: v for k, v in hidden.http.headers.items() if k not in skip} == {
        k: v for k, v in missing.http.headers.items() if k not in skip
    }
    assert str(ident) in hidden.message


# --- reading one order or customer ------------------------------------------------------------


@pytest.mark.parametrize("who", ORGS)
async def test_each_org_can_read_exactly_the_orders_and_customers_it_may_see(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str
):
    s = sessions[who]
    for key, oid in world.orders.items():
        for method in ("order_info", "order_log"):
            r = await s.call(method, id=oid)
            assert r.code == (200 if key in VISIBLE[who] else 404), (who, key, method, r.response)
    for key, cid in world.customers.items():
        r = await s.call("customer_info", id=cid)
        assert r.code == (200 if key in visible_customers(who) else 404), (who, key, r.response)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("method", list(ORDER_METHODS))
@pytest.mark.parametrize("who", ORGS)
async def test_an_order_the_org_may_not_see_answers_exactly_like_a_missing_one(
    xsp: XspClient,
    world: World,
    sessions: dict[str, Session],
    who: str,
    method: str,
    fmt: str | None,
):
    s = sessions[who]
    extra = ORDER_METHODS[method]
    before = await state(sessions, world)
    missing = await s.call(method, id=MISSING_ID, output_format=fmt, **extra)
    hidden_keys = [k for k in world.orders if k not in VISIBLE[who]]
    assert hidden_keys
    for key in hidden_keys:
        oid = world.orders[key]
        hidden = await s.call(method, id=oid, output_format=fmt, **extra)
        assert hidden.root == method
        assert_same_as_missing(hidden, missing, oid)
    assert await state(sessions, world) == before


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("who", ORGS)
async def test_a_customer_the_org_may_not_see_answers_exactly_like_a_missing_one(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str, fmt: str | None
):
    s = sessions[who]
    missing = await s.call("customer_info", id=MISSING_ID, output_format=fmt)
    hidden_keys = [k for k in world.customers if k not in visible_customers(who)]
    assert hidden_keys
    for key in hidden_keys:
        cid = world.customers[key]
        hidden = await s.call("customer_info", id=cid, output_format=fmt)
        assert hidden.root == "customer_info"
        assert_same_as_missing(hidden, missing, cid)


async def test_a_customer_with_orders_for_two_tls_is_visible_to_both(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    c4 = world.customers["c4"]
    for who in ("TL1", "TL2", "KOA"):
        r = await sessions[who].call("customer_info", id=c4)
        assert (r.code, r.status) == (200, "success"), (who, r.response)
        assert r.one("customer")["id"] == str(c4)
    r = await sessions["KOB"].call("customer_info", id=c4)
    assert r.code == 404
    # Each TL still sees only its own order of that customer.
    assert (await sessions["TL1"].call("order_info", id=world.orders["o4"])).code == 200
    assert (await sessions["TL1"].call("order_info", id=world.orders["o5"])).code == 404
    assert (await sessions["TL2"].call("order_info", id=world.orders["o5"])).code == 200
    assert (await sessions["TL2"].call("order_info", id=world.orders["o4"])).code == 404


# --- writes to orders the caller may not see ---------------------------------------------------


@pytest.mark.parametrize("who", ORGS)
async def test_a_status_change_that_would_be_409_is_404_for_an_org_that_may_not_see_the_order(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str
):
    for key in world.orders:
        r = await sessions[owner_of(key)].call(
            "set_status", id=world.orders[key], status="delivered"
        )
        assert r.code == 200
    before = await state(sessions, world)
    s = sessions[who]
    missing = await s.call("set_status", id=MISSING_ID, status="active")
    for key in (k for k in world.orders if k not in VISIBLE[who]):
        oid = world.orders[key]
        hidden = await s.call("set_status", id=oid, status="active")
        assert_same_as_missing(hidden, missing, oid)
    assert await state(sessions, world) == before


@pytest.mark.parametrize("who", ORGS)
async def test_posted_writes_to_hidden_orders_are_404_and_change_nothing(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str
):
    before = await state(sessions, world)
    h = sessions[who].hash
    for key in (k for k in world.orders if k not in VISIBLE[who]):
        oid = world.orders[key]
        for status in ("received", "cancelled", "delivered", "new"):
            r = await xsp.call("set_status", post=True, hash=h, id=oid, status=status)
            assert (r.code, r.status) == (404, "failed"), (who, key, status, r.response)
        for mtype in ("error", "alert", "system", "log"):
            r = await xsp.call("add_message", post=True, hash=h, id=oid, type=mtype, message="x")
            assert (r.code, r.status) == (404, "failed"), (who, key, mtype, r.response)
    assert await state(sessions, world) == before


async def test_an_allowlisted_ko_user_cannot_write_to_another_networks_order(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    before = await state(sessions, world)
    u = world.users["KOA_IP"]
    missing = await xsp.call(
        "add_message", api_user=u.api_user, id=MISSING_ID, type="log", message="x"
    )
    oid = world.orders["o3"]  # on KOB's network
    hidden = await xsp.call("add_message", api_user=u.api_user, id=oid, type="log", message="x")
    assert_same_as_missing(hidden, missing, oid)
    assert await state(sessions, world) == before


# --- lists ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("who", ORGS)
async def test_orders_lists_exactly_the_visible_orders(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str, fmt: str | None
):
    s = sessions[who]
    expected = sorted(world.visible_orders(who))
    for params in (
        {"date": "2020-01-01"},
        {"since_id": 0},
        {"since_id": 0, "limit": 1000},
        {"since_id": 0, "date": "2020-01-01"},
    ):
        r = await s.call("orders", output_format=fmt, **params)
        assert (r.code, r.status) == (200, "success")
        assert [int(o["id"]) for o in r.items("order")] == expected, (who, params)
    xsps = {o["xsp"] for o in r.items("order")}
    if who.startswith("TL"):
        assert xsps == {"1001" if who == "TL1" else "1002"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("who", ORGS)
async def test_customers_lists_exactly_the_visible_customers(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str, fmt: str | None
):
    s = sessions[who]
    expected = sorted(world.customers[k] for k in visible_customers(who))
    for params in ({"date": "2020-01-01"}, {"since_id": 0}, {"since_id": 0, "limit": 1000}):
        r = await s.call("customers", output_format=fmt, **params)
        assert (r.code, r.status) == (200, "success")
        assert [int(c["id"]) for c in r.items("customer")] == expected, (who, params)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("who", ORGS)
async def test_events_list_exactly_the_visible_orders(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str, fmt: str | None
):
    r = await sessions[who].call("events", since_id=0, output_format=fmt)
    assert (r.code, r.status) == (200, "success")
    events = r.items("event")
    assert sorted(int(e["order"]) for e in events) == sorted(world.visible_orders(who))
    assert {e["type"] for e in events} == {"order_created"}


@pytest.mark.parametrize("who", ORGS)
async def test_limited_polling_never_reveals_hidden_rows(
    xsp: XspClient, world: World, sessions: dict[str, Session], who: str
):
    s = sessions[who]
    for method, element, expected in (
        ("orders", "order", sorted(world.visible_orders(who))),
        ("customers", "customer", sorted(world.customers[k] for k in visible_customers(who))),
        ("events", "event", None),
    ):
        seen: list[dict[str, str]] = []
        cursor = 0
        for _ in range(20):
            r = await s.call(method, since_id=cursor, limit=1)
            assert r.code == 200
            page = r.items(element)
            if not page:
                break
            assert len(page) == 1
            seen += page
            cursor = int(page[-1]["id"])
        if expected is not None:
            assert [int(x["id"]) for x in seen] == expected
        else:
            assert sorted(int(e["order"]) for e in seen) == sorted(world.visible_orders(who))


# --- events written by one org -------------------------------------------------------------------


async def event_orders(s: Session, since_id: int) -> list[tuple[int, str, str]]:
    r = await s.call("events", since_id=since_id)
    assert r.code == 200
    return [(int(e["order"]), e["type"], e["status"]) for e in r.items("event")]


async def last_event_id(sessions: dict[str, Session]) -> int:
    ids = [0]
    for s in sessions.values():
        ids += [int(e["id"]) for e in (await s.call("events", since_id=0)).items("event")]
    return max(ids)


@pytest.mark.parametrize(
    "writer,order_key",
    [
        ("KOA", "o1"),
        ("KOA", "o2"),
        ("KOA", "o4"),
        ("KOA", "o5"),
        ("KOB", "o3"),
        ("TL1", "o1"),
        ("TL1", "o3"),
        ("TL2", "o5"),
    ],
)
async def test_a_status_change_is_an_event_for_the_orders_tl_and_ko_and_nobody_else(
    xsp: XspClient, world: World, sessions: dict[str, Session], writer: str, order_key: str
):
    oid = world.orders[order_key]
    cursor = await last_event_id(sessions)
    r = await sessions[writer].call("set_status", id=oid, status="active")
    assert (r.code, r.status) == (200, "success")
    for who in ORGS:
        got = await event_orders(sessions[who], cursor)
        if order_key in VISIBLE[who]:
            assert got == [(oid, "status_changed", "active")], who
        else:
            assert got == [], who


@pytest.mark.parametrize(
    "writer,order_key", [("KOA", "o1"), ("KOA", "o5"), ("KOB", "o3"), ("TL1", "o4"), ("TL2", "o2")]
)
async def test_a_message_is_an_event_for_the_orders_tl_and_ko_and_nobody_else(
    xsp: XspClient, world: World, sessions: dict[str, Session], writer: str, order_key: str
):
    oid = world.orders[order_key]
    cursor = await last_event_id(sessions)
    r = await sessions[writer].call("add_message", id=oid, type="alert", message="Fiber grävd")
    assert (r.code, r.status) == (200, "success")
    for who in ORGS:
        got = await event_orders(sessions[who], cursor)
        assert got == ([(oid, "message_added", "new")] if order_key in VISIBLE[who] else []), who
        log = await sessions[who].call("order_log", id=oid)
        if order_key in VISIBLE[who]:
            assert log.items("entry")[-1]["message"] == "Fiber grävd"
        else:
            assert log.code == 404


async def test_a_kos_change_to_a_shared_customers_order_reaches_only_that_orders_tl(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    """o4 (TL1) and o5 (TL2) share customer c4: KOA's change to o5 is TL2's business only."""
    o5 = world.orders["o5"]
    cursor = await last_event_id(sessions)
    assert (await sessions["KOA"].call("set_status", id=o5, status="waiting")).code == 200
    assert (await sessions["KOA"].call("add_message", id=o5, type="log", message="Ok")).code == 200
    assert [t for _, t, _ in await event_orders(sessions["TL2"], cursor)] == [
        "status_changed",
        "message_added",
    ]
    assert await event_orders(sessions["TL1"], cursor) == []
    assert await event_orders(sessions["KOB"], cursor) == []
    r = await sessions["TL1"].call("orders", since_id=0)
    assert {int(o["id"]) for o in r.items("order")} == world.visible_orders("TL1")
    r = await sessions["TL1"].call("order_info", id=world.orders["o4"])
    assert r.one("order")["status"] == "new"
