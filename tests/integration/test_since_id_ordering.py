"""Polling with since_id never skips or repeats a row, however writes interleave."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest
from sqlalchemy import select

from serviceguide.domain.clock import utcnow
from serviceguide.domain.ordering import OrderRequest
from serviceguide.domain.status import EventType, OrderStatus
from serviceguide.services import changes, placing
from serviceguide.services.context import AppContext
from serviceguide.storage.db import Database
from serviceguide.storage.tables import orders as orders_table
from tests.support.world import World, customer
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


async def _event(conn, order_id: int, org_ids: tuple[int, int]) -> int:
    return await changes.record_event(
        conn,
        order_id=order_id,
        at=utcnow(),
        type=EventType.STATUS_CHANGED,
        status=OrderStatus.NEW,
        message_type=None,
        tl_org_id=org_ids[0],
        ko_org_id=org_ids[1],
    )


async def test_a_slow_transaction_cannot_make_since_id_polling_skip_a_row(
    ctx: AppContext, world: World
):
    """A writer that takes its id first but commits last must not let a poller move past it."""
    async with XspClient.in_process(ctx) as client:
        tl = await client.session(world.users["TL1"])
        start = max(int(e["id"]) for e in (await tl.call("events", since_id=0)).items("event"))
    o1 = world.orders["o1"]
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(orders_table.c.tl_org_id, orders_table.c.ko_org_id).where(
                    orders_table.c.id == o1
                )
            )
        ).one()
    org_ids = (row[0], row[1])

    other_db = Database(ctx.settings.database_url)  # a second "process"
    slow_has_id = asyncio.Event()
    done = asyncio.Event()
    written: list[int] = []
    seen: list[int] = []

    async def slow() -> None:
        async with ctx.db.write(ordered=True) as conn:
            written.append(await _event(conn, o1, org_ids))
            slow_has_id.set()
            await asyncio.sleep(0.6)

    async def fast() -> None:
        await slow_has_id.wait()
        for _ in range(3):
            async with other_db.write(ordered=True) as conn:
                written.append(await _event(conn, o1, org_ids))

    async def poll() -> None:
        cursor = start
        async with XspClient.in_process(AppContext(other_db, ctx.settings)) as c:
            s = await c.session(world.users["TL1"])
            while True:
                finished = done.is_set()
                rows = (await s.call("events", since_id=cursor)).items("event")
                ids = [int(r["id"]) for r in rows]
                assert ids == sorted(ids)
                seen.extend(ids)
                if ids:
                    cursor = ids[-1]
                if finished:
                    return
                await asyncio.sleep(0.02)

    try:
        poller = asyncio.create_task(poll())
        await asyncio.gather(slow(), fast())
        done.set()
        await poller
    finally:
        await other_db.dispose()
    assert len(written) == 4
    assert seen == sorted(written), "the poller skipped or repeated a row"


async def test_concurrent_order_placement_is_polled_without_gaps_or_repeats(
    ctx: AppContext, world: World
):
    dbs = [Database(ctx.settings.database_url) for _ in range(3)]
    done = asyncio.Event()
    placed: list[int] = []
    seen: list[int] = []
    async with XspClient.in_process(ctx) as client:
        s = await client.session(world.users["TL1"])
        start = max(int(o["id"]) for o in (await s.call("orders", since_id=0)).items("order"))

        async def place(i: int) -> None:
            c = AppContext(dbs[i % len(dbs)], ctx.settings)
            p = await placing.place_order(
                c,
                OrderRequest(
                    coid="KOA",
                    access_id="A5",
                    service_ids=[101],
                    customer=customer(i),
                    delivery=None,
                ),
            )
            placed.extend(o.id for o in p.orders)

        async def poll() -> None:
            cursor = start
            while True:
                finished = done.is_set()
                rows = (await s.call("orders", since_id=cursor, limit=3)).items("order")
                ids = [int(r["id"]) for r in rows]
                seen.extend(ids)
                if ids:
                    cursor = ids[-1]
                elif finished:
                    return
                await asyncio.sleep(0.005)

        try:
            poller = asyncio.create_task(poll())
            await asyncio.gather(*(place(i) for i in range(24)))
            done.set()
            await poller
        finally:
            for db in dbs:
                await db.dispose()
    assert len(placed) == 24
    assert seen == sorted(placed)


async def test_concurrent_status_changes_each_write_one_event(ctx: AppContext, world: World):
    """Two writers racing to move one order: one change, one log entry, one event."""
    async with XspClient.in_process(ctx) as client:
        tl = await client.session(world.users["TL1"])
        ko = await client.session(world.users["KOA"])
        oid = world.orders["o1"]
        before = len((await tl.call("events", since_id=0)).items("event"))
        results = await asyncio.gather(
            tl.call("set_status", id=oid, status="received"),
            ko.call("set_status", id=oid, status="received"),
        )
        assert [r.code for r in results] == [200, 200]
        after = (await tl.call("events", since_id=0)).items("event")
        assert len(after) == before + 1
        log = (await tl.call("order_log", id=oid)).items("entry")
        assert sum("to received" in e["message"] for e in log) == 1


async def test_racing_status_changes_each_start_from_the_one_before(ctx: AppContext, world: World):
    """Changes racing from several processes: each log entry starts where the one before ended
    and each event carries the status it made, as if the changes had come one by one."""
    dbs = [Database(ctx.settings.database_url) for _ in range(3)]
    oid = world.orders["o1"]
    async with contextlib.AsyncExitStack() as stack:
        for db in dbs:
            stack.push_async_callback(db.dispose)
        sessions = [
            await (
                await stack.enter_async_context(XspClient.in_process(AppContext(db, ctx.settings)))
            ).session(world.users["TL1"])
            for db in dbs
        ]
        tl = sessions[0]
        start = max(int(e["id"]) for e in (await tl.call("events", since_id=0)).items("event"))
        assert (await tl.call("set_status", id=oid, status="active")).code == 200
        targets = ["waiting", "active"] * 8
        results = await asyncio.gather(
            *(
                sessions[i % len(sessions)].call("set_status", id=oid, status=s)
                for i, s in enumerate(targets)
            )
        )
        assert {r.code for r in results} == {200}
        log = (await tl.call("order_log", id=oid)).items("entry")
        moves = [
            e["message"].removeprefix("Status changed from ").split(" by ")[0].split(" to ")
            for e in log
            if e["message"].startswith("Status changed from ")
        ]
        assert moves[0] == ["new", "active"]
        for before, after in itertools.pairwise(moves):
            assert after[0] == before[1], moves
        assert all(old != new for old, new in moves), moves
        events = [
            e
            for e in (await tl.call("events", since_id=start)).items("event")
            if int(e["order"]) == oid
        ]
        assert [e["status"] for e in events] == [new for _, new in moves]
        info = (await tl.call("order_info", id=oid)).items("order")[0]
        assert info["status"] == moves[-1][1]
