"""Orders pushed to their TL over ON-API 2.6 (``order``), against real HTTP peers: the body
field by field as spec_sp/order.md has it, Basic auth and ``X-Order-ID``; CONFIRMED →
received and REJECTED → cancelled, each with its log entry and event; ``status`` in place of
``state``; a timeout, a 500, a refused connection, an answer that is not JSON or names no
state → PENDING, retried by the relay with the back-off and attempt log of every outbox row,
the order changed once however late an answer comes; the fallback e-mail; the guide's JSON
answer; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from serviceguide.app import create_app
from serviceguide.domain.outbox import OutboxKind, OutboxState
from serviceguide.domain.sp import SpState
from serviceguide.services import sp_settings
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import events, order_log, orders
from tests.support.notify import attempts, drain, later, rows, with_settings
from tests.support.servers import ReservedPort
from tests.support.sp import MESSAGES, RecordingSp, recording_sp
from tests.support.world import SERIALS, World

pytestmark = pytest.mark.integration


@pytest.fixture
def sp() -> Iterator[RecordingSp]:
    with recording_sp() as server:
        yield server


async def push_to(ctx: AppContext, url: str, delivery: str = "onapi", xsp: int = 1001) -> None:
    """The TL's pushes go to ``url``; the test world's own e-mails are sent first, out of the
    way of the relay's tallies."""
    await drain(ctx)
    await sp_settings.set_onapi(
        ctx, xsp, url, username="guide", password="hemligt-42", delivery=delivery
    )


async def status(ctx: AppContext, order_id: int) -> str:
    async with ctx.db.read() as conn:
        q = select(orders.c.status).where(orders.c.id == order_id)
        return str((await conn.execute(q)).scalar_one())


async def log_codes(ctx: AppContext, order_id: int) -> list[tuple[str | None, dict[str, Any]]]:
    async with ctx.db.read() as conn:
        q = (
            select(order_log.c.code, order_log.c.params)
            .where(order_log.c.order_id == order_id)
            .order_by(order_log.c.id)
        )
        return [(r.code, json.loads(r.params or "{}")) for r in await conn.execute(q)]


async def status_events(ctx: AppContext, order_id: int) -> list[str]:
    async with ctx.db.read() as conn:
        q = (
            select(events.c.status)
            .where(events.c.order_id == order_id, events.c.type == "status_changed")
            .order_by(events.c.id)
        )
        return [r.status for r in await conn.execute(q)]


async def mails_for(ctx: AppContext, *order_ids: int) -> list[Any]:
    return [m for m in await rows(ctx, kind=OutboxKind.MAIL.value) if m.order_id in order_ids]


async def place_one(ctx: AppContext, services: list[int] | None = None, i: int = 1) -> Any:
    from serviceguide.domain.ordering import OrderRequest
    from serviceguide.services import placing
    from tests.support.world import customer

    return await placing.place_order(
        ctx,
        OrderRequest(
            coid="KOA",
            access_id="A4",
            service_ids=services or [101],
            customer=customer(i),
            delivery=None,
            message="",
        ),
    )


