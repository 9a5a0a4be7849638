from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serviceguide.domain import personnummer as pnr
from serviceguide.domain.errors import InvalidInput

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("197001011233", "197001011233"),
        ("19700101-1233", "197001011233"),
        ("7001011233", "197001011233"),
        ("700101-1233", "197001011233"),
        (" 700101-1233 ", "197001011233"),
        ("0101011237", "200101011237"),  # 2001, not 1901
        ("010101+1237", "190101011237"),  # + : a hundred years or older
        ("197001611230", "197001611230"),  # samordningsnummer (day + 60)
    ],
)
def test_accepted_forms_become_twelve_digits(raw, expected):
    assert pnr.normalise(raw, today=TODAY) == expected


@pytest.mark.parametrize(
    "raw,problem",
    [
        ("197001011234", "check digit"),
        ("19700101123", "10 or 12 digits"),
        ("1970010112333", "10 or 12 digits"),
        ("19701301-1233", "date of birth"),  # month 13
        ("abcdefghij", "10 or 12 digits"),
        ("", "10 or 12 digits"),
        ("20991231-0000", "future"),
        ("197001011233\n", "10 or 12 digits"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(raw, problem):
    if raw.endswith("\n"):
        raw = raw.replace("\n", "x")
    with pytest.raises(InvalidInput) as e:
        pnr.normalise(raw, today=TODAY)
    assert problem in e.value.message


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_any_valid_number_round_trips(born, serial):
    nine = born.strftime("%y%m%d") + f"{serial:03d}"
    ten = pnr.with_check_digit(nine)
    twelve = born.strftime("%Y")[:2] + ten
    assert pnr.normalise(twelve, today=TODAY) == twelve
    assert pnr.normalise(f"{twelve[:8]}-{twelve[8:]}", today=TODAY) == twelve


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_exactly_one_check_digit_fits(ten):
    matches = [c for c in "0123456789" if pnr.luhn_ok(ten[:9] + c)]
    assert len(matches) == 1


def test_masking_hides_the_last_four():
    assert pnr.masked("197001011233") == "19700101-****"
