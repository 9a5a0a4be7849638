"""The ON-API pushes' rows: what a push says (read when it is sent), the placing server's claim
on the pushes of the orders it has just placed, and the orders' answers as the guide shows them
again (a repeated request's answer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.outbox import OutboxKind, OutboxState
from serviceguide.storage.outbox import Claim
from serviceguide.storage.tables import (
    accesses,
    customers,
    order_log,
    orders,
    organisations,
    outbox,
)

SP_KINDS = (OutboxKind.SP_ORDER.value, OutboxKind.SP_NOTICE.value)


@dataclass(frozen=True, slots=True)
class PushFacts:
    """What an ``order`` or ``activationnotice`` says, read when it is sent."""

    outbox_id: int
    kind: OutboxKind
    created_at: datetime  # the outbox row's: when the push was first due
    order_id: int
    tl_org_id: int
    xsp: int
    ko_org_id: int
    status: str  # the order's, now
    order_created_at: datetime
    delivery: date | None
    service_uid: str
    access_id: str
    street_name: str
    street_number: str
    street_littera: str
    postal_code: str
    city: str
    serial: str
    firstname: str
    surname: str
    email: str
    phone: str
    # The TL's product and offering the order was placed for (None: an order older than they
    # were kept; its service_uid stands for both).
    product_id: str | None = None
    offering_id: str | None = None


async def push_facts(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, PushFacts]:
    q = (
        select(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.created_at,
            orders.c.id.label("order_id"),
            orders.c.tl_org_id,
            organisations.c.xsp,
            orders.c.ko_org_id,
            orders.c.status,
            orders.c.created_at.label("order_created_at"),
            orders.c.delivery,
            orders.c.service_uid,
            orders.c.product_id,
            orders.c.offering_id,
            accesses.c.access_id,
            accesses.c.street_name,
            accesses.c.street_number,
            accesses.c.street_littera,
            accesses.c.postal_code,
            accesses.c.city,
            customers.c.serial,
            customers.c.firstname,
            customers.c.surname,
            customers.c.email,
            customers.c.phone,
        )
        .join(orders, orders.c.id == outbox.c.order_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(customers, customers.c.id == orders.c.customer_id)
        .join(organisations, organisations.c.id == orders.c.tl_org_id)
        .where(outbox.c.id.in_(list(ids)))
    )
    return {
        r.id: PushFacts(
            outbox_id=r.id,
            kind=OutboxKind(r.kind),
            created_at=r.created_at,
            order_id=r.order_id,
            tl_org_id=r.tl_org_id,
            xsp=r.xsp or 0,
            ko_org_id=r.ko_org_id,
            status=r.status,
            order_created_at=r.order_created_at,
            delivery=r.delivery,
            service_uid=r.service_uid,
            product_id=r.product_id,
            offering_id=r.offering_id,
            access_id=r.access_id,
            street_name=r.street_name,
            street_number=r.street_number,
            street_littera=r.street_littera,
            postal_code=r.postal_code,
            city=r.city,
            serial=r.serial,
            firstname=r.firstname,
            surname=r.surname,
            email=r.email,
            phone=r.phone,
        )
        for r in await conn.execute(q)
    }


async def pushes_of(conn: AsyncConnection, order_ids: Sequence[int]) -> dict[int, int]:
    """The ``order`` pushes (outbox ids) of these orders, by order id."""
    q = select(outbox.c.order_id, outbox.c.id).where(
        outbox.c.order_id.in_(list(order_ids)), outbox.c.kind == OutboxKind.SP_ORDER.value
    )
    return {r.order_id: r.id for r in await conn.execute(q)}


async def claim_ids(
    conn: AsyncConnection,
    ids: Sequence[int],
    *,
    now: datetime,
    lease: timedelta,
    token: str,
) -> list[Claim]:
    """Claim these rows, due or not, if they are still pending (inside a write transaction): the
    placing server's first attempt at the pushes it has just committed. A row a relay has taken
    meanwhile is left to it."""
    if not ids:
        return []
    q = (
        select(outbox.c.id, outbox.c.kind, outbox.c.order_id, outbox.c.attempts)
        .where(outbox.c.id.in_(list(ids)), outbox.c.state == OutboxState.PENDING.value)
        .order_by(outbox.c.id)
        .with_for_update(skip_locked=True)
    )
    rows = (await conn.execute(q)).all()
    if not rows:
        return []
    await conn.execute(
        update(outbox)
        .where(
            outbox.c.id.in_([r.id for r in rows]),
            outbox.c.state == OutboxState.PENDING.value,
        )
        .values(
            state=OutboxState.DELIVERING.value,
            claimed_until=now + lease,
            claim_token=token,
            attempts=outbox.c.attempts + 1,
        )
    )
    return [Claim(r.id, OutboxKind(r.kind), r.order_id, r.attempts + 1, None) for r in rows]


async def answers_logged(
    conn: AsyncConnection, order_ids: Sequence[int], codes: Sequence[str]
) -> dict[int, tuple[str, str]]:
    """The last logged SP answer (code, params JSON) of each of these orders that has one."""
    q = (
        select(order_log.c.order_id, order_log.c.code, order_log.c.params)
        .where(and_(order_log.c.order_id.in_(list(order_ids)), order_log.c.code.in_(codes)))
        .order_by(order_log.c.id)
    )
    return {r.order_id: (r.code, r.params or "{}") for r in await conn.execute(q)}


async def has_mail(conn: AsyncConnection, order_id: int) -> bool:
    q = select(outbox.c.id).where(
        outbox.c.order_id == order_id, outbox.c.kind == OutboxKind.MAIL.value
    )
    return (await conn.execute(q.limit(1))).first() is not None


async def enqueue_pushes(
    conn: AsyncConnection,
    pushes: Sequence[tuple[int, int, OutboxKind]],
    at: datetime,
    order_due: datetime,
    request_id: str | None = None,
) -> None:
    """One push per ``(order_id, tl_org_id, kind)``: an ``order`` due at ``order_due`` (the
    placing server attempts it first, right after the commit; relays take it after that), a
    notice due now."""
    if not pushes:
        return
    await conn.execute(
        insert(outbox),
        [
            {
                "kind": kind.value,
                "order_id": order_id,
                "org_id": tl_org_id,
                "state": OutboxState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": order_due if kind == OutboxKind.SP_ORDER else at,
                "created_at": at,
                "request_id": request_id,
            }
            for order_id, tl_org_id, kind in pushes
        ],
    )
