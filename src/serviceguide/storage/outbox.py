"""The outbox: enqueueing notifications inside a change's transaction, and the relay's claims.

A relay claims due rows in one short transaction (``claim``): on PostgreSQL ``SELECT … FOR
UPDATE SKIP LOCKED`` so that concurrent relays take disjoint rows; on SQLite every write
transaction holds the database's single write lock (``BEGIN IMMEDIATE``), which gives the same.
A claim marks the rows ``delivering`` until ``now + lease`` and counts the attempt. The relay then
delivers outside any transaction and records the outcome with ``finish``, which only succeeds for
the claim that still holds the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.outbox import AttemptOutcome, OutboxKind, OutboxState
from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.storage.tables import (
    accesses,
    customers,
    events,
    networks,
    orders,
    organisations,
    outbox,
    outbox_attempts,
    tl_onapi,
    webhook_endpoints,
)
from serviceguide.storage.types import UTCDateTime

P, D = OutboxState.PENDING.value, OutboxState.DELIVERING.value


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    kind: OutboxKind
    order_id: int
    attempts: int  # this attempt included
    request_id: str | None = None  # of the request that wrote the row, for the relay's logs


@dataclass(frozen=True, slots=True)
class MailFacts:
    """What the order e-mail says, read when it is sent."""

    outbox_id: int
    created_at: datetime  # the outbox row's: the mail's Date, the same on every retry
    order_id: int
    order_created_at: datetime
    delivery: date | None
    service_name: str
    service_uid: str
    price_monthly: Decimal  # the order's: what the customer was offered
    price_once: Decimal
    coid: str
    access_id: str
    address: str
    zip: str
    city: str
    premise: str
    customer_firstname: str
    customer_surname: str
    tl_name: str
    to: str | None


@dataclass(frozen=True, slots=True)
class WebhookFacts:
    outbox_id: int
    event_id: int
    event_type: EventType
    order_id: int
    status: OrderStatus
    message_type: MessageType | None
    event_at: datetime
    endpoint_id: int
    url: str
    secret: str
    active: bool


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One row as ``serviceguide outbox list`` shows it."""

    id: int
    kind: OutboxKind
    order_id: int
    event_id: int | None
    target: str  # the TL's order address or the endpoint's URL
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None

    @property
    def next_or_done(self) -> datetime | None:
        """When it was delivered, or when it is next tried (None: failed, nothing planned)."""
        if self.state == OutboxState.DELIVERED:
            return self.delivered_at
        if self.state == OutboxState.DELIVERING:
            return self.claimed_until
        if self.state == OutboxState.PENDING:
            return self.next_attempt_at
        return None


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(outbox.c.state == P, outbox.c.next_attempt_at <= now),
        and_(outbox.c.state == D, outbox.c.claimed_until <= now),
    )


def _when(at: datetime) -> ColumnElement[datetime]:
    return literal(at, UTCDateTime)


async def enqueue_mails(
    conn: AsyncConnection,
    mails: Sequence[tuple[int, int]],
    at: datetime,
    request_id: str | None = None,
) -> None:
    """One order e-mail per ``(order_id, tl_org_id)``, due now."""
    if not mails:
        return
    await conn.execute(
        insert(outbox),
        [
            {
                "kind": OutboxKind.MAIL.value,
                "order_id": order_id,
                "org_id": tl_org_id,
                "state": P,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
                "request_id": request_id,
            }
            for order_id, tl_org_id in mails
        ],
    )


_WEBHOOK_COLUMNS = [
    "kind",
    "order_id",
    "event_id",
    "endpoint_id",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
]


#: An active webhook endpoint: (id, organisation, the event types it subscribes to).
Endpoint = tuple[int, int, frozenset[str]]


async def webhook_endpoints_of(conn: AsyncConnection, orgs: Iterable[int]) -> list[Endpoint]:
    """The active webhook endpoints of these organisations."""
    rows = await conn.execute(
        select(
            webhook_endpoints.c.id, webhook_endpoints.c.org_id, webhook_endpoints.c.event_types
        ).where(webhook_endpoints.c.active.is_(True), webhook_endpoints.c.org_id.in_(set(orgs)))
    )
    return [(i, org, frozenset(types.split(","))) for i, org, types in rows]