async def test_a_confirmed_push_sends_the_spec_body_and_makes_the_order_received(
    ctx: AppContext, world: World, sp: RecordingSp
):
    await push_to(ctx, sp.base(1001))
    placed = await place_one(ctx)
    [order] = placed.orders
    assert order.sp is not None
    assert (order.sp.state, order.sp.external_message) == (SpState.CONFIRMED, MESSAGES["confirm"])
    assert placed.to_public()["orders"][0]["sp"] == {
        "state": "CONFIRMED",
        "externalMessage": MESSAGES["confirm"],
    }
    assert placed.to_public()["orders"][0]["status"] == "received"

    [call] = sp.calls
    assert call.path == "/1001/onapi/2.6/order/"
    assert call.basic == ("guide", "hemligt-42")
    assert call.order_id == order.id
    assert call.headers["content-type"] == "application/json"
    body = call.body
    assert set(body) == {
        "coAccessId",
        "operation",
        "orderDateTime",
        "requestedDateTime",
        "products",
        "customerDetails",
    }
    assert body["coAccessId"] == "A4"
    assert body["operation"] == "ACTIVATE"
    for name in ("orderDateTime", "requestedDateTime"):
        assert len(body[name]) == 20 and body[name].endswith("Z") and body[name][10] == "T"
    assert body["requestedDateTime"] == body["orderDateTime"]  # as soon as possible
    assert body["products"] == [{"productId": "S1UID", "offeringId": "S1UID"}]
    assert body["customerDetails"] == {
        "identifiedCustomer": False,
        "personalIdentityNumber": "19800202-2344",  # the customer's, as the spec writes it
        "firstName": "Förnamn1",
        "firstname": "Förnamn1",
        "lastName": "Efternamn1",
        "mobilePhone": "070-1234567",
        "email": "kund1@example.se",
        "invoiceDetails": {
            "streetName": "A-gatan",
            "streetNumber": "4",
            "streetLittera": "",
            "postalCode": "12345",
            "city": "Teststad",
        },
    }

    assert await status(ctx, order.id) == "received"
    codes = await log_codes(ctx, order.id)
    assert codes[-1] == ("sp_confirmed", {"xsp": "1001", "message": MESSAGES["confirm"]})
    assert await status_events(ctx, order.id) == ["received"]
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert (push.state, push.attempts, push.order_id) == ("delivered", 1, order.id)
    [attempt] = await attempts(ctx, push.id)
    assert attempt.outcome == "delivered"
    assert await mails_for(ctx, order.id) == []  # delivery onapi: no e-mail


async def test_a_rejected_push_cancels_the_order_with_the_tls_message(
    ctx: AppContext, world: World, sp: RecordingSp
):
    sp.mode = "reject"
    await push_to(ctx, sp.base(1001))
    [order] = (await place_one(ctx)).orders
    assert order.sp is not None and order.sp.state == SpState.REJECTED
    assert order.sp.external_message == MESSAGES["reject"]
    assert order.status == "cancelled"
    assert await status(ctx, order.id) == "cancelled"
    assert (await log_codes(ctx, order.id))[-1] == (
        "sp_rejected",
        {"xsp": "1001", "message": MESSAGES["reject"]},
    )
    assert await status_events(ctx, order.id) == ["cancelled"]


async def test_status_in_place_of_state_is_an_answer_too(
    ctx: AppContext, world: World, sp: RecordingSp
):
    sp.mode = "status"
    await push_to(ctx, sp.base(1001))
    [order] = (await place_one(ctx)).orders
    assert order.sp is not None and order.sp.state == SpState.CONFIRMED
    assert await status(ctx, order.id) == "received"


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("500", "HTTP 500: Internt fel 12345"),
        ("garbage", "not JSON"),
        ("nostate", "names no known state"),
    ],
)
async def test_no_usable_answer_is_pending_and_the_relay_retries_until_answered(
    ctx: AppContext, world: World, sp: RecordingSp, mode: str, error: str
):
    sp.mode = mode  # type: ignore[assignment]
    await push_to(ctx, sp.base(1001))
    [order] = (await place_one(ctx)).orders
    assert order.sp is not None and order.sp.to_public() == {
        "state": "PENDING",
        "externalMessage": "",
    }
    assert await status(ctx, order.id) == "new"
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert (push.state, push.attempts) == ("pending", 1)
    assert error in push.last_error

    await drain(ctx)  # not due yet: the back-off holds
    assert (await rows(ctx, kind=OutboxKind.SP_ORDER.value))[0].attempts == 1
    sp.mode = "confirm"
    await drain(ctx, clock=later(minutes=5))
    assert await status(ctx, order.id) == "received"
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert (push.state, push.attempts) == ("delivered", 2)
    assert [a.outcome for a in await attempts(ctx, push.id)] == ["error", "delivered"]
    assert len(sp.orders()) == 2 and {c.order_id for c in sp.orders()} == {order.id}


