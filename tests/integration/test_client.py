"""``serviceguide.client`` against the real XSP API (in-process app, real database), sync and
async, XML and JSON: paging, typed records, errors with the server's message and code, hash
renewal, and which calls are retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from serviceguide.app import create_app
from serviceguide.client import (
    AsyncXspClient,
    BadRequest,
    Conflict,
    Customer,
    NotFound,
    OrderInfo,
    RetryPolicy,
    TooManyRequests,
    Unauthorized,
    XspClient,
    XspUnavailable,
)
from serviceguide.services.context import AppContext
from tests.support.world import World

pytestmark = pytest.mark.integration
FORMATS = ["xml", "json"]


class BridgeTransport(httpx.BaseTransport):
    """Lets a *sync* httpx client (running in a worker thread) call the ASGI app on the test's
    event loop, so the sync client is tested against the real app and database."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
        self.loop = loop
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)

        async def go() -> httpx.Response:
            copy = httpx.Request(
                request.method, request.url, headers=request.headers, content=request.read()
            )
            resp = await self.inner.handle_async_request(copy)
            body = await resp.aread()
            return httpx.Response(resp.status_code, headers=resp.headers, content=body)

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(30)


@pytest.fixture
def app(ctx: AppContext) -> Any:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    return app


@pytest.fixture
async def sync_client(
    app: Any, world: World
) -> AsyncIterator[Callable[..., tuple[XspClient, BridgeTransport]]]:
    made: list[XspClient] = []

    def make(who: str = "TL1", **options: Any) -> tuple[XspClient, BridgeTransport]:
        transport = BridgeTransport(app, asyncio.get_running_loop())
        login = world.users[who]
        http = httpx.Client(transport=transport, base_url="http://testserver")
        client = XspClient("http://testserver", login.api_user, login.api_key, http=http, **options)
        made.append(client)
        return client, transport

    yield make
    for c in made:
        c.close()


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_sync_client_pages_orders_with_since_id(sync_client, world: World, fmt: str):
    client, transport = sync_client(fmt=fmt)
    orders = await in_thread(lambda: list(client.iter_orders(0, limit=1)))
    assert [o.id for o in orders] == sorted(world.visible_orders("TL1"))
    pages = [r for r in transport.requests if r.url.params.get("method") == "orders"]
    assert len(pages) == len(orders) + 1  # one order per page, then an empty page
    assert all("hash" not in r.url.params for r in transport.requests)  # Bearer, not the URL
    later = await in_thread(lambda: list(client.iter_orders(orders[0].id)))
    assert [o.id for o in later] == [o.id for o in orders[1:]]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_sync_client_reads_typed_order_customer_and_log(sync_client, world: World, fmt: str):
    client, _ = sync_client(fmt=fmt)
    order_id = world.orders["o1"]
    info = await in_thread(lambda: client.order_info(order_id))
    assert isinstance(info, OrderInfo) and info.id == order_id and info.coid == "KOA"
    assert info.status == "new" and isinstance(info.price_monthly, float)
    customer = await in_thread(lambda: client.customer_info(info.customer))
    assert isinstance(customer, Customer) and customer.id == info.customer
    assert len(customer.serial) == 12 and customer.email
    await in_thread(lambda: client.set_status(order_id, "received"))
    await in_thread(lambda: client.add_message(order_id, "Aktivering beställd", "log"))
    entries = await in_thread(lambda: client.order_log(order_id))
    assert entries[-1].type == "log" and entries[-1].message == "Aktivering beställd"
    events = await in_thread(lambda: client.events(0))
    mine = [e for e in events if e.order == order_id]
    assert [e.type for e in mine][-2:] == ["status_changed", "message_added"]
    assert mine[-1].message_type == "log" and mine[-2].message_type is None


async def test_xml_and_json_give_the_same_records(sync_client, world: World):
    xml, _ = sync_client(fmt="xml")
    js, _ = sync_client(fmt="json")
    oid = world.orders["o4"]
    assert await in_thread(lambda: xml.order_info(oid)) == await in_thread(
        lambda: js.order_info(oid)
    )
    cid = (await in_thread(lambda: xml.order_info(oid))).customer
    assert await in_thread(lambda: xml.customer_info(cid)) == await in_thread(
        lambda: js.customer_info(cid)
    )


