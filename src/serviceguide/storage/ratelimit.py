"""Counted events for rate limits, shared by every server process through the database.

A limit is checked and its event counted in one transaction that holds the key for its
duration (:func:`hold`): on PostgreSQL a transaction-scoped advisory lock per key, taken in a
fixed order; on SQLite the write transaction itself, which is exclusive across processes. Two
requests racing for the last slot of a key therefore see each other's count: one gets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from serviceguide.storage.tables import rate_hits

#: First half of the advisory lock key of a rate-limit key (the second is its hash): keeps these
#: locks apart from any other two-part advisory lock.
LOCK_CLASS = 0x5E41

_HOLD = text(
    "SELECT pg_advisory_xact_lock(:cls, hashtext(k)) "
    "FROM (SELECT DISTINCT k FROM unnest(:keys) AS k ORDER BY k) AS sorted"
).bindparams(bindparam("keys", type_=ARRAY(Text)))


async def hold(conn: AsyncConnection, keys: Sequence[str]) -> None:
    """Hold ``keys`` until the transaction ends (call first thing in a write transaction)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_HOLD, {"cls": LOCK_CLASS, "keys": list(keys)})


async def counts_since(
    conn: AsyncConnection, keys: Sequence[str], since: datetime
) -> dict[str, tuple[int, datetime]]:
    """For each key with events after ``since``: how many, and the earliest."""
    q = (
        select(rate_hits.c.key, func.count(), func.min(rate_hits.c.at))
        .where(rate_hits.c.key.in_(list(keys)), rate_hits.c.at > since)
        .group_by(rate_hits.c.key)
    )
    return {key: (int(n), first) for key, n, first in await conn.execute(q)}


async def record_hits(conn: AsyncConnection, keys: Sequence[str], at: datetime) -> list[int]:
    """One event per entry of ``keys``; returns their ids (to give them back)."""
    rows = await conn.execute(
        insert(rate_hits).returning(rate_hits.c.id), [{"key": k, "at": at} for k in keys]
    )
    return [int(i) for i in rows.scalars()]


async def forget_hits_before(conn: AsyncConnection, keys: Sequence[str], before: datetime) -> None:
    await conn.execute(
        delete(rate_hits).where(rate_hits.c.key.in_(list(keys)), rate_hits.c.at <= before)
    )


async def delete_hits(conn: AsyncConnection, ids: Sequence[int]) -> None:
    await conn.execute(delete(rate_hits).where(rate_hits.c.id.in_(list(ids))))
