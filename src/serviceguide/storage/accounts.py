"""Staff users and API users as their organisation's admin manages them: listings, roles,
turning them off and on, new passwords and keys, allow-lists, and when an API user was last
used. Every query that takes an organisation is scoped to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.roles import Role
from serviceguide.storage.tables import api_sessions, api_users, staff_sessions, staff_users


@dataclass(frozen=True, slots=True)
class StaffAccount:
    id: int
    org_id: int
    username: str
    name: str
    role: Role
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiAccount:
    id: int  # the api_user number
    org_id: int
    name: str
    ip_allowlist: list[str] | None
    active: bool
    created_at: datetime
    last_used_at: datetime | None


def _staff(r: Any) -> StaffAccount:
    return StaffAccount(
        r.id, r.org_id, r.username, r.name, Role(r.role), bool(r.active), r.created_at
    )


def _api(r: Any) -> ApiAccount:
    return ApiAccount(
        r.id, r.org_id, r.name, r.ip_allowlist, bool(r.active), r.created_at, r.last_used_at
    )


_staff_cols = (
    staff_users.c.id,
    staff_users.c.org_id,
    staff_users.c.username,
    staff_users.c.name,
    staff_users.c.role,
    staff_users.c.active,
    staff_users.c.created_at,
)
_api_cols = (
    api_users.c.id,
    api_users.c.org_id,
    api_users.c.name,
    api_users.c.ip_allowlist,
    api_users.c.active,
    api_users.c.created_at,
    api_users.c.last_used_at,
)


# --- staff users ---------------------------------------------------------------------------------


async def staff_of(conn: AsyncConnection, org_id: int | None) -> list[StaffAccount]:
    """The staff users of one organisation (None: of all), by username."""
    q = select(*_staff_cols).order_by(staff_users.c.username)
    if org_id is not None:
        q = q.where(staff_users.c.org_id == org_id)
    return [_staff(r) for r in await conn.execute(q)]


async def staff_account(
    conn: AsyncConnection, *, user_id: int | None = None, username: str | None = None
) -> StaffAccount | None:
    q = select(*_staff_cols)
    if user_id is not None:
        q = q.where(staff_users.c.id == user_id)
    if username is not None:
        q = q.where(staff_users.c.username == username)
    r = (await conn.execute(q)).first()
    return None if r is None else _staff(r)


async def active_admins(conn: AsyncConnection, org_id: int) -> int:
    q = (
        select(func.count())
        .select_from(staff_users)
        .where(
            staff_users.c.org_id == org_id,
            staff_users.c.role == Role.ADMIN.value,
            staff_users.c.active.is_(True),
        )
    )
    return int((await conn.execute(q)).scalar_one())


async def set_staff(conn: AsyncConnection, user_id: int, **values: Any) -> None:
    await conn.execute(update(staff_users).where(staff_users.c.id == user_id).values(**values))


async def end_staff_sessions(conn: AsyncConnection, *, user_id: int | None = None,
                             org_id: int | None = None) -> None:  # fmt: skip
    q = delete(staff_sessions)
    if user_id is not None:
        q = q.where(staff_sessions.c.staff_user_id == user_id)
    if org_id is not None:
        users = select(staff_users.c.id).where(staff_users.c.org_id == org_id)
        q = q.where(staff_sessions.c.staff_user_id.in_(users))
    await conn.execute(q)


# --- API users -----------------------------------------------------------------------------------


async def api_of(conn: AsyncConnection, org_id: int | None) -> list[ApiAccount]:
    """The API users of one organisation (None: of all), by number."""
    q = select(*_api_cols).order_by(api_users.c.id)
    if org_id is not None:
        q = q.where(api_users.c.org_id == org_id)
    return [_api(r) for r in await conn.execute(q)]


async def api_account(conn: AsyncConnection, api_user: int) -> ApiAccount | None:
    r = (await conn.execute(select(*_api_cols).where(api_users.c.id == api_user))).first()
    return None if r is None else _api(r)


async def set_api(conn: AsyncConnection, api_user: int, **values: Any) -> None:
    await conn.execute(update(api_users).where(api_users.c.id == api_user).values(**values))


async def end_api_sessions(conn: AsyncConnection, *, api_user: int | None = None,
                           org_id: int | None = None) -> None:  # fmt: skip
    """Delete the login hashes of one API user or of every API user of an organisation."""
    q = delete(api_sessions)
    if api_user is not None:
        q = q.where(api_sessions.c.api_user_id == api_user)
    if org_id is not None:
        users = select(api_users.c.id).where(api_users.c.org_id == org_id)
        q = q.where(api_sessions.c.api_user_id.in_(users))
    await conn.execute(q)


#: ``last_used_at`` is written at most this often per API user.
TOUCH_EVERY = timedelta(minutes=1)


async def touch_api_user(conn: AsyncConnection, api_user: int, now: datetime) -> None:
    """Record that the API user was used now, unless that was recorded under a minute ago."""
    await conn.execute(
        update(api_users)
        .where(
            api_users.c.id == api_user,
            or_(api_users.c.last_used_at.is_(None), api_users.c.last_used_at < now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
    )
