"""Notifications waiting in the outbox: their kinds and states, and when to try again."""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum


class OutboxKind(StrEnum):
    MAIL = "mail"  # the order e-mail to the TL's order address
    WEBHOOK = "webhook"  # one event to one webhook endpoint
    RECEIPT = "receipt"  # the customer's receipt for the orders placed together
    SP_ORDER = "sp_order"  # an order pushed to its TL over ON-API 2.6 (``order``)
    SP_NOTICE = "sp_notice"  # a direct activation announced to its TL (``activationnotice``)


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERING = "delivering"  # claimed by a relay until ``claimed_until``
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt; ``outbox retry`` queues it again


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    ERROR = "error"  # the attempt failed; retried unless it was the last
    LOST = "lost"  # the relay stopped before it recorded an outcome (its claim expired)


def backoff_seconds(
    attempt: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Wait after the ``attempt``-th failed attempt (1-based): exponential, capped, jittered.

    "Equal jitter": half of min(cap, base · 2^(attempt-1)) for sure, the other half at random, so
    that relays retrying after an outage do not all come back at the same instant.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(cap, base * 2 ** min(attempt - 1, 62))
    return ceiling / 2 + rand() * ceiling / 2
