"""Webhook endpoints of organisations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.model import OrgKind
from serviceguide.domain.status import EventType
from serviceguide.storage.tables import (
    organisations,
    outbox,
    outbox_attempts,
    webhook_endpoints,
)


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """An endpoint without its secret, which is shown only when created or rotated."""

    id: int
    org_id: int
    org_kind: OrgKind
    org_name: str
    org_ident: str  # the KO's coId or the TL's xsp
    url: str
    event_types: list[EventType]
    active: bool
    created_at: datetime


async def insert_endpoint(
    conn: AsyncConnection,
    *,
    org_id: int,
    url: str,
    event_types: str,
    secret: str,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(webhook_endpoints)
        .values(org_id=org_id, url=url, event_types=event_types, secret=secret, created_at=now)
        .returning(webhook_endpoints.c.id)
    )
    return int(result.scalar_one())


def _query() -> Select[Any]:
    return select(
        webhook_endpoints.c.id,
        webhook_endpoints.c.org_id,
        organisations.c.kind,
        organisations.c.name,
        organisations.c.coid,
        organisations.c.xsp,
        webhook_endpoints.c.url,
        webhook_endpoints.c.event_types,
        webhook_endpoints.c.active,
        webhook_endpoints.c.created_at,
    ).join(organisations, organisations.c.id == webhook_endpoints.c.org_id)


def _record(r: object) -> EndpointRecord:
    m = r._mapping  # type: ignore[attr-defined]
    return EndpointRecord(
        id=m["id"],
        org_id=m["org_id"],
        org_kind=OrgKind(m["kind"]),
        org_name=m["name"],
        org_ident=str(m["coid"] if m["coid"] is not None else m["xsp"]),
        url=m["url"],
        event_types=[EventType(t) for t in m["event_types"].split(",") if t],
        active=bool(m["active"]),
        created_at=m["created_at"],
    )


async def list_endpoints(conn: AsyncConnection) -> list[EndpointRecord]:
    return [_record(r) for r in await conn.execute(_query().order_by(webhook_endpoints.c.id))]


async def get_endpoint(conn: AsyncConnection, endpoint_id: int) -> EndpointRecord | None:
    row = (await conn.execute(_query().where(webhook_endpoints.c.id == endpoint_id))).first()
    return None if row is None else _record(row)


async def set_secret(conn: AsyncConnection, endpoint_id: int, secret: str) -> bool:
    result = await conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(secret=secret)
    )
    return result.rowcount == 1


async def set_active(conn: AsyncConnection, endpoint_id: int, active: bool) -> bool:
    result = await conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(active=active)
    )
    return result.rowcount == 1


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One delivery attempt (or, for failures, one delivery that gave up) to an endpoint."""

    at: datetime
    endpoint_id: int
    url: str
    event_id: int | None
    order_id: int
    outcome: str  # AttemptOutcome value, or "failed" for a delivery that gave up
    error: str | None
    duration_ms: int | None


async def recent_attempts(conn: AsyncConnection, org_id: int, limit: int) -> list[DeliveryAttempt]:
    """The newest attempts to the organisation's endpoints."""
    q = (
        select(
            outbox_attempts.c.at,
            outbox.c.endpoint_id,
            webhook_endpoints.c.url,
            outbox.c.event_id,
            outbox.c.order_id,
            outbox_attempts.c.outcome,
            outbox_attempts.c.error,
            outbox_attempts.c.duration_ms,
        )
        .select_from(outbox_attempts)
        .join(outbox, outbox.c.id == outbox_attempts.c.outbox_id)
        .join(webhook_endpoints, webhook_endpoints.c.id == outbox.c.endpoint_id)
        .where(webhook_endpoints.c.org_id == org_id)
        .order_by(outbox_attempts.c.id.desc())
        .limit(limit)
    )
    return [DeliveryAttempt(*r) for r in await conn.execute(q)]


async def failed_deliveries(
    conn: AsyncConnection, org_id: int, limit: int
) -> list[DeliveryAttempt]:
    """The newest deliveries to the organisation's endpoints that gave up (state failed)."""
    q = (
        select(
            func.coalesce(outbox.c.delivered_at, outbox.c.next_attempt_at),
            outbox.c.endpoint_id,
            webhook_endpoints.c.url,
            outbox.c.event_id,
            outbox.c.order_id,
            outbox.c.state,
            outbox.c.last_error,
            outbox.c.attempts,
        )
        .join(webhook_endpoints, webhook_endpoints.c.id == outbox.c.endpoint_id)
        .where(webhook_endpoints.c.org_id == org_id, outbox.c.state == "failed")
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    return [
        DeliveryAttempt(r[0], r[1], r[2], r[3], r[4], r[5], r[6], None)
        for r in await conn.execute(q)
    ]
