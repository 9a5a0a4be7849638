"""The transactional outbox and its relay, with a real SMTP server (aiosmtpd on 127.0.0.1).

Orders write their mail in the placing transaction; the relay delivers exactly one mail per order
to the TL's order address, keeps retrying while the SMTP server is down or refusing, gives up
after the configured attempts (``outbox list`` shows it, ``outbox retry`` queues it again), and
several relays never deliver one message twice.
"""

from __future__ import annotations

import asyncio
import email
from datetime import timedelta
from email.policy import default
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from serviceguide.app import create_app
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import Conflict
from serviceguide.domain.ordering import ValidationFailed
from serviceguide.domain.status import EventType, OrderStatus
from serviceguide.notify.relay import Relay
from serviceguide.services import admin, changes, webhooks
from serviceguide.services import outbox as outbox_service
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings
from serviceguide.storage import outbox as repo
from serviceguide.storage.db import Database
from serviceguide.storage.tables import events, orders, outbox
from tests.support.notify import (
    FlakyDatabase,
    attempts,
    command,
    command_process,
    drain,
    later,
    place,
    rows,
    with_settings,
)
from tests.support.servers import free_port
from tests.support.smtp import smtp_server
from tests.support.world import SERIALS, World

pytestmark = pytest.mark.integration

TL_ADDRESS = {1001: "ett@example.se", 1002: "tva@example.se"}


async def tl_address_of(ctx: AppContext, order_id: int) -> str:
    async with ctx.db.read() as conn:
        r = (await conn.execute(select(orders.c.service_id).where(orders.c.id == order_id))).one()
    return TL_ADDRESS[1001 if r.service_id in (101, 103) else 1002]


async def all_order_ids(ctx: AppContext) -> list[int]:
    async with ctx.db.read() as conn:
        return list((await conn.execute(select(orders.c.id).order_by(orders.c.id))).scalars())


async def test_placing_writes_one_mail_per_order_to_its_tl_in_the_same_transaction(
    ctx: AppContext, world: World
):
    before = await rows(ctx, kind="mail")
    ids = await place(ctx, [101, 102])
    new = [r for r in await rows(ctx, kind="mail") if r.id not in {b.id for b in before}]
    assert [(r.order_id, r.state, r.attempts) for r in new] == [
        (ids[0], "pending", 0),
        (ids[1], "pending", 0),
    ]
    tl1 = await admin.find_org(ctx, xsp=1001)
    tl2 = await admin.find_org(ctx, xsp=1002)
    assert [r.org_id for r in new] == [tl1.id, tl2.id]
    # Every order of the world has its one mail too.
    assert sorted(r.order_id for r in await rows(ctx, kind="mail")) == await all_order_ids(ctx)


async def test_an_invalid_order_writes_no_mail(ctx: AppContext, world: World):
    before = len(await rows(ctx))
    with pytest.raises(ValidationFailed):
        await place(ctx, [101, 103])  # 103 is not sold on KOA
    assert len(await rows(ctx)) == before


async def test_a_rolled_back_change_leaves_no_event_and_no_outbox_rows(
    ctx: AppContext, world: World
):
    tl1 = await admin.find_org(ctx, xsp=1001)
    koa = await admin.find_org(ctx, coid="KOA")
    await webhooks.register(ctx, tl1, "http://127.0.0.1:9/hook")
    o1 = world.orders["o1"]
    before = len(await rows(ctx))
    async with ctx.db.read() as conn:
        events_before = (await conn.execute(select(func.count()).select_from(events))).scalar()

    with pytest.raises(RuntimeError):
        async with ctx.db.write(ordered=True) as conn:
            await changes.record_event(
                conn,
                order_id=o1,
                at=utcnow(),
                type=EventType.STATUS_CHANGED,
                status=OrderStatus.ACTIVE,
                message_type=None,
                tl_org_id=tl1.id,
                ko_org_id=koa.id,
            )
            assert len((await conn.execute(select(outbox.c.id))).all()) == before + 1
            raise RuntimeError("the change fails after its event was written")

    assert len(await rows(ctx)) == before
    async with ctx.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(events))).scalar() == (
            events_before
        )


