"""The list methods write rows as the database gives them: times in Stockholm time whichever
backend formats them, and a listing longer than a batch streamed with the same bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from serviceguide.domain.clock import fmt_minutes, fmt_seconds
from serviceguide.services.context import AppContext
from serviceguide.storage import polling
from serviceguide.storage.tables import customers, events, order_log, orders
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

# Either side of the changes to and from summer time, the turn of a year, a leap day.
MOMENTS = [
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),
    datetime(2025, 12, 31, 23, 30, 0, tzinfo=UTC),
    datetime(2028, 2, 29, 22, 59, 0, 500000, tzinfo=UTC),
]


async def _stamp(ctx: AppContext, table, ids: list[int]) -> dict[int, datetime]:
    """Give the rows ``ids`` of ``table`` the moments above, in turn."""
    given = {}
    async with ctx.db.write() as conn:
        for i, row_id in enumerate(ids):
            at = MOMENTS[i % len(MOMENTS)]
            await conn.execute(update(table).where(table.c.id == row_id).values(created_at=at))
            given[row_id] = at
    return given


async def _ids(ctx: AppContext, table) -> list[int]:
    async with ctx.db.read() as conn:
        return list((await conn.execute(select(table.c.id).order_by(table.c.id))).scalars())


@pytest.mark.parametrize("fmt", [None, "json"])
async def test_times_in_every_list_are_stockholm_time(
    ctx: AppContext, world: World, xsp: XspClient, fmt: str | None
):
    placed = await _stamp(ctx, orders, await _ids(ctx, orders))
    born = await _stamp(ctx, customers, await _ids(ctx, customers))
    happened = await _stamp(ctx, events, await _ids(ctx, events))
    logged = await _stamp(ctx, order_log, await _ids(ctx, order_log))
    tl = await xsp.session(world.users["TL1"])

    listed = (await tl.call("orders", since_id=0, output_format=fmt)).items("order")
    assert listed and {o["date"] for o in listed} <= {fmt_seconds(m) for m in MOMENTS}
    assert all(o["date"] == fmt_seconds(placed[int(o["id"])]) for o in listed)

    people = (await tl.call("customers", since_id=0, output_format=fmt)).items("customer")
    assert people and all(c["date"] == fmt_minutes(born[int(c["id"])]) for c in people)

    stream = (await tl.call("events", since_id=0, output_format=fmt)).items("event")
    assert stream and all(e["date"] == fmt_seconds(happened[int(e["id"])]) for e in stream)

    entries = (await tl.call("order_log", id=world.orders["o1"], output_format=fmt)).items("entry")
    assert entries and all(e["date"] == fmt_seconds(logged[int(e["id"])]) for e in entries)


@pytest.mark.parametrize("fmt", [None, "json"])
async def test_a_listing_by_date_longer_than_a_batch_is_streamed_with_the_same_bytes(
    ctx: AppContext, world: World, xsp: XspClient, monkeypatch, fmt: str | None
):
    tl = await xsp.session(world.users["TL1"])
    whole = await tl.call("orders", date="2020-01-01", output_format=fmt)
    assert len(whole.items("order")) == len(world.visible_orders("TL1")) >= 3
    assert "content-length" in whole.http.headers  # one batch: answered whole

    monkeypatch.setattr(polling, "BATCH", 2)
    streamed = await tl.call("orders", date="2020-01-01", output_format=fmt)
    assert "content-length" not in streamed.http.headers  # written as it was read
    assert streamed.http.content == whole.http.content
    assert streamed.http.headers["content-type"] == whole.http.headers["content-type"]
    assert streamed.http.headers["cache-control"] == "no-store"


async def test_a_listing_by_date_starts_at_the_first_order_of_the_day_even_out_of_id_order(
    ctx: AppContext, world: World, xsp: XspClient
):
    """An order with a lower id but a later time (a transaction that committed late) is still
    in the answer: the listing starts at the lowest id created on the day, not at the first
    order in time."""
    ids = sorted(world.visible_orders("TL1"))
    async with ctx.db.write() as conn:
        await conn.execute(
            update(orders)
            .where(orders.c.id.in_(ids))
            .values(created_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
        )
        await conn.execute(  # the first order came later than the others
            update(orders)
            .where(orders.c.id == ids[0])
            .values(created_at=datetime(2026, 6, 1, 12, tzinfo=UTC))
        )
    tl = await xsp.session(world.users["TL1"])
    r = await tl.call("orders", date="2026-03-01")
    assert [int(o["id"]) for o in r.items("order")] == [ids[0]]
    r = await tl.call("orders", date="2026-01-01")
    assert [int(o["id"]) for o in r.items("order")] == ids
