"""Organisations as the administration sees them: by id, the platform organisation, turning an
organisation off and on, the platform's listing with counts, and the row lock that serialises
changes to one organisation's admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.storage.catalogue import _org
from serviceguide.storage.tables import (
    api_users,
    networks,
    organisations,
    staff_users,
    webhook_endpoints,
)


@dataclass(frozen=True, slots=True)
class OrgListing:
    org: Organisation
    created_at: datetime
    staff_users: int
    admins: int
    api_users: int
    webhooks: int


async def by_id(conn: AsyncConnection, org_id: int) -> Organisation | None:
    r = (await conn.execute(select(organisations).where(organisations.c.id == org_id))).first()
    return None if r is None else _org(r)


async def platform(conn: AsyncConnection) -> Organisation | None:
    q = select(organisations).where(organisations.c.kind == OrgKind.PLATFORM.value)
    r = (await conn.execute(q.order_by(organisations.c.id).limit(1))).first()
    return None if r is None else _org(r)


async def lock(conn: AsyncConnection, org_id: int) -> None:
    """Hold the organisation's row until the transaction ends (PostgreSQL; SQLite's write
    transactions are serialised already), so that two changes to its admins cannot both pass
    the last-admin check."""
    if conn.dialect.name == "postgresql":
        q = select(organisations.c.id).where(organisations.c.id == org_id).with_for_update()
        await conn.execute(q)


async def set_active(conn: AsyncConnection, org_id: int, active: bool) -> None:
    await conn.execute(
        update(organisations).where(organisations.c.id == org_id).values(active=active)
    )


async def listing(conn: AsyncConnection) -> list[OrgListing]:
    """Every organisation with its counts of staff users (and admins among them), API users
    and webhook endpoints (active ones), by kind and name."""

    def count(table: Any, *where: Any) -> Any:
        return (
            select(func.count())
            .select_from(table)
            .where(table.c.org_id == organisations.c.id, table.c.active.is_(True), *where)
            .scalar_subquery()
        )

    q = select(
        organisations,
        count(staff_users).label("n_staff"),
        count(staff_users, staff_users.c.role == "admin").label("n_admins"),
        count(api_users).label("n_api"),
        count(webhook_endpoints).label("n_hooks"),
    ).order_by(organisations.c.kind, organisations.c.name, organisations.c.id)
    return [
        OrgListing(_org(r), r.created_at, r.n_staff, r.n_admins, r.n_api, r.n_hooks)
        for r in await conn.execute(q)
    ]


async def network_of(conn: AsyncConnection, ko_org_id: int) -> int | None:
    q = select(networks.c.id).where(networks.c.ko_org_id == ko_org_id).order_by(networks.c.id)
    return (await conn.execute(q.limit(1))).scalar_one_or_none()
