"""Personal data: the read audit, and blanking a customer's personal data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.status import ALLOWED_TRANSITIONS
from serviceguide.storage.direct import PostgresReader, Sql
from serviceguide.storage.tables import customers, order_log, orders, personal_data_reads

FINAL = [s.value for s, onward in ALLOWED_TRANSITIONS.items() if not onward]
PERSONAL_FIELDS = (
    "serial",
    "firstname",
    "surname",
    "email",
    "phone",
    "address",
    "zip",
    "city",
    "premise",
)


async def record_reads(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(personal_data_reads), list(rows))


#: The same rows in one prepared statement on the driver (PostgreSQL): the audit sits on the
#: API's read path, where SQLAlchemy's per-statement cost would double the answer's.
_INSERT_READS = Sql.of(
    "INSERT INTO personal_data_reads"
    " (at, customer_id, reader_kind, reader_id, reader_name, org_id, org_name, via, client)"
    " SELECT $1::timestamptz, c, $3::text, $4::int, $5::text, $6::int, $7::text, $8::text,"
    " $9::text FROM unnest($2::bigint[]) AS c"
)


async def record_reads_direct(
    reader: PostgresReader,
    at: datetime,
    customer_ids: list[int],
    reader_kind: str,
    reader_id: int,
    reader_name: str,
    org_id: int,
    org_name: str,
    via: str,
    client: str | None,
) -> None:
    await reader.execute(
        _INSERT_READS,
        at,
        customer_ids,
        reader_kind,
        reader_id,
        reader_name,
        org_id,
        org_name,
        via,
        client,
    )


async def reads(
    conn: AsyncConnection, *, customer_id: int | None, since: datetime | None, limit: int
) -> list[Any]:
    q = select(personal_data_reads).order_by(personal_data_reads.c.id).limit(limit)
    if customer_id is not None:
        q = q.where(personal_data_reads.c.customer_id == customer_id)
    if since is not None:
        q = q.where(personal_data_reads.c.at >= since)
    return list(await conn.execute(q))


async def due_for_anonymisation(conn: AsyncConnection, closed_before: datetime) -> list[int]:
    """Customers not yet anonymised whose orders are all closed (final) and have not changed
    since ``closed_before``."""
    open_or_recent = exists().where(
        and_(
            orders.c.customer_id == customers.c.id,
            or_(orders.c.status.not_in(FINAL), orders.c.updated_at >= closed_before),
        )
    )
    q = (
        select(customers.c.id)
        .where(customers.c.anonymised_at.is_(None))
        .where(~open_or_recent)
        # A customer without orders (none are made that way) counts from its creation.
        .where(
            or_(
                exists().where(orders.c.customer_id == customers.c.id),
                customers.c.created_at < closed_before,
            )
        )
        .order_by(customers.c.id)
    )
    return list((await conn.execute(q)).scalars())


async def customer_for_erasure(conn: AsyncConnection, customer_id: int) -> Any | None:
    return (
        await conn.execute(select(customers).where(customers.c.id == customer_id))
    ).one_or_none()


async def open_orders(conn: AsyncConnection, customer_id: int) -> list[int]:
    q = (
        select(orders.c.id)
        .where(orders.c.customer_id == customer_id, orders.c.status.not_in(FINAL))
        .order_by(orders.c.id)
    )
    return list((await conn.execute(q)).scalars())


async def blank_customer(conn: AsyncConnection, customer_id: int, at: datetime) -> bool:
    """Blank the customer's personal data and their own note on each order; False if already
    done (or no such customer)."""
    done = await conn.execute(
        update(customers)
        .where(customers.c.id == customer_id, customers.c.anonymised_at.is_(None))
        .values({**{name: "" for name in PERSONAL_FIELDS}, "anonymised_at": at})
    )
    if not done.rowcount:
        return False
    await conn.execute(
        update(orders)
        .where(orders.c.customer_id == customer_id, orders.c.message != "")
        .values(message="")
    )
    return True


async def log_entries(conn: AsyncConnection, customer_id: int) -> list[Any]:
    q = (
        select(order_log.c.id, order_log.c.message)
        .join(orders, orders.c.id == order_log.c.order_id)
        .where(orders.c.customer_id == customer_id)
    )
    return list(await conn.execute(q))


async def set_log_text(conn: AsyncConnection, entry_id: int, text: str) -> None:
    await conn.execute(update(order_log).where(order_log.c.id == entry_id).values(message=text))
