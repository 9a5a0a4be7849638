"""What every change to an order records besides itself, in the change's own transaction.

The event feed (the ``events`` method) and the webhooks read the same append-only ``events``
table; a webhook delivery is enqueued for each event in the transaction that writes the event, so
a change that rolls back leaves neither an event nor a delivery behind, and a committed one
always has both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.storage import orders as order_repo
from serviceguide.storage import outbox as outbox_repo


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
    """Append the event to the stream and enqueue its webhook deliveries (one per active,
    subscribed endpoint of the order's TL and KO). Call inside the change's write transaction,
    opened with ``ordered=True``. Returns the event id."""
    event_id = await order_repo.append_event(
        conn,
        order_id=order_id,
        at=at,
        type=type,
        status=status,
        message_type=message_type,
        tl_org_id=tl_org_id,
        ko_org_id=ko_org_id,
    )
    await outbox_repo.enqueue_webhooks(
        conn,
        event_id=event_id,
        order_id=order_id,
        type=type,
        tl_org_id=tl_org_id,
        ko_org_id=ko_org_id,
        at=at,
    )
    return event_id


async def enqueue_order_mails(
    conn: AsyncConnection, orders: Sequence[tuple[int, int]], at: datetime
) -> None:
    """The order e-mail (CONTRACT §4) for each new ``(order_id, tl_org_id)``, in the placing
    transaction; the relay sends it once that has committed."""
    await outbox_repo.enqueue_mails(conn, orders, at)