async def test_the_relay_sends_exactly_one_mail_per_order_to_the_right_tl(
    ctx: AppContext, world: World
):
    ids = await place(ctx, [101, 102], i=2)
    with smtp_server() as sink:
        c = with_settings(ctx, smtp_url=sink.url, mail_from="guide@example.se")
        tally = await drain(c)
        again = await drain(c)  # nothing is due any more
    orders_ = await all_order_ids(ctx)
    receipts = await rows(ctx, kind="receipt")  # the customers' own, beside the TLs' mails
    assert tally.delivered == len(orders_) + len(receipts) and again.delivered == 0
    assert len(sink.receipts()) == len(receipts)
    got = sink.by_order()
    assert sorted(got) == orders_
    for order_id, msgs in got.items():
        assert len(msgs) == 1, f"order {order_id} mailed {len(msgs)} times"
        (m,) = msgs
        to = await tl_address_of(ctx, order_id)
        assert m.rcpt_tos == [to] and m.message["To"] == to
        assert m.mail_from == "guide@example.se"
        assert [ln for ln in m.text().splitlines() if ln.startswith("Order-ID:")] == [
            f"Order-ID: {order_id}"
        ]
        assert f"http://127.0.0.1:8000/staff/orders/{order_id}" in m.text()
        for serial in SERIALS:  # the world's customers' personnummer, in any form
            for form in (serial, serial[:6] + "-" + serial[6:]):
                assert form.encode() not in m.raw
                assert form not in m.text() + m.html()
        assert b"@example.se\r\n" not in m.raw.split(b"\r\n\r\n", 1)[1]  # no customer e-mail
    assert sink.by_order()[ids[0]][0].message["Subject"].startswith(f"Ny beställning {ids[0]}: ")
    for r in await rows(ctx, kind="mail"):
        assert (r.state, r.attempts, r.last_error) == ("delivered", 1, None)
        assert [a.outcome for a in await attempts(ctx, r.id)] == ["delivered"]


@pytest.fixture
async def guide(ctx: AppContext, world: World):
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_with_smtp_down_orders_are_accepted_and_every_mail_arrives_once_it_is_back(
    ctx: AppContext, world: World, guide: httpx.AsyncClient
):
    port = free_port()  # nothing listens here yet
    c = with_settings(ctx, smtp_url=f"smtp://127.0.0.1:{port}", smtp_timeout_seconds=5)
    for i, access in enumerate(["A4", "A5"]):
        r = await guide.post(
            "/api/guide/orders",
            json={
                "coid": "KOA",
                "accessId": access,
                "services": [101, 102],
                "customer": {
                    "firstname": "Eva",
                    "surname": "Ek",
                    "serial": SERIALS[i],
                    "email": "eva@example.se",
                    "phone": "070-1234567",
                },
                "delivery": "asap",
            },
        )
        assert r.status_code == 201, r.text

    tally = await drain(c)
    assert tally.delivered == 0 and tally.failed == 0 and tally.retrying == len(await rows(c))
    for r in await rows(c, kind="mail"):
        assert (r.state, r.attempts) == ("pending", 1)
        assert r.next_attempt_at > utcnow()  # backing off, not hammering the server
        (a,) = await attempts(c, r.id)
        assert a.outcome == "error" and a.error and str(port) in a.error
        assert r.last_error == a.error

    with smtp_server(port) as sink:
        assert (await drain(c)).delivered == 0  # nothing is due before the back-off ends
        tally = await drain(c, clock=later(hours=2))
    assert sorted(sink.by_order()) == await all_order_ids(ctx)
    assert all(len(m) == 1 for m in sink.by_order().values())
    for r in await rows(c, kind="mail"):
        assert (r.state, r.attempts) == ("delivered", 2)
        assert [a.outcome for a in await attempts(c, r.id)] == ["error", "delivered"]


