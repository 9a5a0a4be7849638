"""How staff look for orders: the filter of the order list and the rows it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from serviceguide.domain.addresses import fold
from serviceguide.domain.status import OrderStatus

_NOT_WORD = re.compile(r"[^a-z0-9]+")
#: The most words of a search that are looked for (each must be found).
TERMS_MAX = 8


def search_text(*parts: str) -> str:
    """What a customer is found by in the staff search: the parts folded as the address search
    folds them — lower case, accents and å/ä/ö folded (Ö → o, Å and Ä → a), anything but
    letters and digits a single space — with a space before and after, so that a word's start
    can be matched too. "Åsa Öberg" → " asa oberg "."""
    words = _NOT_WORD.sub(" ", fold(" ".join(parts))).split()
    return f" {' '.join(words)} " if words else ""


def search_terms(text: str) -> list[str]:
    """The words of a staff search, folded like :func:`search_text`; each must be found. Digits
    of other scripts ("²", "١", "１") are no digits here: folding would make them 2 and 1."""
    text = "".join(" " if c.isdigit() and not c.isascii() else c for c in text)
    return _NOT_WORD.sub(" ", fold(text)).split()[:TERMS_MAX]


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
