"""Personal data: the read audit, finding a person's customer records, and blanking a customer's
personal data wherever the database holds it (the record, the orders' notes and log texts, the
outbox's delivery errors)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.status import ALLOWED_TRANSITIONS
from serviceguide.storage.db import Database
from serviceguide.storage.direct import PostgresReader, Sql
from serviceguide.storage.tables import (
    accesses,
    customers,
    networks,
    order_log,
    orders,
    organisations,
    outbox,
    outbox_attempts,
    personal_data_reads,
)

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


#: The same rows as one prepared statement on the driver (PostgreSQL): the audit sits on the
#: API's read path, where SQLAlchemy's per-statement cost would double the answer's.
_INSERT_READS = Sql.of(
    "INSERT INTO personal_data_reads"
    " (at, customer_id, reader_kind, reader_id, reader_name, org_id, org_name, via, client)"
    " SELECT * FROM unnest($1::timestamptz[], $2::bigint[], $3::text[], $4::int[], $5::text[],"
    " $6::int[], $7::text[], $8::text[], $9::text[])"
)
_COLUMNS = (
    "at",
    "customer_id",
    "reader_kind",
    "reader_id",
    "reader_name",
    "org_id",
    "org_name",
    "via",
    "client",
)


async def _record_reads_direct(reader: PostgresReader, rows: Sequence[dict[str, Any]]) -> None:
    await reader.execute(_INSERT_READS, *([r[c] for r in rows] for c in _COLUMNS))


class GroupCommit:
    """Rows from many concurrent requests written in one transaction, each request waiting
    until the transaction holding its rows has committed (or failed, then it fails too).

    The first request to find no write in progress writes everything queued so far; requests
    arriving meanwhile queue for the next write, done by the first of them to get the lock.
    Nothing runs in the background, and nothing is answered before its rows are stored.
    """

    def __init__(self, flush: Callable[[list[dict[str, Any]]], Awaitable[None]]) -> None:
        self._flush = flush
        self._rows: list[dict[str, Any]] = []
        self._batch = 0  # the batch new rows join
        self._done = 0  # batches below this one are finished
        self._failed: dict[int, BaseException] = {}
        self._lock: asyncio.Lock | None = None

    async def write(self, rows: list[dict[str, Any]]) -> None:
        self._rows.extend(rows)
        mine = self._batch
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._done <= mine:  # nobody wrote this batch yet: write it, and what queued
                batch, self._rows = self._rows, []
                self._batch += 1
                try:
                    await self._flush(batch)
                except Exception as e:
                    self._failed[mine] = e
                    raise
                except BaseException:  # cancelled: the others' rows are not written either
                    self._failed[mine] = RuntimeError("the audit write was cancelled")
                    raise
                finally:
                    self._done = self._batch
                    for old in [n for n in self._failed if n < mine - 100]:
                        del self._failed[old]
                return
        if mine in self._failed:
            raise self._failed[mine]


_writers: WeakKeyDictionary[Database, GroupCommit] = WeakKeyDictionary()


def audit_writer(db: Database) -> GroupCommit:
    """The database's one GroupCommit of audit rows (per process): one prepared statement on
    the driver for PostgreSQL, a write transaction for SQLite."""
    writer = _writers.get(db)
    if writer is None:
        writer = _writers[db] = GroupCommit(partial(_commit_reads, db))
    return writer


async def _commit_reads(db: Database, rows: list[dict[str, Any]]) -> None:
    if isinstance(db.reader, PostgresReader):
        await _record_reads_direct(db.reader, rows)
    else:
        async with db.write() as conn:
            await record_reads(conn, rows)


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
        .values({**{name: "" for name in PERSONAL_FIELDS}, "search_text": "", "anonymised_at": at})
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


async def customers_with_serial(conn: AsyncConnection, serial: str) -> list[Any]:
    """The customer records holding this 12-digit personnummer, oldest first, each with its
    access (anonymised ones hold none)."""
    q = (
        select(
            customers.c.id,
            customers.c.created_at,
            customers.c.firstname,
            customers.c.surname,
            customers.c.email,
            customers.c.phone,
            customers.c.address,
            customers.c.zip,
            customers.c.city,
            networks.c.coid,
            accesses.c.access_id,
        )
        .join(accesses, accesses.c.id == customers.c.access_pk)
        .join(networks, networks.c.id == accesses.c.network_id)
        .where(customers.c.serial == serial, customers.c.anonymised_at.is_(None))
        .order_by(customers.c.id)
    )
    return list(await conn.execute(q))


async def orders_of(conn: AsyncConnection, customer_ids: Sequence[int]) -> list[Any]:
    q = (
        select(
            orders.c.id,
            orders.c.customer_id,
            orders.c.status,
            orders.c.created_at,
            orders.c.service_name,
            organisations.c.xsp,
        )
        .join(organisations, organisations.c.id == orders.c.tl_org_id)
        .where(orders.c.customer_id.in_(list(customer_ids)))
        .order_by(orders.c.id)
    )
    return list(await conn.execute(q))


async def outbox_of(conn: AsyncConnection, customer_id: int) -> list[Any]:
    """The outbox rows (mails, webhook deliveries) about the customer's orders: id, kind and
    the last delivery error."""
    q = (
        select(outbox.c.id, outbox.c.kind, outbox.c.last_error)
        .join(orders, orders.c.id == outbox.c.order_id)
        .where(orders.c.customer_id == customer_id)
        .order_by(outbox.c.id)
    )
    return list(await conn.execute(q))


async def attempt_errors_of(conn: AsyncConnection, outbox_ids: Sequence[int]) -> list[Any]:
    q = select(outbox_attempts.c.id, outbox_attempts.c.error).where(
        outbox_attempts.c.outbox_id.in_(list(outbox_ids)), outbox_attempts.c.error.is_not(None)
    )
    return list(await conn.execute(q))


async def set_outbox_error(conn: AsyncConnection, outbox_id: int, text: str) -> None:
    await conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(last_error=text))


async def set_attempt_error(conn: AsyncConnection, attempt_id: int, text: str) -> None:
    await conn.execute(
        update(outbox_attempts).where(outbox_attempts.c.id == attempt_id).values(error=text)
    )
