"""E-mail addresses: what is stored is what can be sent; everything else is a clear error."""

from __future__ import annotations

import pytest

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.mailaddress import is_valid_email, normalise_email

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("orders@example.se", "orders@example.se"),
        ("  Orders@Example.SE ", "Orders@example.se"),  # the domain is lower-cased
        ("first.last+tag@sub.example.se", "first.last+tag@sub.example.se"),
        ("info@exämple.se", "info@xn--exmple-cua.se"),  # stored in the form every server reads
    ],
)
def test_an_address_is_stored_in_a_form_every_mail_server_reads(given: str, stored: str):
    assert normalise_email(given) == stored


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("åsa@example.se", "Internationalized characters before the @-sign"),
        ("inte-en-adress", "must have an @-sign"),
        ("a b@example.se", "invalid characters"),
        ("Eva <eva@example.se>", "display name"),
        ("eva@localhost", "should have a period"),
        ("eva@demo.test", "special-use or reserved name"),
        ("eva@[127.0.0.1]", "bracketed IP address"),
        ("a" * 250 + "@example.se", "too long"),
        ("eva@example.se\r\nBcc: x@example.se", "invalid characters"),
    ],
)
def test_an_address_that_cannot_be_mailed_is_refused_saying_why(given: str, why: str):
    with pytest.raises(InvalidInput) as e:
        normalise_email(given, field="customer.email")
    assert e.value.field == "customer.email"
    assert e.value.message.startswith("Not a valid e-mail address: ")
    assert why in e.value.message
    assert not is_valid_email(given)
