"""Queries and writes for orders, customers, the per-order log and the event stream.

Every read takes the caller and is scoped to what the caller's organisation may see: a TL the
orders of its services, a KO the orders on its network. A row outside that scope is simply not
found, exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.logcodes import LogText, parse_params
from serviceguide.domain.model import (
    Caller,
    CustomerDetail,
    CustomerSummary,
    LogEntry,
    OrderDetail,
    OrderSummary,
    OrgKind,
)
from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.storage.db import STREAM_LOCK_KEY
from serviceguide.storage.direct import Reader, Row, Sql, day, money, ts
from serviceguide.storage.tables import (
    accesses,
    customers,
    events,
    networks,
    order_log,
    orders,
    organisations,
)

tl_org = organisations.alias("tl_org")


def _order_scope(caller: Caller) -> ColumnElement[bool]:
    col = orders.c.tl_org_id if caller.org_kind == OrgKind.TL else orders.c.ko_org_id
    return col == caller.org_id


# -- reads on the direct driver path (storage.direct): one order, one customer, an order's log
# (the XSP API's lists are in storage.polling) ----------------------------------------------

_SCOPE = {OrgKind.TL: "tl_org_id", OrgKind.KO: "ko_org_id"}

_SUMMARY = "o.id, o.created_at, o.status, o.service_id, t.xsp, o.delivery, o.customer_id"


def _summary(r: Row) -> OrderSummary:
    return OrderSummary(
        id=r["id"],
        created_at=ts(r["created_at"]),
        status=OrderStatus(r["status"]),
        service_id=r["service_id"],
        xsp=r["xsp"],
        delivery=day(r["delivery"]),
        customer_id=r["customer_id"],
    )


_GET_ORDER = {
    kind: Sql.of(
        f"SELECT {_SUMMARY}, t.name AS xsp_name, o.service_uid, o.service_name, "
        "o.price_monthly, o.price_once, n.coid, a.access_id, o.message, o.updated_at, "
        "o.product_id, o.offering_id, o.price_period, o.agreement_length, "
        "o.notice_period "
        "FROM orders o JOIN organisations t ON t.id = o.tl_org_id "
        "JOIN accesses a ON a.id = o.access_pk "
        f"JOIN networks n ON n.id = a.network_id WHERE o.id = $1 AND o.{col} = $2"
    )
    for kind, col in _SCOPE.items()
}


async def get_order(reader: Reader, caller: Caller, order_id: int) -> OrderDetail | None:
    r = await reader.fetchrow(_GET_ORDER[caller.org_kind], order_id, caller.org_id)
    if r is None:
        return None
    return OrderDetail(
        summary=_summary(r),
        service_uid=r["service_uid"],
        service_name=r["service_name"],
        xsp_name=r["xsp_name"],
        coid=r["coid"],
        socket=r["access_id"],
        price_monthly=money(r["price_monthly"]),
        price_once=money(r["price_once"]),
        message=r["message"],
        updated_at=ts(r["updated_at"]),
        product_id=r["product_id"] or r["service_uid"],
        offering_id=r["offering_id"] or r["service_uid"],
        price_period=r["price_period"],
        agreement_length=r["agreement_length"],
        notice_period=r["notice_period"],
    )


# The order's log, and whether the order is visible at all, in one statement: no row means no
# such order (for this caller); one row with a NULL id means an order without entries.
_LOG = {
    kind: Sql.of(
        "SELECT l.id, l.created_at, l.type, l.message, l.user_name, l.org_name, l.code, l.params "
        "FROM orders o LEFT JOIN order_log l ON l.order_id = o.id "
        f"WHERE o.id = $1 AND o.{col} = $2 ORDER BY l.id"
    )
    for kind, col in _SCOPE.items()
}


async def list_log(reader: Reader, caller: Caller, order_id: int) -> list[LogEntry] | None:
    """The order's log, oldest first; None when the caller cannot see the order."""
    rows = await reader.fetch(_LOG[caller.org_kind], order_id, caller.org_id)
    if not rows:
        return None
    return [
        LogEntry(
            id=r["id"],
            created_at=ts(r["created_at"]),
            type=MessageType(r["type"]),
            message=r["message"],
            user=r["user_name"],
            org=r["org_name"],
            code=r["code"],
            params=parse_params(r["params"]) if r["code"] else None,
        )
        for r in rows
        if r["id"] is not None
    ]


