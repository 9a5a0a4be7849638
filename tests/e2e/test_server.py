"""The real ``serviceguide`` command end to end: ``migrate``, ``demo-data --json`` and ``serve``
as separate processes on SQLite and PostgreSQL, and a client that speaks only the documented XSP
protocol (README.md and docs/api.md) over real HTTP on 127.0.0.1.

The tests of a module share one deployment per backend; they run in file order, so the listings
that compare with the demo data's statuses come before the tests that change statuses.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Deployment, Server
from tests.support.xsp import PATH, Reply, Session, XspClient, norm, parse

pytestmark = pytest.mark.e2e
#: This module tests ``migrate`` and ``demo-data`` themselves: its deployments are set up by
#: the commands, never copied from another deployment's database (tests/e2e/conftest.py).
SET_UP_BY_COMMANDS = True

FORMATS = [None, "json"]
FMT_IDS = ["xml", "json"]
STATUSES = {"new", "received", "active", "waiting", "cancelled", "delivered"}
ORDER_FIELDS = {"id", "type", "date", "status", "service", "xsp", "delivery", "customer"}
INFO_FIELDS = ORDER_FIELDS | {
    "service_uid", "service_name", "xsp_name", "coid", "socket",
    "price_monthly", "price_once", "message", "updated",
}  # fmt: skip


def today() -> str:
    """Dates in the API are Europe/Stockholm local time."""
    return datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()


def demo_orders(demo: dict[str, Any], **where: Any) -> list[dict[str, Any]]:
    """The demo JSON's orders matching every ``key=value``, by ascending id."""
    rows = [o for o in demo["orders"] if all(o[k] == v for k, v in where.items())]
    return sorted(rows, key=lambda o: o["id"])


def brief(order: dict[str, Any]) -> tuple[str, str, str, str]:
    """What an ``orders`` row and a demo JSON order have in common, as XML carries it."""
    return (str(order["id"]), str(order["xsp"]), str(order["customer"]), str(order["status"]))


async def login(client: XspClient, who: dict[str, Any]) -> tuple[Session, str]:
    """Log in as a demo API user; the session and the user's name from the login message."""
    r = await client.call("api_login", api_user=who["api_user"], api_key=who["api_key"])
    assert (r.code, r.root, r.status) == (200, "api_login", "success"), (r.code, r.response)
    assert re.fullmatch(r"[0-9a-f]{32}", r.response["hash_key"]), r.response
    assert r.message.endswith(" logged in"), r.message
    return Session(client, r.response["hash_key"]), r.message.removesuffix(" logged in")


def ok(r: Reply, root: str) -> Reply:
    assert (r.code, r.root, r.status) == (200, root, "success"), (r.code, r.root, r.response)
    return r


def failed(r: Reply, code: int, root: str) -> Reply:
    assert (r.code, r.root, r.status) == (code, root, "failed"), (r.code, r.root, r.response)
    assert norm(r.response.get("code")) == str(code), r.response
    return r


def check_format(r: Reply, fmt: str | None) -> None:
    ctype = r.http.headers["content-type"]
    assert ctype.startswith("application/json" if fmt == "json" else "application/xml"), ctype


async def status_of(s: Session, order_id: int) -> str:
    return str(ok(await s.call("order_info", id=order_id), "order_info").one("order")["status"])


async def log_of(s: Session, order_id: int, fmt: str | None = None) -> list[dict[str, Any]]:
    return ok(await s.call("order_log", id=order_id, fmt=fmt), "order_log").items("entry")


async def toggle_status(s: Session, order_id: int) -> tuple[str, str]:
    """Move an order in an open status to another open one (active ↔ waiting, received →
    active); returns (old, new)."""
    old = await status_of(s, order_id)
    assert old in {"received", "active", "waiting"}, (order_id, old)
    new = "waiting" if old == "active" else "active"
    r = ok(await s.call("set_status", id=order_id, status=new), "set_status")
    assert r.message == f"Status changed to {new} for order {order_id}"
    return old, new


