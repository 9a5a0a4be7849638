"""Sliding-window limits kept in the database, so they hold across server processes."""

from __future__ import annotations

from datetime import datetime, timedelta

from serviceguide.domain.errors import Throttled
from serviceguide.storage import ratelimit
from serviceguide.storage.db import Database


async def check(
    db: Database,
    keys: list[str],
    *,
    limit: int,
    window: timedelta,
    now: datetime,
    what: str,
    cost: int = 1,
) -> None:
    """Raise :class:`Throttled`, with the seconds until a slot frees, if any key is at its limit."""
    async with db.read() as conn:
        for key in keys:
            count, first = await ratelimit.hits_since(conn, key, now - window)
            if count + cost > limit:
                until = (first + window) if first is not None else now + window
                raise Throttled(
                    f"Too many {what}, try again later", int((until - now).total_seconds()) + 1
                )


async def hit(
    db: Database, keys: list[str], *, window: timedelta, now: datetime, cost: int = 1
) -> None:
    """Count ``cost`` events for each key, dropping the ones that have left the window."""
    async with db.write() as conn:
        await ratelimit.forget_hits_before(conn, keys, now - window)
        await ratelimit.record_hits(conn, keys * cost, now)