async def test_a_refusing_smtp_server_fails_the_mail_after_max_attempts_and_retry_requeues_it(
    ctx: AppContext, world: World, database_url: str
):
    with smtp_server(refuse="550 5.7.1 Relaying denied") as sink:
        c = with_settings(
            ctx, smtp_url=sink.url, outbox_max_attempts=3, outbox_backoff_base_seconds=0
        )
        tally = await drain(c)
        mails = await rows(c, kind="mail")
        everything = await rows(c)  # the TLs' mails and the customers' receipts
        assert tally.failed == len(everything) and tally.retrying == 2 * len(everything)
        for r in mails:
            assert (r.state, r.attempts) == ("failed", 3)
            assert "550" in r.last_error and "Relaying denied" in r.last_error
            assert [a.outcome for a in await attempts(c, r.id)] == ["error"] * 3
        assert await drain(c) == type(tally)()  # failed is final: nothing more is tried

        listed = await command_process(database_url, "outbox", "list", "--state", "failed")
        assert listed.returncode == 0, listed.stderr
        for r in mails:
            assert f"│ {r.id} " in listed.stdout
        assert "Relaying denied" in listed.stdout and "failed" in listed.stdout
        log = await outbox_service.attempts(c, mails[0].id)
        assert [a.outcome for a in log] == ["error"] * 3

        one = await command(database_url, "outbox", "retry", str(mails[0].id))
        assert one.returncode == 0, one.stderr
        (first,) = await rows(c, id=mails[0].id)
        assert (first.state, first.attempts) == ("pending", 0)
        retried = await command(database_url, "outbox", "retry", "--all-failed")
        assert retried.returncode == 0 and f"{len(everything) - 1} failed" in retried.stdout
        sink.refuse = None
        assert (await drain(c)).delivered == len(everything)
    assert sorted(sink.by_order()) == await all_order_ids(ctx)
    assert all(len(m) == 1 for m in sink.by_order().values())
    assert [a.outcome for a in await attempts(c, mails[0].id)] == ["error"] * 3 + ["delivered"]

    with pytest.raises(Conflict, match="delivered"):
        await outbox_service.retry(c, mails[0].id)


async def test_without_an_smtp_url_each_mail_is_an_eml_file_named_by_its_outbox_row(
    ctx: AppContext, world: World, tmp_path: Path
):
    c = with_settings(ctx, smtp_url=None, var_dir=tmp_path / "var")
    assert (await drain(c)).delivered == len(await rows(c))
    files = sorted((tmp_path / "var" / "mail").glob("*.eml"))
    mails = await rows(c, kind="mail")
    assert [f.name for f in files] == sorted(f"outbox-{r.id}.eml" for r in await rows(c))
    for r in mails:
        msg = email.message_from_bytes(
            (tmp_path / "var" / "mail" / f"outbox-{r.id}.eml").read_bytes(), policy=default
        )
        assert msg["X-Order-ID"] == str(r.order_id)
    # Queued again (as after a crash before the outcome was recorded), a mail overwrites its file.
    async with c.db.write() as conn:
        await conn.execute(outbox.update().where(outbox.c.id == mails[0].id).values(state="failed"))
    await outbox_service.retry(c, mails[0].id)
    assert (await drain(c)).delivered == 1
    assert sorted((tmp_path / "var" / "mail").glob("*.eml")) == files


async def test_two_relays_deliver_each_message_exactly_once(
    ctx: AppContext, world: World, settings: Settings
):
    for i in range(8):
        await place(ctx, [101, 102], i=i, access=f"A{1 + i % 5}")
    expected = await all_order_ids(ctx)
    with smtp_server() as sink:
        s = settings.model_copy(update={"smtp_url": sink.url, "outbox_batch_size": 2})
        dbs = [Database(s.database_url, pool_size=3) for _ in range(2)]
        try:
            tallies = await asyncio.gather(
                *(
                    drain(AppContext(db=db, settings=s), name=f"relay-{n}")
                    for n, db in enumerate(dbs)
                )
            )
        finally:
            for db in dbs:
                await db.dispose()
    receipts = await rows(ctx, kind="receipt")
    assert sum(t.delivered for t in tallies) == len(expected) + len(receipts)
    assert len(sink.receipts()) == len(receipts)
    assert sorted(sink.by_order()) == expected
    assert all(len(m) == 1 for m in sink.by_order().values())
    for r in await rows(ctx, kind="mail"):
        assert (r.state, r.attempts) == ("delivered", 1)
        assert len(await attempts(ctx, r.id)) == 1


