"""The admin log's table: entries are inserted and read, never changed or deleted (nothing here
updates or deletes a row, and nothing else touches the table)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.audit import AuditEntry, AuditFilter
from serviceguide.storage.tables import admin_log


async def append(
    conn: AsyncConnection,
    *,
    at: datetime,
    org_id: int | None,
    org_name: str,
    actor: str,
    actor_org: str,
    action: str,
    object: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await conn.execute(
        insert(admin_log).values(
            at=at,
            org_id=org_id,
            org_name=org_name[:200],
            actor=actor[:200],
            actor_org=actor_org[:200],
            action=action,
            object=object[:200],
            before=None if before is None else json.dumps(before, ensure_ascii=False),
            after=None if after is None else json.dumps(after, ensure_ascii=False),
        )
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def entries(
    conn: AsyncConnection, f: AuditFilter, *, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Newest first; ``before_id`` pages (keyset)."""
    q = select(admin_log).order_by(admin_log.c.id.desc()).limit(limit)
    if f.org_id is not None:
        q = q.where(admin_log.c.org_id == f.org_id)
    if f.action:
        q = q.where(admin_log.c.action.like(_escape_like(f.action) + "%", escape="\\"))
    if f.actor:
        q = q.where(admin_log.c.actor.ilike("%" + _escape_like(f.actor) + "%", escape="\\"))
    if f.since is not None:
        q = q.where(admin_log.c.at >= f.since)
    if f.before_at is not None:
        q = q.where(admin_log.c.at < f.before_at)
    if before_id is not None:
        q = q.where(admin_log.c.id < before_id)
    return [
        AuditEntry(
            id=r.id,
            at=r.at,
            org_id=r.org_id,
            org_name=r.org_name,
            actor=r.actor,
            actor_org=r.actor_org,
            action=r.action,
            object=r.object,
            before=None if r.before is None else json.loads(r.before),
            after=None if r.after is None else json.loads(r.after),
        )
        for r in await conn.execute(q)
    ]


async def actions(conn: AsyncConnection, org_id: int | None) -> list[str]:
    """The actions found in the log (of one organisation), for the filter's choices."""
    q = select(admin_log.c.action).distinct().order_by(admin_log.c.action)
    if org_id is not None:
        q = q.where(admin_log.c.org_id == org_id)
    return list((await conn.execute(q)).scalars())
