"""A TL's ON-API settings (table ``tl_onapi``): read, written, removed. The password is stored
sealed (services.sealing); nothing here opens it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.sp import Delivery
from serviceguide.storage.tables import tl_onapi


@dataclass(frozen=True, slots=True)
class StoredSettings:
    tl_org_id: int
    base_url: str
    username: str | None
    password_enc: str | None
    delivery: Delivery
    updated_at: datetime

    def __repr__(self) -> str:  # never the sealed password either
        return (
            f"StoredSettings(tl_org_id={self.tl_org_id}, base_url={self.base_url!r}, "
            f"username={self.username!r}, delivery={self.delivery.value})"
        )


def _row(r: Any) -> StoredSettings:
    return StoredSettings(
        tl_org_id=r.tl_org_id,
        base_url=r.base_url,
        username=r.username,
        password_enc=r.password_enc,
        delivery=Delivery(r.delivery),
        updated_at=r.updated_at,
    )


async def get(conn: AsyncConnection, tl_org_id: int) -> StoredSettings | None:
    q = select(tl_onapi).where(tl_onapi.c.tl_org_id == tl_org_id)
    r = (await conn.execute(q)).first()
    return None if r is None else _row(r)


async def get_many(conn: AsyncConnection, tl_org_ids: set[int]) -> dict[int, StoredSettings]:
    if not tl_org_ids:
        return {}
    q = select(tl_onapi).where(tl_onapi.c.tl_org_id.in_(sorted(tl_org_ids)))
    return {r.tl_org_id: _row(r) for r in await conn.execute(q)}


async def all_settings(conn: AsyncConnection) -> dict[int, StoredSettings]:
    return {r.tl_org_id: _row(r) for r in await conn.execute(select(tl_onapi))}


async def put(
    conn: AsyncConnection,
    tl_org_id: int,
    *,
    base_url: str,
    username: str | None,
    password_enc: str | None,
    delivery: Delivery,
    now: datetime,
) -> None:
    values = {
        "base_url": base_url,
        "username": username,
        "password_enc": password_enc,
        "delivery": delivery.value,
        "updated_at": now,
    }
    done = await conn.execute(
        update(tl_onapi).where(tl_onapi.c.tl_org_id == tl_org_id).values(**values)
    )
    if done.rowcount == 0:
        await conn.execute(insert(tl_onapi).values(tl_org_id=tl_org_id, **values))


async def remove(conn: AsyncConnection, tl_org_id: int) -> bool:
    done = await conn.execute(delete(tl_onapi).where(tl_onapi.c.tl_org_id == tl_org_id))
    return done.rowcount > 0