@pytest.mark.parametrize("fmt", FORMATS)
async def test_failures_carry_the_servers_message_and_code(sync_client, world: World, fmt: str):
    client, _ = sync_client(fmt=fmt)
    other = world.orders["o2"]  # TL2's order: invisible to TL1
    with pytest.raises(NotFound) as e404:
        await in_thread(lambda: client.order_info(other))
    assert e404.value.code == 404 and e404.value.message == f"No order with id {other}"
    with pytest.raises(BadRequest) as e400:
        await in_thread(lambda: client.set_status(world.orders["o1"], "done"))
    assert e400.value.code == 400 and "Unknown status 'done'" in e400.value.message
    await in_thread(lambda: client.set_status(world.orders["o1"], "cancelled"))
    with pytest.raises(Conflict) as e409:
        await in_thread(lambda: client.set_status(world.orders["o1"], "active"))
    assert e409.value.code == 409
    assert e409.value.message == "Status change from cancelled to active is not allowed"
    bad, _ = sync_client(fmt=fmt)
    bad.api_key = "wrong"
    with pytest.raises(Unauthorized) as e401:
        await in_thread(lambda: bad.orders(since_id=0))
    assert e401.value.message == "Invalid api_user or api_key" and e401.value.method == "api_login"


async def test_the_hash_is_renewed_before_it_expires_and_once_on_a_401(sync_client):
    now = [1000.0]
    client, transport = sync_client(clock=lambda: now[0], hash_ttl=100)

    def logins() -> int:
        return sum(1 for r in transport.requests if b"api_login" in r.read())

    await in_thread(lambda: client.orders(since_id=0))
    now[0] += 79  # below 80 % of the life: the same hash
    await in_thread(lambda: client.orders(since_id=0))
    assert logins() == 1
    now[0] += 2  # past 80 %: renewed before the call
    await in_thread(lambda: client.orders(since_id=0))
    assert logins() == 2
    client._hash = "0" * 32  # the server no longer knows it: 401, log in again, repeat once
    await in_thread(lambda: client.orders(since_id=0))
    assert logins() == 3


async def test_async_client_over_asgi(app: Any, world: World):
    login = world.users["TL1"]
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50002)),
        base_url="http://testserver",
    )
    async with AsyncXspClient(
        "http://testserver", login.api_user, login.api_key, http=http, fmt="json"
    ) as xsp:
        ids = [o.id async for o in xsp.aiter_orders(0, limit=2)]
        assert ids == sorted(world.visible_orders("TL1"))
        info = await xsp.order_info(ids[0])
        assert (await xsp.customer_info(info.customer)).id == info.customer
        with pytest.raises(NotFound):
            await xsp.order_info(world.orders["o2"])
        assert "received" in await xsp.set_status(ids[0], "received")
        assert await xsp.order_log(ids[0])


def test_reads_are_retried_on_5xx_and_connection_errors_writes_are_not():
    calls: list[str] = []
    sleeps: list[float] = []
    login = (
        "<api_login><response><hash_key>h</hash_key></response><status>success</status></api_login>"
    )
    empty = "<orders><response></response><status>success</status></orders>"

    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode())) or dict(request.url.params)
        method = form["method"]
        calls.append(method)
        xml = {"content-type": "application/xml"}
        if method == "api_login":
            return httpx.Response(200, headers=xml, content=login)
        if method == "orders" and calls.count("orders") == 1:
            raise httpx.ConnectError("refused")
        if method == "orders" and calls.count("orders") == 2:
            return httpx.Response(503, content=b"upstream down")
        if method == "orders" and calls.count("orders") == 3:
            return httpx.Response(429, headers={"retry-after": "7"}, content=b"")
        if method == "orders":
            return httpx.Response(200, headers=xml, content=empty)
        return httpx.Response(502, content=b"bad gateway")

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://x")
    client = XspClient(
        "http://x", 1, "k", http=http, sleep=sleeps.append, retry=RetryPolicy(5, 0.5, 30)
    )
    assert client.orders(since_id=0) == []
    assert calls.count("orders") == 4 and sleeps == [0.5, 1.0, 7.0]  # 429 waits Retry-After
    with pytest.raises(XspUnavailable) as e:
        client.add_message(1, "text", "log")
    assert calls.count("add_message") == 1 and e.value.code == 502  # never repeated blindly


def test_a_throttled_login_is_raised_at_once_with_retry_after():
    sleeps: list[float] = []
    throttled = (
        "<api_login><response><message>Too many failed logins, try again later</message>"
        "<code>429</code></response><status>failed</status></api_login>"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            headers={"content-type": "application/xml", "retry-after": "299"},
            content=throttled,
        )

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://x")
    client = XspClient("http://x", 1, "k", http=http, sleep=sleeps.append)
    with pytest.raises(TooManyRequests) as e:
        client.orders(since_id=0)
    assert e.value.retry_after == 299 and e.value.code == 429 and sleeps == []
    assert e.value.message == "Too many failed logins, try again later"
