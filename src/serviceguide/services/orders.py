"""Reading and changing orders as an API user or staff member sees them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from serviceguide.domain.clock import local_day_start_utc, utcnow
from serviceguide.domain.errors import NotFound
from serviceguide.domain.logcodes import LogCode, LogText
from serviceguide.domain.model import (
    Caller,
    CustomerDetail,
    OrderDetail,
)
from serviceguide.domain.roles import require_order_handling
from serviceguide.domain.status import EventType, MessageType, OrderStatus, check_transition
from serviceguide.observability import request_id
from serviceguide.services import changes, privacy
from serviceguide.services.context import AppContext
from serviceguide.storage import order_changes, polling
from serviceguide.storage import orders as repo


async def list_orders(
    ctx: AppContext,
    caller: Caller,
    *,
    day: date | None,
    since_id: int | None,
    limit: int | None,
) -> polling.Rows:
    """Orders created on or after ``day`` (Stockholm time) and/or with id above ``since_id``,
    as rows to write into the answer (storage.polling); without a limit, streamed."""
    return await polling.orders(
        ctx.db.reader,
        caller,
        created_from=local_day_start_utc(day) if day else None,
        since_id=since_id,
        limit=limit,
    )


async def list_customers(
    ctx: AppContext,
    caller: Caller,
    *,
    day: date | None,
    since_id: int | None,
    limit: int | None,
    client: str | None = None,
) -> Sequence[polling.Record]:
    rows = await polling.customers(
        ctx.db.reader,
        caller,
        created_from=local_day_start_utc(day) if day else None,
        since_id=since_id,
        limit=limit,
    )
    await privacy.record_reads(
        ctx, caller, (r[0] for r in rows), kind="api_user", via="api:customers", client=client
    )
    return rows


async def order_info(ctx: AppContext, caller: Caller, order_id: int) -> OrderDetail:
    require_order_handling(caller)
    order = await repo.get_order(ctx.db.reader, caller, order_id)
    if order is None:
        raise NotFound("order", order_id)
    return order


async def customer_info(
    ctx: AppContext, caller: Caller, customer_id: int, client: str | None = None
) -> CustomerDetail:
    customer = await repo.get_customer(ctx.db.reader, caller, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    await privacy.record_reads(
        ctx, caller, [customer_id], kind="api_user", via="api:customer_info", client=client
    )
    return customer


async def order_log(ctx: AppContext, caller: Caller, order_id: int) -> Sequence[polling.Record]:
    """The order's log entries as rows (storage.polling), oldest first."""
    log = await polling.order_log(ctx.db.reader, caller, order_id)
    if log is None:
        raise NotFound("order", order_id)
    return log


async def events(
    ctx: AppContext, caller: Caller, *, since_id: int, limit: int
) -> Sequence[polling.Record]:
    """The caller's event stream after ``since_id``, as rows (storage.polling)."""
    return await polling.events(ctx.db.reader, caller, since_id=since_id, limit=limit)


async def set_status(
    ctx: AppContext, caller: Caller, order_id: int, new: OrderStatus, *, reason: str = ""
) -> bool:
    """Move the order to ``new``; True if it changed. Writes a ``system`` log entry (ending with
    ``reason``, if one is given) and an event (with its webhook deliveries)."""
    require_order_handling(caller)
    if ctx.db.is_postgres:
        # One statement that takes the stream lock, checks the transition and writes
        # (storage.order_changes); it answers with the status the order had.
        q, args = order_changes.set_status_statement(
            caller, order_id, new, reason, utcnow(), request_id.current()
        )
        async with ctx.db.single_statement() as conn:
            row = (await conn.exec_driver_sql(q.text, tuple(args))).mappings().first()
        if row is None:
            raise NotFound("order", order_id)
        return check_transition(OrderStatus(row["status"]), new)
    async with ctx.db.write(ordered=True) as conn:
        found = await repo.order_for_change(conn, caller, order_id)
        if found is None:
            raise NotFound("order", order_id)
        current, tl_org_id, ko_org_id = found
        if not check_transition(current, new):
            return False
        now = utcnow()
        # The write transaction holds the stream lock (PostgreSQL) or the write lock (SQLite),
        # so the status read above is still current here.
        change = LogText(
            LogCode.STATUS_CHANGED,
            {
                "old": current.value,
                "new": new.value,
                "who": caller.user_name,
                "org": caller.org_name,
                **({"reason": reason} if reason else {}),
            },
        )
        await repo.update_status(conn, order_id, current, new, now)
        await repo.append_log(
            conn,
            order_id=order_id,
            at=now,
            type=MessageType.SYSTEM,
            message=change.text,
            code=change.code.value,
            params=change.params_json(),
            user_name=caller.user_name,
            org_name=caller.org_name,
            org_id=caller.org_id,
        )
        await changes.record_event(
            conn,
            order_id=order_id,
            at=now,
            type=EventType.STATUS_CHANGED,
            status=new,
            message_type=None,
            tl_org_id=tl_org_id,
            ko_org_id=ko_org_id,
        )
    return True


async def add_message(
    ctx: AppContext, caller: Caller, order_id: int, message: str, type: MessageType
) -> int:
    """Append a message to the order's log (shared between TL and KO); returns the entry id."""
    require_order_handling(caller)
    if ctx.db.is_postgres:
        q, args = order_changes.add_message_statement(
            caller, order_id, message, type, utcnow(), request_id.current()
        )
        async with ctx.db.single_statement() as conn:
            row = (await conn.exec_driver_sql(q.text, tuple(args))).mappings().first()
        if row is None or row["id"] is None:
            raise NotFound("order", order_id)
        return int(row["id"])
    async with ctx.db.write(ordered=True) as conn:
        found = await repo.order_for_change(conn, caller, order_id)
        if found is None:
            raise NotFound("order", order_id)
        status, tl_org_id, ko_org_id = found
        now = utcnow()
        entry_id = await repo.append_log(
            conn,
            order_id=order_id,
            at=now,
            type=type,
            message=message,
            user_name=caller.user_name,
            org_name=caller.org_name,
            org_id=caller.org_id,
        )
        await repo.touch_order(conn, order_id, now)
        await changes.record_event(
            conn,
            order_id=order_id,
            at=now,
            type=EventType.MESSAGE_ADDED,
            status=status,
            message_type=type,
            tl_org_id=tl_org_id,
            ko_org_id=ko_org_id,
        )
    return entry_id