async def test_a_refused_connection_is_pending_and_the_push_goes_once_the_tl_is_back(
    ctx: AppContext, world: World, sp: RecordingSp
):
    closed = ReservedPort()  # bound, not listening: connections are refused
    await push_to(ctx, f"http://127.0.0.1:{closed.port}/1001/onapi/2.6")
    [order] = (await place_one(ctx)).orders
    assert order.sp is not None and order.sp.state == SpState.PENDING
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert "ConnectError" in push.last_error
    assert (await drain(ctx, clock=later(minutes=5))).retrying == 1  # still down
    await push_to(ctx, sp.base(1001))  # the TL is back (at another address)
    await drain(ctx, clock=later(hours=1))
    assert await status(ctx, order.id) == "received"
    assert [c.order_id for c in sp.orders()] == [order.id]
    closed.release()


async def test_an_answer_after_the_timeout_changes_the_order_once(
    ctx: AppContext, world: World, sp: RecordingSp
):
    quick = with_settings(ctx, sp_timeout_seconds=0.3)
    sp.delay = 1.0  # the TL answers CONFIRMED, too late
    await push_to(quick, sp.base(1001))
    [order] = (await place_one(quick)).orders
    assert order.sp is not None and order.sp.state == SpState.PENDING
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert "no answer within 0.3 s" in push.last_error
    assert await status(ctx, order.id) == "new"
    sp.delay = 0.0
    # The retries with the usual timeout: on a loaded machine an answer at once may still take
    # longer than 0.3 s, and only the placement's push is meant to time out.
    await drain(ctx, clock=later(minutes=5))
    assert (await drain(ctx, clock=later(hours=5))).delivered == 0  # nothing more to do
    assert await status(ctx, order.id) == "received"
    assert await status_events(ctx, order.id) == ["received"]
    assert [c for c, _p in await log_codes(ctx, order.id)].count("sp_confirmed") == 1
    assert [c.order_id for c in sp.orders()] == [order.id, order.id]  # the same X-Order-ID


async def test_delivery_onapi_mails_after_15_minutes_without_answer_once(
    ctx: AppContext, world: World, sp: RecordingSp
):
    sp.mode = "500"
    await push_to(ctx, sp.base(1001))
    [order] = (await place_one(ctx)).orders
    assert await mails_for(ctx, order.id) == []
    await drain(ctx, clock=later(minutes=5))  # a retry, still within the 15 minutes
    assert await mails_for(ctx, order.id) == []
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    # the back-off does not run past the moment the fallback falls due
    assert push.next_attempt_at <= push.created_at + timedelta(minutes=15)
    await drain(ctx, clock=later(minutes=16))
    assert len(await mails_for(ctx, order.id)) == 1
    codes = [c for c, _p in await log_codes(ctx, order.id)]
    assert codes.count("sp_fallback_mail") == 1
    await drain(ctx, clock=later(hours=3))
    assert len(await mails_for(ctx, order.id)) == 1  # once
    assert await status(ctx, order.id) == "new"


async def test_delivery_both_mails_at_once_and_mail_does_not_push(
    ctx: AppContext, world: World, sp: RecordingSp
):
    await push_to(ctx, sp.base(1001), delivery="both")
    await push_to(ctx, sp.base(1002), delivery="mail", xsp=1002)
    placed = await place_one(ctx, [101, 102])
    by_xsp = {o.xsp: o for o in placed.orders}
    assert by_xsp[1001].sp is not None and by_xsp[1001].sp.state == SpState.CONFIRMED
    assert by_xsp[1002].sp is None
    assert "sp" not in placed.to_public()["orders"][1]
    mails = await mails_for(ctx, *(o.id for o in placed.orders))
    assert sorted(m.order_id for m in mails) == sorted(o.id for o in placed.orders)
    assert [c.order_id for c in sp.orders()] == [by_xsp[1001].id]


