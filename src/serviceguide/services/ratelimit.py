"""Sliding-window limits kept in the database, so they hold across server processes.

Every limit is *take, then act*: :func:`take` checks the window and counts the attempt in one
transaction that holds the key (storage.ratelimit.hold), before the work it guards begins, so
that concurrent requests cannot all pass a check none of them has counted yet. What is counted
is given back (:meth:`Reservation.give_back`) when it should not count after all: a login that
succeeded, an order that was not placed.

Logins (:func:`take_login_attempt`) are limited per user and per client address, with one
exception that keeps strangers from locking someone out: while a user is at the limit, an
address that has no failure of its own in the window may still try (docs/decisions.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from serviceguide.domain.errors import Throttled
from serviceguide.observability import metrics
from serviceguide.storage import ratelimit
from serviceguide.storage.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Events counted by :func:`take`; ``give_back`` uncounts them."""

    db: Database
    ids: tuple[int, ...]

    async def give_back(self) -> None:
        """Uncount these events. Never raises: if the database is away, they stay counted
        until they leave the window, which errs on the side of the limit."""
        if not self.ids:
            return
        try:
            async with self.db.write() as conn:
                await ratelimit.delete_hits(conn, self.ids)
        except Exception as e:
            log.warning(
                "rate limit: %d events not given back (%s)", len(self.ids), type(e).__name__
            )


class Counts:
    """Events per key in the window, and the earliest of them."""

    def __init__(self, found: dict[str, tuple[int, datetime]]) -> None:
        self._found = found

    def of(self, key: str | None) -> tuple[int, datetime | None]:
        return self._found.get(key, (0, None)) if key else (0, None)


def _throttled(first: datetime | None, window: timedelta, now: datetime, what: str) -> Throttled:
    until = (first + window) if first is not None else now + window
    return Throttled(f"Too many {what}, try again later", int((until - now).total_seconds()) + 1)


async def _take(
    db: Database,
    keys: Sequence[str],
    window: timedelta,
    now: datetime,
    cost: int,
    refuse: Callable[[Counts], Throttled | None],
    name: str,
) -> Reservation:
    since = now - window
    async with db.write() as conn:
        await ratelimit.hold(conn, keys)
        counts = await ratelimit.counts_since(conn, keys, since)
        problem = refuse(Counts(counts))
        if problem is not None:
            metrics.throttled(name)
            raise problem
        await ratelimit.forget_hits_before(conn, keys, since)
        ids = await ratelimit.record_hits(conn, [k for k in keys for _ in range(cost)], now)
    return Reservation(db, tuple(ids))


async def take(
    db: Database,
    keys: Sequence[str],
    *,
    limit: int,
    window: timedelta,
    now: datetime,
    what: str,
    name: str,
    cost: int = 1,
) -> Reservation:
    """Count ``cost`` events for every key if each has room for them in the window; otherwise
    raise :class:`Throttled` with the seconds until the oldest event leaves it. ``what`` is
    for the message, ``name`` for the metrics."""

    def refuse(counts: Counts) -> Throttled | None:
        for key in keys:
            n, first = counts.of(key)
            if n + cost > limit:
                return _throttled(first, window, now, what)
        return None

    return await _take(db, keys, window, now, cost, refuse, name)


async def take_login_attempt(
    db: Database,
    *,
    user_key: str,
    address_key: str | None,
    limit: int,
    window: timedelta,
    now: datetime,
    name: str = "login",
) -> Reservation:
    """Count one login attempt for the user and the client address, before the password or
    key is checked; give it back when the attempt succeeds. Refused when the address is at
    ``limit``, or the user is and the address has failed (or is trying) in the window too."""
    keys = [user_key] + ([address_key] if address_key else [])

    def refuse(counts: Counts) -> Throttled | None:
        at_address, first_at_address = counts.of(address_key)
        if address_key and at_address >= limit:
            return _throttled(first_at_address, window, now, "failed logins")
        for_user, first_for_user = counts.of(user_key)
        if for_user >= limit and (address_key is None or at_address > 0):
            return _throttled(first_for_user, window, now, "failed logins")
        return None

    return await _take(db, keys, window, now, 1, refuse, name)
