"""The typed records the XSP API client returns — orders, customers, log entries, events — each
made from the API's fields by ``from_api``, which tolerates missing or empty ones."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


def as_int(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


def as_str(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Order:
    """An order in short form (``orders``). Dates are Europe/Stockholm local time strings."""

    id: int
    type: str
    date: str
    status: str
    service: int
    xsp: int
    delivery: str  # YYYY-MM-DD or "asap"
    customer: int

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Order:
        return cls(**_short_order(d))


def _short_order(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": as_int(d.get("id")),
        "type": as_str(d.get("type")),
        "date": as_str(d.get("date")),
        "status": as_str(d.get("status")),
        "service": as_int(d.get("service")),
        "xsp": as_int(d.get("xsp")),
        "delivery": as_str(d.get("delivery")),
        "customer": as_int(d.get("customer")),
    }


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """An order in long form (``order_info``): the short fields plus the service's product code
    (``service_uid``), the network (``coid``) and access (``socket``), prices and the note."""

    id: int
    type: str
    date: str
    status: str
    service: int
    xsp: int
    delivery: str
    customer: int
    service_uid: str
    service_name: str
    xsp_name: str
    coid: str
    socket: str
    price_monthly: float
    price_once: float
    message: str
    updated: str

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> OrderInfo:
        return cls(
            **_short_order(d),
            service_uid=as_str(d.get("service_uid")),
            service_name=as_str(d.get("service_name")),
            xsp_name=as_str(d.get("xsp_name")),
            coid=as_str(d.get("coid")),
            socket=as_str(d.get("socket")),
            price_monthly=float(d.get("price_monthly") or 0),
            price_once=float(d.get("price_once") or 0),
            message=as_str(d.get("message")),
            updated=as_str(d.get("updated")),
        )


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer. From ``customers``: the short fields and ``date``; from ``customer_info``:
    also email, address, zip, city, phone and premise (``date`` is then "")."""

    id: int
    socket: str
    serial: str
    firstname: str
    surname: str
    date: str = ""
    email: str = ""
    address: str = ""
    zip: str = ""
    city: str = ""
    phone: str = ""
    premise: str = ""

    @classmethod
    def from_api(cls, d: dict[str, Any], data: dict[str, Any] | None = None) -> Customer:
        merged = {**d, **(data or {})}
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: as_str(v) for k, v in merged.items() if k in names}
        values["id"] = as_int(merged.get("id"))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of an order's log (``order_log``)."""

    id: int
    date: str
    type: str
    message: str
    user: str
    org: str

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> LogEntry:
        return cls(
            id=as_int(d.get("id")),
            **{k: as_str(d.get(k)) for k in ("date", "type", "message", "user", "org")},
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One change in the ``events`` feed; ``message_type`` is None unless ``message_added``."""

    id: int
    date: str
    type: str
    order: int
    status: str
    message_type: str | None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Event:
        return cls(
            id=as_int(d.get("id")),
            date=as_str(d.get("date")),
            type=as_str(d.get("type")),
            order=as_int(d.get("order")),
            status=as_str(d.get("status")),
            message_type=d.get("message_type") or None,
        )
