"""Order statuses, message types and the one table of allowed status changes."""

from __future__ import annotations

from enum import StrEnum

from serviceguide.domain.errors import TransitionNotAllowed


class OrderStatus(StrEnum):
    NEW = "new"  # new and unhandled
    RECEIVED = "received"  # received by the target (the XSP)
    ACTIVE = "active"  # being handled
    WAITING = "waiting"  # pending action from the other party
    CANCELLED = "cancelled"
    DELIVERED = "delivered"  # fulfilled to the end customer


class MessageType(StrEnum):
    ERROR = "error"  # an error message
    ALERT = "alert"  # important information regarding this order
    SYSTEM = "system"  # system message from the XSP's order system
    LOG = "log"  # general message


class EventType(StrEnum):
    ORDER_CREATED = "order_created"
    STATUS_CHANGED = "status_changed"
    MESSAGE_ADDED = "message_added"


S = OrderStatus

#: From each status, the statuses an order may move to. ``delivered`` and ``cancelled`` are
#: final; nothing returns to ``new`` or ``received``. Setting the current status again is not a
#: change and is always allowed (see :func:`check_transition`).
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.RECEIVED, S.ACTIVE, S.WAITING, S.CANCELLED, S.DELIVERED}),
    S.RECEIVED: frozenset({S.ACTIVE, S.WAITING, S.CANCELLED, S.DELIVERED}),
    S.ACTIVE: frozenset({S.WAITING, S.CANCELLED, S.DELIVERED}),
    S.WAITING: frozenset({S.ACTIVE, S.CANCELLED, S.DELIVERED}),
    S.CANCELLED: frozenset(),
    S.DELIVERED: frozenset(),
}


def is_allowed(current: OrderStatus, new: OrderStatus) -> bool:
    """True when an order in ``current`` may be set to ``new`` (the same status included)."""
    return current == new or new in ALLOWED_TRANSITIONS[current]


def check_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Raise :class:`TransitionNotAllowed` unless allowed; return True when it is a real change."""
    if not is_allowed(current, new):
        raise TransitionNotAllowed(current.value, new.value)
    return current != new


def next_statuses(current: OrderStatus) -> list[OrderStatus]:
    """The statuses an order in ``current`` may be moved to, in the enum's order."""
    return [s for s in OrderStatus if s in ALLOWED_TRANSITIONS[current]]


#: Changes straight from ``new`` that end the order before anyone has handled it: the staff
#: pages ask for a confirmation (and, for ``cancelled``, a reason for the log).
NEEDS_CONFIRMATION: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {(S.NEW, S.CANCELLED), (S.NEW, S.DELIVERED)}
)
