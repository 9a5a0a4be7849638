"""Queries and writes for orders, customers, the per-order log and the event stream.

Every read takes the caller and is scoped to what the caller's organisation may see: a TL the
orders of its services, a KO the orders on its network. A row outside that scope is simply not
found, exactly like a missing one.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.model import (
    Caller,
    CustomerDetail,
    CustomerSummary,
    Event,
    LogEntry,
    OrderDetail,
    OrderSummary,
    OrgKind,
)
from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.storage.tables import (
    accesses,
    customers,
    events,
    networks,
    order_log,
    orders,
    organisations,
    services,
)

tl_org = organisations.alias("tl_org")


def _order_scope(caller: Caller) -> ColumnElement[bool]:
    col = orders.c.tl_org_id if caller.org_kind == OrgKind.TL else orders.c.ko_org_id
    return col == caller.org_id


def _event_scope(caller: Caller) -> ColumnElement[bool]:
    col = events.c.tl_org_id if caller.org_kind == OrgKind.TL else events.c.ko_org_id
    return col == caller.org_id


_summary_cols = (
    orders.c.id,
    orders.c.created_at,
    orders.c.status,
    orders.c.service_id,
    tl_org.c.xsp,
    orders.c.delivery,
    orders.c.customer_id,
)


def _summary(row: object) -> OrderSummary:
    r = row._mapping  # type: ignore[attr-defined]
    return OrderSummary(
        id=r["id"],
        created_at=r["created_at"],
        status=OrderStatus(r["status"]),
        service_id=r["service_id"],
        xsp=r["xsp"],
        delivery=r["delivery"],
        customer_id=r["customer_id"],
    )


async def list_orders(
    conn: AsyncConnection,
    caller: Caller,
    *,
    created_from: datetime | None,
    since_id: int | None,
    limit: int | None,
) -> list[OrderSummary]:
    q = (
        select(*_summary_cols)
        .join(tl_org, tl_org.c.id == orders.c.tl_org_id)
        .where(_order_scope(caller))
        .order_by(orders.c.id)
    )
    if created_from is not None:
        q = q.where(orders.c.created_at >= created_from)
    if since_id is not None:
        q = q.where(orders.c.id > since_id)
    if limit is not None:
        q = q.limit(limit)
    return [_summary(r) for r in await conn.execute(q)]


async def get_order(conn: AsyncConnection, caller: Caller, order_id: int) -> OrderDetail | None:
    q = (
        select(
            *_summary_cols,
            tl_org.c.name.label("xsp_name"),
            services.c.uid,
            services.c.name.label("service_name"),
            services.c.price_monthly,
            services.c.price_once,
            networks.c.coid,
            accesses.c.access_id,
            orders.c.message,
            orders.c.updated_at,
        )
        .join(tl_org, tl_org.c.id == orders.c.tl_org_id)
        .join(services, services.c.id == orders.c.service_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(networks, networks.c.id == accesses.c.network_id)
        .where(orders.c.id == order_id, _order_scope(caller))
    )
    row = (await conn.execute(q)).first()
    if row is None:
        return None
    r = row._mapping
    return OrderDetail(
        summary=_summary(row),
        service_uid=r["uid"],
        service_name=r["service_name"],
        xsp_name=r["xsp_name"],
        coid=r["coid"],
        socket=r["access_id"],
        price_monthly=Decimal(r["price_monthly"]),
        price_once=Decimal(r["price_once"]),
        message=r["message"],
        updated_at=r["updated_at"],
    )


async def order_for_change(
    conn: AsyncConnection, caller: Caller, order_id: int
) -> tuple[OrderStatus, int, int] | None:
    """Status, TL org and KO org of a visible order, read inside a write transaction."""
    q = select(orders.c.status, orders.c.tl_org_id, orders.c.ko_org_id).where(
        orders.c.id == order_id, _order_scope(caller)
    )
    row = (await conn.execute(q)).first()
    return None if row is None else (OrderStatus(row[0]), row[1], row[2])


async def order_visible(conn: AsyncConnection, caller: Caller, order_id: int) -> bool:
    q = select(orders.c.id).where(orders.c.id == order_id, _order_scope(caller))
    return (await conn.execute(q)).first() is not None


async def update_status(
    conn: AsyncConnection, order_id: int, old: OrderStatus, new: OrderStatus, at: datetime
) -> bool:
    result = await conn.execute(
        update(orders)
        .where(orders.c.id == order_id, orders.c.status == old.value)
        .values(status=new.value, updated_at=at)
    )
    return result.rowcount == 1


async def touch_order(conn: AsyncConnection, order_id: int, at: datetime) -> None:
    await conn.execute(update(orders).where(orders.c.id == order_id).values(updated_at=at))


async def append_log(
    conn: AsyncConnection,
    *,
    order_id: int,
    at: datetime,
    type: MessageType,
    message: str,
    user_name: str,
    org_name: str,
    org_id: int | None,
) -> int:
    result = await conn.execute(
        insert(order_log)
        .values(
            order_id=order_id,
            created_at=at,
            type=type.value,
            message=message,
            user_name=user_name,
            org_name=org_name,
            org_id=org_id,
        )
        .returning(order_log.c.id)
    )
    return int(result.scalar_one())


async def append_event(
    conn: AsyncConnection,
    *,
    order_id: int,
    at: datetime,
    type: EventType,
    status: OrderStatus,
    message_type: MessageType | None,
    tl_org_id: int,
    ko_org_id: int,
) -> int:
    result = await conn.execute(
        insert(events)
        .values(
            order_id=order_id,
            created_at=at,
            type=type.value,
            status=status.value,
            message_type=message_type.value if message_type else None,
            tl_org_id=tl_org_id,
            ko_org_id=ko_org_id,
        )
        .returning(events.c.id)
    )
    return int(result.scalar_one())


async def list_log(conn: AsyncConnection, order_id: int) -> list[LogEntry]:
    q = (
        select(
            order_log.c.id,
            order_log.c.created_at,
            order_log.c.type,
            order_log.c.message,
            order_log.c.user_name,
            order_log.c.org_name,
        )
        .where(order_log.c.order_id == order_id)
        .order_by(order_log.c.id)
    )
    return [
        LogEntry(
            id=r.id,
            created_at=r.created_at,
            type=MessageType(r.type),
            message=r.message,
            user=r.user_name,
            org=r.org_name,
        )
        for r in await conn.execute(q)
    ]


async def list_events(
    conn: AsyncConnection, caller: Caller, *, since_id: int, limit: int
) -> list[Event]:
    q = (
        select(
            events.c.id,
            events.c.created_at,
            events.c.type,
            events.c.order_id,
            events.c.status,
            events.c.message_type,
        )
        .where(_event_scope(caller), events.c.id > since_id)
        .order_by(events.c.id)
        .limit(limit)
    )
    return [
        Event(
            id=r.id,
            created_at=r.created_at,
            type=EventType(r.type),
            order_id=r.order_id,
            status=OrderStatus(r.status),
            message_type=MessageType(r.message_type) if r.message_type else None,
        )
        for r in await conn.execute(q)
    ]


def _customer_visible(caller: Caller) -> ColumnElement[bool]:
    return exists().where(orders.c.customer_id == customers.c.id, _order_scope(caller))


_customer_cols = (
    customers.c.id,
    accesses.c.access_id,
    customers.c.serial,
    customers.c.firstname,
    customers.c.surname,
    customers.c.created_at,
)


def _customer_summary(r: object) -> CustomerSummary:
    m = r._mapping  # type: ignore[attr-defined]
    return CustomerSummary(
        id=m["id"],
        socket=m["access_id"],
        serial=m["serial"],
        firstname=m["firstname"],
        surname=m["surname"],
        created_at=m["created_at"],
    )


async def list_customers(
    conn: AsyncConnection,
    caller: Caller,
    *,
    created_from: datetime | None,
    since_id: int | None,
    limit: int | None,
) -> list[CustomerSummary]:
    q = (
        select(*_customer_cols)
        .join(accesses, accesses.c.id == customers.c.access_pk)
        .where(_customer_visible(caller))
        .order_by(customers.c.id)
    )
    if created_from is not None:
        q = q.where(customers.c.created_at >= created_from)
    if since_id is not None:
        q = q.where(customers.c.id > since_id)
    if limit is not None:
        q = q.limit(limit)
    return [_customer_summary(r) for r in await conn.execute(q)]


async def get_customer(
    conn: AsyncConnection, caller: Caller, customer_id: int
) -> CustomerDetail | None:
    q = (
        select(
            *_customer_cols,
            customers.c.email,
            customers.c.address,
            customers.c.zip,
            customers.c.city,
            customers.c.phone,
            customers.c.premise,
        )
        .join(accesses, accesses.c.id == customers.c.access_pk)
        .where(customers.c.id == customer_id, _customer_visible(caller))
    )
    row = (await conn.execute(q)).first()
    if row is None:
        return None
    m = row._mapping
    return CustomerDetail(
        summary=_customer_summary(row),
        email=m["email"],
        address=m["address"],
        zip=m["zip"],
        city=m["city"],
        phone=m["phone"],
        premise=m["premise"],
    )


async def insert_customer(conn: AsyncConnection, **values: object) -> int:
    result = await conn.execute(insert(customers).values(**values).returning(customers.c.id))
    return int(result.scalar_one())


async def insert_order(conn: AsyncConnection, **values: object) -> int:
    result = await conn.execute(insert(orders).values(**values).returning(orders.c.id))
    return int(result.scalar_one())


async def count_orders(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(orders))).scalar_one())


async def all_orders_brief(conn: AsyncConnection) -> list[dict[str, object]]:
    """Every order with its TL's xsp and network coid (for the demo-data listing)."""
    q = (
        select(
            orders.c.id,
            tl_org.c.xsp,
            networks.c.coid,
            orders.c.customer_id,
            orders.c.status,
        )
        .join(tl_org, tl_org.c.id == orders.c.tl_org_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(networks, networks.c.id == accesses.c.network_id)
        .order_by(orders.c.id)
    )
    return [
        {"id": r.id, "xsp": r.xsp, "coid": r.coid, "customer": r.customer_id, "status": r.status}
        for r in await conn.execute(q)
    ]
