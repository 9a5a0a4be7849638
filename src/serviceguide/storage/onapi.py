"""Reads behind ON-API `accesses`: one network's accesses in use (not retired), optionally
changed since a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.storage.admissions import offered
from serviceguide.storage.catalogue import holds_nul
from serviceguide.storage.tables import accesses, services

BATCH = 2000

_cols = (
    accesses.c.id,
    accesses.c.access_id,
    accesses.c.street_name,
    accesses.c.street_number,
    accesses.c.street_littera,
    accesses.c.postal_code,
    accesses.c.city,
    accesses.c.country_code,
    accesses.c.premises_type,
    accesses.c.mdu_apartment_number,
    accesses.c.mdu_distinguisher,
    accesses.c.updated_at,
)


async def tl_sells_on(conn: AsyncConnection, tl_org_id: int, network_id: int) -> bool:
    q = select(
        exists().where(services.c.tl_org_id == tl_org_id, services.c.network_id == network_id)
    )
    return bool((await conn.execute(q)).scalar_one())


async def service_uids(conn: AsyncConnection, network_id: int) -> list[str]:
    q = (
        select(services.c.uid)
        .where(services.c.network_id == network_id, offered())
        .distinct()
        .order_by(services.c.uid)
    )
    return list((await conn.execute(q)).scalars())


async def last_modified(
    conn: AsyncConnection, network_id: int, since: datetime | None
) -> datetime | None:
    """The newest ``updated_at`` among the network's accesses changed at or after ``since``."""
    q = select(func.max(accesses.c.updated_at)).where(
        accesses.c.network_id == network_id, accesses.c.retired_at.is_(None)
    )
    if since is not None:
        q = q.where(accesses.c.updated_at >= since)
    value: datetime | None = (await conn.execute(q)).scalar_one()
    return value


async def iter_accesses(
    conn: AsyncConnection, network_id: int, since: datetime | None
) -> AsyncIterator[list[Any]]:
    """The network's accesses in batches, by id (keyset paging: no growing OFFSET)."""
    after = 0
    while True:
        q = (
            select(*_cols)
            .where(
                accesses.c.network_id == network_id,
                accesses.c.id > after,
                accesses.c.retired_at.is_(None),
            )
            .order_by(accesses.c.id)
            .limit(BATCH)
        )
        if since is not None:
            q = q.where(accesses.c.updated_at >= since)
        rows = list(await conn.execute(q))
        if not rows:
            return
        yield rows
        after = rows[-1].id


async def one_access(conn: AsyncConnection, network_id: int, access_id: str) -> Any | None:
    if holds_nul(access_id):
        return None
    q = select(*_cols).where(
        accesses.c.network_id == network_id,
        accesses.c.access_id == access_id,
        accesses.c.retired_at.is_(None),
    )
    return (await conn.execute(q)).first()
