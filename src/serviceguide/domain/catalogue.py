"""Rules for organisations, networks, accesses and services."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from serviceguide.domain.errors import InvalidInput

COID = re.compile(r"^[A-Z0-9]{2,16}$")
ACCESS_ID = re.compile(r"^[-0-9a-zA-Z.]{1,36}$")
POSTAL_CODE = re.compile(r"^[1-9][0-9]{4}$")
#: A postal code as Swedes write it, "123 45": the space goes before it is checked.
_WRITTEN_POSTAL_CODE = re.compile(r"^([0-9]{3}) ([0-9]{2})$")
SERVICE_UID = re.compile(r"^[-0-9A-Za-z._]{1,40}$")
_PRICE_TEXT = re.compile(r"^[0-9]+(?:[.,][0-9]+)?$")


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


def postal_code(value: str) -> str:
    """``value`` with the space of the written form ("123 45") taken out; the result is then
    checked against :data:`POSTAL_CODE` (5 digits, not starting with 0)."""
    value = value.strip()
    written = _WRITTEN_POSTAL_CODE.match(value)
    return written[1] + written[2] if written else value


def price(value: str | Decimal | float | int, field: str) -> Decimal:
    """A price in SEK, rounded to öre. Text may have a decimal comma, as Swedes write it
    ("299,50"), or a decimal point; nothing else (no thousands separators)."""
    if isinstance(value, str):
        text = value.strip()
        if not _PRICE_TEXT.match(text):
            raise InvalidInput(field, f"{field} must be a number like 299 or 299,50")
        value = text.replace(",", ".")
    try:
        p = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(field, f"{field} must be a number like 299 or 299,50") from None
    if not p.is_finite() or p < 0 or p >= Decimal("100000000"):
        raise InvalidInput(field, f"{field} must be between 0 and 99999999.99")
    rounded = p.quantize(Decimal("0.01"))
    if rounded >= Decimal("100000000"):  # 99999999.995 rounds up out of range
        raise InvalidInput(field, f"{field} must be between 0 and 99999999.99")
    return rounded
