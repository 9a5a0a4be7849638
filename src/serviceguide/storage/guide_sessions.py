"""The guide's server-side sessions: a draft order (JSON) under the SHA-256 of the browser's
cookie, until it has been idle for its lifetime. Expired rows are deleted by the next save."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.storage.tables import guide_sessions


async def get(conn: AsyncConnection, token_sha256: str, now: datetime) -> str | None:
    """The draft of an unexpired session, as stored."""
    q = select(guide_sessions.c.draft).where(
        guide_sessions.c.token_sha256 == token_sha256, guide_sessions.c.expires_at > now
    )
    return (await conn.execute(q)).scalar()


async def put(
    conn: AsyncConnection, token_sha256: str, draft: str, now: datetime, expires: datetime
) -> None:
    """Store the session's draft (inside a write transaction), and drop expired sessions."""
    await conn.execute(delete(guide_sessions).where(guide_sessions.c.expires_at <= now))
    done = await conn.execute(
        update(guide_sessions)
        .where(guide_sessions.c.token_sha256 == token_sha256)
        .values(draft=draft, updated_at=now, expires_at=expires)
    )
    if done.rowcount == 0:
        await conn.execute(
            insert(guide_sessions).values(
                token_sha256=token_sha256, draft=draft, updated_at=now, expires_at=expires
            )
        )