async def test_a_claim_whose_relay_died_is_delivered_by_another_relay_after_it_expires(
    ctx: AppContext, world: World
):
    token = "dead0000000000000000000000000000"
    async with ctx.db.write() as conn:
        claimed = await repo.claim(
            conn,
            now=utcnow(),
            lease=timedelta(seconds=ctx.settings.outbox_lease_seconds),
            limit=100,
            token=token,
            max_attempts=10,
            relay="dead-relay",
        )
    mails = await rows(ctx)
    assert {c.id for c in claimed} == {r.id for r in mails}
    assert all(r.state == "delivering" for r in mails)

    with smtp_server() as sink:
        c = with_settings(ctx, smtp_url=sink.url)
        assert (await drain(c)).delivered == 0  # the claim still holds
        lease = ctx.settings.outbox_lease_seconds
        tally = await drain(c, clock=later(seconds=lease + 1), name="rescuer")
    assert tally.delivered == len(mails)
    assert all(len(m) == 1 for m in sink.by_order().values())
    for r in await rows(ctx):  # the TLs' mails and the customers' receipts
        assert (r.state, r.attempts) == ("delivered", 2)
        log = await attempts(ctx, r.id)
        assert [(a.outcome, a.relay) for a in log] == [
            ("lost", "rescuer"),
            ("delivered", "rescuer"),
        ]

    # The dead relay coming back late cannot overwrite what the other one recorded.
    async with ctx.db.write() as conn:
        assert not await repo.finish(
            conn,
            outbox_id=mails[0].id,
            token=token,
            state=repo.OutboxState.FAILED,
            next_attempt_at=None,
            delivered_at=None,
            error="late",
        )
    assert (await rows(ctx, id=mails[0].id))[0].state == "delivered"


async def test_a_claim_committed_without_its_relay_knowing_is_handed_back_by_the_next_round(
    ctx: AppContext, world: World
):
    flaky = FlakyDatabase(ctx.db)
    with smtp_server() as sink:
        c = flaky.context(ctx, smtp_url=sink.url)
        async with Relay(c) as relay:
            # The claim commits, but its answer is lost with the connection.
            flaky.plan = ["ok", "lose-commit"]
            with pytest.raises(ConnectionResetError):
                await relay.step()
            mails = await rows(ctx)
            claimed = [r for r in mails if r.state == "delivering"]
            assert claimed and not sink.messages()
            # Back, at the same instant: the claim is handed back, not left to its lease.
            tally = await relay.drain()
    assert tally.delivered == len(mails)
    assert sorted(sink.by_order()) == sorted(r.order_id for r in mails if r.kind == "mail")
    assert all(len(m) == 1 for m in sink.by_order().values())
    for r in await rows(ctx):
        assert (r.state, r.attempts, r.claim_token) == ("delivered", 1, None)
        assert [a.outcome for a in await attempts(ctx, r.id)] == ["delivered"]


async def test_a_claim_whose_facts_could_not_be_read_is_handed_back_by_the_next_round(
    ctx: AppContext, world: World
):
    flaky = FlakyDatabase(ctx.db)
    with smtp_server() as sink:
        c = flaky.context(ctx, smtp_url=sink.url)
        async with Relay(c) as relay:
            flaky.plan = ["ok", "ok", "refuse"]  # any due? · the claim · its facts
            with pytest.raises(ConnectionRefusedError):
                await relay.step()
            assert any(r.state == "delivering" for r in await rows(ctx))
            flaky.down = True
            with pytest.raises(ConnectionRefusedError):
                await relay.step()  # still away: nothing is handed back, nothing sent
            assert not sink.messages()
            flaky.down = False
            tally = await relay.drain()
    mails = await rows(ctx)
    assert tally.delivered == len(mails)
    assert all(len(m) == 1 for m in sink.by_order().values())
    for r in mails:
        assert (r.state, r.attempts) == ("delivered", 1)