async def enqueue_webhooks(
    conn: AsyncConnection,
    recorded: Sequence[tuple[int, int, EventType, int, int]],
    at: datetime,
    endpoints: Sequence[Endpoint] | None = None,
    request_id: str | None = None,
) -> int:
    """For each recorded ``(event_id, order_id, type, tl_org_id, ko_org_id)``, one delivery per
    active endpoint of the order's TL and KO that subscribes to ``type``. ``endpoints``: those
    of the orders' TLs and KOs, if already read; else they are read here. One insert at most
    (none when no endpoint subscribes: the usual case)."""
    if endpoints is None:
        endpoints = await webhook_endpoints_of(
            conn, {org for _, _, _, tl, ko in recorded for org in (tl, ko)}
        )
    rows = [
        {
            "kind": OutboxKind.WEBHOOK.value,
            "order_id": order_id,
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "state": P,
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
            "request_id": request_id,
        }
        for event_id, order_id, type_, tl, ko in recorded
        for endpoint_id, org_id, types in endpoints
        if org_id in (tl, ko) and type_.value in types
    ]
    if rows:
        await conn.execute(insert(outbox), rows)
    return len(rows)


async def enqueue_replay(
    conn: AsyncConnection,
    *,
    endpoint_id: int,
    org_id: int,
    types: Sequence[EventType],
    since_event_id: int,
    at: datetime,
) -> int:
    """Deliver again to one endpoint every event after ``since_event_id`` its organisation sees."""
    rows = (
        select(
            literal(OutboxKind.WEBHOOK.value, String),
            events.c.order_id,
            events.c.id,
            literal(endpoint_id, Integer),
            literal(P, String),
            literal(0, Integer),
            _when(at),
            _when(at),
        )
        .where(
            or_(events.c.tl_org_id == org_id, events.c.ko_org_id == org_id),
            events.c.id > since_event_id,
            events.c.type.in_([t.value for t in types]),
        )
        .order_by(events.c.id)
    )
    result = await conn.execute(insert(outbox).from_select(_WEBHOOK_COLUMNS, rows))
    return int(result.rowcount)


async def any_due(conn: AsyncConnection, now: datetime) -> bool:
    """A cheap read before a claim, so that an idle relay does not take the write lock."""
    q = select(outbox.c.id).where(_due(now)).limit(1)
    return (await conn.execute(q)).first() is not None


async def claim(
    conn: AsyncConnection,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    token: str,
    max_attempts: int,
    relay: str,
) -> list[Claim]:
    """Claim up to ``limit`` due rows for ``lease`` (inside a write transaction).

    A row found ``delivering`` with an expired claim was taken by a relay that stopped before it
    recorded an outcome: that attempt is logged as ``lost``, and the row is delivered again unless
    it has used up its attempts.
    """
    q = (
        select(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.order_id,
            outbox.c.state,
            outbox.c.attempts,
            outbox.c.request_id,
        )
        .where(_due(now))
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (await conn.execute(q)).all()
    lost = [r for r in rows if r.state == D]
    if lost:
        await conn.execute(
            insert(outbox_attempts),
            [
                {
                    "outbox_id": r.id,
                    "at": now,
                    "outcome": AttemptOutcome.LOST.value,
                    "error": LOST_TEXT,
                    "relay": relay,
                }
                for r in lost
            ],
        )
    dead = {r.id for r in lost if r.attempts >= max_attempts}
    if dead:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(dead))
            .values(state=OutboxState.FAILED.value, claimed_until=None, last_error=LOST_TEXT)
        )
    taken = [r for r in rows if r.id not in dead]
    if taken:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id.in_([r.id for r in taken]))
            .values(
                state=D,
                claimed_until=now + lease,
                claim_token=token,
                attempts=outbox.c.attempts + 1,
            )
        )
    return [
        Claim(r.id, OutboxKind(r.kind), r.order_id, r.attempts + 1, r.request_id) for r in taken
    ]


LOST_TEXT = "the relay stopped before it recorded an outcome (its claim expired)"


async def release(conn: AsyncConnection, *, tokens: Sequence[str]) -> int:
    """Hand back rows claimed under ``tokens`` by a relay that never attempted them: the claim
    committed, but the relay lost the database before it knew (the commit's answer lost with the
    connection, or the read of the messages' facts failed). The rows are due again at once, and
    the claim's attempt, never made, is not counted. Rows another relay has taken meanwhile
    carry its token and are left alone."""
    result = await conn.execute(
        update(outbox)
        .where(outbox.c.claim_token.in_(list(tokens)), outbox.c.state == D)
        .values(state=P, claimed_until=None, claim_token=None, attempts=outbox.c.attempts - 1)
    )
    return result.rowcount


