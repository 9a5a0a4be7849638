"""Stored first answers for Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.storage.tables import idempotency_keys


async def get(conn: AsyncConnection, key: str) -> tuple[str, str] | None:
    """(request fingerprint, response body) stored for ``key``."""
    q = select(idempotency_keys.c.request_sha256, idempotency_keys.c.response).where(
        idempotency_keys.c.key == key
    )
    row = (await conn.execute(q)).first()
    return None if row is None else (row[0], row[1])


async def put(
    conn: AsyncConnection,
    *,
    key: str,
    request_sha256: str,
    status_code: int,
    response: str,
    now: datetime,
) -> None:
    await conn.execute(
        insert(idempotency_keys).values(
            key=key,
            request_sha256=request_sha256,
            status_code=status_code,
            response=response,
            created_at=now,
        )
    )
