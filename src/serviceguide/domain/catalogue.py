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


class ServiceCategory(StrEnum):
    """What kind of service it is, as the guide groups them."""

    INTERNET = "internet"
    TV = "tv"
    TELEPHONY = "telephony"
    OTHER = "other"


DESCRIPTION_MAX = 500
NAME_MAX = 200


def service_fields(
    *,
    uid: str,
    name: str,
    price_monthly: str | Decimal,
    price_once: str | Decimal,
    description: str = "",
    category: str = ServiceCategory.OTHER.value,
) -> dict[str, object]:
    """A service's fields checked and cleaned, or :class:`InvalidInput` on the first bad one
    (in the order of the form)."""
    uid = uid.strip()
    check(SERVICE_UID, uid, "uid", "product code")
    name = name.strip()
    if not name:
        raise InvalidInput("name", "name is required")
    if len(name) > NAME_MAX or _has_control(name):
        raise InvalidInput("name", f"name: at most {NAME_MAX} characters, no control characters")
    monthly = price(price_monthly, "price_monthly")
    once = price(price_once, "price_once")
    description = description.strip()
    if len(description) > DESCRIPTION_MAX or _has_control(description.replace("\n", " ")):
        raise InvalidInput("description", f"description: at most {DESCRIPTION_MAX} characters")
    try:
        cat = ServiceCategory(category.strip().lower() or ServiceCategory.OTHER.value)
    except ValueError:
        known = ", ".join(ServiceCategory)
        raise InvalidInput("category", f"category must be one of {known}") from None
    return {
        "uid": uid,
        "name": name,
        "price_monthly": monthly,
        "price_once": once,
        "description": description,
        "category": cat.value,
    }


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def check_activation_url(url: str) -> str | None:
    """A network's direct-activation URL: absolute http(s), no credentials, at most 500
    characters; empty means none (direct activation off)."""
    from urllib.parse import urlsplit

    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise InvalidInput("activation_url", "not a URL") from None
    if (
        len(url) > 500
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or _has_control(url)
        or " " in url
    ):
        raise InvalidInput("activation_url", "an absolute http:// or https:// URL, no credentials")
    return url