# A customer is visible to the organisations of its orders.
_CUSTOMER = "c.id, a.access_id, c.serial, c.firstname, c.surname, c.created_at"
_VISIBLE = "EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.{scope} = $1)"


def _customer_summary(r: Row) -> CustomerSummary:
    return CustomerSummary(
        id=r["id"],
        socket=r["access_id"],
        serial=r["serial"],
        firstname=r["firstname"],
        surname=r["surname"],
        created_at=ts(r["created_at"]),
    )


_GET_CUSTOMER = {
    kind: Sql.of(
        f"SELECT {_CUSTOMER}, c.email, c.address, c.zip, c.city, c.phone, c.premise "
        "FROM customers c JOIN accesses a ON a.id = c.access_pk "
        f"WHERE c.id = $2 AND {_VISIBLE.format(scope=col)}"
    )
    for kind, col in _SCOPE.items()
}


async def get_customer(reader: Reader, caller: Caller, customer_id: int) -> CustomerDetail | None:
    r = await reader.fetchrow(_GET_CUSTOMER[caller.org_kind], caller.org_id, customer_id)
    if r is None:
        return None
    return CustomerDetail(
        summary=_customer_summary(r),
        email=r["email"],
        address=r["address"],
        zip=r["zip"],
        city=r["city"],
        phone=r["phone"],
        premise=r["premise"],
    )


# -- writes and reads inside write transactions (SQLAlchemy) -----------------------------------


async def order_for_change(
    conn: AsyncConnection, caller: Caller, order_id: int
) -> tuple[OrderStatus, int, int] | None:
    """Status, TL org and KO org of a visible order, read inside a write transaction."""
    q = select(orders.c.status, orders.c.tl_org_id, orders.c.ko_org_id).where(
        orders.c.id == order_id, _order_scope(caller)
    )
    row = (await conn.execute(q)).first()
    return None if row is None else (OrderStatus(row[0]), row[1], row[2])


async def order_visible(conn: AsyncConnection, caller: Caller, order_id: int) -> bool:
    q = select(orders.c.id).where(orders.c.id == order_id, _order_scope(caller))
    return (await conn.execute(q)).first() is not None


async def update_status(
    conn: AsyncConnection, order_id: int, old: OrderStatus, new: OrderStatus, at: datetime
) -> bool:
    result = await conn.execute(
        update(orders)
        .where(orders.c.id == order_id, orders.c.status == old.value)
        .values(status=new.value, updated_at=at)
    )
    return result.rowcount == 1


async def touch_order(conn: AsyncConnection, order_id: int, at: datetime) -> None:
    await conn.execute(update(orders).where(orders.c.id == order_id).values(updated_at=at))


async def append_log(
    conn: AsyncConnection,
    *,
    order_id: int,
    at: datetime,
    type: MessageType,
    message: str,
    user_name: str,
    org_name: str,
    org_id: int | None,
    code: str | None = None,
    params: str | None = None,
) -> int:
    result = await conn.execute(
        insert(order_log)
        .values(
            order_id=order_id,
            created_at=at,
            type=type.value,
            message=message,
            user_name=user_name,
            org_name=org_name,
            org_id=org_id,
            code=code,
            params=params,
        )
        .returning(order_log.c.id)
    )
    return int(result.scalar_one())


