"""Looking at the outbox and queueing failed messages again (``serviceguide outbox …``)."""

from __future__ import annotations

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import Conflict, NotFound
from serviceguide.domain.outbox import OutboxKind, OutboxState
from serviceguide.services.context import AppContext
from serviceguide.storage import outbox as repo
from serviceguide.storage.outbox import Attempt, OutboxEntry


async def list_entries(
    ctx: AppContext,
    *,
    state: OutboxState | None = None,
    kind: OutboxKind | None = None,
    order_id: int | None = None,
    limit: int = 50,
) -> list[OutboxEntry]:
    """The newest messages first, with their attempts and last error."""
    async with ctx.db.read() as conn:
        return await repo.list_entries(conn, state=state, kind=kind, order_id=order_id, limit=limit)


async def attempts(ctx: AppContext, outbox_id: int) -> list[Attempt]:
    async with ctx.db.read() as conn:
        if await repo.state_of(conn, outbox_id) is None:
            raise NotFound("outbox message", outbox_id)
        return await repo.attempts_of(conn, outbox_id)


async def retry(ctx: AppContext, outbox_id: int) -> None:
    """Queue one failed (or pending) message for delivery now, with a fresh count of attempts."""
    async with ctx.db.write() as conn:
        state = await repo.state_of(conn, outbox_id)
        if state is None:
            raise NotFound("outbox message", outbox_id)
        if state in (OutboxState.DELIVERED, OutboxState.DELIVERING):
            raise Conflict(
                f"Outbox message {outbox_id} is {state}; only failed or pending ones can be retried"
            )
        await repo.requeue(conn, [outbox_id], utcnow())


async def retry_all_failed(ctx: AppContext) -> int:
    """Queue every failed message again; returns how many."""
    async with ctx.db.write() as conn:
        return await repo.requeue(conn, None, utcnow())


async def backlog(ctx: AppContext) -> list[repo.Backlog]:
    """Per kind of message: how many wait, how many failed, and the oldest waiting one's age
    (the ``serviceguide_outbox_*`` metrics)."""
    async with ctx.db.read() as conn:
        return await repo.backlog(conn)