async def finish(
    conn: AsyncConnection,
    *,
    outbox_id: int,
    token: str,
    state: OutboxState,
    next_attempt_at: datetime | None,
    delivered_at: datetime | None,
    error: str | None,
) -> bool:
    """Record a claimed row's outcome; False when the claim was lost meanwhile (expired and
    taken by another relay), in which case the other relay's outcome counts."""
    values: dict[str, object] = {
        "state": state.value,
        "claimed_until": None,
        "claim_token": None,
        "last_error": error,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if delivered_at is not None:
        values["delivered_at"] = delivered_at
    if state == OutboxState.DELIVERED:
        values["payload"] = None  # a receipt's link is kept only until it is sent
    result = await conn.execute(
        update(outbox)
        .where(outbox.c.id == outbox_id, outbox.c.claim_token == token, outbox.c.state == D)
        .values(**values)
    )
    return result.rowcount == 1


async def record_attempt(
    conn: AsyncConnection,
    *,
    outbox_id: int,
    token: str,
    relay: str,
    at: datetime,
    outcome: AttemptOutcome,
    error: str | None,
    duration_ms: int,
    state: OutboxState,
    next_attempt_at: datetime | None,
    delivered_at: datetime | None,
    again: bool = False,
) -> bool:
    """Log a claimed row's attempt and record its outcome (inside a write transaction); False
    when the claim was lost meanwhile (see ``finish``). ``again``: an earlier try failed, maybe
    only in the answer to its commit; if ``relay``'s attempt that started ``at`` is already
    logged, that try went through, and nothing is written twice."""
    if again:
        q = select(outbox_attempts.c.id).where(
            outbox_attempts.c.outbox_id == outbox_id,
            outbox_attempts.c.at == at,
            outbox_attempts.c.relay == relay,
        )
        if (await conn.execute(q.limit(1))).first() is not None:
            return True
    await log_attempt(
        conn,
        outbox_id=outbox_id,
        at=at,
        outcome=outcome,
        error=error,
        duration_ms=duration_ms,
        relay=relay,
    )
    return await finish(
        conn,
        outbox_id=outbox_id,
        token=token,
        state=state,
        next_attempt_at=next_attempt_at,
        delivered_at=delivered_at,
        error=error,
    )


async def log_attempt(
    conn: AsyncConnection,
    *,
    outbox_id: int,
    at: datetime,
    outcome: AttemptOutcome,
    error: str | None,
    duration_ms: int,
    relay: str,
) -> None:
    await conn.execute(
        insert(outbox_attempts).values(
            outbox_id=outbox_id,
            at=at,
            outcome=outcome.value,
            error=error,
            duration_ms=duration_ms,
            relay=relay,
        )
    )


async def mail_facts(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, MailFacts]:
    q = (
        select(
            outbox.c.id,
            outbox.c.created_at,
            orders.c.id.label("order_id"),
            orders.c.created_at.label("order_created_at"),
            orders.c.delivery,
            orders.c.service_name,
            orders.c.service_uid,
            orders.c.price_monthly,
            orders.c.price_once,
            networks.c.coid,
            accesses.c.access_id,
            customers.c.address,
            customers.c.zip,
            customers.c.city,
            customers.c.premise,
            customers.c.firstname,
            customers.c.surname,
            organisations.c.name.label("tl_name"),
            organisations.c.order_email,
        )
        .join(orders, orders.c.id == outbox.c.order_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(networks, networks.c.id == accesses.c.network_id)
        .join(customers, customers.c.id == orders.c.customer_id)
        .join(organisations, organisations.c.id == outbox.c.org_id)
        .where(outbox.c.id.in_(ids))
    )
    return {
        r.id: MailFacts(
            outbox_id=r.id,
            created_at=r.created_at,
            order_id=r.order_id,
            order_created_at=r.order_created_at,
            delivery=r.delivery,
            service_name=r.service_name,
            service_uid=r.service_uid,
            price_monthly=Decimal(r.price_monthly),
            price_once=Decimal(r.price_once),
            coid=r.coid,
            access_id=r.access_id,
            address=r.address,
            zip=r.zip,
            city=r.city,
            premise=r.premise,
            customer_firstname=r.firstname,
            customer_surname=r.surname,
            tl_name=r.tl_name,
            to=r.order_email,
        )
        for r in await conn.execute(q)
    }


async def webhook_facts(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, WebhookFacts]:
    q = (
        select(
            outbox.c.id,
            events.c.id.label("event_id"),
            events.c.type,
            events.c.order_id,
            events.c.status,
            events.c.message_type,
            events.c.created_at,
            webhook_endpoints.c.id.label("endpoint_id"),
            webhook_endpoints.c.url,
            webhook_endpoints.c.secret,
            webhook_endpoints.c.active,
        )
        .join(events, events.c.id == outbox.c.event_id)
        .join(webhook_endpoints, webhook_endpoints.c.id == outbox.c.endpoint_id)
        .where(outbox.c.id.in_(ids))
    )
    return {
        r.id: WebhookFacts(
            outbox_id=r.id,
            event_id=r.event_id,
            event_type=EventType(r.type),
            order_id=r.order_id,
            status=OrderStatus(r.status),
            message_type=MessageType(r.message_type) if r.message_type else None,
            event_at=r.created_at,
            endpoint_id=r.endpoint_id,
            url=r.url,
            secret=r.secret,
            active=bool(r.active),
        )
        for r in await conn.execute(q)
    }


async def list_entries(
    conn: AsyncConnection,
    *,
    state: OutboxState | None = None,
    kind: OutboxKind | None = None,
    order_id: int | None = None,
    limit: int = 50,
) -> list[OutboxEntry]:
    """The newest rows first. An ON-API push's target is the TL's ON-API base URL (as now)."""
    pushed = outbox.c.kind.in_([OutboxKind.SP_ORDER.value, OutboxKind.SP_NOTICE.value])
    target = func.coalesce(
        case((pushed, tl_onapi.c.base_url), else_=None),
        organisations.c.order_email,
        webhook_endpoints.c.url,
        "",
    )
    q = (
        select(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.order_id,
            outbox.c.event_id,
            target.label("target"),
            outbox.c.state,
            outbox.c.attempts,
            outbox.c.next_attempt_at,
            outbox.c.claimed_until,
            outbox.c.created_at,
            outbox.c.delivered_at,
            outbox.c.last_error,
        )
        .outerjoin(organisations, organisations.c.id == outbox.c.org_id)
        .outerjoin(tl_onapi, tl_onapi.c.tl_org_id == outbox.c.org_id)
        .outerjoin(webhook_endpoints, webhook_endpoints.c.id == outbox.c.endpoint_id)
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    if state is not None:
        q = q.where(outbox.c.state == state.value)
    if kind is not None:
        q = q.where(outbox.c.kind == kind.value)
    if order_id is not None:
        q = q.where(outbox.c.order_id == order_id)
    return [
        OutboxEntry(
            id=r.id,
            kind=OutboxKind(r.kind),
            order_id=r.order_id,
            event_id=r.event_id,
            target=r.target,
            state=OutboxState(r.state),
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            claimed_until=r.claimed_until,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            last_error=r.last_error,
        )
        for r in await conn.execute(q)
    ]


async def state_of(conn: AsyncConnection, outbox_id: int) -> OutboxState | None:
    row = (await conn.execute(select(outbox.c.state).where(outbox.c.id == outbox_id))).first()
    return None if row is None else OutboxState(row[0])


async def requeue(conn: AsyncConnection, ids: Sequence[int] | None, now: datetime) -> int:
    """Make rows due now with a fresh count of attempts: the given ones, or every failed one.
    Their attempt log is kept."""
    q = update(outbox).values(
        state=P, attempts=0, next_attempt_at=now, claimed_until=None, claim_token=None
    )
    if ids is None:
        q = q.where(outbox.c.state == OutboxState.FAILED.value)
    else:
        q = q.where(outbox.c.id.in_(ids), outbox.c.state.in_([P, OutboxState.FAILED.value]))
    return int((await conn.execute(q)).rowcount)


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    outcome: AttemptOutcome
    error: str | None
    duration_ms: int | None
    relay: str


async def attempts_of(conn: AsyncConnection, outbox_id: int) -> list[Attempt]:
    q = (
        select(
            outbox_attempts.c.at,
            outbox_attempts.c.outcome,
            outbox_attempts.c.error,
            outbox_attempts.c.duration_ms,
            outbox_attempts.c.relay,
        )
        .where(outbox_attempts.c.outbox_id == outbox_id)
        .order_by(outbox_attempts.c.id)
    )
    return [
        Attempt(r.at, AttemptOutcome(r.outcome), r.error, r.duration_ms, r.relay)
        for r in await conn.execute(q)
    ]


@dataclass(frozen=True, slots=True)
class Backlog:
    """What one kind of message has waiting (pending or being delivered) and given up on."""

    kind: OutboxKind
    waiting: int
    failed: int
    oldest_waiting: datetime | None  # when the oldest waiting message was written


async def backlog(conn: AsyncConnection) -> list[Backlog]:
    """Per kind: messages not yet delivered, failed ones, and the oldest undelivered one's age
    (one indexed read of the undelivered rows, for the metrics)."""
    waiting = outbox.c.state.in_([P, D])
    q = (
        select(
            outbox.c.kind,
            func.count().filter(waiting),
            func.count().filter(outbox.c.state == OutboxState.FAILED.value),
            func.min(outbox.c.created_at).filter(waiting),
        )
        .where(outbox.c.state.in_([P, D, OutboxState.FAILED.value]))
        .group_by(outbox.c.kind)
    )
    found = {r[0]: r for r in await conn.execute(q)}
    return [
        Backlog(kind, int(r[1]), int(r[2]), r[3])
        if (r := found.get(kind.value)) is not None
        else Backlog(kind, 0, 0, None)
        for kind in OutboxKind
    ]
