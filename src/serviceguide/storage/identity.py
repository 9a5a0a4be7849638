"""API users, login hashes, failed-login records and staff users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.model import Caller, OrgKind
from serviceguide.storage.direct import Reader, Sql, ts
from serviceguide.storage.tables import (
    api_sessions,
    api_users,
    organisations,
    staff_users,
)


@dataclass(frozen=True, slots=True)
class ApiUserRecord:
    caller: Caller
    key_hash: str
    active: bool  # the API user and its organisation
    ip_allowlist: list[str] | None
    last_used_at: datetime | None = None


_caller_cols = (
    api_users.c.id,
    api_users.c.name,
    organisations.c.id.label("org_id"),
    organisations.c.name.label("org_name"),
    organisations.c.kind,
)


def _caller(r: Any) -> Caller:
    return Caller(
        user_id=r["id"],
        user_name=r["name"],
        org_id=r["org_id"],
        org_name=r["org_name"],
        org_kind=OrgKind(r["kind"]),
    )


async def get_api_user(conn: AsyncConnection, api_user: int) -> ApiUserRecord | None:
    q = (
        select(
            *_caller_cols,
            api_users.c.key_hash,
            api_users.c.active,
            api_users.c.ip_allowlist,
            organisations.c.active.label("org_active"),
            api_users.c.last_used_at,
        )
        .join(organisations, organisations.c.id == api_users.c.org_id)
        .where(api_users.c.id == api_user)
    )
    r = (await conn.execute(q)).first()
    if r is None:
        return None
    return ApiUserRecord(
        caller=_caller(r._mapping),
        key_hash=r.key_hash,
        active=bool(r.active and r.org_active),
        ip_allowlist=r.ip_allowlist,
        last_used_at=r.last_used_at,
    )


_SESSION = Sql.of(
    "SELECT u.id, u.name, g.id AS org_id, g.name AS org_name, g.kind, s.expires_at "
    "FROM api_sessions s JOIN api_users u ON u.id = s.api_user_id "
    "JOIN organisations g ON g.id = u.org_id "
    "WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND u.active"
)


async def caller_for_session(
    reader: Reader, token_sha256: str, now: datetime
) -> tuple[Caller, datetime] | None:
    """The caller a login hash belongs to and when the hash expires, if it exists, is unexpired
    and its user active (a poll's first read: on the direct driver path)."""
    r = await reader.fetchrow(_SESSION, token_sha256, now)
    return None if r is None else (_caller(r), ts(r["expires_at"]))


async def insert_session(
    conn: AsyncConnection, *, token_sha256: str, api_user: int, now: datetime, expires: datetime
) -> None:
    await conn.execute(
        insert(api_sessions).values(
            token_sha256=token_sha256, api_user_id=api_user, created_at=now, expires_at=expires
        )
    )


async def delete_expired_sessions(conn: AsyncConnection, now: datetime) -> int:
    result = await conn.execute(delete(api_sessions).where(api_sessions.c.expires_at <= now))
    return result.rowcount or 0


async def insert_api_user(
    conn: AsyncConnection,
    *,
    org_id: int,
    name: str,
    key_hash: str,
    ip_allowlist: list[str] | None,
    now: datetime,
) -> int:
    values: dict[str, Any] = {
        "org_id": org_id,
        "name": name,
        "key_hash": key_hash,
        "ip_allowlist": ip_allowlist,
        "created_at": now,
    }
    result = await conn.execute(insert(api_users).values(**values).returning(api_users.c.id))
    return int(result.scalar_one())


async def api_user_exists(conn: AsyncConnection, api_user: int) -> bool:
    q = select(api_users.c.id).where(api_users.c.id == api_user)
    return (await conn.execute(q)).first() is not None


async def insert_staff_user(
    conn: AsyncConnection,
    *,
    org_id: int,
    username: str,
    name: str,
    password_hash: str,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(staff_users)
        .values(
            org_id=org_id,
            username=username,
            name=name,
            password_hash=password_hash,
            created_at=now,
        )
        .returning(staff_users.c.id)
    )
    return int(result.scalar_one())


async def staff_username_taken(conn: AsyncConnection, username: str) -> bool:
    q = select(staff_users.c.id).where(staff_users.c.username == username)
    return (await conn.execute(q)).first() is not None


async def first_api_user_of(conn: AsyncConnection, org_id: int) -> int | None:
    q = select(func.min(api_users.c.id)).where(api_users.c.org_id == org_id)
    return (await conn.execute(q)).scalar_one()
