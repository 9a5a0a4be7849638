"""How staff look for orders: the filter of the order list and the rows it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from serviceguide.domain.status import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderFilter:
    status: OrderStatus | None = None
    coid: str | None = None
    service_id: int | None = None
    created_from: datetime | None = None  # inclusive, UTC
    created_before: datetime | None = None  # exclusive, UTC
    flagged: bool = False
    text: str = ""


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    created_at: datetime
    status: OrderStatus
    service_id: int
    service_name: str
    xsp_name: str
    coid: str
    network_name: str
    access_id: str
    address: str
    customer_id: int
    customer_name: str
    delivery: date | None
    flagged: bool
