"""Rules for organisations, networks, accesses and services."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from serviceguide.domain.errors import InvalidInput

COID = re.compile(r"^[A-Z0-9]{2,16}$")
ACCESS_ID = re.compile(r"^[-0-9a-zA-Z.]{1,36}$")
POSTAL_CODE = re.compile(r"^[1-9][0-9]{4}$")
SERVICE_UID = re.compile(r"^[-0-9A-Za-z._]{1,40}$")


class PremisesType(StrEnum):
    """MdB2 premises types."""

    RESIDENTIAL_HOUSE = "RESIDENTIAL_HOUSE"
    COUNTRYSIDE = "COUNTRYSIDE"
    RESIDENTIAL_ASSOCIATION = "RESIDENTIAL_ASSOCIATION"
    RENTAL_APARTMENT = "RENTAL_APARTMENT"
    APARTMENT_ASSOCIATION = "APARTMENT_ASSOCIATION"
    OTHER = "OTHER"
    COMMERCIAL = "COMMERCIAL"


def check(pattern: re.Pattern[str], value: str, field: str, what: str) -> str:
    if not pattern.match(value):
        raise InvalidInput(field, f"{field} is not a valid {what}: {value!r}")
    return value


def price(value: str | Decimal | float | int, field: str) -> Decimal:
    try:
        p = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(field, f"{field} must be a number") from None
    if not p.is_finite() or p < 0 or p >= Decimal("100000000"):
        raise InvalidInput(field, f"{field} must be between 0 and 99999999.99")
    return p.quantize(Decimal("0.01"))
