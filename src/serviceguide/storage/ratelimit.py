"""Counted events for rate limits, shared by every server process through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.storage.tables import rate_hits


async def hits_since(
    conn: AsyncConnection, key: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many events ``key`` has had after ``since``, and the earliest of them."""
    q = select(func.count(), func.min(rate_hits.c.at)).where(
        rate_hits.c.key == key, rate_hits.c.at > since
    )
    count, first = (await conn.execute(q)).one()
    return int(count), first


async def record_hits(conn: AsyncConnection, keys: list[str], at: datetime) -> None:
    await conn.execute(insert(rate_hits), [{"key": k, "at": at} for k in keys])


async def forget_hits_before(conn: AsyncConnection, keys: list[str], before: datetime) -> None:
    await conn.execute(delete(rate_hits).where(rate_hits.c.key.in_(keys), rate_hits.c.at <= before))
