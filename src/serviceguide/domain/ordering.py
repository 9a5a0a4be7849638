"""What a customer's order request must satisfy before anything is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from serviceguide.domain import personnummer
from serviceguide.domain.errors import DomainError, InvalidInput
from serviceguide.domain.mailaddress import normalise_email

NAME_MAX = 100
MESSAGE_MAX = 1000
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,18}[0-9]$")
_PREMISE = re.compile(r"^[0-9A-Za-z\- ]{0,20}$")
# Characters never accepted in stored text: C0 controls other than tab/newline, DEL, and the C1
# controls (U+0080-U+009F: invisible, and some terminals act on them as on ESC sequences).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class ValidationFailed(DomainError):
    """One or more fields are invalid; ``errors`` names each."""

    def __init__(self, errors: list[InvalidInput]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class CustomerInput:
    firstname: str
    surname: str
    serial: str
    email: str
    phone: str
    premise: str = ""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    coid: str
    access_id: str
    service_ids: list[int]
    customer: CustomerInput
    delivery: date | None  # None = as soon as possible
    message: str = ""


@dataclass
class CleanCustomer:
    firstname: str
    surname: str
    serial: str  # 12 digits
    email: str
    phone: str
    premise: str


@dataclass
class _Collector:
    errors: list[InvalidInput] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.errors.append(InvalidInput(name, message))


def has_control_chars(text: str) -> bool:
    return _CONTROL.search(text) is not None


def is_digits(text: str) -> bool:
    """ASCII digits 0-9 only, at least one. ``str.isdigit`` is also true of "²", which ``int``
    refuses, and of "١" or "１", which ``int`` reads as 1."""
    return text.isascii() and text.isdigit()


def _text(c: _Collector, name: str, value: str, *, required: bool, max_len: int) -> str:
    value = value.strip()
    if required and not value:
        c.add(name, "Required")
    elif len(value) > max_len:
        c.add(name, f"At most {max_len} characters")
    elif has_control_chars(value):
        c.add(name, "Contains control characters")
    return value


def validate_customer(c: _Collector, cust: CustomerInput, today: date) -> CleanCustomer:
    firstname = _text(c, "customer.firstname", cust.firstname, required=True, max_len=NAME_MAX)
    surname = _text(c, "customer.surname", cust.surname, required=True, max_len=NAME_MAX)
    serial = ""
    try:
        serial = personnummer.normalise(cust.serial, today=today, field="customer.serial")
    except InvalidInput as e:
        c.errors.append(e)
    email = cust.email.strip()
    try:
        email = normalise_email(email, field="customer.email")
    except InvalidInput as e:
        c.errors.append(e)
    phone = cust.phone.strip()
    if not PHONE.match(phone):
        c.add("customer.phone", "Not a valid phone number")
    premise = cust.premise.strip()
    if not _PREMISE.match(premise):
        c.add("customer.premise", "At most 20 letters, digits, spaces or dashes")
    return CleanCustomer(firstname, surname, serial, email, phone, premise)


def validate_request(req: OrderRequest, today: date) -> tuple[CleanCustomer, str]:
    """Check every field; raise :class:`ValidationFailed` naming all bad ones."""
    c = _Collector()
    if not req.coid.strip():
        c.add("coid", "Required")
    if not req.access_id.strip():
        c.add("accessId", "Required")
    if not req.service_ids:
        c.add("services", "Choose at least one service")
    elif len(set(req.service_ids)) != len(req.service_ids):
        c.add("services", "The same service is chosen twice")
    if req.delivery is not None and not (today <= req.delivery <= today + timedelta(days=365)):
        c.add("delivery", "Must be today or a day within a year from today")
    customer = validate_customer(c, req.customer, today)
    message = _text(c, "message", req.message, required=False, max_len=MESSAGE_MAX)
    if c.errors:
        raise ValidationFailed(c.errors)
    return customer, message