async def test_a_tl_without_onapi_settings_any_more_gets_the_mail(
    ctx: AppContext, world: World, sp: RecordingSp
):
    sp.mode = "500"
    await push_to(ctx, sp.base(1001))
    [order] = (await place_one(ctx)).orders
    await sp_settings.set_onapi(ctx, 1001, "none")
    await drain(ctx, clock=later(minutes=5))
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert push.state == OutboxState.FAILED.value
    assert "no orders over ON-API" in push.last_error
    assert len(await mails_for(ctx, order.id)) == 1


async def test_the_guide_json_answer_carries_the_tls_answer_also_when_repeated(
    ctx: AppContext, world: World, sp: RecordingSp
):
    await push_to(ctx, sp.base(1001))
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
    doc = {
        "coid": "KOA",
        "accessId": "A1",
        "services": [101, 102],
        "customer": {
            "firstname": "Eva",
            "surname": "Ek",
            "serial": SERIALS[0],
            "email": "eva@example.se",
            "phone": "08-123 456 78",
        },
        "delivery": "asap",
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        headers = {"Idempotency-Key": "sp-1"}
        first = await client.post("/api/guide/orders", json=doc, headers=headers)
        again = await client.post("/api/guide/orders", json=doc, headers=headers)
    assert first.status_code == 201, first.text
    got = {o["xsp"]: o for o in first.json()["orders"]}
    assert got[1001]["sp"] == {"state": "CONFIRMED", "externalMessage": MESSAGES["confirm"]}
    assert "sp" not in got[1002]
    assert (got[1001]["status"], got[1002]["status"]) == ("received", "new")
    assert again.json()["orders"] == first.json()["orders"]
    assert len(sp.orders()) == 1
    assert sp.orders()[0].body["customerDetails"]["phone"] == "08-123 456 78"
    async with ctx.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(orders))).scalar_one() > 0