def open_order(demo: dict[str, Any], **where: Any) -> int:
    """A demo order that is neither new nor final (so status tests do not use up new ones)."""
    found = [
        o["id"]
        for o in demo_orders(demo, **where)
        if o["status"] in {"received", "active", "waiting"}
    ]
    assert found, f"the demo data has no open, non-new order with {where}"
    return int(found[0])


# --- 1. migrate and demo-data -------------------------------------------------------------------


def test_demo_data_json_holds_everything_the_contract_requires(deployment: Deployment):
    d = deployment.demo
    assert {"kos", "tls", "accesses", "staff", "orders"} <= set(d)

    assert len(d["kos"]) >= 2
    coids = {ko["coid"] for ko in d["kos"]}
    assert len(coids) == len(d["kos"])
    for ko in d["kos"]:
        assert ko["name"] and isinstance(ko["api_user"], int) and ko["api_key"]
        assert "activation_url" in ko

    assert len(d["tls"]) == 2
    xsps = {tl["xsp"] for tl in d["tls"]}
    assert len(xsps) == 2 and all(isinstance(x, int) for x in xsps)
    networks_of: dict[int, set[str]] = {}
    for tl in d["tls"]:
        assert tl["name"] and "@" in tl["email"] and tl["api_key"]
        assert isinstance(tl["api_user"], int)
        assert tl["services"], f"TL {tl['xsp']} has no services"
        for s in tl["services"]:
            assert isinstance(s["id"], int) and s["uid"] and s["name"] and s["coid"] in coids
        networks_of[tl["xsp"]] = {s["coid"] for s in tl["services"]}
    assert set.intersection(*networks_of.values()), "no network is served by both TLs"
    activation = {ko["coid"]: ko["activation_url"] for ko in d["kos"]}
    direct = [s for tl in d["tls"] for s in tl["services"] if s.get("direct_activation")]
    assert direct, "no service with direct activation"
    assert all(activation[s["coid"]] for s in direct)

    assert len(d["accesses"]) >= 20
    assert {
        "coid": "SNFDMO", "accessId": "AB123", "address": "Demogatan 123, 12345 Demostad",
    } in d["accesses"]  # fmt: skip
    assert all(a["coid"] in coids for a in d["accesses"])

    for coid in coids:
        assert [u for u in d["staff"] if u.get("coid") == coid and u["username"] and u["password"]]
    for xsp in xsps:
        assert [u for u in d["staff"] if u.get("xsp") == xsp and u["username"] and u["password"]]

    ids = [o["id"] for o in d["orders"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for o in d["orders"]:
        assert o["xsp"] in xsps and o["coid"] in coids and o["status"] in STATUSES
        assert isinstance(o["customer"], int)
    for xsp in xsps:
        mine = demo_orders(d, xsp=xsp)
        assert len([o for o in mine if o["status"] == "new"]) >= 2, mine
        assert len({o["status"] for o in mine} - {"new"}) >= 2, mine


def test_demo_data_a_second_time_prints_the_same_credentials_and_adds_no_orders(
    deployment: Deployment,
):
    first, again = deployment.demo, deployment.demo_data_json()
    for key in ("kos", "tls", "staff", "accesses"):
        assert again[key] == first[key], key
    assert [(o["id"], o["xsp"], o["coid"], o["customer"]) for o in again["orders"]] == [
        (o["id"], o["xsp"], o["coid"], o["customer"]) for o in first["orders"]
    ]


# --- 2. a TL's integration over HTTP ------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=FMT_IDS)
async def test_each_tl_polls_orders_by_date_and_gets_exactly_its_demo_orders(
    deployment: Deployment, servers: list[Server], fmt: str | None
):
    demo = deployment.demo
    accesses = {(a["coid"], a["accessId"]) for a in demo["accesses"]}
    async with XspClient.over_http(servers[0].base_url) as client:
        for tl in demo["tls"]:
            s, _ = await login(client, tl)
            r = ok(await s.call("orders", date=today(), fmt=fmt), "orders")
            check_format(r, fmt)
            got = r.items("order")
            expected = demo_orders(demo, xsp=tl["xsp"])
            assert [brief(o) for o in got] == [brief(o) for o in expected]
            for o in got:
                assert set(o) == ORDER_FIELDS and o["type"] == "order"
                assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", o["date"]), o
                assert o["date"].startswith(today())
                assert o["delivery"] == "asap" or re.fullmatch(r"\d{4}-\d\d-\d\d", o["delivery"])
            for o in expected:  # the demo JSON's coid is the network of the order's access
                info = ok(await s.call("order_info", id=o["id"]), "order_info").one("order")
                assert info["coid"] == o["coid"]
                assert (info["coid"], info["socket"]) in accesses


@pytest.mark.parametrize("fmt", FORMATS, ids=FMT_IDS)
async def test_each_tl_polling_with_since_id_and_limit_2_gets_every_order_once_in_order(
    deployment: Deployment, servers: list[Server], fmt: str | None
):
    async with XspClient.over_http(servers[0].base_url) as client:
        for tl in deployment.demo["tls"]:
            s, _ = await login(client, tl)
            by_date = ok(await s.call("orders", date=today(), fmt=fmt), "orders").items("order")
            seen: list[int] = []
            since = 0
            for _ in range(100):
                r = ok(await s.call("orders", since_id=since, limit=2, fmt=fmt), "orders")
                page = [int(o["id"]) for o in r.items("order")]
                assert len(page) <= 2
                if not page:
                    break
                seen += page
                since = page[-1]
            else:
                pytest.fail("since_id polling never came to an empty page")
            assert seen == sorted(set(seen)), seen
            assert seen == [int(o["id"]) for o in by_date]
            assert seen == [o["id"] for o in demo_orders(deployment.demo, xsp=tl["xsp"])]


@pytest.mark.parametrize("fmt", FORMATS, ids=FMT_IDS)
async def test_a_tl_reads_order_info_customer_info_and_order_log_of_its_order(
    deployment: Deployment, servers: list[Server], fmt: str | None
):
    demo = deployment.demo
    async with XspClient.over_http(servers[1].base_url) as client:
        for tl in demo["tls"]:
            s, _ = await login(client, tl)
            order = demo_orders(demo, xsp=tl["xsp"])[0]
            r = ok(await s.call("order_info", id=order["id"], fmt=fmt), "order_info")
            check_format(r, fmt)
            info = r.one("order")
            assert set(info) == INFO_FIELDS
            assert brief(info) == brief(order) and info["coid"] == order["coid"]
            assert info["xsp_name"] == tl["name"]
            service = next(x for x in tl["services"] if str(x["id"]) == info["service"])
            assert (info["service_uid"], info["service_name"]) == (service["uid"], service["name"])
            assert re.fullmatch(r"\d+\.\d\d", info["price_monthly"]), info

            r = ok(await s.call("customer_info", id=order["customer"], fmt=fmt), "customer_info")
            customer = r.one("customer")
            assert customer["id"] == str(order["customer"])
            assert customer["socket"] == info["socket"]
            assert re.fullmatch(r"\d{12}", customer["serial"]), customer
            assert customer["firstname"] and customer["surname"] and "@" in customer["email"]
            assert set(norm(r.response["data"])) == {"phone", "premise"}

            entries = await log_of(s, order["id"], fmt)
            assert entries, "a demo order has no log entries"
            assert [int(e["id"]) for e in entries] == sorted(int(e["id"]) for e in entries)
            for e in entries:
                assert {"id", "date", "type", "message", "user", "org"} <= set(e)
                assert e["type"] in {"error", "alert", "system", "log"}


@pytest.mark.parametrize("fmt", FORMATS, ids=FMT_IDS)
async def test_each_tl_takes_a_new_order_through_its_lifecycle_and_adds_every_message_type(
    deployment: Deployment, servers: list[Server], fmt: str | None
):
    demo = deployment.demo
    async with XspClient.over_http(servers[0].base_url) as client:
        for tl in demo["tls"]:
            s, user = await login(client, tl)
            new = [o["id"] for o in demo_orders(demo, xsp=tl["xsp"], status="new")]
            oid = new[FORMATS.index(fmt)]  # one new order per format
            assert await status_of(s, oid) == "new"
            before = await log_of(s, oid)

            path = ["new", "received", "active", "waiting", "active", "delivered"]
            for old, status in itertools.pairwise(path):
                r = ok(await s.call("set_status", id=oid, status=status, fmt=fmt), "set_status")
                check_format(r, fmt)
                assert r.message == f"Status changed to {status} for order {oid}"
                assert await status_of(s, oid) == status, (old, status)

            texts = {t: f"E2E {t} {fmt or 'xml'} <&> åäö" for t in ("error", "alert", "system")}
            texts["log"] = f"E2E log {fmt or 'xml'} \"quoted\" 'single'"
            for mtype, text in texts.items():
                r = ok(
                    await s.call("add_message", id=oid, type=mtype, message=text, fmt=fmt),
                    "add_message",
                )
                assert r.message == f"Message added to order {oid}"

            after = await log_of(s, oid, fmt)
            assert after[: len(before)] == before
            added = after[len(before) :]
            assert [e["type"] for e in added] == ["system"] * 5 + list(texts)
            for e, (old, status) in zip(added, itertools.pairwise(path), strict=False):
                assert old in e["message"] and status in e["message"], e
            assert [e["message"] for e in added[5:]] == list(texts.values())
            assert all(e["user"] == user and e["org"] == tl["name"] for e in added), added

            for status in ("active", "new", "received"):  # delivered is final
                r = failed(
                    await s.call("set_status", id=oid, status=status, fmt=fmt), 409, "set_status"
                )
                assert "delivered" in r.message and status in r.message, r.message
            assert await status_of(s, oid) == "delivered"
            assert await log_of(s, oid) == after


async def snapshot(client: XspClient, demo: dict[str, Any]) -> dict[int, Any]:
    """Every demo order's status and log, as its own TL sees them."""
    out: dict[int, Any] = {}
    for tl in demo["tls"]:
        s, _ = await login(client, tl)
        for o in demo_orders(demo, xsp=tl["xsp"]):
            out[o["id"]] = (await status_of(s, o["id"]), await log_of(s, o["id"]))
    return out


@pytest.mark.parametrize("fmt", FORMATS, ids=FMT_IDS)
async def test_a_tl_gets_404_for_every_order_and_customer_of_the_other_tl(
    deployment: Deployment, servers: list[Server], fmt: str | None
):
    demo = deployment.demo
    async with XspClient.over_http(servers[1].base_url) as client:
        before = await snapshot(client, demo)
        for tl in demo["tls"]:
            s, _ = await login(client, tl)
            mine = demo_orders(demo, xsp=tl["xsp"])
            my_customers = {o["customer"] for o in mine}
            others = [o for o in demo["orders"] if o["xsp"] != tl["xsp"]]
            assert others
            for o in others:
                for method, params in [
                    ("order_info", {}),
                    ("order_log", {}),
                    ("set_status", {"status": "cancelled"}),
                    ("add_message", {"type": "log", "message": "not mine"}),
                ]:
                    r = await s.call(method, id=o["id"], fmt=fmt, **params)
                    check_format(r, fmt)
                    failed(r, 404, method)
                if o["customer"] not in my_customers:
                    r = await s.call("customer_info", id=o["customer"], fmt=fmt)
                    failed(r, 404, "customer_info")
            r = await s.call("orders", date=today(), fmt=fmt)
            assert [int(o["id"]) for o in r.items("order")] == [o["id"] for o in mine]
        assert await snapshot(client, demo) == before  # those requests changed nothing


# --- 3. a KO's integration ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=FMT_IDS)
async def test_the_ko_of_snfdmo_sees_the_orders_on_its_network_and_can_change_them(
    deployment: Deployment, servers: list[Server], fmt: str | None
):
    demo = deployment.demo
    ko = next(k for k in demo["kos"] if k["coid"] == "SNFDMO")
    async with XspClient.over_http(servers[1].base_url) as client:
        s, user = await login(client, ko)
        r = ok(await s.call("orders", date=today(), fmt=fmt), "orders")
        got = [(o["id"], o["xsp"], o["customer"]) for o in r.items("order")]
        expected = [brief(o)[:3] for o in demo_orders(demo, coid="SNFDMO")]
        assert got == expected

        oid = open_order(demo, coid="SNFDMO")
        old, new = await toggle_status(s, oid)
        text = f"KO e2e {fmt or 'xml'}: port kontrollerad"
        r = ok(await s.call("add_message", id=oid, type="alert", message=text, fmt=fmt),
               "add_message")  # fmt: skip
        assert r.message == f"Message added to order {oid}"

        order = next(o for o in demo["orders"] if o["id"] == oid)
        tl = next(t for t in demo["tls"] if t["xsp"] == order["xsp"])
        tl_session, _ = await login(client, tl)
        assert await status_of(tl_session, oid) == new
        entries = await log_of(tl_session, oid, fmt)
        status_entry, message_entry = entries[-2:]
        assert status_entry["type"] == "system"
        assert old in status_entry["message"] and new in status_entry["message"]
        assert (message_entry["type"], message_entry["message"]) == ("alert", text)
        assert (message_entry["user"], message_entry["org"]) == (user, ko["name"])


@pytest.mark.parametrize("fmt", FORMATS, ids=FMT_IDS)
async def test_the_ko_of_snbdmo_gets_404_for_every_order_on_snfdmo(
    deployment: Deployment, servers: list[Server], fmt: str | None
):
    demo = deployment.demo
    ko = next(k for k in demo["kos"] if k["coid"] == "SNBDMO")
    theirs = demo_orders(demo, coid="SNFDMO")
    assert theirs
    async with XspClient.over_http(servers[0].base_url) as client:
        s, _ = await login(client, ko)
        r = ok(await s.call("orders", date=today(), fmt=fmt), "orders")
        assert [int(o["id"]) for o in r.items("order")] == [
            o["id"] for o in demo_orders(demo, coid="SNBDMO")
        ]
        snb_customers = {o["customer"] for o in demo_orders(demo, coid="SNBDMO")}
        for o in theirs:
            failed(await s.call("order_info", id=o["id"], fmt=fmt), 404, "order_info")
            failed(await s.call("order_log", id=o["id"], fmt=fmt), 404, "order_log")
            r = await s.call("set_status", id=o["id"], status="cancelled", fmt=fmt)
            failed(r, 404, "set_status")
            if o["customer"] not in snb_customers:
                failed(await s.call("customer_info", id=o["customer"], fmt=fmt), 404,
                       "customer_info")  # fmt: skip


# --- 4. and 5. several server processes ---------------------------------------------------------


async def test_a_hash_from_one_server_process_is_valid_on_another_and_changes_are_shared(
    deployment: Deployment, servers: list[Server]
):
    demo = deployment.demo
    one, other = servers
    tl = demo["tls"][0]
    oid = open_order(demo, xsp=tl["xsp"])
    async with (
        XspClient.over_http(one.base_url) as a,
        XspClient.over_http(other.base_url) as b,
    ):
        s_a, _ = await login(a, tl)
        s_b = Session(b, s_a.hash)  # the hash from server one, used on server two
        ok(await s_b.call("orders", date=today()), "orders")
        s_b2, _ = await login(b, tl)
        ok(await Session(a, s_b2.hash).call("order_info", id=oid), "order_info")

        before = await log_of(s_b, oid)
        old, new = await toggle_status(s_a, oid)  # through server one
        assert await status_of(s_b, oid) == new  # seen through server two
        after = await log_of(s_b, oid)
        assert after[: len(before)] == before and len(after) == len(before) + 1
        assert old in after[-1]["message"] and new in after[-1]["message"]

        old2, new2 = await toggle_status(s_b, oid)  # and back, through server two
        assert (old2, await status_of(s_a, oid)) == (new, new2)


async def test_twenty_concurrent_order_info_requests_succeed_with_two_workers(
    deployment: Deployment, servers: list[Server]
):
    server = servers[0]
    assert server.workers == 2
    tl = deployment.demo["tls"][1]
    ids = [o["id"] for o in demo_orders(deployment.demo, xsp=tl["xsp"])]
    async with XspClient.over_http(server.base_url) as client:
        s, _ = await login(client, tl)
        wanted = [ids[i % len(ids)] for i in range(20)]
        replies = await asyncio.gather(*(s.call("order_info", id=oid) for oid in wanted))
    assert [(r.code, r.status) for r in replies] == [(200, "success")] * 20
    assert [int(r.one("order")["id"]) for r in replies] == wanted
    assert server.alive()


# --- 6. login throttling across processes -------------------------------------------------------


async def test_failed_logins_spread_over_two_servers_throttle_the_next_login_on_both(
    new_deployment: Any,
):
    d: Deployment = new_deployment()
    tl = d.demo["tls"][0]
    with d.serving(1, 1, SERVICEGUIDE_LOGIN_FAILURES="3") as (one, two):
        async with (
            XspClient.over_http(one.base_url) as a,
            XspClient.over_http(two.base_url) as b,
        ):
            for client in (a, b, a):
                r = await client.call("api_login", api_user=tl["api_user"], api_key="wrong-key")
                failed(r, 401, "api_login")
            for client in (b, a):
                r = await client.call("api_login", api_user=tl["api_user"], api_key=tl["api_key"])
                failed(r, 429, "api_login")
                retry_after = r.http.headers.get("retry-after")
                assert retry_after is not None and retry_after.isdigit(), r.http.headers
                assert 0 < int(retry_after) <= 300
                assert "hash_key" not in r.response


# --- 7. no credentials in the log ---------------------------------------------------------------


async def test_the_servers_stderr_never_shows_the_hash_or_the_api_key(deployment: Deployment):
    tl = deployment.demo["tls"][1]
    oid = demo_orders(deployment.demo, xsp=tl["xsp"])[0]["id"]
    with deployment.serving(1) as (server,):
        async with XspClient.over_http(server.base_url) as client:
            s, _ = await login(client, tl)
            ok(await s.call("order_info", id=oid), "order_info")
            ok(await s.call("orders", date=today(), fmt="json"), "orders")
            r = await client.call("api_login", post=True, api_user=tl["api_user"],
                                  api_key=tl["api_key"])  # fmt: skip
            posted_hash = ok(r, "api_login").response["hash_key"]
            ok(await client.call("order_log", post=True, hash=posted_hash, id=oid), "order_log")
            bearer = await client.http.get(
                PATH,
                params={"method": "order_info", "id": oid},
                headers={"Authorization": f"Bearer {s.hash}"},
            )
            ok(parse(bearer), "order_info")
            # A failed login with a key in the URL is not logged either.
            wrong = await client.call("api_login", api_user=tl["api_user"], api_key="Wr0ngKey99")
            failed(wrong, 401, "api_login")
    log = server.stderr()
    assert PATH in log, f"the server logged no requests at all:\n{log}"
    for secret in (s.hash, posted_hash, tl["api_key"], "Wr0ngKey99"):
        assert secret not in log, f"{secret!r} appears in the server's stderr:\n{log}"
