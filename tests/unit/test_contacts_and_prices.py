"""A TL's contact details, prices as Swedes write them, and postal codes with a space."""

from __future__ import annotations

from decimal import Decimal

import pytest

from serviceguide.domain.catalogue import postal_code, price
from serviceguide.domain.contacts import clean_contact_details
from serviceguide.domain.errors import InvalidInput

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("299", Decimal("299.00")),
        ("299,50", Decimal("299.50")),
        ("299.5", Decimal("299.50")),
        (" 0,5 ", Decimal("0.50")),
        ("99999999,99", Decimal("99999999.99")),
        (Decimal("12.345"), Decimal("12.34")),
    ],
)
def test_a_price_may_have_a_decimal_comma(given: str | Decimal, stored: Decimal):
    assert price(given, "price_monthly") == stored


@pytest.mark.parametrize(
    "given",
    ["", "abc", "1,299.50", "1.299,50", "1 299", "299,5,0", "-1", "1e3", "1_000", "nan", "١٢",
     "100000000", "99999999,995"],
)  # fmt: skip
def test_a_price_that_is_not_a_plain_amount_is_refused(given: str):
    with pytest.raises(InvalidInput) as e:
        price(given, "price_once")
    assert e.value.field == "price_once"


@pytest.mark.parametrize(
    ("given", "stored"), [("12345", "12345"), ("123 45", "12345"), (" 123 45 ", "12345")]
)
def test_a_postal_code_loses_the_space_it_is_written_with(given: str, stored: str):
    assert postal_code(given) == stored


@pytest.mark.parametrize("given", ["12 345", "1234 5", "123  45", "123-45"])
def test_a_postal_code_with_the_space_elsewhere_is_left_for_the_check_to_refuse(given: str):
    assert postal_code(given) == given


def test_contact_details_are_checked_and_only_those_given_are_returned():
    assert clean_contact_details(
        phone=" 08-123 456 78 ",
        email="Kundtjanst@Example.SE",
        website="https://example.se/kundtjanst",
        opening_hours="Mån–fre  8–17,\n lör 10–14",
    ) == {
        "phone": "08-123 456 78",
        "contact_email": "Kundtjanst@example.se",
        "website": "https://example.se/kundtjanst",
        "opening_hours": "Mån–fre 8–17, lör 10–14",
    }
    assert clean_contact_details(website="http://example.se") == {"website": "http://example.se"}
    assert clean_contact_details() == {}


def test_an_empty_contact_detail_clears_it():
    assert clean_contact_details(phone="", email=" ", website="", opening_hours="") == {
        "phone": None,
        "contact_email": None,
        "website": None,
        "opening_hours": None,
    }


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"phone": "ring oss"}, "phone"),
        ({"phone": "123"}, "phone"),
        ({"email": "åsa@example.se"}, "contact_email"),
        ({"email": "kundtjanst"}, "contact_email"),
        ({"website": "example.se"}, "website"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"website": "ftp://example.se"}, "website"),
        ({"website": "https://exa mple.se"}, "website"),
        ({"website": "https://example.se/" + "x" * 500}, "website"),
        ({"opening_hours": "x" * 201}, "opening_hours"),
        ({"opening_hours": "8\x00-17"}, "opening_hours"),
    ],
)
def test_a_bad_contact_detail_is_refused_naming_it(given: dict[str, str], field: str):
    with pytest.raises(InvalidInput) as e:
        clean_contact_details(**given)
    assert e.value.field == field
