"""The ON-API pushes' rows: what a push says (read when it is sent), the placing server's claim
on the pushes of the orders it has just placed, and the orders' answers as the guide shows them
again (a repeated request's answer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.outbox import OutboxKind, OutboxState
from serviceguide.domain.sp import Delivery
from serviceguide.domain.status import EventType, MessageType
from serviceguide.storage.db import STREAM_LOCK_KEY
from serviceguide.storage.sp_settings import StoredSettings
from serviceguide.storage.tables import (
    accesses,
    customers,
    order_log,
    orders,
    organisations,
    outbox,
    tl_onapi,
)

SP_KINDS = (OutboxKind.SP_ORDER.value, OutboxKind.SP_NOTICE.value)


@dataclass(frozen=True, slots=True)
class PushFacts:
    """What an ``order`` or ``activationnotice`` says, read when it is sent."""

    outbox_id: int
    kind: OutboxKind
    attempts: int  # the row's, when read
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
    #: The TL's ON-API settings now (None: it has none any more); the password still sealed.
    onapi: StoredSettings | None = None


async def push_facts(
    conn: AsyncConnection,
    ids: Sequence[int] = (),
    *,
    claimed: tuple[Sequence[int], str] | None = None,
) -> dict[int, PushFacts]:
    """What the pushes say, by outbox id: of the rows ``ids``, or (``claimed``: order ids and a
    claim's token) of those orders' ``order`` pushes still held by that claim, found by the
    orders' index."""
    which: ColumnElement[bool]
    if claimed is None:
        which = outbox.c.id.in_(list(ids))
    else:
        order_ids, token = claimed
        which = and_(
            outbox.c.order_id.in_(list(order_ids)),
            outbox.c.kind == OutboxKind.SP_ORDER.value,
            outbox.c.claim_token == token,
            outbox.c.state == OutboxState.DELIVERING.value,
        )
    q = (
        select(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.attempts,
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
            tl_onapi.c.tl_org_id.label("onapi_org"),
            tl_onapi.c.base_url,
            tl_onapi.c.username,
            tl_onapi.c.password_enc,
            tl_onapi.c.delivery.label("onapi_delivery"),
            tl_onapi.c.updated_at.label("onapi_updated_at"),
        )
        .join(orders, orders.c.id == outbox.c.order_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(customers, customers.c.id == orders.c.customer_id)
        .join(organisations, organisations.c.id == orders.c.tl_org_id)
        .outerjoin(tl_onapi, tl_onapi.c.tl_org_id == orders.c.tl_org_id)
        .where(which)
    )
    return {
        r.id: PushFacts(
            outbox_id=r.id,
            kind=OutboxKind(r.kind),
            attempts=r.attempts,
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
            onapi=None
            if r.onapi_org is None
            else StoredSettings(
                tl_org_id=r.onapi_org,
                base_url=r.base_url,
                username=r.username,
                password_enc=r.password_enc,
                delivery=Delivery(r.onapi_delivery),
                updated_at=r.onapi_updated_at,
            ),
        )
        for r in await conn.execute(q)
    }


async def pushes_of(conn: AsyncConnection, order_ids: Sequence[int]) -> dict[int, int]:
    """The ``order`` pushes (outbox ids) of these orders, by order id."""
    q = select(outbox.c.order_id, outbox.c.id).where(
        outbox.c.order_id.in_(list(order_ids)), outbox.c.kind == OutboxKind.SP_ORDER.value
    )
    return {r.order_id: r.id for r in await conn.execute(q)}


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
    request_id: str | None = None,
    *,
    token: str | None = None,
    until: datetime | None = None,
) -> None:
    """One push per ``(order_id, tl_org_id, kind)``, due now. With ``token``, the ``order``
    pushes are written claimed by it until ``until`` (their first attempt counted): the placing
    server attempts them right after the commit, and relays take them only if that claim runs
    out (the server stopped). Notices are left to the relays."""
    if not pushes:
        return

    def claimed(kind: OutboxKind) -> bool:
        return token is not None and kind == OutboxKind.SP_ORDER

    await conn.execute(
        insert(outbox),
        [
            {
                "kind": kind.value,
                "order_id": order_id,
                "org_id": tl_org_id,
                "state": (OutboxState.DELIVERING if claimed(kind) else OutboxState.PENDING).value,
                "attempts": 1 if claimed(kind) else 0,
                "next_attempt_at": at,
                "claimed_until": until if claimed(kind) else None,
                "claim_token": token if claimed(kind) else None,
                "created_at": at,
                "request_id": request_id,
            }
            for order_id, tl_org_id, kind in pushes
        ],
    )


# -- a TL's answer on PostgreSQL: one statement ----------------------------------------------
#
# The answer's log entry, the order's change from ``new``, its event and the event's webhook
# deliveries, in one statement that first takes the stream lock (storage.db.STREAM_LOCK_KEY),
# as placing an order does: the lock is then held for that statement and the COMMIT only, not
# across a round trip per row. An order no longer ``new`` is not changed (and gets no event);
# the answer is logged all the same.

_APPLY = text(
    """
WITH lock AS (
    SELECT pg_advisory_xact_lock(CAST(:lock_key AS bigint)) AS held
), logged AS (
    INSERT INTO order_log (order_id, created_at, type, message, user_name, org_name, org_id,
                           code, params)
    SELECT CAST(:order_id AS bigint), CAST(:now AS timestamptz), CAST(:log_type AS text),
           CAST(:message AS text), CAST(:by AS text), CAST(:by AS text), NULL,
           CAST(:code AS text), CAST(:params AS text)
    FROM lock
), upd AS (
    UPDATE orders SET status = CAST(:new AS text), updated_at = CAST(:now AS timestamptz)
    WHERE id = CAST(:order_id AS bigint) AND status = CAST(:old AS text)
      AND EXISTS (SELECT 1 FROM lock)
    RETURNING id, tl_org_id, ko_org_id
), ev AS (
    INSERT INTO events (order_id, created_at, type, status, message_type, tl_org_id, ko_org_id)
    SELECT upd.id, CAST(:now AS timestamptz), CAST(:event_type AS text), CAST(:new AS text),
           NULL, upd.tl_org_id, upd.ko_org_id
    FROM upd
    RETURNING id, order_id, tl_org_id, ko_org_id
), hooks AS (
    INSERT INTO outbox (kind, order_id, event_id, endpoint_id, state, attempts,
                        next_attempt_at, created_at, request_id)
    SELECT 'webhook', ev.order_id, ev.id, e.id, 'pending', 0, CAST(:now AS timestamptz),
           CAST(:now AS timestamptz), CAST(:request_id AS text)
    FROM ev JOIN webhook_endpoints e
        ON e.active AND e.org_id IN (ev.tl_org_id, ev.ko_org_id)
        AND position(',' || CAST(:event_type AS text) || ',' IN ',' || e.event_types || ',') > 0
    ORDER BY ev.id, e.id
)
SELECT count(*) FROM upd
"""
)


async def apply_in_one_statement(
    conn: AsyncConnection,
    *,
    order_id: int,
    old: str,
    new: str,
    note: tuple[str, str, str],  # code, params JSON, the API's text
    by: str,
    now: datetime,
    request_id: str | None,
) -> bool:
    """The answer's writes on PostgreSQL (above); True if the order changed."""
    code, params, message = note
    result = await conn.execute(
        _APPLY,
        {
            "lock_key": STREAM_LOCK_KEY,
            "order_id": order_id,
            "old": old,
            "new": new,
            "now": now,
            "log_type": MessageType.SYSTEM.value,
            "message": message,
            "by": by,
            "code": code,
            "params": params,
            "event_type": EventType.STATUS_CHANGED.value,
            "request_id": request_id,
        },
    )
    return int(result.scalar_one()) == 1
