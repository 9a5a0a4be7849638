"""Helpers for the notification tests: other settings on the same database, the outbox as rows,
a relay drained to the end, the ``serviceguide`` command (tests/support/commands.py)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.clock import utcnow
from serviceguide.domain.ordering import OrderRequest
from serviceguide.notify.relay import Relay, Tally
from serviceguide.services import placing
from serviceguide.services.context import AppContext
from serviceguide.storage.db import Database
from serviceguide.storage.tables import outbox, outbox_attempts
from tests.support.commands import SERVICEGUIDE, command_in_process, command_process  # noqa: F401
from tests.support.world import customer


def with_settings(ctx: AppContext, **overrides: Any) -> AppContext:
    """The same database, other settings (SMTP URL, back-off, …)."""
    return AppContext(db=ctx.db, settings=ctx.settings.model_copy(update=overrides))


class FlakyDatabase:
    """The real database behind a connection that fails when told to, for the relay's view of an
    outage. Each transaction takes the next step of ``plan`` — ``"ok"``, ``"refuse"`` (fails to
    start, as a refused connection does), ``"lose-commit"`` (commits, then fails, as a
    connection lost before the commit's answer does) or ``"error"`` (fails to start with an
    error that is not an outage) — and, once the plan is used up, refuses while ``down`` is
    set."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.plan: list[str] = []
        self.down = False

    def _next(self) -> str:
        step = self.plan.pop(0) if self.plan else ("refuse" if self.down else "ok")
        if step == "refuse":
            raise ConnectionRefusedError(111, "Connect call failed (the database is down)")
        if step == "error":
            raise RuntimeError("not an outage")
        return step

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        self._next()
        async with self.db.read() as conn:
            yield conn

    @asynccontextmanager
    async def write(self, *, ordered: bool = False) -> AsyncIterator[AsyncConnection]:
        step = self._next()
        async with self.db.write(ordered=ordered) as conn:
            yield conn
        if step == "lose-commit":
            raise ConnectionResetError(104, "Connection reset by peer (after the commit)")

    async def hold_streams(self, conn: AsyncConnection) -> None:
        await self.db.hold_streams(conn)

    def context(self, ctx: AppContext, **overrides: Any) -> AppContext:
        """``ctx`` with this database in its place (and other settings, if given)."""
        return AppContext(db=self, settings=ctx.settings.model_copy(update=overrides))  # type: ignore[arg-type]


def later(**delta: float) -> Callable[[], datetime]:
    """A relay clock that far in the future: what is waiting for a retry is due."""
    return lambda: utcnow() + timedelta(**delta)


async def drain(ctx: AppContext, **kwargs: Any) -> Tally:
    async with Relay(ctx, **kwargs) as relay:
        return await relay.drain()


async def rows(ctx: AppContext, **where: Any) -> list[Any]:
    q = select(outbox).order_by(outbox.c.id)
    for name, value in where.items():
        q = q.where(outbox.c[name] == value)
    async with ctx.db.read() as conn:
        return list((await conn.execute(q)).all())


async def attempts(ctx: AppContext, outbox_id: int) -> list[Any]:
    q = (
        select(outbox_attempts)
        .where(outbox_attempts.c.outbox_id == outbox_id)
        .order_by(outbox_attempts.c.id)
    )
    async with ctx.db.read() as conn:
        return list((await conn.execute(q)).all())


async def place(
    ctx: AppContext, services: list[int], i: int = 1, *, coid: str = "KOA", access: str = "A4"
) -> list[int]:
    """Order ``services`` on one access of the test world; returns the order ids."""
    p = await placing.place_order(
        ctx,
        OrderRequest(
            coid=coid,
            access_id=access,
            service_ids=services,
            customer=customer(i),
            delivery=None,
            message="",
        ),
    )
    return [o.id for o in p.orders]


async def command(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``serviceguide ARGS`` against the test database, in the test process, with the
    environment a separate process would have (``command_process`` runs one); ``env`` adds to
    or overrides it (a terminal 250 columns wide unless ``COLUMNS`` is given)."""
    return await command_in_process(database_url, *args, **env)
