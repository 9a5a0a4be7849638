"""What every change to an order records besides itself, in the change's own transaction.

The event feed (the ``events`` method) and the webhooks read the same append-only ``events``
table; a webhook delivery is enqueued for each event in the transaction that writes the event, so
a change that rolls back leaves neither an event nor a delivery behind, and a committed one
always has both. Each delivery keeps the id of the request that caused it (the relay logs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.observability import request_id
from serviceguide.storage import orders as order_repo
from serviceguide.storage import outbox as outbox_repo


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one order, as the event stream records it."""

    order_id: int
    type: EventType
    status: OrderStatus  # the order's status after the change
    message_type: MessageType | None
    tl_org_id: int
    ko_org_id: int


async def record_events(
    conn: AsyncConnection,
    changes: Sequence[Change],
    at: datetime,
    endpoints: Sequence[outbox_repo.Endpoint] | None = None,
) -> list[int]:
    """Append the events to the stream and enqueue their webhook deliveries (one per active,
    subscribed endpoint of each order's TL and KO). Call inside the change's write
    transaction, opened with ``ordered=True``. ``endpoints``: the active webhook endpoints of
    the orders' TLs and KOs, if the caller read them already. Returns the event ids, in
    order."""
    ids = await order_repo.append_events(
        conn,
        [
            {
                "order_id": c.order_id,
                "created_at": at,
                "type": c.type.value,
                "status": c.status.value,
                "message_type": c.message_type.value if c.message_type else None,
                "tl_org_id": c.tl_org_id,
                "ko_org_id": c.ko_org_id,
            }
            for c in changes
        ],
    )
    await outbox_repo.enqueue_webhooks(
        conn,
        [
            (i, c.order_id, c.type, c.tl_org_id, c.ko_org_id)
            for i, c in zip(ids, changes, strict=True)
        ],
        at,
        endpoints,
        request_id.current(),
    )
    return ids


async def record_event(
    conn: AsyncConnection,
    *,
    order_id: int,
    at: datetime,
    type: EventType,
    status: OrderStatus,
    message_type: MessageType | None,
    tl_org_id: int,
    ko_org_id: int,
) -> int:
    """:func:`record_events` for one change; returns the event id."""
    change = Change(order_id, type, status, message_type, tl_org_id, ko_org_id)
    return (await record_events(conn, [change], at))[0]


async def enqueue_order_mails(
    conn: AsyncConnection, orders: Sequence[tuple[int, int]], at: datetime
) -> None:
    """The order e-mail (docs/notifications.md) for each new ``(order_id, tl_org_id)``, in the
    placing transaction; the relay sends it once that has committed."""
    await outbox_repo.enqueue_mails(conn, orders, at, request_id.current())
