"""The bodies a portal pushes to the agent ([sp]), checked against ON-API 2.6 spec_sp: the spec's
own examples pass, each bad field is refused with a cause naming it (never repeating the
customer's data); and the portal's credentials, plain or as an argon2 hash."""

from __future__ import annotations

import base64
import copy
import threading
from typing import Any

import pytest
from argon2 import PasswordHasher

from serviceguide.agent.config import SpConfig
from serviceguide.agent.locks import OrderLocks
from serviceguide.agent.spbody import BadBody, check_notice, check_order, order_id, summary
from serviceguide.agent.spserver import BasicAuth
from serviceguide.domain.personnummer import with_check_digit

pytestmark = pytest.mark.unit

SERIAL = with_check_digit("700101123")

# spec_sp/order.md's request example, with values of the right format where it says "string".
ORDER: dict[str, Any] = {
    "coAccessId": "8732c2f065e2490babce820e94b1011a",
    "operation": "ACTIVATE",
    "orderDateTime": "2021-05-03T20:31:15Z",
    "requestedDateTime": "2021-05-06T00:01:00Z",
    "products": [
        {
            "productId": "8732c2f065e2490babce820e94b1011a",
            "offeringId": "8732c2f065e2490babce820e94b1011a",
        }
    ],
    "customerDetails": {
        "identifiedCustomer": True,
        "personalIdentityNumber": f"19{SERIAL[:6]}-{SERIAL[6:]}",
        "organizationNumber": None,
        "organizationName": "string",
        "firstname": "string",
        "lastName": "string",
        "phone": "+468214930",
        "mobilePhone": "+46701234567",
        "email": "string",
        "invoiceDetails": {
            "streetName": "string",
            "streetNumber": "string",
            "streetLittera": "string",
            "postalCode": "12345",
            "city": "string",
        },
    },
}