async def test_an_outcome_the_database_could_not_take_is_recorded_once_it_is_back_and_not_resent(
    ctx: AppContext, world: World, caplog: pytest.LogCaptureFixture
):
    flaky = FlakyDatabase(ctx.db)
    lease = ctx.settings.outbox_lease_seconds
    with smtp_server() as sink:
        c = flaky.context(ctx, smtp_url=sink.url, outbox_batch_size=1000)
        async with Relay(c) as relay:
            # The database goes away after the claim: every message goes out, no outcome is in.
            flaky.plan, flaky.down = ["ok", "ok", "ok"], True
            claimed = await relay.step()
            assert claimed and relay.tally.delivered == 0
            assert len(sink.messages()) == claimed
            kept = [r.getMessage() for r in caplog.records if "kept" in r.getMessage()]
            line = "outbox: %d outcomes kept until the database is back (ConnectionRefusedError)"
            assert kept == [line % claimed]  # one line for the batch
            assert all(r.state == "delivering" for r in await rows(ctx))
            flaky.down = False
            tally = await relay.drain()
        assert tally.delivered == claimed
        # Long after the lease would have run out, nothing is sent again.
        assert (
            await drain(with_settings(ctx, smtp_url=sink.url), clock=later(seconds=lease + 1))
        ).delivered == 0
    assert all(len(m) == 1 for m in sink.by_order().values())
    for r in await rows(ctx):
        assert (r.state, r.attempts) == ("delivered", 1)
        assert [a.outcome for a in await attempts(ctx, r.id)] == ["delivered"]


async def test_an_outcome_whose_commit_answer_was_lost_is_not_recorded_twice(
    ctx: AppContext, world: World, caplog: pytest.LogCaptureFixture
):
    flaky = FlakyDatabase(ctx.db)
    with smtp_server() as sink:
        c = flaky.context(ctx, smtp_url=sink.url, outbox_batch_size=1000)
        async with Relay(c) as relay:
            n = len(await rows(ctx))
            # Every outcome commits, and every commit's answer is lost.
            flaky.plan = ["ok", "ok", "ok"] + ["lose-commit"] * n
            assert await relay.step() == n and relay.tally.delivered == 0
            assert all(r.state == "delivered" for r in await rows(ctx))
            tally = await relay.drain()  # the retry finds each already recorded
    assert tally.delivered == n
    assert all(len(m) == 1 for m in sink.by_order().values())
    for r in await rows(ctx):
        assert (r.state, r.attempts) == ("delivered", 1)
        assert [a.outcome for a in await attempts(ctx, r.id)] == ["delivered"]
    assert not [r for r in caplog.records if "claim expired" in r.getMessage()]


async def test_an_outcome_that_cannot_be_recorded_for_another_reason_is_left_to_its_lease(
    ctx: AppContext, world: World
):
    flaky = FlakyDatabase(ctx.db)
    lease = ctx.settings.outbox_lease_seconds
    with smtp_server() as sink:
        c = flaky.context(ctx, smtp_url=sink.url, outbox_batch_size=1000)
        async with Relay(c) as relay:
            n = len(await rows(ctx))
            # Every record fails with an error that is not an outage, and again on the retry.
            flaky.plan = ["ok", "ok", "ok"] + ["error"] * (2 * n)
            assert await relay.step() == n and len(sink.messages()) == n
            # The retry gives up on them instead of blocking every round after it.
            assert (await relay.drain()).delivered == 0
            assert not flaky.plan
        assert all(r.state == "delivering" for r in await rows(ctx))
        # After the lease they go out again, as after a crash.
        tally = await drain(with_settings(ctx, smtp_url=sink.url), clock=later(seconds=lease + 1))
    assert tally.delivered == n
    assert all(len(m) == 2 for m in sink.by_order().values())
    for r in await rows(ctx):
        assert (r.state, r.attempts) == ("delivered", 2)
        assert [a.outcome for a in await attempts(ctx, r.id)] == ["lost", "delivered"]


async def test_a_message_whose_relays_keep_dying_fails_after_max_attempts(
    ctx: AppContext, world: World
):
    c = with_settings(ctx, outbox_max_attempts=2)
    now = utcnow()
    for n in range(3):  # claim, "die", let the claim expire — three times
        async with ctx.db.write() as conn:
            await repo.claim(
                conn,
                now=now + timedelta(hours=n),
                lease=timedelta(minutes=5),
                limit=100,
                token=f"{n:032d}",
                max_attempts=2,
                relay=f"doomed-{n}",
            )
    assert (await drain(c, clock=later(hours=5))).delivered == 0
    for r in await rows(ctx):
        assert (r.state, r.attempts) == ("failed", 2)
        assert "claim expired" in r.last_error