async def thanks_page(ctx: AppContext, token: str, lang: str) -> str:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("198.51.100.8", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.get(f"/thanks/{token}", params={"lang": lang})
    assert r.status_code == 200, r.text
    return r.text


@pytest.mark.parametrize(
    ("mode", "lang", "words"),
    [
        ("confirm", "sv", "har bekräftat beställningen och skriver:"),
        ("confirm", "en", "has confirmed the order and writes:"),
        ("reject", "sv", "kan inte ta emot beställningen och skriver:"),
        ("reject", "en", "cannot take the order and writes:"),
        ("500", "sv", "Leverantören bekräftar beställningen med e-post."),
        ("500", "en", "The provider will confirm the order by e-mail."),
    ],
)
async def test_the_thank_you_page_shows_the_tls_message_or_says_it_will_confirm_by_mail(
    ctx: AppContext, world: World, sp: RecordingSp, mode: str, lang: str, words: str
):
    sp.mode = mode  # type: ignore[assignment]
    await push_to(ctx, sp.base(1001))
    await sp_settings.set_onapi(ctx, 1002, sp.base(1002), delivery="mail")
    placed = await place_one(ctx, [101, 102])
    html = await thanks_page(ctx, placed.order_page_token, lang)
    assert words in html
    assert html.count('class="order__sp"') == 1  # only the pushed order has an answer
    if mode in MESSAGES:
        assert f'<blockquote class="order__sp-message">{MESSAGES[mode]}</blockquote>' in html


async def test_the_tls_message_is_shown_as_text_never_as_markup(
    ctx: AppContext, world: World, sp: RecordingSp
):
    MESSAGES["confirm"], kept = "<script>alert(1)</script> & välkommen", MESSAGES["confirm"]
    try:
        await push_to(ctx, sp.base(1001))
        placed = await place_one(ctx)
        html = await thanks_page(ctx, placed.order_page_token, "sv")
    finally:
        MESSAGES["confirm"] = kept
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; välkommen" in html


async def test_a_direct_activation_is_announced_with_an_activationnotice(
    ctx: AppContext, world: World, sp: RecordingSp
):
    from serviceguide.services import admin
    from serviceguide.simulator.activation import Network
    from serviceguide.simulator.app import create_simulator
    from tests.support.servers import serve_in_thread

    await push_to(ctx, sp.base(1001))
    await admin.create_service(
        ctx,
        xsp=1001,
        coid="KOA",
        uid="TVDIRECT",
        name="TV direkt",
        price_monthly="99",
        price_once="0",
        direct_activation=True,
        service_id=109,
    )
    net = Network("KOA", {"A4"})
    with serve_in_thread(create_simulator({"KOA": net})) as ko:
        await admin.set_activation_url(ctx, "KOA", f"{ko}/KOA/activation")
        [order] = (await place_one(ctx, [109])).orders
    assert order.status == "delivered" and order.sp is None  # a notice has no answer to show
    assert sp.calls == []  # not waited for: a relay sends it at once
    [notice_row] = await rows(ctx, kind=OutboxKind.SP_NOTICE.value)
    assert notice_row.next_attempt_at <= notice_row.created_at
    await drain(ctx)
    [call] = sp.notices()
    assert call.path == "/1001/onapi/2.6/activationnotice/"
    assert call.basic == ("guide", "hemligt-42") and call.order_id == order.id
    assert call.body["operation"] == "ACTIVATE" and call.body["coAccessId"] == "A4"
    assert call.body["products"] == [
        {"productId": "TVDIRECT", "offeringId": "TVDIRECT", "coProduct": ["TVDIRECT"]}
    ]
    assert call.body["customerDetails"]["lastName"] == "Efternamn1"
    [notice_row] = await rows(ctx, kind=OutboxKind.SP_NOTICE.value)
    assert notice_row.state == "delivered"
    assert await status(ctx, order.id) == "delivered"
    assert sp.orders() == [] and await mails_for(ctx, order.id) == []


async def test_the_sp_simulator_confirms_and_rejects_as_asked(ctx: AppContext, world: World):
    from serviceguide.simulator.app import create_sp_simulator
    from serviceguide.simulator.sp import SpSimConfig
    from tests.support.servers import serve_in_thread

    config = SpSimConfig(reject_rate=0.0)
    app = create_sp_simulator(config)
    with serve_in_thread(app) as url:
        await drain(ctx)
        await sp_settings.set_onapi(
            ctx, 1001, f"{url}/1001/onapi/2.6", username="sim", password="sim", delivery="onapi"
        )
        [confirmed] = (await place_one(ctx, i=1)).orders
        config.reject_rate = 1.0
        [rejected] = (await place_one(ctx, i=2)).orders
        await sp_settings.set_onapi(ctx, 1001, f"{url}/1001/onapi/2.6", password="wrong")
        [refused] = (await place_one(ctx, i=3)).orders
    assert confirmed.sp is not None and confirmed.sp.state == SpState.CONFIRMED
    assert confirmed.sp.external_message.startswith("Tack för din beställning")
    assert rejected.sp is not None and rejected.sp.state == SpState.REJECTED
    assert refused.sp is not None and refused.sp.state == SpState.PENDING
    got = app.state.sp_received
    assert set(got.orders) == {str(confirmed.id), str(rejected.id)}  # the simulator's checks
    [push] = [r for r in await rows(ctx, kind="sp_order") if r.order_id == refused.id]
    assert push.last_error.startswith("HTTP 401")


async def test_each_order_is_pushed_once_across_two_servers_and_two_relays(
    ctx: AppContext, world: World, sp: RecordingSp
):
    """PostgreSQL: two servers place orders at once while two relays retry the pushes an outage
    left (retried at once: no back-off here); each order gets one answered push and one status
    change."""
    import asyncio

    from serviceguide.notify.relay import Relay
    from serviceguide.storage.db import Database

    if not ctx.db.is_postgres:
        pytest.skip("several processes share one database on PostgreSQL")
    now_again = {"outbox_backoff_base_seconds": 0.0, "outbox_backoff_cap_seconds": 0.0}
    one = with_settings(ctx, **now_again)
    other_db = Database(ctx.settings.database_url, pool_size=5)
    other = AppContext(db=other_db, settings=one.settings)
    try:
        await push_to(ctx, sp.base(1001))
        sp.mode = "500"  # an outage first: every push is left pending
        servers = [one, other]
        first = await asyncio.gather(*(place_one(servers[i % 2], i=i) for i in range(12)))
        sp.mode, sp.delay = "confirm", 0.02

        async def relay(c: AppContext, name: str) -> None:
            async with Relay(c, name=name) as r:
                for _ in range(6):
                    await r.drain()

        second, *_ = await asyncio.gather(
            asyncio.gather(*(place_one(servers[i % 2], i=i) for i in range(12, 24))),
            relay(one, "relay-a"),
            relay(other, "relay-b"),
        )
        await drain(one)
        placed = [o for p in (*first, *second) for o in p.orders]
        assert len(placed) == 24
        for o in placed:
            assert await status(ctx, o.id) == "received", o.id
            assert await status_events(ctx, o.id) == ["received"], o.id
        async with ctx.db.read() as conn:
            q = (
                select(order_log.c.order_id, func.count())
                .where(order_log.c.code == "sp_confirmed")
                .group_by(order_log.c.order_id)
            )
            logged = dict((await conn.execute(q)).all())
        assert logged == {o.id: 1 for o in placed}
        # One answered push per order: the 12 of the outage were posted once more each, the
        # 12 placed meanwhile once; never twice by two claimants.
        late = {o.id for p in second for o in p.orders}
        posts: dict[int, int] = {}
        for call in sp.orders():
            posts[call.order_id] = posts.get(call.order_id, 0) + 1
        assert {i: n for i, n in posts.items() if i in late} == {i: 1 for i in late}
        assert {i: n for i, n in posts.items() if i not in late} == {
            o.id: 2 for p in first for o in p.orders
        }
    finally:
        await other_db.dispose()


async def test_a_given_up_push_mails_at_once_and_the_outbox_commands_retry_it(
    ctx: AppContext, world: World, sp: RecordingSp, database_url: str
):
    from serviceguide.observability import metrics
    from tests.support.notify import command

    def pushes(outcome: str) -> float:
        return metrics.get().sp_push.labels(outcome)._value.get()

    pending_before, confirmed_before = pushes("pending"), pushes("confirmed")
    once = with_settings(ctx, outbox_max_attempts=1)
    sp.mode = "500"
    await push_to(once, sp.base(1001))
    [order] = (await place_one(once)).orders
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert push.state == OutboxState.FAILED.value  # its only attempt failed: given up
    assert len(await mails_for(ctx, order.id)) == 1  # the fallback mail does not wait for it

    listed = await command(database_url, "outbox", "list", "--kind", "sp_order", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert (entry["id"], entry["target"], entry["state"]) == (push.id, sp.base(1001), "failed")
    again = await command(database_url, "outbox", "retry", str(push.id))
    assert again.returncode == 0, again.stderr
    sp.mode = "confirm"
    await drain(ctx)
    [push] = await rows(ctx, kind=OutboxKind.SP_ORDER.value)
    assert push.state == OutboxState.DELIVERED.value
    assert await status(ctx, order.id) == "received"
    assert len(await mails_for(ctx, order.id)) == 1  # still the one mail
    assert (pushes("pending"), pushes("confirmed")) == (pending_before + 1, confirmed_before + 1)


async def test_the_pushes_of_orders_placed_together_go_in_parallel(
    ctx: AppContext, world: World, sp: RecordingSp
):
    from serviceguide.services import admin

    await admin.create_service(
        ctx, xsp=1001, coid="KOA", uid="S1TV", name="TV", price_monthly="99", price_once="0",
        service_id=108,
    )  # fmt: skip
    await push_to(ctx, sp.base(1001))
    sp.together = 2  # each push is answered only once both are under way
    placed = await place_one(ctx, [101, 108])
    assert sp.most_in_flight == 2
    assert [o.sp.state for o in placed.orders if o.sp] == [SpState.CONFIRMED] * 2
    assert sorted(c.order_id for c in sp.orders()) == sorted(o.id for o in placed.orders)