def notice() -> dict[str, Any]:
    doc = copy.deepcopy(ORDER)
    doc["coOrderId"] = "f3f26446f6e8407aae876ea8e52d7417"
    doc["products"][0] |= {"coProduct": "100/10", "coSubscriptionId": "35738e19ab534dff"}
    return doc


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``base`` with ``path`` (dots, list indexes as numbers) set to ``value`` (``...``: gone)."""
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    here: Any = doc
    for p in parents:
        here = here[int(p)] if isinstance(here, list) else here[p]
    key: Any = int(last) if isinstance(here, list) else last
    if value is ...:
        del here[key]
    else:
        here[key] = value
    return doc


def test_the_specs_examples_pass():
    assert check_order(copy.deepcopy(ORDER)) == ORDER
    assert check_notice(notice())["coOrderId"] == "f3f26446f6e8407aae876ea8e52d7417"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("customerDetails.firstName", "Anna"),  # the spelling of common/dataformats.md
        ("customerDetails.personalIdentityNumber", SERIAL),  # 10 digits, no dash
        ("customerDetails.personalIdentityNumber", f"19{SERIAL}"),  # 12 digits
        ("customerDetails.personalIdentityNumber", None),  # optional fields may be null
        ("customerDetails.phone", "070-123 45 67"),  # not E.164: the SP validates the customer
        ("customerDetails.invoiceDetails", None),
        ("customerDetails.identifiedCustomer", ...),
        ("orderDateTime", "2021-05-03T20:31:15.0053Z"),
        ("orderDateTime", "2021-05-03T22:31:15+02:00"),
        ("requestedDateTime", "1990-12-31T23:59:59.52Z"),
        ("coAccessId", "58128a38-8df0-11e9-b683-526af7764f64"),
        ("unknownField", {"a later version": "may add fields"}),
    ],
)
def test_what_the_spec_allows_passes(path: str, value: Any):
    check_order(changed(ORDER, path, value))


BAD_ORDERS = [
    ("coAccessId", ..., "coAccessId: missing"),
    ("coAccessId", "", "coAccessId: must be an ON-API id"),
    ("coAccessId", "a" * 37, "coAccessId: must be an ON-API id"),
    ("coAccessId", "A 1", "coAccessId: must be an ON-API id"),
    ("coAccessId", "Å1", "coAccessId: must be an ON-API id"),
    ("coAccessId", 12, "coAccessId: must be an ON-API id"),
    ("operation", ..., "operation: missing"),
    ("operation", "DEACTIVATE", "operation: only ACTIVATE"),
    ("operation", "activate", "operation: only ACTIVATE"),
    ("orderDateTime", ..., "orderDateTime: missing"),
    ("orderDateTime", "2021-05-03", "orderDateTime: must be an RFC 3339"),
    ("orderDateTime", "2021-05-03T20:31:15", "orderDateTime: must be an RFC 3339"),
    ("orderDateTime", "2021-02-30T20:31:15Z", "orderDateTime: must be an RFC 3339"),
    ("orderDateTime", "2021-05-03 20:31:15Z", "orderDateTime: must be an RFC 3339"),
    ("orderDateTime", 1620073875, "orderDateTime: must be an RFC 3339"),
    ("requestedDateTime", ..., "requestedDateTime: missing"),
    ("requestedDateTime", "tomorrow", "requestedDateTime: must be an RFC 3339"),
    ("products", ..., "products: missing"),
    ("products", [], "products: must be a list of exactly one"),
    ("products", {"productId": "p"}, "products: must be a list of exactly one"),
    ("products.0", "p", "products[0]: must be an object"),
    ("products.0.productId", ..., "products[0].productId: missing"),
    ("products.0.offeringId", "", "products[0].offeringId: must be an ON-API id"),
    ("products.0.offeringId", "kampanj 2021", "products[0].offeringId: must be an ON-API id"),
    ("customerDetails", ..., "customerDetails: missing"),
    ("customerDetails", "Anna", "customerDetails: must be an object"),
    ("customerDetails.identifiedCustomer", "true", "customerDetails.identifiedCustomer: must be"),
    ("customerDetails.lastName", 7, "customerDetails.lastName: must be a string"),
    ("customerDetails.email", "x" * 256, "customerDetails.email: at most 255"),
    ("customerDetails.invoiceDetails", "A-gatan 3", "customerDetails.invoiceDetails: must be"),
    (
        "customerDetails.invoiceDetails.postalCode",
        12345,
        "customerDetails.invoiceDetails.postalCode: must be a string",
    ),
    (
        "customerDetails.personalIdentityNumber",
        f"19{SERIAL[:6]}-{SERIAL[6:9]}{(int(SERIAL[9]) + 1) % 10}",
        "customerDetails.personalIdentityNumber: not an identity number",
    ),
    (
        "customerDetails.personalIdentityNumber",
        "19７００１０１-１２３４",  # full-width digits
        "customerDetails.personalIdentityNumber: not an identity number",
    ),
    (
        "customerDetails.organizationNumber",
        "556677-889",
        "customerDetails.organizationNumber: not an identity number",
    ),
]


@pytest.mark.parametrize(("path", "value", "cause"), BAD_ORDERS)
def test_a_bad_order_names_the_field(path: str, value: Any, cause: str):
    with pytest.raises(BadBody) as e:
        check_order(changed(ORDER, path, value))
    assert cause in e.value.cause
    assert SERIAL[6:] not in e.value.cause  # the customer's number is not repeated


@pytest.mark.parametrize("doc", [None, [], "order", 1])
def test_a_body_that_is_not_an_object_is_refused(doc: Any):
    with pytest.raises(BadBody, match="body: must be a JSON object"):
        check_order(doc)


@pytest.mark.parametrize(
    ("path", "value", "cause"),
    [
        ("coOrderId", "f3f2 6446", "coOrderId: must be an ON-API id"),
        ("products.0.coProduct", ..., "products[0].coProduct: missing"),
        ("products.0.coProduct", [], "products[0].coProduct: must be"),
        ("products.0.coProduct", [""], "products[0].coProduct: must be"),
        ("products.0.coProduct", 100, "products[0].coProduct: must be"),
        ("products.0.coSubscriptionId", ..., "products[0].coSubscriptionId: missing"),
        ("products.0.coSubscriptionId", "a/b", "products[0].coSubscriptionId: must be"),
        ("operation", "DEACTIVATE", "operation: only ACTIVATE"),
        ("customerDetails", ..., "customerDetails: missing"),
    ],
)
def test_a_bad_notice_names_the_field(path: str, value: Any, cause: str):
    with pytest.raises(BadBody) as e:
        check_notice(changed(notice(), path, value))
    assert cause in e.value.cause


def test_a_notice_takes_the_co_product_as_a_name_or_a_list_and_no_co_order_id():
    check_notice(changed(notice(), "products.0.coProduct", ["100/10", "IPTV"]))
    check_notice(changed(notice(), "coOrderId", ...))


@pytest.mark.parametrize(
    ("value", "required", "expected"),
    [("17", True, 17), (" 17 ", True, 17), (None, False, None), ("", False, None)],
)
def test_the_order_id_header(value: str | None, required: bool, expected: int | None):
    assert order_id(value, required=required) == expected


@pytest.mark.parametrize("value", [None, "", "0", "-3", "1.5", "abc", "１７", str(2**63)])
def test_a_bad_order_id_header_is_refused(value: str | None):
    with pytest.raises(BadBody, match="X-Order-ID"):
        order_id(value, required=True)


def test_the_summary_kept_beside_an_order_has_no_customer_data():
    kept = summary(ORDER)
    assert set(kept) == {
        "coAccessId",
        "productId",
        "offeringId",
        "orderDateTime",
        "requestedDateTime",
    }


# -- credentials --------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("hashed", [False, True], ids=["password", "password_hash"])
def test_the_portals_credentials(hashed: bool):
    secret = "portal-secret"
    stored = {"password_hash": PasswordHasher().hash(secret)} if hashed else {"password": secret}
    auth = BasicAuth(SpConfig(port=0, username="portal", **stored))
    assert auth.check(basic("portal", secret))
    assert auth.check(basic("portal", secret))  # again (remembered, when hashed)
    for header in (
        basic("portal", "wrong"),
        basic("other", secret),
        basic("portal", ""),
        "",
        "Basic",
        "Basic ***",
        "Bearer " + secret,
        "Basic " + base64.b64encode(b"portal").decode(),  # no colon
    ):
        assert not auth.check(header), header


# -- one order at a time ------------------------------------------------------------------------


def test_an_order_lock_is_held_by_one_and_waited_for_by_another():
    locks = OrderLocks()
    assert locks.acquire(1)
    assert not locks.acquire(1)  # no waiting
    assert locks.acquire(2)  # another order is free
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(locks.acquire(1, timeout=30)))
    waiter.start()
    locks.release(1)
    waiter.join()
    assert got == [True]
    with locks.hold(3) as held:
        assert held
        with locks.hold(3) as again:
            assert not again
    assert locks.acquire(3)
