"""The customer's side of a placement: its order page (the token's SHA-256 and the language the
customer ordered in), the receipt in the outbox, and what the receipt, the thank-you page and
the order page show — the orders as they were placed, their providers and their history.

Nothing here is scoped to an organisation: a placement is found by its token's hash alone, and
shows the customer's own orders and nothing of the organisations' messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.outbox import OutboxKind, OutboxState
from serviceguide.domain.status import EventType, OrderStatus
from serviceguide.storage.tables import (
    customers,
    events,
    order_pages,
    orders,
    organisations,
    outbox,
)


@dataclass(frozen=True, slots=True)
class Provider:
    """A TL as its customers see it: its name and the contact details it gave (``tl update``);
    None for one not given."""

    name: str
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    opening_hours: str | None = None

    @property
    def has_contact(self) -> bool:
        return any((self.phone, self.email, self.website, self.opening_hours))


@dataclass(frozen=True, slots=True)
class PlacedOrderView:
    id: int
    service_id: int
    service_name: str
    price_monthly: Decimal
    price_once: Decimal
    delivery: date | None
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    provider: Provider


@dataclass(frozen=True, slots=True)
class StatusStep:
    order_id: int
    at: datetime
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class PlacementView:
    """One placement: the customer's first name, the address, the language, and the orders."""

    customer_id: int
    firstname: str
    email: str
    address: str
    lang: str
    orders: list[PlacedOrderView]


async def add_page(
    conn: AsyncConnection, *, customer_id: int, token_sha256: str, lang: str, at: datetime
) -> None:
    await conn.execute(
        insert(order_pages).values(
            token_sha256=token_sha256, customer_id=customer_id, lang=lang, created_at=at
        )
    )


async def enqueue_receipt(
    conn: AsyncConnection,
    *,
    order_id: int,
    payload: str,
    at: datetime,
    request_id: str | None = None,
) -> None:
    """The receipt of the placement whose first order is ``order_id``, due now."""
    await conn.execute(
        insert(outbox).values(
            kind=OutboxKind.RECEIPT.value,
            order_id=order_id,
            state=OutboxState.PENDING.value,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
            payload=payload,
            request_id=request_id,
        )
    )


async def customer_of_page(conn: AsyncConnection, token_sha256: str) -> tuple[int, str] | None:
    """The customer and language of an order page's token."""
    q = select(order_pages.c.customer_id, order_pages.c.lang).where(
        order_pages.c.token_sha256 == token_sha256
    )
    row = (await conn.execute(q)).first()
    return None if row is None else (int(row[0]), str(row[1]))


async def delete_page(conn: AsyncConnection, customer_id: int) -> int:
    """Forget a customer's order page (its link stops working)."""
    result = await conn.execute(delete(order_pages).where(order_pages.c.customer_id == customer_id))
    return int(result.rowcount)


async def forget_links(conn: AsyncConnection, outbox_ids: Sequence[int]) -> None:
    """Drop the order-page links kept for receipts not yet sent."""
    if outbox_ids:
        await conn.execute(
            update(outbox).where(outbox.c.id.in_(list(outbox_ids))).values(payload=None)
        )


