"""The rows behind market-database uploads: one per upload with its state and progress, and its
rejected rows. Claiming an import is one UPDATE whose WHERE says who may take it (a queued one,
or a running one whose worker stopped writing its heartbeat), so two workers never both run it.
At most one upload per network is queued or running (the partial unique index
``uq_imports_network_busy``): a second insert fails with :class:`Busy`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.storage.tables import import_rejections, imports


class Busy(Exception):
    """The network already has an upload queued or running."""


@dataclass(frozen=True, slots=True)
class ImportRecord:
    id: int
    network_id: int
    org_id: int
    state: str
    format: str
    filename: str
    path: str
    bytes: int
    lines: int | None
    rows_done: int
    rejected: int
    inserted: int
    updated: int
    unchanged: int
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def busy(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def imported(self) -> int:
        return self.inserted + self.updated + self.unchanged


_cols = [c for c in imports.c if c.name != "claim_token"]


def _record(r: Any) -> ImportRecord:
    return ImportRecord(**{c.name: getattr(r, c.name) for c in _cols})


async def insert_import(conn: AsyncConnection, **values: Any) -> int:
    try:
        async with conn.begin_nested():
            result = await conn.execute(insert(imports).values(**values).returning(imports.c.id))
            return int(result.scalar_one())
    except IntegrityError:
        raise Busy() from None


async def get(conn: AsyncConnection, import_id: int) -> ImportRecord | None:
    r = (await conn.execute(select(*_cols).where(imports.c.id == import_id))).first()
    return None if r is None else _record(r)


async def busy_of(conn: AsyncConnection, network_id: int) -> ImportRecord | None:
    q = select(*_cols).where(
        imports.c.network_id == network_id, imports.c.state.in_(["queued", "running"])
    )
    r = (await conn.execute(q)).first()
    return None if r is None else _record(r)


async def recent(conn: AsyncConnection, network_id: int, limit: int) -> list[ImportRecord]:
    q = (
        select(*_cols)
        .where(imports.c.network_id == network_id)
        .order_by(imports.c.id.desc())
        .limit(limit)
    )
    return [_record(r) for r in await conn.execute(q)]


async def claimable(conn: AsyncConnection, stale_before: datetime) -> list[ImportRecord]:
    """Queued imports, and running ones whose worker has not written for a while."""
    q = select(*_cols).where(
        or_(
            imports.c.state == "queued",
            (imports.c.state == "running") & (imports.c.heartbeat_at < stale_before),
        )
    )
    return [_record(r) for r in await conn.execute(q.order_by(imports.c.id))]


async def claim(
    conn: AsyncConnection, import_id: int, token: str, now: datetime, stale_before: datetime
) -> bool:
    result = await conn.execute(
        update(imports)
        .where(
            imports.c.id == import_id,
            or_(
                imports.c.state == "queued",
                (imports.c.state == "running") & (imports.c.heartbeat_at < stale_before),
            ),
        )
        .values(
            state="running",
            claim_token=token,
            started_at=now,
            heartbeat_at=now,
            rows_done=0,
            rejected=0,
            inserted=0,
            updated=0,
            unchanged=0,
        )
    )
    if result.rowcount != 1:
        return False
    # A restarted import starts over: its earlier rejections go.
    await conn.execute(delete(import_rejections).where(import_rejections.c.import_id == import_id))
    return True


async def progress(
    conn: AsyncConnection, import_id: int, token: str, now: datetime, **values: Any
) -> bool:
    """Write progress while still holding the claim; False if another worker took it."""
    result = await conn.execute(
        update(imports)
        .where(imports.c.id == import_id, imports.c.claim_token == token)
        .values(heartbeat_at=now, **values)
    )
    return result.rowcount == 1


async def add_rejections(
    conn: AsyncConnection, import_id: int, rows: Sequence[tuple[int, str, str]]
) -> None:
    if rows:
        await conn.execute(
            insert(import_rejections),
            [
                {"import_id": import_id, "line": line, "field": f[:40], "reason": r[:300]}
                for line, f, r in rows
            ],
        )


async def rejections(
    conn: AsyncConnection, import_id: int, *, after: int = 0, limit: int | None = None
) -> list[tuple[int, str, str]]:
    """Rejected rows by line (then id), from line ``after`` on."""
    q = (
        select(import_rejections.c.line, import_rejections.c.field, import_rejections.c.reason)
        .where(import_rejections.c.import_id == import_id, import_rejections.c.line > after)
        .order_by(import_rejections.c.line, import_rejections.c.id)
    )
    if limit is not None:
        q = q.limit(limit)
    return [(r.line, r.field, r.reason) for r in await conn.execute(q)]


async def iter_rejections(
    conn: AsyncConnection, import_id: int, batch: int = 5000
) -> AsyncIterator[list[tuple[int, str, str]]]:
    after_id = 0
    while True:
        q = (
            select(
                import_rejections.c.id,
                import_rejections.c.line,
                import_rejections.c.field,
                import_rejections.c.reason,
            )
            .where(import_rejections.c.import_id == import_id, import_rejections.c.id > after_id)
            .order_by(import_rejections.c.id)
            .limit(batch)
        )
        rows = list(await conn.execute(q))
        if not rows:
            return
        yield [(r.line, r.field, r.reason) for r in rows]
        after_id = rows[-1].id


async def count_rejections(conn: AsyncConnection, import_id: int) -> int:
    q = select(func.count()).select_from(import_rejections)
    return int(
        (await conn.execute(q.where(import_rejections.c.import_id == import_id))).scalar_one()
    )