async def insert_orders(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> list[int]:
    """Insert orders in one statement; their ids, in the order of ``rows``."""
    result = await conn.execute(
        insert(orders).returning(orders.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(i) for i in result.scalars()]


async def append_logs(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> None:
    """Log entries (``order_id, created_at, type, message, user_name, org_name, org_id``, and
    ``code``, ``params`` for a system entry)."""
    await conn.execute(insert(order_log), list(rows))


async def append_events(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> list[int]:
    """Events in one statement; their ids, in the order of ``rows``."""
    result = await conn.execute(
        insert(events).returning(events.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(i) for i in result.scalars()]


async def insert_customer(conn: AsyncConnection, **values: object) -> int:
    result = await conn.execute(insert(customers).values(**values).returning(customers.c.id))
    return int(result.scalar_one())


async def count_orders(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(orders))).scalar_one())


async def all_orders_brief(conn: AsyncConnection) -> list[dict[str, object]]:
    """Every order with its TL's xsp and network coid (for the demo-data listing)."""
    q = (
        select(
            orders.c.id,
            tl_org.c.xsp,
            networks.c.coid,
            orders.c.customer_id,
            orders.c.status,
        )
        .join(tl_org, tl_org.c.id == orders.c.tl_org_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(networks, networks.c.id == accesses.c.network_id)
        .order_by(orders.c.id)
    )
    return [
        {"id": r.id, "xsp": r.xsp, "coid": r.coid, "customer": r.customer_id, "status": r.status}
        for r in await conn.execute(q)
    ]


@dataclass(frozen=True, slots=True)
class Offer:
    """What an order copies from its service when it is placed, and keeps whatever the service
    becomes later: the uid, the name and the prices the customer was shown."""

    uid: str
    name: str
    price_monthly: Decimal
    price_once: Decimal
    # The TL's productId and offeringId, the price's period, the binding time and the notice.
    product_id: str | None = None
    offering_id: str | None = None
    price_period: str | None = None
    agreement_length: str | None = None
    notice_period: str | None = None

    def as_columns(self) -> dict[str, object]:
        return {
            "service_uid": self.uid,
            "service_name": self.name,
            "price_monthly": self.price_monthly,
            "price_once": self.price_once,
            "product_id": self.product_id,
            "offering_id": self.offering_id,
            "price_period": self.price_period,
            "agreement_length": self.agreement_length,
            "notice_period": self.notice_period,
        }


@dataclass(frozen=True, slots=True)
class PlacedService:
    """One order of a placement: its service, the service's TL, the TL's xsp, the order's first
    status and the offer it keeps."""

    service_id: int
    tl_org_id: int
    xsp: int
    status: OrderStatus
    offer: Offer
    mail: bool = True  # the order e-mail goes now
    push: str | None = None  # the ON-API push (an outbox kind), if the TL takes one


# -- placing an order on PostgreSQL: one statement ------------------------------------------
#
# Everything a placement writes — the customer, one order per service, their log entries, their
# events, the events' webhook deliveries, the order mails and ON-API pushes, the customer's order
# page and receipt and the Idempotency-Key's answer — in one statement that first takes the
# stream lock (storage.db.STREAM_LOCK_KEY). The lock is then held for that statement and the
# COMMIT only, not across a dozen round trips, each waiting for a busy event loop: placing stops
# being serialised on the workers' latency. (SQLite has a single writer anyway and uses the
# step-by-step path in services.placing.)

_PLACE = text(
    """
WITH lock AS (
    SELECT pg_advisory_xact_lock(CAST(:lock_key AS bigint))
), cust AS (
    INSERT INTO customers (access_pk, serial, firstname, surname, email, phone, address, zip,
                           city, premise, search_text, created_at)
    SELECT CAST(:access_pk AS bigint), CAST(:serial AS text), CAST(:firstname AS text),
           CAST(:surname AS text), CAST(:email AS text), CAST(:phone AS text),
           CAST(:address AS text), CAST(:zip AS text), CAST(:city AS text),
           CAST(:premise AS text), CAST(:search_text AS text), CAST(:now AS timestamptz)
    FROM lock
    RETURNING id
), svc AS (
    SELECT * FROM unnest(CAST(:service_ids AS int[]), CAST(:tl_org_ids AS int[]),
                         CAST(:xsps AS int[]), CAST(:statuses AS text[]),
                         CAST(:uids AS text[]), CAST(:names AS text[]),
                         CAST(:monthly AS numeric[]), CAST(:once AS numeric[]),
                         CAST(:product_ids AS text[]), CAST(:offering_ids AS text[]),
                         CAST(:periods AS text[]), CAST(:bindings AS text[]),
                         CAST(:notices AS text[]),
                         CAST(:mails AS boolean[]), CAST(:pushes AS text[]))
        WITH ORDINALITY AS s(service_id, tl_org_id, xsp, status, uid, name, monthly, once,
                             product_id, offering_id, period, binding, notice, mail, push, n)
), ord AS (
    INSERT INTO orders (customer_id, service_id, access_pk, tl_org_id, ko_org_id, status,
                        delivery, message, created_at, updated_at, service_uid, service_name,
                        price_monthly, price_once, product_id, offering_id, price_period,
                        agreement_length, notice_period)
    SELECT cust.id, svc.service_id, CAST(:access_pk AS bigint), svc.tl_org_id,
           CAST(:ko_org_id AS int), svc.status, CAST(:delivery AS date), CAST(:message AS text),
           CAST(:now AS timestamptz), CAST(:now AS timestamptz), svc.uid, svc.name, svc.monthly,
           svc.once, svc.product_id, svc.offering_id, svc.period, svc.binding, svc.notice
    FROM cust CROSS JOIN svc
    ORDER BY svc.n
    RETURNING id, service_id, tl_org_id, status
), logged AS (
    INSERT INTO order_log (order_id, created_at, type, message, user_name, org_name, org_id,
                           code, params)
    SELECT ord.id, CAST(:now AS timestamptz), CAST(:log_type AS text), note.message,
           CAST(:by AS text), CAST(:by AS text), NULL, note.code, note.params
    FROM ord JOIN unnest(CAST(:note_services AS int[]), CAST(:notes AS text[]),
                         CAST(:note_codes AS text[]), CAST(:note_params AS text[]))
        WITH ORDINALITY AS note(service_id, message, code, params, n)
        ON note.service_id = ord.service_id
    ORDER BY ord.id, note.n
), ev AS (
    INSERT INTO events (order_id, created_at, type, status, message_type, tl_org_id, ko_org_id)
    SELECT ord.id, CAST(:now AS timestamptz), CAST(:event_type AS text), ord.status, NULL,
           ord.tl_org_id, CAST(:ko_org_id AS int)
    FROM ord
    ORDER BY ord.id
    RETURNING id, order_id, tl_org_id
), hooks AS (
    INSERT INTO outbox (kind, order_id, event_id, endpoint_id, state, attempts,
                        next_attempt_at, created_at, request_id)
    SELECT 'webhook', ev.order_id, ev.id, e.id, 'pending', 0, CAST(:now AS timestamptz),
           CAST(:now AS timestamptz), CAST(:request_id AS text)
    FROM ev JOIN webhook_endpoints e
        ON e.active AND e.org_id IN (ev.tl_org_id, CAST(:ko_org_id AS int))
        AND position(',' || CAST(:event_type AS text) || ',' IN ',' || e.event_types || ',') > 0
    ORDER BY ev.id, e.id
), mails AS (
    INSERT INTO outbox (kind, order_id, org_id, state, attempts, next_attempt_at, created_at,
                        request_id)
    SELECT 'mail', ord.id, ord.tl_org_id, 'pending', 0, CAST(:now AS timestamptz),
           CAST(:now AS timestamptz), CAST(:request_id AS text)
    FROM ord JOIN svc ON svc.service_id = ord.service_id
    WHERE CAST(:notify AS boolean) AND svc.mail
    ORDER BY ord.id
), pushes AS (
    INSERT INTO outbox (kind, order_id, org_id, state, attempts, next_attempt_at, claimed_until,
                        claim_token, created_at, request_id)
    SELECT svc.push, ord.id, ord.tl_org_id, claimed.state, claimed.attempts,
           CAST(:now AS timestamptz), claimed.until, claimed.token, CAST(:now AS timestamptz),
           CAST(:request_id AS text)
    FROM ord JOIN svc ON svc.service_id = ord.service_id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN own THEN 'delivering' ELSE 'pending' END AS state,
               CASE WHEN own THEN 1 ELSE 0 END AS attempts,
               CASE WHEN own THEN CAST(:push_until AS timestamptz) END AS until,
               CASE WHEN own THEN CAST(:push_token AS text) END AS token
        FROM (SELECT svc.push = 'sp_order' AND CAST(:push_token AS text) IS NOT NULL AS own) o
    ) claimed
    WHERE CAST(:notify AS boolean) AND svc.push IS NOT NULL
    ORDER BY ord.id
), page AS (
    INSERT INTO order_pages (token_sha256, customer_id, lang, created_at)
    SELECT CAST(:page_sha256 AS text), cust.id, CAST(:lang AS text), CAST(:now AS timestamptz)
    FROM cust
), receipt AS (
    INSERT INTO outbox (kind, order_id, state, attempts, next_attempt_at, created_at, payload,
                        request_id)
    SELECT 'receipt', min(ord.id), 'pending', 0, CAST(:now AS timestamptz),
           CAST(:now AS timestamptz), CAST(:receipt AS text), CAST(:request_id AS text)
    FROM ord
    WHERE CAST(:receipt AS text) IS NOT NULL
    HAVING count(*) > 0
), answer AS (
    SELECT (SELECT id FROM cust) AS customer,
           json_agg(json_build_object('id', ord.id, 'service', ord.service_id, 'xsp', svc.xsp,
                                      'status', ord.status) ORDER BY ord.id) AS orders
    FROM ord JOIN svc ON svc.service_id = ord.service_id
), idem AS (
    INSERT INTO idempotency_keys (key, request_sha256, status_code, response, created_at)
    SELECT CAST(:idem_key AS text), CAST(:request_sha256 AS text), 201,
           json_build_object('customer', answer.customer, 'orders', answer.orders)::text,
           CAST(:now AS timestamptz)
    FROM answer
    WHERE CAST(:idem_key AS text) IS NOT NULL
)
SELECT json_build_object('customer', answer.customer, 'orders', answer.orders)::text FROM answer
"""
)


async def place_in_one_statement(
    conn: AsyncConnection,
    *,
    customer: dict[str, object],
    services: Sequence[PlacedService],
    notes: Sequence[tuple[int, LogText]],
    ko_org_id: int,
    delivery: date | None,
    message: str,
    by: str,
    now: datetime,
    notify: bool,
    idempotency_key: str | None,
    request_sha256: str,
    page_sha256: str,
    lang: str,
    receipt: str | None,
    request_id: str | None = None,
    push_token: str | None = None,
    push_until: datetime | None = None,
) -> str:
    """Place an order on PostgreSQL (see above). ``services``: one per order, in order;
    ``notes``: (service id, log entry) in order; ``page_sha256``, ``lang``: the customer's order
    page; ``receipt``: the receipt's payload, None for no receipt. Returns the answer as JSON:
    ``{"customer": id, "orders": [{"id", "service", "xsp", "status"}, …]}``."""
    params = {
        **customer,
        "lock_key": STREAM_LOCK_KEY,
        "service_ids": [s.service_id for s in services],
        "tl_org_ids": [s.tl_org_id for s in services],
        "xsps": [s.xsp for s in services],
        "statuses": [s.status.value for s in services],
        "uids": [s.offer.uid for s in services],
        "names": [s.offer.name for s in services],
        "monthly": [s.offer.price_monthly for s in services],
        "once": [s.offer.price_once for s in services],
        "product_ids": [s.offer.product_id for s in services],
        "offering_ids": [s.offer.offering_id for s in services],
        "periods": [s.offer.price_period for s in services],
        "bindings": [s.offer.agreement_length for s in services],
        "notices": [s.offer.notice_period for s in services],
        "mails": [s.mail for s in services],
        "pushes": [s.push for s in services],
        "push_token": push_token,
        "push_until": push_until,
        "note_services": [n[0] for n in notes],
        "notes": [n[1].text for n in notes],
        "note_codes": [n[1].code.value for n in notes],
        "note_params": [n[1].params_json() for n in notes],
        "ko_org_id": ko_org_id,
        "delivery": delivery,
        "message": message,
        "by": by,
        "now": now,
        "notify": notify,
        "log_type": MessageType.SYSTEM.value,
        "event_type": EventType.ORDER_CREATED.value,
        "idem_key": idempotency_key,
        "request_sha256": request_sha256,
        "request_id": request_id,
        "page_sha256": page_sha256,
        "lang": lang,
        "receipt": receipt,
    }
    return str((await conn.execute(_PLACE, params)).scalar_one())