async def placement(conn: AsyncConnection, customer_id: int) -> PlacementView | None:
    """The customer's placement: the orders in the order they were placed."""
    cust = (
        await conn.execute(
            select(
                customers.c.firstname,
                customers.c.email,
                customers.c.address,
                customers.c.zip,
                customers.c.city,
                customers.c.anonymised_at,
                order_pages.c.lang,
            )
            .outerjoin(order_pages, order_pages.c.customer_id == customers.c.id)
            .where(customers.c.id == customer_id)
        )
    ).first()
    if cust is None or cust.anonymised_at is not None:
        return None
    q = (
        select(
            orders.c.id,
            orders.c.service_id,
            orders.c.service_name,
            orders.c.price_monthly,
            orders.c.price_once,
            orders.c.delivery,
            orders.c.status,
            orders.c.created_at,
            orders.c.updated_at,
            organisations.c.name.label("tl_name"),
            organisations.c.phone,
            organisations.c.contact_email,
            organisations.c.website,
            organisations.c.opening_hours,
        )
        .join(organisations, organisations.c.id == orders.c.tl_org_id)
        .where(orders.c.customer_id == customer_id)
        .order_by(orders.c.id)
    )
    placed = [
        PlacedOrderView(
            id=r.id,
            service_id=r.service_id,
            service_name=r.service_name,
            price_monthly=Decimal(r.price_monthly),
            price_once=Decimal(r.price_once),
            delivery=r.delivery,
            status=OrderStatus(r.status),
            created_at=r.created_at,
            updated_at=r.updated_at,
            provider=Provider(
                name=r.tl_name,
                phone=r.phone,
                email=r.contact_email,
                website=r.website,
                opening_hours=r.opening_hours,
            ),
        )
        for r in await conn.execute(q)
    ]
    address = f"{cust.address}, {cust.zip} {cust.city}".strip(" ,")
    return PlacementView(
        customer_id=customer_id,
        firstname=cust.firstname,
        email=cust.email,
        address=address,
        lang=cust.lang or "sv",
        orders=placed,
    )


async def status_history(conn: AsyncConnection, order_ids: Sequence[int]) -> list[StatusStep]:
    """Each order's status changes, oldest first (its creation included): the event feed's
    ``order_created`` and ``status_changed``, never the messages."""
    if not order_ids:
        return []
    q = (
        select(events.c.order_id, events.c.created_at, events.c.status)
        .where(
            events.c.order_id.in_(list(order_ids)),
            events.c.type.in_([EventType.ORDER_CREATED.value, EventType.STATUS_CHANGED.value]),
        )
        .order_by(events.c.id)
    )
    return [
        StatusStep(r.order_id, r.created_at, OrderStatus(r.status)) for r in await conn.execute(q)
    ]


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What the receipt says, read when it is sent."""

    outbox_id: int
    created_at: datetime  # the outbox row's: the mail's Date, the same on every retry
    token: str | None  # the order page's token, until the receipt is delivered
    placement: PlacementView


async def receipt_facts(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, ReceiptFacts]:
    rows = (
        await conn.execute(
            select(outbox.c.id, outbox.c.created_at, outbox.c.payload, orders.c.customer_id)
            .join(orders, orders.c.id == outbox.c.order_id)
            .where(outbox.c.id.in_(list(ids)))
        )
    ).all()
    out: dict[int, ReceiptFacts] = {}
    for r in rows:
        found = await placement(conn, r.customer_id)
        if found is not None:
            out[r.id] = ReceiptFacts(r.id, r.created_at, r.payload, found)
    return out


@dataclass(frozen=True, slots=True)
class RecentOrder:
    id: int
    service_id: int
    service_name: str
    created_at: datetime


async def open_orders_of(
    conn: AsyncConnection,
    *,
    serial: str,
    access_pk: int,
    service_ids: Sequence[int],
    since: datetime,
    open_statuses: Sequence[str],
) -> list[RecentOrder]:
    """The orders of the person with ``serial`` for these services at this access, placed
    since ``since`` and still open. Starts from the access's orders (an indexed column)."""
    q = (
        select(orders.c.id, orders.c.service_id, orders.c.service_name, orders.c.created_at)
        .join(customers, customers.c.id == orders.c.customer_id)
        .where(
            orders.c.access_pk == access_pk,
            orders.c.service_id.in_(list(service_ids)),
            orders.c.created_at >= since,
            orders.c.status.in_(list(open_statuses)),
            customers.c.serial == serial,
        )
        .order_by(orders.c.id)
    )
    return [
        RecentOrder(r.id, r.service_id, r.service_name, r.created_at) for r in await conn.execute(q)
    ]
