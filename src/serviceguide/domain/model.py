"""The things the system is about, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from serviceguide.domain.status import EventType, MessageType, OrderStatus


class OrgKind(StrEnum):
    KO = "ko"  # kommunikationsoperatör: operates a network, owns its accesses
    TL = "tl"  # tjänsteleverantör (XSP): sells services on networks
    PLATFORM = "platform"  # runs the installation: creates KOs and TLs, sees no orders


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    kind: OrgKind
    name: str
    coid: str | None = None  # KO only
    xsp: int | None = None  # TL only
    order_email: str | None = None  # TL only
    # A TL's contact details for its customers (domain.contacts); None: not given.
    phone: str | None = None
    contact_email: str | None = None
    website: str | None = None
    opening_hours: str | None = None
    active: bool = True  # a disabled organisation's users cannot log in; it offers nothing


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: an API user (or staff user) and the organisation it acts for."""

    user_id: int
    user_name: str
    org_id: int
    org_name: str
    org_kind: OrgKind


@dataclass(frozen=True, slots=True)
class OrderSummary:
    id: int
    created_at: datetime
    status: OrderStatus
    service_id: int
    xsp: int
    delivery: date | None  # None = as soon as possible
    customer_id: int


@dataclass(frozen=True, slots=True)
class OrderDetail:
    summary: OrderSummary
    service_uid: str
    service_name: str
    xsp_name: str
    coid: str
    socket: str  # the accessId
    price_monthly: Decimal
    price_once: Decimal
    message: str
    updated_at: datetime
    # The TL's productId and offeringId the order was placed for (the service's uid for both
    # when the service was not read from the TL's products, or the order is older than that).
    product_id: str = ""
    offering_id: str = ""
    price_period: str | None = None  # ISO 8601; None: a month
    agreement_length: str | None = None
    notice_period: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    id: int
    socket: str
    serial: str
    firstname: str
    surname: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerDetail:
    summary: CustomerSummary
    email: str
    address: str
    zip: str
    city: str
    phone: str
    premise: str


@dataclass(frozen=True, slots=True)
class LogEntry:
    id: int
    created_at: datetime
    type: MessageType
    message: str  # what the API shows
    user: str
    org: str
    code: str | None = None  # a system entry's code (domain.logcodes), to show in any language
    params: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    created_at: datetime
    type: EventType
    order_id: int
    status: OrderStatus
    message_type: MessageType | None


def status_change_text(
    old: OrderStatus, new: OrderStatus, who: str, org: str, reason: str = ""
) -> str:
    """The ``system`` log entry a status change writes (with the reason given, if any)."""
    from serviceguide.domain.logcodes import LogCode, api_text

    params = {"old": old.value, "new": new.value, "who": who, "org": org, "reason": reason}
    return api_text(LogCode.STATUS_CHANGED, params)


@dataclass(frozen=True, slots=True)
class OfferedService:
    """A service as the guide offers it on one access."""

    id: int
    uid: str
    name: str
    description: str
    xsp: int
    xsp_name: str
    price_monthly: Decimal
    price_once: Decimal
    direct_activation: bool  # the service is flagged and its network has an activation URL
    # What customers compare beside the prices (an offering read from the TL's ON-API products
    # has them all; a service entered by hand may have none): ISO 8601 durations.
    offering_name: str | None = None
    price_period: str | None = None  # None: a month
    agreement_length: str | None = None  # None: no binding time
    notice_period: str | None = None
    campaign: bool = False
    campaign_length: str | None = None
    base_price: Decimal | None = None
    consumer_types: tuple[str, ...] = ()
    terms_url: str | None = None
    privacy_url: str | None = None


@dataclass(frozen=True, slots=True)
class AddressMatch:
    coid: str
    access_id: str
    address: str  # "Demogatan 123, 12345 Demostad"
    premise: str  # apartment number or premise id; "" if none
