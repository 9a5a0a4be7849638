"""The bodies a portal pushes to the service provider, checked as ON-API 2.6 ``spec_sp`` defines
them: ``order`` (spec_sp/order.md) and ``activationnotice`` (spec_sp/ordernotice.md), with the
data formats of common/dataformats.md. Each check raises ``BadBody`` naming the first bad field;
a customer's own data (names, numbers) is never repeated in the message.

Fields the spec does not define are ignored (a later version may add some). Customer details
are checked for type and length; their finer formats (E.164 phone numbers, postal codes) are
not enforced, since the service provider is to validate the customer itself (the spec says so)
and an order must not be refused for a phone number written ``070-…``. The identity numbers are
checked (digits, and the check digit), since a wrong one is wrong whatever its format.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from serviceguide.domain.personnummer import luhn_ok

ID_RE = re.compile(r"^[-0-9a-zA-Z.]{1,36}$")
DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
IDENTITY_RE = re.compile(r"^([0-9]{2})?([0-9]{6})[-+]?([0-9]{4})$")
TEXT_MAX = 255

CUSTOMER_TEXT = (
    "organizationName",
    "firstName",
    "firstname",  # spec_sp/order.md's example spells it so; common/dataformats.md: firstName
    "lastName",
    "phone",
    "mobilePhone",
    "email",
)
IDENTITY = ("personalIdentityNumber", "organizationNumber")
INVOICE_TEXT = ("streetName", "streetNumber", "streetLittera", "postalCode", "city")


class BadBody(ValueError):
    """The body breaks the spec; ``cause`` says where and how (the answer's ``cause``)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _id(doc: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise BadBody(f"{where}{key}: missing (mandatory)")
        return None
    if not isinstance(value, str) or not ID_RE.match(value):
        raise BadBody(
            f"{where}{key}: must be an ON-API id (1–36 characters a-z, A-Z, 0-9, '-', '.'), "
            f"got {_shown(value)}"
        )
    return value


def _datetime(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if value is None:
        raise BadBody(f"{key}: missing (mandatory)")
    if isinstance(value, str) and DATETIME_RE.match(value):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return value
    raise BadBody(
        f"{key}: must be an RFC 3339 date and time in UTC, e.g. 2021-05-03T20:31:15Z, "
        f"got {_shown(value)}"
    )


def _customer(value: Any) -> dict[str, Any]:
    where = "customerDetails"
    if value is None:
        raise BadBody(f"{where}: missing (mandatory)")
    if not isinstance(value, dict):
        raise BadBody(f"{where}: must be an object")
    identified = value.get("identifiedCustomer")
    if identified is not None and not isinstance(identified, bool):
        raise BadBody(f"{where}.identifiedCustomer: must be true or false")
    for key in CUSTOMER_TEXT:
        _text(value, key, where)
    for key in IDENTITY:
        number = value.get(key)
        if number is None:
            continue
        found = IDENTITY_RE.match(number) if isinstance(number, str) else None
        if not found or not luhn_ok(found.group(2) + found.group(3)):
            raise BadBody(
                f"{where}.{key}: not an identity number (YYYYMMDD-XXXX or YYMMDD-XXXX with a "
                "valid check digit)"
            )
    invoice = value.get("invoiceDetails")
    if invoice is not None:
        if not isinstance(invoice, dict):
            raise BadBody(f"{where}.invoiceDetails: must be an object")
        for key in INVOICE_TEXT:
            _text(invoice, key, f"{where}.invoiceDetails")
    return value


def _text(doc: dict[str, Any], key: str, where: str) -> None:
    value = doc.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise BadBody(f"{where}.{key}: must be a string")
    if len(value) > TEXT_MAX:
        raise BadBody(f"{where}.{key}: at most {TEXT_MAX} characters, got {len(value)}")


def _common(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise BadBody("body: must be a JSON object")
    _id(doc, "coAccessId", "")
    operation = doc.get("operation")
    if operation is None:
        raise BadBody("operation: missing (mandatory)")
    if operation != "ACTIVATE":
        raise BadBody(f"operation: only ACTIVATE is supported, got {_shown(operation)}")
    _datetime(doc, "orderDateTime")
    _datetime(doc, "requestedDateTime")
    products = doc.get("products")
    if products is None:
        raise BadBody("products: missing (mandatory)")
    if not isinstance(products, list) or len(products) != 1:
        raise BadBody("products: must be a list of exactly one product offering")
    if not isinstance(products[0], dict):
        raise BadBody("products[0]: must be an object")
    _id(products[0], "productId", "products[0].")
    _id(products[0], "offeringId", "products[0].")
    _customer(doc.get("customerDetails"))
    return doc


def check_order(doc: Any) -> dict[str, Any]:
    """An ``order`` push (spec_sp/order.md); returns it as given."""
    return _common(doc)


def check_notice(doc: Any) -> dict[str, Any]:
    """An ``activationnotice`` (spec_sp/ordernotice.md); returns it as given."""
    _common(doc)
    _id(doc, "coOrderId", "", required=False)
    product = doc["products"][0]
    co_product = product.get("coProduct")
    if co_product is None:
        raise BadBody("products[0].coProduct: missing (mandatory)")
    # The spec's field list says an array of text, its example a single string: either.
    names = co_product if isinstance(co_product, list) else [co_product]
    if not names or not all(isinstance(n, str) and 0 < len(n) <= TEXT_MAX for n in names):
        raise BadBody(
            "products[0].coProduct: must be the CO product's name, or a list of names "
            f"(text, 1–{TEXT_MAX} characters), got {_shown(co_product)}"
        )
    _id(product, "coSubscriptionId", "products[0].")
    return doc


def order_id(value: str | None, *, required: bool) -> int | None:
    """The ``X-Order-ID`` header: the guide's order id, a positive integer."""
    if value is None or not value.strip():
        if required:
            raise BadBody("X-Order-ID: header missing (the guide's order id)")
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
        raise BadBody(
            f"X-Order-ID: must be the guide's order id (a positive integer), got {_shown(text)}"
        )
    return int(text)


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What the agent keeps of a push beside the imported order (no customer details: those
    come with the order from the guide)."""
    product = doc["products"][0]
    return {
        "coAccessId": doc["coAccessId"],
        "productId": product["productId"],
        "offeringId": product["offeringId"],
        "orderDateTime": doc["orderDateTime"],
        "requestedDateTime": doc["requestedDateTime"],
    }
